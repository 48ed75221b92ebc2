"""The publication check: Table 4 cell by cell, the text's claims, and the
reference files transcribed from the seed (checked against the seed itself)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from mentoring_eval.metrics import dose_band, ot_departures, table4
from mentoring_eval.paths import project_root
from mentoring_eval.reproduction import (
    CLAIM_COLUMNS,
    COMPARISON_COLUMNS,
    PUBLISHED_COLUMNS,
    compare_table4,
    load_published_facts,
    load_published_table4,
    load_qualitative_findings,
    reproduction_verdict,
    text_claims,
)
from test_metrics import AS_OF, make_ots, make_sites, records_reproducing

ROOT = project_root()
REFERENCE = ROOT / "data" / "reference"
SEED_CANDIDATES = [
    ROOT.parent / "shared" / "seed" / "000_6ad2808da3b40b81.txt",
    ROOT / "seed" / "000_6ad2808da3b40b81.txt",
]


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return load_published_table4(REFERENCE / "table4_published.csv")


@pytest.fixture(scope="module")
def facts() -> dict:
    return load_published_facts(REFERENCE / "published_facts.yml")


@pytest.fixture(scope="module")
def seed_text() -> str:
    for path in SEED_CANDIDATES:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    pytest.skip("the seed document is not in this checkout")


# --- Table 4, cell by cell -------------------------------------------------


def test_reproduced_table_matches_every_cell(published):
    computed = table4(**records_reproducing(published), as_of=AS_OF)
    comparison = compare_table4(computed, published)
    assert list(comparison.columns) == list(COMPARISON_COLUMNS)
    assert len(comparison) == 16 * 7
    assert comparison["match"].all()
    verdict = reproduction_verdict(comparison)
    assert verdict["all_match"] and verdict["matched"] == verdict["cells"] == 112
    assert verdict["summary"] == "112 of 112 published cells reproduced"


def test_one_changed_cell_is_the_one_mismatch(published):
    computed = published.copy()
    computed.loc[computed["site"] == 13, "minutes_per_month"] = 58  # round-half-even's answer
    comparison = compare_table4(computed, published)
    mismatches = comparison.loc[~comparison["match"]]
    assert mismatches[["site", "column", "computed", "published"]].values.tolist() == [
        [13, "minutes_per_month", 58.0, 59.0]
    ]
    verdict = reproduction_verdict(comparison)
    assert verdict["mismatched"] == 1 and verdict["mismatching_sites"] == [13]
    assert not verdict["all_match"]


def test_a_one_decimal_percentage_difference_is_a_mismatch(published):
    computed = published.astype({"pct_phone_teams": "float64"})
    computed.loc[computed["site"] == 2, "pct_phone_teams"] = 99.0
    mismatches = compare_table4(computed, published).query("not match")
    assert mismatches[["site", "column"]].values.tolist() == [[2, "pct_phone_teams"]]


def test_sites_on_one_side_only_are_mismatches(published):
    computed = pd.concat(
        [published.loc[published["site"] != 15], published.loc[[0]].assign(site=17)], ignore_index=True
    )
    comparison = compare_table4(computed, published)
    assert comparison["site"].drop_duplicates().tolist() == list(range(1, 18))
    missing = comparison.loc[comparison["site"] == 15]
    extra = comparison.loc[comparison["site"] == 17]
    assert missing["computed"].isna().all() and not missing["match"].any()
    assert extra["published"].isna().all() and not extra["match"].any()
    assert missing["column"].tolist() == list(PUBLISHED_COLUMNS)
    assert reproduction_verdict(comparison)["mismatching_sites"] == [15, 17]


def test_a_users_own_trial_reproduces_nothing_and_says_so(published):
    own = pd.DataFrame(
        {
            "site": [101, 102],
            "months_in_study": [6, 1],
            "total_minutes": [120, 60],
            "pct_phone_teams": [75.0, 100.0],
            "essvr_participants": [1, 1],
            "ots": [1, 1],
            "minutes_per_month": [20, 60],
            "participants_per_ot": [1, 1],
        }
    )
    verdict = reproduction_verdict(compare_table4(own, published))
    assert verdict["matched"] == 0 and verdict["cells"] == 18 * 7


def test_compare_refuses_a_table_without_the_contract_columns(published):
    with pytest.raises(ValueError, match="ots"):
        compare_table4(published.drop(columns="ots"), published)


# --- the reference files against the seed ----------------------------------


def _seed_table4(seed_text: str) -> pd.DataFrame:
    """Table 4 as printed in the seed: cells separated by lines of '|'."""
    body = seed_text.split("Average number of ESSVR participants per OT\n|\n", 1)[1]
    body = body.split("\na It was anticipated", 1)[0]
    cells = [line for line in body.splitlines() if line.strip() not in ("", "|")]
    rows = [cells[i : i + 8] for i in range(0, len(cells), 8)]
    return pd.DataFrame(rows, columns=["site", *PUBLISHED_COLUMNS]).astype(float)


def test_published_table_file_is_the_seeds_table(published, seed_text):
    pd.testing.assert_frame_equal(published.astype("float64"), _seed_table4(seed_text), check_dtype=False)


def _quotes(node) -> list[str]:
    if isinstance(node, dict):
        return [
            quote for key, value in node.items() for quote in ([value] if key.endswith("quote") else _quotes(value))
        ]
    if isinstance(node, list):
        return [quote for item in node for quote in _quotes(item)]
    return []


def test_every_fact_quotes_the_seed_verbatim(facts, seed_text):
    quotes = _quotes(facts)
    assert len(quotes) >= 15
    for quote in quotes:
        assert quote in seed_text, quote


def test_published_facts_hold_the_seeds_numbers(facts, seed_text):
    ots, sites = map(int, re.search(r"(\d+) OTs across (\d+) trial sites", seed_text).groups())
    assert (facts["ots_and_sites"]["ots"], facts["ots_and_sites"]["sites"]) == (ots, sites)

    leavers, leaver_sites = map(int, re.search(r"(\d+) OTs across (\d+) sites left", seed_text).groups())
    assert (facts["leavers"]["ots"], facts["leavers"]["sites"]) == (leavers, leaver_sites)
    reason_counts = [int(n) for n in re.findall(r"\(n = (\d+)\)", seed_text)]
    assert list(facts["leavers"]["reasons"].values()) == reason_counts
    assert sum(reason_counts) == leavers

    low, high = map(float, re.search(r"range across sites: ([\d.]+)–([\d.]+)%", seed_text).groups())
    share = facts["phone_teams_share_range"]
    assert (share["min_pct"], share["max_pct"]) == (low, high)

    above_low, above_high = map(int, re.search(r"per month: (\d+)–(\d+) minutes", seed_text).groups())
    above = facts["above_expected"]
    assert (above["min_minutes_per_month"], above["max_minutes_per_month"]) == (above_low, above_high)
    assert above["sites"] == 12 and "twelve sites received more time" in seed_text

    least = re.search(r"site (\d+) received the least mentoring.*?(\d+) minutes per month", seed_text)
    assert (facts["least_mentored"]["site"], facts["least_mentored"]["minutes_per_month"]) == tuple(
        map(int, least.groups())
    )


def _sites_in(sentence: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", sentence)]


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        (r"expected 60 minutes of mentoring per month \(sites ([\d, and]+)\)", ("close_to_expected", "sites")),
        (r"OT turnover at 7 sites \(sites ([\d, and]+)\)", ("turnover_sites",)),
        (r"competency assessments \(sites ([\d, and]+)\)", ("low_competency_sites",)),
        (
            r"less confident about delivering the intervention \(sites ([\d, and]+)\)",
            ("additional_support_reasons", "less_confident_ots"),
        ),
        (r"management issues \(sites ([\d, and]+)\)", ("additional_support_reasons", "site_specific_issues")),
        (r"in sites ([\d and]+), OTs being", ("additional_support_reasons", "larger_caseloads")),
    ],
)
def test_published_site_lists_are_the_seeds(facts, seed_text, pattern, path):
    transcribed = facts[path[0]] if len(path) == 1 else facts[path[0]][path[1]]
    assert transcribed == _sites_in(re.search(pattern, seed_text).group(1))


def test_the_unreplaced_leaver_and_the_cut_off(facts, seed_text):
    leaver = facts["unreplaced_departure"]
    assert (leaver["site"], leaver["month"]) == (2, "2019-08")
    assert "one OT left in August 2019 and was never replaced" in seed_text
    assert facts["study_period"]["as_of"] == "2020-04-01" and "as of 1st April 2020" in seed_text
    assert facts["ots_in_post_at_once"]["max"] == 2 and "1–2 OTs delivered" in seed_text


def test_facts_loader_names_a_missing_entry(tmp_path):
    path = tmp_path / "facts.yml"
    path.write_text("ots_and_sites: {ots: 1, sites: 1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="leavers"):
        load_published_facts(path)


# --- qualitative findings --------------------------------------------------

_COUNT_WORDS = {
    "one": 1, "another": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "ten": 10, "fourteen": 14, "19": 19,
}  # fmt: skip


def _count_stated(finding: str, of: int) -> int:
    """The count a finding's own words give: the first number word, or half."""
    words = re.findall(r"[A-Za-z]+|\d+", finding.lower())
    if words[0] == "half":
        return of // 2
    return next(_COUNT_WORDS[word] for word in words if word in _COUNT_WORDS)


