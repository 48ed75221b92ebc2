"""Turning the executed report notebook into a report people read.

Quarto renders it (HTML and Typst PDF, the stage notebooks as a
computational appendix) when the ``quarto`` command exists; otherwise
nbconvert writes one self-contained HTML file with the code hidden. Neither
re-executes anything: papermill already did.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

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


def render_with_nbconvert(executed_report: Path, report_dir: Path) -> Rendered:
    """One self-contained HTML file: figures are inline SVG, code is hidden."""
    from nbconvert import HTMLExporter

    notebook = nbformat.read(executed_report, as_version=4)
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": "report"}})
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
    for command in commands:
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        if completed.returncode != 0:
            last_lines = "\n".join(completed.stderr.strip().splitlines()[-15:])
            raise RenderError(f"quarto failed ({' '.join(command[1:])}):\n{last_lines}")
    outputs = sorted(output_dir.glob("*.html")) + sorted(output_dir.glob("*.pdf"))
    return Rendered("quarto", tuple(outputs))


def render(executed_report: Path, report_dir: Path, project_root: Path, requested: str = "auto") -> Rendered:
    renderer, why = choose_renderer(requested)
    if renderer == "none":
        return Rendered("none", (executed_report,), "not rendered, as requested")
    if renderer == "quarto":
        return replace(render_with_quarto(executed_report, report_dir, project_root), note=why)
    return replace(render_with_nbconvert(executed_report, report_dir), note=why)
