"""A site per row: the y axis of the bar charts and the heat map, readable
from 16 sites to a few hundred (the height grows to a cap, labels thin out)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mentoring_eval.figures.style import MAX_SITE_LABELS, height_for_rows, new_figure

_NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


def label_step(n_items: int, max_labels: int = MAX_SITE_LABELS) -> int:
    """Label every k-th item, k the smallest round step keeping at most
    ``max_labels`` labels."""
    for step in _NICE_STEPS:
        if math.ceil(n_items / step) <= max_labels:
            return step
    return math.ceil(n_items / max_labels)


def site_rows_axis(ax: Axes, sites: Sequence[int], *, headroom_rows: float = 0.0) -> np.ndarray:
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


def site_bars_axes(sites: Sequence[int], *, headroom_pt: float = 0.0) -> tuple[Figure, Axes, np.ndarray, float]:
    """Figure and axes for one horizontal bar per site, first site on top,
    tall enough for every bar up to the page cap, with ``headroom_pt`` free
    above the first bar; returns also each site's row and the bar outline
    width (none when bars are too thin to show one)."""
    height = height_for_rows(len(sites), per_row_in=_BAR_ROW_IN, fixed_in=_BAR_FIXED_IN, minimum_in=3.0)
    figure = new_figure(height)
    ax = figure.add_subplot()
    row_pt = (height - _BAR_FIXED_IN) * 72 / max(len(sites), 1)
    headroom_rows = max(1.0, headroom_pt / row_pt) if headroom_pt else 0.0
    rows = site_rows_axis(ax, sites, headroom_rows=headroom_rows)
    outline = 0.5 if len(sites) <= MAX_SITE_LABELS else 0.0
    return figure, ax, rows, outline
