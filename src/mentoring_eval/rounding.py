"""Half-up rounding, as the publication rounds.

The published Table 4 rounds halves up (site 13: 1053 / 18 = 58.5 -> 59;
site 15: 612 / 8 = 76.5 -> 77). Python's ``round()`` and NumPy's ``round``
round halves to even, and binary floating point cannot hold most decimal
halves exactly (100 * 1981 / 2000 is stored as 99.04999..., not 99.05), so
neither reproduces the publication. The functions here are exact:

- :func:`ratio_half_up` rounds a fraction ``numerator / denominator``
  without ever forming the inexact float quotient. Whole-number inputs (the
  normal case: minutes, counts) take a vectorised integer path; others are
  divided in decimal arithmetic.
- :func:`round_half_up` rounds a number as it is written in decimal (the
  shortest decimal that reads back as the same float), so 99.05 -> 99.1.

"Half up" means half away from zero, as :data:`decimal.ROUND_HALF_UP` does;
the tables here only ever round non-negative values.

Series in, nullable ``Float64`` Series out (same index); arrays and lists in,
``float64`` arrays out (NaN for missing); a scalar in, a Python ``float`` out
(``pd.NA`` when missing). Missing values, and ratios with a zero
denominator, come out missing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import numpy as np
import pandas as pd

# Integers up to this bound stay exact in int64 arithmetic after scaling by
# 10**decimals and doubling the remainder; larger ones go the decimal way.
_INT64_SAFE = 2**61
# Enough digits that a decimal quotient of two float-sized decimals is exact
# whenever it is a half at the rounding place (such a quotient terminates).
_DECIMAL_DIGITS = 60


def round_half_up(values: Any, decimals: int = 0) -> Any:
    """Round to ``decimals`` places, halves away from zero, exactly.

    A float is taken as the shortest decimal that reads back as it (its
    ``repr``): 58.5 -> 59, 76.5 -> 77, 99.05 -> 99.1, 2.675 -> 2.68 with
    ``decimals=2``. NA in, NA out.
    """
    return ratio_half_up(values, 1, decimals)


def ratio_half_up(numerator: Any, denominator: Any, decimals: int = 0) -> Any:
    """``numerator / denominator`` rounded to ``decimals`` places, halves away
    from zero, computed exactly (never from the float quotient).

    Inputs broadcast like NumPy; two Series are aligned on their index first.
    Whole numbers use integer division with remainder; other values use
    decimal division. A missing input or a zero denominator gives NA.
    """
    if isinstance(numerator, pd.Series) and isinstance(denominator, pd.Series):
        numerator, denominator = numerator.align(denominator)
    num = _as_float_array(numerator)
    den = _as_float_array(denominator)
    num, den = np.broadcast_arrays(num, den)

    result = np.full(num.shape, np.nan)
    valid = np.isfinite(num) & np.isfinite(den) & (den != 0)
    scale = 10.0 ** max(decimals, 0)
    whole = (
        valid
        & (decimals >= 0)
        & (scale < _INT64_SAFE)
        & (num == np.trunc(num))
        & (den == np.trunc(den))
        & (np.abs(num) * scale < _INT64_SAFE)
        & (np.abs(den) < _INT64_SAFE)
    )
    if whole.any():
        result[whole] = _integer_ratio_half_up(num[whole], den[whole], decimals)
    fractional = valid & ~whole
    result[fractional] = [
        _decimal_ratio_half_up(n, d, decimals) for n, d in zip(num[fractional].tolist(), den[fractional].tolist())
    ]
    return _shaped_like(result, numerator, denominator)


def _integer_ratio_half_up(num: np.ndarray, den: np.ndarray, decimals: int) -> np.ndarray:
    """Vectorised exact rounding of whole-number ratios: quotient and
    remainder of |num| * 10**decimals by |den|, plus one where the remainder
    is at least half the divisor."""
    sign = np.sign(num) * np.sign(den)
    scaled = np.abs(num).astype(np.int64) * np.int64(10**decimals)
    divisor = np.abs(den).astype(np.int64)
    quotient, remainder = np.divmod(scaled, divisor)
    rounded = quotient + (2 * remainder >= divisor)
    # One final division gives the float nearest the decimal result (991/10 -> 99.1).
    return sign * rounded / 10**decimals


def _decimal_ratio_half_up(num: float, den: float, decimals: int) -> float:
    with localcontext() as context:
        context.prec = _DECIMAL_DIGITS
        quotient = Decimal(repr(num)) / Decimal(repr(den))
        return float(quotient.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _as_float_array(values: Any) -> np.ndarray:
    """Any Series, array, list or scalar as a float64 array, NA as NaN."""
    if isinstance(values, pd.Series):
        series = values
    else:
        series = pd.Series(np.atleast_1d(np.asarray(values, dtype=object)).ravel())
    array = series.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    return array.reshape(np.shape(values))


def _is_collection(values: Any) -> bool:
    return isinstance(values, (pd.Series, pd.Index, np.ndarray, list, tuple))


def _shaped_like(result: np.ndarray, *inputs: Any) -> Any:
    """Return ``result`` in the form of the inputs: a Series when one of them
    is a Series, an array when one is a collection, else a scalar."""
    for given in inputs:
        if isinstance(given, pd.Series):
            return pd.Series(result, index=given.index, dtype="Float64", name=given.name)
    if any(_is_collection(given) for given in inputs):
        return result
    value = float(result)
    return pd.NA if np.isnan(value) else value
