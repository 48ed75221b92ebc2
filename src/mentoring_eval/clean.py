"""The clean stage: the raw mentoring log and reference files in, the clean
tables of CONTRIBUTING.md out.

- A log row that cannot be understood goes to the quarantine, with every
  reason (in column order), its source line and its original values (never
  the notes: ``inputs`` drops them as it reads the log).
- Exact duplicates (every normalised field equal) are removed, keeping the
  first, and counted.
- A joint session credits each listed site the full minutes: one contacts
  row per credited site.
- Contacts outside a site's study window are kept but flagged.
- Reconciliation always holds: rows read = clean + quarantined + duplicates.

``clean_log`` and the ``clean_<reference table>`` functions are pure;
``run_clean_stage`` is the I/O edge. The log is handled column by column on
its distinct spellings (a few thousand in a million rows): each is parsed
once and rows are addressed through integer codes, so no Python runs per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mentoring_eval import normalise, provenance
from mentoring_eval.errors import InputError
from mentoring_eval.inputs import LOG_COLUMNS, read_log_file, read_reference_inputs
from mentoring_eval.outputs import atomic_outputs, write_csv, write_json, write_parquet
from mentoring_eval.trial import read_trial_description

MAX_MINUTES = 480
SCORE_RANGE = (0, 100)
BEFORE_OPENING = "before opening"
ON_OR_AFTER_CUT_OFF = "on or after cut-off"
WINDOW_FLAGS = ("", BEFORE_OPENING, ON_OR_AFTER_CUT_OFF)
CONTACT_COLUMNS = (
    "source_file",
    "source_line",
    "date",
    "site",
    "joint",
    "mentor",
    "ots",
    "mode",
    "minutes",
    "kind",
    "in_window",
    "window_flag",
)
QUARANTINE_COLUMNS = ("source_file", "source_line", "reason", *LOG_COLUMNS)


@dataclass(frozen=True)
class CleanResult:
    """The clean contacts, the quarantined rows and the cleaning summary."""

    contacts: pd.DataFrame
    quarantine: pd.DataFrame
    summary: dict[str, Any]


# --- the log, one column at a time -------------------------------------------


@dataclass(frozen=True)
class _Column:
    """One log column understood. Rows point by ``codes`` into the distinct
    spellings; per spelling: its parsed ``values``, a ``keys`` code equal for
    spellings that normalise equal, and its ``problems`` ("" when none)."""

    codes: np.ndarray
    values: np.ndarray
    keys: np.ndarray
    problems: np.ndarray

    def mark_problems(self, quarantined: np.ndarray) -> None:
        """Set ``quarantined`` (one flag per row) where the row's spelling has
        a problem; a column none of whose spellings has one is not looked at."""
        problem = self.problems != ""
        if problem.any():
            quarantined |= problem[self.codes]

    def order(self) -> np.ndarray:
        """Per spelling, the rank of its value among the distinct values, in
        the smallest integer type that holds them: NumPy sorts a million rows
        by so small a number in one pass (a radix sort), whatever their order."""
        ranks, distinct = pd.factorize(self.values, sort=True)
        return ranks.astype(_code_type(len(distinct)))


# Readers: distinct spellings (text) -> (parsed values, problem per spelling).
Reader = Callable[[pd.Series], tuple[pd.Series, np.ndarray]]


def _problems(conditions: Iterable[tuple[pd.Series, str]]) -> np.ndarray:
    """The first problem whose condition holds, per spelling; "" for none."""
    conditions = list(conditions)
    return np.select([np.asarray(c, dtype=bool) for c, _ in conditions], [p for _, p in conditions], "").astype(object)


def _read_dates(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    dates = normalise.parse_dates(text)
    return dates, _problems([(normalise.is_blank(text), "missing date"), (dates.isna(), "invalid date")])


def _read_sites(text: pd.Series, known_sites: frozenset[int]) -> tuple[pd.Series, np.ndarray]:
    site_lists = normalise.parse_sites(text)
    unknown = site_lists.map(lambda sites: sites is not None and not known_sites.issuperset(sites))
    return site_lists, _problems(
        [(normalise.is_blank(text), "missing site"), (site_lists.isna(), "invalid site"), (unknown, "unknown site")]
    )


def _read_modes(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    modes = normalise.parse_modes(text)
    return modes, _problems([(normalise.is_blank(text), "missing mode"), (modes.isna(), "unknown mode")])


def _read_minutes(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    minutes = normalise.parse_minutes(text)
    return minutes, _problems(
        [
            (normalise.is_blank(text), "missing minutes"),
            (minutes.isna(), "invalid minutes"),
            (minutes == 0, "zero minutes"),
            (minutes < 0, "negative minutes"),
            (minutes > MAX_MINUTES, f"minutes over {MAX_MINUTES}"),
        ]
    )


def _read_mentors(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    mentors = normalise.normalise_mentors(text)
    invalid = ~normalise.is_blank(text) & ~normalise.is_code(text)
    return mentors.where(~invalid, None), _problems([(invalid, "invalid mentor code")])


def _ot_list_has_bad_code(text: str) -> bool:
    return any(not normalise.CODE_PATTERN.fullmatch(code) for code in normalise.ot_codes(text))


def _read_ot_lists(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    # A row naming an OT by something that is not a code (markup, a formula,
    # a name) is quarantined: nothing but a code is ever credited as an OT.
    ot_lists = normalise.normalise_ot_lists(text)
    invalid = pd.Series([_ot_list_has_bad_code(value) for value in text], index=text.index, dtype=bool)
    return ot_lists.where(~invalid, None), _problems([(invalid, "invalid OT code")])


def _read_kinds(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    kinds = normalise.parse_kinds(text)
    return kinds, _problems([(kinds.isna(), "unknown kind")])


def _log_readers(known_sites: frozenset[int]) -> dict[str, Reader]:
    """A reader per log column, in ``LOG_COLUMNS`` order (the order reasons are given in)."""
    readers = {
        "date": _read_dates,
        "site": partial(_read_sites, known_sites=known_sites),
        "mentor": _read_mentors,
        "ots": _read_ot_lists,
        "mode": _read_modes,
        "minutes": _read_minutes,
        "kind": _read_kinds,
    }
    return {column: readers[column] for column in LOG_COLUMNS}


def _understand(values: pd.Series, read: Reader) -> _Column:
    codes, distinct = normalise.distinct_values(values)
    parsed, problems = read(distinct)
    return _Column(codes=codes, values=parsed.to_numpy(), keys=pd.factorize(parsed)[0], problems=problems)


def _combined_codes(columns: list[_Column]) -> np.ndarray:
    """One int64 per row, equal exactly where every column's ``keys`` are equal."""
    rows = len(columns[0].codes)
    combined, keys_of_rows = np.zeros(rows, dtype=np.int64), np.empty(rows, dtype=np.int64)
    span = 1
    for column in columns:
        size = int(column.keys.max()) + 1 if len(column.keys) else 1
        if span * size >= 2**62:  # would overflow: renumber the combinations seen so far
            combined, seen = pd.factorize(combined)
            span = len(seen)
        # In place, into one buffer: a national log's rows are not allocated
        # afresh per column. (Every code is a valid position; mode="clip" only
        # spares NumPy the copy it makes of ``out`` to check them.)
        np.take(column.keys, column.codes, out=keys_of_rows, mode="clip")
        combined *= size
        combined += keys_of_rows
        span *= size
    return combined


