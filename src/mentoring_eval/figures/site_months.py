"""A site page's chart: the site's mentoring minutes month by month against
the expected dose, with its OTs' starts, departures and replacements marked
and the trial's months before the site opened greyed.

Drawn in the report's style (:mod:`.style`), with the heat map's markers for
departures and its grey for months before opening (:mod:`.heatmap`), the
dose bands' colours and hatching (:mod:`.dose`), and OT codes placed by the
shared label placement (:mod:`.labels`), so that no code hides another.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mentoring_eval.escape import chart_label
from mentoring_eval.figures.dose import DOSE_BAND_STYLE, DOSE_BANDS
from mentoring_eval.figures.heatmap import BEFORE_OPENING_STYLE, DEPARTURE_LABEL, DEPARTURE_STYLE, month_ticks
from mentoring_eval.figures.labels import place_point_labels
from mentoring_eval.figures.style import (
    OKABE_ITO,
    Chart,
    draw_expected_line,
    expected_handle,
    legend_below,
    legend_patch,
    new_figure,
    style_axes,
    styled,
)
from mentoring_eval.figures.tables import require_columns
from mentoring_eval.figures.words import fmt_count, fmt_month, fmt_number

MONTH_COLUMNS = ("month", "minutes", "dose_band")
EVENT_COLUMNS = ("ot_id", "month", "event")
# What happened to an OT in a month, in the order they are stacked above the bars.
OT_EVENTS = ("started", "replacement started", "left, replaced", "left, not replaced")
OT_EVENT_STYLE: dict[str, dict[str, Any]] = {
    "started": {
        "marker": "^",
        "markerfacecolor": OKABE_ITO["bluish_green"],
        "markeredgecolor": "black",
        "markeredgewidth": 0.8,
    },
    "replacement started": {
        "marker": "s",
        "markerfacecolor": OKABE_ITO["sky_blue"],
        "markeredgecolor": "black",
        "markeredgewidth": 0.8,
    },
    "left, replaced": DEPARTURE_STYLE[True],
    "left, not replaced": DEPARTURE_STYLE[False],
}
OT_EVENT_LABEL = {
    "started": "OT started",
    "replacement started": "Replacement OT started",
    "left, replaced": DEPARTURE_LABEL[True],
    "left, not replaced": DEPARTURE_LABEL[False],
}
MARKER_PT = 7.0
# Low enough that, printed on a site page's PDF with its caption, the chart
# fits under the first page's table (theme/print.typ) rather than leaving
# half a page blank; every text on it stays 9 pt.
HEIGHT_IN = 3.6
# Every site's chart has the same frame (a short title, minutes up to four
# digits, a legend of at most three rows), so the axes are placed once and for
# all rather than by constrained layout: its passes were most of a chart's
# time, which counts at 200 sites.
BELOW_AXES_IN = 1.5  # the months, the axis label and the legend
ABOVE_AXES_IN = 0.39  # the title
AXES_RECT = (  # left, bottom, width, height, as fractions of the figure
    0.105,
    BELOW_AXES_IN / HEIGHT_IN,
    0.875,
    (HEIGHT_IN - BELOW_AXES_IN - ABOVE_AXES_IN) / HEIGHT_IN,
)


@styled
def site_months(
    site: int, months: pd.DataFrame, trial_months: pd.PeriodIndex, ot_events: pd.DataFrame, expected_minutes: float = 60
) -> Chart:
    """``months``: the site's months in study (``month`` ``YYYY-MM``,
    ``minutes``, ``dose_band`` of the month); ``trial_months``: every month
    of the trial's study period, the chart's x axis (months before the site
    opened are greyed); ``ot_events``: ``ot_id``, ``month``, ``event`` (one of
    :data:`OT_EVENTS`), events outside the axis are said in the alt text only."""
    require_columns(months, MONTH_COLUMNS, "site months")
    require_columns(ot_events, EVENT_COLUMNS, "OT events")
    axis = list(trial_months)
    column_of = {month: i for i, month in enumerate(axis)}
    periods = pd.PeriodIndex(months["month"].astype(str), freq="M")
    x = np.array([column_of[p] for p in periods], dtype=float)
    minutes = months["minutes"].to_numpy(float)
    first = int(x.min()) if len(x) else len(axis)

    figure = new_figure(HEIGHT_IN)
    figure.set_layout_engine("none")
    ax = figure.add_axes(AXES_RECT)
    top = max(float(minutes.max()) if len(minutes) else 0.0, expected_minutes) * 1.12
    events = _placed_events(ot_events, column_of, top)
    ceiling = (events["y"].max() if len(events) else top) + top * 0.1
    if first > 0:
        ax.axvspan(-0.5, first - 0.5, zorder=0, linewidth=0, **BEFORE_OPENING_STYLE)
    bars = []
    for band in DOSE_BANDS:
        chosen = (months["dose_band"] == band).to_numpy(bool)
        if chosen.any():
            style = DOSE_BAND_STYLE[band]
            bars += ax.bar(
                x[chosen],
                minutes[chosen],
                width=0.75,
                color=style["color"],
                hatch=style["hatch"],
                edgecolor="black",
                linewidth=0.5,
                zorder=2,
            ).patches
    expected_artists = draw_expected_line(ax, expected_minutes, vertical=False)
    for event, style in OT_EVENT_STYLE.items():
        marked = events.loc[events["event"] == event]
        if len(marked):
            ax.vlines(marked["x"], 0, marked["y"], colors="0.55", linewidth=0.6, linestyles=":", zorder=1)
            ax.plot(marked["x"], marked["y"], linestyle="none", markersize=MARKER_PT, zorder=4, clip_on=False, **style)
    ax.set_xlim(-0.5, max(len(axis), 1) - 0.5)
    ax.set_ylim(0, ceiling)
    positions, labels = month_ticks(axis)
    ax.set_xticks(positions, labels)
    ax.set_xticks(np.arange(len(axis)), minor=True)
    title = f"Site {site}: minutes month by month against the expected {fmt_number(expected_minutes)}"
    style_axes(ax, title, "Month", "Mentoring in the month (minutes)")
    handles = [legend_patch(DOSE_BAND_STYLE[band]) for band in DOSE_BANDS if (months["dose_band"] == band).any()]
    handles.append(expected_handle(expected_minutes))
    if first > 0:
        handles.append(Patch(label="Before the site opened", **BEFORE_OPENING_STYLE))
    handles += [
        Line2D([], [], linestyle="none", markersize=MARKER_PT, label=OT_EVENT_LABEL[event], **OT_EVENT_STYLE[event])
        for event in OT_EVENTS
        if (events["event"] == event).any()
    ]
    legend_below(figure, handles, ncols=3)
    if len(events):
        place_point_labels(
            ax,
            events["x"].tolist(),
            events["y"].tolist(),
            [chart_label(code) for code in events["ot_id"]],  # drawn as typed, never as mathtext
            marker_size_pt=MARKER_PT,
            avoid=[*expected_artists, *(bar for bar in bars if bar.get_height())],
        )

    caption = (
        f"Minutes of mentoring credited to site {site} in each month of the study, against the expected "
        f"{fmt_number(expected_minutes)} a month (dashed line); bars by colour and hatching: above, close to "
        "or below it. Hatched grey: months of the trial before the site opened. Markers above the bars, "
        "labelled with the OT's code: an OT starting, a replacement starting, and an OT leaving (circle: "
        "replaced; cross: not replaced)."
    )
    return Chart(
        f"site_{site}_months", title, figure, _alt_text(site, months, axis, ot_events, expected_minutes), caption
    )


def _placed_events(ot_events: pd.DataFrame, column_of: dict[pd.Period, int], top: float) -> pd.DataFrame:
    """Events on the axis, each at its month, stacked upwards above the bars
    when a month has several."""
    periods = pd.PeriodIndex(ot_events["month"].astype(str), freq="M")
    shown = ot_events.assign(period=periods).loc[[p in column_of for p in periods]]
    shown = shown.assign(order=shown["event"].map({e: i for i, e in enumerate(OT_EVENTS)}))
    shown = shown.sort_values(["period", "order", "ot_id"], kind="stable").reset_index(drop=True)
    stack = shown.groupby("period").cumcount().to_numpy()
    return shown.assign(x=[float(column_of[p]) for p in shown["period"]], y=top * (1.0 + 0.12 * stack))


def _alt_text(
    site: int, months: pd.DataFrame, axis: list[pd.Period], ot_events: pd.DataFrame, expected_minutes: float
) -> str:
    if months.empty:
        return (
            f"Bar chart for site {site}: the site has no whole month in the study yet, so no bars; "
            f"{fmt_count(len(axis), 'month')} of the trial shown greyed."
        )
    periods = pd.PeriodIndex(months["month"].astype(str), freq="M")
    minutes = months["minutes"].astype(float)
    sentences = [
        f"Bar chart of site {site}'s mentoring minutes in each of its {fmt_count(len(months), 'month')} in the study "
        f"({fmt_month(periods[0])} to {fmt_month(periods[-1])}), against the expected "
        f"{fmt_number(expected_minutes)} a month.",
        f"Below the expected dose in {fmt_count(int((months['dose_band'] == 'below').sum()), 'month')}, with no "
        f"mentoring in {fmt_count(int((minutes == 0).sum()), 'month')}; most in {fmt_month(periods[int(minutes.argmax())])} "
        f"({fmt_number(minutes.max())} minutes).",
    ]
    if periods[0] != axis[0]:
        sentences.append(f"The trial's {fmt_count(axis.index(periods[0]), 'month')} before the site opened are greyed.")
    if len(ot_events):
        ordered = ot_events.assign(period=pd.PeriodIndex(ot_events["month"].astype(str), freq="M")).sort_values(
            ["period", "ot_id"], kind="stable"
        )
        sentences.append(
            "OTs: "
            + "; ".join(f"{row.ot_id} {row.event} in {fmt_month(row.period)}" for row in ordered.itertuples())
            + "."
        )
    return " ".join(sentences)
