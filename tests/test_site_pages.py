"""``python -m mentoring_eval sites``: a feedback page per site, end to end.

Two runs are shared by the tests of this module: the bundled records, and a
second, differently shaped trial written here (four sites, another cut-off and
expected dose, a joint session, a site with no contacts at all, a site whose
only OT left and was not replaced, a site opening after the cut-off). Every
site page's numbers are checked against its row of ``site_metrics.csv``.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from mentoring_eval import paths, render, report, site_pages, synth
from mentoring_eval.pipeline import RunSettings

ROOT = Path(__file__).resolve().parents[1]
PERSONAL_DETAILS = synth.INVENTED_NAMES + synth.INVENTED_NHS_NUMBERS + synth.INVENTED_ADDRESSES
PAGE_LINE = re.compile(r"\[site \d+/\d+\] site \d+ +(done in \d+\.\d s|skipped \(unchanged\))")


def run_sites(*arguments: str, raw: Path, folder: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mentoring_eval",
            "sites",
            "--renderer",
            "nbconvert",
            "--raw",
            str(raw),
            "--processed",
            str(folder / "processed"),
            "--report",
            str(folder / "report"),
            *arguments,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---------------------------------------------------------------- a second, differently shaped trial

OTHER_AS_OF = "2019-07-01"
OTHER_EXPECTED = 45
PLANTED_NAME = "Jane Morrow"  # in a note: it must never reach a page
OTHER_TRIAL = {
    "sites.csv": """site,opened_on
1,2019-01-10
2,2019-02-05
3,2019-03-20
4,2019-09-01
""",
    "ots.csv": """ot_id,site,started_on,left_on,leave_reason
A1,1,2018-12-01,2019-04-10,new job
A2,1,2018-12-01,,
A3,1,2019-04-01,,
B1,2,2019-01-20,,
C1,3,2019-03-01,2019-05-15,clinical pressures
D1,4,2019-08-01,,
""",
    "competency.csv": """ot_id,assessed_on,score
A1,2019-02-01,55
A2,2019-02-01,80
A3,2019-05-01,70
C1,2019-04-01,62
D1,2019-08-15,90
""",
    "participants.csv": """participant_id,site,arm,randomised_on
P01,1,ESSVR,2019-02-01
P02,1,essvr,2019-03-05
P03,1,usual care,2019-03-06
P04,1,ESSVR,2019-05-20
P05,2,ESSVR,2019-04-02
P06,3,ESSVR,2019-04-11
P07,3,Usual Care,2019-04-12
P08,3,ESSVR,2019-06-30
P09,4,ESSVR,2019-09-10
""",
    "mentoring_log.csv": f"""date,site,mentor,ots,mode,minutes,kind,notes
