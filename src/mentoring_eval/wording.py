"""Counts and lists as a sentence says them, shared by the metrics' attention
details, the report's prose and the site pages, so that all of them read the same."""

from __future__ import annotations

from collections.abc import Iterable


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 OT``, ``2 OTs``, ``3 months``; ``plural_form`` for irregular words."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def join_words(items: Iterable[object]) -> str:
    """``1, 4 and 5``: a list as a sentence says it."""
    words = [str(i) for i in items]
    if not words:
        return "none"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
