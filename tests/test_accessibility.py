"""Every HTML page the project writes passes axe-core's WCAG 2.2 A and AA
rules in a real browser (headless Chromium), with both renderers.

The pages are made as a user makes them, by the ``sites`` command (the main
run, then the site pages and their index), once with Quarto and once with
nbconvert, into folders outside the project. The checks run wherever
Chromium, its driver, Selenium and axe-core (``npm ci``, which ``make test``
runs) are present, and skip saying which is missing where they are not; the
Quarto pages also need a ``quarto`` command.

The PDFs Quarto writes (the report and every site page) are checked here too,
from the same render: PDF/UA-1 as far as their structure shows it
(``tests/pdf_structure.py``), and A4.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from browser import (
    axe_violations,
    broken_across_lines,
    chromium,
    count_elements,
    described,
    keyboard_tour,
    missing_tools,
    numbers_broken_across_lines,
    visibly_focused,
)
from pdf_structure import Structure, page_fills, page_texts, read_structure
from pipeline_runs import run_cli

ROOT = Path(__file__).resolve().parents[1]


def make_pages(folder: Path, renderer: str) -> Path:
    """The report and every site page, rendered by ``renderer`` into ``folder``; the report folder."""
    completed = run_cli(
        processed=folder / "processed", report=folder / "report", renderer=renderer, timeout=900, subcommand="sites"
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return folder / "report"


@pytest.fixture(scope="module")
def browser():
    why_not = missing_tools()
    if why_not:
        pytest.skip(f"no browser check here: {why_not}")
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def quarto_report(tmp_path_factory) -> Path:
    if shutil.which("quarto") is None:
        pytest.skip("no quarto command on PATH: the Quarto pages cannot be made here")
    return make_pages(tmp_path_factory.mktemp("a11y-quarto"), "quarto")


@pytest.fixture(scope="module")
def nbconvert_report(tmp_path_factory) -> Path:
    return make_pages(tmp_path_factory.mktemp("a11y-nbconvert"), "nbconvert")


def quarto_pages(report: Path) -> dict[str, list[Path]]:
    return {
        "article": [report / "quarto" / "index.html"],
        # The computational appendix: each notebook's page (the report's own beside the article).
        "appendix": sorted((report / "quarto").glob("**/*-preview.html")),
        "site pages": sorted((report / "sites").glob("site-*.html")),
        "site index": [report / "sites" / "index.html"],
    }


def nbconvert_pages(report: Path) -> dict[str, list[Path]]:
    return {
        "report": [report / "report.html"],
        "site pages": sorted((report / "sites").glob("site-*.html")),
        "site index": [report / "sites" / "index.html"],
    }


def assert_no_violations(driver, pages: list[Path]) -> None:
    assert pages, "no page of this kind was written"
    found = {page: axe_violations(driver, page) for page in pages}
    failing = [described(page, violations) for page, violations in found.items() if violations]
    assert not failing, f"{len(failing)} of {len(pages)} pages break WCAG 2.2 A/AA rules:\n" + "\n".join(failing)


# ---------------------------------------------------------------- the harness itself


def test_the_harness_finds_what_a_reader_would_miss(browser, tmp_path):
    """A chart image with no text alternative and grey text too pale to read:
    the check must fail such a page, or its passes would mean nothing."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>Bad</title></head><body><main>'
        '<img src="chart.svg"><p style="color:#bbb;background:#fff">Minutes per month</p></main></body></html>',
        encoding="utf-8",
    )
    violations = axe_violations(browser, page)
    assert {v["id"] for v in violations} == {"image-alt", "color-contrast"}
    assert count_elements(violations) == 2


def test_the_harness_passes_a_plain_accessible_page(browser, tmp_path):
    page = tmp_path / "good.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>Good</title></head><body><main>'
        '<img src="chart.svg" alt="Bar chart of minutes per month"><p>Minutes per month</p></main></body></html>',
        encoding="utf-8",
    )
    assert axe_violations(browser, page) == []


# ---------------------------------------------------------------- Quarto


@pytest.mark.parametrize("kind", ["article", "appendix", "site pages", "site index"])
def test_quarto_pages_pass_wcag_aa(browser, quarto_report, kind):
    assert_no_violations(browser, quarto_pages(quarto_report)[kind])