2019-01-15,1,M1,A1;A2,phone,60,planned,
12/02/2019,Site 1,M1,A1,telephone,45 min,,{PLANTED_NAME} discussed a phased return
2019-02-20,1,M2,A2,email,10,ad hoc,
2019-03-14,S1,M1,A1;A2,teams,1h,planned,
2019-03-26,3,M3,C1,phone,60,planned,
2019-03-28,1,M1,A2,phone,30,additional,
2019-04-09,1 & 3,M1,A2;C1,teams,60,planned,Joint call
2019-05-07,1,M1,A3,phone,1h30,planned,
2019-05-21,1,M2,A3,sms,5,ad hoc,
2019-06-11,1,M1,A2;A3,phone,45,planned,
2019-06-25,3,M3,,phone,20,ad hoc,
2019-07-03,1,M1,A2,phone,60,planned,after the cut-off
2019-08-20,4,M4,D1,phone,60,planned,
""",
}
NO_CONTACTS_SITE, ONLY_OT_LEFT_SITE, OPENS_LATER_SITE = 2, 3, 4


@pytest.fixture(scope="module")
def other_trial(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("other_trial")
    raw = folder / "raw"
    raw.mkdir()
    for name, text in OTHER_TRIAL.items():
        (raw / name).write_text(text, encoding="utf-8")
    result = run_sites("--as-of", OTHER_AS_OF, "--expected-minutes", str(OTHER_EXPECTED), raw=raw, folder=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return {
        "raw": raw,
        "folder": folder,
        "processed": folder / "processed",
        "sites": folder / "report" / "sites",
        "stdout": result.stdout,
        "as_of": OTHER_AS_OF,
    }


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bundled_sites")
    result = run_sites(raw=ROOT / "data" / "raw", folder=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return {
        "raw": ROOT / "data" / "raw",
        "folder": folder,
        "processed": folder / "processed",
        "sites": folder / "report" / "sites",
        "stdout": result.stdout,
        "as_of": "2020-04-01",
    }


# ---------------------------------------------------------------- reading a page


def table_rows(page: str) -> list[list[str]]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.DOTALL)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL)
        ]
        for row in rows
    ]


def first_row(rows: list[list[str]], label: str) -> list[str]:
    return next(row for row in rows if row and row[0] == label)


def page_of(run: dict, site: int) -> str:
    return (run["sites"] / f"site-{site}.html").read_text(encoding="utf-8")


def expected_cells(row: pd.Series) -> dict[str, str]:
    """The site's Table 4 cells as its page must print them."""
    return {
        header.split(" [")[0]: report.format_value(row[column], 1 if column == "pct_phone_teams" else None)
        for column, header in report.TABLE4_HEADERS.items()
        if column != "site"
    }


def assert_page_matches_site_metrics(run: dict) -> int:
    table4 = pd.read_csv(run["processed"] / "site_metrics.csv", dtype_backend="numpy_nullable")
    for row in table4.to_dict("records"):
        site = int(row["site"])
        rows = table_rows(page_of(run, site))
        for label, cell in expected_cells(pd.Series(row)).items():
            assert first_row(rows, label)[1] == cell, f"site {site}, {label}"
        for mode, column in (
            ("Phone", "phone_minutes"),
            ("Microsoft Teams", "teams_minutes"),
            ("Written (email or SMS)", "written_minutes"),
        ):
            assert first_row(rows, mode)[1] == str(row[column]), f"site {site}, {mode}"
        assert first_row(rows, "all kinds")[2] == str(row["total_minutes"]), f"site {site}: contacts by kind"
        ot_rows = [r for r in rows if r and re.fullmatch(r"[A-Z]+\d+", r[0])]
        assert len(ot_rows) == row["ots"], f"site {site}: OT table"
    return len(table4)


# ---------------------------------------------------------------- the command


def test_one_progress_line_per_site_and_the_index_path(bundled):
    lines = [line for line in bundled["stdout"].splitlines() if PAGE_LINE.fullmatch(line)]
    assert len(lines) == 16
    assert "site pages: " in bundled["stdout"] and "index.html (16 sites, nbconvert)" in bundled["stdout"]


def test_every_bundled_site_page_shows_its_row_of_site_metrics(bundled):
    assert assert_page_matches_site_metrics(bundled) == 16


def test_every_site_of_another_trial_shows_its_row_of_site_metrics(other_trial):
    assert assert_page_matches_site_metrics(other_trial) == 3  # site 4 opens after the cut-off


def test_the_index_lists_every_site_with_its_headline_numbers_and_flags(bundled):
    index = (bundled["sites"] / "index.html").read_text(encoding="utf-8")
    rows = table_rows(index)
    table4 = pd.read_csv(bundled["processed"] / "site_metrics.csv")
    attention = pd.read_csv(bundled["processed"] / "attention.csv")
    for record in table4.itertuples():
        row = first_row(rows, f"Site {record.site}")
        assert row[1:6] == [
            str(record.months_in_study),
            str(record.total_minutes),
            str(record.minutes_per_month),
            f"{record.pct_phone_teams:.1f}",
            str(record.ots),
        ]
        reasons = attention.loc[attention["site"] == record.site, "reason"].tolist()
        assert row[6] == ("; ".join(reasons) if reasons else "no")
        assert f'href="site-{record.site}.html"' in index
    assert 'href="../report.html"' in index


