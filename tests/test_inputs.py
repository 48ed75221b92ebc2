"""Reading the raw files: text as written, headers in any case, clear errors."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from mentoring_eval import inputs
from mentoring_eval.errors import InputError
from mentoring_eval.provenance import FileDigest

LOG_HEADER = "date,site,mentor,ots,mode,minutes,kind,notes"
REFERENCE_FILES = {
    "sites.csv": "site,opened_on\n1,2018-03-01\n2,2018-04-15\n",
    "participants.csv": "participant_id,site,arm,randomised_on\nP1,1,ESSVR,2018-05-01\n",
    "ots.csv": "ot_id,site,started_on,left_on,leave_reason\nOT1,1,2018-03-01,,\n",
    "competency.csv": "ot_id,assessed_on,score\nOT1,2018-04-01,80\n",
}
SMALL_FILES = [(b"", 0), (b"a", 1), (b"a\n", 1), (b"a\nb", 2), (b"\n\n", 2)]  # and their lines
LOG_CSV = LOG_HEADER + "\n2019-03-14,Site 1,M1,OT1,phone,60,planned,fine\n"


def write_raw_folder(folder: Path, log_csv: str | None = LOG_CSV, **replaced: str) -> Path:
    """A raw folder with the reference files (``replaced`` by file stem) and the log."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in REFERENCE_FILES.items():
        (folder / name).write_text(replaced.get(Path(name).stem, text), encoding="utf-8")
    if log_csv is not None:
        (folder / "mentoring_log.csv").write_text(log_csv, encoding="utf-8")
    return folder


def write_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("ignored").append(["not", "the", "log"])
    workbook.save(path)
    return path


def as_records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype({column: "str" for column in frame.columns if column != "source_line"}).to_dict("records")


def test_reference_file_is_read_as_text_with_source_lines(tmp_path):
    path = tmp_path / "ots.csv"
    path.write_text("ot_id,site,started_on,left_on,leave_reason\nOT1,07,2018-03-01,,NA\nOT2, S7 ,01/03/2018,,\n")
    table = inputs.read_csv_table(path, inputs.REFERENCE_COLUMNS["ots.csv"])
    assert as_records(table) == [
        {
            "ot_id": "OT1",
            "site": "07",
            "started_on": "2018-03-01",
            "left_on": "",
            "leave_reason": "NA",
            "source_line": 2,
        },
        {
            "ot_id": "OT2",
            "site": " S7 ",
            "started_on": "01/03/2018",
            "left_on": "",
            "leave_reason": "",
            "source_line": 3,
        },
    ]


@pytest.mark.parametrize(
    "header",
    ["site,opened_on", "Site,Opened_On", " SITE , opened_on ", "opened_on,site", "site,extra,opened_on"],
)
def test_column_names_match_in_any_case_order_and_spacing(tmp_path, header):
    values = {"site": "7", "opened_on": "2018-03-01", "extra": "x"}
    names = [name.strip().lower() for name in header.split(",")]
    (tmp_path / "sites.csv").write_text(header + "\n" + ",".join(values[name] for name in names) + "\n")
    table = inputs.read_csv_table(tmp_path / "sites.csv", ("site", "opened_on"))
    assert list(table.columns) == ["site", "opened_on", "source_line"]
    assert as_records(table) == [{"site": "7", "opened_on": "2018-03-01", "source_line": 2}]


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    (tmp_path / "sites.csv").write_bytes(b"\xef\xbb\xbfSite,opened_on\r\n7,2018-03-01\r\n")
    table = inputs.read_csv_table(tmp_path / "sites.csv", ("site", "opened_on"))
    assert as_records(table) == [{"site": "7", "opened_on": "2018-03-01", "source_line": 2}]


def test_latin1_file_is_refused_naming_file_and_line(tmp_path):
    (tmp_path / "ots.csv").write_bytes(
        "ot_id,site,started_on,left_on,leave_reason\nOT1,1,2018-03-01,,\nOT2,1,2018-03-01,2019-01-01,congé\n".encode(
            "latin-1"
        )
    )
    with pytest.raises(InputError, match=r"^ots\.csv line 3: not UTF-8 .*save it as UTF-8$"):
        inputs.read_csv_table(tmp_path / "ots.csv", inputs.REFERENCE_COLUMNS["ots.csv"])


