"""The spellings of the input contract: each one understood, nothing guessed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mentoring_eval import normalise


def parsed_one(parse, text: str):
    """``parse`` of a single value, as a plain Python value (None when missing)."""
    value = parse(pd.Series([text], dtype="str")).iloc[0]
    return None if value is None or pd.isna(value) else value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-03-14", "2019-03-14"),
        ("14/03/2019", "2019-03-14"),
        ("14/03/19", "2019-03-14"),
        ("14 Mar 2019", "2019-03-14"),
        ("14 mar 2019", "2019-03-14"),
        ("14 March 2019", "2019-03-14"),
        (" 14  Mar 2019 ", "2019-03-14"),
        ("2019-3-4", "2019-03-04"),
        ("4/3/2019", "2019-03-04"),
        # Slashed dates are UK day-first.
        ("01/12/2020", "2020-12-01"),
        ("12/01/2020", "2020-01-12"),
        ("29/02/2020", "2020-02-29"),
        # Impossible or unlisted spellings are not guessed.
        ("31/02/2019", None),
        ("29/02/2019", None),
        ("12/31/2019", None),
        ("2019-13-01", None),
        ("2019/03/14", None),
        ("March 2019", None),
        ("14 Mar 19", None),
        ("14 Sept 2019", None),
        ("0001-01-01", None),
        ("", None),
        ("  ", None),
    ],
)
def test_parse_dates(text, expected):
    parsed = parsed_one(normalise.parse_dates, text)
    assert parsed == (None if expected is None else pd.Timestamp(expected))


def test_dates_are_datetime64_ns_at_midnight():
    parsed = normalise.parse_dates(pd.Series(["14/03/2019", "x"], dtype="str"))
    assert parsed.dtype == "datetime64[ns]"
    assert parsed.isna().tolist() == [False, True]


def test_date_cells_already_datetimes_keep_their_day():
    cells = pd.Series(pd.to_datetime(["2019-03-14 10:30", "2020-12-01 00:00"]))
    assert normalise.parse_dates(cells).tolist() == [pd.Timestamp("2019-03-14"), pd.Timestamp("2020-12-01")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", (7,)),
        ("Site 7", (7,)),
        ("site 07", (7,)),
        ("S7", (7,)),
        ("s 7", (7,)),
        ("SITE 12", (12,)),
        (" 7 ", (7,)),
        ("7; 12", (7, 12)),
        ("12;7", (7, 12)),
        ("7 & 12", (7, 12)),
        ("Site 7, site 12", (7, 12)),
        ("S7 and S12", (7, 12)),
        ("7 AND 12", (7, 12)),
        ("1; 2 & 3, 4 and 5", (1, 2, 3, 4, 5)),
        ("7;", (7,)),
        ("7; site 07", (7,)),
        ("Ward 7", None),
        ("7 and", None),
        ("7/12", None),
        ("Site 7; Ward 3", None),
        ("", None),
        (";", None),
    ],
)
def test_parse_sites(text, expected):
    assert parsed_one(normalise.parse_sites, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("phone", "phone"),
        ("telephone", "phone"),
        ("tel", "phone"),
        ("teleconference", "phone"),
        ("Phone", "phone"),
        (" TELEPHONE ", "phone"),
        ("teams", "teams"),
        ("ms teams", "teams"),
        ("microsoft teams", "teams"),
        ("video", "teams"),
        ("MS  Teams", "teams"),
        ("Microsoft Teams", "teams"),
        ("email", "written"),
        ("e-mail", "written"),
        ("sms", "written"),
        ("text", "written"),
        ("E-Mail", "written"),
        ("SMS", "written"),
        ("zoom", None),
        ("e mail", None),
        ("", None),
    ],
)
def test_parse_modes(text, expected):
    assert parsed_one(normalise.parse_modes, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60", 60.0),
        ("60 min", 60.0),
        ("45 mins", 45.0),
        ("1h", 60.0),
        ("1 hr", 60.0),
        ("1h30", 90.0),
        ("1:30", 90.0),
        ("1.5h", 90.0),
        ("2 hours", 120.0),
        ("90 Minutes", 90.0),
        ("7.5", 7.5),
        (" 1 H 05 ", 65.0),
        ("0", 0.0),
        ("-30", -30.0),
        ("1:75", None),
        ("a while", None),
        ("60 sec", None),
        ("", None),
    ],
)
def test_parse_minutes(text, expected):
    assert parsed_one(normalise.parse_minutes, text) == expected


def test_minutes_numeric_cells_are_minutes():
    assert normalise.parse_minutes(pd.Series([60, 1.5])).tolist() == [60.0, 1.5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "planned"),
        ("  ", "planned"),
        ("planned", "planned"),
        ("Planned", "planned"),
        ("additional", "additional"),
        ("ADDITIONAL", "additional"),
        ("ad hoc", "ad hoc"),
        ("ad-hoc", "ad hoc"),
        ("adhoc", "ad hoc"),
        ("Ad-Hoc", "ad hoc"),
        ("AdHoc", "ad hoc"),
        ("urgent", None),
    ],
)
def test_parse_kinds(text, expected):
    assert parsed_one(normalise.parse_kinds, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ESSVR", "ESSVR"),
        ("essvr", "ESSVR"),
        ("usual care", "usual care"),
        ("Usual Care", "usual care"),
        ("control", None),
        ("", None),
    ],
)
def test_parse_arms(text, expected):
    assert parsed_one(normalise.parse_arms, text) == expected


@pytest.mark.parametrize(("text", "expected"), [("M1", "M1"), (" m3 ", "M3"), ("", "")])
def test_normalise_mentors(text, expected):
    assert parsed_one(normalise.normalise_mentors, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("OT1", "OT1"), ("ot2; OT1", "OT1;OT2"), (" OT1 ;; ot3 ", "OT1;OT3"), ("", ""), (" ; ", "")],
)
def test_normalise_ot_lists(text, expected):
    assert parsed_one(normalise.normalise_ot_lists, text) == expected


def test_each_distinct_value_is_parsed_once():
    seen = []

    def parse(distinct: pd.Series) -> pd.Series:
        seen.extend(distinct.tolist())
        return distinct.str.len()

    values = pd.Series(["a", "bb", "a", "a", "bb"], dtype="str")
    assert normalise.per_distinct(values, parse).tolist() == [1, 2, 1, 1, 2]
    assert sorted(seen) == ["a", "bb"]


@pytest.mark.parametrize("dtype", ["str", "category", "object"])
def test_parsers_accept_text_categorical_and_object_columns(dtype):
    values = pd.Series(["14/03/19", "2019-03-14", "x", "14/03/19"], dtype=dtype)
    parsed = normalise.parse_dates(values)
    assert parsed.tolist()[:2] == [pd.Timestamp("2019-03-14")] * 2
    assert parsed.isna().tolist() == [False, False, True, False]


def test_missing_values_read_as_blank():
    codes, distinct = normalise.distinct_values(pd.Series(["a", None, np.nan, "a"], dtype=object))
    assert distinct[codes].tolist() == ["a", "", "", "a"]
    assert normalise.parse_kinds(pd.Series([None, "adhoc"], dtype=object)).tolist() == ["planned", "ad hoc"]


def test_parsed_values_keep_the_index():
    values = pd.Series(["60", "1h"], index=[10, 20], dtype="str")
    assert normalise.parse_minutes(values).index.tolist() == [10, 20]
