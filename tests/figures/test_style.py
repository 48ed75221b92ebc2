"""The shared style: charts are built inside it without touching global
state; titles wrap evenly; heights grow with rows up to the page cap."""

from __future__ import annotations

import matplotlib as mpl
from chart_tables import build_all

from mentoring_eval import figures
from mentoring_eval.figures.style import MAX_FIGURE_HEIGHT_IN, balanced_wrap, height_for_rows


def test_builders_leave_global_rcparams_alone(site_metrics, monthly_minutes, site_profile, ot_departures):
    before = dict(mpl.rcParams)
    build_all(site_metrics, monthly_minutes, site_profile, ot_departures)
    figures.figure_to_svg(figures.dose_by_site(site_metrics).figure)
    assert dict(mpl.rcParams) == before


def test_titles_wrap_onto_lines_of_even_length():
    title = "Mentoring per month: 12 of 16 sites above the expected 60 minutes, and more words"
    lines = balanced_wrap(title, 64).split("\n")
    assert len(lines) == 2
    assert abs(len(lines[0]) - len(lines[1])) <= 8  # no word left dangling on its own
    assert balanced_wrap("Short title", 64) == "Short title"


def test_figure_height_grows_with_rows_up_to_the_page_cap():
    assert height_for_rows(4, per_row_in=0.25, fixed_in=1.9, minimum_in=3.0) == 3.0
    assert height_for_rows(16, per_row_in=0.25, fixed_in=1.9, minimum_in=3.0) == 1.9 + 4.0
    assert height_for_rows(200, per_row_in=0.25, fixed_in=1.9, minimum_in=3.0) == MAX_FIGURE_HEIGHT_IN
