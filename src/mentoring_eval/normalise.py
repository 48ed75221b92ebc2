"""The spellings of the input contract, parsed.

Every parser takes a Series of text as read and returns a Series of the same
index with the parsed value, or a missing value (NaT, NaN, None) for a
spelling the contract does not list: nothing is guessed, so that the clean
stage can quarantine what it cannot understand.

A log of a million contacts holds only a few thousand distinct spellings, so
each parser works on the distinct values (``distinct_values``) and maps the
results back by their codes (``per_distinct``); per-value Python, where there
is any, runs once per distinct spelling, never per row.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

# Slashed dates are UK day-first; two-digit years are 20yy.
_ISO_DATE = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})$")
_SLASHED_DATE = re.compile(r"^(?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>\d{4}|\d{2})$")
_NAMED_MONTH_DATE = re.compile(r"^(?P<day>\d{1,2}) (?P<month>[a-z]+) (?P<year>\d{4})$")
MONTH_NAMES = {
    name: number
    for number, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
    for name in (full, full[:3])
}
# Outside these years a date is a typo (and beyond what datetime64[ns] holds).
YEARS_UNDERSTOOD = (1900, 2199)

# A site: `7`, `Site 7`, `site 07`, `S7`; a joint session joins several. Up
# to six digits: more is a typo (and beyond what a site number is stored in).
_SITE = re.compile(r"^(?:site|s)?\s*(?P<number>\d{1,6})$")
_SITE_SEPARATOR = re.compile(r"\s*(?:;|&|,|\sand\s)\s*")

_HOUR_UNITS = r"(?:h|hr|hrs|hour|hours)"
_MINUTE_UNITS = r"(?:m|min|mins|minute|minutes)"
_MINUTES_NUMBER = re.compile(
    rf"^(?P<number>-?\d+(?:\.\d+)?)\s*(?:(?P<minutes>{_MINUTE_UNITS})|(?P<hours>{_HOUR_UNITS}))?$"
)
_MINUTES_HOURS_AND_MINUTES = re.compile(
    rf"^(?P<hours>\d+)\s*(?::|{_HOUR_UNITS}\s*)(?P<minutes>[0-5]\d)(?:\s*{_MINUTE_UNITS})?$"
)

MODES = {
    "phone": "phone",
    "telephone": "phone",
    "tel": "phone",
    "teleconference": "phone",
    "teams": "teams",
    "ms teams": "teams",
    "microsoft teams": "teams",
    "video": "teams",
    "email": "written",
    "e-mail": "written",
    "sms": "written",
    "text": "written",
}
KINDS = {
    "": "planned",
    "planned": "planned",
    "additional": "additional",
    "ad hoc": "ad hoc",
    "ad-hoc": "ad hoc",
    "adhoc": "ad hoc",
}
ARMS = {"essvr": "ESSVR", "usual care": "usual care"}

# OT, mentor and participant codes: ASCII letters and digits, with `.`, `_`
# or `-` between them, 1 to 32 characters, starting and ending with a letter
# or digit (data/README.md says why). Nothing of this shape is markup in
# Markdown, HTML, Typst or a chart label, or a formula in a spreadsheet.
CODE_MAX_LENGTH = 32
CODE_SHAPE = rf"[A-Za-z0-9](?:[A-Za-z0-9._-]{{0,{CODE_MAX_LENGTH - 2}}}[A-Za-z0-9])?"
CODE_SHAPE_WORDS = (
    f"a code is letters and digits, with '.', '_' or '-' between them, at most {CODE_MAX_LENGTH} characters"
)
CODE_PATTERN = re.compile(CODE_SHAPE)

# Leave reasons are free text about a colleague: only their category leaves
# the clean stage. The publication's three categories, then "other"; blank
# (or a word for unknown) is "not recorded". Each reason is lower-cased, its
# punctuation read as spaces, and matched against these words in this order:
# the first category whose words it contains is its category.
LEAVE_MATERNITY = "maternity leave"
LEAVE_NEW_JOB = "new job"
LEAVE_CLINICAL = "clinical pressures"
LEAVE_OTHER = "other"
LEAVE_NOT_RECORDED = "not recorded"
LEAVE_CATEGORIES = (LEAVE_MATERNITY, LEAVE_NEW_JOB, LEAVE_CLINICAL, LEAVE_OTHER, LEAVE_NOT_RECORDED)
LEAVE_REASON_WORDS = {
    LEAVE_MATERNITY: r"\bmaternity\b|\bmat leave\b",
    LEAVE_NEW_JOB: (
        r"\bnew (?:job|jobs|post|role|position|employer)\b"
        r"|\b(?:another|different|other) (?:job|post|role|position|employer|trust)\b"
        r"|\bjob elsewhere\b|\bpromot(?:ed|ion)\b|\b(?:changed|moved) (?:job|jobs|post|role|trust)\b"
    ),
    LEAVE_CLINICAL: (
        r"\bclinical (?:pressure|pressures|workload|demand|demands|commitments)\b"
        r"|\b(?:workload|caseload|service pressure|service pressures)\b"
    ),
}
LEAVE_NOT_RECORDED_WORDS = ("", "na", "n a", "none", "unknown", "not known", "not recorded", "nk")


def distinct_values(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes (one per row, positions into the distinct values) and the
    distinct values as text. Missing values (None, NaN) read as blank text.
    A categorical's codes come as they are held (int8 for up to 127
    spellings, and so on): a national log's rows are not copied."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, distinct = values.array.codes, values.cat.categories
    else:
        codes, distinct = pd.factorize(values)
    distinct = pd.Series(distinct, dtype="str")
    if (codes < 0).any():
        codes = np.where(codes < 0, len(distinct), codes.astype(np.int64))
        distinct = pd.concat([distinct, pd.Series([""], dtype="str")], ignore_index=True)
    return codes, distinct


def per_distinct(values: pd.Series, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``parse`` applied to each distinct value of ``values`` once, mapped back
    to every row."""
    codes, distinct = distinct_values(values)
    parsed = parse(distinct)
    return pd.Series(parsed.to_numpy()[codes], index=values.index, dtype=parsed.dtype, name=values.name)


