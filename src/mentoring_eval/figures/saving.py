"""Charts as files and notebook output: SVG and PNG byte-identical for
identical figures (fixed SVG hash salt, no date, no software tag), the
chart's title and alt text embedded in the SVG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib as mpl
from matplotlib.figure import Figure

from mentoring_eval.figures.style import PNG_DPI, STYLE, Chart


def figure_to_svg(figure: Figure, *, title: str | None = None, description: str | None = None) -> str:
    """The figure as SVG text, byte-identical for identical figures: fixed
    hash salt, no date. ``title`` and ``description`` become the SVG's
    ``<title>`` and ``<desc>`` (what screen readers announce)."""
    buffer = io.StringIO()
    with mpl.rc_context(STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _with_accessible_name(buffer.getvalue(), title, description)


def _with_accessible_name(svg: str, title: str | None, description: str | None) -> str:
    """Insert ``<title>`` and ``<desc>`` as the first children of the root
    ``<svg>`` element, where assistive technology looks for them."""
    elements = "".join(
        f"\n <{tag}>{escape(text)}</{tag}>" for tag, text in (("title", title), ("desc", description)) if text
    )
    if not elements:
        return svg
    root_start = svg.index("<svg")
    root_end = svg.index(">", root_start) + 1
    return svg[:root_end] + elements + svg[root_end:]


def chart_to_svg(chart: Chart) -> str:
    """The chart as SVG text with its title and alt text embedded (drawn
    once per chart: see :attr:`Chart.svg`)."""
    return chart.svg


def save_figure(
    figure: Figure, stem: Path, *, title: str | None = None, description: str | None = None, dpi: int = PNG_DPI
) -> tuple[Path, Path]:
    """Write ``stem.svg`` and ``stem.png``, both byte-identical for identical
    figures (the PNG without its Software tag, at a fixed dpi)."""
    return _write_svg_and_png(figure, Path(stem), figure_to_svg(figure, title=title, description=description), dpi)


def save_chart(chart: Chart, folder: Path, *, dpi: int = PNG_DPI) -> tuple[Path, Path]:
    """Write ``<folder>/<chart.name>.svg`` and ``.png``, the SVG carrying the
    chart's title and alt text (the chart's one SVG drawing, which the
    notebook shows too)."""
    return _write_svg_and_png(chart.figure, Path(folder) / chart.name, chart.svg, dpi)


def _write_svg_and_png(figure: Figure, stem: Path, svg: str, dpi: int) -> tuple[Path, Path]:
    svg_path, png_path = stem.with_name(stem.name + ".svg"), stem.with_name(stem.name + ".png")
    svg_path.write_text(svg, encoding="utf-8", newline="\n")
    with mpl.rc_context(STYLE):
        figure.savefig(png_path, format="png", dpi=dpi, metadata={"Software": None})
    return svg_path, png_path


@dataclass(frozen=True)
class NotebookSVG:
    """A chart as Jupyter shows it: ``image/svg+xml`` output (the SVG text,
    which nbval compares exactly) and, as ``text/plain``, the alt text, so a
    text-only front end still says what the chart shows."""

    svg: str
    alt_text: str

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return self.alt_text


def svg_for_notebook(chart: Chart) -> NotebookSVG:
    """Display object for a notebook cell: the chart's SVG from its root
    element on (the XML declaration and DOCTYPE do not belong inside HTML)."""
    svg = chart_to_svg(chart)
    return NotebookSVG(svg[svg.index("<svg") :], chart.alt_text)
