"""Chart 1: mean minutes of mentoring per month at each site against the
expected dose."""

from __future__ import annotations

import pandas as pd

from mentoring_eval.figures.site_axis import site_bars_axes
from mentoring_eval.figures.style import (
    FONT_SIZE_PT,
    MAX_SITE_LABELS,
    OKABE_ITO,
    Chart,
    draw_expected_line,
    freeze_layout,
    legend_below,
    legend_patch,
    style_axes,
    styled,
)
from mentoring_eval.figures.tables import order_by, require_columns
from mentoring_eval.figures.words import extremes_sentence, fmt_count, fmt_number, not_shown_note, sites_if_few

DOSE_BANDS = ("above", "close", "below")
# Colour and hatching both encode the band, so it survives greyscale printing
# and colour-vision deficiency.
DOSE_BAND_STYLE: dict[str, dict[str, str]] = {
    "above": {"color": OKABE_ITO["blue"], "hatch": "", "label": "Above expected"},
    # cross-hatching, not dots: a dotted pattern alone adds ~150 kB to the SVG
    "close": {"color": OKABE_ITO["orange"], "hatch": "xx", "label": "Close to expected"},
    "below": {"color": OKABE_ITO["vermillion"], "hatch": "///", "label": "Below expected"},
}


SITE_METRICS_COLUMNS = ("site", "minutes_per_month", "dose_band")


@styled
def dose_by_site(site_metrics: pd.DataFrame, expected_minutes: float = 60) -> Chart:
    """Mean minutes of mentoring per month at each site against the expected
    dose, sites ordered by minutes, bands told apart by colour and hatching."""
    require_columns(site_metrics, SITE_METRICS_COLUMNS, "site_metrics")
    # A site with no whole month in the study yet has no monthly average to draw.
    sites = order_by(site_metrics[list(SITE_METRICS_COLUMNS)].dropna(subset=["minutes_per_month"]), "minutes_per_month")
    not_shown = not_shown_note(len(sites), len(site_metrics), "a whole month in the study yet")
    unknown = sorted(set(sites["dose_band"]) - set(DOSE_BANDS))
    if unknown:
        raise ValueError(f"site_metrics.dose_band has unknown value(s) {', '.join(map(str, unknown))}")
    by_band = {band: sites.loc[sites["dose_band"] == band, "site"].tolist() for band in DOSE_BANDS}
    expected = fmt_number(expected_minutes)
    title = f"Mentoring per month: {len(by_band['above'])} of {fmt_count(len(sites), 'site')} above the expected {expected} minutes"

    figure, ax, rows, outline = site_bars_axes(sites["site"].tolist(), headroom_pt=2.2 * FONT_SIZE_PT)
    for band in DOSE_BANDS:
        style = DOSE_BAND_STYLE[band]
        in_band = (sites["dose_band"] == band).to_numpy()
        bars = ax.barh(
            rows[in_band],
            sites.loc[in_band, "minutes_per_month"],
            height=0.7,
            color=style["color"],
            hatch=style["hatch"],
            edgecolor="black",
            linewidth=outline,
            zorder=2,
        )
        if len(sites) <= MAX_SITE_LABELS:
            for value_label in ax.bar_label(bars, fmt="{:,.0f}", padding=3, fontsize=FONT_SIZE_PT):
                # a white ground and a place above the expected line keep "59" readable where it crosses 60
                value_label.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 0.5})
                value_label.set_zorder(4)
    draw_expected_line(ax, expected_minutes, vertical=True)
    ax.set_xlim(0, max(float(sites["minutes_per_month"].max()) if len(sites) else 0.0, expected_minutes) * 1.1)
    style_axes(ax, title, "Mentoring (minutes per month)", "Site")
    legend_below(figure, [legend_patch(DOSE_BAND_STYLE[band]) for band in DOSE_BANDS])
    freeze_layout(figure)

    alt_text = (
        (
            f"Horizontal bar chart of mean monthly mentoring minutes for {fmt_count(len(sites), 'site')}, "
            "ordered from most to least. "
            f"{extremes_sentence(sites, 'minutes_per_month', 'minutes per month')} "
            f"Against the expected {expected} minutes: {len(by_band['above'])} above{sites_if_few(by_band['above'])}, "
            f"{len(by_band['close'])} close{sites_if_few(by_band['close'])}, "
            f"{len(by_band['below'])} below{sites_if_few(by_band['below'])}."
        )
        if len(sites)
        else "An empty bar chart: no site has a whole month in the study yet, so none has a monthly average."
    ) + not_shown
    caption = (
        f"Mean minutes of mentoring per month at each site (total minutes / months in study), "
        f"sites ordered by minutes. Dashed line: the expected {expected} minutes a month. "
        "Colour and hatching mark sites above (plain), close to (cross-hatched) and below (striped) the expected dose."
        + not_shown
    )
    return Chart("dose_by_site", title, figure, alt_text, caption)
