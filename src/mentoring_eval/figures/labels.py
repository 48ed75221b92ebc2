"""Site numbers beside the points of a scatter or strip plot: which points
to number, and where each number goes so that none hides another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from mentoring_eval.figures.style import FONT_SIZE_PT, MAX_SITE_LABELS

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
    ``freeze_layout``, because it measures text in display space.
    """
    figure = ax.get_figure()
    renderer = figure.canvas.get_renderer()  # the frozen layout's display coordinates need no draw
    px_per_pt = figure.dpi / 72.0
    pad_px = _LABEL_PAD_PT * px_per_pt
    points_px = ax.transData.transform(np.column_stack([np.asarray(x, float), np.asarray(y, float)]))
    radius_px = marker_size_pt / 2 * px_per_pt + pad_px
    markers = [
        Bbox.from_extents(px - radius_px, py - radius_px, px + radius_px, py + radius_px) for px, py in points_px
    ]
    placed: list[Bbox] = [artist.get_window_extent(renderer).padded(pad_px) for artist in avoid]

    distances = np.hypot(*(points_px[:, None, :] - points_px[None, :, :]).transpose(2, 0, 1))
    crowding = (distances < 40 * px_per_pt).sum(axis=1)
    base_pt = marker_size_pt / 2 + 1.5
    labels: list[Text] = []
    for i in sorted(range(len(texts)), key=lambda i: (-crowding[i], i)):
        # A label may touch its own marker's box (it sits just beside it), nothing else.
        obstacles = [*markers[:i], *markers[i + 1 :], *placed]
        ring, dx, dy, box = _first_free_place(ax, renderer, texts[i], (x[i], y[i]), base_pt, obstacles, pad_px)
        offset = (dx * base_pt * ring, dy * base_pt * ring)
        labels.append(
            _point_label(
                ax, texts[i], (x[i], y[i]), offset, dx, dy, leader_to_marker_pt=marker_size_pt if ring > 1 else None
            )
        )
        placed.append(box)
    return labels


def _first_free_place(
    ax: Axes,
    renderer: Any,
    text: str,
    xy: tuple[float, float],
    base_pt: float,
    obstacles: Sequence[Bbox],
    pad_px: float,
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
    ax: Axes,
    text: str,
    xy: tuple[float, float],
    offset: tuple[float, float],
    dx: int,
    dy: int,
    *,
    leader_to_marker_pt: float | None,
) -> Text:
    """A site label at ``offset`` points from its point, aligned away from it;
    with a thin leader line stopping short of a marker of
    ``leader_to_marker_pt`` when the label sits far from it."""
    arrow = (
        {"arrowstyle": "-", "color": "0.35", "linewidth": 0.6, "shrinkA": 1, "shrinkB": leader_to_marker_pt / 2 + 1}
        if leader_to_marker_pt is not None
        else None
    )
    label = ax.annotate(
        text,
        xy,
        xytext=offset,
        textcoords="offset points",
        fontsize=FONT_SIZE_PT,
        arrowprops=arrow,
        annotation_clip=False,
        zorder=5,
        **_label_alignment(dx, dy),
    )
    label.set_in_layout(False)  # labels must not make constrained layout move the points they label
    return label


def labelled_sites(sites: pd.DataFrame, column: str, most: int = MAX_SITE_LABELS) -> pd.Series:
    """Which points to number: all of them when there are few; otherwise the
    ``most`` // 2 sites with the highest and lowest ``column``, since 200
    numbers on one chart can only pile up."""
    if len(sites) <= most:
        return pd.Series(True, index=sites.index)
    ranked = sites.sort_values([column, "site"], kind="stable").index
    return pd.Series(sites.index.isin(ranked[: most // 4].append(ranked[-(most // 4) :])), index=sites.index)


def labelled_note(shown: pd.Series) -> str:
    return (
        ""
        if shown.all()
        else (f" Only the {int(shown.sum())} sites with the most and least mentoring are numbered, of {len(shown)}.")
    )