def test_latin1_header_is_refused(tmp_path):
    (tmp_path / "sites.csv").write_bytes("sité,opened_on\n1,2018-03-01\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"^sites\.csv line 1: not UTF-8"):
        inputs.read_csv_table(tmp_path / "sites.csv", ("site", "opened_on"))


@pytest.mark.parametrize(
    ("data", "lines", "block_size"),
    [
        *((data, lines, block_size) for data, lines in SMALL_FILES for block_size in (1, 3, 1 << 20)),
        (b"a,b\n" * 300_000, 300_000, 1 << 16),  # many blocks
        (b"a,b\n" * 300_000 + b"c", 300_001, 1 << 16),
    ],
)
def test_a_file_is_read_once_and_its_lines_and_digest_come_with_it(tmp_path, data, lines, block_size):
    (tmp_path / "log.csv").write_bytes(data)
    with inputs._CheckedFile(tmp_path / "log.csv") as opened:
        served = b"".join(iter(lambda: opened.read(block_size), b""))
        digest, counted = opened.finish()
    assert served == data
    assert counted == lines
    assert digest == FileDigest(size=len(data), sha256=hashlib.sha256(data).hexdigest())


def test_whatever_is_left_is_read_when_no_size_is_asked(tmp_path):
    (tmp_path / "log.csv").write_bytes(b"date,site\n2019-01-01,1\n")
    with inputs._CheckedFile(tmp_path / "log.csv") as opened:
        assert opened.first_line == b"date,site\n"
        assert opened.read(4) == b"date"
        assert opened.read() == b",site\n2019-01-01,1\n"
        assert opened.read() == b""
        assert opened.finish()[1] == 2


@pytest.mark.parametrize("block_size", [1, 2, 5, 1 << 20])
def test_a_character_split_between_blocks_is_utf8_still(tmp_path, block_size):
    data = "date,site\n2019-01-01,Café ☕ 🙂\n".encode()
    (tmp_path / "log.csv").write_bytes(data)
    with inputs._CheckedFile(tmp_path / "log.csv") as opened:
        b"".join(iter(lambda: opened.read(block_size), b""))
        assert opened.finish()[1] == 2


@pytest.mark.parametrize("block_size", [1, 2, 7, 1 << 20])
@pytest.mark.parametrize(
    ("data", "line", "byte"),
    [
        (b"a\nb\nCaf\xe9\n", 3, 0xE9),  # Latin-1
        (b"a\n\xe2\x98\n", 2, 0xE2),  # a character cut short by a line break
        (b"a\nb\n\xf0\x9f", 3, 0xF0),  # ... by the end of the file
        (b"a\n\x80", 2, 0x80),  # a continuation byte alone
    ],
)
def test_the_first_byte_that_is_not_utf8_is_named_by_its_line(tmp_path, block_size, data, line, byte):
    (tmp_path / "log.csv").write_bytes(data)
    with inputs._CheckedFile(tmp_path / "log.csv") as opened:
        b"".join(iter(lambda: opened.read(block_size), b""))
        with pytest.raises(InputError, match=rf"^log\.csv line {line}: not UTF-8 text \(byte 0x{byte:02x}\)"):
            opened.finish()


def test_a_folder_in_place_of_a_file_is_an_input_error(tmp_path):
    (tmp_path / "sites.csv").mkdir()
    with pytest.raises(InputError, match=rf"^sites\.csv: is a folder, not a file, in {tmp_path}$"):
        inputs.read_csv_table(tmp_path / "sites.csv", ("site", "opened_on"))


def test_missing_file_names_the_file_and_folder(tmp_path):
    with pytest.raises(InputError, match=rf"^sites\.csv: file not found in {tmp_path}$"):
        inputs.read_csv_table(tmp_path / "sites.csv", ("site", "opened_on"))


@pytest.mark.parametrize(
    ("stem", "text", "message"),
    [
        ("sites", "site\n1\n", r"^sites\.csv: missing column 'opened_on'$"),
        (
            "participants",
            "participant_id,site,randomised_on\nP1,1,2018-05-01\n",
            r"^participants\.csv: missing column 'arm'$",
        ),
        ("ots", "ot_id,site\nOT1,1\n", r"^ots\.csv: missing columns 'started_on', 'left_on', 'leave_reason'$"),
        ("competency", "ot_id,assessed_on,sore\nOT1,2018-04-01,80\n", r"^competency\.csv: missing column 'score'$"),
    ],
)
def test_missing_column_names_file_and_column(tmp_path, stem, text, message):
    raw = write_raw_folder(tmp_path, **{stem: text})
    with pytest.raises(InputError, match=message):
        inputs.read_raw_inputs(raw)


def test_missing_log_column_names_the_log_and_column(tmp_path):
    raw = write_raw_folder(tmp_path, log_csv="date,site,mentor,ots,mode,kind\n2019-03-14,1,M1,,phone,planned\n")
    with pytest.raises(InputError, match=r"^mentoring_log\.csv: missing column 'minutes'$"):
        inputs.read_raw_inputs(raw)


def test_a_column_given_twice_is_refused(tmp_path):
    (tmp_path / "sites.csv").write_text("site,Site ,opened_on\n1,2,2018-03-01\n")
    with pytest.raises(InputError, match=r"^sites\.csv: column 'site' appears more than once$"):
        inputs.read_csv_table(tmp_path / "sites.csv", ("site", "opened_on"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"^mentoring_log\.csv: the file is empty"),
        ("\ufeff", r"^mentoring_log\.csv: the file is empty"),
        (LOG_HEADER + "\n", r"^mentoring_log\.csv: the log has a header but no rows$"),
    ],
)
def test_empty_log_is_refused(tmp_path, text, message):
    (tmp_path / "mentoring_log.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        inputs.read_log(tmp_path / "mentoring_log.csv")


def test_malformed_csv_is_an_input_error_without_the_row_text(tmp_path):
    (tmp_path / "mentoring_log.csv").write_text(
        LOG_HEADER + "\n2019-03-14,1,M1,,phone,60,,Jane Doe: seen at 10:30,extra\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as raised:
        inputs.read_log(tmp_path / "mentoring_log.csv")
    assert str(raised.value) == "mentoring_log.csv: not a well-formed CSV file (Expected 8 columns, got 9)"


def test_log_notes_are_not_read(tmp_path):
    (tmp_path / "mentoring_log.csv").write_text(
        "Notes,Date,Site,Mentor,OTs,Mode,Minutes,Kind\n"
        '"Jane Doe, NHS 943 476 5919\nsecond line",2019-03-14,7,M1,OT1,phone,60,\n'
        "ok,14/03/19,S7,m2,,Teams,1h,adhoc\n",
        encoding="utf-8",
    )
    log = inputs.read_log(tmp_path / "mentoring_log.csv")
    assert list(log.columns) == [*inputs.LOG_COLUMNS, "source_line"]
    assert "notes" not in log.columns
    # A quoted line break inside notes is part of its record: two records, lines 2 and 3.
    assert log["source_line"].tolist() == [2, 3]
    assert log["date"].astype("str").tolist() == ["2019-03-14", "14/03/19"]
    assert log["kind"].astype("str").tolist() == ["", "adhoc"]


def test_blank_rows_are_left_out_and_line_numbers_stay_true(tmp_path):
    (tmp_path / "mentoring_log.csv").write_text(
        LOG_HEADER + "\n"
        "2019-03-14,1,M1,,phone,60,,\n"
        "\n"  # a blank line
        ", ,,,,,,a note alone\n"
        '2019-03-15,1,M1,,phone,60,,"two\n\nparagraphs"\n'
        "2019-03-16,1,M1,,phone,60,,\n"
        "\n",
        encoding="utf-8",
    )
    log = inputs.read_log(tmp_path / "mentoring_log.csv")
    assert log["source_line"].tolist() == [2, 5, 6]
    assert log["date"].astype("str").tolist() == ["2019-03-14", "2019-03-15", "2019-03-16"]


def test_blank_lines_in_reference_files_keep_line_numbers(tmp_path):
    (tmp_path / "sites.csv").write_text("site,opened_on\n1,2018-03-01\n\n2,2018-04-01\n")
    table = inputs.read_csv_table(tmp_path / "sites.csv", ("site", "opened_on"))
    assert table["source_line"].tolist() == [2, 4]


def test_log_columns_hold_each_distinct_spelling_once(tmp_path):
    (tmp_path / "mentoring_log.csv").write_text(
        LOG_HEADER + "\n" + "2019-03-14,1,M1,,phone,60,,\n" * 5, encoding="utf-8"
    )
    log = inputs.read_log(tmp_path / "mentoring_log.csv")
    assert isinstance(log["mode"].dtype, pd.CategoricalDtype)
    assert log["mode"].cat.categories.tolist() == ["phone"]


def test_xlsx_log_is_read_from_the_first_sheet_as_contract_text(tmp_path):
    path = write_xlsx(
        tmp_path / "mentoring_log.xlsx",
        ["DATE", " Site ", "mentor", "OTs", "Mode", "MINUTES", "Kind", "Notes"],
        [
            [dt.datetime(2019, 3, 14), 7, "M1", "OT1", "phone", 60, None, "Jane Doe"],
            [dt.date(2020, 12, 1), "Site 3 & S4", "M2", None, "Teams", 1.5, "ad hoc", None],
            [None, None, None, None, None, None, None, None],
            [" ", None, None, None, None, None, None, "a note alone"],
            ["14/03/19", "S7", "m3", "OT2;OT1", "email", dt.time(1, 30), "planned", "x"],
        ],
    )
    log = inputs.read_log(path)
    assert as_records(log) == [
        {
            "date": "2019-03-14",
            "site": "7",
            "mentor": "M1",
            "ots": "OT1",
            "mode": "phone",
            "minutes": "60",
            "kind": "",
            "source_line": 2,
        },
        {
            "date": "2020-12-01",
            "site": "Site 3 & S4",
            "mentor": "M2",
            "ots": "",
            "mode": "Teams",
            "minutes": "1.5",
            "kind": "ad hoc",
            "source_line": 3,
        },
        # Lines 4 and 5 are blank and left out; the line numbers stay those of the sheet.
        {
            "date": "14/03/19",
            "site": "S7",
            "mentor": "m3",
            "ots": "OT2;OT1",
            "mode": "email",
            "minutes": "1:30",
            "kind": "planned",
            "source_line": 6,
        },
    ]


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        (None, ""),
        ("Site 7", "Site 7"),
        (60, "60"),
        (60.0, "60"),
        (1.5, "1.5"),
        (True, "TRUE"),
        (dt.datetime(2019, 3, 14, 0, 0), "2019-03-14"),
        (dt.date(2019, 3, 14), "2019-03-14"),
        (dt.time(1, 30), "1:30"),
        (dt.timedelta(hours=1, minutes=30), "1:30"),
        (dt.timedelta(hours=25), "25:00"),
    ],
)
def test_cell_text(cell, text):
    assert inputs.cell_text(cell) == text


