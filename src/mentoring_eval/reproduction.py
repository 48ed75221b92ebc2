"""The publication check: the computed Table 4 against the published one, cell
by cell, and every count the published text gives recomputed from the records.

Published values come from the reference files (``data/reference/``), computed
values from the metrics-stage tables; nothing here holds a number of either.
Where the publication contradicts itself (the text's phone/Teams range against
its own Table 4; the text's leavers against the OT counts of Table 4) the
claim's ``note`` says so, with the numbers on each side.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .metrics import TABLE4_COLUMNS, as_timestamp, month_label, month_number
from .normalise import LEAVE_NOT_RECORDED

PUBLISHED_COLUMNS = TABLE4_COLUMNS[1:]
COMPARISON_COLUMNS = ("site", "column", "computed", "published", "match")
CLAIM_COLUMNS = ("claim", "published", "computed", "agrees", "note")
QUALITATIVE_COLUMNS = ("theme", "npt_construct", "finding", "group", "n", "of", "quote_source")
_TOLERANCE = 1e-9  # the published values have at most one decimal
_REQUIRED_FACTS = (
    "study_period",
    "ots_and_sites",
    "phone_teams_share_range",
    "leavers",
    "least_mentored",
    "unreplaced_departure",
    "close_to_expected",
    "above_expected",
    "low_competency_sites",
    "turnover_sites",
    "ots_in_post_at_once",
    "interviews",
)


# --- loading the reference files -------------------------------------------


def load_published_table4(path: str | Path) -> pd.DataFrame:
    """The published Table 4 (``table4_published.csv``): the eight contract
    columns, ``site`` as int64, counts as ``Int64``, the percentage as
    ``Float64``."""
    table = pd.read_csv(path)
    missing = [column for column in TABLE4_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    counts = {column: "Int64" for column in PUBLISHED_COLUMNS if column != "pct_phone_teams"}
    return (
        table.loc[:, list(TABLE4_COLUMNS)]
        .astype({"site": "int64", "pct_phone_teams": "Float64", **counts})
        .sort_values("site", kind="stable")
        .reset_index(drop=True)
    )


def load_published_facts(path: str | Path) -> dict[str, Any]:
    """The counts and site lists the published text gives
    (``published_facts.yml``), each with the sentence it comes from."""
    with open(path, encoding="utf-8") as handle:
        facts = yaml.safe_load(handle)
    missing = [key for key in _REQUIRED_FACTS if key not in (facts or {})]
    if missing:
        raise ValueError(f"{path}: missing entr(y/ies) {', '.join(missing)}")
    return facts


def load_qualitative_findings(path: str | Path) -> pd.DataFrame:
    """How many of the interviewed OTs (19) and mentors (6) reported each
    finding the published text gives a count for (``qualitative_findings.csv``):
    ``theme``; ``npt_construct`` (the Normalisation Process Theory constructs
    of the sub-heading it is reported under, blank where there are none);
    ``finding`` (the seed's words); ``group`` (``OTs`` or ``mentors``); ``n``
    of ``of``; ``quote_source`` (the quotation the seed places after the
    paragraph, blank where there is none). Rows in the order of the text."""
    findings = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [column for column in QUALITATIVE_COLUMNS if column not in findings.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    findings = findings.loc[:, list(QUALITATIVE_COLUMNS)].astype({"n": "int64", "of": "int64"})
    impossible = findings.loc[(findings["n"] < 0) | (findings["n"] > findings["of"])]
    if not impossible.empty:
        raise ValueError(f"{path}: n outside 0..of for: {'; '.join(impossible['finding'])}")
    return findings


# --- Table 4, cell by cell -------------------------------------------------


def compare_table4(computed: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Every published cell against the computed one, long format: ``site``,
    ``column``, ``computed``, ``published`` (both ``Float64``), ``match``.

    One row per site and published column, sorted by site then column in
    table order. A site on one side only is a row of mismatches with the
    other side missing.
    """
    missing = [column for column in TABLE4_COLUMNS if column not in computed.columns]
    if missing:
        raise ValueError(f"computed Table 4 lacks column(s) {', '.join(missing)}")
    comparison = _long_cells(computed, "computed").merge(
        _long_cells(published, "published"), on=["site", "column"], how="outer"
    )
    difference = (comparison["computed"] - comparison["published"]).abs()
    column_order = {column: position for position, column in enumerate(PUBLISHED_COLUMNS)}
    return (
        comparison.assign(
            match=(difference <= _TOLERANCE).fillna(False).astype(bool),
            column_position=comparison["column"].map(column_order),
        )
        .sort_values(["site", "column_position"], kind="stable")
        .loc[:, list(COMPARISON_COLUMNS)]
        .reset_index(drop=True)
    )


def _long_cells(table: pd.DataFrame, value_name: str) -> pd.DataFrame:
    return (
        table.loc[:, list(TABLE4_COLUMNS)]
        .astype({column: "Float64" for column in PUBLISHED_COLUMNS})
        .melt(id_vars="site", var_name="column", value_name=value_name)
        .astype({"site": "int64", value_name: "Float64"})
    )


def reproduction_verdict(comparison: pd.DataFrame) -> dict[str, Any]:
    """A summary of :func:`compare_table4`: cells compared, matched and not,
    the mismatching sites, whether all match, and a sentence saying so."""
    cells = len(comparison)
    matched = int(comparison["match"].sum())
    mismatching_sites = sorted(int(site) for site in comparison.loc[~comparison["match"], "site"].unique())
    all_match = cells > 0 and matched == cells
    summary = f"{matched} of {cells} published cells reproduced"
    if mismatching_sites:
        summary += f"; mismatches at site(s) {_site_list(mismatching_sites)}"
    return {
        "cells": cells,
        "matched": matched,
        "mismatched": cells - matched,
        "mismatching_sites": mismatching_sites,
        "all_match": all_match,
        "summary": summary,
    }


# --- the text's claims -----------------------------------------------------


def text_claims(
    site_metrics: pd.DataFrame,
    site_profile: pd.DataFrame,
    ot_departures: pd.DataFrame,
    facts: dict[str, Any],
    as_of: Any,
    published_table4: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each count and site list of the published text beside the same thing
    recomputed from the records: ``claim``, ``published``, ``computed`` (both
    as text), ``agrees`` (bool), ``note``.

    ``site_metrics`` is :func:`metrics.table4`'s output (with ``dose_band``),
    ``site_profile`` and ``ot_departures`` those of the metrics stage. With
    ``published_table4``, the notes also set the text against the
    publication's own table where the two disagree.
    """
    builders: list[Callable[..., list[dict[str, Any]]]] = [
        _ots_and_sites_claims,
        _study_period_claims,
        _dose_claims,
        _phone_teams_claims,
        _leaver_claims,
        _site_list_claims,
    ]
    context = {
        "site_metrics": site_metrics,
        "site_profile": site_profile,
        "ot_departures": ot_departures,
        "facts": facts,
        "as_of": as_timestamp(as_of),
        "published_table4": published_table4,
    }
    rows = [row for build in builders for row in build(**context)]
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS)).astype({"agrees": bool})


def _claim(claim: str, published: Any, computed: Any, note: str = "", show: Callable[[Any], str] = str) -> dict:
    """One claim row: the values compared as given, shown as text."""
    return {
        "claim": claim,
        "published": show(published),
        "computed": show(computed),
        "agrees": published == computed,
        "note": note,
    }


def _site_list(sites: Any) -> str:
    return ", ".join(str(site) for site in sorted(sites)) if len(sites) else "none"


def _sites(values: Any) -> tuple[int, ...]:
    return tuple(sorted(int(site) for site in values))


def _number(value: float) -> str:
    return f"{value:g}"


def _value_range(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return "none" if pd.isna(low) else f"{_number(low)}–{_number(high)}"


def _ots_and_sites_claims(site_metrics, facts, **_) -> list[dict]:
    published = facts["ots_and_sites"]
    return [
        _claim(
            "OTs who took part in mentoring",
            published["ots"],
            int(site_metrics["ots"].sum()),
            "computed: sum of Table 4's OT column (OTs in post during each site's study window)",
        ),
        _claim("Sites taking part", published["sites"], len(site_metrics)),
    ]


def _study_period_claims(site_metrics, facts, as_of, **_) -> list[dict]:
    published = facts["study_period"]
    last_month = month_number(as_of)
    first_month = last_month - int(site_metrics["months_in_study"].max()) if len(site_metrics) else last_month
    labels = month_label(pd.Series([first_month, last_month]))
    return [
        _claim(
            "Study period (first opening month to the cut-off month)",
            (published["start_month"], published["end_month"]),
            (labels[0], labels[1]),
            show=lambda period: f"{period[0]} to {period[1]}",
        )
    ]


def _dose_claims(site_metrics, facts, **_) -> list[dict]:
    close = facts["close_to_expected"]
    above = facts["above_expected"]
    bands = site_metrics["dose_band"]
    above_minutes = site_metrics.loc[bands == "above", "minutes_per_month"]
    with_minutes = site_metrics.loc[site_metrics["minutes_per_month"].notna()]
    fewest = with_minutes["minutes_per_month"].min() if len(with_minutes) else pd.NA
    least = facts["least_mentored"]
    return [
        _claim(
            f"Sites close to the expected {close['expected_minutes']} minutes per month",
            _sites(close["sites"]),
            _sites(site_metrics.loc[bands == "close", "site"]),
            show=_site_list,
        ),
        _claim("Number of sites above the expected minutes", above["sites"], int((bands == "above").sum())),
        _claim(
            "Range of monthly averages at sites above the expected (minutes)",
            (above["min_minutes_per_month"], above["max_minutes_per_month"]),
            (_or_none(above_minutes.min()), _or_none(above_minutes.max())),
            show=_value_range,
        ),
        _claim(
            "Least mentored site (minutes per month)",
            ((least["site"],), least["minutes_per_month"]),
            (_sites(with_minutes.loc[with_minutes["minutes_per_month"] == fewest, "site"]), _or_none(fewest)),
            show=lambda least_site: f"site {_site_list(least_site[0])} ({least_site[1]})",
        ),
    ]


def _or_none(value: Any) -> int | None:
    # None, not pd.NA: claims compare with ==, and pd.NA has no truth value.
    return None if pd.isna(value) else int(value)


def _phone_teams_claims(site_metrics, facts, published_table4, **_) -> list[dict]:
    text = facts["phone_teams_share_range"]
    text_range = (float(text["min_pct"]), float(text["max_pct"]))
    computed_range = _pct_range(site_metrics)
    note = f"text: {_value_range(text_range)}%; records: {_value_range(computed_range)}%"
    if published_table4 is not None:
        table_range = _pct_range(published_table4)
        lowest_sites = published_table4.loc[published_table4["pct_phone_teams"] == table_range[0], "site"]
        note = (
            f"text: {_value_range(text_range)}%; the publication's own Table 4: "
            f"{_value_range(table_range)}% (lowest at site {_site_list(_sites(lowest_sites))}); "
            f"records: {_value_range(computed_range)}%"
        )
        if table_range != text_range:
            note += ". The publication contradicts itself: the text's range is not its table's"
    return [
        _claim(
            "Share of mentoring by phone or Microsoft Teams, range across sites (%)",
            text_range,
            computed_range,
            note,
            show=_value_range,
        )
    ]


def _pct_range(table: pd.DataFrame) -> tuple[float, float]:
    shares = table["pct_phone_teams"].dropna()
    return (float(shares.min()), float(shares.max())) if len(shares) else (float("nan"), float("nan"))


def _leaver_claims(ot_departures, facts, published_table4, **_) -> list[dict]:
    leavers = facts["leavers"]
    # Categories (normalise.LEAVE_CATEGORIES), as the clean stage wrote them.
    reasons = ot_departures["leave_reason"].fillna(LEAVE_NOT_RECORDED)
    other_reasons = sorted(set(reasons) - set(leavers["reasons"]) - {LEAVE_NOT_RECORDED})
    count_note = _implied_leavers_note(facts, published_table4)
    if other_reasons:
        count_note += f" Reasons in the records the text does not name: {', '.join(other_reasons)}."
    if (reasons == LEAVE_NOT_RECORDED).any():
        count_note += f" Leavers with no reason recorded: {int((reasons == LEAVE_NOT_RECORDED).sum())}."
    claims = [
        _claim("OTs who left during the study", leavers["ots"], len(ot_departures), count_note.strip()),
        _claim("Sites where an OT left", leavers["sites"], int(ot_departures["site"].nunique())),
    ]
    claims += [
        _claim(f"OTs who left: {reason}", published_count, int((reasons == reason).sum()))
        for reason, published_count in leavers["reasons"].items()
    ]
    return claims


def _implied_leavers_note(facts: dict, published_table4: pd.DataFrame | None) -> str:
    """What the publication's own Table 4 implies about leavers: with at most
    ``max`` OTs in post at a site at once (footnote c), every OT beyond that
    replaced a leaver; the text's never-replaced leavers come on top."""
    if published_table4 is None:
        return ""
    at_once = facts["ots_in_post_at_once"]["max"]
    beyond = (published_table4["ots"] - at_once).clip(lower=0)
    replaced_sites = set(published_table4.loc[beyond > 0, "site"].astype(int))
    unreplaced_site = int(facts["unreplaced_departure"]["site"])
    implied_leavers = int(beyond.sum()) + 1
    implied_sites = replaced_sites | {unreplaced_site}
    note = (
        f"Table 4's OT counts, with at most {at_once} OTs in post at once (footnote c), imply at "
        f"least {int(beyond.sum())} replaced leavers at {len(replaced_sites)} sites; with the text's "
        f"never-replaced leaver at site {unreplaced_site} that is at least {implied_leavers} "
        f"leavers at {len(implied_sites)} sites ({_site_list(implied_sites)})."
    )
    leavers = facts["leavers"]
    if (implied_leavers, len(implied_sites)) != (leavers["ots"], leavers["sites"]):
        note += (
            f" The text's {leavers['ots']} leavers at {leavers['sites']} sites disagree with the"
            " publication's own table and text."
        )
    return note


def _site_list_claims(site_profile, ot_departures, facts, **_) -> list[dict]:
    unreplaced = ot_departures.loc[~ot_departures["replaced"].astype(bool)]
    return [
        _claim(
            "Sites with OT turnover where the leaver was replaced",
            _sites(facts["turnover_sites"]),
            _sites(site_profile.loc[site_profile["replaced"] > 0, "site"]),
            show=_site_list,
        ),
        _claim(
            "OTs who left and were never replaced (site, month)",
            ((int(facts["unreplaced_departure"]["site"]), str(facts["unreplaced_departure"]["month"])),),
            tuple(sorted(zip(unreplaced["site"].astype(int), unreplaced["month"].astype(str)))),
            show=lambda leavers: "; ".join(f"site {site} ({month})" for site, month in leavers) or "none",
        ),
        _claim(
            "Sites with low competency-assessment scores",
            _sites(facts["low_competency_sites"]),
            _sites(site_profile.loc[site_profile["low_competency"].astype(bool), "site"]),
            "low: any score below the project's threshold; the assessment's pass mark is not published",
            show=_site_list,
        ),
    ]
