"""The clean stage: quarantine, duplicates, joint sessions, study windows,
reconciliation, the reference tables, and what it writes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from mentoring_eval import clean, normalise, provenance
from mentoring_eval.clean import (
    CONTACT_COLUMNS,
    QUARANTINE_COLUMNS,
    clean_competency,
    clean_log,
    clean_ots,
    clean_participants,
    clean_sites,
    run_clean_stage,
)
from mentoring_eval.errors import InputError
from mentoring_eval.inputs import LOG_COLUMNS
from mentoring_eval.normalise import LEAVE_CATEGORIES, leave_reason_categories
from mentoring_eval.outputs import STAGING_PREFIX

AS_OF = "2020-04-01"
LOG_FILE = "mentoring_log.csv"
GOOD_ROW = {
    "date": "2019-06-10",
    "site": "1",
    "mentor": "M1",
    "ots": "OT1",
    "mode": "phone",
    "minutes": "60",
    "kind": "planned",
}
OUTPUT_FILES = [
    "cleaning_summary.json",
    "competency.parquet",
    "contacts.parquet",
    "input_files.csv",
    "ots.parquet",
    "participants.parquet",
    "quarantine.csv",
    "sites.parquet",
]
# Free text that must never leave the clean stage.
SENSITIVE_NOTES = ("Jane Doe", "NHS 943 476 5919", "12 Acacia Avenue, Leeds LS1 4AB")


# --- small tables built here ----------------------------------------------------


def text_table(rows: list[dict[str, str]]) -> pd.DataFrame:
    """Raw text rows as ``inputs`` gives them, with source lines from 2."""
    table = pd.DataFrame(rows, dtype="str")
    return table.assign(source_line=range(2, len(table) + 2)).astype({"source_line": "int64"})


def log_of(*changes: dict[str, str]) -> pd.DataFrame:
    """A log with one row per ``changes``: ``GOOD_ROW`` with those values changed."""
    return text_table([{**GOOD_ROW, **change} for change in changes])[[*LOG_COLUMNS, "source_line"]]


def sites_table() -> pd.DataFrame:
    """Site 1 opened mid-March 2019, site 2 in June 2018, site 7 in March 2018."""
    return pd.DataFrame({"site": [1, 2, 7], "opened_on": pd.to_datetime(["2019-03-14", "2018-06-01", "2018-03-01"])})


def cleaned(*changes: dict[str, str], as_of: str = AS_OF) -> clean.CleanResult:
    return clean_log(log_of(*changes), sites_table(), as_of, LOG_FILE)


# --- quarantine ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("date", "", "missing date"),
        ("date", "31/02/2019", "invalid date"),
        ("date", "2019/06/10", "invalid date"),
        ("date", "June 2019", "invalid date"),
        ("site", "", "missing site"),
        ("site", "Ward 3", "invalid site"),
        ("site", "99", "unknown site"),
        ("site", "Site 1 & Site 99", "unknown site"),
        ("mode", "", "missing mode"),
        ("mode", "carrier pigeon", "unknown mode"),
        ("minutes", "", "missing minutes"),
        ("minutes", "a while", "invalid minutes"),
        ("minutes", "0", "zero minutes"),
        ("minutes", "0h", "zero minutes"),
        ("minutes", "-5", "negative minutes"),
        ("minutes", "481", "minutes over 480"),
        ("minutes", "8h01", "minutes over 480"),
        ("kind", "urgent", "unknown kind"),
    ],
)
def test_each_unusable_row_is_quarantined_with_its_reason(column, value, reason):
    result = cleaned({}, {column: value})
    assert result.quarantine.to_dict("records") == [
        {"source_file": LOG_FILE, "source_line": 3, "reason": reason, **GOOD_ROW, column: value}
    ]
    assert result.summary["quarantine_by_reason"] == {reason: 1}
    assert result.contacts["source_line"].tolist() == [2]


@pytest.mark.parametrize(("column", "value"), [("minutes", "480"), ("minutes", "8h"), ("kind", ""), ("ots", "")])
def test_values_at_the_limits_are_usable(column, value):
    assert cleaned({column: value}).summary["rows_quarantined"] == 0


def test_several_problems_give_all_reasons_in_column_order():
    result = cleaned({}, {"kind": "urgent", "minutes": "0", "mode": "pigeon", "site": "", "date": ""})
    assert result.quarantine["reason"].tolist() == [
        "missing date; missing site; unknown mode; zero minutes; unknown kind"
    ]
    assert result.summary["quarantine_by_reason"] == {
        "missing date": 1,
        "missing site": 1,
        "unknown mode": 1,
        "zero minutes": 1,
        "unknown kind": 1,
    }


def test_quarantine_keeps_original_values_as_read_and_never_notes():
    result = cleaned({}, {"date": "31/02/2019", "site": " site 07 ", "mentor": " m2 ", "mode": "MS  Teams"})
    assert list(result.quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert "notes" not in result.quarantine.columns
    row = result.quarantine.iloc[0]
    assert (row["date"], row["site"], row["mentor"], row["mode"]) == ("31/02/2019", " site 07 ", " m2 ", "MS  Teams")


def test_quarantine_is_sorted_by_source_line():
    result = cleaned({"date": ""}, {}, {"mode": ""}, {"kind": "x"})
    assert result.quarantine["source_line"].tolist() == [2, 4, 5]


def test_a_log_with_no_usable_row_is_an_input_error():
    with pytest.raises(InputError) as raised:
        cleaned({"date": ""}, {"mode": "pigeon", "minutes": "0"})
    assert str(raised.value) == (
        "mentoring_log.csv: none of the 2 rows could be understood; first reason: line 2: missing date"
    )


# --- dates, joint sessions, duplicates ----------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "day"),
    [
        ("01/12/2019", "2019-12-01"),
        ("01/12/19", "2019-12-01"),
        ("12/01/2020", "2020-01-12"),
        ("1 Dec 2019", "2019-12-01"),
        ("2019-12-01", "2019-12-01"),
    ],
)
def test_slashed_dates_are_day_first(spelling, day):
    assert cleaned({"date": spelling}).contacts["date"].tolist() == [pd.Timestamp(day)]


@pytest.mark.parametrize("spelling", ["1 & 2", "Site 1; site 02", "S2, S1", "1 and 2", "2;1"])
def test_joint_session_credits_each_site_the_full_minutes(spelling):
    contacts = cleaned({"site": spelling, "minutes": "45 mins"}).contacts
    assert contacts[["site", "minutes", "joint", "source_line"]].to_dict("records") == [
        {"site": 1, "minutes": 45.0, "joint": True, "source_line": 2},
        {"site": 2, "minutes": 45.0, "joint": True, "source_line": 2},
    ]


@pytest.mark.parametrize("spelling", ["1", "Site 1", "site 01", "S1", "1; site 01"])
def test_one_site_is_not_joint(spelling):
    contacts = cleaned({"site": spelling}).contacts
    assert contacts[["site", "joint"]].to_dict("records") == [{"site": 1, "joint": False}]


def test_summary_counts_source_rows_and_site_credits_apart():
    summary = cleaned({"site": "1 & 2 & 7"}, {}).summary
    assert (summary["rows_read"], summary["rows_clean"], summary["contacts"]) == (2, 2, 4)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({}, {}),
        ({"date": "2019-06-10"}, {"date": "10/06/2019"}),
        ({"date": "10/06/19"}, {"date": "10 Jun 2019"}),
        ({"site": "1 & 2"}, {"site": "Site 2; S1"}),
        ({"site": "1"}, {"site": "site 01"}),
        ({"mentor": "M1"}, {"mentor": " m1 "}),
        ({"ots": "OT1;OT2"}, {"ots": "ot2; OT1"}),
        ({"mode": "phone"}, {"mode": "Telephone"}),
        ({"mode": "teams"}, {"mode": "video"}),
        ({"minutes": "60"}, {"minutes": "1h"}),
        ({"minutes": "90 min"}, {"minutes": "1:30"}),
        ({"kind": ""}, {"kind": "planned"}),
        ({"kind": "ad hoc"}, {"kind": "Ad-hoc"}),
    ],
)
def test_duplicates_normalising_equal_are_removed_keeping_the_first(first, second):
    result = cleaned({"date": "2019-01-01"}, first, {"date": "2019-01-02"}, second)
    assert result.summary["duplicates_removed"] == 1
    assert result.summary["rows_clean"] == 3
    assert sorted(set(result.contacts["source_line"])) == [2, 3, 4]


@pytest.mark.parametrize(
    "change",
    [
        {"date": "2019-06-11"},
        {"site": "2"},
        {"mentor": "M2"},
        {"ots": "OT2"},
        {"mode": "email"},
        {"minutes": "61"},
        {"kind": "additional"},
    ],
)
def test_rows_differing_in_one_field_are_not_duplicates(change):
    assert cleaned({}, change).summary["duplicates_removed"] == 0


def test_quarantined_rows_are_never_counted_as_duplicates():
    result = cleaned({}, {"mode": "pigeon"}, {"mode": "pigeon"})
    assert (result.summary["rows_quarantined"], result.summary["duplicates_removed"]) == (2, 0)


# --- study window -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "flag"),
    [
        ("2019-02-28", "before opening"),  # last day of the month before site 1's opening month
        ("2019-03-01", ""),  # first day of the opening month
        ("2019-03-13", ""),  # before the opening day, but in the opening month
        ("2020-03-31", ""),  # the day before the cut-off
        ("2020-04-01", "on or after cut-off"),  # the cut-off itself
        ("2021-01-01", "on or after cut-off"),
    ],
)
def test_window_edges(date, flag):
    result = cleaned({"date": date})
    assert result.contacts[["in_window", "window_flag"]].to_dict("records") == [
        {"in_window": flag == "", "window_flag": flag}
    ]
    assert result.summary["out_of_window"] == (flag != "")


def test_window_is_per_credited_site():
    contacts = cleaned({"date": "2018-12-01", "site": "1 & 7"}).contacts
    assert contacts[["site", "window_flag"]].to_dict("records") == [
        {"site": 1, "window_flag": "before opening"},
        {"site": 7, "window_flag": ""},
    ]


def test_cut_off_follows_as_of():
    assert cleaned({"date": "2019-06-10"}, as_of="2019-06-10").contacts["window_flag"].tolist() == [
        "on or after cut-off"
    ]
    assert cleaned({"date": "2019-06-10"}, as_of=dt.date(2019, 6, 11)).summary["out_of_window"] == 0


def test_cut_off_before_any_site_opened_is_an_input_error():
    with pytest.raises(InputError, match=r"^cut-off 2017-01-01 is before any site opened$"):
        cleaned({}, as_of="2017-01-01")


def test_unreadable_cut_off_is_an_input_error():
    with pytest.raises(InputError, match=r"^cut-off 'soon' is not a date"):
        cleaned({}, as_of="soon")


# --- the clean contacts and the summary -------------------------------------------------------


def test_contacts_follow_the_table_contract():
    spelled = {"mentor": " m2 ", "ots": "ot2; OT1", "mode": "MS Teams", "minutes": "1.5h", "kind": "adhoc"}
    contacts = cleaned(spelled).contacts
    assert list(contacts.columns) == list(CONTACT_COLUMNS)
    assert contacts.dtypes.astype(str).to_dict() == {
        "source_file": "category",
        "source_line": "int64",
        "date": "datetime64[ns]",
        "site": "int64",
        "joint": "bool",
        "mentor": "category",
        "ots": "category",
        "mode": "category",
        "minutes": "float64",
        "kind": "category",
        "in_window": "bool",
        "window_flag": "category",
    }
    assert contacts.iloc[0].to_dict() == {
        "source_file": LOG_FILE,
        "source_line": 2,
        "date": pd.Timestamp("2019-06-10"),
        "site": 1,
        "joint": False,
        "mentor": "M2",
        "ots": "OT1;OT2",
        "mode": "teams",
        "minutes": 90.0,
        "kind": "ad hoc",
        "in_window": True,
        "window_flag": "",
    }


def test_text_columns_are_categorical_with_the_values_used_in_sorted_order():
    contacts = cleaned(
        {"mode": "Teams", "mentor": "m3"},
        {"mode": "phone"},
        {"mode": "letter", "mentor": "M9"},  # quarantined: neither its mode nor its mentor is a category
        {"date": "2017-01-01"},  # before opening
    ).contacts
    assert contacts["mode"].cat.categories.tolist() == ["phone", "teams"]
    assert contacts["mentor"].cat.categories.tolist() == ["M1", "M3"]
    assert contacts["window_flag"].cat.categories.tolist() == ["", "before opening"]
    assert contacts["source_file"].cat.categories.tolist() == [LOG_FILE]


def test_contacts_are_sorted_by_date_source_line_and_site():
    contacts = cleaned(
        {"date": "2019-07-01", "site": "2 & 1"},
        {"date": "2019-06-01", "site": "7"},
        {"date": "2019-07-01", "site": "1"},
        {"date": "2019-06-01", "site": "1; 2", "mentor": "M2"},
    ).contacts
    assert contacts[["source_line", "site"]].values.tolist() == [[3, 7], [5, 1], [5, 2], [2, 1], [2, 2], [4, 1]]


def test_a_log_in_any_order_gives_contacts_sorted_by_date_source_line_and_site():
    """Hundreds of dates (sorted by their rank, not their value), joint
    sessions among them, in shuffled order: the same order as sorting the
    contacts in Python."""
    rng = np.random.default_rng(3)
    days = pd.Timestamp("2019-04-01") + pd.to_timedelta(rng.integers(0, 300, 400), unit="D")
    site_spellings = np.array(["1", "2", "7", "1 & 2", "Site 7; S1", "2, 7 and 1"])
    changes = [
        {"date": day.strftime("%d/%m/%Y" if i % 2 else "%Y-%m-%d"), "site": site, "minutes": str(i % 400 + 1)}
        for i, (day, site) in enumerate(zip(days, rng.choice(site_spellings, len(days)), strict=True))
    ]
    contacts = cleaned(*changes).contacts
    keys = list(zip(contacts["date"], contacts["source_line"], contacts["site"], strict=True))
    assert keys == sorted(keys)
    sites_per_row = [len(normalise.parse_sites(pd.Series([change["site"]]))[0]) for change in changes]
    assert len(contacts) == sum(sites_per_row)
    assert contacts.groupby("source_line")["site"].apply(list).to_dict() == {
        line: sorted(normalise.parse_sites(pd.Series([change["site"]]))[0])
        for line, change in enumerate(changes, start=2)
    }


def test_site_credits_follow_each_rows_sites_in_order():
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 4, 50)  # sites per spelling: one, or a joint session's two or three
    starts = np.cumsum(sizes) - sizes
    row_codes = rng.integers(0, len(sizes), 2000).astype(np.int16)
    row_of_credit, site_position, joint = clean._site_credits(starts, sizes, row_codes)
    expected = [
        (row, starts[code] + nth, sizes[code] > 1) for row, code in enumerate(row_codes) for nth in range(sizes[code])
    ]
    assert list(zip(row_of_credit.tolist(), site_position.tolist(), joint.tolist(), strict=True)) == expected


def test_categorical_log_columns_clean_the_same():
    changes = [{}, {"site": "1 & 2"}, {"mode": "pigeon"}, {"date": "10/06/19"}]
    log = log_of(*changes)
    as_categories = log.astype({column: "category" for column in LOG_COLUMNS})
    plain = clean_log(log, sites_table(), AS_OF, LOG_FILE)
    categorical = clean_log(as_categories, sites_table(), AS_OF, LOG_FILE)
    pd.testing.assert_frame_equal(plain.contacts, categorical.contacts)
    pd.testing.assert_frame_equal(plain.quarantine, categorical.quarantine)
    assert plain.summary == categorical.summary


def test_reconciliation_and_summary():
    result = cleaned(
        {},
        {"site": "1 & 2"},
        {"date": ""},
        {},
        {"date": "2017-01-01"},
        {"mode": "x", "minutes": "0"},
        {"site": "2 & 1"},
    )
    assert result.summary == {
        "as_of": "2020-04-01",
        "contacts": 4,
        "duplicates_removed": 2,
        "out_of_window": 1,
        "quarantine_by_reason": {"missing date": 1, "unknown mode": 1, "zero minutes": 1},
        "rows_clean": 3,
        "rows_quarantined": 2,
        "rows_read": 7,
        "source_file": LOG_FILE,
    }


def test_source_file_in_outputs_is_a_base_name():
    result = clean_log(log_of({}, {"mode": ""}), sites_table(), AS_OF, "/some/where/mentoring_log.csv")
    assert result.summary["source_file"] == "mentoring_log.csv"
    assert set(result.contacts["source_file"]) == set(result.quarantine["source_file"]) == {"mentoring_log.csv"}


def test_combined_codes_stay_exact_when_the_combinations_overflow_int64():
    rng = np.random.default_rng(7)
    # Three columns of 2**25 possible codes: 2**75 combinations, renumbered on the way.
    columns = [rng.integers(0, 2**25, 1000) for _ in range(3)]
    columns = [np.concatenate([codes, codes[:100]]) for codes in columns]  # 100 exact repeats
    rows = np.arange(1100)  # each row its own spelling, whose key is the code drawn
    combined = clean._combined_codes(
        [clean._Column(codes=rows, values=keys, keys=keys, problems=keys) for keys in columns]
    )
    expected = pd.DataFrame(dict(enumerate(columns))).duplicated()
    assert (pd.Series(combined).duplicated() == expected).all() and expected.sum() == 100


# --- the reference tables -----------------------------------------------------------------------


def raw_sites(*rows: tuple[str, str]) -> pd.DataFrame:
    return text_table([{"site": site, "opened_on": opened_on} for site, opened_on in rows])


def test_clean_sites():
    sites = clean_sites(raw_sites(("Site 7", "14/03/2019"), ("S1", "2018-03-01"), ("02", "1 Jun 2018")))
    assert sites.dtypes.astype(str).to_dict() == {"site": "int64", "opened_on": "datetime64[ns]"}
    assert sites.to_dict("list") == {
        "site": [1, 2, 7],
        "opened_on": [pd.Timestamp("2018-03-01"), pd.Timestamp("2018-06-01"), pd.Timestamp("2019-03-14")],
    }


def test_clean_participants():
    raw = text_table(
        [
            {"participant_id": " P2 ", "site": "site 2", "arm": "Usual Care", "randomised_on": "01/07/2018"},
            {"participant_id": "P1", "site": "S1", "arm": "essvr", "randomised_on": "2019-04-01"},
        ]
    )
    participants = clean_participants(raw, sites_table())
    assert participants.dtypes.astype(str).to_dict() == {
        "participant_id": "str",
        "site": "int64",
        "arm": "str",
        "randomised_on": "datetime64[ns]",
    }
    assert participants.to_dict("records") == [
        {"participant_id": "P1", "site": 1, "arm": "ESSVR", "randomised_on": pd.Timestamp("2019-04-01")},
        {"participant_id": "P2", "site": 2, "arm": "usual care", "randomised_on": pd.Timestamp("2018-07-01")},
    ]


def test_clean_ots():
    raw = text_table(
        [
            {"ot_id": "OT2", "site": "7", "started_on": "2018-03-01", "left_on": "", "leave_reason": ""},
            {
                "ot_id": "OT1",
                "site": "2",
                "started_on": "2018-06-01",
                "left_on": "31/01/2019",
                "leave_reason": " Maternity Leave ",
            },
        ]
    )
    ots = clean_ots(raw, sites_table())
    assert ots.dtypes.astype(str).to_dict() == {
        "ot_id": "str",
        "site": "int64",
        "started_on": "datetime64[ns]",
        "left_on": "datetime64[ns]",
        "leave_reason": "str",
    }
    assert ots["ot_id"].tolist() == ["OT1", "OT2"]
    assert ots["left_on"].tolist()[0] == pd.Timestamp("2019-01-31") and pd.isna(ots["left_on"].tolist()[1])
    assert ots["leave_reason"].tolist() == ["maternity leave", "not recorded"]


def test_clean_competency():
    raw = text_table(
        [
            {"ot_id": "OT2", "assessed_on": "2018-04-01", "score": "100"},
            {"ot_id": "OT1", "assessed_on": "14 Mar 2019", "score": " 72.5 "},
            {"ot_id": "OT1", "assessed_on": "2018-04-01", "score": "0"},
        ]
    )
    competency = clean_competency(raw)
    assert competency.dtypes.astype(str).to_dict() == {
        "ot_id": "str",
        "assessed_on": "datetime64[ns]",
        "score": "float64",
    }
    assert competency[["ot_id", "score"]].values.tolist() == [["OT1", 0.0], ["OT1", 72.5], ["OT2", 100.0]]


REFERENCE_CLEANERS = {
    "sites": lambda rows: clean_sites(raw_sites(*rows)),
    "participants": lambda rows: clean_participants(text_table(rows), sites_table()),
    "ots": lambda rows: clean_ots(text_table(rows), sites_table()),
    "competency": lambda rows: clean_competency(text_table(rows)),
}
PARTICIPANT = {"participant_id": "P1", "site": "1", "arm": "ESSVR", "randomised_on": "2019-04-01"}
OT = {"ot_id": "OT1", "site": "1", "started_on": "2019-03-14", "left_on": "", "leave_reason": ""}
ASSESSMENT = {"ot_id": "OT1", "assessed_on": "2019-04-01", "score": "80"}


@pytest.mark.parametrize(
    ("clean_table", "rows", "message"),
    [
        (
            "sites",
            [("1", "2018-03-01"), ("2", "31/02/2018")],
            "sites.csv line 3, column opened_on: '31/02/2018' is not a date",
        ),
        ("sites", [("1", "")], "sites.csv line 2, column opened_on: '' is not a date"),
        ("sites", [("Ward 1", "2018-03-01")], "sites.csv line 2, column site: 'Ward 1' is not a site"),
        ("sites", [("1; 2", "2018-03-01")], "sites.csv line 2, column site: '1; 2' is not a site"),
        ("sites", [("1", "2018-03-01"), ("Site 01", "2018-04-01")], "sites.csv line 3: site 1 is listed twice"),
        (
            "participants",
            [PARTICIPANT, {**PARTICIPANT, "site": "S9"}],
            "participants.csv line 3: site 9 is not in sites.csv",
        ),
        (
            "participants",
            [{**PARTICIPANT, "arm": "control"}],
            "participants.csv line 2, column arm: 'control' is neither ESSVR nor usual care",
        ),
        (
            "participants",
            [{**PARTICIPANT, "randomised_on": "2019-02-30"}],
            "participants.csv line 2, column randomised_on: '2019-02-30' is not a date",
        ),
        (
            "participants",
            [{**PARTICIPANT, "participant_id": " "}],
            "participants.csv line 2, column participant_id: blank",
        ),
        (
            "ots",
            [{**OT, "left_on": "2019-03-13"}],
            "ots.csv line 2: OT OT1 left_on 2019-03-13 is before started_on 2019-03-14",
        ),
        ("ots", [OT, {**OT, "site": "12"}], "ots.csv line 3: site 12 is not in sites.csv"),
        ("ots", [{**OT, "left_on": "soon"}], "ots.csv line 2, column left_on: 'soon' is not a date"),
        (
            "competency",
            [{**ASSESSMENT, "score": "105"}],
            "competency.csv line 2, column score: 105 is outside 0 to 100",
        ),
        ("competency", [{**ASSESSMENT, "score": "-1"}], "competency.csv line 2, column score: -1 is outside 0 to 100"),
        (
            "competency",
            [{**ASSESSMENT, "score": "good"}],
            "competency.csv line 2, column score: 'good' is not a number",
        ),
        (
            "competency",
            [{**ASSESSMENT, "assessed_on": "2019-13-01"}],
            "competency.csv line 2, column assessed_on: '2019-13-01' is not a date",
        ),
    ],
)
def test_reference_table_errors_name_file_line_and_column(clean_table, rows, message):
    with pytest.raises(InputError) as raised:
        REFERENCE_CLEANERS[clean_table](rows)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("clean_table", "columns"),
    [
        (lambda raw: clean_participants(raw, sites_table()), ["participant_id", "site", "arm", "randomised_on"]),
        (lambda raw: clean_ots(raw, sites_table()), ["ot_id", "site", "started_on", "left_on", "leave_reason"]),
        (clean_competency, ["ot_id", "assessed_on", "score"]),
    ],
)
def test_reference_tables_may_be_empty(clean_table, columns):
    raw = pd.DataFrame({column: pd.Series([], dtype="str") for column in columns}).assign(
        source_line=pd.Series([], dtype="int64")
    )
    table = clean_table(raw)
    assert table.empty and list(table.columns) == columns


def test_no_sites_is_an_input_error():
    with pytest.raises(InputError, match=r"^sites\.csv: no sites listed$"):
        clean_sites(raw_sites())


# --- the stage, end to end, in a temporary folder ---------------------------------------------


REFERENCE_CSV = {
    "sites.csv": "site,opened_on\n1,14/03/2019\n2,2018-06-01\n7,2018-03-01\n",
    "participants.csv": (
        "participant_id,site,arm,randomised_on\nP1,1,ESSVR,2019-04-01\nP2,Site 2,usual care,01/07/2018\n"
    ),
    "ots.csv": "ot_id,site,started_on,left_on,leave_reason\nOT1,1,2019-03-14,,\nOT2,2,2018-06-01,2019-01-31,New job\n",
    "competency.csv": "ot_id,assessed_on,score\nOT1,2019-04-01,80\nOT2,2018-07-01,65\n",
}
LOG_LINES = [
    "Date,Site,Mentor,OTs,Mode,Minutes,Kind,Notes",
    "2019-06-10,Site 1,M1,OT1,phone,60,,Jane Doe called about her return to work",
    '10/06/2019,S1,m1,ot1,Telephone,1h,planned,"NHS 943 476 5919, 12 Acacia Avenue, Leeds LS1 4AB"',
    "14 Jun 2019,1 & 2,M2,OT1;OT2,MS Teams,1h30,additional,group call",
    '31/02/2019,7,M3,,email,15 mins,ad hoc,"Jane Doe\nNHS 943 476 5919"',
    "2018-12-01,2,M4,OT2,sms,5,adhoc,12 Acacia Avenue",
    "2020-04-01,7,M5,,video,45 mins,,",
]


def write_raw(folder: Path, log_lines: list[str] = LOG_LINES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in REFERENCE_CSV.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "mentoring_log.csv").write_text("\n".join(log_lines) + "\n", encoding="utf-8")
    return folder


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_run_clean_stage_writes_every_output(tmp_path):
    result = run_clean_stage(write_raw(tmp_path / "raw"), tmp_path / "processed", AS_OF)
    processed = tmp_path / "processed"
    assert sorted(path.name for path in processed.iterdir()) == OUTPUT_FILES
    summary = json.loads((processed / "cleaning_summary.json").read_text(encoding="utf-8"))
    assert summary == result.summary
    assert {key: summary[key] for key in ("rows_read", "rows_clean", "rows_quarantined", "duplicates_removed")} == {
        "rows_read": 6,
        "rows_clean": 4,
        "rows_quarantined": 1,
        "duplicates_removed": 1,
    }
    assert summary["contacts"] == 5 and summary["out_of_window"] == 1
    contacts = pd.read_parquet(processed / "contacts.parquet")
    pd.testing.assert_frame_equal(contacts, result.contacts)
    quarantine = pd.read_csv(processed / "quarantine.csv", dtype=str, keep_default_na=False)
    assert list(quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert quarantine[["source_file", "source_line", "reason", "date"]].values.tolist() == [
        ["mentoring_log.csv", "5", "invalid date", "31/02/2019"]
    ]
    assert pd.read_parquet(processed / "sites.parquet")["site"].tolist() == [1, 2, 7]
    recorded = provenance.read_input_record(processed)
    pd.testing.assert_frame_equal(recorded, provenance.input_file_hashes(tmp_path / "raw"))
    assert pd.read_parquet(processed / "ots.parquet")["leave_reason"].tolist() == ["not recorded", "new job"]


def test_notes_never_reach_any_output(tmp_path):
    run_clean_stage(write_raw(tmp_path / "raw"), tmp_path / "processed", AS_OF)
    for path in (tmp_path / "processed").iterdir():
        data = path.read_bytes()
        texts = [data]
        if path.suffix == ".parquet":  # also the decoded values, in case compression hides them
            texts.append(pd.read_parquet(path).astype(str).to_csv().encode())
        for text in texts:
            for sensitive in ("Jane", "Doe", "943 476 5919", "Acacia", "LS1 4AB", "group call"):
                assert sensitive.encode() not in text, f"{sensitive!r} found in {path.name}"


def test_no_absolute_paths_in_outputs(tmp_path):
    run_clean_stage(write_raw(tmp_path / "raw"), tmp_path / "processed", AS_OF)
    for path in (tmp_path / "processed").iterdir():
        assert str(tmp_path).encode() not in path.read_bytes()


def test_reruns_are_byte_identical(tmp_path):
    raw = write_raw(tmp_path / "raw")
    run_clean_stage(raw, tmp_path / "first", AS_OF)
    run_clean_stage(raw, tmp_path / "second", AS_OF)
    first = folder_bytes(tmp_path / "first")
    assert first == folder_bytes(tmp_path / "second")
    run_clean_stage(raw, tmp_path / "first", AS_OF)
    assert folder_bytes(tmp_path / "first") == first


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda raw: (raw / "sites.csv").unlink(), r"^sites\.csv: file not found"),
        (lambda raw: (raw / "mentoring_log.csv").write_text("date,site\n1,2\n"), r"missing columns 'mentor'"),
        (
            lambda raw: (raw / "ots.csv").write_text(REFERENCE_CSV["ots.csv"].replace("2019-01-31", "2018-01-31")),
            r"^ots\.csv line 3: OT OT2 left_on 2018-01-31 is before started_on 2018-06-01$",
        ),
        (
            lambda raw: (raw / "mentoring_log.csv").write_text(LOG_LINES[0] + "\nsoon,,,,,,,\n"),
            r"none of the 1 rows could be understood",
        ),
        (
            lambda raw: (raw / "mentoring_log.csv").write_text(LOG_LINES[0] + "\n\n,,,,,,,Jane Doe\n"),
            r"^mentoring_log\.csv: the log has a header but no rows$",
        ),
    ],
)
def test_bad_input_leaves_previous_outputs_untouched(tmp_path, spoil, message):
    raw, processed = write_raw(tmp_path / "raw"), tmp_path / "processed"
    run_clean_stage(raw, processed, AS_OF)
    before = folder_bytes(processed)
    spoil(raw)
    with pytest.raises(InputError, match=message):
        run_clean_stage(raw, processed, AS_OF)
    assert folder_bytes(processed) == before


@pytest.mark.parametrize(
    ("spoil_reference", "message"),
    [
        (lambda raw: (raw / "sites.csv").unlink(), r"^sites\.csv: file not found"),
        (
            lambda raw: (raw / "ots.csv").write_text(REFERENCE_CSV["ots.csv"].replace("2019-01-31", "2018-01-31")),
            r"^mentoring_log\.csv line 3: not UTF-8",
        ),
    ],
)
def test_errors_come_in_the_order_of_a_serial_run(tmp_path, spoil_reference, message):
    # The log is parsed in a thread while the reference files are read and
    # cleaned: still, a reference file that cannot be read stops the run
    # before the log's problems, and the log's reading before the reference
    # tables' contents.
    raw = write_raw(tmp_path / "raw")
    spoil_reference(raw)
    log = raw / "mentoring_log.csv"
    log.write_bytes(log.read_bytes().replace(b"Leeds", b"Caf\xe9 in Leeds"))  # a note on line 3, in Latin-1
    with pytest.raises(InputError, match=message):
        run_clean_stage(raw, tmp_path / "processed", AS_OF)


@pytest.mark.parametrize("writer", ["write_json", "write_parquet"])  # parquet: the contacts, in their own thread
def test_a_failure_while_writing_leaves_previous_outputs_untouched(tmp_path, monkeypatch, writer):
    raw, processed = write_raw(tmp_path / "raw"), tmp_path / "processed"
    run_clean_stage(raw, processed, AS_OF)
    before = folder_bytes(processed)
    write_raw(raw, LOG_LINES[:3])

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(clean, writer, disk_full)
    with pytest.raises(OSError):
        run_clean_stage(raw, processed, AS_OF)
    assert folder_bytes(processed) == before
    assert not list(processed.glob(f"{STAGING_PREFIX}*"))


def test_xlsx_log_runs_end_to_end(tmp_path):
    raw = write_raw(tmp_path / "raw")
    (raw / "mentoring_log.csv").unlink()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["DATE", "Site", "MENTOR", "OTs", "Mode", "Minutes", "KIND", "Notes"])
    sheet.append([dt.datetime(2019, 6, 10), 1, "M1", "OT1", "phone", 60, None, "Jane Doe"])
    sheet.append([dt.datetime(2019, 6, 10), "S1", "m1", "OT1", "Telephone", 60, "planned", None])
    sheet.append([dt.datetime(2019, 6, 14), "1 & 2", "M2", "OT1;OT2", "MS Teams", dt.time(1, 30), "additional", None])
    sheet.append(["31/02/2019", 7, "M3", None, "email", 15, "ad hoc", None])
    workbook.save(raw / "mentoring_log.xlsx")

    result = run_clean_stage(raw, tmp_path / "processed", AS_OF)
    assert result.summary["source_file"] == "mentoring_log.xlsx"
    assert (result.summary["rows_clean"], result.summary["duplicates_removed"], result.summary["rows_quarantined"]) == (
        2,
        1,
        1,
    )
    assert result.contacts[["date", "site", "minutes"]].values.tolist() == [
        [pd.Timestamp("2019-06-10"), 1, 60.0],
        [pd.Timestamp("2019-06-14"), 1, 90.0],
        [pd.Timestamp("2019-06-14"), 2, 90.0],
    ]
    assert b"Jane" not in (tmp_path / "processed" / "quarantine.csv").read_bytes()


# --- hostile text: codes have a shape, leave reasons are categories, CSVs are safe to open ---

# Payloads a code field must refuse: markup of every target, a formula, a
# name, and codes of the wrong length or with separators at the ends.
BAD_CODES = [
    "OT<b onmouseover=alert(1)>77</b>",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "![x](http://evil.example/x.png)",
    "#set text(red)",
    "{{< pagebreak >}}",
    "OT`1`",
    "OT$1$",
    "OT\\1",
    '=HYPERLINK("http://evil.example","click")',
    "-OT1",
    "OT1-",
    "OT 1",
    "Jane Doe",
    "O" * 33,
]
GOOD_CODES = ["OT1", "M6", "P0001", "ot-07", "RTK.01_0001", "7", "A" * 32]


@pytest.mark.parametrize("code", GOOD_CODES)
def test_codes_of_the_documented_shape_are_codes(code):
    assert normalise.is_code(pd.Series([code, f" {code} "])).tolist() == [True, True]


@pytest.mark.parametrize("code", BAD_CODES)
def test_anything_else_is_not_a_code(code):
    assert not normalise.is_code(pd.Series([code])).iloc[0]


@pytest.mark.parametrize("code", BAD_CODES)
@pytest.mark.parametrize(
    ("table", "row", "column", "file"),
    [
        ("participants", PARTICIPANT, "participant_id", "participants.csv"),
        ("ots", OT, "ot_id", "ots.csv"),
        ("competency", ASSESSMENT, "ot_id", "competency.csv"),
    ],
)
def test_a_reference_code_of_another_shape_is_bad_input_naming_file_line_and_column(code, table, row, column, file):
    with pytest.raises(InputError) as raised:
        REFERENCE_CLEANERS[table]([row, {**row, column: code}])
    message = str(raised.value)
    assert message.startswith(f"{file} line 3, column {column}: {code.strip()!r} is not a code (")
    assert "\n" not in message


@pytest.mark.parametrize("site", ["<b>7</b>", "Site 7<script>", "1234567", "S" + "9" * 30])
def test_a_site_that_is_not_a_site_number_is_bad_input(site):
    with pytest.raises(InputError, match=r"^sites\.csv line 2, column site: .* is not a site$"):
        REFERENCE_CLEANERS["sites"]([(site, "2018-03-01")])


@pytest.mark.parametrize("code", BAD_CODES)
@pytest.mark.parametrize(("column", "reason"), [("mentor", "invalid mentor code"), ("ots", "invalid OT code")])
def test_a_log_row_with_a_code_of_another_shape_is_quarantined(code, column, reason):
    value = f"OT2; {code}" if column == "ots" else code
    result = cleaned({}, {column: value})
    assert result.quarantine[["source_line", "reason", column]].to_dict("records") == [
        {"source_line": 3, "reason": reason, column: value}
    ]
    assert result.contacts["source_line"].tolist() == [2]
    credited = set(result.contacts["mentor"].astype(str)) | set(result.contacts["ots"].astype(str))
    assert credited == {GOOD_ROW["mentor"], GOOD_ROW["ots"]}


def test_a_blank_mentor_or_ot_list_is_still_understood():
    result = cleaned({"mentor": ""}, {"ots": " ; "})
    assert result.quarantine.empty and len(result.contacts) == 2


def test_a_bad_code_reason_comes_in_column_order_with_the_others():
    result = cleaned({}, {"mentor": "<b>M1</b>", "ots": "OT<1>", "minutes": "=1+1"})
    assert result.quarantine["reason"].tolist() == ["invalid mentor code; invalid OT code; invalid minutes"]


# --- leave reasons -------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ("maternity leave", "maternity leave"),
        (" Maternity Leave ", "maternity leave"),
        ("MATERNITY", "maternity leave"),
        ("mat leave", "maternity leave"),
        ("Mat. leave", "maternity leave"),
        ("new job", "new job"),
        ("New job<script>alert('x')</script>", "new job"),
        ("new post", "new job"),
        ("New role in the community team", "new job"),
        ("took another job", "new job"),
        ("promotion", "new job"),
        ("Promoted to band 7", "new job"),
        ("moved trust", "new job"),
        ("clinical pressures", "clinical pressures"),
        ("Clinical pressure", "clinical pressures"),
        ("clinical workload", "clinical pressures"),
        ("caseload too high", "clinical pressures"),
        ("", "not recorded"),
        ("  ", "not recorded"),
        ("NA", "not recorded"),
        ("n/a", "not recorded"),
        ("unknown", "not recorded"),
        ("Left after a dispute with her manager", "other"),
        ("retired", "other"),
        ("<b onmouseover=alert(1)>x</b>", "other"),
        ('=HYPERLINK("http://evil.example")', "other"),
    ],
)
def test_leave_reasons_map_to_categories(reason, category):
    assert leave_reason_categories(pd.Series([reason])).tolist() == [category]


def test_only_categories_leave_the_clean_stage(tmp_path):
    hostile = "Left after a dispute with her manager <script>alert(1)</script>"
    raw = write_raw(tmp_path / "raw")
    ots = (raw / "ots.csv").read_text().rstrip("\n").split("\n")
    ots[-1] = ots[-1].rsplit(",", 1)[0] + f',"{hostile}"'
    (raw / "ots.csv").write_text("\n".join(ots) + "\n")
    run_clean_stage(raw, tmp_path / "processed", "2020-04-01")
    reasons = pd.read_parquet(tmp_path / "processed" / "ots.parquet")["leave_reason"]
    assert set(reasons) <= set(LEAVE_CATEGORIES) and "other" in set(reasons)
    for written in (tmp_path / "processed").iterdir():
        assert b"dispute" not in written.read_bytes(), written.name


# --- CSV files a person opens ----------------------------------------------------


def test_the_quarantine_is_safe_to_open_and_numbers_stay_numbers(tmp_path):
    hostile_rows = [
        "2019-06-09,1,M1,OT1,phone,60,planned,a good row",
        '2019-06-10,"=HYPERLINK(""http://evil.example"",""click"")",M1,OT1,phone,60,planned,x',
        "2019-06-11,1,M1,OT1,phone,=1+1,planned,x",
        "2019-06-12,1,M1,OT1,phone,-15,planned,x",
        "2019-06-13,1,@SUM(A1),OT1,phone,60,planned,x",
        "2019-06-14,1,M1,OT1,+phone,60,planned,x",
        '2019-06-15,1,M1,OT1,phone,60,"\turgent",x',
        "2019-06-16,1,M1,OT1,phone,-1.5e1 min,planned,x",
    ]
    raw = write_raw(tmp_path / "raw", ["date,site,mentor,ots,mode,minutes,kind,notes", *hostile_rows])
    run_clean_stage(raw, tmp_path / "processed", "2020-04-01")
    text = (tmp_path / "processed" / "quarantine.csv").read_text(encoding="utf-8")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    risky = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert risky == ["-15"]  # the one plain number: negative minutes stay a number
    quarantine = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert set(quarantine["site"]) >= {'\'=HYPERLINK("http://evil.example","click")'}
    assert set(quarantine["minutes"]) >= {"'=1+1", "-15", "'-1.5e1 min"}
    assert set(quarantine["mentor"]) >= {"'@SUM(A1)"}
    assert set(quarantine["mode"]) >= {"'+phone"}
    assert set(quarantine["kind"]) >= {"'\turgent"}
    assert pd.read_csv(io.StringIO(text))["source_line"].dtype == "int64"


def test_reading_the_input_record_back_is_exact(tmp_path):
    raw = write_raw(tmp_path / "raw")
    for name in ("=cmd.txt", "-draft.csv", "'=quoted.txt", "@list.txt"):
        (raw / name).write_text("not an input the pipeline reads\n")
    run_clean_stage(raw, tmp_path / "processed", "2020-04-01")
    record = (tmp_path / "processed" / provenance.INPUT_RECORD).read_text(encoding="utf-8")
    assert not any(line[:1] in "=+-@" for line in record.splitlines())
    pd.testing.assert_frame_equal(
        provenance.read_input_record(tmp_path / "processed"), provenance.input_file_hashes(raw)
    )
    assert provenance.recorded_inputs_digest(tmp_path / "processed") == provenance.raw_inputs_digest(raw)
