"""Counts, lists and ranges as a sentence says them, shared by the metrics'
attention details, the report's prose, the charts' words and the site
pages, so that all of them read the same — and read well at the edges: one
site, none, a range whose ends are equal."""

from __future__ import annotations

from collections.abc import Iterable


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 OT``, ``2 OTs``, ``3 months``; ``plural_form`` for irregular words."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def join_words(items: Iterable[object], empty: str = "none") -> str:
    """``1, 4 and 5``: a list as a sentence says it; ``empty`` for no items."""
    words = [str(i) for i in items]
    if not words:
        return empty
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def sites_phrase(sites: Iterable[int], empty: str = "no sites") -> str:
    """``site 2``, ``sites 9 and 10``, ``sites 1, 4 and 5`` (sorted)."""
    numbers = sorted(int(site) for site in sites)
    if not numbers:
        return empty
    return ("site " if len(numbers) == 1 else "sites ") + join_words(numbers)


def number_range(low: str, high: str) -> str:
    """``51–121``; a range whose ends are the same number is that number
    (``88``, never ``88–88``). Both ends come formatted."""
    return low if low == high else f"{low}–{high}"


def capitalised(text: str) -> str:
    """The sentence's first letter upper case, the rest as written (``site 7`` -> ``Site 7``)."""
    return text[:1].upper() + text[1:]
