"""Choosing a renderer, the nbconvert fallback, and preparing a folder for
Quarto (the render itself is checked in test_quarto.py, where Quarto is)."""

from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from mentoring_eval import render

ROOT = Path(__file__).resolve().parents[1]


def test_auto_prefers_quarto_when_present(monkeypatch):
    monkeypatch.setattr(render, "find_quarto", lambda: "/usr/bin/quarto")
    assert render.choose_renderer("auto") == ("quarto", "Quarto found")


def test_auto_falls_back_to_nbconvert_and_says_why(monkeypatch):
    monkeypatch.setattr(render, "find_quarto", lambda: None)
    assert render.choose_renderer("auto") == ("nbconvert", "Quarto not found")


def test_an_explicit_renderer_is_kept():
    assert render.choose_renderer("none")[0] == "none"
    with pytest.raises(ValueError):
        render.choose_renderer("pandoc")


def test_requesting_quarto_without_it_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(render, "find_quarto", lambda: None)
    with pytest.raises(render.RenderError, match="quarto command was not found"):
        render.render_with_quarto(tmp_path / "r.ipynb", tmp_path, ROOT)


def test_nbconvert_writes_one_html_file_with_the_code_hidden(tmp_path):
    notebook = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("secret_variable_name = 1")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": "Visible **finding**", "text/plain": "x"})
    ]
    notebook.cells = [code]
    source = tmp_path / "04_report.ipynb"
    nbformat.write(notebook, source)
    rendered = render.render_with_nbconvert(source, tmp_path)
    html = rendered.outputs[0].read_text()
    assert rendered.outputs == (tmp_path / "report.html",)
    assert "Visible" in html and "secret_variable_name" not in html


def report_like_notebook(folder: Path) -> Path:
    """A notebook in <folder>/notebooks/ that shows a figure of <folder>/figures/, as the report does."""
    notebook = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("Markdown(...)")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"text/markdown": '![Minutes](../figures/dose.svg){#fig-dose fig-alt="Bars"}', "text/plain": "x"},
        )
    ]
    notebook.cells = [nbformat.v4.new_markdown_cell("See @fig-dose and [the web](https://example.org)."), code]
    path = folder / "notebooks" / "04_report.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    return path


