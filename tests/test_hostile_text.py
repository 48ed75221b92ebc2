"""Hostile text, end to end: markup, links, formulas and shortcodes planted in
every free-text and code field of the input contract, run through
``python -m mentoring_eval run`` and ``sites`` with each renderer there is.

Whatever was typed is refused (a code of another shape in a reference file:
exit 2, one line naming file, line and column), quarantined (a log row: its
values shown only as text), or reduced to a category (a leave reason): no
element, attribute or URL from the records is live in any HTML page written
(read by a real HTML parser), the PDFs show the payloads literally or not at
all, and every CSV written is safe to open in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
import yaml

from mentoring_eval import render
from mentoring_eval.normalise import LEAVE_CATEGORIES
from pipeline_runs import BUNDLED_RAW, run_cli

MARK = "31337"  # in every payload that could run or load something: never in an attribute, a script or a link
EVIL = "evil.example"

# One log row per payload, each with one field spoiled (the rest valid, so
# that the row is quarantined for that field alone). First in the log, so
# that the clean notebook's quarantine (its first 20 rows) shows them all;
# at most 50 characters, as pandas shows a cell whole.
LOG_PAYLOADS = [
    ("date", f"<script>alert({MARK})</script>"),
    ("date", f"{{{{< meta title >}}}} <!-- {MARK} -->"),
    ("site", f'=HYPERLINK("http://{EVIL}/{MARK}","click")'),
    ("site", f"S1<img src=//{EVIL} onerror=alert({MARK})>"),
    ("mentor", f"<b onmouseover=alert({MARK})>M1</b>"),
    ("mentor", f"[M1](javascript:alert({MARK}))"),
    ("ots", f"OT02;OT<b onmouseover=alert({MARK})>77</b>"),
    ("ots", f"![x](http://{EVIL}/{MARK}.png)"),
    ("ots", f"<a href='javascript:alert({MARK})'>OT02</a>"),
    ("mode", "{{< pagebreak >}}"),
    ("mode", "`phone`{=html} \\<i\\>"),
    ("mode", f"<iframe src=//{EVIL}/{MARK}></iframe>"),
    ("minutes", "=1+1"),
    ("minutes", f"$x^{MARK}$ min"),
    ("minutes", f'#link("http://{EVIL}/{MARK}")[60]'),
    ("kind", "#set text(red)"),
    ("kind", f"[planned]{{onclick=alert({MARK})}}"),
    ("kind", f"<http://{EVIL}/{MARK}>"),
]
GOOD_LOG_ROW = {
    "date": "2019-06-10",
    "site": "1",
    "mentor": "M1",
    "ots": "OT02",
    "mode": "phone",
    "minutes": "60",
    "kind": "planned",
    "notes": "",
}
# Leave reasons: free text about a colleague; only categories may leave the clean stage.
LEAVE_TEXT = "LEAVETEXT"  # in every planted reason, so that any trace of one is found
LEAVE_PAYLOADS = {
    "OT01": f"new job<script>alert({MARK})</script> {LEAVE_TEXT}",
    "OT08": f"Left after a dispute with her manager <b onmouseover=alert({MARK})>{LEAVE_TEXT}</b>",
    "OT09": f"new post [x](javascript:alert({MARK})) {LEAVE_TEXT} {{{{< pagebreak >}}}}",
    "OT15": f"clinical pressures #set text(red) $x$ `y` \\ {LEAVE_TEXT}",
    "OT20": f"mat leave ![x](http://{EVIL}/{MARK}.png) {LEAVE_TEXT}",
}
# The trial description (trial.yml): its name titles the report and the site
# index, its description is quoted in the report; both shown as typed.
TRIAL_NAME = f"<b onmouseover=alert({MARK})>X</b> $n$"
TRIAL_DESCRIPTION = (
    f"Mentors <script>alert({MARK})</script> [met](javascript:alert({MARK})) "
    f"![img](http://{EVIL}/{MARK}.png) {{{{< pagebreak >}}}} #set text(red) `code` \\ $x$ @fig-dose"
)
# A raw file's name is listed, with its SHA-256, in the report's provenance.
HOSTILE_FILE_NAME = f"<img src=x onerror=alert({MARK})> [x](javascript:alert({MARK})) $y$ `z` #set.txt"
HOSTILE_NAME_SHOWN = HOSTILE_FILE_NAME  # shown literally, or the test fails


def hostile_raw(folder: Path, log_format: str) -> Path:
    """The bundled records with every payload planted."""
    shutil.copytree(BUNDLED_RAW, folder)
    with open(folder / "ots.csv", newline="", encoding="utf-8") as file:
        ots = list(csv.DictReader(file))
    for row in ots:
        row["leave_reason"] = LEAVE_PAYLOADS.get(row["ot_id"], row["leave_reason"])
    write_rows(folder / "ots.csv", list(ots[0]), ots)
    log_path = folder / "mentoring_log.csv"
    with open(log_path, newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        header, bundled = next(reader), list(reader)
    columns = [name.strip().lower() for name in header]
    planted = [[{**GOOD_LOG_ROW, field: value}[column] for column in columns] for field, value in LOG_PAYLOADS]
    rows = planted + bundled
    if log_format == "xlsx":
        log_path.unlink()
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # typed text, as a cell formatted as text holds it: not a formula
        workbook.save(folder / "mentoring_log.xlsx")
    else:
        write_rows(log_path, header, rows)
    (folder / HOSTILE_FILE_NAME).write_text("a file of the folder the report lists\n", encoding="utf-8")
    (folder / "trial.yml").write_text(
        yaml.safe_dump({"name": TRIAL_NAME, "description": TRIAL_DESCRIPTION}, allow_unicode=True), encoding="utf-8"
    )
    return folder


def write_rows(path: Path, header: list[str], rows: list) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(row.values() if isinstance(row, dict) else row for row in rows)


def command(name: str, raw: Path, folder: Path, renderer: str, *extra: str) -> subprocess.CompletedProcess:
    """``python -m mentoring_eval NAME`` as a user types it, into ``folder``."""
    return run_cli(
        *extra,
        processed=folder / "processed",
        report=folder / "report",
        raw=raw,
        renderer=renderer,
        timeout=900,
        subcommand=name,
    )


RUNS = [
    pytest.param(("csv", "nbconvert"), id="csv-nbconvert"),
    pytest.param(("xlsx", "nbconvert"), id="xlsx-nbconvert"),
    pytest.param(
        ("csv", "quarto"),
        id="csv-quarto",
        marks=pytest.mark.skipif(shutil.which("quarto") is None, reason="no quarto command on PATH"),
    ),
    pytest.param(
        ("xlsx", "quarto"),
        id="xlsx-quarto",
        marks=pytest.mark.skipif(shutil.which("quarto") is None, reason="no quarto command on PATH"),
    ),
]


@pytest.fixture(scope="module", params=RUNS)
def hostile_run(request, tmp_path_factory) -> dict:
    log_format, renderer = request.param
    folder = tmp_path_factory.mktemp(f"hostile-{log_format}-{renderer}")
    raw = hostile_raw(folder / "raw", log_format)
    ran = command("run", raw, folder, renderer)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    sites = command("sites", raw, folder, renderer, "--site", "1", "--site", "4")
    assert sites.returncode == 0, sites.stdout + sites.stderr
    return {"folder": folder, "renderer": renderer, "log_format": log_format}


# ---------------------------------------------------------------- reading HTML as a browser would


class Page(HTMLParser):
    """Every element with its attributes, the text of each script and style,
    and the page's text, as Python's HTML parser (a real one, WHATWG's
    tokenisation of tags and attributes) reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))
        self._in = tag if tag in ("script", "style") else None
        if tag == "script":
            self.scripts.append("")

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in != "style":
            self.text.append(data)

    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def read_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def html_pages(run: dict) -> list[Path]:
    return sorted((run["folder"] / "report").rglob("*.html"))


