"""A site per row: label thinning and the height cap at national scale."""

from __future__ import annotations

import chart_tables
import pytest

from mentoring_eval import figures


def test_label_step():
    assert figures.label_step(16) == 1
    assert figures.label_step(200) == 5
    assert figures.label_step(200, max_labels=25) == 10


@pytest.mark.parametrize("builder", [figures.dose_by_site, figures.mode_by_site])
def test_bar_charts_cap_height_and_thin_labels_at_200_sites(builder):
    site_metrics, _, _ = chart_tables.national_tables()
    chart = builder(site_metrics)
    assert chart.figure.get_figheight() <= figures.MAX_FIGURE_HEIGHT_IN
    assert len(chart.figure.axes[0].get_yticklabels()) <= 50
