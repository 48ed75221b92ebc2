"""The report's five charts, their shared style, alt text and deterministic files.

Every builder takes metrics-stage tables (see CONTRIBUTING.md) and returns a
:class:`Chart`: the matplotlib ``Figure`` together with the title, the alt
text and the caption computed from the same data, so that a chart can never
be shown without a description that matches it. The alt text goes to
Quarto's ``fig-alt``, to ``<img alt>`` and to the SVG's ``<title>``/``<desc>``.

Figures are built on a bare ``Figure`` (not pyplot), inside
``matplotlib.rc_context(STYLE)``, so building a chart never touches global
state, and rendered with a fixed SVG hash salt and no dates, so that the
same tables always give the same bytes.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec
from xml.sax.saxutils import escape

import matplotlib as mpl
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from mentoring_eval.rounding import round_half_up

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

DOSE_BANDS = ("above", "close", "below")
# Colour and hatching both encode the band, so it survives greyscale printing
# and colour-vision deficiency.
DOSE_BAND_STYLE: dict[str, dict[str, str]] = {
    "above": {"color": OKABE_ITO["blue"], "hatch": "", "label": "Above expected"},
    # cross-hatching, not dots: a dotted pattern alone adds ~150 kB to the SVG
    "close": {"color": OKABE_ITO["orange"], "hatch": "xx", "label": "Close to expected"},
    "below": {"color": OKABE_ITO["vermillion"], "hatch": "///", "label": "Below expected"},
}

MODE_STYLE: dict[str, dict[str, str]] = {
    "phone_minutes": {"color": OKABE_ITO["blue"], "hatch": "", "label": "Phone"},
    "teams_minutes": {"color": OKABE_ITO["sky_blue"], "hatch": "", "label": "Microsoft Teams"},
    "written_minutes": {"color": OKABE_ITO["orange"], "hatch": "///", "label": "Written (email/SMS)"},
}

TURNOVER_GROUPS = ("No turnover", "Turnover, all replaced", "Unreplaced departure")
TURNOVER_STYLE: dict[str, dict[str, str]] = {
    "No turnover": {"color": OKABE_ITO["blue"], "marker": "o"},
    "Turnover, all replaced": {"color": OKABE_ITO["bluish_green"], "marker": "s"},
    "Unreplaced departure": {"color": OKABE_ITO["vermillion"], "marker": "^"},
}

SITE_METRICS_COLUMNS = ("site", "minutes_per_month", "dose_band")
MODE_COLUMNS = ("site", "total_minutes", "pct_phone_teams", *MODE_STYLE)
PROFILE_COLUMNS_COMPETENCY = ("site", "mean_competency", "low_competency")
PROFILE_COLUMNS_TURNOVER = ("site", "turnover", "unreplaced")
MONTHLY_COLUMNS = ("site", "month", "minutes")
DEPARTURE_COLUMNS = ("site", "month", "replaced")


@dataclass(frozen=True, eq=False)
class Chart:
    """One chart of the report and the words that go with it.

    ``name`` is the stable file stem (``dose_by_site.svg``) and figure label;
    ``alt_text`` describes what the chart shows, with its numbers, for people
    who cannot see it; ``caption`` says how to read it.
    """

    name: str
    title: str
    figure: Figure
    alt_text: str
    caption: str


# --------------------------------------------------------------------------- style

_Params = ParamSpec("_Params")


def styled(builder: Callable[_Params, Chart]) -> Callable[_Params, Chart]:
    """Run ``builder`` inside the shared style, leaving global rcParams alone."""

    @functools.wraps(builder)
    def build_in_style(*args: _Params.args, **kwargs: _Params.kwargs) -> Chart:
        with mpl.rc_context(STYLE):
            return builder(*args, **kwargs)

    return build_in_style


def _new_figure(height_in: float) -> Figure:
    """A figure of the report's width with its own Agg canvas (no pyplot: no
    figure manager, nothing kept alive between charts)."""
    figure = Figure(figsize=(FIGURE_WIDTH_IN, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _freeze_layout(figure: Figure, max_passes: int = 5) -> None:
    """Run constrained layout until the axes stop moving, then fix them there.

    Constrained layout starts from the current positions, so a colour bar's
    axes can shift by a hundredth of a point between the first and second
    draw, and a PNG at 200 dpi lays out text a little differently from an
    SVG. Fixed positions make every later render, in any order and at any
    dpi, draw the same picture: the SVG for the notebook does not depend on
    whether the PNG was saved first.
    """
    previous = None
    for _ in range(max_passes):
        figure.draw_without_rendering()
        positions = [tuple(ax.get_position().bounds) for ax in figure.axes]
        if positions == previous:
            break
        previous = positions
    figure.set_layout_engine("none")


def _height_for_rows(n_rows: int, *, per_row_in: float, fixed_in: float, minimum_in: float) -> float:
    """Figure height that grows with the rows shown, up to the page cap."""
    return float(min(MAX_FIGURE_HEIGHT_IN, max(minimum_in, fixed_in + per_row_in * n_rows)))


def _style_axes(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    """Title, axis labels and tick size shared by every chart.

    Tick labels are sized here as well as in STYLE because matplotlib creates
    ticks lazily at draw time, possibly outside the style's rc_context.
    """
    ax.set_title(_balanced_wrap(title, TITLE_WRAP_CHARS), loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(labelsize=FONT_SIZE_PT)


def _balanced_wrap(text: str, max_chars: int) -> str:
    """``text`` on as few lines as ``max_chars`` allows, the lines of even
    length (no single word dangling on the last line)."""
    n_lines = len(textwrap.wrap(text, max_chars))
    width = math.ceil(len(text) / n_lines)
    while len(textwrap.wrap(text, width)) > n_lines:
        width += 1
    return "\n".join(textwrap.wrap(text, width))


def _legend_below(figure: Figure, handles: Sequence[Any]) -> None:
    """Legend under the plot, outside the data, so it can never hide a point."""
    figure.legend(handles=list(handles), loc="outside lower center", ncols=min(len(handles), 4))


def _expected_handle(expected_minutes: float) -> Line2D:
    return Line2D([], [], label=f"Expected {_fmt_number(expected_minutes)} minutes per month", **EXPECTED_LINE_STYLE)


def _draw_expected_line(ax: Axes, expected_minutes: float, *, vertical: bool) -> list[Artist]:
    """The expected dose as a dashed line with a direct label at its end
    (top for a vertical line, right for a horizontal one); returns both so
    point labels can avoid them."""
    label = f"expected {_fmt_number(expected_minutes)}"
    if vertical:
        line = ax.axvline(expected_minutes, zorder=3, **EXPECTED_LINE_STYLE)
        text = ax.annotate(
            label, (expected_minutes, 1.0), xycoords=ax.get_xaxis_transform(),
            xytext=(3, -2), textcoords="offset points", ha="left", va="top", fontsize=FONT_SIZE_PT,
        )
    else:
        line = ax.axhline(expected_minutes, zorder=1, **EXPECTED_LINE_STYLE)
        text = ax.annotate(
            label, (1.0, expected_minutes), xycoords=ax.get_yaxis_transform(),
            xytext=(-2, 2), textcoords="offset points", ha="right", va="bottom", fontsize=FONT_SIZE_PT,
        )
    return [line, text]


def _legend_patch(style: dict[str, str]) -> Patch:
    return Patch(facecolor=style["color"], hatch=style["hatch"], edgecolor="black", linewidth=0.5, label=style["label"])


# --------------------------------------------------------------------------- words


def _fmt_number(value: float, decimals: int = 1) -> str:
    """``value`` rounded half-up (as the publication rounds) to ``decimals``
    places, without a trailing ``.0``: ``60``, ``1,053``, ``58.5``."""
    rounded = float(round_half_up(float(value), decimals))
    if rounded.is_integer():
        return f"{int(rounded):,}"
    return f"{rounded:,.{decimals}f}"


def _fmt_sites(sites: Iterable[int]) -> str:
    """``site 2``, ``sites 9 and 10``, ``sites 1, 4 and 5``."""
    numbers = [str(int(site)) for site in sorted(sites)]
    if not numbers:
        return "no sites"
    if len(numbers) == 1:
        return f"site {numbers[0]}"
    return f"sites {', '.join(numbers[:-1])} and {numbers[-1]}"


def _fmt_count(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _fmt_month(month: pd.Period) -> str:
    return month.strftime("%b %Y")


def _sites_if_few(sites: Sequence[int], most: int = 5) -> str:
    """`` (sites 9, 10 and 13)`` when there are only a few to name, else ``""``."""
    return f" ({_fmt_sites(sites)})" if 0 < len(sites) <= most else ""


# --------------------------------------------------------------------------- inputs


def _require_columns(table: pd.DataFrame, columns: Iterable[str], table_name: str) -> None:
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{table_name} lacks column(s) {', '.join(missing)}")


def _order_by(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows by ``column``, largest first, ties by site: the same order
    whatever order the rows came in."""
    return table.sort_values([column, "site"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def _most_and_least(sites: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """The rows with the largest and the smallest ``column``."""
    ordered = _order_by(sites, column)
    return ordered.iloc[0], ordered.iloc[-1]


def _extremes_sentence(sites: pd.DataFrame, column: str, unit: str) -> str:
    """``Site 7 highest at 121 minutes per month, site 2 lowest at 43.``"""
    most, least = _most_and_least(sites, column)
    return (
        f"Site {int(most['site'])} highest at {_fmt_number(most[column])} {unit}, "
        f"site {int(least['site'])} lowest at {_fmt_number(least[column])}."
    )


def _with_profile(site_metrics: pd.DataFrame, site_profile: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Sites present in both tables, by site number."""
    _require_columns(site_metrics, ("site", "minutes_per_month"), "site_metrics")
    _require_columns(site_profile, columns, "site_profile")
    merged = site_metrics[["site", "minutes_per_month"]].merge(site_profile[list(columns)], on="site", how="inner")
    return merged.sort_values("site", kind="mergesort").reset_index(drop=True)


def _not_shown_note(n_shown: int, n_all: int, reason: str) -> str:
    missing = n_all - n_shown
    return f" {_fmt_count(missing, 'site')} without {reason} not shown." if missing else ""


# --------------------------------------------------------------------------- site axis


_NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


def label_step(n_items: int, max_labels: int = MAX_SITE_LABELS) -> int:
    """Label every k-th item, k the smallest round step keeping at most
    ``max_labels`` labels."""
    for step in _NICE_STEPS:
        if math.ceil(n_items / step) <= max_labels:
            return step
    return math.ceil(n_items / max_labels)


def _site_rows_axis(ax: Axes, sites: Sequence[int], *, headroom_rows: float = 0.0) -> np.ndarray:
    """Make the y axis a column of sites, the first at the top, labelled
    every k-th row when there are many; returns each site's row position.

    ``headroom_rows`` leaves empty space above the first row for a direct
    label (the expected line's)."""
    rows = np.arange(len(sites), dtype=float)
    step = label_step(len(sites))
    ax.set_yticks(rows[::step], [str(int(site)) for site in sites[::step]])
    ax.set_ylim(len(sites) - 0.5, -0.5 - headroom_rows)  # inverted: first site on top
    return rows


_BAR_ROW_IN = 0.25
_BAR_FIXED_IN = 1.9  # title, x axis and legend


def _site_bars_axes(sites: Sequence[int], *, headroom_pt: float = 0.0) -> tuple[Figure, Axes, np.ndarray, float]:
    """Figure and axes for one horizontal bar per site, first site on top,
    tall enough for every bar up to the page cap, with ``headroom_pt`` free
    above the first bar; returns also each site's row and the bar outline
    width (none when bars are too thin to show one)."""
    height = _height_for_rows(len(sites), per_row_in=_BAR_ROW_IN, fixed_in=_BAR_FIXED_IN, minimum_in=3.0)
    figure = _new_figure(height)
    ax = figure.add_subplot()
    row_pt = (height - _BAR_FIXED_IN) * 72 / max(len(sites), 1)
    headroom_rows = max(1.0, headroom_pt / row_pt) if headroom_pt else 0.0
    rows = _site_rows_axis(ax, sites, headroom_rows=headroom_rows)
    outline = 0.5 if len(sites) <= MAX_SITE_LABELS else 0.0
    return figure, ax, rows, outline


def _month_ticks(months: Sequence[pd.Period]) -> tuple[list[int], list[str]]:
    """Positions and labels of month columns: every month when few, each
    quarter when up to three years, each January beyond; the year is shown
    on the first label and at every January."""
    if len(months) <= 8:
        wanted = list(range(len(months)))
    elif len(months) <= 36:
        wanted = [i for i, month in enumerate(months) if month.month in (1, 4, 7, 10)]
    else:
        wanted = [i for i, month in enumerate(months) if month.month == 1]
    labels = [
        months[i].strftime("%b\n%Y") if (i == wanted[0] or months[i].month == 1) else months[i].strftime("%b")
        for i in wanted
    ]
    return wanted, labels


# --------------------------------------------------------------------------- point labels

# Directions tried for a point's label, nearest ring first: right, left,
# above, below, then the diagonals.
_LABEL_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))
_LABEL_RINGS = (1.0, 2.2, 3.6)
_LABEL_PAD_PT = 1.0


def _label_alignment(dx: int, dy: int) -> dict[str, str]:
    return {
        "ha": {1: "left", -1: "right", 0: "center"}[dx],
        "va": {1: "bottom", -1: "top", 0: "center"}[dy],
    }


def place_point_labels(
    ax: Axes,
    x: Sequence[float],
    y: Sequence[float],
    texts: Sequence[str],
    *,
    marker_size_pt: float,
    avoid: Sequence[Artist] = (),
) -> list[Text]:
    """Label each point with its text next to it, never on another label,
    marker or ``avoid`` artist (a line's label, a mean bar), and inside the axes.

    Greedy and deterministic: points with most close neighbours are labelled
    first (they have fewest free places); each takes the first free place
    from rings of candidate offsets around it; a label pushed beyond the
    first ring gets a thin leader line. Call it last, after
    ``_freeze_layout``, because it measures text in display space.
    """
    figure = ax.get_figure()
    figure.draw_without_rendering()  # display coordinates of the (frozen) layout
    renderer = figure.canvas.get_renderer()
    px_per_pt = figure.dpi / 72.0
    pad_px = _LABEL_PAD_PT * px_per_pt
    points_px = ax.transData.transform(np.column_stack([np.asarray(x, float), np.asarray(y, float)]))
    radius_px = marker_size_pt / 2 * px_per_pt + pad_px
    markers = [Bbox.from_extents(px - radius_px, py - radius_px, px + radius_px, py + radius_px) for px, py in points_px]
    placed: list[Bbox] = [artist.get_window_extent(renderer).padded(pad_px) for artist in avoid]

    distances = np.hypot(*(points_px[:, None, :] - points_px[None, :, :]).transpose(2, 0, 1))
    crowding = (distances < 40 * px_per_pt).sum(axis=1)
    base_pt = marker_size_pt / 2 + 1.5
    labels: list[Text] = []
    for i in sorted(range(len(texts)), key=lambda i: (-crowding[i], i)):
        # A label may touch its own marker's box (it sits just beside it), nothing else.
        obstacles = [*markers[:i], *markers[i + 1:], *placed]
        ring, dx, dy, box = _first_free_place(ax, renderer, texts[i], (x[i], y[i]), base_pt, obstacles, pad_px)
        offset = (dx * base_pt * ring, dy * base_pt * ring)
        labels.append(_point_label(ax, texts[i], (x[i], y[i]), offset, dx, dy, leader_to_marker_pt=marker_size_pt if ring > 1 else None))
        placed.append(box)
    return labels


def _first_free_place(
    ax: Axes, renderer: Any, text: str, xy: tuple[float, float], base_pt: float, obstacles: Sequence[Bbox], pad_px: float,
) -> tuple[float, int, int, Bbox]:
    """The nearest candidate place for a label that lies inside the axes and
    overlaps no obstacle: ``(ring, dx, dy, box)``; the first candidate (just
    right of the point) when none is free — overlapping rather than missing."""
    frame = ax.get_window_extent(renderer)
    first = None
    for ring in _LABEL_RINGS:
        for dx, dy in _LABEL_DIRECTIONS:
            offset = (dx * base_pt * ring, dy * base_pt * ring)
            trial = _point_label(ax, text, xy, offset, dx, dy, leader_to_marker_pt=None)
            box = trial.get_window_extent(renderer).padded(pad_px)
            trial.remove()
            first = first or (ring, dx, dy, box)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in obstacles):
                return ring, dx, dy, box
    return first


def _point_label(
    ax: Axes, text: str, xy: tuple[float, float], offset: tuple[float, float], dx: int, dy: int,
    *, leader_to_marker_pt: float | None,
) -> Text:
    """A site label at ``offset`` points from its point, aligned away from it;
    with a thin leader line stopping short of a marker of
    ``leader_to_marker_pt`` when the label sits far from it."""
    arrow = (
        {"arrowstyle": "-", "color": "0.35", "linewidth": 0.6, "shrinkA": 1, "shrinkB": leader_to_marker_pt / 2 + 1}
        if leader_to_marker_pt is not None else None
    )
    label = ax.annotate(
        text, xy, xytext=offset, textcoords="offset points", fontsize=FONT_SIZE_PT,
        arrowprops=arrow, annotation_clip=False, zorder=5, **_label_alignment(dx, dy),
    )
    label.set_in_layout(False)  # labels must not make constrained layout move the points they label
    return label


# --------------------------------------------------------------------------- 1. dose by site


@styled
def dose_by_site(site_metrics: pd.DataFrame, expected_minutes: float = 60) -> Chart:
    """Mean minutes of mentoring per month at each site against the expected
    dose, sites ordered by minutes, bands told apart by colour and hatching."""
    _require_columns(site_metrics, SITE_METRICS_COLUMNS, "site_metrics")
    sites = _order_by(site_metrics[list(SITE_METRICS_COLUMNS)], "minutes_per_month")
    unknown = sorted(set(sites["dose_band"]) - set(DOSE_BANDS))
    if unknown:
        raise ValueError(f"site_metrics.dose_band has unknown value(s) {', '.join(map(str, unknown))}")
    by_band = {band: sites.loc[sites["dose_band"] == band, "site"].tolist() for band in DOSE_BANDS}
    expected = _fmt_number(expected_minutes)
    title = f"Mentoring per month: {len(by_band['above'])} of {len(sites)} sites above the expected {expected} minutes"

    figure, ax, rows, outline = _site_bars_axes(sites["site"].tolist(), headroom_pt=2.2 * FONT_SIZE_PT)
    for band in DOSE_BANDS:
        style = DOSE_BAND_STYLE[band]
        in_band = (sites["dose_band"] == band).to_numpy()
        bars = ax.barh(
            rows[in_band], sites.loc[in_band, "minutes_per_month"], height=0.7, color=style["color"],
            hatch=style["hatch"], edgecolor="black", linewidth=outline, zorder=2,
        )
        if len(sites) <= MAX_SITE_LABELS:
            for value_label in ax.bar_label(bars, fmt="{:,.0f}", padding=3, fontsize=FONT_SIZE_PT):
                # a white ground and a place above the expected line keep "59" readable where it crosses 60
                value_label.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 0.5})
                value_label.set_zorder(4)
    _draw_expected_line(ax, expected_minutes, vertical=True)
    ax.set_xlim(0, max(sites["minutes_per_month"].max(), expected_minutes) * 1.1)
    _style_axes(ax, title, "Mentoring (minutes per month)", "Site")
    _legend_below(figure, [_legend_patch(DOSE_BAND_STYLE[band]) for band in DOSE_BANDS])
    _freeze_layout(figure)

    alt_text = (
        f"Horizontal bar chart of mean monthly mentoring minutes for {len(sites)} sites, ordered from most to least. "
        f"{_extremes_sentence(sites, 'minutes_per_month', 'minutes per month')} "
        f"Against the expected {expected} minutes: {len(by_band['above'])} above{_sites_if_few(by_band['above'])}, "
        f"{len(by_band['close'])} close{_sites_if_few(by_band['close'])}, "
        f"{len(by_band['below'])} below{_sites_if_few(by_band['below'])}."
    )
    caption = (
        f"Mean minutes of mentoring per month at each site (total minutes / months in study), "
        f"sites ordered by minutes. Dashed line: the expected {expected} minutes a month. "
        "Colour and hatching mark sites above (plain), close to (cross-hatched) and below (striped) the expected dose."
    )
    return Chart("dose_by_site", title, figure, alt_text, caption)


