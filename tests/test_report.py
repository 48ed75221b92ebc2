"""End to end: the rendered report (nbconvert fallback), the Quarto project
around it, and a user's own trial with no published reference.

``bundled_run`` is the session's run of the bundled records (conftest.py),
shared with the other end-to-end tests and read-only."""

import csv
import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from mentoring_eval import provenance, render, report, synth
from mentoring_eval.provenance import sha256_of_file

ROOT = Path(__file__).resolve().parents[1]
PERSONAL_DETAILS = synth.INVENTED_NAMES + synth.INVENTED_NHS_NUMBERS + synth.INVENTED_ADDRESSES


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mentoring_eval", "run", "--renderer", "nbconvert", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def page_text(report: Path) -> str:
    return (report / "report.html").read_text(encoding="utf-8")


def table_rows(page: str) -> list[list[str]]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.DOTALL)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL)
        ]
        for row in rows
    ]


def test_the_command_names_the_renderer_and_the_report(bundled_run):
    out = bundled_run.first.stdout
    assert "[render] nbconvert" in out and "report: " in out
    assert len([line for line in out.splitlines() if re.match(r"\[\d/4\] .+ done in \d+\.\d s", line)]) == 4


def test_every_table4_value_is_in_the_report(bundled_run):
    rows = table_rows(page_text(bundled_run.report))
    published = pd.read_csv(ROOT / "data" / "reference" / "table4_published.csv")
    for record in published.itertuples(index=False):
        expected = [
            str(record.site),
            str(record.months_in_study),
            str(record.total_minutes),
            f"{record.pct_phone_teams:.1f}",
            str(record.essvr_participants),
            str(record.ots),
            str(record.minutes_per_month),
            str(record.participants_per_ot),
        ]
        assert expected in rows, f"site {record.site}: {expected} not a row of the report's tables"


def test_every_figure_is_embedded_with_caption_and_alt_text(bundled_run):
    page = page_text(bundled_run.report)
    figures = re.findall(
        r'<figure id="(fig-[\w-]+)"[^>]*>\s*<div[^>]*aria-label="([^"]+)"[^>]*>\s*<svg.*?</svg>\s*'
        r"</div>\s*<figcaption><strong>(Figure \d+)\.</strong>",
        page,
        re.DOTALL,
    )
    assert [number for _, _, number in figures] == [f"Figure {n}" for n in range(1, 6)]
    assert all(len(alt) > 80 for _, alt, _ in figures)
    assert "<img" not in page  # nothing loaded from beside the page: it is self-contained
    assert not re.search(r"""(src|href)=["']https?://""", page)


def test_cross_references_are_resolved_in_the_fallback(bundled_run):
    page = page_text(bundled_run.report)
    assert not re.search(r"@(fig|tbl)-", page) and "{#fig-" not in page and "{#tbl-" not in page
    assert "<strong>Table 1.</strong>" in page and "<strong>Figure 5.</strong>" in page


def test_the_report_says_the_records_are_synthetic(bundled_run):
    assert "The records behind this report are synthetic." in page_text(bundled_run.report)


def test_the_provenance_section_lists_every_input_with_its_hash(bundled_run):
    page = page_text(bundled_run.report)
    assert "Provenance" in page
    for path in sorted((ROOT / "data" / "raw").glob("*.csv")):
        assert path.name in page and sha256_of_file(path) in page
    assert re.search(r"from commit <code>[0-9a-f]{40}", page)


def test_the_provenance_section_names_the_lock_the_environment_was_installed_from(bundled_run):
    """The SHA-256 of the lock the running environment was installed from
    (the Makefile's copy of it in the environment), which for an environment
    built by `make` from this checkout is the checkout's own lock."""
    page = html.unescape(page_text(bundled_run.report))
    lock = provenance.installed_lock()
    if lock is None:
        assert "was not installed from the project's lock" in page
    else:
        cells = rf"{re.escape(provenance.LOCK_FILE)}</td>\s*<td[^>]*>{lock.size}</td>\s*<td[^>]*>{lock.sha256}</td>"
        assert re.search(cells, page)
        assert "Lock file the Python environment was installed from" in page


