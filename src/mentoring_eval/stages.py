"""The I/O edges of the site-metrics and figures stages.

Each stage reads the previous stage's files, calls the pure functions of
:mod:`mentoring_eval.metrics`, :mod:`mentoring_eval.reproduction` and
:mod:`mentoring_eval.figures`, and writes its own files atomically. The
report reads them back with :func:`load_site_metrics`, so nothing is computed
twice. (The clean stage's edge is :func:`mentoring_eval.clean.run_clean_stage`.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mentoring_eval import metrics, reproduction
from mentoring_eval.errors import InputError
from mentoring_eval.outputs import atomic_outputs, write_csv, write_json

if TYPE_CHECKING:  # matplotlib: imported by the figures stage only, not by the report reading its tables
    from mentoring_eval.figures import Chart

FACTS_FILE = "published_facts.yml"  # beside the published Table 4
FIGURE_INDEX = "figures.json"


@dataclass(frozen=True)
class SiteMetrics:
    """Everything the metrics stage computes; each field is one file."""

    table4: pd.DataFrame
    monthly: pd.DataFrame
    profile: pd.DataFrame
    departures: pd.DataFrame
    groups: pd.DataFrame
    association: pd.DataFrame
    attention: pd.DataFrame
    reproduction: pd.DataFrame  # empty when there is no published table to compare with
    claims: pd.DataFrame  # empty likewise


FILE_NAMES = {
    "table4": "site_metrics.csv",
    "monthly": "monthly_minutes.csv",
    "profile": "site_profile.csv",
    "departures": "ot_departures.csv",
    "groups": "group_comparison.csv",
    "association": "association.csv",
    "attention": "attention.csv",
    "reproduction": "reproduction.csv",
    "claims": "text_claims.csv",
}
# Each file's column types, as the metrics stage writes them. Read back by
# these, never inferred: an empty table or an all-blank column (a trial with
# no site needing attention, no leaver, no minutes yet) keeps its types.
COLUMN_TYPES = {
    "table4": {
        **dict.fromkeys(
            (
                "site",
                "months_in_study",
                "total_minutes",
                "essvr_participants",
                "ots",
                "minutes_per_month",
                "participants_per_ot",
                "phone_minutes",
                "teams_minutes",
                "written_minutes",
            ),
            "Int64",
        ),
        "pct_phone_teams": "Float64",
        "dose_band": "string",
    },
    "monthly": {"site": "Int64", "month": "string", "minutes": "Float64"},
    "profile": {
        "site": "Int64",
        "mean_competency": "Float64",
        "low_competency": "boolean",
        "leavers": "Int64",
        "replaced": "Int64",
        "unreplaced": "Int64",
        "turnover": "boolean",
    },
    "departures": {
        "ot_id": "string",
        "site": "Int64",
        "month": "string",
        "leave_reason": "string",
        "replaced": "boolean",
        "replaced_by": "string",
    },
    "groups": {
        "factor": "string",
        "group": "string",
        "n_sites": "Int64",
        "mean_minutes_per_month": "Float64",
        "sites": "string",
    },
    "association": {
        "x": "string",
        "y": "string",
        "n": "Int64",
        "rho": "Float64",
        "p_value": "Float64",
        "p_value_method": "string",
        "interpretation": "string",
    },
    "attention": {"site": "Int64", "reason": "string", "detail": "string"},
    "reproduction": {
        "site": "Int64",
        "column": "string",
        "computed": "Float64",
        "published": "Float64",
        "match": "boolean",
    },
    "claims": {"claim": "string", "published": "string", "computed": "string", "agrees": "boolean", "note": "string"},
}
DATE_COLUMNS = {"departures": ["left_on"]}
CLEAN_TABLES = ("contacts", "sites", "participants", "ots", "competency")
# The contacts columns the metrics use: a national log has a million rows, and
# the text columns (mentor, OTs, source file) would only be read to be dropped.
METRICS_CONTACT_COLUMNS = ["date", "site", "mode", "minutes", "in_window", "window_flag"]


def read_clean_tables(processed_dir: Path) -> dict[str, pd.DataFrame]:
    """The clean stage's tables, by name (contacts: the columns the metrics use)."""
    missing = [name for name in CLEAN_TABLES if not (processed_dir / f"{name}.parquet").exists()]
    if missing:
        raise InputError(f"{processed_dir}: {missing[0]}.parquet not found; run the clean stage first")
    return {
        name: pd.read_parquet(
            processed_dir / f"{name}.parquet", columns=METRICS_CONTACT_COLUMNS if name == "contacts" else None
        )
        for name in CLEAN_TABLES
    }


