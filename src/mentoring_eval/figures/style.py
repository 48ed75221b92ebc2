"""The charts' shared style: colours, fonts, sizes, the :class:`Chart`
record, and the figure, axes and legend helpers every chart uses.

Figures are built on a bare ``Figure`` (not pyplot), inside
``matplotlib.rc_context(STYLE)``, so building a chart never touches global
state.
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

import matplotlib as mpl
from cycler import cycler
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mentoring_eval.figures.words import fmt_number

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the
# common colour-vision deficiencies.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}

FIGURE_WIDTH_IN = 6.8  # A4 text width (210 mm less 2 × 25 mm margins ≈ 6.3 in) plus a little
MAX_FIGURE_HEIGHT_IN = 9.5  # leaves room for a caption on an A4 page
PNG_DPI = 200
SVG_HASH_SALT = "mentoring-eval"  # fixes the ids matplotlib would otherwise derive at random
FONT_SIZE_PT = 9  # the smallest text on any chart: legible when printed at A4 width
MAX_SITE_LABELS = 40  # more than this on one axis and 9 pt labels collide
POINT_SIZE_PT = 7.0  # markers of the scatter and strip plots
TITLE_WRAP_CHARS = 64  # wider than this, an 11 pt bold title overruns 6.8 in beside the y labels

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: same glyphs on every machine
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "xtick.labelsize": FONT_SIZE_PT,
    "ytick.labelsize": FONT_SIZE_PT,
    "legend.fontsize": FONT_SIZE_PT,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO.values())),
    "image.cmap": "cividis",
    "hatch.linewidth": 0.8,
    "svg.fonttype": "path",  # text drawn as paths: looks the same without the font installed
    "svg.hashsalt": SVG_HASH_SALT,
    "figure.dpi": 100,
}

EXPECTED_LINE_STYLE: dict[str, Any] = {"color": OKABE_ITO["black"], "linestyle": "--", "linewidth": 1.2}


@dataclass(frozen=True, eq=False)
class Chart:
    """One chart of the report and the words that go with it.

    ``name`` is the stable file stem (``dose_by_site.svg``) and figure label;
    ``alt_text`` describes what the chart shows, with its numbers, for people
    who cannot see it; ``caption`` says how to read it.

    A chart is finished when its builder returns (the layout frozen, every
    label placed), so its SVG is drawn once, on first use, and shared by the
    file and the notebook's copy.
    """

    name: str
    title: str
    figure: Figure
    alt_text: str
    caption: str

    @functools.cached_property
    def svg(self) -> str:
        """The chart as SVG text, its title and alt text embedded."""
        from mentoring_eval.figures.saving import figure_to_svg  # saving imports this module

        return figure_to_svg(self.figure, title=self.title, description=self.alt_text)


_Params = ParamSpec("_Params")


def styled(builder: Callable[_Params, Chart]) -> Callable[_Params, Chart]:
    """Run ``builder`` inside the shared style, leaving global rcParams alone."""

    @functools.wraps(builder)
    def build_in_style(*args: _Params.args, **kwargs: _Params.kwargs) -> Chart:
        with mpl.rc_context(STYLE):
            return builder(*args, **kwargs)

    return build_in_style


def new_figure(height_in: float) -> Figure:
    """A figure of the report's width with its own Agg canvas (no pyplot: no
    figure manager, nothing kept alive between charts)."""
    figure = Figure(figsize=(FIGURE_WIDTH_IN, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def freeze_layout(figure: Figure, max_passes: int = 5) -> None:
    """Run constrained layout until the axes stop moving, then fix them there.

    Constrained layout starts from the current positions, so a colour bar's
    axes can shift by a hundredth of a point between the first and second
    pass, and a PNG at 200 dpi lays out text a little differently from an
    SVG. Fixed positions make every later render, in any order and at any
    dpi, draw the same picture: the SVG for the notebook does not depend on
    whether the PNG was saved first.

    The passes run the layout engine alone (it measures text and ticks; it
    does not draw), and the engine is then removed, not merely switched off:
    ``savefig`` draws once more before saving whenever a figure has any
    layout engine. So a chart is drawn once per file format and no more.
    """
    previous = None
    engine = figure.get_layout_engine()
    for _ in range(max_passes):
        engine.execute(figure)
        positions = [tuple(ax.get_position().bounds) for ax in figure.axes]
        if positions == previous:
            break
        previous = positions
    figure.set_layout_engine(None)


def height_for_rows(n_rows: int, *, per_row_in: float, fixed_in: float, minimum_in: float) -> float:
    """Figure height that grows with the rows shown, up to the page cap."""
    return float(min(MAX_FIGURE_HEIGHT_IN, max(minimum_in, fixed_in + per_row_in * n_rows)))


def style_axes(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    """Title, axis labels and tick size shared by every chart.

    Tick labels are sized here as well as in STYLE because matplotlib creates
    ticks lazily at draw time, possibly outside the style's rc_context.
    """
    ax.set_title(balanced_wrap(title, TITLE_WRAP_CHARS), loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(labelsize=FONT_SIZE_PT)


def balanced_wrap(text: str, max_chars: int) -> str:
    """``text`` on as few lines as ``max_chars`` allows, the lines of even
    length (no single word dangling on the last line)."""
    n_lines = len(textwrap.wrap(text, max_chars))
    width = math.ceil(len(text) / n_lines)
    while len(textwrap.wrap(text, width)) > n_lines:
        width += 1
    return "\n".join(textwrap.wrap(text, width))


def legend_below(figure: Figure, handles: Sequence[Any], *, ncols: int = 4) -> None:
    """Legend under the plot, outside the data, so it can never hide a point;
    at most ``ncols`` entries a row (fewer for long labels)."""
    figure.legend(handles=list(handles), loc="outside lower center", ncols=min(len(handles), ncols))


def expected_handle(expected_minutes: float) -> Line2D:
    return Line2D([], [], label=f"Expected {fmt_number(expected_minutes)} minutes per month", **EXPECTED_LINE_STYLE)


def draw_expected_line(ax: Axes, expected_minutes: float, *, vertical: bool) -> list[Artist]:
    """The expected dose as a dashed line with a direct label at its end
    (top for a vertical line, right for a horizontal one); returns both so
    point labels can avoid them."""
    label = f"expected {fmt_number(expected_minutes)}"
    if vertical:
        line = ax.axvline(expected_minutes, zorder=3, **EXPECTED_LINE_STYLE)
        text = ax.annotate(
            label,
            (expected_minutes, 1.0),
            xycoords=ax.get_xaxis_transform(),
            xytext=(3, -2),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=FONT_SIZE_PT,
        )
    else:
        line = ax.axhline(expected_minutes, zorder=1, **EXPECTED_LINE_STYLE)
        text = ax.annotate(
            label,
            (1.0, expected_minutes),
            xycoords=ax.get_yaxis_transform(),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=FONT_SIZE_PT,
            # Drawn over any bar it meets (a site's last months above the dose): on white, legible.
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
        )
    return [line, text]


def legend_patch(style: dict[str, str]) -> Patch:
    return Patch(facecolor=style["color"], hatch=style["hatch"], edgecolor="black", linewidth=0.5, label=style["label"])


def chart_without_data(name: str, title: str, xlabel: str, ylabel: str, message: str) -> Chart:
    """Empty axes saying why they are empty, so the report still renders."""
    figure = new_figure(3.0)
    ax = figure.add_subplot()
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=FONT_SIZE_PT + 1)
    ax.set_xticks([])
    ax.set_yticks([])
    style_axes(ax, title, xlabel, ylabel)
    freeze_layout(figure)
    return Chart(name, title, figure, f"Empty chart: {message}", message)
