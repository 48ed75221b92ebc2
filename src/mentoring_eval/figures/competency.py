"""Chart 2: minutes of mentoring per month against the site's mean OT
competency score."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from mentoring_eval.figures.labels import labelled_note, labelled_sites, place_point_labels
from mentoring_eval.figures.style import (
    OKABE_ITO,
    POINT_SIZE_PT,
    Chart,
    chart_without_data,
    draw_expected_line,
    expected_handle,
    freeze_layout,
    legend_below,
    new_figure,
    style_axes,
    styled,
)
from mentoring_eval.figures.tables import most_and_least, with_profile
from mentoring_eval.figures.words import fmt_count, fmt_number, not_shown_note, sites_if_few

PROFILE_COLUMNS_COMPETENCY = ("site", "mean_competency", "low_competency")


@styled
def dose_vs_competency(site_metrics: pd.DataFrame, site_profile: pd.DataFrame, expected_minutes: float = 60) -> Chart:
    """Minutes per month against the site's mean competency score, sites with
    low scores marked, every point labelled with its site."""
    sites = with_profile(site_metrics, site_profile, PROFILE_COLUMNS_COMPETENCY)
    sites = sites.dropna(subset=["mean_competency"]).reset_index(drop=True)
    if sites.empty:  # early in a live trial no OT may have been assessed yet
        return chart_without_data(
            "dose_vs_competency",
            "Mentoring per month by mean competency score",
            "Site mean competency score (0–100)",
            "Mentoring (minutes per month)",
            "No site has a competency score yet.",
        )
    low = sites["low_competency"].astype(bool).to_numpy()
    low_mean = fmt_number(sites.loc[low, "minutes_per_month"].mean(), 0) if low.any() else None
    other_mean = fmt_number(sites.loc[~low, "minutes_per_month"].mean(), 0) if (~low).any() else None
    title = "Mentoring per month by mean competency score"
    if low_mean is not None and other_mean is not None:
        title += f": low-scoring sites averaged {low_mean} minutes, others {other_mean}"

    figure = new_figure(5.0)
    ax = figure.add_subplot()
    groups = (
        (~low, {"color": OKABE_ITO["blue"], "marker": "o", "label": "Other sites"}),
        (low, {"color": OKABE_ITO["vermillion"], "marker": "^", "label": "Low competency score"}),
    )
    for in_group, style in groups:
        ax.plot(
            sites.loc[in_group, "mean_competency"],
            sites.loc[in_group, "minutes_per_month"],
            linestyle="none",
            markersize=POINT_SIZE_PT,
            markeredgecolor="black",
            markeredgewidth=0.5,
            zorder=4,
            **style,
        )
    _pad_limits(ax, sites["mean_competency"], sites["minutes_per_month"], expected_minutes)
    expected_line = draw_expected_line(ax, expected_minutes, vertical=False)
    style_axes(ax, title, "Site mean competency score (0–100)", "Mentoring (minutes per month)")
    handles = [
        Line2D(
            [], [], linestyle="none", markersize=POINT_SIZE_PT, markeredgecolor="black", markeredgewidth=0.5, **style
        )
        for _, style in reversed(groups)
    ]
    legend_below(figure, [*handles, expected_handle(expected_minutes)])
    freeze_layout(figure)
    shown = labelled_sites(sites, "minutes_per_month")
    place_point_labels(
        ax,
        sites.loc[shown, "mean_competency"].tolist(),
        sites.loc[shown, "minutes_per_month"].tolist(),
        [str(int(site)) for site in sites.loc[shown, "site"]],
        marker_size_pt=POINT_SIZE_PT,
        avoid=expected_line,
    )

    top, bottom = most_and_least(sites, "minutes_per_month")
    low_sites = sites.loc[low, "site"].tolist()
    group_sentence = (
        f"The {fmt_count(len(low_sites), 'site')} with low competency scores{sites_if_few(low_sites, most=8)} "
        f"averaged {low_mean} minutes per month; the other {len(sites) - len(low_sites)} averaged {other_mean}. "
        if low_mean is not None and other_mean is not None
        else ""
    )
    alt_text = (
        f"Scatter plot of mean monthly mentoring minutes against site mean competency score for {len(sites)} sites. "
        f"{group_sentence}"
        f"Site {int(top['site'])} received most ({fmt_number(top['minutes_per_month'])} minutes, score "
        f"{fmt_number(top['mean_competency'])}); site {int(bottom['site'])} least "
        f"({fmt_number(bottom['minutes_per_month'])} minutes, score {fmt_number(bottom['mean_competency'])}). "
        f"Dashed line: the expected {fmt_number(expected_minutes)} minutes."
        f"{not_shown_note(len(sites), len(site_metrics), 'both a competency score and a whole month in the study')}"
    )
    caption = (
        "Mean minutes of mentoring per month against the mean written competency score of the site's OTs. "
        "Triangles: sites with low competency scores; circles: the others. Numbers are site numbers. "
        f"Dashed line: the expected {fmt_number(expected_minutes)} minutes a month. "
        "Across so few sites these are associations, not effects." + labelled_note(shown)
    )
    return Chart("dose_vs_competency", title, figure, alt_text, caption)


def _pad_limits(ax: Axes, x: pd.Series, y: pd.Series, expected_minutes: float) -> None:
    """Axis limits with room around the points for their labels, always
    including zero minutes and the expected line."""
    x_span = max(float(x.max() - x.min()), 1.0)
    ax.set_xlim(float(x.min()) - 0.12 * x_span, float(x.max()) + 0.12 * x_span)
    ax.set_ylim(0, max(float(y.max()), expected_minutes) * 1.12)