def test_xlsx_missing_column_names_file_and_column(tmp_path):
    path = write_xlsx(tmp_path / "mentoring_log.xlsx", ["date", "site", "mentor", "ots", "mode", "kind"], [])
    with pytest.raises(InputError, match=r"^mentoring_log\.xlsx: missing column 'minutes'$"):
        inputs.read_log(path)


def test_xlsx_with_header_only_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "mentoring_log.xlsx", list(inputs.LOG_COLUMNS), [])
    with pytest.raises(InputError, match=r"^mentoring_log\.xlsx: the log has a header but no rows$"):
        inputs.read_log(path)


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04 truncated"])
def test_corrupt_xlsx_is_an_input_error(tmp_path, content):
    (tmp_path / "mentoring_log.xlsx").write_bytes(content)
    with pytest.raises(InputError, match=r"^mentoring_log\.xlsx: cannot be read as an Excel workbook"):
        inputs.read_log(tmp_path / "mentoring_log.xlsx")


def test_both_csv_and_xlsx_logs_are_ambiguous(tmp_path):
    raw = write_raw_folder(tmp_path)
    write_xlsx(raw / "mentoring_log.xlsx", list(inputs.LOG_COLUMNS), [["2019-03-14", 1, "M1", "", "phone", 60, ""]])
    with pytest.raises(InputError, match=r"both in .*ambiguous.*keep only one$"):
        inputs.read_raw_inputs(raw)


