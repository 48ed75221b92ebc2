"""The report as Quarto renders it: HTML and a Typst PDF fit to print.

These run wherever a ``quarto`` command is on PATH (and skip, saying so,
where it is not). One render serves them all: the bundled records into a
report folder outside the project, with a space in its path.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
APPENDIX = ("01_clean", "02_site_metrics", "03_figures")
SECTIONS = (
    "Summary",
    "Delivery of mentoring",
    "Mentoring and OT competency",
    "Mentoring and staff turnover",
    "Mode of delivery",
    "Staffing and mentoring over time",
    "Sites needing attention now",
    "Qualitative findings at a glance",
    "What the data can and cannot say",
    "How the records were cleaned",
    "Reproduction of the publication",
    "Provenance",
    "Computational appendix",
)

pytestmark = pytest.mark.skipif(
    shutil.which("quarto") is None,
    reason="no quarto command on PATH: install Quarto (quarto-cli, or the offline build of "
    "tools/quarto-offline) to check the Quarto render",
)


def run(*arguments: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mentoring_eval", "run", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("quarto") / "steering committee"
    arguments = ("--processed", str(folder / "processed"), "--report", str(folder / "report"), "--renderer", "quarto")
    result = run(*arguments)
    assert result.returncode == 0, result.stdout + result.stderr
    output = folder / "report" / "quarto"
    return {
        "arguments": arguments,
        "stdout": result.stdout,
        "report": folder / "report",
        "processed": folder / "processed",
        "html": output / "index.html",
        "pdf": output / "report.pdf",
    }


@pytest.fixture(scope="module")
def pdf(rendered):
    import pdfplumber

    with pdfplumber.open(rendered["pdf"]) as document:
        pages = [
            {
                "width": page.width,
                "height": page.height,
                "images": len(page.images),
                "words": page.extract_words(use_text_flow=False, keep_blank_chars=False),
                "text": page.extract_text(),
            }
            for page in document.pages
        ]
    return pages


def normalised(text: str) -> str:
    """Text as compared here: ligatures undone, no whitespace at all (cells wrap)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


# ---------------------------------------------------------------- the command


def test_the_command_prints_where_the_html_and_the_pdf_are(rendered):
    printed = [line.removeprefix("report: ") for line in rendered["stdout"].splitlines() if line.startswith("report: ")]
    assert printed == [str(rendered["html"]), str(rendered["pdf"])]
    assert rendered["html"].stat().st_size > 0 and rendered["pdf"].read_bytes().startswith(b"%PDF")
    assert "[render] quarto" in rendered["stdout"]


def test_a_second_run_with_nothing_changed_renders_nothing(rendered):
    before = {p: p.stat().st_mtime_ns for p in (rendered["html"], rendered["pdf"])}
    result = run(*rendered["arguments"])
    assert result.returncode == 0, result.stderr
    assert "[render] quarto skipped (unchanged)" in result.stdout
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_the_rendered_outputs_name_no_folder_of_the_machine(rendered):
    """The report folder is the user's, outside the project: it may appear (it
    was named), but the project's checkout must not."""
    for path in (rendered["html"], rendered["report"] / "report.ipynb", rendered["report"] / "_quarto.yml"):
        assert str(ROOT) not in path.read_text(encoding="utf-8"), path


# ---------------------------------------------------------------- the HTML


def test_html_has_numbered_cross_references_a_contents_and_five_figures(rendered):
    page = rendered["html"].read_text(encoding="utf-8")
    assert "?@fig-" not in page and "?@tbl-" not in page
    assert re.search(r'<a href="#fig-dose"[^>]*>Figure(&nbsp;|\s)1</a>', page)
    assert re.search(r'<a href="#tbl-table4"[^>]*>Table(&nbsp;|\s)1</a>', page)
    figures = set(re.findall(r'<div id="(fig-[\w-]+)"', page))
    assert figures == {"fig-dose", "fig-competency", "fig-turnover", "fig-mode", "fig-heatmap"}
    assert 'id="TOC"' in page
    for svg in re.findall(r'<img src="([^"]+\.svg)"', page):
        assert (rendered["html"].parent / svg).is_file(), svg


def test_html_links_the_stage_notebooks_as_its_computational_appendix(rendered):
    page = rendered["html"].read_text(encoding="utf-8")
    for stage in APPENDIX:
        target = f"notebooks/{stage}-preview.html"
        assert re.search(rf'href="(\./)?{target}"', page), target
        assert (rendered["html"].parent / target).is_file(), target
    assert 'href="report.pdf"' in page  # the PDF is one click away


def test_the_pdf_is_offered_once_by_what_a_reader_calls_it(rendered):
    """One "Other formats" link to the PDF, named for a reader (Quarto 1.10
    also listed it a second time as "Typst")."""
    page = rendered["html"].read_text(encoding="utf-8")
    formats = page[page.index('class="quarto-alternate-formats"') :]
    formats = formats[: formats.index("</nav>")]
    assert formats.count('href="report.pdf"') == 1
    assert "PDF (A4, for print)" in formats and ">Typst<" not in formats


