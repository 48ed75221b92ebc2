"""Chart 2, mentoring per month by the site's mean competency score."""

from __future__ import annotations

import numpy as np
from chart_tables import LOW_COMPETENCY_SITES

from mentoring_eval import figures


def test_low_competency_sites_have_their_own_marker(charts):
    lines = [line for line in charts["dose_vs_competency"].figure.axes[0].lines if line.get_linestyle() == "None"]
    assert {line.get_marker() for line in lines} == {"o", "^"}
    low = next(line for line in lines if line.get_marker() == "^")
    assert len(low.get_xdata()) == len(LOW_COMPETENCY_SITES)


def test_competency_chart_without_scores_says_so(site_metrics, site_profile):
    chart = figures.dose_vs_competency(site_metrics, site_profile.assign(mean_competency=np.nan))
    assert chart.alt_text == "Empty chart: No site has a competency score yet."
    assert "No site has a competency score yet." in [text.get_text() for text in chart.figure.axes[0].texts]


def test_alt_text_names_the_extremes(charts):
    assert "Site 7 received most (121 minutes" in charts["dose_vs_competency"].alt_text
    assert "site 2 least (43 minutes" in charts["dose_vs_competency"].alt_text


def test_title_states_the_finding(charts):
    assert "low-scoring sites averaged 101 minutes, others 75" in charts["dose_vs_competency"].title