# --------------------------------------------------------------------------- 2. dose vs competency

_POINT_SIZE_PT = 7.0


@styled
def dose_vs_competency(site_metrics: pd.DataFrame, site_profile: pd.DataFrame, expected_minutes: float = 60) -> Chart:
    """Minutes per month against the site's mean competency score, sites with
    low scores marked, every point labelled with its site."""
    sites = _with_profile(site_metrics, site_profile, PROFILE_COLUMNS_COMPETENCY)
    sites = sites.dropna(subset=["mean_competency"]).reset_index(drop=True)
    if sites.empty:  # early in a live trial no OT may have been assessed yet
        return _chart_without_data(
            "dose_vs_competency", "Mentoring per month by mean competency score",
            "Site mean competency score (0–100)", "Mentoring (minutes per month)",
            "No site has a competency score yet.",
        )
    low = sites["low_competency"].astype(bool).to_numpy()
    low_mean = _fmt_number(sites.loc[low, "minutes_per_month"].mean(), 0) if low.any() else None
    other_mean = _fmt_number(sites.loc[~low, "minutes_per_month"].mean(), 0) if (~low).any() else None
    title = "Mentoring per month by mean competency score"
    if low_mean is not None and other_mean is not None:
        title += f": low-scoring sites averaged {low_mean} minutes, others {other_mean}"

    figure = _new_figure(5.0)
    ax = figure.add_subplot()
    groups = (
        (~low, {"color": OKABE_ITO["blue"], "marker": "o", "label": "Other sites"}),
        (low, {"color": OKABE_ITO["vermillion"], "marker": "^", "label": "Low competency score"}),
    )
    for in_group, style in groups:
        ax.plot(
            sites.loc[in_group, "mean_competency"], sites.loc[in_group, "minutes_per_month"], linestyle="none",
            markersize=_POINT_SIZE_PT, markeredgecolor="black", markeredgewidth=0.5, zorder=4, **style,
        )
    _pad_limits(ax, sites["mean_competency"], sites["minutes_per_month"], expected_minutes)
    expected_line = _draw_expected_line(ax, expected_minutes, vertical=False)
    _style_axes(ax, title, "Site mean competency score (0–100)", "Mentoring (minutes per month)")
    handles = [Line2D([], [], linestyle="none", markersize=_POINT_SIZE_PT, markeredgecolor="black",
                      markeredgewidth=0.5, **style) for _, style in reversed(groups)]
    _legend_below(figure, [*handles, _expected_handle(expected_minutes)])
    _freeze_layout(figure)
    shown = labelled_sites(sites, "minutes_per_month")
    place_point_labels(
        ax, sites.loc[shown, "mean_competency"].tolist(), sites.loc[shown, "minutes_per_month"].tolist(),
        [str(int(site)) for site in sites.loc[shown, "site"]], marker_size_pt=_POINT_SIZE_PT, avoid=expected_line,
    )

    top, bottom = _most_and_least(sites, "minutes_per_month")
    low_sites = sites.loc[low, "site"].tolist()
    group_sentence = (
        f"The {_fmt_count(len(low_sites), 'site')} with low competency scores{_sites_if_few(low_sites, most=8)} "
        f"averaged {low_mean} minutes per month; the other {len(sites) - len(low_sites)} averaged {other_mean}. "
        if low_mean is not None and other_mean is not None else ""
    )
    alt_text = (
        f"Scatter plot of mean monthly mentoring minutes against site mean competency score for {len(sites)} sites. "
        f"{group_sentence}"
        f"Site {int(top['site'])} received most ({_fmt_number(top['minutes_per_month'])} minutes, score "
        f"{_fmt_number(top['mean_competency'])}); site {int(bottom['site'])} least "
        f"({_fmt_number(bottom['minutes_per_month'])} minutes, score {_fmt_number(bottom['mean_competency'])}). "
        f"Dashed line: the expected {_fmt_number(expected_minutes)} minutes."
        f"{_not_shown_note(len(sites), len(site_metrics), 'a competency score')}"
    )
    caption = (
        "Mean minutes of mentoring per month against the mean written competency score of the site's OTs. "
        "Triangles: sites with low competency scores; circles: the others. Numbers are site numbers. "
        f"Dashed line: the expected {_fmt_number(expected_minutes)} minutes a month. "
        "Across so few sites these are associations, not effects." + _labelled_note(shown)
    )
    return Chart("dose_vs_competency", title, figure, alt_text, caption)


