"""The words and tables of a site's page, from small tables."""

from __future__ import annotations

import pandas as pd
import pytest

from mentoring_eval import report, site_report
from mentoring_eval.errors import InputError

TABLE4 = pd.DataFrame(
    {
        "site": [1, 2, 3],
        "months_in_study": [10, 8, 3],
        "total_minutes": [600, 240, 0],
        "pct_phone_teams": [95.5, 100.0, None],
        "essvr_participants": [10, 5, 1],
        "ots": [2, 1, 1],
        "minutes_per_month": [60, 30, 0],
        "participants_per_ot": [5, 5, 1],
        "phone_minutes": [500, 200, 0],
        "teams_minutes": [73, 40, 0],
        "written_minutes": [27, 0, 0],
        "dose_band": ["close", "below", "below"],
    }
).astype({"pct_phone_teams": "Float64"})


@pytest.mark.parametrize(
    "sites, words",
    [
        ([1, 2, 3, 4], "1–4"),
        ([3, 1, 2, 7, 9], "1–3, 7 and 9"),
        ([1, 2], "1, 2"),
        ([1, 2, 5], "1, 2 and 5"),
        ([4], "4"),
    ],
)
def test_sites_in_words_collapses_runs(sites, words):
    assert site_report.sites_in_words(pd.Series(sites)) == words


def test_a_site_not_in_the_run_is_bad_input_naming_the_sites_that_are():
    with pytest.raises(InputError, match=r"^site 4 is not in the run as of 2020-04-01 \(sites opened by then: 1–3\)$"):
        site_report.site_row(TABLE4, 4, "2020-04-01")


def test_table4_against_trial_prints_the_sites_cells_beside_the_median_and_range():
    table = site_report.table4_against_trial(TABLE4, 2, "2020-04-01").set_index("measure")
    assert table.loc["Total mentoring (minutes)"].tolist() == ["240", "240", "0–600", "at the median"]
    assert table.loc["% by phone or Microsoft Teams"].tolist() == ["100.0", "97.8", "95.5–100.0", "above"]
    assert table.loc["Months in study"].tolist() == ["8", "8", "3–10", "at the median"]
    assert table.loc["OTs delivering the intervention"].tolist() == ["1", "1", "1–2", "at the median"]
    no_minutes = site_report.table4_against_trial(TABLE4, 3, "2020-04-01").set_index("measure")
    assert no_minutes.loc["% by phone or Microsoft Teams", "site"] == "–"
    assert no_minutes.loc["% by phone or Microsoft Teams", "against_median"] == "–"


def test_a_median_of_whole_numbers_may_end_in_a_half():
    two_sites = TABLE4.iloc[:2]
    table = site_report.table4_against_trial(two_sites, 1, "2020-04-01").set_index("measure")
    assert table.loc["Mean mentoring per month (minutes)", "trial_median"] == "45"
    assert table.loc["ESSVR participants", "trial_median"] == "7.5"


def test_the_mode_split_adds_up_to_table4s_percentage():
    modes = site_report.mode_split(TABLE4, 1, "2020-04-01")
    assert modes["minutes"].tolist() == [500, 73, 27, 573]
    assert modes["share"].tolist() == [83.3, 12.2, 4.5, 95.5]


def contacts(*rows: tuple[str, float, bool]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["kind", "minutes", "in_window"]).astype({"kind": "category"})


def test_contacts_by_kind_shows_every_kind_and_the_total():
    table = site_report.contacts_by_kind(
        contacts(("planned", 60.0, True), ("ad hoc", 5.0, True), ("planned", 45.0, True))
    )
    assert table.values.tolist() == [["planned", 2, 105], ["additional", 0, 0], ["ad hoc", 1, 5], ["total", 3, 110]]
    assert site_report.contacts_by_kind(contacts()).values.tolist() == [
        ["planned", 0, 0],
        ["additional", 0, 0],
        ["ad hoc", 0, 0],
        ["total", 0, 0],
    ]


def test_a_page_whose_contacts_disagree_with_site_metrics_fails():
    by_kind = site_report.contacts_by_kind(contacts(("planned", 60.0, True)))
    with pytest.raises(ValueError, match="site 2: its contacts add up to 60 minutes, site_metrics.csv says 240"):
        site_report.check_against_site_metrics(by_kind, TABLE4, 2, "2020-04-01")


@pytest.mark.parametrize(
    "as_of, previous", [("2020-04-01", "2020-03-01"), ("2020-03-31", "2020-02-29"), ("2020-01-15", "2019-12-15")]
)
def test_the_previous_cut_off_is_one_calendar_month_earlier(as_of, previous):
    assert site_report.previous_cutoff(as_of) == pd.Timestamp(previous)


def test_attention_on_a_page_uses_the_main_reports_words():
    attention = pd.DataFrame(
        {"site": [1, 2], "reason": ["OT left and not replaced"] * 2, "detail": ["1 OT left and not replaced"] * 2}
    )
    words = site_report.attention_markdown(attention, 2, "2020-04-01", 60)
    assert words.startswith("As of 1 April 2020, site 2 needs attention (1 rule fired). " + report.attention_rules(60))
    assert "| OT left and not replaced | 1 OT left and not replaced |" in words
    assert "| Why | Detail |" in words
    assert site_report.attention_markdown(attention, 3, "2020-04-01", 60) == (
        "As of 1 April 2020, site 3 does not need attention. " + report.attention_rules(60)
    )


def test_flag_changes_say_what_was_raised_cleared_and_kept():
    def flags(*reasons: str) -> pd.DataFrame:
        return pd.DataFrame({"reason": list(reasons)})

    since = "since 1 March 2020"
    assert (
        site_report._flag_changes(flags("a", "b"), flags("b", "c"), since)
        == "Attention flags raised since 1 March 2020: c; cleared since 1 March 2020: a; still: b."
    )
    assert (
        site_report._flag_changes(flags("b"), flags("b"), since)
        == "Attention flags unchanged since 1 March 2020: still b."
    )
    assert site_report._flag_changes(flags(), flags(), since) == "Attention flags: none then or now."


def test_ot_codes_in_a_sentence_are_text_never_markup():
    """Codes have a shape by the time they reach a page (the clean stage
    refuses others); the page escapes them all the same."""
    from types import SimpleNamespace

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    code = "OT<b onmouseover=alert(31337)>7</b>"
    ots = pd.DataFrame(
        {
            "ot_id": [code],
            "site": [1],
            "started_on": pd.to_datetime(["2020-03-10"]),
            "left_on": pd.to_datetime([None]),
        }
    )
    sentence = site_report._ot_changes(SimpleNamespace(ots=ots), 1, pd.Timestamp("2020-03-01"), "2020-04-01")
    page = markdown2html_mistune(sentence)
    assert "<b" not in page and "&lt;b onmouseover=alert(31337)&gt;7&lt;/b&gt; started on 10 March 2020" in page