def test_the_keyboard_reaches_the_contents_and_links_of_the_article_visibly(browser, quarto_report):
    """Tab goes through the PDF link, every entry of the table of contents,
    the appendix notebooks and on into the text, each link drawn with a
    visible focus ring (Quarto's own CSS takes it off the contents' links)."""
    stops = keyboard_tour(browser, quarto_report / "quarto" / "index.html", 30)
    links = [stop for stop in stops if stop["tag"] == "A"]
    reached = {stop["href"] for stop in links}
    assert {"report.pdf", "#summary", "#provenance", "#computational-appendix"} <= reached
    assert any(href.startswith("notebooks/01_clean") for href in reached)
    assert [stop["href"] for stop in links if not visibly_focused(stop)] == []


@pytest.mark.parametrize("page", ["quarto/index.html", "sites/site-2.html", "sites/index.html"])
def test_on_a_phone_no_number_is_broken_across_lines(browser, quarto_report, page):
    """400 px wide, a table scrolls sideways rather than printing 1086 as
    "108" over "6" (a rule meant for SHA-256s once broke every word)."""
    assert numbers_broken_across_lines(browser, quarto_report / page, 400) == []


def test_the_keyboard_reaches_every_site_from_the_index_visibly(browser, quarto_report):
    stops = keyboard_tour(browser, quarto_report / "sites" / "index.html", 40)
    links = [stop for stop in stops if stop["tag"] == "A"]
    reached = {stop["href"] for stop in links}
    assert {"../quarto/index.html", "site-1.html", "site-1.pdf", "site-16.html"} <= reached
    assert [stop["href"] for stop in links if not visibly_focused(stop)] == []


@pytest.mark.parametrize("width", [1280, 400])
@pytest.mark.parametrize("renderer", ["quarto", "nbconvert"])
def test_no_site_of_the_index_is_broken_across_lines(browser, request, renderer, width):
    """ "Site 10 (PDF)" on one line, however narrow its column (Quarto's
    tables may break a word anywhere to fit a long SHA-256)."""
    index = request.getfixturevalue(f"{renderer}_report") / "sites" / "index.html"
    assert broken_across_lines(browser, index, width, "td", "^Site [0-9]+") == []


def relative_links(page: Path) -> list[str]:
    """Every file ``page`` links to or loads (href and src), by relative path."""
    from urllib.parse import unquote, urlsplit

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    targets = [element.get(name) for name in ("href", "src") for element in soup.find_all(attrs={name: True})]
    parts = [urlsplit(target) for target in targets]
    return sorted(
        {unquote(part.path) for part in parts if not part.scheme and part.path and not part.path.startswith("/")}
    )


@pytest.mark.parametrize("renderer", ["quarto", "nbconvert"])
def test_every_link_between_the_pages_reaches_its_file_both_ways(request, renderer):
    """No page links a file that is not there; the report, the index and
    every site page link each other (the report and the index both ways)."""
    report = request.getfixturevalue(f"{renderer}_report")
    pages = (quarto_pages if renderer == "quarto" else nbconvert_pages)(report)
    broken = [
        f"{page.relative_to(report)} -> {link}"
        for kind in pages.values()
        for page in kind
        for link in relative_links(page)
        if not (page.parent / link).exists()
    ]
    assert broken == []

    def reached(page: Path) -> set[Path]:
        return {(page.parent / link).resolve() for link in relative_links(page)}

    main = pages["article" if renderer == "quarto" else "report"][0].resolve()
    index = pages["site index"][0].resolve()
    assert index in reached(main) and main in reached(index)
    for page in pages["site pages"]:
        assert {index, main} <= reached(page), page.name
        assert page.resolve() in reached(index), page.name


def test_a_quarto_site_page_shows_its_chart_as_a_captioned_figure(quarto_report):
    from bs4 import BeautifulSoup

    page = BeautifulSoup((quarto_report / "sites" / "site-2.html").read_text(encoding="utf-8"), "html.parser")
    chart = page.find("img", alt=lambda alt: alt and alt.startswith("Bar chart of site 2's mentoring minutes"))
    caption = " ".join(chart.find_parent("figure").find("figcaption").get_text(" ").split())  # a no-break space too
    assert caption.startswith("Figure 1: Minutes of mentoring credited to site 2 ")
    assert page.get_text().count("Minutes of mentoring credited to site 2 ") == 1  # the caption, once


def test_a_site_page_offers_its_pdf_as_the_report_does(quarto_report):
    page = (quarto_report / "sites" / "site-2.html").read_text(encoding="utf-8")
    formats = page[page.index('class="quarto-alternate-formats"') :]
    formats = formats[: formats.index("</ul>")]  # a page's list of other formats (the article's is in a <nav>)
    assert formats.count('href="site-2.pdf"') == 1 and "PDF (A4, for print)" in formats and ">Typst<" not in formats