def _chart_without_data(name: str, title: str, xlabel: str, ylabel: str, message: str) -> Chart:
    """Empty axes saying why they are empty, so the report still renders."""
    figure = _new_figure(3.0)
    ax = figure.add_subplot()
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=FONT_SIZE_PT + 1)
    ax.set_xticks([])
    ax.set_yticks([])
    _style_axes(ax, title, xlabel, ylabel)
    _freeze_layout(figure)
    return Chart(name, title, figure, f"Empty chart: {message}", message)


def _pad_limits(ax: Axes, x: pd.Series, y: pd.Series, expected_minutes: float) -> None:
    """Axis limits with room around the points for their labels, always
    including zero minutes and the expected line."""
    x_span = max(float(x.max() - x.min()), 1.0)
    ax.set_xlim(float(x.min()) - 0.12 * x_span, float(x.max()) + 0.12 * x_span)
    ax.set_ylim(0, max(float(y.max()), expected_minutes) * 1.12)


# --------------------------------------------------------------------------- 3. dose by turnover


def turnover_group(site_profile: pd.DataFrame) -> pd.Series:
    """Each site's turnover group: no OT left; OTs left and all were
    replaced; at least one departure was never replaced."""
    group = np.where(
        ~site_profile["turnover"].astype(bool), TURNOVER_GROUPS[0],
        np.where(site_profile["unreplaced"] > 0, TURNOVER_GROUPS[2], TURNOVER_GROUPS[1]),
    )
    return pd.Series(group, index=site_profile.index, name="group")


