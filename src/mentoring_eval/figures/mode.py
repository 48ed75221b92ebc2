"""Chart 5: total minutes of mentoring per site by mode (phone, Teams,
written)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mentoring_eval.figures.site_axis import site_bars_axes
from mentoring_eval.figures.style import (
    FONT_SIZE_PT,
    MAX_SITE_LABELS,
    OKABE_ITO,
    Chart,
    freeze_layout,
    legend_below,
    legend_patch,
    style_axes,
    styled,
)
from mentoring_eval.figures.tables import most_and_least, order_by, require_columns
from mentoring_eval.figures.words import extremes_sentence, fmt_number
from mentoring_eval.wording import number_range

MODE_STYLE: dict[str, dict[str, str]] = {
    "phone_minutes": {"color": OKABE_ITO["blue"], "hatch": "", "label": "Phone"},
    "teams_minutes": {"color": OKABE_ITO["sky_blue"], "hatch": "", "label": "Microsoft Teams"},
    "written_minutes": {"color": OKABE_ITO["orange"], "hatch": "///", "label": "Written (email/SMS)"},
}


MODE_COLUMNS = ("site", "total_minutes", "pct_phone_teams", *MODE_STYLE)


@styled
def mode_by_site(site_metrics: pd.DataFrame) -> Chart:
    """Total minutes of mentoring per site split into phone, Teams and
    written contact, stacked, sites ordered by total."""
    require_columns(site_metrics, MODE_COLUMNS, "site_metrics")
    sites = order_by(site_metrics[list(MODE_COLUMNS)], "total_minutes")
    shares = sites["pct_phone_teams"].dropna()  # NA where a site has no minutes yet
    share_range = number_range(fmt_number(shares.min()), fmt_number(shares.max())) + "%" if len(shares) else None
    title = (
        f"Mentoring by mode: {share_range} of each site's minutes by phone or Teams"
        if share_range
        else "Mentoring by mode: no mentoring recorded in the study windows yet"
    )

    figure, ax, rows, outline = site_bars_axes(sites["site"].tolist())
    left = np.zeros(len(sites))
    for column, style in MODE_STYLE.items():
        minutes = sites[column].to_numpy(dtype=float)
        ax.barh(
            rows,
            minutes,
            left=left,
            height=0.7,
            color=style["color"],
            hatch=style["hatch"],
            edgecolor="black",
            linewidth=outline,
            zorder=2,
        )
        left += minutes
    if len(sites) <= MAX_SITE_LABELS:
        for row, total in zip(rows, sites["total_minutes"]):
            ax.annotate(
                f"{total:,.0f}",
                (total, row),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=FONT_SIZE_PT,
            )
    ax.set_xlim(0, max(float(sites["total_minutes"].max()), 1.0) * 1.1)
    ax.xaxis.set_major_formatter("{x:,.0f}")
    style_axes(ax, title, "Mentoring in the study (total minutes)", "Site")
    legend_below(figure, [legend_patch(style) for style in MODE_STYLE.values()])
    freeze_layout(figure)

    alt_text = (
        f"Stacked horizontal bar chart of total mentoring minutes by mode (phone, Microsoft Teams, written) for "
        f"{len(sites)} sites, ordered from most to least. {extremes_sentence(sites, 'total_minutes', 'minutes')} "
    )
    if share_range:
        with_shares = sites.dropna(subset=["pct_phone_teams"])
        most_written, _ = most_and_least(with_shares.assign(share=100 - with_shares["pct_phone_teams"]), "share")
        alt_text += (
            f"Phone or Teams gave {share_range} of each site's minutes; the largest written share was at "
            f"site {int(most_written['site'])} ({fmt_number(most_written['share'])}%)."
        )
    else:
        alt_text += "No site has mentoring recorded in its study window yet."
    caption = (
        "Total minutes of mentoring credited to each site, split by mode: phone, Microsoft Teams and written "
        "(email or SMS, hatched). Numbers: total minutes. Joint sessions credit each site in full, so totals "
        "across sites overstate the mentors' time."
    )
    return Chart("mode_by_site", title, figure, alt_text, caption)