def test_qualitative_findings_are_the_seeds_counts(seed_text):
    findings = load_qualitative_findings(REFERENCE / "qualitative_findings.csv")
    assert len(findings) >= 25
    assert set(findings["group"]) == {"OTs", "mentors"}
    assert (findings["of"] == findings["group"].map({"OTs": 19, "mentors": 6})).all()
    for row in findings.itertuples():
        assert row.finding in seed_text, row.finding
        assert row.quote_source == "" or row.quote_source in seed_text, row.quote_source
        assert row.n == _count_stated(row.finding, row.of), row.finding


@pytest.mark.parametrize(
    ("fragment", "group", "n"),
    [
        ("Six of the 19 OTs", "OTs", 6),
        ("Ten OTs explained", "OTs", 10),
        ("seven agreed", "OTs", 7),
        ("Fourteen of the 19 OTs", "OTs", 14),
        ("All 19 OTs interviewed", "OTs", 19),
        ("Two of the 19 OTs", "OTs", 2),
        ("Two mentors experienced initial difficulties", "mentors", 2),
        ("Four mentors stated", "mentors", 4),
        ("five mentors reported", "mentors", 5),
        ("Half of the mentors", "mentors", 3),
    ],
)
def test_named_qualitative_findings(fragment, group, n):
    findings = load_qualitative_findings(REFERENCE / "qualitative_findings.csv")
    (row,) = findings.loc[findings["finding"].str.contains(fragment, regex=False)].itertuples()
    assert (row.group, row.n) == (group, n)


