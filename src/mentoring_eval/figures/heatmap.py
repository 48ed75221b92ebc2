"""Chart 4: the site-by-month heat map of mentoring minutes, with OT
departures marked in their month."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from mentoring_eval.figures.site_axis import site_rows_axis
from mentoring_eval.figures.style import (
    FIGURE_WIDTH_IN,
    FONT_SIZE_PT,
    OKABE_ITO,
    Chart,
    freeze_layout,
    height_for_rows,
    legend_below,
    new_figure,
    style_axes,
    styled,
)
from mentoring_eval.figures.tables import require_columns
from mentoring_eval.figures.words import fmt_count, fmt_month, fmt_number

MONTHLY_COLUMNS = ("site", "month", "minutes")
DEPARTURE_COLUMNS = ("site", "month", "replaced")


# Keyed by `replaced`. Shape tells them apart; white and vermillion fills both
# stand out on cividis' dark blue and bright yellow.
DEPARTURE_STYLE: dict[bool, dict[str, Any]] = {
    True: {"marker": "o", "markerfacecolor": "white", "markeredgecolor": "black", "markeredgewidth": 0.8},
    False: {
        "marker": "X",
        "markerfacecolor": OKABE_ITO["vermillion"],
        "markeredgecolor": "black",
        "markeredgewidth": 0.8,
    },
}
DEPARTURE_LABEL = {True: "OT left, replaced", False: "OT left, not replaced"}
BEFORE_OPENING_STYLE: dict[str, Any] = {"facecolor": "0.88", "hatch": "////", "hatchcolor": "0.6", "edgecolor": "0.6"}


def site_month_matrix(monthly_minutes: pd.DataFrame) -> pd.DataFrame:
    """Sites (rows, ascending) by every calendar month from the first to the
    last (columns, ``Period``): minutes, NaN where the site was not yet in
    the study."""
    require_columns(monthly_minutes, MONTHLY_COLUMNS, "monthly_minutes")
    months = pd.PeriodIndex(monthly_minutes["month"].astype(str), freq="M")
    minutes = monthly_minutes.assign(month=months).groupby(["site", "month"])["minutes"].sum().unstack("month")
    if months.empty:
        return minutes
    every_month = pd.period_range(months.min(), months.max(), freq="M")
    return minutes.reindex(columns=every_month).sort_index()


def _departure_cells(ot_departures: pd.DataFrame, matrix: pd.DataFrame) -> pd.DataFrame:
    """Departures placed on the heat map: row, column and a small
    horizontal shift when several fall in one cell."""
    require_columns(ot_departures, DEPARTURE_COLUMNS, "ot_departures")
    row_of = pd.Series(np.arange(len(matrix.index)), index=matrix.index)
    column_of = pd.Series(np.arange(len(matrix.columns)), index=matrix.columns)
    cells = pd.DataFrame(
        {
            "site": ot_departures["site"].to_numpy(),
            "month": pd.PeriodIndex(ot_departures["month"].astype(str), freq="M"),
            "replaced": ot_departures["replaced"].astype(bool).to_numpy(),
        }
    )
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
    if matrix.empty:
        return _no_months_yet()
    departures = _departure_cells(ot_departures, matrix)
    n_sites, n_months = matrix.shape
    months = list(matrix.columns)
    values = matrix.to_numpy(dtype=float)
    vmax = max(float(np.nanmax(values)) if np.isfinite(values).any() else 0.0, 1.0)

    height = height_for_rows(n_sites, per_row_in=0.24, fixed_in=2.2, minimum_in=3.5)
    figure = new_figure(height)
    ax = figure.add_subplot()
    ax.add_patch(Rectangle((-0.5, -0.5), n_months, n_sites, zorder=0, linewidth=0, **BEFORE_OPENING_STYLE))
    colormap = mpl.colormaps["cividis"].with_extremes(bad=(0, 0, 0, 0))  # NaN transparent: the hatching shows
    image = ax.imshow(
        np.ma.masked_invalid(values),
        aspect="auto",
        interpolation="none",
        cmap=colormap,
        norm=Normalize(vmin=0, vmax=vmax),
        zorder=1,
    )
    site_rows_axis(ax, list(matrix.index))
    ax.set_xlim(-0.5, n_months - 0.5)
    positions, labels = month_ticks(months)
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
        ax.plot(
            marked["column"] + marked["shift"],
            marked["row"],
            linestyle="none",
            markersize=marker_pt,
            zorder=3,
            clip_on=False,
            **style,
        )
    title = HEATMAP_TITLE
    style_axes(ax, title, "Month", "Site")
    handles = [Patch(label="Before the site opened", **BEFORE_OPENING_STYLE)]
    handles += [
        Line2D([], [], linestyle="none", markersize=7, label=DEPARTURE_LABEL[replaced], **style)
        for replaced, style in DEPARTURE_STYLE.items()
    ]
    legend_below(figure, handles)
    freeze_layout(figure)

    alt_text = _heatmap_alt_text(matrix, departures, ot_departures)
    caption = (
        "Minutes of mentoring credited to each site in each calendar month (darker blue: fewer minutes; "
        "brighter yellow: more). Hatched grey: months before the site opened. Circles: an OT left that month and "
        "was replaced; crosses: an OT left and was not replaced."
    )
    return Chart("monthly_heatmap", title, figure, alt_text, caption)


HEATMAP_TITLE = "Mentoring minutes per site and month, with OT departures"


def _no_months_yet() -> Chart:
    """The heat map of a trial whose sites have no whole month in the study
    yet (a cut-off in the first site's opening month): the axes, saying so."""
    figure = new_figure(2.4)
    ax = figure.add_subplot()
    ax.set_axis_off()
    message = "No site has a whole month in the study yet."
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=FONT_SIZE_PT, transform=ax.transAxes)
    style_axes(ax, HEATMAP_TITLE, "Month", "Site")
    freeze_layout(figure)
    alt_text = f"An empty heat map: {message[:1].lower()}{message[1:]}"
    caption = "Minutes of mentoring credited to each site in each calendar month: none yet. " + message
    return Chart("monthly_heatmap", HEATMAP_TITLE, figure, alt_text, caption)


