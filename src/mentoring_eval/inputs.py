"""Reading the five raw files of the input contract from a folder.

Everything is read as text, exactly as written (a blank cell is ``""``, never
NaN; ``NA`` stays ``NA``); understanding the spellings is ``normalise.py``'s
job. Rows with nothing in any column read (blank lines) are not records and
are left out. Column names are matched case-insensitively, ignoring surrounding
spaces, and come out lower case. Each table gains ``source_line``: the row's
number as a spreadsheet shows it, 1 being the header, so the first record is
line 2.

The mentoring log is ``mentoring_log.csv`` or ``mentoring_log.xlsx`` (first
sheet). Its ``notes`` column (free text that may name patients) is left
out as the file is parsed: it is never part of any table.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from mentoring_eval.errors import InputError
from mentoring_eval.normalise import distinct_values, is_blank

REFERENCE_COLUMNS = {
    "sites.csv": ("site", "opened_on"),
    "participants.csv": ("participant_id", "site", "arm", "randomised_on"),
    "ots.csv": ("ot_id", "site", "started_on", "left_on", "leave_reason"),
    "competency.csv": ("ot_id", "assessed_on", "score"),
}
LOG_STEM = "mentoring_log"
LOG_COLUMNS = ("date", "site", "mentor", "ots", "mode", "minutes", "kind")
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class RawInputs:
    """The five raw tables, as text, each with ``source_line``."""

    sites: pd.DataFrame
    participants: pd.DataFrame
    ots: pd.DataFrame
    competency: pd.DataFrame
    log: pd.DataFrame
    log_file: str  # the log's file name, without its folder


def column_key(name: object) -> str:
    """A header cell as columns are matched: stripped, lower case."""
    return "" if name is None else str(name).strip().lower()


def _match_columns(file_name: str, header: Sequence[object], required: Sequence[str]) -> list[int]:
    """Positions in ``header`` of the ``required`` columns."""
    keys = [column_key(name) for name in header]
    for key in set(keys) & set(required):
        if keys.count(key) > 1:
            raise InputError(f"{file_name}: column '{key}' appears more than once")
    missing = [column for column in required if column not in keys]
    if missing:
        listed = ", ".join(f"'{column}'" for column in missing)
        raise InputError(f"{file_name}: missing column{'s' if len(missing) > 1 else ''} {listed}")
    return [keys.index(column) for column in required]


def without_blank_rows(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``table`` without the rows that have no value in any of ``columns``
    (blank lines, or a note alone): they are not records. The other rows
    keep their line numbers."""
    # Narrowed column by column: after the first, only the rows blank so far
    # are looked at (in a national log, a handful).
    blank_rows = None
    for column in columns:
        codes, distinct = distinct_values(table[column])
        blank = is_blank(distinct).to_numpy(bool)
        blank_rows = np.flatnonzero(blank[codes]) if blank_rows is None else blank_rows[blank[codes[blank_rows]]]
        if len(blank_rows) == 0:
            return table
    return table.drop(index=table.index[blank_rows]).reset_index(drop=True)


def _not_utf8_error(name: str, data: bytes) -> InputError:
    """The error for a file that is not UTF-8, naming its first bad line."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return InputError(f"{name} line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save it as UTF-8")
    return InputError(f"{name}: not UTF-8 text; save it as UTF-8")


def _csv_header(name: str, data: bytes) -> list[str]:
    end = data.find(b"\n")
    first_line = data[: end if end >= 0 else len(data)].removeprefix(UTF8_BOM)
    if not first_line.strip():
        raise InputError(f"{name}: the file is empty (no header line)")
    try:
        text = first_line.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8_error(name, data) from None
    return next(csv.reader([text]))


def _require_utf8(name: str, data: bytes) -> None:
    """The whole file must be UTF-8, the columns not read (the notes) too:
    pyarrow checks only the columns it converts. Arrow validates the bytes in
    place, without decoding them into a second copy."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.large_string())
    except pa.ArrowInvalid:
        raise _not_utf8_error(name, data) from None


