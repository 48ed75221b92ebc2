"""Chart 3: minutes of mentoring per month by the site's OT turnover."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.lines import Line2D

from mentoring_eval.figures.labels import labelled_note, labelled_sites, place_point_labels
from mentoring_eval.figures.style import (
    FONT_SIZE_PT,
    OKABE_ITO,
    POINT_SIZE_PT,
    Chart,
    draw_expected_line,
    expected_handle,
    freeze_layout,
    legend_below,
    new_figure,
    style_axes,
    styled,
)
from mentoring_eval.figures.tables import with_profile
from mentoring_eval.figures.words import fmt_count, fmt_number, fmt_sites, not_shown_note, sites_if_few
from mentoring_eval.wording import number_range

TURNOVER_GROUPS = ("No turnover", "Turnover, all replaced", "Unreplaced departure")
TURNOVER_STYLE: dict[str, dict[str, str]] = {
    "No turnover": {"color": OKABE_ITO["blue"], "marker": "o"},
    "Turnover, all replaced": {"color": OKABE_ITO["bluish_green"], "marker": "s"},
    "Unreplaced departure": {"color": OKABE_ITO["vermillion"], "marker": "^"},
}


PROFILE_COLUMNS_TURNOVER = ("site", "turnover", "unreplaced")


def turnover_group(site_profile: pd.DataFrame) -> pd.Series:
    """Each site's turnover group: no OT left; OTs left and all were
    replaced; at least one departure was never replaced."""
    group = np.where(
        ~site_profile["turnover"].astype(bool),
        TURNOVER_GROUPS[0],
        np.where(site_profile["unreplaced"] > 0, TURNOVER_GROUPS[2], TURNOVER_GROUPS[1]),
    )
    return pd.Series(group, index=site_profile.index, name="group")


def strip_offsets(
    values: Sequence[float], *, close: float, width: float = 0.13, max_offset: float = 0.34
) -> np.ndarray:
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


@styled
def dose_by_turnover(site_metrics: pd.DataFrame, site_profile: pd.DataFrame, expected_minutes: float = 60) -> Chart:
    """Minutes per month by OT turnover group: every site a labelled point,
    the group mean a bar across it."""
    sites = with_profile(site_metrics, site_profile, PROFILE_COLUMNS_TURNOVER)
    sites["group"] = turnover_group(sites)
    y_top = max(float(sites["minutes_per_month"].max()) if len(sites) else 0.0, expected_minutes) * 1.12
    offsets = np.zeros(len(sites))
    for group in TURNOVER_GROUPS:
        in_group = (sites["group"] == group).to_numpy()
        offsets[in_group] = strip_offsets(sites.loc[in_group, "minutes_per_month"], close=0.06 * y_top)
    sites["x"] = sites["group"].map({group: i for i, group in enumerate(TURNOVER_GROUPS)}).astype(float) + offsets
    means = sites.groupby("group")["minutes_per_month"].mean()
    counts = sites["group"].value_counts()

    figure = new_figure(4.8)
    ax = figure.add_subplot()
    mean_marks: list[Artist] = []
    for i, group in enumerate(TURNOVER_GROUPS):
        in_group = sites["group"] == group
        ax.plot(
            sites.loc[in_group, "x"],
            sites.loc[in_group, "minutes_per_month"],
            linestyle="none",
            markersize=POINT_SIZE_PT,
            markeredgecolor="black",
            markeredgewidth=0.5,
            zorder=4,
            **TURNOVER_STYLE[group],
        )
        if group in means:
            # plot, not hlines: a LineCollection reports no extent for labels to avoid
            mean_marks += ax.plot([i - 0.36, i + 0.36], [means[group]] * 2, color="black", linewidth=2.2, zorder=3)
            mean_marks.append(
                ax.annotate(
                    f"mean\n{fmt_number(means[group], 0)}",
                    (i + 0.37, means[group]),
                    xytext=(2, 0),
                    textcoords="offset points",
                    ha="left",
                    va="center",
                    fontsize=FONT_SIZE_PT,
                )
            )
    ax.set_xlim(-0.6, len(TURNOVER_GROUPS) - 0.35)
    ax.set_ylim(0, y_top)
    ax.set_xticks(
        range(len(TURNOVER_GROUPS)),
        [f"{group}\n({fmt_count(int(counts.get(group, 0)), 'site')})" for group in TURNOVER_GROUPS],
    )
    expected_line = draw_expected_line(ax, expected_minutes, vertical=False)
    title = "Mentoring per month by OT turnover at the site"
    style_axes(ax, title, "OT turnover during the study", "Mentoring (minutes per month)")
    mean_handle = Line2D([], [], color="black", linewidth=2.2, label="Group mean")
    legend_below(figure, [mean_handle, expected_handle(expected_minutes)])
    freeze_layout(figure)
    shown = labelled_sites(sites, "minutes_per_month")
    place_point_labels(
        ax,
        sites.loc[shown, "x"].tolist(),
        sites.loc[shown, "minutes_per_month"].tolist(),
        [str(int(site)) for site in sites.loc[shown, "site"]],
        marker_size_pt=POINT_SIZE_PT,
        avoid=[*expected_line, *mean_marks],
    )

    alt_text = (
        f"Strip plot of mean monthly mentoring minutes for {fmt_count(len(sites), 'site')} grouped by OT turnover. "
        + " ".join(_turnover_group_sentence(group, sites.loc[sites["group"] == group]) for group in TURNOVER_GROUPS)
        + f" Dashed line: the expected {fmt_number(expected_minutes)} minutes."
        + not_shown_note(len(sites), len(site_metrics), "a whole month in the study yet")
    )
    caption = (
        "Mean minutes of mentoring per month at each site (points, numbered by site), grouped by whether any OT "
        "left during the study and whether every leaver was replaced. Black bars: group means. "
        f"Dashed line: the expected {fmt_number(expected_minutes)} minutes a month. Associations, not effects."
        + labelled_note(shown)
    )
    return Chart("dose_by_turnover", title, figure, alt_text, caption)


def _turnover_group_sentence(group: str, members: pd.DataFrame) -> str:
    """``No turnover: 8 sites, mean 84 minutes per month (range 51–121).``"""
    minutes = members["minutes_per_month"]
    if members.empty:
        return f"{group}: no sites."
    if len(members) == 1:
        return f"{group}: 1 site ({fmt_sites(members['site'])}), {fmt_number(minutes.iloc[0])} minutes per month."
    return (
        f"{group}: {fmt_count(len(members), 'site')}{sites_if_few(members['site'].tolist(), most=3)}, "
        f"mean {fmt_number(minutes.mean(), 0)} minutes per month "
        f"(range {number_range(fmt_number(minutes.min()), fmt_number(minutes.max()))})."
    )
