"""Chart 5, mentoring by mode (phone, Teams, written) per site."""

from __future__ import annotations


def test_alt_text_names_the_extremes_and_the_phone_share(charts):
    assert "Site 7 highest at 2,906 minutes, site 15 lowest at 612." in charts["mode_by_site"].alt_text
    assert "91.6–100% of each site" in charts["mode_by_site"].alt_text


def test_title_states_the_phone_share(charts):
    assert "91.6–100%" in charts["mode_by_site"].title