# Attributes whose value is only ever text to a browser: the text typed may
# appear in them (a heading's id and its anchor, a page's metadata), escaped.
TEXT_ATTRIBUTES = {"id", "title", "alt", "aria-label"}


def is_live(tag: str, attrs: dict[str, str | None], name: str) -> bool:
    """Whether the attribute ``name`` of the element can run, load or show
    markup: every attribute but plain text ones, in-page anchors and the
    content of a meta element that is not an ``http-equiv``."""
    value = attrs.get(name) or ""
    if name in TEXT_ATTRIBUTES or (name == "href" and value.startswith("#")):
        return False
    return not (tag == "meta" and name == "content" and "http-equiv" not in attrs)


def test_no_element_attribute_or_url_from_the_records_is_live(hostile_run):
    pages = html_pages(hostile_run)
    assert pages
    for path in pages:
        page = read_page(path)
        for tag, attr_list in page.elements:
            attrs = dict(attr_list)
            for name, value in attrs.items():
                assert MARK not in name, (path, tag, name, value)
                if is_live(tag, attrs, name):
                    assert MARK not in (value or "") and EVIL not in (value or ""), (path, tag, name, value)
                if name in ("href", "src", "action", "formaction", "xlink:href", "srcset", "data", "poster"):
                    assert not (value or "").strip().lower().startswith("javascript:"), (path, tag, name, value)
        for script in page.scripts:
            assert MARK not in script and EVIL not in script, path


