"""Numbers and sites as the charts' words write them."""

from __future__ import annotations

from mentoring_eval.figures.words import fmt_count, fmt_number, fmt_sites


def test_numbers_round_half_up_without_a_trailing_zero():
    assert fmt_number(58.5, 0) == "59"  # Python's round() would give 58
    assert fmt_number(60.0) == "60"
    assert fmt_number(1053) == "1,053"
    assert fmt_number(76.25) == "76.3"


def test_sites_and_counts_read_as_english():
    assert fmt_sites([]) == "no sites"
    assert fmt_sites([2]) == "site 2"
    assert fmt_sites([10, 9]) == "sites 9 and 10"
    assert fmt_sites([5, 1, 4]) == "sites 1, 4 and 5"
    assert fmt_count(1, "site") == "1 site"
    assert fmt_count(3, "site") == "3 sites"
