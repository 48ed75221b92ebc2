"""Numbers, sites and months as the charts' titles, alt text and captions
write them."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mentoring_eval.figures.tables import most_and_least
from mentoring_eval.rounding import round_half_up
from mentoring_eval.wording import plural, sites_phrase


def fmt_number(value: float, decimals: int = 1) -> str:
    """``value`` rounded half-up (as the publication rounds) to ``decimals``
    places, without a trailing ``.0``: ``60``, ``1,053``, ``58.5``."""
    rounded = float(round_half_up(float(value), decimals))
    if rounded.is_integer():
        return f"{int(rounded):,}"
    return f"{rounded:,.{decimals}f}"


# One wording for the whole project (mentoring_eval.wording), under the
# names the chart modules use.
fmt_sites = sites_phrase
fmt_count = plural


def fmt_month(month: pd.Period) -> str:
    return month.strftime("%b %Y")


def sites_if_few(sites: Sequence[int], most: int = 5) -> str:
    """`` (sites 9, 10 and 13)`` when there are only a few to name, else ``""``."""
    return f" ({fmt_sites(sites)})" if 0 < len(sites) <= most else ""


def extremes_sentence(sites: pd.DataFrame, column: str, unit: str) -> str:
    """``Site 7 highest at 121 minutes per month, site 2 lowest at 43.``"""
    most, least = most_and_least(sites, column)
    return (
        f"Site {int(most['site'])} highest at {fmt_number(most[column])} {unit}, "
        f"site {int(least['site'])} lowest at {fmt_number(least[column])}."
    )


def not_shown_note(n_shown: int, n_all: int, reason: str) -> str:
    missing = n_all - n_shown
    return f" {fmt_count(missing, 'site')} without {reason} not shown." if missing else ""
