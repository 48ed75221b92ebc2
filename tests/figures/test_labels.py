"""Site numbers beside points: every one placed, none overlapping another or
leaving the axes; only the extremes numbered in a large trial."""

from __future__ import annotations

from itertools import combinations

import pandas as pd
import pytest

from mentoring_eval import figures


@pytest.mark.parametrize("name", ["dose_vs_competency", "dose_by_turnover"])
def test_every_point_labelled_without_overlap(charts, name):
    figure = charts[name].figure
    ax = figure.axes[0]
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    site_labels = [text for text in ax.texts if text.get_text().isdigit()]
    assert sorted(int(text.get_text()) for text in site_labels) == list(range(1, 17))
    boxes = [text.get_window_extent(renderer) for text in ax.texts]
    frame = ax.get_window_extent(renderer)
    assert not [(a, b) for a, b in combinations(boxes, 2) if a.overlaps(b)]
    assert all(frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1 for box in boxes)


def test_labelled_sites_numbers_every_site_of_a_small_trial_and_the_extremes_of_a_large_one():
    few = pd.DataFrame({"site": range(16), "minutes_per_month": range(16)})
    assert figures.labelled_sites(few, "minutes_per_month").all()
    many = pd.DataFrame({"site": range(200), "minutes_per_month": range(200)})
    shown = figures.labelled_sites(many, "minutes_per_month")
    assert shown.sum() == 20 and shown[:10].all() and shown[-10:].all()