def spelling_key(text: pd.Series) -> pd.Series:
    """Text as a spelling table looks it up: lower case, spaces collapsed."""
    return text.str.strip().str.lower().str.replace(r"\s+", " ", regex=True)


def is_blank(text: pd.Series) -> pd.Series:
    """True where the text is empty or only spaces."""
    return text.str.strip().eq("")


_DATE_PATTERNS = (_ISO_DATE, _SLASHED_DATE, _NAMED_MONTH_DATE)
_UNIX_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _day_number(key: str) -> int | None:
    """Days since 1970-01-01 of a date spelling (``spelling_key``), or None."""
    for pattern in _DATE_PATTERNS:
        match = pattern.match(key)
        if match:
            break
    else:
        return None
    year = int(match["year"]) + (2000 if len(match["year"]) == 2 else 0)
    month = int(match["month"]) if match["month"].isdigit() else MONTH_NAMES.get(match["month"])
    if month is None or not YEARS_UNDERSTOOD[0] <= year <= YEARS_UNDERSTOOD[1]:
        return None
    try:
        return dt.date(year, month, int(match["day"])).toordinal() - _UNIX_EPOCH_ORDINAL
    except ValueError:  # an impossible day (31/02/2019) is as unreadable as a typo
        return None


def _dates_of_distinct(text: pd.Series) -> pd.Series:
    # Plain Python per distinct spelling: a few thousand in a national log,
    # and a tenth of the time of pandas' regex extraction, which costs
    # milliseconds per call even for the few dates of a reference file.
    days = [_day_number(key) for key in spelling_key(text)]
    dates = np.array([0 if day is None else day for day in days], dtype="int64").astype("datetime64[D]")
    dates = dates.astype("datetime64[ns]")
    dates[[day is None for day in days]] = np.datetime64("NaT")
    return pd.Series(dates, index=text.index)


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates (datetime64[ns], midnight) from `2019-03-14`, `14/03/2019`,
    `14/03/19` (UK day-first, 20yy) or `14 Mar 2019`; NaT otherwise. Values
    already held as datetimes (Excel date cells) keep their day."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize().astype("datetime64[ns]")
    return per_distinct(values, _dates_of_distinct)


def _site_list(text: str) -> tuple[int, ...] | None:
    key = text.strip().lower()
    one_site = _SITE.match(key)  # most spellings name one site: no list to split
    if one_site:
        return (int(one_site["number"]),)
    listed = [part for part in _SITE_SEPARATOR.split(key) if part]
    numbers = [_SITE.match(part) for part in listed]
    if not listed or not all(numbers):
        return None
    return tuple(sorted({int(number["number"]) for number in numbers}))


def _sites_of_distinct(text: pd.Series) -> pd.Series:
    # A list per value: plain Python over the (few) distinct spellings is
    # simpler and faster here than exploding and regrouping in pandas.
    return pd.Series([_site_list(value) for value in text], index=text.index, dtype=object)


