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

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from mentoring_eval.errors import InputError
from mentoring_eval.normalise import distinct_values, is_blank
from mentoring_eval.provenance import FileDigest

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


def _not_utf8_error(name: str, line: int, byte: int) -> InputError:
    return InputError(f"{name} line {line}: not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8")


def _csv_header(name: str, first_line: bytes) -> list[str]:
    first_line = first_line.removeprefix(UTF8_BOM)
    if not first_line.strip():
        raise InputError(f"{name}: the file is empty (no header line)")
    try:
        text = first_line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8_error(name, 1, first_line[error.start]) from None
    return next(csv.reader([text]))


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path.name}: file not found in {path.parent}") from None
    except IsADirectoryError:
        raise InputError(f"{path.name}: is a folder, not a file, in {path.parent}") from None


class _CheckedFile:
    """A CSV file opened for Arrow's CSV reader to read once, block by block.

    Beside the parse, in a thread of its own, every block read is also
    hashed (SHA-256), its line breaks counted and its text checked to be
    UTF-8 (the columns Arrow does not convert, the notes, too). So the record
    of what the numbers came from is of exactly the bytes parsed, the checks
    run while Arrow parses, and no copy of a whole national log is ever held
    (the blocks are let go once parsed and checked).

    ``first_line`` (the header) is read on opening, for the columns to be
    matched; :meth:`read` gives Arrow that line first, then the rest.
    """

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self._file = _open(path)
        self.first_line = self._file.readline()
        self._unread = self.first_line
        self._checking = ThreadPoolExecutor(max_workers=1)  # one thread: the blocks in order
        self._sha256 = hashlib.sha256()
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._size = self._line_breaks = 0
        self._last_byte = b""
        self._not_utf8: InputError | None = None
        self.closed = False

    def __enter__(self) -> _CheckedFile:
        return self

    def __exit__(self, *exception: object) -> None:
        self._checking.shutdown(wait=True)
        self._file.close()

    # --- what Arrow reads through (a file-like object's read interface) ---

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that are left when negative): the first
        line first, then the rest of the file."""
        taken = len(self._unread) if size < 0 else min(size, len(self._unread))
        block, self._unread = self._unread[:taken], self._unread[taken:]
        if not self._unread and (size < 0 or size > taken):
            block += self._file.read(-1 if size < 0 else size - taken)
        if block:
            self._checking.submit(self._check, block)
        return block

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True  # Arrow is done with it; the file itself closes on leaving the ``with``

    # --- the checks, in the checking thread ---

    def _check(self, block: bytes) -> None:
        self._sha256.update(block)
        self._size += len(block)
        breaks_before = self._line_breaks
        self._line_breaks += int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n")))
        self._last_byte = block[-1:]
        if self._not_utf8 is None:
            # The decoder holds back a character split between blocks (no
            # line break is ever among those bytes), so the position of a bad
            # byte counts from them.
            held_back = self._decoder.getstate()[0]
            try:
                self._decoder.decode(block)
            except UnicodeDecodeError as error:
                seen = held_back + block
                line = breaks_before + seen.count(b"\n", 0, error.start) + 1
                self._not_utf8 = _not_utf8_error(self.name, line, seen[error.start])

    def _check_end(self) -> None:
        if self._not_utf8 is None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError as error:  # a character cut off by the end of the file
                self._not_utf8 = _not_utf8_error(self.name, self._line_breaks + 1, error.object[error.start])

    def finish(self) -> tuple[FileDigest, int]:
        """Once Arrow has read everything: the digest of the bytes read and
        their number of lines (line breaks, plus a last line without one).
        Raises InputError when they are not UTF-8."""
        self._checking.submit(self._check_end).result()  # after every block's check
        if self._not_utf8 is not None:
            raise self._not_utf8
        lines = self._line_breaks + (1 if self._size and self._last_byte != b"\n" else 0)
        return FileDigest(size=self._size, sha256=self._sha256.hexdigest()), lines


def _parse_csv(opened: _CheckedFile, path: Path, convert: pacsv.ConvertOptions) -> tuple[pa.Table, FileDigest]:
    """Parse the CSV file ``opened`` (at ``path``); blank lines are kept as
    (blank) records so that line numbers stay true. With the table, the
    digest of exactly the bytes it was parsed from.

    Notes typed in Excel may hold line breaks inside quotes, which pyarrow
    reads correctly only in its slower serial mode (its parallel mode splits
    blocks at line breaks). So the fast mode goes first, and its result stands
    only when every line is exactly one record (records + header = lines);
    otherwise the file is read again in the safe mode.
    """
    table, error = _try_parse(opened, convert, newlines_in_values=False)
    digest, lines = opened.finish()  # a file that is not UTF-8 is refused as such, whatever the parse said
    if table is not None and table.num_rows + 1 == lines:
        return table, digest
    with _CheckedFile(path) as again:
        table, error = _try_parse(again, convert, newlines_in_values=True)
        digest, _ = again.finish()
    if table is None:
        raise _not_well_formed(path.name, error)
    return table, digest


def _try_parse(
    file: _CheckedFile, convert: pacsv.ConvertOptions, newlines_in_values: bool
) -> tuple[pa.Table | None, pa.ArrowInvalid | None]:
    """``file`` parsed by Arrow, or the error it gave."""
    try:
        table = pacsv.read_csv(
            file,
            parse_options=pacsv.ParseOptions(newlines_in_values=newlines_in_values, ignore_empty_lines=False),
            convert_options=convert,
        )
    except pa.ArrowInvalid as error:
        return None, error
    return table, None


def _not_well_formed(name: str, error: pa.ArrowInvalid) -> InputError:
    # Only the column count: pyarrow's message goes on to quote the row, notes included.
    column_count = re.search(r"Expected \d+ columns, got \d+", str(error))
    detail = f" ({column_count.group(0)})" if column_count else ""
    return InputError(f"{name}: not a well-formed CSV file{detail}")


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


def read_csv_file(path: Path, required: Sequence[str], categorical: bool = False) -> tuple[pd.DataFrame, FileDigest]:
    """The ``required`` columns of the CSV file at ``path`` as text (other
    columns are not read), named in lower case, plus ``source_line``; and
    the digest of the bytes they were parsed from (the file is read once).

    ``categorical`` gives categorical columns (each distinct value held once)
    instead of plain text.
    """
    with _CheckedFile(path) as opened:
        header = _csv_header(path.name, opened.first_line)
        positions = _match_columns(path.name, header, required)
        names = [header[position] for position in positions]
        convert = pacsv.ConvertOptions(
            include_columns=names,
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        table, digest = _parse_csv(opened, path, convert)
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
    frame = frame.assign(source_line=np.arange(2, len(frame) + 2, dtype="int64"))
    return without_blank_rows(frame, required), digest


def read_csv_table(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """The ``required`` columns of the CSV file at ``path`` as text (see
    :func:`read_csv_file`)."""
    return read_csv_file(path, required)[0]


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


def read_xlsx_table(path: Path, required: Sequence[str], data: bytes) -> pd.DataFrame:
    """The ``required`` columns of the first sheet of the workbook ``data``
    (the bytes of the file at ``path``) as categorical text (``cell_text``),
    plus ``source_line`` (the sheet's row number). Blank rows are left out."""
    import openpyxl  # here: only a workbook log needs it
    from openpyxl.utils.exceptions import InvalidFileException

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


def _read_xlsx_file(path: Path, required: Sequence[str]) -> tuple[pd.DataFrame, FileDigest]:
    with _open(path) as file:
        data = file.read()
    return read_xlsx_table(path, required, data), FileDigest.of(data)


def read_log_with_digest(path: Path) -> tuple[pd.DataFrame, FileDigest]:
    """The mentoring log at ``path`` (.csv or .xlsx): the ``LOG_COLUMNS`` as
    categorical text, plus ``source_line`` (``notes`` is never read); and
    the digest of the bytes it was read from."""
    if path.suffix.lower() == ".xlsx":
        log, digest = _read_xlsx_file(path, LOG_COLUMNS)
    else:
        log, digest = read_csv_file(path, LOG_COLUMNS, categorical=True)
    if log.empty:
        raise InputError(f"{path.name}: the log has a header but no rows")
    return log, digest


def read_log(path: Path) -> pd.DataFrame:
    """The mentoring log at ``path`` (see :func:`read_log_with_digest`)."""
    return read_log_with_digest(path)[0]


def read_reference_inputs(raw_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The four reference files of ``raw_dir`` by stem (``sites``, ...), checked
    for presence and columns."""
    raw_dir = Path(raw_dir)
    return {Path(name).stem: read_csv_table(raw_dir / name, columns) for name, columns in REFERENCE_COLUMNS.items()}


@dataclass(frozen=True)
class LogFile:
    """The mentoring log as read: its table (``read_log``), its file name and
    the digest of the bytes it was parsed from (the record of what the
    numbers came from is of exactly those bytes, read once)."""

    table: pd.DataFrame
    name: str
    digest: FileDigest


def read_log_file(raw_dir: str | Path) -> LogFile:
    """The mentoring log of ``raw_dir``, read once."""
    log_path = find_log(Path(raw_dir))
    table, digest = read_log_with_digest(log_path)
    return LogFile(table=table, name=log_path.name, digest=digest)


def read_raw_inputs(raw_dir: str | Path) -> RawInputs:
    """All five raw files of ``raw_dir``, checked for presence and columns."""
    tables = read_reference_inputs(raw_dir)
    log = read_log_file(raw_dir)
    return RawInputs(**tables, log=log.table, log_file=log.name)
