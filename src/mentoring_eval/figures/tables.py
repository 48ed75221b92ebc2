"""The metrics-stage tables as the charts take them: required columns
checked, rows in an order that does not depend on the order they came in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd


def require_columns(table: pd.DataFrame, columns: Iterable[str], table_name: str) -> None:
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{table_name} lacks column(s) {', '.join(missing)}")


def order_by(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows by ``column``, largest first, ties by site: the same order
    whatever order the rows came in."""
    return table.sort_values([column, "site"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def most_and_least(sites: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """The rows with the largest and the smallest ``column``."""
    ordered = order_by(sites, column)
    return ordered.iloc[0], ordered.iloc[-1]


def with_profile(site_metrics: pd.DataFrame, site_profile: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Sites present in both tables with a monthly average (a site with no
    whole month in the study yet has none to plot), by site number."""
    require_columns(site_metrics, ("site", "minutes_per_month"), "site_metrics")
    require_columns(site_profile, columns, "site_profile")
    merged = (
        site_metrics[["site", "minutes_per_month"]]
        .dropna(subset=["minutes_per_month"])
        .merge(site_profile[list(columns)], on="site", how="inner")
    )
    return merged.sort_values("site", kind="mergesort").reset_index(drop=True)