def stylesheets(page: str) -> list[str]:
    """The page's styles: the stylesheets it links and its own style blocks, in order."""
    tags = [tag for tag in re.findall(r"<link\b[^>]*>", page) if 'rel="stylesheet"' in tag]
    linked = [re.search(r'href="([^"]+)"', tag)[1] for tag in tags]
    return linked + re.findall(r"<style[^>]*>(.*?)</style>", page, re.DOTALL)


def test_the_index_is_rendered_like_the_pages_it_lists(bundled):
    index = (bundled["sites"] / "index.html").read_text(encoding="utf-8")
    assert stylesheets(index) == stylesheets(page_of(bundled, 1))
    assert any(render.page_style() in style for style in stylesheets(index))
    # A site's link is never broken across lines (nbconvert's image embedding would drop the span's content).
    assert '<span style="white-space: nowrap"><a href="site-1.html">Site 1</a></span>' in index


def test_every_page_links_back_to_the_index_and_the_main_report(bundled):
    for page in sorted(bundled["sites"].glob("site-*.html")):
        text = page.read_text(encoding="utf-8")
        assert 'href="index.html"' in text and 'href="../report.html"' in text, page.name


def test_the_main_report_links_to_the_index(bundled):
    page = (bundled["folder"] / "report" / "report.html").read_text(encoding="utf-8")
    assert 'href="sites/index.html"' in page  # rebased from the executed notebook's folder


def test_a_site_opening_after_the_cut_off_is_left_out_and_an_error_when_named(other_trial, tmp_path):
    assert not (other_trial["sites"] / f"site-{OPENS_LATER_SITE}.html").exists()
    assert f"Site {OPENS_LATER_SITE}" not in (other_trial["sites"] / "index.html").read_text(encoding="utf-8")
    for missing in (OPENS_LATER_SITE, 9):
        result = run_sites(
            "--as-of",
            OTHER_AS_OF,
            "--expected-minutes",
            str(OTHER_EXPECTED),
            "--site",
            str(missing),
            raw=other_trial["raw"],
            folder=other_trial["folder"],
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.strip() == (
            f"error: site {missing} is not in the run as of {OTHER_AS_OF} (sites opened by then: 1–3)"
        )


def test_a_site_with_no_contacts_gets_a_page_of_zeros(other_trial):
    rows = table_rows(page_of(other_trial, NO_CONTACTS_SITE))
    assert first_row(rows, "Total mentoring (minutes)")[1] == "0"
    assert first_row(rows, "% by phone or Microsoft Teams")[1] == "–"
    assert [first_row(rows, kind)[1:] for kind in ("planned", "additional", "ad hoc", "all kinds")] == [["0", "0"]] * 4
    assert "no mentoring in any of its 5 months" in page_of(other_trial, NO_CONTACTS_SITE)


def test_a_site_whose_only_ot_left_unreplaced_says_so_in_the_main_reports_words(other_trial):
    page = page_of(other_trial, ONLY_OT_LEFT_SITE)
    rows = table_rows(page)
    assert first_row(rows, "C1")[1:4] == ["1 March 2019", "15 May 2019", "not replaced"]
    assert first_row(rows, "OT left and not replaced")[1] == "1 OT left and not replaced"
    assert html.escape(report.attention_rules(OTHER_EXPECTED), quote=False) in page


def test_what_changed_since_the_previous_month(other_trial):
    rows = table_rows(page_of(other_trial, 1))
    # June 2019: 45 minutes at site 1, so its total grew by 45 since 1 June 2019.
    assert first_row(rows, "Total mentoring (minutes)")[0:2] == ["Total mentoring (minutes)", "405"]
    news = [row for row in rows if row and row[0] == "Total mentoring (minutes)"][1]
    assert news == ["Total mentoring (minutes)", "360", "405", "+45"]
    assert "In June 2019, the last whole month, the site received 45 minutes" in page_of(other_trial, 1)


def test_nothing_personal_reaches_the_site_pages(bundled, other_trial):
    notes = (ROOT / "data" / "raw" / "mentoring_log.csv").read_text(encoding="utf-8-sig")
    assert all(detail in notes for detail in PERSONAL_DETAILS)  # planted, so the scan below can fail
    for run, details in ((bundled, PERSONAL_DETAILS), (other_trial, (PLANTED_NAME, "new job", "clinical pressures"))):
        for path in run["sites"].rglob("*"):
            if path.is_file():
                leaked = [detail for detail in details if detail.encode() in path.read_bytes()]
                assert not leaked, f"{path.name} holds {leaked}"


def test_a_rerun_with_nothing_changed_redoes_no_page(other_trial):
    before = {path: path.stat().st_mtime_ns for path in other_trial["sites"].rglob("*.html")}
    result = run_sites(
        "--as-of",
        OTHER_AS_OF,
        "--expected-minutes",
        str(OTHER_EXPECTED),
        raw=other_trial["raw"],
        folder=other_trial["folder"],
    )
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if PAGE_LINE.fullmatch(line)] == [
        f"[site {n}/3] site {n}    skipped (unchanged)" for n in (1, 2, 3)
    ]
    assert {path: path.stat().st_mtime_ns for path in other_trial["sites"].rglob("*.html")} == before