def test_nbconvert_pages_run_nothing_and_say_so(hostile_run):
    if hostile_run["renderer"] != "nbconvert":
        pytest.skip("nbconvert pages only: Quarto's HTML carries Quarto's own scripts (see the README)")
    folder = hostile_run["folder"] / "report"
    pages = [folder / "report.html", folder / "sites" / "index.html", *sorted((folder / "sites").glob("site-*.html"))]
    for path in pages:
        page = read_page(path)
        assert [tag for tag, _ in page.elements if tag == "script"] == [], path
        policies = [dict(attrs).get("content") for tag, attrs in page.elements if tag == "meta"]
        assert render.CONTENT_SECURITY_POLICY in policies, path


def test_a_hostile_file_name_is_shown_literally_in_the_report(hostile_run):
    folder = hostile_run["folder"] / "report"
    report = folder / ("report.html" if hostile_run["renderer"] == "nbconvert" else "quarto/index.html")
    assert HOSTILE_NAME_SHOWN in read_page(report).words()


def test_the_trial_description_is_shown_literally(hostile_run):
    folder = hostile_run["folder"] / "report"
    report = folder / ("report.html" if hostile_run["renderer"] == "nbconvert" else "quarto/index.html")
    page = read_page(report)
    title = [dict(attrs) for tag, attrs in page.elements if tag == "title"]
    assert title and f"Mentoring in the {TRIAL_NAME} trial" in page.words()
    assert f"as its trial description gives it: {TRIAL_DESCRIPTION}" in page.words()
    assert f"{TRIAL_NAME} mentoring: site feedback pages" in read_page(folder / "sites" / "index.html").words()
    if hostile_run["renderer"] == "quarto":
        import pdfplumber

        with pdfplumber.open(folder / "quarto" / "report.pdf") as pdf:
            text = "".join("".join(page.extract_text() or "" for page in pdf.pages).split())
        assert "".join(TRIAL_DESCRIPTION.split()) in text
        assert "".join(f"Mentoring in the {TRIAL_NAME} trial".split()) in text


def test_quarantined_payloads_are_shown_only_as_text(hostile_run):
    """The clean notebook shows the quarantined rows' original values: in
    Quarto's computational appendix, a page of their text."""
    if hostile_run["renderer"] != "quarto":
        pytest.skip("the stage notebooks are rendered as pages by Quarto only")
    appendix = [path for path in html_pages(hostile_run) if "01_clean" in path.name]
    assert appendix, html_pages(hostile_run)
    words = read_page(appendix[0]).words()
    assert len(LOG_PAYLOADS) <= 20
    for _, value in LOG_PAYLOADS:
        assert len(value) <= 50
        assert " ".join(value.split()) in words, value


def test_leave_reasons_leave_only_as_categories(hostile_run):
    for path in sorted(hostile_run["folder"].joinpath("processed").rglob("*")) + sorted(
        hostile_run["folder"].joinpath("report").rglob("*")
    ):
        if path.is_file():
            assert LEAVE_TEXT.encode() not in path.read_bytes(), path
    report = hostile_run["folder"] / "report"
    page = report / ("report.html" if hostile_run["renderer"] == "nbconvert" else "quarto/index.html")
    words = read_page(page).words()
    sentence = re.search(r"(?P<leavers>\d+) OTs? left during the study at \d+ sites? \((?P<reasons>[^)]*)\)", words)
    assert sentence, words
    counts = dict(part.rsplit(": ", 1) for part in re.split(r", | and ", sentence["reasons"]))
    assert set(counts) <= set(LEAVE_CATEGORIES) and "other" in counts, counts
    assert sum(map(int, counts.values())) == int(sentence["leavers"])


