"""The charts' input tables: missing columns named, row order irrelevant."""

from __future__ import annotations

import pytest

from mentoring_eval import figures


def test_missing_column_names_table_and_column(site_metrics):
    with pytest.raises(ValueError, match="site_metrics lacks column.*dose_band"):
        figures.dose_by_site(site_metrics.drop(columns="dose_band"))


def test_row_order_does_not_change_the_chart(site_metrics, site_profile):
    shuffled = site_metrics.sample(frac=1, random_state=3)
    a = figures.chart_to_svg(figures.dose_vs_competency(site_metrics, site_profile))
    b = figures.chart_to_svg(figures.dose_vs_competency(shuffled, site_profile.iloc[::-1]))
    assert a == b