@pytest.mark.parametrize("lock", [None, provenance.FileDigest(size=12, sha256="ab" * 32)], ids=["no lock", "a lock"])
def test_the_environment_is_a_table_of_its_lock_or_says_there_was_none(lock):
    text = report.environment_markdown(lock)
    if lock is None:
        assert "not installed from the project's lock (`requirements.lock`)" in text and "|" not in text
    else:
        assert f"| requirements.lock | 12 | {'ab' * 32} |" in text
        assert text.endswith("{#tbl-environment}")


def test_the_provenance_section_cites_the_publication_from_citation_cff(bundled_run):
    page = page_text(bundled_run.report)
    publication = provenance.cited_publication(provenance.read_citation(ROOT))
    assert f"doi:{publication['doi']}" in page
    assert (
        "Craven K, Holmes J, Powers K, Clarke S, Cripps RL, Lindley R, Phillips J, Tyerman R, McKevitt C, "
        "Clarke D, Radford K. Embedding mentoring to support trial processes" in page
    )


@pytest.mark.parametrize(
    ("author", "cited"),
    [
        ({"family-names": "Cripps", "given-names": "R. L."}, "Cripps RL"),
        ({"family-names": "Cripps", "given-names": "Rachel Louise"}, "Cripps RL"),
        ({"family-names": "McKevitt", "given-names": "C."}, "McKevitt C"),
        ({"family-names": "Radford"}, "Radford"),
    ],
)
def test_authors_are_cited_by_family_name_and_initials(author, cited):
    assert report.author_initials(author) == cited


def test_a_reference_reads_authors_title_journal_year_and_doi_link():
    article = {
        "type": "article",
        "title": "A title",
        "journal": "A Journal",
        "year": 2021,
        "doi": "10.1/x",
        "authors": [{"family-names": "One", "given-names": "A."}, {"family-names": "Two", "given-names": "B. C."}],
    }
    assert report.publication_reference(article) == "One A, Two BC. A title. *A Journal*. 2021. doi:10.1/x"
    software = {"title": "tool: what it does", "version": "1.2.3", "references": [article]}
    paragraph = report.citation_paragraph(software)
    assert report.publication_reference(article) in paragraph and "tool version 1.2.3" in paragraph


def test_the_reproduction_verdict_is_in_the_report(bundled_run):
    page = page_text(bundled_run.report)
    assert "reproduce every cell of the published Table 4 (112 of 112)" in page
    assert "88.6–100" in page and "91.6–100" in page  # the publication's self-contradiction, shown


def test_no_personal_detail_reaches_any_output(bundled_run):
    notes = (ROOT / "data" / "raw" / "mentoring_log.csv").read_text(encoding="utf-8-sig")
    assert all(detail in notes for detail in PERSONAL_DETAILS)  # planted, so the scan below can fail
    for folder in (bundled_run.processed, bundled_run.report):
        for path in folder.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                if path.suffix == ".parquet":
                    content += pd.read_parquet(path).to_csv().encode()
                leaked = [d for d in PERSONAL_DETAILS if d.encode() in content]
                assert not leaked, f"{path.name} holds {leaked}"


# ---------------------------------------------------------------- Quarto, checked without Quarto


def test_every_notebook_the_quarto_project_names_is_in_the_report_folder(bundled_run):
    """The project's _quarto.yml is a report folder's project: its appendix
    notebooks are the executed stage notebooks the run wrote there."""
    template = render.load_quarto_template(ROOT)
    for entry in template["manuscript"]["notebooks"]:
        assert (bundled_run.report / entry["notebook"]).is_file(), entry["notebook"]


def test_every_cross_reference_in_the_report_has_its_label(bundled_run):
    notebook = nbformat.read(bundled_run.report / "notebooks" / "04_report.ipynb", as_version=4)
    texts = [container[key] for container, key in render._markdown_texts(notebook)]
    labels = [m["label"] for text in texts for m in render.FIGURE_DEFINITION.finditer(text)]
    labels += [m["label"] for text in texts for m in render.TABLE_CAPTION.finditer(text)]
    references = {m["label"] for text in texts for m in render.REFERENCE.finditer(text)}
    assert len(labels) == len(set(labels)), "a label is defined twice"
    assert references and references <= set(labels), references - set(labels)
    assert {"fig-dose", "fig-competency", "fig-turnover", "fig-mode", "fig-heatmap", "tbl-table4"} <= set(labels)