def compute_site_metrics(
    clean: dict[str, pd.DataFrame], as_of: str, expected_minutes: int, reference_table: Path | None = None
) -> SiteMetrics:
    """Table 4 and everything else per site; the publication check when a
    published table (with its facts file beside it) is given."""
    table4 = metrics.table4(
        clean["contacts"], clean["sites"], clean["participants"], clean["ots"], as_of, expected_minutes=expected_minutes
    )
    monthly = metrics.monthly_minutes(clean["contacts"], clean["sites"], as_of)
    profile = metrics.site_profile(clean["sites"], clean["ots"], clean["competency"], as_of)
    departures = metrics.ot_departures(clean["ots"], clean["sites"], as_of)
    if reference_table is None:  # a user's own trial, or an interim cut-off: nothing to reproduce
        comparison = pd.DataFrame(columns=["site", "column", "computed", "published", "match"])
        claims = pd.DataFrame(columns=["claim", "published", "computed", "agrees", "note"])
    else:
        published = reproduction.load_published_table4(reference_table)
        facts = reproduction.load_published_facts(reference_table.parent / FACTS_FILE)
        comparison = reproduction.compare_table4(table4, published)
        claims = reproduction.text_claims(table4, profile, departures, facts, as_of, published_table4=published)
    return SiteMetrics(
        table4=table4,
        monthly=monthly,
        profile=profile,
        departures=departures,
        groups=metrics.group_comparison(table4, profile),
        association=metrics.spearman_association(table4, profile),
        attention=metrics.sites_needing_attention(table4, monthly, profile, as_of, expected_minutes),
        reproduction=comparison,
        claims=claims,
    )


def run_site_metrics_stage(
    processed_dir: str | Path, as_of: str, expected_minutes: int, reference_table: str | Path | None = None
) -> SiteMetrics:
    processed_dir = Path(processed_dir)
    reference = Path(reference_table) if reference_table else None
    result = compute_site_metrics(read_clean_tables(processed_dir), as_of, expected_minutes, reference)
    with atomic_outputs(processed_dir) as staging:
        for field in fields(SiteMetrics):
            write_csv(getattr(result, field.name), staging / FILE_NAMES[field.name])
    return result


def load_site_metrics(processed_dir: str | Path) -> SiteMetrics:
    processed_dir = Path(processed_dir)
    missing = [name for name in FILE_NAMES.values() if not (processed_dir / name).exists()]
    if missing:
        raise InputError(f"{processed_dir}: {missing[0]} not found; run the site metrics stage first")
    return SiteMetrics(
        **{
            name: pd.read_csv(
                processed_dir / file,
                dtype=COLUMN_TYPES[name],
                dtype_backend="numpy_nullable",
                parse_dates=DATE_COLUMNS.get(name, []),
            )
            for name, file in FILE_NAMES.items()
        }
    )


# ---------------------------------------------------------------- figures


def run_figures_stage(processed_dir: str | Path, report_dir: str | Path, expected_minutes: int) -> list[Chart]:
    """Draw the charts and write each as SVG and PNG into ``report/figures``,
    with an index of their titles, captions and alt text."""
    from mentoring_eval import figures

    computed = load_site_metrics(processed_dir)
    charts = figures.all_charts(
        computed.table4, computed.monthly, computed.profile, computed.departures, expected_minutes=expected_minutes
    )
    figure_dir = Path(report_dir) / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    with atomic_outputs(figure_dir) as staging:
        for chart in charts:
            figures.save_chart(chart, staging)
        write_json(
            {
                chart.name: {"title": chart.title, "caption": chart.caption, "alt_text": chart.alt_text}
                for chart in charts
            },
            staging / FIGURE_INDEX,
        )
    return charts


def load_figure_index(report_dir: str | Path) -> dict[str, dict[str, str]]:
    path = Path(report_dir) / "figures" / FIGURE_INDEX
    if not path.exists():
        raise InputError(f"{path}: not found; run the figures stage first")
    return json.loads(path.read_text(encoding="utf-8"))
