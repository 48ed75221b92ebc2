"""Text from the records into each target: every payload, escaped, reads back
as exactly the characters typed, through the real reader of that target
(nbconvert's Markdown, Pandoc's Markdown as Quarto runs it, Typst, an HTML
parser, matplotlib's text), and opens in a spreadsheet as text."""

from __future__ import annotations

import csv
import html.parser
import io
import shutil
import subprocess

import pandas as pd
import pytest
from matplotlib.text import Text

from mentoring_eval import escape
from mentoring_eval.outputs import write_csv

PAYLOADS = [
    "<script>alert(31337)</script>",
    "<b onmouseover=alert(31337)>bold</b>",
    '<img src=x onerror="alert(31337)">',
    "<a href='javascript:alert(31337)'>click</a>",
    "javascript:alert(31337)",
    "[x](javascript:alert(31337))",
    "![x](http://evil.example/x.png)",
    "<http://evil.example/>",
    "http://evil.example/bare",
    "&lt;b&gt; &amp; &#60;",
    "<!-- hidden -->",
    "#set text(red)",
    '#link("http://evil.example")[x]',
    "= Heading",
    "// a Typst comment",
    "{{< pagebreak >}}",
    "{{< meta title >}}",
    "`code` ``x``",
    "`<b>x</b>`{=html}",
    "back\\slash \\<b\\>",
    "$x^2$ and $$y$$ cost $5",
    "*em* **strong** _u_ ~sub~ ^sup^ ~~strike~~",
    "@fig-dose [@citation]",
    "site 7 | site 8",
    "- a list",
    "1. a list",
    "a -- b --- c ... d",
    "\"quoted\" and 'single'",
    "[span]{.class onclick=alert(31337)}",
    "OT01",
]


class _Parsed(html.parser.HTMLParser):
    """Every element and the text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_data(self, data):
        self.text += data


def parsed(fragment: str) -> _Parsed:
    parser = _Parsed()
    parser.feed(fragment)
    parser.close()
    return parser


# --- Markdown ---------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_reads_back_literally_in_nbconvert(payload):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    page = parsed(markdown2html_mistune(f"Value: {escape.markdown(payload)} end"))
    assert [tag for tag, _ in page.elements] == ["p"]
    assert page.text.strip() == f"Value: {payload} end"


def _pandoc(markdown: str, to: str) -> str:
    quarto = shutil.which("quarto")
    if quarto is None:
        pytest.skip("quarto (and its pandoc) is not on PATH")
    return subprocess.run(
        [quarto, "pandoc", "--from", "markdown", "--to", to, "--wrap", "none"],
        input=markdown,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_markdown_reads_back_literally_in_pandoc():
    """Every payload in a sentence and in a pipe table's cell, as Quarto's
    Pandoc reads them (one Pandoc run for all)."""
    sentences = "\n\n".join(f"Value {i}: {escape.markdown(p)} end" for i, p in enumerate(PAYLOADS))
    rows = "\n".join(f"| {i} | {escape.markdown(p)} |" for i, p in enumerate(PAYLOADS))
    page = parsed(_pandoc(f"{sentences}\n\n| n | value |\n|---|---|\n{rows}\n", "html"))
    tags = {tag for tag, _ in page.elements}
    assert tags <= {"p", "table", "colgroup", "col", "thead", "tbody", "tr", "th", "td"}
    assert all(not name.startswith("on") for _, attrs in page.elements for name, _ in attrs)
    for i, payload in enumerate(PAYLOADS):
        assert f"Value {i}: {payload} end" in page.text
        assert f"{i}{payload}" in page.text.replace("\n", "")


def test_markdown_reads_back_literally_through_pandoc_to_typst_text():
    """What the PDF prints: Pandoc's Typst from the escaped Markdown, read
    back as Pandoc's plain text of the same document."""
    sentences = "\n\n".join(f"Value {i}: {escape.markdown(p)} end" for i, p in enumerate(PAYLOADS))
    typst_source = _pandoc(sentences, "typst")
    assert "#link" not in typst_source.replace("\\#link", "")
    plain = _pandoc(sentences, "plain")
    for i, payload in enumerate(PAYLOADS):
        assert f"Value {i}: {payload} end" in plain


