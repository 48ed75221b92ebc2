"""Half-up rounding: exact at halves, as the publication rounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mentoring_eval.paths import project_root
from mentoring_eval.rounding import ratio_half_up, round_half_up

PUBLISHED = project_root() / "data" / "reference" / "table4_published.csv"


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (58.5, 0, 59.0),
        (76.5, 0, 77.0),
        (8.5, 0, 9.0),
        (0.5, 0, 1.0),
        (1.5, 0, 2.0),
        (2.5, 0, 3.0),
        (58.49, 0, 58.0),
        (99.05, 1, 99.1),  # stored as 99.04999...: binary rounding gives 99.0
        (2.675, 2, 2.68),  # stored as 2.67499...
        (91.6, 1, 91.6),
        (100.0, 1, 100.0),
        (-0.5, 0, -1.0),  # half away from zero, as decimal.ROUND_HALF_UP
        (1234.0, -1, 1230.0),
        (1235.0, -1, 1240.0),
    ],
)
def test_round_half_up_scalars(value, decimals, expected):
    assert round_half_up(value, decimals) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "decimals", "expected"),
    [
        (1053, 18, 0, 59.0),  # site 13
        (612, 8, 0, 77.0),  # site 15
        (17, 2, 0, 9.0),  # site 2, participants per OT
        (21, 2, 0, 11.0),  # site 3
        (13, 2, 0, 7.0),  # sites 12 and 13
        (100 * 1981, 2000, 1, 99.1),  # exactly 99.05 %
        (100 * 1076, 1086, 1, 99.1),
        (2, 3, 1, 0.7),
        (1, 3, 1, 0.3),
        (1.5, 0.3, 0, 5.0),  # not whole: decimal division
        (0.15, 1, 1, 0.2),
        (-17, 2, 0, -9.0),
    ],
)
def test_ratio_half_up_scalars(numerator, denominator, decimals, expected):
    assert ratio_half_up(numerator, denominator, decimals) == expected


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_missing_in_missing_out(missing):
    assert round_half_up(missing) is pd.NA
    assert ratio_half_up(missing, 3) is pd.NA
    assert ratio_half_up(3, missing) is pd.NA


def test_zero_denominator_is_missing():
    assert ratio_half_up(5, 0) is pd.NA
    assert ratio_half_up(0, 0, 1) is pd.NA


def test_series_keep_index_and_come_back_nullable():
    values = pd.Series([58.5, None, 76.5], index=[13, 99, 15], dtype="Float64")
    rounded = round_half_up(values)
    assert rounded.dtype == "Float64"
    assert rounded.index.tolist() == [13, 99, 15]
    assert rounded.isna().tolist() == [False, True, False]
    assert rounded.dropna().tolist() == [59.0, 77.0]


def test_two_series_are_aligned_on_their_index():
    minutes = pd.Series([1053, 612], index=[13, 15])
    months = pd.Series([8, 18], index=[15, 13])
    assert ratio_half_up(minutes, months).to_dict() == {13: 59.0, 15: 77.0}


def test_arrays_broadcast_and_come_back_as_float_arrays():
    result = ratio_half_up(np.array([[1053, 612], [17, 0]]), np.array([[18, 8], [2, 0]]))
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, [[59.0, 77.0], [9.0, np.nan]])
    np.testing.assert_array_equal(round_half_up([0.5, 1.5, 2.5]), [1.0, 2.0, 3.0])


def test_large_whole_numbers_stay_exact():
    assert ratio_half_up(10**15 + 1, 2, 0) == 5 * 10**14 + 1
    # Scaled by 10**3 this leaves the int64-safe range: the decimal path takes over.
    assert ratio_half_up(10**15 + 1, 2, 3) == 500_000_000_000_000.5


def _published() -> pd.DataFrame:
    return pd.read_csv(PUBLISHED)


def test_published_averages_are_reproduced_from_published_totals():
    published = _published()
    minutes_per_month = ratio_half_up(published["total_minutes"], published["months_in_study"])
    participants_per_ot = ratio_half_up(published["essvr_participants"], published["ots"])
    assert minutes_per_month.tolist() == published["minutes_per_month"].astype(float).tolist()
    assert participants_per_ot.tolist() == published["participants_per_ot"].astype(float).tolist()


def test_pythons_round_gets_sites_2_3_12_13_and_15_wrong():
    published = _published()
    python_minutes = [
        round(total / months) for total, months in zip(published["total_minutes"], published["months_in_study"])
    ]
    python_per_ot = [
        round(participants / ots) for participants, ots in zip(published["essvr_participants"], published["ots"])
    ]
    wrong = published.loc[
        (published["minutes_per_month"] != python_minutes) | (published["participants_per_ot"] != python_per_ot),
        "site",
    ]
    assert wrong.tolist() == [2, 3, 12, 13, 15]


def test_binary_rounding_misses_an_exact_half_percentage():
    # 1981 of 2000 minutes by phone is exactly 99.05 %.
    assert round(100 * 1981 / 2000, 1) == 99.0
    assert ratio_half_up(100 * 1981, 2000, 1) == 99.1