def _heatmap_alt_text(matrix: pd.DataFrame, departures: pd.DataFrame, ot_departures: pd.DataFrame) -> str:
    months = list(matrix.columns)
    in_study = matrix.stack().dropna()  # pandas 3 keeps NaN cells (months before opening) in stack
    sentences = [
        f"Heat map of mentoring minutes per month for {len(matrix)} sites over {len(months)} months "
        f"({fmt_month(months[0])} to {fmt_month(months[-1])})."
    ]
    if not in_study.empty:
        busiest = in_study.sort_index().idxmax()
        sentences.append(
            f"The busiest month was site {busiest[0]} in {fmt_month(busiest[1])} with "
            f"{fmt_number(in_study[busiest])} minutes; "
            f"{int((in_study == 0).sum())} of {len(in_study)} site-months in study had no mentoring."
        )
    sentences.append("Hatched grey cells are months before a site opened.")
    replaced = int(departures["replaced"].sum())
    unreplaced = departures.loc[~departures["replaced"]]
    unreplaced_where = (
        " (" + "; ".join(f"site {row.site}, {fmt_month(row.month)}" for row in unreplaced.itertuples()) + ")"
        if 0 < len(unreplaced) <= 3
        else ""
    )
    sentences.append(
        f"{fmt_count(len(departures), 'OT departure')} marked: {replaced} replaced, "
        f"{len(unreplaced)} not replaced{unreplaced_where}."
    )
    if len(departures) < len(ot_departures):
        sentences.append(
            f"{fmt_count(len(ot_departures) - len(departures), 'departure')} outside the months shown not marked."
        )
    return " ".join(sentences)


def month_ticks(months: Sequence[pd.Period]) -> tuple[list[int], list[str]]:
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