def test_no_payload_is_credited_as_an_ot_or_a_mentor(hostile_run):
    import pandas as pd

    contacts = pd.read_parquet(hostile_run["folder"] / "processed" / "contacts.parquet")
    codes = set(contacts["mentor"].astype(str)) | {
        code for codes in contacts["ots"].astype(str) for code in codes.split(";") if code
    }
    assert codes and all(re.fullmatch(r"[A-Z0-9]+", code) for code in codes), sorted(codes)
    quarantine = pd.read_csv(hostile_run["folder"] / "processed" / "quarantine.csv", dtype=str, keep_default_na=False)
    assert len(quarantine) >= len(LOG_PAYLOADS)


def test_every_csv_written_is_safe_to_open(hostile_run):
    written = sorted(hostile_run["folder"].joinpath("processed").rglob("*.csv")) + sorted(
        hostile_run["folder"].joinpath("report").rglob("*.csv")
    )
    assert any(path.name == "quarantine.csv" for path in written)
    plain_number = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
    for path in written:
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or plain_number.match(cell), (path, cell)


def test_the_pdfs_show_payloads_literally_or_not_at_all(hostile_run):
    if hostile_run["renderer"] != "quarto":
        pytest.skip("PDFs are written by Quarto only")
    import pdfplumber

    pdfs = sorted((hostile_run["folder"] / "report").rglob("*.pdf"))
    assert any(path.name == "report.pdf" for path in pdfs)
    for path in pdfs:
        with pdfplumber.open(path) as pdf:
            text = "".join("".join(page.extract_text() or "" for page in pdf.pages).split())
            links = [link.get("uri") or "" for page in pdf.pages for link in page.hyperlinks]
        assert LEAVE_TEXT not in text, path
        assert not [link for link in links if EVIL in link or MARK in link or link.startswith("javascript:")], path
        if path.name == "report.pdf":
            assert "".join(HOSTILE_NAME_SHOWN.split()) == "".join(file_column_cell(path).split())


def file_column_cell(pdf_path: Path) -> str:
    """The text of the provenance table's first File cell (the hostile name
    sorts first), read from its column: Typst wraps a long name over lines
    beside the wrapped SHA-256."""
    import pdfplumber

    with pdfplumber.open(pdf_path) as pdf:
        for page in pdf.pages:
            words = page.extract_words()
            texts = [word["text"] for word in words]
            if "SHA-256" in texts and "competency.csv" in texts and "Bytes" in texts:
                header = words[texts.index("Bytes")]
                end = words[texts.index("competency.csv")]["top"]
                cell = [w for w in words if header["bottom"] < w["top"] < end and w["x1"] < header["x0"]]
                return " ".join(word["text"] for word in cell)
    raise AssertionError(f"{pdf_path}: no provenance table of input files")


# ---------------------------------------------------------------- codes refused in the reference files


@pytest.mark.parametrize(
    ("file", "column", "ot", "value"),
    [
        ("ots.csv", "ot_id", "OT02", f"OT<b onmouseover=alert({MARK})>77</b>"),
        ("competency.csv", "ot_id", "OT02", f"[OT02](javascript:alert({MARK}))"),
        ("participants.csv", "participant_id", "P0002", f"<script>alert({MARK})</script>"),
        ("sites.csv", "site", "2", "{{< pagebreak >}}"),
        ("sites.csv", "opened_on", "2018-03-24", f"<script>alert({MARK})</script>"),
        ("ots.csv", "started_on", "2018-02-21", "#set text(red)"),
        ("participants.csv", "arm", "ESSVR", '=HYPERLINK("http://evil.example")'),
        ("competency.csv", "score", "77", "$1$"),
    ],
)
def test_a_hostile_value_in_a_reference_file_is_refused_in_one_line(tmp_path, file, column, ot, value):
    raw = tmp_path / "raw"
    shutil.copytree(BUNDLED_RAW, raw)
    with open(raw / file, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    line = next(number for number, row in enumerate(rows, start=2) if row[column] == ot)
    rows[line - 2][column] = value
    write_rows(raw / file, list(rows[0]), rows)
    result = command("run", raw, tmp_path, "none")
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"error: {file} line {line}, column {column}: "), message