def strip_offsets(values: Sequence[float], *, close: float, width: float = 0.13,
                  max_offset: float = 0.34) -> np.ndarray:
    """Horizontal offsets that spread points with close values side by side
    (0, +w, −w, +2w, …) instead of random jitter, so the figure is the same
    every time. ``values`` closer than ``close`` to their neighbour share a
    cluster. The spread is squeezed to stay within ``max_offset`` of the
    group's centre, however many sites share a cluster."""
    values = np.asarray(values, dtype=float)
    offsets = np.zeros(len(values))
    order = np.argsort(values, kind="mergesort")
    position_in_cluster = 0
    for k, i in enumerate(order):
        if k > 0 and values[i] - values[order[k - 1]] < close:
            position_in_cluster += 1
        else:
            position_in_cluster = 0
        step = (position_in_cluster + 1) // 2
        offsets[i] = width * step * (1 if position_in_cluster % 2 else -1)
    widest = np.abs(offsets).max(initial=0.0)
    return offsets * (max_offset / widest) if widest > max_offset else offsets


def labelled_sites(sites: pd.DataFrame, column: str, most: int = MAX_SITE_LABELS) -> pd.Series:
    """Which points to number: all of them when there are few; otherwise the
    ``most`` // 2 sites with the highest and lowest ``column``, since 200
    numbers on one chart can only pile up."""
    if len(sites) <= most:
        return pd.Series(True, index=sites.index)
    ranked = sites.sort_values([column, "site"], kind="stable").index
    return pd.Series(sites.index.isin(ranked[: most // 4].append(ranked[-(most // 4):])), index=sites.index)


def _labelled_note(shown: pd.Series) -> str:
    return "" if shown.all() else (f" Only the {int(shown.sum())} sites with the most and least mentoring are "
                                   f"numbered, of {len(shown)}.")


@styled
def dose_by_turnover(site_metrics: pd.DataFrame, site_profile: pd.DataFrame, expected_minutes: float = 60) -> Chart:
    """Minutes per month by OT turnover group: every site a labelled point,
    the group mean a bar across it."""
    sites = _with_profile(site_metrics, site_profile, PROFILE_COLUMNS_TURNOVER)
    sites["group"] = turnover_group(sites)
    y_top = max(float(sites["minutes_per_month"].max()), expected_minutes) * 1.12
    offsets = np.zeros(len(sites))
    for group in TURNOVER_GROUPS:
        in_group = (sites["group"] == group).to_numpy()
        offsets[in_group] = strip_offsets(sites.loc[in_group, "minutes_per_month"], close=0.06 * y_top)
    sites["x"] = sites["group"].map({group: i for i, group in enumerate(TURNOVER_GROUPS)}) + offsets
    means = sites.groupby("group")["minutes_per_month"].mean()
    counts = sites["group"].value_counts()

    figure = _new_figure(4.8)
    ax = figure.add_subplot()
    mean_marks: list[Artist] = []
    for i, group in enumerate(TURNOVER_GROUPS):
        in_group = sites["group"] == group
        ax.plot(
            sites.loc[in_group, "x"], sites.loc[in_group, "minutes_per_month"], linestyle="none",
            markersize=_POINT_SIZE_PT, markeredgecolor="black", markeredgewidth=0.5, zorder=4,
            **TURNOVER_STYLE[group],
        )
        if group in means:
            # plot, not hlines: a LineCollection reports no extent for labels to avoid
            mean_marks += ax.plot([i - 0.36, i + 0.36], [means[group]] * 2, color="black", linewidth=2.2, zorder=3)
            mean_marks.append(ax.annotate(
                f"mean\n{_fmt_number(means[group], 0)}", (i + 0.37, means[group]), xytext=(2, 0),
                textcoords="offset points", ha="left", va="center", fontsize=FONT_SIZE_PT,
            ))
    ax.set_xlim(-0.6, len(TURNOVER_GROUPS) - 0.35)
    ax.set_ylim(0, y_top)
    ax.set_xticks(
        range(len(TURNOVER_GROUPS)),
        [f"{group}\n({_fmt_count(int(counts.get(group, 0)), 'site')})" for group in TURNOVER_GROUPS],
    )
    expected_line = _draw_expected_line(ax, expected_minutes, vertical=False)
    title = "Mentoring per month by OT turnover at the site"
    _style_axes(ax, title, "OT turnover during the study", "Mentoring (minutes per month)")
    mean_handle = Line2D([], [], color="black", linewidth=2.2, label="Group mean")
    _legend_below(figure, [mean_handle, _expected_handle(expected_minutes)])
    _freeze_layout(figure)
    shown = labelled_sites(sites, "minutes_per_month")
    place_point_labels(
        ax, sites.loc[shown, "x"].tolist(), sites.loc[shown, "minutes_per_month"].tolist(),
        [str(int(site)) for site in sites.loc[shown, "site"]],
        marker_size_pt=_POINT_SIZE_PT, avoid=[*expected_line, *mean_marks],
    )

    alt_text = (
        f"Strip plot of mean monthly mentoring minutes for {len(sites)} sites grouped by OT turnover. "
        + " ".join(_turnover_group_sentence(group, sites.loc[sites["group"] == group]) for group in TURNOVER_GROUPS)
        + f" Dashed line: the expected {_fmt_number(expected_minutes)} minutes."
        + _not_shown_note(len(sites), len(site_metrics), "a turnover record")
    )
    caption = (
        "Mean minutes of mentoring per month at each site (points, numbered by site), grouped by whether any OT "
        "left during the study and whether every leaver was replaced. Black bars: group means. "
        f"Dashed line: the expected {_fmt_number(expected_minutes)} minutes a month. Associations, not effects."
        + _labelled_note(shown)
    )
    return Chart("dose_by_turnover", title, figure, alt_text, caption)


def _turnover_group_sentence(group: str, members: pd.DataFrame) -> str:
    """``No turnover: 8 sites, mean 84 minutes per month (range 51–121).``"""
    minutes = members["minutes_per_month"]
    if members.empty:
        return f"{group}: no sites."
    if len(members) == 1:
        return f"{group}: 1 site ({_fmt_sites(members['site'])}), {_fmt_number(minutes.iloc[0])} minutes per month."
    return (
        f"{group}: {_fmt_count(len(members), 'site')}{_sites_if_few(members['site'].tolist(), most=3)}, "
        f"mean {_fmt_number(minutes.mean(), 0)} minutes per month "
        f"(range {_fmt_number(minutes.min())}–{_fmt_number(minutes.max())})."
    )


# --------------------------------------------------------------------------- 4. monthly heat map

# Keyed by `replaced`. Shape tells them apart; white and vermillion fills both
# stand out on cividis' dark blue and bright yellow.
DEPARTURE_STYLE: dict[bool, dict[str, Any]] = {
    True: {"marker": "o", "markerfacecolor": "white", "markeredgecolor": "black", "markeredgewidth": 0.8},
    False: {"marker": "X", "markerfacecolor": OKABE_ITO["vermillion"], "markeredgecolor": "black", "markeredgewidth": 0.8},
}
DEPARTURE_LABEL = {True: "OT left, replaced", False: "OT left, not replaced"}
BEFORE_OPENING_STYLE: dict[str, Any] = {"facecolor": "0.88", "hatch": "////", "hatchcolor": "0.6", "edgecolor": "0.6"}


def site_month_matrix(monthly_minutes: pd.DataFrame) -> pd.DataFrame:
    """Sites (rows, ascending) by every calendar month from the first to the
    last (columns, ``Period``): minutes, NaN where the site was not yet in
    the study."""
    _require_columns(monthly_minutes, MONTHLY_COLUMNS, "monthly_minutes")
    months = pd.PeriodIndex(monthly_minutes["month"].astype(str), freq="M")
    minutes = monthly_minutes.assign(month=months).groupby(["site", "month"])["minutes"].sum().unstack("month")
    every_month = pd.period_range(months.min(), months.max(), freq="M")
    return minutes.reindex(columns=every_month).sort_index()


def _departure_cells(ot_departures: pd.DataFrame, matrix: pd.DataFrame) -> pd.DataFrame:
    """Departures placed on the heat map: row, column and a small
    horizontal shift when several fall in one cell."""
    _require_columns(ot_departures, DEPARTURE_COLUMNS, "ot_departures")
    row_of = pd.Series(np.arange(len(matrix.index)), index=matrix.index)
    column_of = pd.Series(np.arange(len(matrix.columns)), index=matrix.columns)
    cells = pd.DataFrame({
        "site": ot_departures["site"].to_numpy(),
        "month": pd.PeriodIndex(ot_departures["month"].astype(str), freq="M"),
        "replaced": ot_departures["replaced"].astype(bool).to_numpy(),
    })
    cells = cells[cells["site"].isin(row_of.index) & cells["month"].isin(column_of.index)]
    cells = cells.sort_values(["site", "month", "replaced"], kind="mergesort").reset_index(drop=True)
    cells["row"] = cells["site"].map(row_of).to_numpy()
    cells["column"] = cells["month"].map(column_of).to_numpy()
    rank = cells.groupby(["row", "column"]).cumcount()
    in_cell = cells.groupby(["row", "column"])["row"].transform("size")
    cells["shift"] = (rank - (in_cell - 1) / 2) * 0.34
    return cells


@styled
def monthly_heatmap(monthly_minutes: pd.DataFrame, ot_departures: pd.DataFrame) -> Chart:
    """Site-by-month heat map of mentoring minutes, months before a site
    opened hatched grey, OT departures marked in their month. Readable from
    16 to a few hundred sites: the height grows to a cap and site labels thin
    out."""
    matrix = site_month_matrix(monthly_minutes)
    departures = _departure_cells(ot_departures, matrix)
    n_sites, n_months = matrix.shape
    months = list(matrix.columns)
    values = matrix.to_numpy(dtype=float)
    vmax = max(float(np.nanmax(values)) if np.isfinite(values).any() else 0.0, 1.0)

    height = _height_for_rows(n_sites, per_row_in=0.24, fixed_in=2.2, minimum_in=3.5)
    figure = _new_figure(height)
    ax = figure.add_subplot()
    ax.add_patch(Rectangle((-0.5, -0.5), n_months, n_sites, zorder=0, linewidth=0, **BEFORE_OPENING_STYLE))
    colormap = mpl.colormaps["cividis"].with_extremes(bad=(0, 0, 0, 0))  # NaN transparent: the hatching shows
    image = ax.imshow(
        np.ma.masked_invalid(values), aspect="auto", interpolation="none", cmap=colormap,
        norm=Normalize(vmin=0, vmax=vmax), zorder=1,
    )
    _site_rows_axis(ax, list(matrix.index))
    ax.set_xlim(-0.5, n_months - 0.5)
    positions, labels = _month_ticks(months)
    ax.set_xticks(positions, labels)
    ax.set_xticks(np.arange(n_months), minor=True)
    ax.spines[["left", "bottom"]].set_visible(False)
    colorbar = figure.colorbar(image, ax=ax, pad=0.02, fraction=0.05, aspect=30)
    colorbar.set_label("Mentoring in the month (minutes)")
    colorbar.ax.tick_params(labelsize=FONT_SIZE_PT)

    cell_pt = min((height - 2.2) * 72 / n_sites, FIGURE_WIDTH_IN * 0.8 * 72 / n_months)
    marker_pt = float(np.clip(0.75 * cell_pt, 4.0, 8.0))
    for replaced, style in DEPARTURE_STYLE.items():
        marked = departures[departures["replaced"] == replaced]
        if marked.empty:
            continue  # an empty unclipped line upsets the layout (its extent is undefined)
        # not clipped: a marker in the first or last row stays whole
        ax.plot(marked["column"] + marked["shift"], marked["row"], linestyle="none", markersize=marker_pt,
                zorder=3, clip_on=False, **style)
    title = "Mentoring minutes per site and month, with OT departures"
    _style_axes(ax, title, "Month", "Site")
    handles = [Patch(label="Before the site opened", **BEFORE_OPENING_STYLE)]
    handles += [Line2D([], [], linestyle="none", markersize=7, label=DEPARTURE_LABEL[replaced], **style)
                for replaced, style in DEPARTURE_STYLE.items()]
    _legend_below(figure, handles)
    _freeze_layout(figure)

    alt_text = _heatmap_alt_text(matrix, departures, ot_departures)
    caption = (
        "Minutes of mentoring credited to each site in each calendar month (darker blue: fewer minutes; "
        "brighter yellow: more). Hatched grey: months before the site opened. Circles: an OT left that month and "
        "was replaced; crosses: an OT left and was not replaced."
    )
    return Chart("monthly_heatmap", title, figure, alt_text, caption)


def _heatmap_alt_text(matrix: pd.DataFrame, departures: pd.DataFrame, ot_departures: pd.DataFrame) -> str:
    months = list(matrix.columns)
    in_study = matrix.stack().dropna()  # pandas 3 keeps NaN cells (months before opening) in stack
    sentences = [
        f"Heat map of mentoring minutes per month for {len(matrix)} sites over {len(months)} months "
        f"({_fmt_month(months[0])} to {_fmt_month(months[-1])})."
    ]
    if not in_study.empty:
        busiest = in_study.sort_index().idxmax()
        sentences.append(
            f"The busiest month was site {busiest[0]} in {_fmt_month(busiest[1])} with "
            f"{_fmt_number(in_study[busiest])} minutes; "
            f"{int((in_study == 0).sum())} of {len(in_study)} site-months in study had no mentoring."
        )
    sentences.append("Hatched grey cells are months before a site opened.")
    replaced = int(departures["replaced"].sum())
    unreplaced = departures.loc[~departures["replaced"]]
    unreplaced_where = (
        " (" + "; ".join(f"site {row.site}, {_fmt_month(row.month)}" for row in unreplaced.itertuples()) + ")"
        if 0 < len(unreplaced) <= 3 else ""
    )
    sentences.append(
        f"{_fmt_count(len(departures), 'OT departure')} marked: {replaced} replaced, "
        f"{len(unreplaced)} not replaced{unreplaced_where}."
    )
    if len(departures) < len(ot_departures):
        sentences.append(f"{_fmt_count(len(ot_departures) - len(departures), 'departure')} outside the months shown not marked.")
    return " ".join(sentences)


# --------------------------------------------------------------------------- 5. mode by site


@styled
def mode_by_site(site_metrics: pd.DataFrame) -> Chart:
    """Total minutes of mentoring per site split into phone, Teams and
    written contact, stacked, sites ordered by total."""
    _require_columns(site_metrics, MODE_COLUMNS, "site_metrics")
    sites = _order_by(site_metrics[list(MODE_COLUMNS)], "total_minutes")
    shares = sites["pct_phone_teams"].dropna()  # NA where a site has no minutes yet
    share_range = f"{_fmt_number(shares.min())}–{_fmt_number(shares.max())}%" if len(shares) else None
    title = (f"Mentoring by mode: {share_range} of each site's minutes by phone or Teams" if share_range
             else "Mentoring by mode: no mentoring recorded in the study windows yet")

    figure, ax, rows, outline = _site_bars_axes(sites["site"].tolist())
    left = np.zeros(len(sites))
    for column, style in MODE_STYLE.items():
        minutes = sites[column].to_numpy(dtype=float)
        ax.barh(rows, minutes, left=left, height=0.7, color=style["color"], hatch=style["hatch"],
                edgecolor="black", linewidth=outline, zorder=2)
        left += minutes
    if len(sites) <= MAX_SITE_LABELS:
        for row, total in zip(rows, sites["total_minutes"]):
            ax.annotate(f"{total:,.0f}", (total, row), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=FONT_SIZE_PT)
    ax.set_xlim(0, max(float(sites["total_minutes"].max()), 1.0) * 1.1)
    ax.xaxis.set_major_formatter("{x:,.0f}")
    _style_axes(ax, title, "Mentoring in the study (total minutes)", "Site")
    _legend_below(figure, [_legend_patch(style) for style in MODE_STYLE.values()])
    _freeze_layout(figure)

    alt_text = (
        f"Stacked horizontal bar chart of total mentoring minutes by mode (phone, Microsoft Teams, written) for "
        f"{len(sites)} sites, ordered from most to least. {_extremes_sentence(sites, 'total_minutes', 'minutes')} "
    )
    if share_range:
        with_shares = sites.dropna(subset=["pct_phone_teams"])
        most_written, _ = _most_and_least(with_shares.assign(share=100 - with_shares["pct_phone_teams"]), "share")
        alt_text += (f"Phone or Teams gave {share_range} of each site's minutes; the largest written share was at "
                     f"site {int(most_written['site'])} ({_fmt_number(most_written['share'])}%).")
    else:
        alt_text += "No site has mentoring recorded in its study window yet."
    caption = (
        "Total minutes of mentoring credited to each site, split by mode: phone, Microsoft Teams and written "
        "(email or SMS, hatched). Numbers: total minutes. Joint sessions credit each site in full, so totals "
        "across sites overstate the mentors' time."
    )
    return Chart("mode_by_site", title, figure, alt_text, caption)


# --------------------------------------------------------------------------- all charts


def all_charts(
    site_metrics: pd.DataFrame,
    monthly_minutes: pd.DataFrame,
    site_profile: pd.DataFrame,
    ot_departures: pd.DataFrame,
    expected_minutes: float = 60,
) -> list[Chart]:
    """The five charts in report order."""
    return [
        dose_by_site(site_metrics, expected_minutes),
        dose_vs_competency(site_metrics, site_profile, expected_minutes),
        dose_by_turnover(site_metrics, site_profile, expected_minutes),
        monthly_heatmap(monthly_minutes, ot_departures),
        mode_by_site(site_metrics),
    ]


# --------------------------------------------------------------------------- deterministic output


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
    """The chart as SVG text with its title and alt text embedded."""
    return figure_to_svg(chart.figure, title=chart.title, description=chart.alt_text)


def save_figure(
    figure: Figure, stem: Path, *, title: str | None = None, description: str | None = None, dpi: int = PNG_DPI
) -> tuple[Path, Path]:
    """Write ``stem.svg`` and ``stem.png``, both byte-identical for identical
    figures (the PNG without its Software tag, at a fixed dpi)."""
    stem = Path(stem)
    svg_path, png_path = stem.with_name(stem.name + ".svg"), stem.with_name(stem.name + ".png")
    svg_path.write_text(figure_to_svg(figure, title=title, description=description), encoding="utf-8", newline="\n")
    with mpl.rc_context(STYLE):
        figure.savefig(png_path, format="png", dpi=dpi, metadata={"Software": None})
    return svg_path, png_path


def save_chart(chart: Chart, folder: Path, *, dpi: int = PNG_DPI) -> tuple[Path, Path]:
    """Write ``<folder>/<chart.name>.svg`` and ``.png``, the SVG carrying the
    chart's title and alt text."""
    return save_figure(chart.figure, Path(folder) / chart.name, title=chart.title, description=chart.alt_text, dpi=dpi)


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
    return NotebookSVG(svg[svg.index("<svg"):], chart.alt_text)