def test_missing_log_is_reported(tmp_path):
    raw = write_raw_folder(tmp_path, log_csv=None)
    with pytest.raises(InputError, match=r"^mentoring_log\.csv: file not found in .* \(nor mentoring_log\.xlsx\)$"):
        inputs.read_raw_inputs(raw)


@pytest.mark.parametrize("missing", sorted(REFERENCE_FILES))
def test_missing_reference_file_is_reported(tmp_path, missing):
    raw = write_raw_folder(tmp_path)
    (raw / missing).unlink()
    with pytest.raises(InputError, match=rf"^{missing.replace('.', '[.]')}: file not found in {raw}$"):
        inputs.read_raw_inputs(raw)


def test_read_raw_inputs_gives_all_five_tables_and_the_log_file_name(tmp_path):
    raw = inputs.read_raw_inputs(write_raw_folder(tmp_path))
    assert raw.log_file == "mentoring_log.csv"
    assert list(raw.sites.columns) == ["site", "opened_on", "source_line"]
    assert list(raw.participants.columns) == ["participant_id", "site", "arm", "randomised_on", "source_line"]
    assert list(raw.ots.columns) == ["ot_id", "site", "started_on", "left_on", "leave_reason", "source_line"]
    assert list(raw.competency.columns) == ["ot_id", "assessed_on", "score", "source_line"]
    assert as_records(raw.log) == [
        {
            "date": "2019-03-14",
            "site": "Site 1",
            "mentor": "M1",
            "ots": "OT1",
            "mode": "phone",
            "minutes": "60",
            "kind": "planned",
            "source_line": 2,
        }
    ]