def count_lines(data: bytes) -> int:
    """The lines of ``data``: its line breaks, plus one for a last line
    without one. Counted in blocks with NumPy: a quarter of the time of
    ``bytes.count``, without a copy of a national log in memory."""
    block = 1 << 22
    view = np.frombuffer(data, dtype=np.uint8)
    breaks = sum(
        int(np.count_nonzero(view[start : start + block] == ord("\n"))) for start in range(0, len(view), block)
    )
    return breaks + (0 if data.endswith(b"\n") or not data else 1)


def _parse_csv(name: str, data: bytes, convert: pacsv.ConvertOptions) -> pa.Table:
    """Parse ``data``, the bytes of the CSV file ``name``; blank lines are
    kept as (blank) records so that line numbers stay true.

    Notes typed in Excel may hold line breaks inside quotes, which pyarrow
    reads correctly only in its slower serial mode (its parallel mode splits
    blocks at line breaks). So the fast mode goes first, and its result stands
    only when every line is exactly one record (records + header = lines);
    otherwise the file is read again in the safe mode.
    """

    def checked_lines() -> int:
        _require_utf8(name, data)
        return count_lines(data)

    # The checks run in a thread of their own while Arrow parses (both
    # release the GIL): on a national log they would otherwise hold the parse up.
    with ThreadPoolExecutor(max_workers=1) as checking:
        lines = checking.submit(checked_lines)
        try:
            fast = pacsv.read_csv(
                pa.BufferReader(data),
                parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
                convert_options=convert,
            )
        except pa.ArrowInvalid:
            fast = None  # perhaps a line break inside quotes: the safe mode decides
        if fast is not None and fast.num_rows + 1 == lines.result():
            return fast
        lines.result()  # a file that is not UTF-8 is refused as such, whatever the parse said
    return pacsv.read_csv(
        pa.BufferReader(data),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=convert,
    )


def _categorical(column: pa.ChunkedArray) -> pd.Categorical:
    """A text column as a pandas categorical: each distinct spelling held
    once, the parsers work on those, and a million-row log stays small in
    memory. Arrow encodes every chunk against one dictionary, so the chunks
    join without unifying theirs."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    return pd.Categorical.from_codes(
        encoded.indices.to_numpy(zero_copy_only=False),
        categories=pd.Index(encoded.dictionary.to_pylist(), dtype="str"),
        validate=False,
    )


def read_file(path: Path) -> bytes:
    """The bytes of the raw file at ``path``: read once, then parsed and
    hashed, so that the hash on record is of exactly what was parsed."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path.name}: file not found in {path.parent}") from None
    except IsADirectoryError:
        raise InputError(f"{path.name}: is a folder, not a file, in {path.parent}") from None