def _join_reasons(reason_columns: list[np.ndarray]) -> np.ndarray:
    """Per row, the non-empty reasons joined by "; ", in column order."""
    joined = reason_columns[0]
    for reasons in reason_columns[1:]:
        joined = np.where(joined == "", reasons, np.where(reasons == "", joined, joined + "; " + reasons))
    return joined


def _sites_end_to_end(site_lists: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sites of every spelling (a tuple, or None) end to end, and where
    each spelling's sites start in that array, and how many there are."""
    sizes = np.array([0 if sites is None else len(sites) for sites in site_lists], dtype=np.int64)
    all_sites = np.array([site for sites in site_lists if sites is not None for site in sites], dtype=np.int64)
    return all_sites, np.cumsum(sizes) - sizes, sizes


def _site_credits(
    starts: np.ndarray, sizes: np.ndarray, row_codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows whose site spellings are ``row_codes``: the row of each site
    credit, the credited site's position among all sites end to end, and
    whether the credit is one of a joint session's."""
    credits_per_row = sizes[row_codes]
    # int32 positions where they fit: half the memory a national log's rows
    # would otherwise take, and fresh memory is most of these steps' cost.
    position_type = np.int32 if max(len(row_codes), int(sizes.sum())) < 2**31 else np.int64
    row_of_credit = np.repeat(np.arange(len(row_codes), dtype=position_type), credits_per_row)
    site_position = starts.astype(position_type)[row_codes][row_of_credit]
    joint = (sizes > 1)[row_codes][row_of_credit]
    # A joint session's credits follow one another: each after the first
    # moves one site further along its spelling's sites.
    joint_credits = np.flatnonzero(joint)
    if len(joint_credits):
        rows = row_of_credit[joint_credits]
        first_of_row = np.r_[True, rows[1:] != rows[:-1]]
        run_start = np.maximum.accumulate(np.where(first_of_row, np.arange(len(rows)), 0))
        site_position[joint_credits] += (np.arange(len(rows)) - run_start).astype(position_type)
    return row_of_credit, site_position, joint


def _code_type(categories: int) -> type[np.signedinteger]:
    """The integer type pandas holds a categorical's codes in (-1 included)."""
    return next((kind for kind in (np.int8, np.int16, np.int32) if categories < np.iinfo(kind).max), np.int64)


def _categorical(values: np.ndarray, codes: np.ndarray) -> pd.Categorical:
    """The text column ``values[codes]`` as a categorical: each distinct text
    held once (a national log has a million rows and a few hundred mentors),
    categories sorted, only those used. Built from integer codes, it costs
    milliseconds, and Parquet stores it as the dictionary it already is."""
    # Values of spellings with a problem are None (-1 here); no row in ``codes`` has one.
    category_of_value, categories = pd.factorize(np.asarray(values, dtype=object), sort=True)
    value_used = np.zeros(len(values), dtype=bool)
    value_used[codes] = True
    used = np.zeros(len(categories), dtype=bool)
    used[category_of_value[value_used]] = True
    renumbered = np.cumsum(used) - 1  # np.unique would sort a million codes
    # Renumbered per spelling first, in pandas' own code type: one pass over
    # the rows, and no copy of them when the categorical is made.
    final_code_of_value = np.full(len(category_of_value), -1, dtype=_code_type(int(used.sum())))
    has_value = category_of_value >= 0
    final_code_of_value[has_value] = renumbered[category_of_value[has_value]]
    return pd.Categorical.from_codes(
        final_code_of_value[codes], categories=pd.Index(categories[used], dtype="str"), validate=False
    )


def _cut_off(as_of: object) -> pd.Timestamp:
    try:
        cut_off = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        cut_off = pd.NaT
    if pd.isna(cut_off):
        raise InputError(f"cut-off {as_of!r} is not a date (YYYY-MM-DD)")
    return cut_off.normalize()


def _opening_months(sites: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """The first day of each site's opening month, indexed by site; for a
    site opening on or after the cut-off, the cut-off itself, so that a
    contact dated in its opening month before the cut-off is flagged as
    before opening (the site is not in the study yet), not counted."""
    if not (sites["opened_on"] < as_of).any():
        raise InputError(f"cut-off {as_of:%Y-%m-%d} is before any site opened")
    opening_months = sites["opened_on"].dt.to_period("M").dt.start_time.astype("datetime64[ns]")
    return opening_months.where(sites["opened_on"] < as_of, as_of).set_axis(sites["site"])


def _quarantine(log: pd.DataFrame, rows: np.ndarray, reasons: np.ndarray, source_file: str) -> pd.DataFrame:
    original = log.iloc[rows][list(LOG_COLUMNS)].astype("str").reset_index(drop=True)
    return original.assign(
        source_file=source_file,
        source_line=log["source_line"].to_numpy()[rows],
        reason=pd.Series(reasons, dtype="str"),
    )[list(QUARANTINE_COLUMNS)]


def _contacts(
    columns: dict[str, _Column],
    rows: np.ndarray,
    source_lines: np.ndarray,
    opening_months: pd.Series,
    as_of: pd.Timestamp,
    source_file: str,
) -> pd.DataFrame:
    """One contacts row per site credited by each of ``rows`` (already in
    output order), with its study-window flag."""
    all_sites, starts, sizes = _sites_end_to_end(columns["site"].values)
    site_codes = columns["site"].codes[rows]
    row_of_credit, site_position, joint = _site_credits(starts, sizes, site_codes)
    credit_rows = rows[row_of_credit]

    def parsed(column: str) -> np.ndarray:
        return columns[column].values[columns[column].codes[credit_rows]]

    def text(column: str) -> pd.Categorical:
        return _categorical(columns[column].values, columns[column].codes[credit_rows])

    opening_month = opening_months.reindex(all_sites).to_numpy()[site_position]
    date = parsed("date")
    # 0 in the window, 2 on or after the cut-off, 1 before opening (first: a
    # site opened after the cut-off has its contacts flagged as before opening).
    window = (date >= as_of.to_datetime64()).astype(np.int8) * np.int8(2)
    window[date < opening_month] = 1
    # Built one after another in this thread: built beside one another in two
    # threads they were slower as often as faster, each waiting for the GIL
    # between the many short steps of the other.
    return pd.DataFrame(
        {
            "source_file": pd.Categorical.from_codes(
                np.zeros(len(credit_rows), np.int8), categories=pd.Index([source_file], dtype="str"), validate=False
            ),
            "source_line": source_lines[credit_rows],
            "date": date.astype("datetime64[ns]", copy=False),
            "site": all_sites[site_position],
            "joint": joint,
            "mentor": text("mentor"),
            "ots": text("ots"),
            "mode": text("mode"),
            "minutes": parsed("minutes").astype("float64", copy=False),
            "kind": text("kind"),
            "in_window": window == 0,
            "window_flag": _categorical(np.array(WINDOW_FLAGS), window),
        },
        copy=False,  # the columns are new arrays already
    )


def clean_log(log: pd.DataFrame, sites: pd.DataFrame, as_of: object, source_file: str) -> CleanResult:
    """Clean the mentoring ``log`` (text columns ``LOG_COLUMNS`` and
    ``source_line``, as ``inputs.read_log`` gives) against the clean ``sites``
    table, with the study cut-off ``as_of``.

    Raises InputError when the log has no rows, none of them can be
    understood, or the cut-off precedes every site's opening.
    """
    source_file = Path(source_file).name  # no folders in the outputs
    cut_off = _cut_off(as_of)
    opening_months = _opening_months(sites, cut_off)
    if log.empty:
        raise InputError(f"{source_file}: the log has no rows")
    if not log["source_line"].is_monotonic_increasing:
        log = log.sort_values("source_line", kind="stable")

    readers = _log_readers(frozenset(sites["site"].tolist()))
    columns = {name: _understand(log[name], read) for name, read in readers.items()}
    quarantined = np.zeros(len(log), dtype=bool)
    for column in columns.values():
        column.mark_problems(quarantined)
    bad_rows, good_rows = np.flatnonzero(quarantined), np.flatnonzero(~quarantined)
    reasons_by_column = [column.problems[column.codes[bad_rows]] for column in columns.values()]
    reasons = _join_reasons(reasons_by_column)
    if len(good_rows) == 0:
        first_line = log["source_line"].iloc[bad_rows[0]]
        raise InputError(
            f"{source_file}: none of the {len(log)} rows could be understood; "
            f"first reason: line {first_line}: {reasons[0]}"
        )

    # Combined over every row, then taken for the good ones: one pass over
    # the rows per column instead of two. (A quarantined row's keys may
    # collide with a good row's; it is not among the rows compared.)
    keys = _combined_codes(list(columns.values()))[good_rows]
    duplicate = pd.Series(keys).duplicated(keep="first").to_numpy()
    kept = good_rows[~duplicate]
    # Rows are in source order, so a stable sort by date orders by (date, source_line).
    kept = kept[np.argsort(columns["date"].order()[columns["date"].codes[kept]], kind="stable")]

    source_lines = log["source_line"].to_numpy(np.int64)
    contacts = _contacts(columns, kept, source_lines, opening_months, cut_off, source_file)
    quarantine = _quarantine(log, bad_rows, reasons, source_file)
    reason_counts = pd.Series(np.concatenate(reasons_by_column)).loc[lambda r: r != ""].value_counts()
    summary = {
        "rows_read": len(log),
        "rows_clean": len(kept),
        "rows_quarantined": len(bad_rows),
        "duplicates_removed": int(duplicate.sum()),
        "contacts": len(contacts),
        "out_of_window": int((~contacts["in_window"]).sum()),
        "quarantine_by_reason": {reason: int(n) for reason, n in reason_counts.sort_index().items()},
        "as_of": cut_off.date().isoformat(),
        "source_file": source_file,
    }
    assert summary["rows_read"] == summary["rows_clean"] + summary["rows_quarantined"] + summary["duplicates_removed"]
    return CleanResult(contacts=contacts, quarantine=quarantine, summary=summary)


# --- the reference tables ------------------------------------------------------


def _stop_at_first(raw: pd.DataFrame, problem: pd.Series, describe: Callable[[pd.Series], str]) -> None:
    """Raise InputError describing the first row where ``problem`` holds."""
    if problem.any():
        raise InputError(describe(raw.loc[problem.to_numpy()].iloc[0]))


def _required_text(raw: pd.DataFrame, file: str, column: str) -> pd.Series:
    text = raw[column].str.strip()
    _stop_at_first(raw, text.eq(""), lambda row: f"{file} line {row.source_line}, column {column}: blank")
    return text.astype("str")


def _required_code(raw: pd.DataFrame, file: str, column: str) -> pd.Series:
    """An OT or participant code, stripped; a blank or a value of another
    shape (``normalise.CODE_SHAPE``) is bad input."""
    text = _required_text(raw, file, column)
    _stop_at_first(
        raw,
        ~normalise.is_code(text),
        lambda row: (
            f"{file} line {row.source_line}, column {column}: {row[column].strip()!r} is not a code "
            f"({normalise.CODE_SHAPE_WORDS})"
        ),
    )
    return text


def _reference_dates(raw: pd.DataFrame, file: str, column: str, blank_allowed: bool = False) -> pd.Series:
    dates = normalise.parse_dates(raw[column])
    unreadable = dates.isna() & ~(blank_allowed & normalise.is_blank(raw[column]))
    _stop_at_first(
        raw, unreadable, lambda row: f"{file} line {row.source_line}, column {column}: {row[column]!r} is not a date"
    )
    return dates


def _reference_sites(raw: pd.DataFrame, file: str, known: pd.Series | None = None) -> pd.Series:
    site_lists = normalise.parse_sites(raw["site"])
    site = site_lists.str[0].where(site_lists.str.len().eq(1))
    _stop_at_first(
        raw, site.isna(), lambda row: f"{file} line {row.source_line}, column site: {row.site!r} is not a site"
    )
    site = site.astype("int64")
    if known is not None:
        _stop_at_first(
            raw,
            ~site.isin(known),
            lambda row: f"{file} line {row.source_line}: site {site[row.name]} is not in sites.csv",
        )
    return site


def _reference_arms(raw: pd.DataFrame, file: str) -> pd.Series:
    arm = normalise.parse_arms(raw["arm"])
    _stop_at_first(
        raw,
        arm.isna(),
        lambda row: f"{file} line {row.source_line}, column arm: {row.arm!r} is neither ESSVR nor usual care",
    )
    return arm.astype("str")


def clean_sites(raw: pd.DataFrame) -> pd.DataFrame:
    """``sites.csv`` as text -> ``site`` (int64), ``opened_on``, sorted by site."""
    if raw.empty:
        raise InputError("sites.csv: no sites listed")
    site = _reference_sites(raw, "sites.csv")
    _stop_at_first(
        raw, site.duplicated(), lambda row: f"sites.csv line {row.source_line}: site {site[row.name]} is listed twice"
    )
    sites = pd.DataFrame({"site": site, "opened_on": _reference_dates(raw, "sites.csv", "opened_on")})
    return sites.sort_values("site", ignore_index=True)


def clean_participants(raw: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """``participants.csv`` as text -> ``participant_id``, ``site``, ``arm``
    (``"ESSVR"`` or ``"usual care"``), ``randomised_on``; every site must be
    in ``sites``."""
    file = "participants.csv"
    participants = pd.DataFrame(
        {
            "participant_id": _required_code(raw, file, "participant_id"),
            "site": _reference_sites(raw, file, known=sites["site"]),
            "arm": _reference_arms(raw, file),
            "randomised_on": _reference_dates(raw, file, "randomised_on"),
        }
    )
    return participants.sort_values("participant_id", kind="stable", ignore_index=True)


def clean_ots(raw: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """``ots.csv`` as text -> ``ot_id``, ``site``, ``started_on``, ``left_on``
    (NaT while in post), ``leave_reason`` (its category,
    ``normalise.LEAVE_CATEGORIES``: the text itself, free text about a
    colleague, never leaves the clean stage); every site must be in
    ``sites``, nobody may leave before starting."""
    file = "ots.csv"
    ots = pd.DataFrame(
        {
            "ot_id": _required_code(raw, file, "ot_id"),
            "site": _reference_sites(raw, file, known=sites["site"]),
            "started_on": _reference_dates(raw, file, "started_on"),
            "left_on": _reference_dates(raw, file, "left_on", blank_allowed=True),
            "leave_reason": normalise.leave_reason_categories(raw["leave_reason"]),
        }
    )
    _stop_at_first(
        ots.assign(source_line=raw["source_line"]),
        ots["left_on"] < ots["started_on"],
        lambda row: (
            f"{file} line {row.source_line}: OT {row.ot_id} left_on {row.left_on:%Y-%m-%d} "
            f"is before started_on {row.started_on:%Y-%m-%d}"
        ),
    )
    return ots.sort_values("ot_id", kind="stable", ignore_index=True)


def clean_competency(raw: pd.DataFrame) -> pd.DataFrame:
    """``competency.csv`` as text -> ``ot_id``, ``assessed_on``, ``score``
    (float64, within 0-100)."""
    file = "competency.csv"
    score = pd.to_numeric(raw["score"].str.strip(), errors="coerce").astype("float64")
    _stop_at_first(
        raw, score.isna(), lambda row: f"{file} line {row.source_line}, column score: {row.score!r} is not a number"
    )
    low, high = SCORE_RANGE
    _stop_at_first(
        raw,
        ~score.between(low, high),
        lambda row: f"{file} line {row.source_line}, column score: {row.score.strip()} is outside {low} to {high}",
    )
    competency = pd.DataFrame(
        {
            "ot_id": _required_code(raw, file, "ot_id"),
            "assessed_on": _reference_dates(raw, file, "assessed_on"),
            "score": score,
        }
    )
    return competency.sort_values(["ot_id", "assessed_on"], kind="stable", ignore_index=True)


# --- the I/O edge ----------------------------------------------------------------


def _clean_reference_tables(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The four reference tables cleaned, by name, in the order they are checked."""
    sites = clean_sites(raw["sites"])
    return {
        "sites": sites,
        "participants": clean_participants(raw["participants"], sites),
        "ots": clean_ots(raw["ots"], sites),
        "competency": clean_competency(raw["competency"]),
    }


def run_clean_stage(raw_dir: str | Path, processed_dir: str | Path, as_of: str | dt.date) -> CleanResult:
    """Read the raw files of ``raw_dir``, clean them and write the clean
    tables, the quarantine, the summary and the record of the files read
    (their SHA-256) into ``processed_dir``, all together or (on any error)
    none of them."""
    read_trial_description(raw_dir)  # a trial description that cannot be read is bad input, stopped here
    # The log is read and parsed in a second thread (Arrow's CSV parser
    # releases the GIL) while the reference files are read and cleaned here;
    # then the reference files are hashed there while the log is cleaned
    # here. The log is hashed as it is parsed, from the same bytes: read
    # once, and the record of what the numbers came from is of exactly those.
    with ThreadPoolExecutor(max_workers=1) as background:
        log_read = background.submit(read_log_file, raw_dir)
        raw = read_reference_inputs(raw_dir)
        try:
            reference_tables = _clean_reference_tables(raw)
            reference_error = None
        except InputError as error:
            reference_error = error
        # The errors come in the order of a serial run: reading every file
        # (the log last), then the reference tables' contents, then the log's.
        log = log_read.result()
        if reference_error is not None:
            raise reference_error
        hashed = background.submit(provenance.input_file_hashes, Path(raw_dir), {log.name: log.digest})
        result = clean_log(log.table, reference_tables["sites"], as_of, log.name)
        file_hashes = hashed.result()
    # The contacts (a million rows in a national log) are written in a second
    # thread, Arrow releasing the GIL, while the small files are written here;
    # the thread is joined before the outputs are moved into place.
    with atomic_outputs(processed_dir) as staging, ThreadPoolExecutor(max_workers=1) as writing:
        contacts_written = writing.submit(
            write_parquet,
            result.contacts,
            staging / "contacts.parquet",
            line_number_columns=("source_line",),
            no_missing_values=True,
        )
        write_csv(result.quarantine, staging / "quarantine.csv")
        write_json(result.summary, staging / "cleaning_summary.json")
        write_csv(file_hashes, staging / provenance.INPUT_RECORD)
        for name, table in reference_tables.items():
            write_parquet(table, staging / f"{name}.parquet")
        contacts_written.result()
    return result