@pytest.mark.parametrize("rows", [1, 50_000], ids=["small", "larger than a parse block"])
def test_line_breaks_inside_quoted_notes_are_read_as_one_record(tmp_path, rows):
    """The fast parse must not stand when a note spans lines: every record
    keeps its values, and the count of records is right."""
    body = "".join(
        f'2019-03-14,Site 1,M1,OT1,phone,{n % 400 + 1},planned,"line one\nline two, {n}"\n' for n in range(rows)
    )
    path = tmp_path / "mentoring_log.csv"
    path.write_text(LOG_HEADER + "\n" + body)
    log, digest = inputs.read_log_with_digest(path)
    assert len(log) == rows
    assert log["minutes"].astype(str).tolist()[-1] == str((rows - 1) % 400 + 1)
    assert set(log["mode"].astype(str)) == {"phone"}
    # Read twice (fast, then safe), the digest is of the whole file still.
    assert digest == FileDigest.of(path.read_bytes())


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_log_comes_with_the_digest_of_the_bytes_it_was_read_from(tmp_path, suffix):
    path = tmp_path / f"mentoring_log{suffix}"
    if suffix == ".csv":
        path.write_bytes(b"\xef\xbb\xbf" + LOG_CSV.replace("\n", "\r\n").encode())
    else:
        write_xlsx(path, LOG_HEADER.split(","), [["2019-03-14", "Site 1", "M1", "OT1", "phone", 60, "planned", "x"]])
    log, digest = inputs.read_log_with_digest(path)
    assert len(log) == 1
    assert digest == FileDigest.of(path.read_bytes())