@pytest.mark.parametrize("text", ["a\nb", "a\r\nb", "a\tb", "line\n# heading"])
def test_markdown_is_one_line(text):
    assert "\n" not in escape.markdown(text) and "\r" not in escape.markdown(text)


@pytest.mark.parametrize("text", ["OT01", "2020-04-01", "58.5", "-15", "site 7", "P0001", "x - y"])
def test_markdown_leaves_plain_codes_dates_and_numbers_as_typed(text):
    assert escape.markdown(text) == text


def test_markdown_attribute_cannot_end_its_quotes():
    value = escape.markdown_attribute('alt" onmouseover="alert(31337)\\')
    assert '"' not in value and "\\" not in value


# --- HTML -------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_html_text_reads_back_literally(payload):
    page = parsed(f'<p title="{escape.html_text(payload)}">{escape.html_text(payload)}</p>')
    assert page.elements == [("p", [("title", payload)])]
    assert page.text == payload


# --- Typst ------------------------------------------------------------------------


def test_typst_reads_back_literally(tmp_path):
    """Compiled by Typst (Quarto's), the PDF's text is the payloads as typed."""
    quarto, pdftotext = shutil.which("quarto"), shutil.which("pdftotext")
    if quarto is None or pdftotext is None:
        pytest.skip("quarto (for its Typst) or pdftotext is not on PATH")
    source = tmp_path / "payloads.typ"
    source.write_text(
        '#set page(width: 40cm, height: auto)\n#set text(font: "DejaVu Sans")\n'
        + "\n\n".join(f"Value {i}: {escape.typst(p)} end" for i, p in enumerate(PAYLOADS))
        + "\n",
        encoding="utf-8",
    )
    subprocess.run([quarto, "typst", "compile", str(source)], check=True, capture_output=True)
    text = subprocess.run(
        [pdftotext, "-layout", str(source.with_suffix(".pdf")), "-"], check=True, capture_output=True, text=True
    ).stdout
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    for i, payload in enumerate(PAYLOADS):
        assert f"Value {i}: {' '.join(payload.split())} end" in lines


# --- chart labels -----------------------------------------------------------------


@pytest.mark.parametrize("payload", [*PAYLOADS, "$", "$$", "\\$x$", "cost $5 or $6"])
def test_chart_labels_are_never_mathtext(payload):
    shown, is_math = Text()._preprocess_math(escape.chart_label(payload))
    assert (shown, is_math) == (payload, False)


# --- CSV --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+phone", "'+phone"),
        ("-15 min", "'-15 min"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),
        ("-15", "-15"),
        ("+3.5", "+3.5"),
        ("-1e3", "-1e3"),
        ("'quoted", "'quoted"),
        ("OT01", "OT01"),
        ("", ""),
    ],
)
def test_csv_cells_a_spreadsheet_would_evaluate_are_prefixed(cell, written):
    assert escape.csv_cell(cell) == written
    assert escape.csv_restore(escape.csv_cell(cell)) == cell


def test_csv_columns_keep_numbers_missing_values_and_categories():
    table = pd.DataFrame(
        {
            "text": ["=1+1", None, "OT1", "-5"],
            "number": [-15.0, 2.5, 0.0, -1.0],
            "count": pd.array([-1, 2, None, 4], dtype="Int64"),
            "kind": pd.Categorical(["@x", "planned", "@x", "planned"]),
        }
    )
    safe = escape.csv_table(table)
    assert safe["text"].tolist() == ["'=1+1", None, "OT1", "-5"]
    pd.testing.assert_series_equal(safe["number"], table["number"])
    pd.testing.assert_series_equal(safe["count"], table["count"])
    assert safe["kind"].tolist() == ["'@x", "planned", "'@x", "planned"]
    assert table["text"].tolist()[0] == "=1+1"  # the table given is not changed


def test_every_csv_written_is_safe_to_open(tmp_path):
    table = pd.DataFrame({"minutes": [-15, 60], "site": ["=cmd|' /C calc'!A0", "-x"], "share": [-0.5, 1.5]})
    write_csv(table, tmp_path / "out.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8"))))
    assert rows == [["minutes", "site", "share"], ["-15", "'=cmd|' /C calc'!A0", "-0.5"], ["60", "'-x", "1.5"]]
