"""Turning the executed report notebook into a report people read.

Quarto renders it (HTML and Typst PDF, the stage notebooks as a
computational appendix) when the ``quarto`` command exists; otherwise
nbconvert writes one self-contained HTML file with the code hidden. Neither
re-executes anything: papermill already did.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mentoring_eval.escape import html_text, markdown

if TYPE_CHECKING:  # imported where used: importing it costs a second, and a no-change rerun needs none
    import nbformat

RENDERERS = ("auto", "quarto", "nbconvert", "none")
NBCONVERT_REPORT = "report.html"
QUARTO_OUTPUT = "quarto"  # inside the report folder, as _quarto.yml says


class RenderError(Exception):
    """The renderer failed or is not available."""


@dataclass(frozen=True)
class Rendered:
    renderer: str
    outputs: tuple[Path, ...]
    note: str = ""


def find_quarto() -> str | None:
    """The quarto command: on PATH, or installed by quarto-cli into this environment."""
    beside_python = Path(sys.executable).with_name("quarto")
    return shutil.which("quarto") or (str(beside_python) if beside_python.exists() else None)


def choose_renderer(requested: str) -> tuple[str, str]:
    """The renderer to use and why."""
    if requested not in RENDERERS:
        raise ValueError(f"unknown renderer {requested!r}; choose one of {', '.join(RENDERERS)}")
    if requested != "auto":
        return requested, "as requested"
    if find_quarto():
        return "quarto", "Quarto found"
    return "nbconvert", "Quarto not found"


# Quarto's cross-reference syntax, as the report writes it (see mentoring_eval.report).
FIGURE_DEFINITION = re.compile(
    r'!\[(?P<caption>[^\]]*)\]\((?P<path>[^)\s]+)\)\{#(?P<label>fig-[\w-]+)(?:\s+fig-alt="(?P<alt>[^"]*)")?\}'
)
TABLE_CAPTION = re.compile(r"^: (?P<caption>.+?) \{#(?P<label>tbl-[\w-]+)\}[ \t]*$", re.MULTILINE)
REFERENCE = re.compile(r"(?<!\\)@(?P<label>(?:fig|tbl)-[\w-]+)")  # not an escaped \@ (text from the records)
KIND_NAMES = {"fig": "Figure", "tbl": "Table"}


def front_matter(notebook: nbformat.NotebookNode) -> dict:
    """The YAML front matter of the notebook's first raw cell (Quarto's title
    and options), or {}."""
    import yaml

    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "raw" or not first.source.lstrip().startswith("---"):
        return {}
    return yaml.safe_load(first.source.strip().strip("-")) or {}


def retitled(notebook: nbformat.NotebookNode, title: str) -> nbformat.NotebookNode:
    """The notebook with ``title`` in its front matter and metadata (Quarto
    and nbconvert both take the page's title from there). The title may hold
    the trial's name from its description (``trial.yml``): the front matter's
    is Markdown to Quarto, so it is escaped there; the metadata's is plain
    text, which nbconvert's template escapes for the page's ``<title>``."""
    import yaml

    matter = {**front_matter(notebook), "title": markdown(title)}
    notebook.cells[0].source = "---\n" + yaml.safe_dump(matter, sort_keys=False, allow_unicode=True) + "---"
    notebook.metadata["title"] = title
    return notebook


def retitle_notebook_file(path: Path, title: str) -> None:
    """:func:`retitled`, for an executed notebook on disk (written only if the title changes)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    if front_matter(notebook).get("title") != markdown(title):
        nbformat.write(retitled(notebook, title), path)


def with_title(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Quarto shows the front matter's title and subtitle; without Quarto they
    become the page's title and first heading."""
    from nbformat.v4 import new_markdown_cell

    matter = front_matter(notebook)
    if "title" in matter:
        # The front matter's title is Markdown; a plain one set with it (retitled) is the page's <title>.
        notebook.metadata.setdefault("title", matter["title"])
        heading = f"# {matter['title']}" + (f"\n\n*{matter['subtitle']}*" if matter.get("subtitle") else "")
        notebook.cells.insert(0, new_markdown_cell(heading, id="report-title"))
    return notebook


def _markdown_texts(notebook: nbformat.NotebookNode):
    """Every piece of Markdown a reader sees, in order: markdown cells and the
    Markdown outputs of code cells; yields (container, key) to read or replace."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            yield cell, "source"
        elif cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if "text/markdown" in output.get("data", {}):
                    yield output["data"], "text/markdown"


def cross_reference_numbers(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """``{"fig-dose": "Figure 1", "tbl-table4": "Table 1", ...}`` in order of definition."""
    labels: list[str] = []
    for container, key in _markdown_texts(notebook):
        text = container[key]
        found = [(m.start(), m["label"]) for m in FIGURE_DEFINITION.finditer(text)]
        found += [(m.start(), m["label"]) for m in TABLE_CAPTION.finditer(text)]
        labels += [label for _, label in sorted(found)]
    counters: dict[str, int] = {}
    numbers = {}
    for label in labels:
        kind = label.split("-", 1)[0]
        counters[kind] = counters.get(kind, 0) + 1
        numbers[label] = f"{KIND_NAMES[kind]} {counters[kind]}"
    return numbers


def _inline_svg(path: Path) -> str:
    svg = path.read_text(encoding="utf-8")
    return svg[svg.index("<svg") :]


def _figure_html(match: re.Match, number: str, base: Path) -> str:
    alt = html_text(match["alt"] or match["caption"])
    return (
        f'<figure id="{match["label"]}" style="margin:1.5em 0">'
        f'<div role="img" aria-label="{alt}">{_inline_svg(base / match["path"])}</div>'
        f"<figcaption><strong>{number}.</strong> {html_text(match['caption'])}</figcaption></figure>"
    )


def _caption_above_table(text: str, numbers: dict[str, str]) -> str:
    """Pandoc writes a table's caption after it; a reader expects it above."""
    blocks = text.split("\n\n")
    for index, block in enumerate(blocks):
        caption = TABLE_CAPTION.fullmatch(block.strip())
        if caption and index > 0:
            blocks[index] = blocks[index - 1]
            blocks[index - 1] = f"**{numbers[caption['label']]}.** {caption['caption']}"
    return "\n\n".join(blocks)


def resolve_cross_references(notebook: nbformat.NotebookNode, base: Path) -> nbformat.NotebookNode:
    """What Quarto does with figures, table captions and @-references, for
    renderers without it: number them, inline each figure's SVG (so the HTML is
    self-contained) and turn ``@fig-dose`` into ``Figure 1``. ``base`` is the
    folder figure paths are relative to (the executed notebook's)."""
    numbers = cross_reference_numbers(notebook)
    for container, key in list(_markdown_texts(notebook)):
        text = _caption_above_table(container[key], numbers)
        text = REFERENCE.sub(lambda m: numbers.get(m["label"], m[0]), text)
        figure = FIGURE_DEFINITION.fullmatch(text.strip())
        if figure and key == "text/markdown":
            container["text/html"] = _figure_html(figure, numbers[figure["label"]], base)
            del container[key]
        else:
            container[key] = text
    return notebook


SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.DOTALL | re.IGNORECASE)
# The self-contained pages need no script, nothing from the web and no form:
# styles and images are inline (data: URIs, SVG). Declared in the page, the
# policy holds wherever the file is opened (a browser reading a local file
# has no server to send the header), so that even markup that escaped the
# escaping (mentoring_eval.escape) could not run a script or load anything.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def without_scripts(page: str) -> str:
    """Drop every script of nbconvert's template: those it loads from CDNs
    (require.js, MathJax, Mermaid) and its inline ones (widgets, JavaScript
    outputs). The report needs none, a report read offline or archived must
    not depend on them, and a page with no script runs nothing."""
    return SCRIPT.sub("", page)


def with_content_security_policy(page: str) -> str:
    """``page`` declaring :data:`CONTENT_SECURITY_POLICY` first thing in its ``<head>``."""
    head = _HEAD.search(page)
    if head is None:
        raise ValueError("the page has no <head> to declare its Content-Security-Policy in")
    return f"{page[: head.end()]}\n{CSP_META}{page[head.end() :]}"


def page_style() -> str:
    """The stylesheet of the pages nbconvert renders (the report, the site pages and their index)."""
    return (THEME_SOURCE / PAGE_STYLESHEET).read_text(encoding="utf-8")


def with_page_style(page: str) -> str:
    """``page`` with :func:`page_style` last in its ``<head>`` (after the
    template's own styles, which it amends)."""
    end = page.lower().find("</head>")
    if end < 0:
        raise ValueError("the page has no </head> to put its style in")
    return f"{page[:end]}<style>\n{page_style()}</style>\n{page[end:]}"


def without_needless_tab_stops(page: str) -> str:
    """nbconvert makes every cell's input and every output a tab stop (so that
    a reader can scroll wide code by keyboard). With the code hidden, a
    keyboard user then tabs through every paragraph before reaching a link.
    Only what may scroll sideways (a table, a chart, code) stays a tab stop."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, features="html.parser")
    for element in soup.select("div.jp-Cell-inputWrapper[tabindex], div.jp-OutputArea-output[tabindex]"):
        if not element.select_one("table, svg, img, pre"):
            del element["tabindex"]
    return str(soup)


def html_exporter(embed_images: bool = True):
    """nbconvert's exporter as the report uses it: code hidden, images inline.
    Building one loads its templates; a caller rendering many pages keeps one.
    A page with no image asks for none to be embedded (``embed_images``):
    embedding parses each raw HTML tag of the Markdown on its own, which
    closes an inline ``<span>`` before its text."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="lab",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_raw=True,
        embed_images=embed_images,
    )