def test_report_tables_and_figures_are_markdown_so_typst_can_render_them(bundled_run):
    notebook = nbformat.read(bundled_run.report / "notebooks" / "04_report.ipynb", as_version=4)
    kinds = {
        kind
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        for kind in output.get("data", {})
    }
    assert "text/markdown" in kinds and "text/html" not in kinds and "image/png" not in kinds
    assert notebook.cells[0].cell_type == "raw" and render.front_matter(notebook)["title"]


# ---------------------------------------------------------------- a user's own trial


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def own_trial(tmp_path_factory) -> Path:
    """Three sites of another trial, numbered 101-103, with a cut-off of 1 July 2021."""
    raw = tmp_path_factory.mktemp("own") / "raw"
    raw.mkdir()
    write_csv(
        raw / "sites.csv",
        ["Site", "Opened_On"],
        [["101", "2021-01-20"], ["S102", "15/03/2021"], ["site 103", "2021-08-01"]],
    )
    write_csv(
        raw / "participants.csv",
        ["participant_id", "site", "arm", "randomised_on"],
        [
            ["a", 101, "ESSVR", "2021-02-01"],
            ["b", 101, "essvr", "2021-06-30"],
            ["c", 101, "ESSVR", "2021-07-01"],
            ["d", 102, "usual care", "2021-04-01"],
            ["e", 102, "ESSVR", "2021-04-02"],
        ],
    )
    write_csv(
        raw / "ots.csv",
        ["ot_id", "site", "started_on", "left_on", "leave_reason"],
        [
            ["A", 101, "2021-01-01", "2021-04-10", "new job"],
            ["B", 101, "2021-01-01", "", ""],
            ["C", 101, "2021-05-01", "", ""],
            ["D", 102, "2021-03-01", "", ""],
        ],
    )
    write_csv(
        raw / "competency.csv",
        ["ot_id", "assessed_on", "score"],
        [["A", "2021-02-01", 50], ["B", "2021-02-01", 80], ["D", "2021-04-01", 90]],
    )
    write_csv(
        raw / "mentoring_log.csv",
        ["date", "site", "mentor", "ots", "mode", "minutes", "kind", "notes"],
        [
            ["05/01/2021", "101", "M1", "A", "phone", "60", "", "first month counts"],
            ["2021-02-10", "Site 101 & S102", "M1", "A;D", "Teams", "1h30", "planned", "joint, before 102 opened"],
            ["2021-03-10", "101 and 102", "M1", "A;D", "teams", "1:00", "planned", ""],
            ["10 Mar 2021", "101 and 102", "M1", "A;D", "MS Teams", "60 mins", "Planned", "the same session again"],
            ["2021-04-02", "S102", "M2", "D", "email", "15", "ad hoc", ""],
            ["2021-06-30", "101", "M2", "C", "sms", "5 min", "ad hoc", ""],
            ["2021-07-01", "101", "M2", "C", "phone", "30", "additional", "on the cut-off: not counted"],
            ["2021-06-01", "104", "M2", "", "phone", "30", "", "unknown site"],
        ],
    )
    return raw


def test_a_users_own_trial_gets_its_own_correct_table4(own_trial, tmp_path):
    result = run_cli(
        "--raw",
        str(own_trial),
        "--processed",
        str(tmp_path / "p"),
        "--report",
        str(tmp_path / "r"),
        "--as-of",
        "2021-07-01",
        "--expected-minutes",
        "45",
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "p" / "site_metrics.csv")
    # Worked by hand. Site 103 opens after the cut-off: absent. Site 101, Jan-Jun: 6 months;
    # 60 + 90 + 60 + 5 minutes (the re-typed duplicate and the cut-off day excluded), 210 of them
    # spoken; participants a and b (c is on the cut-off); OTs A, B and C. Site 102 opened mid-March:
    # Mar-Jun, 4 months; the March joint session (not February's, before its opening month) and an
    # email; participant e only (d is usual care).
    expected = pd.DataFrame(
        {
            "site": [101, 102],
            "months_in_study": [6, 4],
            "total_minutes": [215, 75],
            "pct_phone_teams": [97.7, 80.0],
            "essvr_participants": [2, 1],
            "ots": [3, 1],
            "minutes_per_month": [36, 19],
            "participants_per_ot": [1, 1],
        }
    )
    pd.testing.assert_frame_equal(table[expected.columns.tolist()], expected, check_dtype=False)
    quarantine = pd.read_csv(tmp_path / "p" / "quarantine.csv")
    assert quarantine["reason"].tolist() == ["unknown site"]
    page = page_text(tmp_path / "r")
    assert "the user's own" in page
    # Another trial's report: none of the publication's content about RETAKE.
    assert "Reproduction of the publication" not in page and "Qualitative findings" not in page
    assert "The records behind this report are synthetic." not in page


