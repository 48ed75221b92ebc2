"""Table 4 and the per-site metrics, on small tables built here to the clean
stage's schemas (CONTRIBUTING.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mentoring_eval.metrics import (
    REASON_LOW_COMPETENCY,
    REASON_RECENT_BELOW,
    REASON_UNREPLACED,
    SITE_METRICS_COLUMNS,
    TABLE4_COLUMNS,
    dose_band,
    group_comparison,
    monthly_minutes,
    ot_departures,
    site_competency,
    site_profile,
    sites_needing_attention,
    spearman_association,
    study_sites,
    table4,
)
from mentoring_eval.paths import project_root

AS_OF = pd.Timestamp("2020-04-01")
PUBLISHED = project_root() / "data" / "reference" / "table4_published.csv"

# --- builders of clean-stage tables -----------------------------------------


def make_sites(opened: dict[int, str]) -> pd.DataFrame:
    return pd.DataFrame({"site": list(opened), "opened_on": pd.to_datetime(list(opened.values()))}).astype(
        {"site": "int64"}
    )


def make_contacts(rows: list[tuple], sites: pd.DataFrame, as_of=AS_OF) -> pd.DataFrame:
    """Rows of (site, date, minutes, mode); the in-window flag as the clean
    stage sets it: from the first day of the opening month, before as_of."""
    frame = pd.DataFrame(rows, columns=["site", "date", "minutes", "mode"])
    frame = frame.assign(
        date=pd.to_datetime(frame["date"]),
        minutes=frame["minutes"].astype("float64"),
        site=frame["site"].astype("int64"),
    )
    opening_month = frame["site"].map(sites.set_index("site")["opened_on"].dt.to_period("M"))
    in_window = (frame["date"].dt.to_period("M") >= opening_month).fillna(False).astype(bool) & (
        frame["date"] < pd.Timestamp(as_of)
    )
    return frame.assign(
        source_file="mentoring_log.csv",
        source_line=np.arange(2, len(frame) + 2, dtype="int64"),
        joint=False,
        mentor="M1",
        ots="",
        kind="planned",
        in_window=in_window.astype(bool),
        window_flag=np.where(in_window, "", "before opening"),
    )


def make_participants(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (site, arm, randomised_on)."""
    frame = pd.DataFrame(rows, columns=["site", "arm", "randomised_on"])
    return frame.assign(
        participant_id=[f"P{i:04d}" for i in range(len(frame))],
        randomised_on=pd.to_datetime(frame["randomised_on"]),
        site=frame["site"].astype("int64"),
    )[["participant_id", "site", "arm", "randomised_on"]]


