"""Turning the executed report notebook into a report people read.

Quarto renders it (HTML and Typst PDF, the stage notebooks as a
computational appendix) when the ``quarto`` command exists; otherwise
nbconvert writes one self-contained HTML file with the code hidden. Neither
re-executes anything: papermill already did.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

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
    r'!\[(?P<caption>[^\]]*)\]\((?P<path>[^)\s]+)\)\{#(?P<label>fig-[\w-]+)(?:\s+fig-alt="(?P<alt>[^"]*)")?\}')
TABLE_CAPTION = re.compile(r"^: (?P<caption>.+?) \{#(?P<label>tbl-[\w-]+)\}[ \t]*$", re.MULTILINE)
REFERENCE = re.compile(r"@(?P<label>(?:fig|tbl)-[\w-]+)")
KIND_NAMES = {"fig": "Figure", "tbl": "Table"}


def front_matter(notebook: nbformat.NotebookNode) -> dict:
    """The YAML front matter of the notebook's first raw cell (Quarto's title
    and options), or {}."""
    import yaml

    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "raw" or not first.source.lstrip().startswith("---"):
        return {}
    return yaml.safe_load(first.source.strip().strip("-")) or {}


def with_title(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Quarto shows the front matter's title and subtitle; without Quarto they
    become the page's title and first heading."""
    from nbformat.v4 import new_markdown_cell

    matter = front_matter(notebook)
    if "title" in matter:
        notebook.metadata["title"] = matter["title"]
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
    return svg[svg.index("<svg"):]


def _figure_html(match: re.Match, number: str, base: Path) -> str:
    alt = html.escape(match["alt"] or match["caption"], quote=True)
    return (f'<figure id="{match["label"]}" style="margin:1.5em 0">'
            f'<div role="img" aria-label="{alt}">{_inline_svg(base / match["path"])}</div>'
            f'<figcaption><strong>{number}.</strong> {html.escape(match["caption"])}</figcaption></figure>')


def _caption_above_table(text: str, numbers: dict[str, str]) -> str:
    """Pandoc writes a table's caption after it; a reader expects it above."""
    blocks = text.split("\n\n")
    for index, block in enumerate(blocks):
        caption = TABLE_CAPTION.fullmatch(block.strip())
        if caption and index > 0:
            blocks[index] = blocks[index - 1]
            blocks[index - 1] = f'**{numbers[caption["label"]]}.** {caption["caption"]}'
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


REMOTE_SCRIPT = re.compile(r"<script\b[^>]*>(?:(?!</script>).)*?</script>", re.DOTALL | re.IGNORECASE)


def without_remote_scripts(page: str) -> str:
    """Drop the scripts nbconvert's template loads from CDNs (require.js,
    MathJax, Mermaid): the report needs none, and a report read offline or
    archived must not depend on them."""
    return REMOTE_SCRIPT.sub(lambda m: "" if re.search(r"https?://", m[0]) else m[0], page)


def render_with_nbconvert(executed_report: Path, report_dir: Path) -> Rendered:
    """One self-contained HTML file: figures are inline SVG, code is hidden."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = resolve_cross_references(nbformat.read(executed_report, as_version=4), executed_report.parent)
    with_title(notebook)
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, exclude_raw=True, embed_images=True)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": "report"}})
    body = without_remote_scripts(body)
    target = report_dir / NBCONVERT_REPORT
    scratch = target.with_name(f".{target.name}.tmp")
    scratch.write_text(body, encoding="utf-8")
    os.replace(scratch, target)
    return Rendered("nbconvert", (target,))


def render_with_quarto(executed_report: Path, report_dir: Path, project_root: Path) -> Rendered:
    """Quarto renders the project of ``_quarto.yml`` when the report folder is the
    project's own; a report folder elsewhere is rendered as a single document."""
    quarto = find_quarto()
    if quarto is None:
        raise RenderError("the quarto command was not found; use --renderer nbconvert")
    if report_dir.resolve() == (project_root / "report").resolve():
        commands, cwd = [[quarto, "render"]], project_root
        output_dir = report_dir / QUARTO_OUTPUT
    else:
        relative = executed_report.relative_to(report_dir)
        commands = [[quarto, "render", str(relative), "--to", fmt] for fmt in ("html", "typst")]
        cwd, output_dir = report_dir, executed_report.parent
    # Start from nothing: Quarto then writes new files rather than rewriting old
    # ones, which the run's last-good snapshot (hard links) relies on.
    for stale in [output_dir] if output_dir.name == QUARTO_OUTPUT else \
            [executed_report.with_suffix(suffix) for suffix in (".html", ".pdf")]:
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink(missing_ok=True)
    for command in commands:
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        if completed.returncode != 0:
            last_lines = "\n".join(completed.stderr.strip().splitlines()[-15:])
            raise RenderError(f"quarto failed ({' '.join(command[1:])}):\n{last_lines}")
    # The manuscript's article is its index.html; the Typst PDF may sit in a subfolder.
    outputs = sorted(output_dir.glob("*.html")) + sorted(output_dir.rglob("*.pdf"))
    return Rendered("quarto", tuple(outputs))


def render(executed_report: Path, report_dir: Path, project_root: Path, requested: str = "auto") -> Rendered:
    renderer, why = choose_renderer(requested)
    if renderer == "none":
        return Rendered("none", (executed_report,), "not rendered, as requested")
    if renderer == "quarto":
        return replace(render_with_quarto(executed_report, report_dir, project_root), note=why)
    return replace(render_with_nbconvert(executed_report, report_dir), note=why)