def test_qualitative_loader_refuses_impossible_counts(tmp_path):
    path = tmp_path / "findings.csv"
    path.write_text("theme,npt_construct,finding,group,n,of,quote_source\nT,,too many,OTs,20,19,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="too many"):
        load_qualitative_findings(path)


# --- the text's claims -----------------------------------------------------

SMALL_FACTS = {
    "study_period": {"start_month": "2019-01", "end_month": "2020-04"},
    "ots_and_sites": {"ots": 5, "sites": 3},
    "phone_teams_share_range": {"min_pct": 90.0, "max_pct": 100.0},
    "leavers": {"ots": 1, "sites": 1, "reasons": {"new job": 1}},
    "least_mentored": {"site": 3, "minutes_per_month": 40},
    "unreplaced_departure": {"site": 3, "month": "2019-08"},
    "close_to_expected": {"expected_minutes": 60, "sites": [2]},
    "above_expected": {"sites": 1, "min_minutes_per_month": 90, "max_minutes_per_month": 90},
    "low_competency_sites": [1],
    "turnover_sites": [],
    "ots_in_post_at_once": {"min": 1, "max": 2},
}


def _small_records(minutes_per_month=(90, 55, 40), low=(True, False, False)):
    site_metrics = pd.DataFrame(
        {
            "site": [1, 2, 3],
            "months_in_study": [15, 12, 10],
            "ots": pd.array([2, 2, 1], dtype="Int64"),
            "pct_phone_teams": pd.array([90.0, 95.5, 100.0], dtype="Float64"),
            "minutes_per_month": pd.array(minutes_per_month, dtype="Int64"),
        }
    ).assign(dose_band=lambda t: dose_band(t["minutes_per_month"]))
    sites = make_sites({1: "2019-01-10", 2: "2019-04-01", 3: "2019-06-01"})
    departures = ot_departures(
        make_ots([("C1", 3, "2019-06-01", "2019-08-20", "new job"), ("C2", 3, "2019-06-01", None, "")]),
        sites,
        AS_OF,
    )
    profile = pd.DataFrame(
        {
            "site": [1, 2, 3],
            "low_competency": list(low),
            "replaced": pd.array([0, 0, 0], dtype="Int64"),
        }
    )
    return site_metrics, profile, departures


def _claims_by_name(claims: pd.DataFrame) -> pd.DataFrame:
    return claims.set_index("claim")


def test_text_claims_agree_when_the_records_say_what_the_text_says():
    site_metrics, profile, departures = _small_records()
    claims = text_claims(site_metrics, profile, departures, SMALL_FACTS, AS_OF)
    assert list(claims.columns) == list(CLAIM_COLUMNS)
    assert claims["agrees"].dtype == bool
    assert claims["agrees"].all(), claims.loc[~claims["agrees"]].to_string()
    by_name = _claims_by_name(claims)
    assert by_name.loc["Least mentored site (minutes per month)", "computed"] == "site 3 (40)"
    assert by_name.loc["OTs who left and were never replaced (site, month)", "computed"] == "site 3 (2019-08)"
    assert by_name.loc["Study period (first opening month to the cut-off month)", "computed"] == "2019-01 to 2020-04"


def test_text_claims_disagree_when_the_records_differ():
    site_metrics, profile, departures = _small_records(minutes_per_month=(90, 75, 40), low=(True, True, False))
    by_name = _claims_by_name(text_claims(site_metrics, profile, departures, SMALL_FACTS, AS_OF))
    assert not by_name.loc["Sites close to the expected 60 minutes per month", "agrees"]
    assert by_name.loc["Sites close to the expected 60 minutes per month", "computed"] == "none"
    assert not by_name.loc["Number of sites above the expected minutes", "agrees"]
    assert by_name.loc["Range of monthly averages at sites above the expected (minutes)", "computed"] == "75–90"
    assert not by_name.loc["Sites with low competency-assessment scores", "agrees"]
    assert by_name.loc["Sites with low competency-assessment scores", "computed"] == "1, 2"
    assert by_name.loc["OTs who left: new job", "agrees"]


def test_text_claims_on_the_publication_report_its_contradictions(published, facts):
    """Records saying exactly what the text says where it can be true: the
    two places where the publication contradicts itself still disagree."""
    site_metrics = published.assign(dose_band=lambda t: dose_band(t["minutes_per_month"]))
    replaced_sites = facts["turnover_sites"]
    profile = pd.DataFrame(
        {
            "site": published["site"],
            "low_competency": published["site"].isin(facts["low_competency_sites"]),
            "replaced": published["site"].isin(replaced_sites).astype("Int64"),
        }
    )
    departures = pd.DataFrame(
        {
            "site": replaced_sites + [4, 15, 2],
            "month": ["2019-01"] * 9 + ["2019-08"],
            "leave_reason": ["maternity leave"] * 2 + ["new job"] * 6 + ["clinical pressures", "new job"],
            "replaced": [True] * 9 + [False],
        }
    )
    claims = _claims_by_name(text_claims(site_metrics, profile, departures, facts, AS_OF, published))
    disagreeing = claims.index[~claims["agrees"]].tolist()
    assert disagreeing == [
        "Share of mentoring by phone or Microsoft Teams, range across sites (%)",
        "OTs who left during the study",
        "Sites where an OT left",
        "OTs who left: new job",
    ]
    share = claims.loc["Share of mentoring by phone or Microsoft Teams, range across sites (%)"]
    assert share["published"] == "88.6–100" and share["computed"] == "91.6–100"
    assert "Table 4: 91.6–100% (lowest at site 3)" in share["note"]
    assert "contradicts itself" in share["note"]
    leavers = claims.loc["OTs who left during the study"]
    assert (leavers["published"], leavers["computed"]) == ("9", "10")
    assert "at least 9 replaced leavers at 7 sites" in leavers["note"]
    assert "at least 10 leavers at 8 sites (1, 2, 4, 5, 6, 8, 11, 15)" in leavers["note"]
    assert claims.loc["OTs who took part in mentoring", "computed"] == "41"
    assert claims.loc["Sites close to the expected 60 minutes per month", "computed"] == "9, 10, 13"
    assert claims.loc["Least mentored site (minutes per month)", "computed"] == "site 2 (43)"