def make_ots(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (ot_id, site, started_on, left_on or None, leave_reason)."""
    frame = pd.DataFrame(rows, columns=["ot_id", "site", "started_on", "left_on", "leave_reason"])
    return frame.assign(
        site=frame["site"].astype("int64"),
        started_on=pd.to_datetime(frame["started_on"]),
        left_on=pd.to_datetime(frame["left_on"]),
    )


def make_competency(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (ot_id, assessed_on, score)."""
    frame = pd.DataFrame(rows, columns=["ot_id", "assessed_on", "score"])
    return frame.assign(assessed_on=pd.to_datetime(frame["assessed_on"]), score=frame["score"].astype("float64"))


NO_PARTICIPANTS = make_participants([])
NO_OTS = make_ots([])


def published_table4() -> pd.DataFrame:
    return pd.read_csv(PUBLISHED)


def opening_month_for(months_in_study: int, as_of=AS_OF) -> pd.Timestamp:
    return (pd.Timestamp(as_of).to_period("M") - months_in_study).to_timestamp()


def phone_teams_minutes_for(pct: float, total: int) -> int:
    """The fewest phone/Teams minutes that round half-up to ``pct`` % of
    ``total``: integer arithmetic, independent of the package."""
    target = round(pct * 10)
    return next(x for x in range(total + 1) if (2000 * x + total) // (2 * total) == target)


def records_reproducing(published: pd.DataFrame, as_of=AS_OF) -> dict[str, pd.DataFrame]:
    """Minimal clean-stage records whose Table 4 is ``published``: opened
    mid-month, phone and Teams and email contacts, ESSVR participants, OTs.
    Distractors that must not count: a usual-care participant, an ESSVR
    participant randomised on the cut-off, a contact before opening, a site
    opening after the cut-off."""
    opened = {
        int(row.site): opening_month_for(int(row.months_in_study), as_of) + pd.Timedelta(days=14)
        for row in published.itertuples()
    }
    sites = make_sites({**opened, 99: "2020-05-01"})
    contact_rows, participant_rows, ot_rows = [], [], []
    for row in published.itertuples():
        opened_on = opened[row.site]
        remote = phone_teams_minutes_for(row.pct_phone_teams, row.total_minutes)
        teams = remote // 2
        contact_rows += [
            (row.site, opened_on, remote - teams, "phone"),
            (row.site, "2020-02-03", teams, "teams"),
            (row.site, opened_on, row.total_minutes - remote, "written"),
            (row.site, opened_on - pd.Timedelta(days=40), 60, "phone"),
        ]
        participant_rows += [(row.site, "ESSVR", opened_on)] * row.essvr_participants
        participant_rows += [(row.site, "usual care", opened_on), (row.site, "ESSVR", as_of)]
        ot_rows += [
            (f"OT{row.site}-{k}", row.site, opened_on - pd.Timedelta(days=30), None, "") for k in range(row.ots)
        ]
    contact_rows.append((99, "2020-03-02", 60, "phone"))
    return {
        "contacts": make_contacts(contact_rows, sites, as_of),
        "sites": sites,
        "participants": make_participants(participant_rows),
        "ots": make_ots(ot_rows),
    }


# --- Table 4 ---------------------------------------------------------------


def test_table4_reproduces_the_published_table_from_minimal_records():
    published = published_table4()
    computed = table4(**records_reproducing(published), as_of=AS_OF)
    assert list(computed.columns) == list(SITE_METRICS_COLUMNS)
    pd.testing.assert_frame_equal(
        computed[list(TABLE4_COLUMNS)].astype("float64"),
        published[list(TABLE4_COLUMNS)].astype("float64"),
    )


def test_contacts_with_categorical_text_as_the_clean_stage_writes_them_give_the_same_metrics():
    records = records_reproducing(published_table4())
    text = ["source_file", "mentor", "ots", "mode", "kind", "window_flag"]
    as_written = {**records, "contacts": records["contacts"].astype({column: "category" for column in text})}
    pd.testing.assert_frame_equal(table4(**as_written, as_of=AS_OF), table4(**records, as_of=AS_OF))
    pd.testing.assert_frame_equal(
        monthly_minutes(as_written["contacts"], records["sites"], AS_OF),
        monthly_minutes(records["contacts"], records["sites"], AS_OF),
    )


def test_table4_columns_and_types():
    published = published_table4()
    computed = table4(**records_reproducing(published), as_of=AS_OF)
    assert computed["site"].dtype == "int64"
    integer_columns = [c for c in SITE_METRICS_COLUMNS if c not in ("site", "pct_phone_teams", "dose_band")]
    assert all(computed[c].dtype == "Int64" for c in integer_columns)
    assert computed["pct_phone_teams"].dtype == "Float64"
    assert computed["site"].is_monotonic_increasing
    assert (
        computed[["phone_minutes", "teams_minutes", "written_minutes"]].sum(axis=1) == computed["total_minutes"]
    ).all()


@pytest.mark.parametrize(
    ("months", "opening_month"),
    [
        (25, "2018-03"),  # sites 1, 2
        (24, "2018-04"),  # sites 3-7
        (23, "2018-05"),  # site 8
        (22, "2018-06"),  # sites 9-11
        (18, "2018-10"),  # sites 12, 13
        (17, "2018-11"),  # site 14
        (14, "2019-02"),  # site 16
        (8, "2019-08"),  # site 15
    ],
)
@pytest.mark.parametrize("day", ["01", "15", "28"])
def test_months_in_study_at_the_published_cut_off(months, opening_month, day):
    sites = make_sites({1: f"{opening_month}-{day}"})
    assert study_sites(sites, AS_OF)["months_in_study"].tolist() == [months]


def test_published_months_match_their_opening_months():
    published = published_table4()
    opened = {
        int(site): opening_month_for(int(months))
        for site, months in zip(published["site"], published["months_in_study"])
    }
    assert opened[1] == pd.Timestamp("2018-03-01")
    assert opened[15] == pd.Timestamp("2019-08-01")
    assert opened[16] == pd.Timestamp("2019-02-01")
    computed = study_sites(make_sites(opened), AS_OF)
    assert computed["months_in_study"].tolist() == published["months_in_study"].tolist()


def test_interim_cut_off_leaves_out_later_sites_and_counts_fewer_months():
    as_of = "2019-01-01"
    sites = make_sites({1: "2018-03-15", 2: "2018-12-20", 3: "2019-01-01", 4: "2019-02-10", 5: "2018-06-01"})
    contacts = make_contacts(
        [
            (1, "2018-12-31", 60, "phone"),
            (1, "2019-01-01", 60, "phone"),  # on the cut-off: not counted
            (4, "2018-12-01", 60, "phone"),  # before its site opens
        ],
        sites,
        as_of,
    )
    computed = table4(contacts, sites, NO_PARTICIPANTS, NO_OTS, as_of)
    assert computed["site"].tolist() == [1, 2, 5]  # absent, not zero
    assert computed["months_in_study"].tolist() == [10, 1, 7]
    assert computed["total_minutes"].tolist() == [60, 0, 0]
    assert computed.loc[0, "minutes_per_month"] == 6


def test_a_site_opened_in_the_cut_off_month_has_no_monthly_average():
    sites = make_sites({1: "2020-04-02"})
    contacts = make_contacts([(1, "2020-04-03", 30, "phone")], sites, "2020-04-15")
    computed = table4(contacts, sites, NO_PARTICIPANTS, NO_OTS, "2020-04-15")
    assert computed.loc[0, "months_in_study"] == 0
    assert computed.loc[0, "total_minutes"] == 30
    assert computed["minutes_per_month"].isna().all()
    assert computed["dose_band"].isna().all()


def test_a_site_with_no_contacts_has_zero_minutes_and_no_percentage():
    sites = make_sites({1: "2018-03-01", 2: "2018-03-01"})
    contacts = make_contacts([(1, "2019-05-05", 45, "written")], sites)
    computed = table4(contacts, sites, NO_PARTICIPANTS, NO_OTS, AS_OF).set_index("site")
    assert computed.loc[2, "total_minutes"] == 0
    assert pd.isna(computed.loc[2, "pct_phone_teams"])
    assert computed.loc[2, "minutes_per_month"] == 0
    assert computed.loc[2, "dose_band"] == "below"
    assert computed.loc[1, "pct_phone_teams"] == 0.0
    assert computed.loc[1, "written_minutes"] == 45


def test_fractional_minutes_are_summed_exactly_and_rounded_half_up():
    sites = make_sites({1: "2020-02-01"})
    contacts = make_contacts(
        [(1, "2020-02-03", 20.25, "phone"), (1, "2020-02-04", 20.25, "teams"), (1, "2020-03-01", 20, "written")],
        sites,
    )
    row = table4(contacts, sites, NO_PARTICIPANTS, NO_OTS, AS_OF).iloc[0]
    assert row["total_minutes"] == 61  # 60.5 -> 61
    assert row["pct_phone_teams"] == 66.9  # 40.5 / 60.5 = 66.94 %
    assert row["minutes_per_month"] == 30  # 60.5 / 2 = 30.25


def test_essvr_participants_counts_the_arm_randomised_before_the_cut_off():
    sites = make_sites({1: "2018-03-01"})
    participants = make_participants(
        [
            (1, "ESSVR", "2018-04-01"),
            (1, "ESSVR", "2020-03-31"),
            (1, "ESSVR", "2020-04-01"),  # on the cut-off
            (1, "usual care", "2018-04-01"),
        ]
    )
    ots = make_ots([("A", 1, "2018-03-01", None, "")])
    row = table4(make_contacts([], sites), sites, participants, ots, AS_OF).iloc[0]
    assert row["essvr_participants"] == 2
    assert row["participants_per_ot"] == 2


def test_participants_per_ot_is_missing_without_ots():
    sites = make_sites({1: "2018-03-01"})
    participants = make_participants([(1, "ESSVR", "2018-04-01")])
    row = table4(make_contacts([], sites), sites, participants, NO_OTS, AS_OF).iloc[0]
    assert row["ots"] == 0
    assert pd.isna(row["participants_per_ot"])


@pytest.mark.parametrize(
    ("started_on", "left_on", "counted"),
    [
        ("2017-01-01", None, True),  # in post throughout
        ("2017-01-01", "2018-02-28", False),  # left before the opening month
        ("2017-01-01", "2018-03-01", True),  # left on the window's first day
        ("2017-01-01", "2018-03-31", True),
        ("2020-03-31", None, True),  # started the day before the cut-off
        ("2020-04-01", None, False),  # started on the cut-off
        ("2019-01-01", "2020-06-01", True),  # leaves after the cut-off
    ],
)
def test_ots_count_when_their_time_in_post_overlaps_the_window(started_on, left_on, counted):
    sites = make_sites({1: "2018-03-20"})  # window starts 2018-03-01
    ots = make_ots([("A", 1, started_on, left_on, "")])
    row = table4(make_contacts([], sites), sites, NO_PARTICIPANTS, ots, AS_OF).iloc[0]
    assert row["ots"] == int(counted)


def test_a_users_own_trial_with_other_site_names():
    sites = make_sites({101: "2021-01-10", 102: "2021-06-01", 205: "2022-01-01"})
    contacts = make_contacts(
        [
            (101, "2021-01-11", 90, "teams"),
            (101, "2021-02-11", 30, "written"),
            (102, "2021-06-02", 60, "phone"),
            (205, "2021-12-31", 60, "phone"),  # site not yet open
        ],
        sites,
        "2021-07-01",
    )
    participants = make_participants([(101, "ESSVR", "2021-02-01"), (102, "ESSVR", "2021-06-10")])
    ots = make_ots([("X1", 101, "2021-01-01", None, ""), ("Y1", 102, "2021-05-01", None, "")])
    computed = table4(contacts, sites, participants, ots, "2021-07-01")
    assert computed["site"].tolist() == [101, 102]
    assert computed["months_in_study"].tolist() == [6, 1]
    assert computed["total_minutes"].tolist() == [120, 60]
    assert computed["pct_phone_teams"].tolist() == [75.0, 100.0]
    assert computed["minutes_per_month"].tolist() == [20, 60]
    assert computed["dose_band"].tolist() == ["below", "close"]


def test_contacts_cleaned_with_another_cut_off_are_refused():
    sites = make_sites({1: "2018-03-01"})
    contacts = make_contacts([(1, "2019-06-01", 60, "phone")], sites, as_of="2020-04-01")
    with pytest.raises(ValueError, match="2019-01-01"):
        table4(contacts, sites, NO_PARTICIPANTS, NO_OTS, "2019-01-01")


def test_no_site_in_the_run_gives_an_empty_table_with_the_columns():
    sites = make_sites({1: "2021-01-01"})
    computed = table4(make_contacts([], sites), sites, NO_PARTICIPANTS, NO_OTS, AS_OF)
    assert computed.empty
    assert list(computed.columns) == list(SITE_METRICS_COLUMNS)


def test_dose_bands_of_the_published_table():
    published = published_table4()
    bands = dose_band(published["minutes_per_month"])
    by_band = published.groupby(bands)["site"].apply(list)
    assert by_band["close"] == [9, 10, 13]
    assert by_band["below"] == [2]
    above = published.loc[bands == "above", "minutes_per_month"]
    assert (len(above), above.min(), above.max()) == (12, 73, 121)


@pytest.mark.parametrize(
    ("minutes", "band"),
    [(49, "below"), (50, "close"), (60, "close"), (70, "close"), (71, "above")],
)
def test_dose_band_edges(minutes, band):
    assert dose_band(pd.Series([minutes], dtype="Int64")).tolist() == [band]


# --- monthly minutes -------------------------------------------------------


def test_monthly_minutes_has_every_month_in_study_with_zeros():
    sites = make_sites({1: "2019-12-15", 2: "2020-03-01", 3: "2020-05-01"})
    contacts = make_contacts(
        [
            (1, "2019-12-01", 60, "phone"),
            (1, "2019-12-20", 30, "written"),
            (1, "2020-02-10", 45, "teams"),
            (1, "2019-11-30", 60, "phone"),  # before opening
            (2, "2020-03-31", 20, "phone"),
            (2, "2020-04-01", 20, "phone"),  # on the cut-off
        ],
        sites,
    )
    monthly = monthly_minutes(contacts, sites, AS_OF)
    assert list(monthly.columns) == ["site", "month", "minutes"]
    assert monthly.to_dict("list") == {
        "site": [1, 1, 1, 1, 2],
        "month": ["2019-12", "2020-01", "2020-02", "2020-03", "2020-03"],
        "minutes": [90.0, 0.0, 45.0, 0.0, 20.0],
    }


def test_monthly_minutes_add_up_to_table4_totals():
    records = records_reproducing(published_table4())
    monthly = monthly_minutes(records["contacts"], records["sites"], AS_OF)
    computed = table4(**records, as_of=AS_OF)
    assert monthly.groupby("site")["minutes"].sum().tolist() == computed["total_minutes"].astype(float).tolist()
    assert monthly.groupby("site").size().tolist() == computed["months_in_study"].tolist()


def test_a_part_month_before_a_mid_month_cut_off_has_no_row():
    sites = make_sites({1: "2020-02-01"})
    contacts = make_contacts([(1, "2020-04-10", 60, "phone")], sites, "2020-04-15")
    monthly = monthly_minutes(contacts, sites, "2020-04-15")
    assert monthly["month"].tolist() == ["2020-02", "2020-03"]
    assert table4(contacts, sites, NO_PARTICIPANTS, NO_OTS, "2020-04-15")["total_minutes"].tolist() == [60]


# --- competency and turnover -----------------------------------------------


def test_site_competency_mean_half_up_and_low_scores():
    sites = make_sites({1: "2018-03-01", 2: "2018-03-01", 3: "2018-03-01", 4: "2021-01-01"})
    ots = make_ots(
        [
            ("A", 1, "2018-03-01", None, ""),
            ("B", 1, "2018-03-01", None, ""),
            ("C", 2, "2018-03-01", None, ""),
            ("D", 3, "2018-03-01", None, ""),
        ]
    )
    competency = make_competency(
        [
            ("A", "2018-05-01", 55),
            ("B", "2018-05-01", 62),  # site 1: mean 58.5, one score below 60
            ("C", "2018-05-01", 60),
            ("C", "2019-05-01", 61),
            ("C", "2019-06-01", 61),  # site 2: 60.67 -> 60.7, none below 60
            ("C", "2020-04-01", 10),  # on the cut-off: not counted
        ]
    )
    computed = site_competency(sites, ots, competency, AS_OF)
    assert computed["site"].tolist() == [1, 2, 3]
    assert computed["mean_competency"].tolist()[:2] == [58.5, 60.7]
    assert pd.isna(computed.loc[2, "mean_competency"])
    assert computed["low_competency"].tolist() == [True, False, False]
    stricter = site_competency(sites, ots, competency, AS_OF, low_score_threshold=61)
    assert stricter["low_competency"].tolist() == [True, True, False]


TURNOVER_OTS = [
    # site 1: A leaves, B joins 40 days before: replaced.
    ("A", 1, "2018-03-01", "2019-01-10", "new job"),
    ("B", 1, "2018-12-01", None, ""),
    # site 2: C leaves; D started with C, not later: unreplaced.
    ("C", 2, "2018-03-01", "2019-08-15", "new job"),
    ("D", 2, "2018-03-01", None, ""),
    # site 3: two leave, one joiner: the earlier departure takes it.
    ("E", 3, "2018-03-01", "2019-01-31", "maternity leave"),
    ("F", 3, "2018-03-01", "2019-03-31", "clinical pressures"),
    ("G", 3, "2019-02-01", None, ""),
    # site 4: the joiner starts more than 90 days before the departure.
    ("H", 4, "2018-03-01", "2019-06-30", "new job"),
    ("I", 4, "2019-01-01", None, ""),
    # site 5: the joiner starts on the cut-off: too late.
    ("J", 5, "2018-03-01", "2020-01-31", "new job"),
    ("K", 5, "2020-04-01", None, ""),
    # site 6: left before the window and after the cut-off: not departures.
    ("L", 6, "2017-01-01", "2018-02-28", "new job"),
    ("M", 6, "2018-03-01", "2020-04-01", "new job"),
    # site 7: a joiner exactly 90 days before the departure counts.
    ("N", 7, "2018-03-01", "2019-04-01", "new job"),
    ("O", 7, "2019-01-01", None, ""),
]


def test_turnover_matches_replacements_in_date_order():
    sites = make_sites({site: "2018-03-01" for site in range(1, 8)})
    departures = ot_departures(make_ots(TURNOVER_OTS), sites, AS_OF)
    assert list(departures.columns) == [
        "ot_id",
        "site",
        "left_on",
        "month",
        "leave_reason",
        "replaced",
        "replaced_by",
    ]
    assert departures["ot_id"].tolist() == ["A", "C", "E", "F", "H", "J", "N"]
    assert departures["replaced"].tolist() == [True, False, True, False, False, False, True]
    assert departures["replaced_by"].tolist() == ["B", "", "G", "", "", "", "O"]
    assert departures.loc[departures["ot_id"] == "C", "month"].item() == "2019-08"


def test_one_joiner_replaces_one_leaver_only():
    sites = make_sites({1: "2018-03-01"})
    ots = make_ots(
        [
            ("A", 1, "2018-03-01", "2019-01-31", "new job"),
            ("B", 1, "2018-03-01", "2019-01-31", "new job"),
            ("C", 1, "2019-02-01", None, ""),
            ("D", 1, "2019-03-01", None, ""),
        ]
    )
    departures = ot_departures(ots, sites, AS_OF)
    assert departures["replaced_by"].tolist() == ["C", "D"]


def test_site_profile_counts_leavers():
    sites = make_sites({site: "2018-03-01" for site in range(1, 8)})
    ots = make_ots(TURNOVER_OTS)
    competency = make_competency([("A", "2018-06-01", 50), ("C", "2018-06-01", 80)])
    profile = site_profile(sites, ots, competency, AS_OF)
    assert list(profile.columns) == [
        "site",
        "mean_competency",
        "low_competency",
        "leavers",
        "replaced",
        "unreplaced",
        "turnover",
    ]
    assert profile["leavers"].tolist() == [1, 1, 2, 1, 1, 0, 1]
    assert profile["replaced"].tolist() == [1, 0, 1, 0, 0, 0, 1]
    assert profile["unreplaced"].tolist() == [0, 1, 1, 1, 1, 0, 0]
    assert profile["turnover"].tolist() == [True, True, True, True, True, False, True]
    assert profile["low_competency"].tolist() == [True] + [False] * 6


# --- associations ----------------------------------------------------------


def _metrics_and_profile(minutes, competency_means, low, turnover):
    sites = list(range(1, len(minutes) + 1))
    site_metrics = pd.DataFrame({"site": sites, "minutes_per_month": pd.array(minutes, dtype="Int64")})
    profile = pd.DataFrame(
        {
            "site": sites,
            "mean_competency": pd.array(competency_means, dtype="Float64"),
            "low_competency": low,
            "leavers": 0,
            "replaced": 0,
            "unreplaced": 0,
            "turnover": turnover,
        }
    )
    return site_metrics, profile


def test_group_comparison_means_and_counts():
    site_metrics, profile = _metrics_and_profile(
        [100, 80, 50, None], [55, 70, 65, 50], [True, False, False, True], [True, True, False, False]
    )
    computed = group_comparison(site_metrics, profile)
    assert computed[["factor", "group"]].values.tolist() == [
        ["low competency scores", "with"],
        ["low competency scores", "without"],
        ["OT turnover", "with"],
        ["OT turnover", "without"],
    ]
    assert computed["n_sites"].tolist() == [1, 2, 2, 1]
    assert computed["mean_minutes_per_month"].tolist() == [100.0, 65.0, 90.0, 50.0]
    assert computed["sites"].tolist() == ["1, 4", "2, 3", "1, 2", "3, 4"]


def test_spearman_exact_for_small_n():
    site_metrics, profile = _metrics_and_profile([10, 20, 30, 40, 50], [1, 2, 3, 4, 5], [False] * 5, [False] * 5)
    row = spearman_association(site_metrics, profile).iloc[0]
    assert row["n"] == 5
    assert row["rho"] == pytest.approx(1.0)
    assert row["p_value"] == pytest.approx(2 / 120)  # the two perfect orderings of 5! pairings
    assert row["p_value_method"].startswith("exact permutation")
    assert "exploratory" in row["interpretation"]


def test_spearman_samples_permutations_beyond_the_exact_limit_deterministically():
    minutes = [113, 43, 105, 97, 118, 90, 121, 104, 51, 55, 73, 89, 59, 82, 77, 106]
    means = [58, 70, 72, 55, 57, 74, 59, 71, 76, 78, 56, 73, 80, 75, 54, 58]
    site_metrics, profile = _metrics_and_profile(minutes, means, [False] * 16, [False] * 16)
    first = spearman_association(site_metrics, profile)
    second = spearman_association(site_metrics, profile)
    pd.testing.assert_frame_equal(first, second)
    assert first.loc[0, "n"] == 16
    assert first.loc[0, "p_value_method"].startswith("permutation test")
    assert -1 <= first.loc[0, "rho"] <= 1
    # The sampled p-value agrees with scipy's approximation to within Monte-Carlo error.
    approximate = stats.spearmanr(minutes, means).pvalue
    assert abs(first.loc[0, "p_value"] - approximate) < 0.02


def test_spearman_is_missing_with_too_few_sites():
    site_metrics, profile = _metrics_and_profile([10, 20], [1, 2], [False] * 2, [False] * 2)
    row = spearman_association(site_metrics, profile).iloc[0]
    assert pd.isna(row["rho"]) and pd.isna(row["p_value"])


# --- sites needing attention -----------------------------------------------


def test_sites_needing_attention_rules():
    monthly = pd.DataFrame(
        {
            "site": [1, 1, 1, 1, 2, 2, 2, 3],
            "month": ["2019-12", "2020-01", "2020-02", "2020-03", "2020-01", "2020-02", "2020-03", "2020-03"],
            "minutes": [0.0, 50.0, 60.0, 70.0, 30.0, 60.0, 60.0, 40.0],
        }
    )
    site_metrics = pd.DataFrame({"site": [1, 2, 3, 4], "minutes_per_month": pd.array([45, 50, 40, 61], dtype="Int64")})
    profile = pd.DataFrame(
        {
            "site": [1, 2, 3, 4],
            "low_competency": [True, False, False, True],
            "unreplaced": pd.array([0, 1, 0, 0], dtype="Int64"),
        }
    )
    computed = sites_needing_attention(site_metrics, monthly, profile, AS_OF, expected_minutes=60)
    assert list(computed.columns) == ["site", "reason", "detail"]
    assert computed[["site", "reason"]].values.tolist() == [
        [1, REASON_LOW_COMPETENCY],  # 45 a month; last three months average 60: not below
        [2, REASON_UNREPLACED],
        [2, REASON_RECENT_BELOW],  # last three months average 50
        [3, REASON_RECENT_BELOW],  # one month in study, 40
    ]
    assert "over the last 1 month," in computed.loc[3, "detail"]


def test_low_competency_at_exactly_the_expected_minutes_needs_attention():
    monthly = pd.DataFrame({"site": [1, 2], "month": ["2020-03", "2020-03"], "minutes": [60.0, 60.0]})
    site_metrics = pd.DataFrame({"site": [1, 2], "minutes_per_month": pd.array([60, None], dtype="Int64")})
    profile = pd.DataFrame(
        {"site": [1, 2], "low_competency": [True, True], "unreplaced": pd.array([0, 0], dtype="Int64")}
    )
    computed = sites_needing_attention(site_metrics, monthly, profile, AS_OF)
    assert computed["site"].tolist() == [1, 2]
    assert set(computed["reason"]) == {REASON_LOW_COMPETENCY}


def test_attention_at_an_interim_cut_off_uses_the_months_before_it():
    monthly = pd.DataFrame(
        {"site": [1] * 4, "month": ["2018-09", "2018-10", "2018-11", "2018-12"], "minutes": [0.0, 0.0, 90.0, 90.0]}
    )
    site_metrics = pd.DataFrame({"site": [1], "minutes_per_month": pd.array([68], dtype="Int64")})
    profile = pd.DataFrame({"site": [1], "low_competency": [False], "unreplaced": pd.array([0], dtype="Int64")})
    assert sites_needing_attention(site_metrics, monthly, profile, "2019-01-01").empty
    below = sites_needing_attention(site_metrics, monthly, profile, "2018-12-01")
    assert below["reason"].tolist() == [REASON_RECENT_BELOW]