# ---------------------------------------------------------------- nbconvert


@pytest.mark.parametrize("kind", ["report", "site pages", "site index"])
def test_nbconvert_pages_pass_wcag_aa(browser, nbconvert_report, kind):
    assert_no_violations(browser, nbconvert_pages(nbconvert_report)[kind])


def test_the_keyboard_reaches_the_links_of_the_nbconvert_pages_visibly(browser, nbconvert_report):
    for page in (nbconvert_report / "report.html", nbconvert_report / "sites" / "index.html"):
        # nbconvert made every paragraph a tab stop: the first link was 30 presses away.
        links = [stop for stop in keyboard_tour(browser, page, 20) if stop["tag"] == "A"]
        assert links, f"{page.name}: Tab reaches no link"
        assert [stop["href"] for stop in links if not visibly_focused(stop)] == [], page.name


# ---------------------------------------------------------------- PDF/UA-1


def pdfs(report: Path) -> list[Path]:
    """Every PDF the project writes: the report's and each site page's."""
    return [report / "quarto" / "report.pdf", *sorted((report / "sites").glob("site-*.pdf"))]


def pdf_ua_problems(structure: Structure) -> list[str]:
    """What keeps a PDF from the parts of PDF/UA-1 checked here."""
    problems = []
    if not (structure.marked and structure.tagged):
        problems.append("not tagged (/MarkInfo /Marked true and a /StructTreeRoot)")
    if not structure.lang:
        problems.append("no /Lang")
    if not structure.title or not structure.shows_title:
        problems.append("no title shown in the title bar (a /Title and /DisplayDocTitle true)")
    if structure.ua_part != "1":
        problems.append("does not declare PDF/UA-1 (pdfuaid:part 1 in its XMP metadata)")
    if not structure.figure_alts or not all(structure.figure_alts):
        problems.append(f"a Figure without /Alt (alt texts: {structure.figure_alts})")
    if not all(structure.table_header_cells):
        problems.append(f"a Table without TH cells (TH per table: {structure.table_header_cells})")
    return problems


def test_a_site_pdf_keeps_its_chart_with_its_caption_and_leaves_no_page_half_blank(quarto_report):
    """The chart and its caption are one figure, on one page; a chart that
    would not fit under the first page's table is printed smaller rather
    than moved on, leaving half the page blank (theme/print.typ)."""
    for pdf in pdfs(quarto_report)[1:]:
        site = pdf.stem.removeprefix("site-")
        texts = page_texts(pdf)
        caption = [
            n for n, text in enumerate(texts, start=1) if f"Minutes of mentoring credited to site {site} " in text
        ]
        assert read_structure(pdf).figure_pages == caption, f"{pdf.name}: the chart and its caption part"
        fills = page_fills(pdf)
        assert min(fills[:-1]) >= 0.7, f"{pdf.name}: a page but the last is blank below {min(fills[:-1]):.0%}"


def test_the_pdf_check_finds_an_untagged_pdf(tmp_path):
    """A chart saved by matplotlib as PDF: untagged, no language, no alt text."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().bar([1, 2], [3, 4])
    figure.savefig(tmp_path / "chart.pdf")
    problems = pdf_ua_problems(read_structure(tmp_path / "chart.pdf"))
    assert any("not tagged" in p for p in problems) and any("/Lang" in p for p in problems)
    assert any("Figure without /Alt" in p for p in problems)


def test_every_pdf_is_pdf_ua_1_with_alt_text_and_table_headers(quarto_report):
    found = {pdf.name: pdf_ua_problems(read_structure(pdf)) for pdf in pdfs(quarto_report)}
    assert len(found) == 17  # the report and 16 site pages
    assert not {name: problems for name, problems in found.items() if problems}


def test_every_pdf_names_its_document_in_its_language(quarto_report):
    report = read_structure(quarto_report / "quarto" / "report.pdf")
    site = read_structure(quarto_report / "sites" / "site-2.pdf")
    assert report.lang == site.lang == "en-GB"
    assert report.title.startswith("Mentoring in the RETAKE trial") and site.title.startswith("Mentoring at site 2")
    assert site.figure_alts[0].startswith("Bar chart of site 2's mentoring minutes")


def test_every_pdf_is_a4(quarto_report):
    import pdfplumber

    for pdf in pdfs(quarto_report):
        with pdfplumber.open(pdf) as document:
            sizes = {(round(page.width), round(page.height)) for page in document.pages}
        assert sizes == {(595, 842)}, f"{pdf.name}: {sizes} points, not A4"
