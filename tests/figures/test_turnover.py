"""Chart 3, mentoring per month by OT turnover."""

from __future__ import annotations

import numpy as np

from mentoring_eval import figures


def test_turnover_groups(site_profile):
    groups = figures.turnover_group(site_profile).set_axis(site_profile["site"])
    assert groups[2] == "Unreplaced departure"
    assert groups[4] == "Turnover, all replaced"
    assert groups[3] == "No turnover"


def test_strip_offsets_spread_close_values_and_are_deterministic():
    offsets = figures.strip_offsets([50, 51, 52, 90], close=5)
    assert len(set(offsets[:3])) == 3
    assert offsets[3] == 0
    assert np.array_equal(offsets, figures.strip_offsets([50, 51, 52, 90], close=5))


def test_strip_offsets_stay_inside_their_group_however_many_sites_share_a_value():
    offsets = figures.strip_offsets([60.0] * 150, close=5.0)
    assert np.abs(offsets).max() <= 0.34 + 1e-12
    assert len(np.unique(offsets)) == 150  # still side by side, none on top of another


def test_alt_text_describes_each_group(charts):
    assert "Unreplaced departure: 1 site (site 2), 43 minutes per month." in charts["dose_by_turnover"].alt_text