def parse_sites(values: pd.Series) -> pd.Series:
    """Sorted tuples of the distinct site numbers listed (`7`, `Site 7`,
    `site 07`, `S7`; several joined by `;`, `&`, `,` or ` and `), or None when
    any listed site is not understood or none is listed."""
    return per_distinct(values, _sites_of_distinct)


def _minutes_of_distinct(text: pd.Series) -> pd.Series:
    key = spelling_key(text)
    number = key.str.extract(_MINUTES_NUMBER)
    in_hours = number["hours"].notna()
    plain = pd.to_numeric(number["number"]).where(~in_hours, pd.to_numeric(number["number"]) * 60)
    hours_and_minutes = key.str.extract(_MINUTES_HOURS_AND_MINUTES).apply(pd.to_numeric)
    return plain.fillna(hours_and_minutes["hours"] * 60 + hours_and_minutes["minutes"]).astype("float64")


def parse_minutes(values: pd.Series) -> pd.Series:
    """Minutes (float) from `60`, `60 min`, `45 mins`, `1h`, `1 hr`, `1h30`,
    `1:30`, `1.5h` (and numbers, e.g. Excel number cells); NaN otherwise.
    A leading minus is read, so that negative minutes can be named as such."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    return per_distinct(values, _minutes_of_distinct)


def _spelled(table: dict[str, str]) -> Callable[[pd.Series], pd.Series]:
    def look_up(text: pd.Series) -> pd.Series:
        return spelling_key(text).map(table).astype(object).where(lambda s: s.notna(), None)

    return look_up


def parse_modes(values: pd.Series) -> pd.Series:
    """`"phone"`, `"teams"` or `"written"` from any spelling in ``MODES``
    (any case and spacing); None otherwise (blank included)."""
    return per_distinct(values, _spelled(MODES))


def parse_kinds(values: pd.Series) -> pd.Series:
    """`"planned"` (also for blank), `"additional"` or `"ad hoc"` (`ad hoc`,
    `ad-hoc`, `adhoc`), any case; None otherwise."""
    return per_distinct(values, _spelled(KINDS))


def parse_arms(values: pd.Series) -> pd.Series:
    """`"ESSVR"` or `"usual care"`, from either in any case; None otherwise."""
    return per_distinct(values, _spelled(ARMS))


def is_code(text: pd.Series) -> pd.Series:
    """True where the text (stripped) has the shape of a code (``CODE_SHAPE``)."""
    return text.str.strip().str.fullmatch(CODE_PATTERN.pattern).fillna(False).astype(bool)


def _leave_categories_of_distinct(text: pd.Series) -> pd.Series:
    key = text.str.lower().str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip()
    conditions = [key.str.contains(words, regex=True) for words in LEAVE_REASON_WORDS.values()]
    conditions.append(key.isin(LEAVE_NOT_RECORDED_WORDS))
    categories = np.select(conditions, [*LEAVE_REASON_WORDS, LEAVE_NOT_RECORDED], LEAVE_OTHER)
    return pd.Series(categories, index=text.index, dtype="str")


def leave_reason_categories(values: pd.Series) -> pd.Series:
    """Each leave reason's category (``LEAVE_CATEGORIES``): ``maternity
    leave`` (`maternity`, `mat leave`, …), ``new job`` (`new post`, `new
    role`, `another job`, `promotion`, …), ``clinical pressures`` (`clinical
    workload`, `caseload`, …), ``not recorded`` (blank, `NA`, `unknown`) or
    ``other``: never the text itself."""
    return per_distinct(values, _leave_categories_of_distinct)


def normalise_mentors(values: pd.Series) -> pd.Series:
    """Mentor codes stripped and upper case (`m3 ` is `M3`)."""
    return per_distinct(values, lambda text: text.str.strip().str.upper())


def ot_codes(text: str) -> list[str]:
    """The OT codes of one ``ots`` spelling: split at `;`, stripped, upper
    case, blanks left out, sorted."""
    return sorted(code for code in (part.strip().upper() for part in text.split(";")) if code)


def _ot_list(text: str) -> str:
    return ";".join(ot_codes(text))


def _ot_lists_of_distinct(text: pd.Series) -> pd.Series:
    return pd.Series([_ot_list(value) for value in text], index=text.index, dtype="str")


def normalise_ot_lists(values: pd.Series) -> pd.Series:
    """OT codes present, as `;`-joined, stripped, upper-case, sorted codes
    (`ot2; OT1` is `OT1;OT2`); blank stays ``""``."""
    return per_distinct(values, _ot_lists_of_distinct)
