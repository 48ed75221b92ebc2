"""Chart 1, mentoring per month by site against the expected dose."""

from __future__ import annotations

import pytest

from mentoring_eval import figures


def test_unknown_dose_band_is_refused(site_metrics):
    with pytest.raises(ValueError, match="unknown value"):
        figures.dose_by_site(site_metrics.assign(dose_band="way off"))


def test_dose_bands_differ_by_hatching_as_well_as_colour(charts):
    bars = [patch for patch in charts["dose_by_site"].figure.axes[0].patches if patch.get_width() > 0]
    hatch_by_colour = {patch.get_facecolor(): patch.get_hatch() for patch in bars}
    assert len(hatch_by_colour) == 3
    assert len(set(hatch_by_colour.values())) == 3


def test_bars_are_ordered_by_minutes(charts):
    ax = charts["dose_by_site"].figure.axes[0]
    bars = sorted((patch for patch in ax.patches if patch.get_width() > 0), key=lambda patch: patch.get_y())
    widths = [bar.get_width() for bar in bars]
    assert widths == sorted(widths, reverse=True)  # first row (top) is the largest


def test_alt_text_names_the_extremes_and_the_bands(charts):
    alt_text = charts["dose_by_site"].alt_text
    assert "Site 7 highest at 121 minutes per month, site 2 lowest at 43" in alt_text
    assert "12 above" in alt_text
    assert "3 close (sites 9, 10 and 13)" in alt_text
    assert "1 below (site 2)" in alt_text


def test_title_states_the_finding(charts):
    assert charts["dose_by_site"].title.endswith("12 of 16 sites above the expected 60 minutes")