def read_csv_table(
    path: Path, required: Sequence[str], categorical: bool = False, data: bytes | None = None
) -> pd.DataFrame:
    """The ``required`` columns of the CSV file at ``path`` as text (other
    columns are not read), named in lower case, plus ``source_line``.

    ``categorical`` gives categorical columns (each distinct value held once)
    instead of plain text. ``data`` is the file's bytes when already read.
    """
    if data is None:
        data = read_file(path)
    header = _csv_header(path.name, data)
    positions = _match_columns(path.name, header, required)
    names = [header[position] for position in positions]
    convert = pacsv.ConvertOptions(
        include_columns=names,
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        table = _parse_csv(path.name, data, convert)
    except pa.ArrowInvalid as error:
        if "UTF8" in str(error):
            raise _not_utf8_error(path.name, data) from None
        # Only the column count: pyarrow's message goes on to quote the row, notes included.
        column_count = re.search(r"Expected \d+ columns, got \d+", str(error))
        detail = f" ({column_count.group(0)})" if column_count else ""
        raise InputError(f"{path.name}: not a well-formed CSV file{detail}") from None
    if categorical:
        # Parsed as plain text and encoded after, two columns at a time (Arrow
        # releases the GIL): a fifth less time than Arrow's CSV reader takes
        # to build dictionaries itself, chunk by chunk, on a national log.
        with ThreadPoolExecutor(max_workers=2) as encoding:
            frame = pd.DataFrame(
                dict(zip(required, encoding.map(_categorical, table.columns), strict=True)), copy=False
            )
    else:
        frame = table.rename_columns(list(required)).to_pandas()
    return without_blank_rows(frame.assign(source_line=np.arange(2, len(frame) + 2, dtype="int64")), required)


def cell_text(value: object) -> str:
    """An Excel cell as the text of the input contract: date cells as ISO
    dates, whole numbers without a decimal point, times and durations as
    ``H:MM`` (a duration typed ``1:30`` becomes a time cell in Excel)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return f"{value.hour}:{value.minute:02d}" + (f":{value.second:02d}" if value.second else "")
    if isinstance(value, dt.timedelta):
        minutes, seconds = divmod(round(value.total_seconds()), 60)
        return f"{minutes // 60}:{minutes % 60:02d}" + (f":{seconds:02d}" if seconds else "")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx_table(path: Path, required: Sequence[str], data: bytes | None = None) -> pd.DataFrame:
    """The ``required`` columns of the first sheet of the workbook at
    ``path`` as categorical text (``cell_text``), plus ``source_line`` (the
    sheet's row number). Blank rows are left out. ``data`` is the file's
    bytes when they are already read."""
    import openpyxl  # here: only a workbook log needs it
    from openpyxl.utils.exceptions import InvalidFileException

    if data is None:
        data = read_file(path)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise InputError(f"{path.name}: cannot be read as an Excel workbook ({type(error).__name__})") from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise InputError(f"{path.name}: the first sheet is empty (no header row)")
        positions = _match_columns(path.name, header, required)
        records, lines = [], []
        for line, row in enumerate(rows, start=2):
            if all(cell is None for cell in row):  # cheap: sheets often carry many empty rows
                continue
            records.append([cell_text(row[p]) if p < len(row) else "" for p in positions])
            lines.append(line)
    finally:
        workbook.close()
    frame = pd.DataFrame(records, columns=list(required), dtype="str").astype("category")
    return without_blank_rows(frame.assign(source_line=np.array(lines, dtype="int64")), required)


def find_log(raw_dir: Path) -> Path:
    """The mentoring log of ``raw_dir``: its .csv or its .xlsx, not both."""
    found = [raw_dir / f"{LOG_STEM}{suffix}" for suffix in (".csv", ".xlsx")]
    found = [path for path in found if path.is_file()]
    if not found:
        raise InputError(f"{LOG_STEM}.csv: file not found in {raw_dir} (nor {LOG_STEM}.xlsx)")
    if len(found) > 1:
        raise InputError(
            f"{LOG_STEM}.csv and {LOG_STEM}.xlsx are both in {raw_dir}: it is ambiguous which is the log; keep only one"
        )
    return found[0]


def read_log(path: Path, data: bytes | None = None) -> pd.DataFrame:
    """The mentoring log at ``path`` (.csv or .xlsx): the ``LOG_COLUMNS`` as
    categorical text, plus ``source_line``; ``notes`` is never read.
    ``data`` is the file's bytes when they are already read."""
    if path.suffix.lower() == ".xlsx":
        log = read_xlsx_table(path, LOG_COLUMNS, data)
    else:
        log = read_csv_table(path, LOG_COLUMNS, categorical=True, data=data)
    if log.empty:
        raise InputError(f"{path.name}: the log has a header but no rows")
    return log


def read_reference_inputs(raw_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The four reference files of ``raw_dir`` by stem (``sites``, ...), checked
    for presence and columns."""
    raw_dir = Path(raw_dir)
    return {Path(name).stem: read_csv_table(raw_dir / name, columns) for name, columns in REFERENCE_COLUMNS.items()}


@dataclass(frozen=True)
class LogFile:
    """The mentoring log as read: its table (``read_log``), its file name and
    the bytes it was parsed from (which the clean stage hashes: the record of
    what the numbers came from is of exactly those bytes, read once)."""

    table: pd.DataFrame
    name: str
    data: bytes


def read_log_file(raw_dir: str | Path) -> LogFile:
    """The mentoring log of ``raw_dir``, read once."""
    log_path = find_log(Path(raw_dir))
    data = read_file(log_path)
    return LogFile(table=read_log(log_path, data), name=log_path.name, data=data)


def read_raw_inputs(raw_dir: str | Path) -> RawInputs:
    """All five raw files of ``raw_dir``, checked for presence and columns."""
    tables = read_reference_inputs(raw_dir)
    log = read_log_file(raw_dir)
    return RawInputs(**tables, log=log.table, log_file=log.name)