def test_a_page_is_the_same_bytes_whichever_sites_ran_before_it_in_the_kernel(other_trial):
    executed = other_trial["sites"] / "notebooks" / "site-3.ipynb"
    page = other_trial["sites"] / "site-3.html"
    made_third = executed.read_bytes(), page.read_bytes()
    page.unlink()
    result = run_sites(
        "--as-of",
        OTHER_AS_OF,
        "--expected-minutes",
        str(OTHER_EXPECTED),
        "--site",
        "3",
        raw=other_trial["raw"],
        folder=other_trial["folder"],
    )
    assert result.returncode == 0, result.stderr
    assert "[site 1/1] site 3    done in" in result.stdout
    assert (executed.read_bytes(), page.read_bytes()) == made_third


def test_a_failure_part_way_leaves_the_last_good_pages(other_trial, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(other_trial["folder"], folder, symlinks=True)
    settings = RunSettings(
        paths=paths.resolve(other_trial["raw"], folder / "processed", folder / "report"),
        as_of=pd.Timestamp(OTHER_AS_OF).date(),
        expected_minutes=OTHER_EXPECTED,
    )
    before = {
        p.relative_to(folder): p.read_bytes()
        for p in sorted((folder / "report" / "sites").rglob("*"))
        if p.is_file() and p.name != site_pages.STATE_FILE
    }

    def interrupted(line: str) -> None:
        if "site 2 " in line and "done" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        site_pages.run_site_pages(settings, renderer="nbconvert", force=True, say=interrupted)
    after = {
        p.relative_to(folder): p.read_bytes()
        for p in sorted((folder / "report" / "sites").rglob("*"))
        if p.is_file() and p.name != site_pages.STATE_FILE
    }
    assert after == before


def test_the_site_notebook_runs_as_a_user_runs_it_with_default_parameters():
    """JupyterLab's "run all": the committed notebook's parameters are the canonical site."""
    notebook = nbformat.read(ROOT / "notebooks" / site_pages.SITE_NOTEBOOK, as_version=4)
    parameters = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    assert "site = 2" in parameters.source and "processed_dir = None" in parameters.source


def test_the_previous_month_machinery_at_the_runs_own_cut_off_gives_site_metrics(bundled, other_trial):
    """``site_as_of`` recomputes a site from its own records at an earlier
    cut-off; at the run's cut-off it must give exactly the metrics stage's row
    and attention flags, for every site of both trials."""
    from mentoring_eval import site_report

    for run, expected in ((bundled, 60), (other_trial, OTHER_EXPECTED)):
        trial = site_report.load_trial(run["processed"])
        table4 = trial.metrics.table4
        for site in table4["site"]:
            again = site_report.site_as_of(trial, int(site), run["as_of"], run["as_of"], expected)
            row = table4.loc[table4["site"] == site].iloc[0]
            assert again.row[list(table4.columns)].astype(str).tolist() == row.astype(str).tolist(), f"site {site}"
            assert (
                again.attention[["reason", "detail"]].values.tolist()
                == site_report.site_attention(trial.metrics.attention, int(site)).values.tolist()
            )


@pytest.mark.skipif(render.find_quarto() is None, reason="Quarto is not installed here")
def test_with_quarto_each_page_is_html_and_a_typst_pdf(other_trial, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(other_trial["folder"], folder, symlinks=True)
    settings = RunSettings(
        paths=paths.resolve(other_trial["raw"], folder / "processed", folder / "report"),
        as_of=pd.Timestamp(OTHER_AS_OF).date(),
        expected_minutes=OTHER_EXPECTED,
    )
    lines: list[str] = []
    made = site_pages.make_site_pages(settings, [ONLY_OT_LEFT_SITE], "quarto", False, lines.append)
    sites = folder / "report" / "sites"
    assert made.renderer == "quarto" and made.pages == (sites / f"site-{ONLY_OT_LEFT_SITE}.html",)
    assert (sites / f"site-{ONLY_OT_LEFT_SITE}.pdf").read_bytes().startswith(b"%PDF")
    page = made.pages[0].read_text(encoding="utf-8")
    assert "Mentoring at site 3: feedback report" in page and "not replaced" in page
    assert '<a href="index.html">All sites</a>' in page  # back to the index (no main report named here)
    index = (sites / "index.html").read_text(encoding="utf-8")
    assert f'href="site-{ONLY_OT_LEFT_SITE}.pdf"' in index
    # Rendered by Quarto like the page, with the same theme from the same shared libraries.
    styles = stylesheets(page)
    assert stylesheets(index) == styles and [href for href in styles if href.startswith("site_libs/bootstrap/")]
    assert not (sites / "index.pdf").exists() and not (sites / "index_files").exists()
    # What a bundle takes of the pages is all they show: every file the page and the index load or link.
    _, files = site_pages.current_site_files(settings, "quarto")
    for shown in (made.pages[0], sites / "index.html"):
        text = shown.read_text(encoding="utf-8")
        for link in set(re.findall(r'(?:href|src)="([^"#:]+)"', text)):
            assert (shown.parent / link).resolve() in {path.resolve() for path in files}, f"{shown.name}: {link}"
    assert not (sites / "site-1.html").exists()  # nbconvert's pages of the other sites are not Quarto's: gone
    for path in sites.rglob("*"):
        if path.is_file():
            assert PLANTED_NAME.encode() not in path.read_bytes(), path.name


def test_the_index_links_a_report_in_a_subfolder_where_it_lies(other_trial, tmp_path):
    """Quarto's report lies in report/quarto/: the index links it there, and
    nothing is written beside it (it links the index where the index lies)."""
    folder = tmp_path / "copy"
    shutil.copytree(other_trial["folder"], folder, symlinks=True)
    settings = RunSettings(
        paths=paths.resolve(other_trial["raw"], folder / "processed", folder / "report"),
        as_of=pd.Timestamp(OTHER_AS_OF).date(),
        expected_minutes=OTHER_EXPECTED,
    )
    main_report = folder / "report" / "quarto" / "index.html"
    site_pages.make_site_pages(settings, None, "nbconvert", False, lambda line: None, main_report=main_report)
    index = (folder / "report" / "sites" / "index.html").read_text(encoding="utf-8")
    assert 'href="site-1.html"' in index and 'href="../quarto/index.html"' in index
    assert not (main_report.parent / "sites").exists()


def test_the_index_notebook_links_each_page_and_names_a_site_without_one():
    table = pd.DataFrame(
        {
            "site": [1, 2],
            "months_in_study": [25, 0],
            "total_minutes": [2815, 0],
            "minutes_per_month": [113.0, float("nan")],
            "pct_phone_teams": [94.0, float("nan")],
            "ots": [3, 1],
            "dose_band": ["high", pd.NA],
            "attention": ["", "OT left and not replaced"],
        }
    )
    notebook = site_pages.index_notebook(
        table, {1: ["site-1.html", "site-1.pdf"]}, "2020-04-01", 60, "../my report/index.html", "*Trial* [x]"
    )
    matter = render.front_matter(notebook)
    assert matter["format"] == "html"  # Quarto: the index is a page, with no PDF of its own
    assert matter["title"] == r"\*Trial\* \[x\]: site feedback pages as of 1 April 2020"
    assert notebook.metadata["title"] == "*Trial* [x]: site feedback pages as of 1 April 2020"
    cells = {cell.get("id"): cell.source for cell in notebook.cells}
    assert cells["site-navigation"] == "[The trial's report](../my%20report/index.html)"
    assert cells["about-the-pages"].startswith("2 sites open at the cut-off; 1 needs attention")
    rows = cells["sites"].splitlines()
    assert rows[2].startswith(
        '| <span style="white-space: nowrap">[Site 1](site-1.html) ([PDF](site-1.pdf))</span> | 25 | 2815 | 113.0 | 94.0 | 3 | no |'
    )
    assert rows[3] == "| Site 2 | 0 | 0 | – | – | 1 | OT left and not replaced |"
    assert rows[-1] == ": Every site's headline numbers as of 1 April 2020 {#tbl-sites}"


def test_quarto_pages_share_one_copy_of_their_libraries(tmp_path):
    """Pages whose libraries are the same share site_libs/; a page whose copy
    differs keeps its own; every page points at the copy it uses."""
    for stem, css in (("site-1", "a{}"), ("site-2", "a{}"), ("site-3", "b{}")):
        libs = tmp_path / f"{stem}_files" / "libs" / "bootstrap"
        libs.mkdir(parents=True)
        (libs / "bootstrap.css").write_text(css)
        (tmp_path / f"{stem}_files" / "figure-html").mkdir()
        (tmp_path / f"{stem}.html").write_text(f'<link href="{stem}_files/libs/bootstrap/bootstrap.css">')
    site_pages.share_libraries(tmp_path, ["site-1", "site-2", "site-3"])
    assert (tmp_path / "site_libs" / "bootstrap" / "bootstrap.css").read_text() == "a{}"
    for stem in ("site-1", "site-2"):
        assert (tmp_path / f"{stem}.html").read_text() == '<link href="site_libs/bootstrap/bootstrap.css">'
        assert (
            not (tmp_path / f"{stem}_files" / "libs").exists() and (tmp_path / f"{stem}_files" / "figure-html").exists()
        )
    assert (tmp_path / "site-3.html").read_text() == '<link href="site-3_files/libs/bootstrap/bootstrap.css">'
    assert (tmp_path / "site-3_files" / "libs" / "bootstrap" / "bootstrap.css").read_text() == "b{}"


def test_quarto_site_pages_take_the_reports_theme_and_print_rules():
    template = render.load_quarto_template(ROOT)
    project = site_pages.quarto_site_project(template)
    for option in ("theme", "lang", "format-links"):  # the PDF linked as "PDF (A4, for print)", not "Typst"
        assert project["format"]["html"][option] == template["format"]["html"][option], option
    for option in ("papersize", "margin", "fontsize", "lang", "include-in-header", "pdf-standard"):
        assert project["format"]["typst"][option] == template["format"]["typst"][option], option
    assert project["format"]["typst"]["papersize"] == "a4" and project["format"]["typst"]["pdf-standard"] == "ua-1"
    assert "embed-resources" not in project["format"]["html"]  # one shared copy of the libraries, not one a page