def test_figure_markdown_carries_caption_label_and_alt_text_for_quarto():
    from mentoring_eval import report

    index = {"dose_by_site": {"caption": "Minutes by site", "alt_text": 'Bar chart; site 7 "highest"', "title": "t"}}
    markdown = report.figure_markdown("dose_by_site", "dose", index)
    assert markdown == (
        "![Minutes by site](../figures/dose_by_site.svg){#fig-dose fig-alt=\"Bar chart; site 7 'highest'\"}"
    )
    assert render.FIGURE_DEFINITION.fullmatch(markdown)["alt"] == "Bar chart; site 7 'highest'"


# ---------------------------------------------------------------- text from the records is data


HOSTILE_CELLS = [
    "<script>alert(31337)</script>",
    "<b onmouseover=alert(31337)>x</b>",
    "[x](javascript:alert(31337))",
    "![x](http://evil.example/x.png)",
    "{{< pagebreak >}}",
    "`code` $x$ \\ *em* | bar",
    "#set text(red)",
]


def test_markdown_table_cells_are_text_never_markup():
    from html.parser import HTMLParser

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    class Elements(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.cells = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            if tag == "td":
                self.cells.append("")

        def handle_data(self, data):
            if self.cells and self.tags[-1] == "td":
                self.cells[-1] += data

    table = pd.DataFrame({"file": HOSTILE_CELLS, "bytes": range(len(HOSTILE_CELLS))})
    markdown = report.markdown_table(table)
    page = Elements()
    page.feed(markdown2html_mistune(markdown))
    assert set(page.tags) <= {"table", "thead", "tbody", "tr", "th", "td"}
    assert [cell.strip() for cell in page.cells[0::2]] == HOSTILE_CELLS
    plain = pd.DataFrame({"file": ["x" * len(cell) for cell in HOSTILE_CELLS], "bytes": table["bytes"]})
    assert markdown.splitlines()[1] == report.markdown_table(plain).splitlines()[1]  # widths of the text shown


def test_a_column_of_numbers_written_as_text_is_right_aligned():
    """Medians, ranges and signed differences formatted as text line up like numbers; words do not."""
    table = pd.DataFrame(
        {
            "column": ["Months", "Minutes"],
            "median": ["22.5", "1602.5"],
            "range": ["8–25", "612–2906"],
            "against": ["−7.1", "+0.9"],
            "change": ["no change", "+45"],
        }
    )
    separator = report.markdown_table(table).splitlines()[1].strip("|").split("|")
    assert [cell.startswith(":") for cell in separator] == [True, False, False, False, True]
    assert [cell.endswith(":") for cell in separator] == [False, True, True, True, False]


def test_markdown_table_markup_columns_pass_as_written_and_are_sized_as_shown():
    """A column of links (made and escaped by the caller) goes in as it is,
    left-aligned, and is sized by its links' text, not their targets (a table
    wider than a line is sized by its separator's dashes); the other columns
    are still escaped text."""
    linked = [f'<span style="white-space: nowrap">[Site {n}](site-{n}-of-the-trial.html)</span>' for n in (1, 2)]
    note = ["*a* " + "word " * 20, "b"]
    table = pd.DataFrame({"site": linked, "note": note, "minutes": [2815.0, 43.0]})
    lines = report.markdown_table(table, markup=("site",)).splitlines()
    assert lines[2].startswith(f"| {linked[0]} | \\*a\\* word")
    as_shown = report.markdown_table(table.assign(site=["Site 1", "Site 2"])).splitlines()
    assert lines[1] == as_shown[1] and lines[1].startswith("|:--------|")  # "Site 1" and its padding


def test_as_shown_is_the_text_a_reader_sees():
    assert report.as_shown('<span style="x">[Site 1](a%20b.html) ([PDF](a.pdf))</span>') == "Site 1 (PDF)"
    assert report.as_shown(r"\*not emphasis\* [a \] bracket](x.html)") == "*not emphasis* a ] bracket"