# ---------------------------------------------------------------- the PDF


def test_pdf_is_a4_with_the_report_sections_numbered_and_vector_figures(rendered, pdf):
    assert {(round(p["width"]), round(p["height"])) for p in pdf} == {(595, 842)}  # A4 in points
    text = "\n".join(p["text"] for p in pdf)
    for number, section in enumerate(SECTIONS, start=1):
        assert re.search(rf"^{number} {re.escape(section)}$", text, re.MULTILINE), f"{number} {section}"
    for number in range(1, 6):
        assert f"Figure {number}:" in text
    assert "Figure 6:" not in text and "?@" not in text
    # The figures are their SVGs, drawn as vectors: the only images are those the
    # SVGs embed themselves (matplotlib draws the heat map's cells as one).
    embedded = sum(
        svg.read_text(encoding="utf-8").count("<image") for svg in (rendered["report"] / "figures").glob("*.svg")
    )
    assert sum(p["images"] for p in pdf) == embedded, "a figure is a raster image, not vector"


def test_pdf_fonts_are_embedded(rendered):
    listing = subprocess.run(["pdffonts", str(rendered["pdf"])], capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.skip("pdffonts (poppler-utils) is not installed")
    fonts = listing.stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), listing.stdout


def overlapping(words: list[dict], tolerance: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of words whose boxes overlap by more than ``tolerance`` points both ways."""
    found = []
    ordered = sorted(words, key=lambda w: w["top"])
    for i, word in enumerate(ordered):
        for other in ordered[i + 1 :]:
            if other["top"] >= word["bottom"] - tolerance:
                break
            if min(word["x1"], other["x1"]) - max(word["x0"], other["x0"]) > tolerance:
                found.append((word["text"], other["text"]))
    return found


def test_no_text_runs_off_the_page_or_over_other_text(pdf):
    """What a steering committee member would see first: a hash running off the
    edge, a table's rows printed on top of each other at the foot of a page."""
    for number, page in enumerate(pdf, start=1):
        outside = [
            w["text"]
            for w in page["words"]
            if w["x0"] < 0 or w["top"] < 0 or w["x1"] > page["width"] or w["bottom"] > page["height"]
        ]
        assert not outside, f"page {number}: text outside the page: {outside[:5]}"
        margin = 2 / 2.54 * 72 * 0.9  # the 2 cm margins, less a little for glyph overhang
        in_margin = [w["text"] for w in page["words"] if w["x0"] < margin - 1 or w["x1"] > page["width"] - margin + 1]
        assert not in_margin, f"page {number}: text in the side margins: {in_margin[:5]}"
        overlaps = overlapping(page["words"])
        assert not overlaps, f"page {number}: text printed over other text: {overlaps[:5]}"


def test_overlap_detection_has_teeth():
    word = {"text": "a", "x0": 10, "x1": 30, "top": 10, "bottom": 20}
    assert overlapping([word, {**word, "text": "b", "x0": 25, "x1": 45, "top": 12, "bottom": 22}])
    assert not overlapping([word, {**word, "text": "c", "x0": 31, "x1": 45}])
    assert not overlapping([word, {**word, "text": "d", "top": 20.2, "bottom": 30}])


def test_every_row_of_the_long_tables_is_whole_on_one_page_under_a_repeated_header(rendered, pdf):
    findings = pd.read_csv(ROOT / "data" / "reference" / "qualitative_findings.csv")
    claims = pd.read_csv(rendered["processed"] / "text_claims.csv")
    assert len(findings) > 20 and len(claims) > 10
    # Cells wrap onto several lines, interleaved with the other columns' lines:
    # each cell's words are looked for in order, a line of the page at a time.
    pages = [[normalised(line) for line in p["text"].splitlines()] for p in pdf]
    for table, cells, caption, header in (
        (findings, findings["finding"], "FindingsreportedbytheOTs", "ThemeNPTconstructFindingReportedby"),
        (claims, claims["claim"], "Thecountsinthepublishedtext", "ThepublishedtextsaysTextRecordsAgreeNote"),
    ):
        start = next(number for number, lines in enumerate(pages) if any(caption in line for line in lines))
        holding = set()
        for cell in cells:
            found = [
                number for number, lines in enumerate(pages) if number >= start and cell_found(cell.split(), lines)
            ]
            assert found, f"not whole on any page of the PDF: {cell!r}"
            holding.add(found[0])
        for number in holding:
            assert header in pages[number], f"page {number + 1}: the table's rows without its header"
        assert len(holding) > 1 or table is claims  # the findings do break across pages


def test_short_tables_are_kept_whole_on_one_page(pdf):
    """Table 1 (16 sites) and the input files are short: never split, header here, rows there."""
    for caption, last_row in (("Table 1:", "16 14 1490 92.6 11 2 106 6"), ("Table 8:", "sites.csv")):
        page = next(p for p in pdf if caption in p["text"])
        assert last_row in page["text"], f"{caption} is split across pages"


def test_every_table_header_is_capitalised(rendered):
    page = rendered["html"].read_text(encoding="utf-8")
    headers = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", page, re.DOTALL)]
    assert headers and not [h for h in headers if h[:1].islower()], headers


def test_a_word_too_long_for_its_html_table_cell_wraps(rendered):
    """A SHA-256 was cut off at the edge of the text column (the rule is in
    the theme, src/mentoring_eval/theme/report.scss, compiled into Quarto's CSS)."""
    styles = "".join(path.read_text(encoding="utf-8") for path in rendered["html"].parent.glob("site_libs/**/*.css"))
    assert "overflow-wrap:anywhere" in styles.replace(" ", "")


def cell_found(words: list[str], lines: list[str]) -> bool:
    """The cell's words, in order, as the starts of consecutive text lines of
    some rows of the page (each PDF line holds one line of every column)."""
    remaining = normalised(" ".join(words))
    for line in lines:
        if not remaining:
            return True
        for start in range(len(line)):
            # the longest piece of what remains that this line holds
            piece = os.path.commonprefix([line[start:], remaining])
            if len(piece) >= min(len(remaining), 12):
                remaining = remaining[len(piece) :]
                break
    return not remaining


# ---------------------------------------------------------------- failure


def test_a_quarto_failure_exits_1_with_its_last_error_lines_and_keeps_the_last_good_report(rendered, tmp_path):
    """A quarto that fails as Quarto does (colour codes, a stack trace); the
    render is made due by forgetting the last one, as a changed input would."""
    fake = tmp_path / "bin" / "quarto"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\nmkdir -p quarto && echo partial > quarto/index.html\n"
        "printf '\\033[91mERROR: typst compile failed: unknown font\\033[39m\\n' >&2\n"
        "printf 'Stack trace:\\n    at renderFiles (file:///quarto/render.ts:1:1)\\n' >&2\nexit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    state_file = rendered["report"] / ".pipeline-state.json"
    saved = state_file.read_text(encoding="utf-8")
    state_file.write_text(re.sub(r'"render": \{.*?\}', '"render": {}', saved, flags=re.DOTALL), encoding="utf-8")
    before = {p: p.read_bytes() for p in rendered["report"].rglob("*") if p.is_file() and not p.name.endswith(".log")}
    try:
        result = run(
            *rendered["arguments"], env={**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
        )
        after = {
            p: p.read_bytes() for p in rendered["report"].rglob("*") if p.is_file() and not p.name.endswith(".log")
        }
    finally:
        state_file.write_text(saved, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ERROR: typst compile failed: unknown font" in result.stderr
    assert "\033[" not in result.stderr and "Stack trace" not in result.stderr and "    at " not in result.stderr
    assert after == before, "the failed render changed the last good report"


# ---------------------------------------------------------------- Quarto at the project's root


def test_quarto_render_at_the_root_of_a_fresh_clone_runs_the_pipeline_and_renders_the_report(tmp_path):
    """As a Quarto user types it. ``quarto render report`` after an nbconvert
    run (no Quarto project in the report folder yet) renders it too; then
    ``quarto render`` at the root, with nothing changed, renders nothing again.
    make's environment is this test's (PY and its stamp, through MAKEFLAGS), so
    that the clone's first render does not build one from the pins."""
    from test_bundle import project_copy

    clone = project_copy(tmp_path / "clone")
    stamp = clone / ".environment-ready"
    stamp.touch()  # newer than every file of the clone: make builds no environment
    environment = {
        **os.environ,
        "PYTHONPATH": str(clone / "src"),
        "MAKEFLAGS": f"PY={sys.executable} STAMP={stamp.name}",
    }

    def in_clone(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=clone, capture_output=True, text=True, timeout=900, env=environment)

    run_with_nbconvert = in_clone(sys.executable, "-m", "mentoring_eval", "run", "--renderer", "nbconvert")
    assert run_with_nbconvert.returncode == 0, run_with_nbconvert.stderr
    assert not (clone / "report" / "_quarto.yml").exists()
    report_only = in_clone("quarto", "render", "report")
    assert report_only.returncode == 0, report_only.stdout + report_only.stderr
    html, pdf = clone / "report" / "quarto" / "index.html", clone / "report" / "quarto" / "report.pdf"
    assert html.is_file() and pdf.read_bytes().startswith(b"%PDF")
    rendered = {path: path.stat().st_mtime_ns for path in (html, pdf)}
    at_root = in_clone("quarto", "render")
    assert at_root.returncode == 0, at_root.stdout + at_root.stderr
    output = at_root.stdout + at_root.stderr
    assert "[4/4] report        skipped (unchanged)" in output and "[render] quarto skipped (unchanged)" in output
    assert {path: path.stat().st_mtime_ns for path in rendered} == rendered
    # Quarto rendered nothing of its own at the root: no page of the README or a notebook
    assert not list(clone.glob("*.html")) and not list((clone / "notebooks").glob("*.html"))
