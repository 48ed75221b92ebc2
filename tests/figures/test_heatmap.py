"""Chart 4, the site-by-month heat map with OT departures."""

from __future__ import annotations

import chart_tables

from mentoring_eval import figures


def test_heatmap_colour_bar_is_in_minutes(charts):
    colour_bar_axes = charts["monthly_heatmap"].figure.axes[1]
    assert "minutes" in colour_bar_axes.get_ylabel()


def test_heatmap_months_before_opening_are_blank_not_zero(monthly_minutes):
    matrix = figures.site_month_matrix(monthly_minutes)
    assert matrix.shape == (16, 25)
    assert matrix.loc[15].isna().sum() == 25 - 8  # site 15: 8 months in study
    assert matrix.loc[1].notna().all()


def test_heatmap_marks_departures_by_replacement(charts):
    markers = [line for line in charts["monthly_heatmap"].figure.axes[0].lines if len(line.get_xdata())]
    counts = {line.get_marker(): len(line.get_xdata()) for line in markers}
    assert counts == {"o": 8, "X": 1}


def test_heatmap_readable_at_200_sites():
    site_metrics, monthly, departures = chart_tables.national_tables()
    chart = figures.monthly_heatmap(monthly, departures)
    ax = chart.figure.axes[0]
    assert chart.figure.get_figheight() <= figures.MAX_FIGURE_HEIGHT_IN
    assert 10 <= len(ax.get_yticklabels()) <= 50
    assert len(ax.get_xticklabels()) <= 12
    assert "200 sites over 26 months" in chart.alt_text


def test_alt_text_gives_the_span_and_the_departures(charts):
    heatmap_alt = charts["monthly_heatmap"].alt_text
    assert "16 sites over 25 months (Mar 2018 to Mar 2020)" in heatmap_alt
    assert "9 OT departures marked: 8 replaced, 1 not replaced (site 2, Aug 2019)" in heatmap_alt
