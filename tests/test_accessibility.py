"""Every HTML page the project writes passes axe-core's WCAG 2.2 A and AA
rules in a real browser (headless Chromium), with both renderers.

The pages are made as a user makes them, by the ``sites`` command (the main
run, then the site pages and their index), once with Quarto and once with
nbconvert, into folders outside the project. The checks run wherever
Chromium, its driver, Selenium and axe-core (``npm ci``, which ``make test``
runs) are present, and skip saying which is missing where they are not; the
Quarto pages also need a ``quarto`` command.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser import axe_violations, chromium, count_elements, described, missing_tools

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(missing_tools() is not None, reason=f"no browser check here: {missing_tools()}")


def make_pages(folder: Path, renderer: str) -> Path:
    """The report and every site page, rendered by ``renderer`` into ``folder``; the report folder."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mentoring_eval",
            "sites",
            "--renderer",
            renderer,
            "--processed",
            str(folder / "processed"),
            "--report",
            str(folder / "report"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return folder / "report"


@pytest.fixture(scope="module")
def browser():
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
        # The index beside the pages, and its copy beside the article (which links it).
        "site index": [report / "sites" / "index.html", report / "quarto" / "sites" / "index.html"],
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


# ---------------------------------------------------------------- nbconvert


@pytest.mark.parametrize("kind", ["report", "site pages", "site index"])
def test_nbconvert_pages_pass_wcag_aa(browser, nbconvert_report, kind):
    assert_no_violations(browser, nbconvert_pages(nbconvert_report)[kind])