def self_contained_html(
    notebook: nbformat.NotebookNode, base: Path, exporter=None, target_folder: Path | None = None
) -> str:
    """An executed notebook as one self-contained HTML page: cross-references
    resolved, figures inline, no code, no script, and a Content-Security-Policy
    that forbids scripts. ``base`` is
    the folder the notebook's figure paths and links are relative to; links
    are rewritten for a page in ``target_folder`` when given."""
    notebook = with_title(resolve_cross_references(notebook, base))
    if target_folder is not None:  # links written for the notebook's folder, for the page's
        for container, key in _markdown_texts(notebook):
            container[key] = rebase_links(container[key], base, target_folder)
    body, _ = (exporter or html_exporter()).from_notebook_node(notebook, resources={"metadata": {"name": "report"}})
    return with_page_style(with_content_security_policy(without_scripts(without_needless_tab_stops(body))))


def write_replacing(target: Path, text: str) -> None:
    """Write ``text`` to a temporary name beside ``target``, then rename: a
    reader never sees half a page, and the run's snapshot keeps the old one."""
    scratch = target.with_name(f".{target.name}.tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, target)


def render_with_nbconvert(executed_report: Path, report_dir: Path) -> Rendered:
    """One self-contained HTML file: figures are inline SVG, code is hidden."""
    import nbformat

    target = report_dir / NBCONVERT_REPORT
    write_replacing(
        target,
        self_contained_html(
            nbformat.read(executed_report, as_version=4), executed_report.parent, target_folder=report_dir
        ),
    )
    return Rendered("nbconvert", (target,))


# ---------------------------------------------------------------- Quarto

QUARTO_TEMPLATE = "quarto/report.yml"  # in the project: the report's Quarto project, as a report folder holds it
PROJECT_FILE = "_quarto.yml"  # Quarto's name for a project's file: the template, written into the report folder
# The look shared by every page and PDF Quarto renders (the report, its
# appendix, the site pages): an SCSS layer over Quarto's theme and the Typst
# print rules. Kept in the package, copied into each folder Quarto renders,
# where the Quarto projects name them (Typst reads no file above its root).
THEME_SOURCE = Path(__file__).parent / "theme"
THEME_FOLDER = "_theme"  # Quarto renders no file in a folder whose name starts with "_"
THEME_FILES = ("report.scss", "print.typ")
PAGE_STYLESHEET = "pages.css"  # the pages nbconvert renders
ARTICLE = "report.ipynb"  # the article, staged at the root of the folder Quarto renders
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
# A link or image: not one whose brackets are escaped (\[x\](y) is text from the records, escape.markdown).
MARKDOWN_TARGET = re.compile(r"(?<!\\)(?P<head>!?\[(?:\\.|[^\\\]\n])*\]\()(?P<target>[^)\s]+)(?P<tail>[)\s])")


def load_quarto_template(project_root: Path) -> dict:
    """The project's ``quarto/report.yml``: the report's manuscript, with paths
    relative to a report folder (see :func:`render_quarto_manuscript`)."""
    import yaml

    return yaml.safe_load((project_root / QUARTO_TEMPLATE).read_text(encoding="utf-8"))


def rebase_links(text: str, source: Path, target: Path, pages_target: Path | None = None) -> str:
    """Relative Markdown links and images written for a document in folder
    ``source``, rewritten for the same document moved to folder ``target``;
    with ``pages_target``, a link to an HTML page is rewritten for that
    folder instead (see :func:`stage_article`)."""

    def rebased(match: re.Match) -> str:
        link = match["target"]
        if re.match(r"[a-z][a-z0-9+.-]*:|[#/]", link, re.IGNORECASE):  # a URL, an anchor, an absolute path
            return match[0]
        is_page = not match["head"].startswith("!") and link.split("#", 1)[0].endswith(".html")
        folder = pages_target if pages_target is not None and is_page else target
        moved = Path(os.path.relpath(source / link, folder)).as_posix()
        return f"{match['head']}{moved}{match['tail']}"

    return MARKDOWN_TARGET.sub(rebased, text)


def appendix_markdown(notebooks: list[dict]) -> str:
    """The article's last section: the notebooks of its computational appendix,
    linked (Quarto links each to its rendered page) and named for print."""
    lines = [
        "## Computational appendix",
        "",
        "The executed notebooks this report was computed with, each with its code and outputs:",
        "",
    ]
    lines += [f"- [{entry['title']}]({entry['notebook']}) (`{entry['notebook']}`)" for entry in notebooks]
    return "\n".join(lines)


def stage_article(
    executed: Path, folder: Path, notebooks: list[dict], article: str = ARTICLE, output_dir: Path | None = None
) -> Path:
    """The executed notebook as a Quarto manuscript's article: at the root of
    ``folder`` (Quarto 1.10 doubles the path of an article in a subfolder),
    its relative links rebased, and a last section linking the appendix.

    A link to another HTML page (the site pages' index) is rebased for the
    folder the article's page is rendered to (``output_dir``), so that it
    reaches the page where it lies: Quarto leaves such a link as it is, where
    one to a file inside ``folder`` would make it copy the page beside the
    article at render time, a copy without its libraries that goes stale."""
    import nbformat
    from nbformat.v4 import new_markdown_cell

    notebook = nbformat.read(executed, as_version=4)
    for container, key in _markdown_texts(notebook):
        container[key] = rebase_links(container[key], executed.parent, folder, output_dir)
    if notebooks:
        notebook.cells.append(new_markdown_cell(appendix_markdown(notebooks), id="computational-appendix"))
    staged = folder / article
    scratch = staged.with_name(f".{staged.name}.tmp")
    nbformat.write(notebook, scratch)
    os.replace(scratch, staged)
    return staged


def stage_theme(folder: Path) -> Path:
    """Copy the theme (:data:`THEME_FILES`) into ``folder``/_theme, as the
    Quarto projects name it; each file replaced, never rewritten in place."""
    target = folder / THEME_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for name in THEME_FILES:
        write_replacing(target / name, (THEME_SOURCE / name).read_text(encoding="utf-8"))
    return target


def quarto_error(output: str, lines: int = 12) -> str:
    """Quarto's own last error lines, without colour codes or its stack trace."""
    kept = [
        line.rstrip()
        for line in ANSI_ESCAPE.sub("", output).splitlines()
        if line.strip() and not line.startswith("    at ") and line.strip() != "Stack trace:"
    ]
    return "\n".join("  " + line for line in kept[-lines:])


def remove(path: Path) -> None:
    """Remove a file or a folder, if there."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def render_quarto_manuscript(executed: Path, folder: Path, template: dict, article: str = ARTICLE) -> Rendered:
    """Render an executed notebook with Quarto into ``folder``/<output-dir>: the
    article as HTML and as a Typst PDF, with the template's notebooks as its
    computational appendix. Nothing is executed.

    ``folder`` becomes a Quarto manuscript project: the template is written
    into it as its ``_quarto.yml`` and the article is staged at its root.
    Everything the article and its notebooks link to must lie inside
    ``folder``: Typst reads no file above the project's root. Works for any
    folder, inside the project or not, with spaces in its path. ``article``
    names the staged article and so the PDF (``report.ipynb`` gives
    ``report.pdf``; the HTML is always ``index.html``).
    """
    import yaml

    quarto = find_quarto()
    if quarto is None:
        raise RenderError("the quarto command was not found; use --renderer nbconvert")
    config = {**template, "manuscript": {**template.get("manuscript", {}), "article": article}}
    notebooks = config["manuscript"].get("notebooks", [])
    missing = [entry["notebook"] for entry in notebooks if not (folder / entry["notebook"]).is_file()]
    if missing:
        raise RenderError(f"the Quarto appendix names notebooks that are not in {folder}: {', '.join(missing)}")
    output_dir = folder / config["project"]["output-dir"]
    # Start from nothing: Quarto then writes new files rather than rewriting
    # old ones, which the run's last-good snapshot (hard links) relies on.
    for stale in (output_dir, folder / ".quarto"):
        remove(stale)
    stage_article(executed, folder, notebooks, article, output_dir)
    stage_theme(folder)
    project_file = folder / PROJECT_FILE
    scratch = project_file.with_name(f".{project_file.name}.tmp")
    scratch.write_text(
        "# Written by mentoring_eval from the project's quarto/report.yml: `quarto render` here renders "
        "this folder again.\n" + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    os.replace(scratch, project_file)
    completed = subprocess.run([quarto, "render"], cwd=folder, capture_output=True, text=True)
    remove(folder / ".quarto")  # Quarto's scratch: caches nothing a rerun needs (nothing is executed)
    if completed.returncode != 0:
        raise RenderError(f"quarto render failed in {folder}:\n{quarto_error(completed.stdout + completed.stderr)}")
    html_page = output_dir / "index.html"  # a manuscript's article is always its index.html
    pdf = output_dir / Path(article).with_suffix(".pdf").name
    missing = [path for path in (html_page, pdf) if not path.is_file()]
    if missing:
        raise RenderError(
            f"quarto render did not write {', '.join(map(str, missing))}:\n"
            f"{quarto_error(completed.stdout + completed.stderr)}"
        )
    return Rendered("quarto", (html_page, pdf))


def render_with_quarto(executed_report: Path, report_dir: Path, project_root: Path) -> Rendered:
    """The report folder (the default one or any other) as the project's manuscript."""
    return render_quarto_manuscript(executed_report, report_dir, load_quarto_template(project_root))


def render(executed_report: Path, report_dir: Path, project_root: Path, requested: str = "auto") -> Rendered:
    renderer, why = choose_renderer(requested)
    if renderer == "none":
        return Rendered("none", (executed_report,), "not rendered, as requested")
    if renderer == "quarto":
        return replace(render_with_quarto(executed_report, report_dir, project_root), note=why)
    return replace(render_with_nbconvert(executed_report, report_dir), note=why)