def test_with_quarto_hidden_auto_falls_back_to_nbconvert_and_says_so(monkeypatch, tmp_path):
    """Quarto absent from PATH and from the environment: the report is still rendered."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(render.sys, "executable", str(tmp_path / "python"))
    assert render.find_quarto() is None
    executed = report_like_notebook(tmp_path)
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "dose.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    rendered = render.render(executed, tmp_path, ROOT, "auto")
    assert (rendered.renderer, rendered.note, rendered.outputs) == (
        "nbconvert",
        "Quarto not found",
        (tmp_path / "report.html",),
    )
    assert "Figure 1" in rendered.outputs[0].read_text(encoding="utf-8")


def test_links_are_rebased_for_a_document_moved_up_a_folder(tmp_path):
    text = "![a](../figures/x.svg){#fig-x} [b](02.ipynb) [c](https://example.org/y.svg) [d](#tbl-t) ![e](/abs/z.svg)"
    assert render.rebase_links(text, tmp_path / "notebooks", tmp_path) == (
        "![a](figures/x.svg){#fig-x} [b](notebooks/02.ipynb) [c](https://example.org/y.svg) [d](#tbl-t) "
        "![e](/abs/z.svg)"
    )


def test_a_link_to_another_page_is_rebased_for_where_the_article_is_rendered(tmp_path):
    """Quarto's article lands in report/quarto/: a link to the site pages'
    index must reach report/sites/index.html from there. Written for the
    project folder instead, Quarto would copy the index beside the article
    at render time, without its libraries, and the copy would go stale."""
    text = "[pages](../sites/index.html#sites) ![chart](../figures/x.svg) [notebook](02.ipynb)"
    report = tmp_path / "report"
    assert render.rebase_links(text, report / "notebooks", report, report / "quarto") == (
        "[pages](../sites/index.html#sites) ![chart](figures/x.svg) [notebook](notebooks/02.ipynb)"
    )


def test_the_article_is_staged_at_the_folder_root_with_its_appendix_linked(tmp_path):
    executed = report_like_notebook(tmp_path)
    appendix = [{"notebook": "notebooks/01_clean.ipynb", "title": "Appendix A: cleaning"}]
    staged = nbformat.read(render.stage_article(executed, tmp_path, appendix), as_version=4)
    assert render.ARTICLE == "report.ipynb" and (tmp_path / "report.ipynb").is_file()
    assert staged.cells[1].outputs[0]["data"]["text/markdown"].startswith("![Minutes](figures/dose.svg)")
    last = staged.cells[-1].source
    assert last.startswith("## Computational appendix")
    assert "[Appendix A: cleaning](notebooks/01_clean.ipynb)" in last
    assert (
        nbformat.read(executed, as_version=4)
        .cells[1]
        .outputs[0]["data"]["text/markdown"]
        .startswith("![Minutes](../figures/")
    )  # the executed notebook itself is left as papermill wrote it


def test_the_project_template_is_a_manuscript_of_a_report_folder():
    """Every path of the template is relative to a report folder; the PDF is A4
    Typst; nothing is executed."""
    template = render.load_quarto_template(ROOT)
    assert template["project"] == {"type": "manuscript", "output-dir": "quarto"}
    assert template["manuscript"]["article"] == render.ARTICLE
    assert [entry["notebook"] for entry in template["manuscript"]["notebooks"]] == [
        "notebooks/01_clean.ipynb",
        "notebooks/02_site_metrics.ipynb",
        "notebooks/03_figures.ipynb",
    ]
    assert template["execute"]["enabled"] is False
    assert template["format"]["typst"]["papersize"] == "a4"
    assert template["format"]["typst"]["pdf-standard"] == "ua-1"
    # The print rules and the HTML theme are the package's theme files, staged where the template names them.
    rules = template["format"]["typst"]["include-in-header"]["file"]
    assert rules == f"{render.THEME_FOLDER}/print.typ"
    assert "breakable" in (render.THEME_SOURCE / "print.typ").read_text(encoding="utf-8")
    assert template["format"]["html"]["theme"] == ["default", f"{render.THEME_FOLDER}/report.scss"]


def test_the_theme_is_staged_where_the_quarto_projects_name_it(tmp_path):
    staged = render.stage_theme(tmp_path)
    assert staged == tmp_path / render.THEME_FOLDER
    for name in render.THEME_FILES:
        assert (staged / name).read_bytes() == (render.THEME_SOURCE / name).read_bytes()


def test_pages_written_without_quarto_underline_their_links_and_show_focus():
    """A link inside a sentence is told from its text by more than colour
    (nbconvert's template removes the underline); the keyboard's place shows."""
    page = render.with_page_style("<html><head><title>t</title></head><body></body></html>")
    style = page[page.index("<style>") : page.index("</style>")]
    assert page.index("</style>") < page.index("</head>")
    assert ".jp-RenderedHTMLCommon a:link" in style and "text-decoration: underline" in style
    assert ":focus-visible" in style


def test_a_folder_missing_an_appendix_notebook_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(render, "find_quarto", lambda: "/bin/false")
    executed = report_like_notebook(tmp_path)
    with pytest.raises(render.RenderError, match="notebooks/01_clean.ipynb"):
        render.render_with_quarto(executed, tmp_path, ROOT)


def test_quartos_last_error_lines_without_colours_or_stack_trace():
    output = (
        "\x1b[1m\x1b[34m[1/4] report/notebooks/01_clean.ipynb\x1b[39m\x1b[22m\n"
        "\x1b[91mERROR: NotFound: No such file or directory (os error 2): readfile 'x.ipynb'\n"
        "Path: x.ipynb\n\nStack trace:\n    at async renderFiles (file:///q/render-files.ts:332:9)\n"
        "    at async quarto (file:///q/quarto.ts:198:5)\x1b[39m\n"
    )
    assert render.quarto_error(output) == (
        "  [1/4] report/notebooks/01_clean.ipynb\n"
        "  ERROR: NotFound: No such file or directory (os error 2): readfile 'x.ipynb'\n  Path: x.ipynb"
    )


# ---------------------------------------------------------------- no script, and a policy that forbids them


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def test_nbconvert_pages_carry_no_script_and_forbid_scripts(tmp_path):
    notebook = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("display(...)")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(31337)", "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": "Some $x$ math", "text/plain": "x"}),
    ]
    notebook.cells = [code]
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    source = tmp_path / "04_report.ipynb"
    nbformat.write(notebook, source)
    page = render.render_with_nbconvert(source, tmp_path).outputs[0].read_text()
    parsed = _Elements()
    parsed.feed(page)
    assert [tag for tag, _ in parsed.elements if tag == "script"] == []
    assert "alert(31337)" not in page
    head = [tag for tag, _ in parsed.elements]
    first_meta = parsed.elements[head.index("head") + 1]
    assert first_meta == ("meta", {"http-equiv": "Content-Security-Policy", "content": render.CONTENT_SECURITY_POLICY})
    policy = dict(part.strip().split(" ", 1) for part in render.CONTENT_SECURITY_POLICY.split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'none'"


def test_an_escaped_reference_is_not_resolved(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("See @tbl-t, not \\@tbl-t.\n\n| a |\n|---|\n| 1 |\n\n: T {#tbl-t}")]
    resolved = render.resolve_cross_references(notebook, tmp_path)
    assert "See Table 1, not \\@tbl-t." in resolved.cells[0].source


def test_escaped_links_are_text_and_are_not_rebased():
    from mentoring_eval import escape

    text = escape.markdown("[x](javascript:alert(1)) ![y](img.png) [z](page.html)") + " [real](page.html)"
    rebased = render.rebase_links(text, Path("/r/notebooks"), Path("/r"))
    assert (
        rebased
        == escape.markdown("[x](javascript:alert(1)) ![y](img.png) [z](page.html)") + " [real](notebooks/page.html)"
    )


def test_with_the_code_hidden_only_what_may_scroll_is_a_tab_stop():
    """nbconvert makes every paragraph a tab stop; a keyboard user should reach
    the links, and still be able to scroll a wide table or chart."""
    page = (
        '<div class="jp-Notebook"><div class="jp-Cell-inputWrapper" tabindex="0"><p>Text</p></div>'
        '<div class="jp-OutputArea-output" tabindex="0"><p>More <a href="x.html">x</a></p></div>'
        '<div class="jp-OutputArea-output" tabindex="0"><table><tr><td>1</td></tr></table></div></div>'
    )
    assert render.without_needless_tab_stops(page).count('tabindex="0"') == 1
    assert '<div class="jp-OutputArea-output" tabindex="0"><table>' in render.without_needless_tab_stops(page)
