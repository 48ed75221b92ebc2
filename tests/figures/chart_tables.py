"""The chart tests' input tables: the published Table 4 with the other
metrics-stage tables made up to match it (the seed's competency and
turnover facts), and a national-scale trial of 200 sites.

Plain functions, so tests and benchmarks can build the tables themselves;
``conftest.py`` turns the 16-site ones into fixtures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mentoring_eval import figures
from mentoring_eval.figures import Chart

PUBLISHED_TABLE4 = Path(__file__).resolve().parents[2] / "data" / "reference" / "table4_published.csv"
AS_OF = pd.Period("2020-04", freq="M")
EXPECTED_MINUTES = 60
# From the seed's text: sites with low competency scores, and OT turnover.
MEAN_COMPETENCY = {
    1: 62.5,
    2: 81.0,
    3: 77.5,
    4: 60.0,
    5: 64.5,
    6: 84.0,
    7: 58.0,
    8: 79.5,
    9: 86.0,
    10: 82.5,
    11: 66.0,
    12: 75.0,
    13: 88.5,
    14: 80.0,
    15: 61.5,
    16: 67.0,
}
LOW_COMPETENCY_SITES = {1, 4, 5, 7, 11, 15, 16}
DEPARTURES = [  # (site, month, replaced)
    (1, "2019-02", True),
    (2, "2019-08", False),
    (4, "2018-11", True),
    (4, "2019-09", True),
    (5, "2019-05", True),
    (6, "2019-10", True),
    (8, "2018-12", True),
    (11, "2019-07", True),
    (15, "2019-11", True),
]


def dose_band(minutes_per_month: pd.Series, expected: float = EXPECTED_MINUTES) -> pd.Series:
    """Within 10 minutes of the expected dose is "close": gives the seed's
    three close sites (9, 10, 13) and one below (2)."""
    band = np.where(
        minutes_per_month < expected - 10, "below", np.where(minutes_per_month > expected + 10, "above", "close")
    )
    return pd.Series(band, index=minutes_per_month.index)


def make_site_metrics(table4: pd.DataFrame) -> pd.DataFrame:
    """site_metrics.csv from Table 4's columns: mode minutes split so the
    phone/Teams share matches, a quarter of it by Teams."""
    phone_teams = (table4["total_minutes"] * table4["pct_phone_teams"] / 100).round()
    teams = (phone_teams * 0.25).round()
    return table4.assign(
        phone_minutes=phone_teams - teams,
        teams_minutes=teams,
        written_minutes=table4["total_minutes"] - phone_teams,
        dose_band=dose_band(table4["minutes_per_month"]),
    )


def published_site_metrics() -> pd.DataFrame:
    return make_site_metrics(pd.read_csv(PUBLISHED_TABLE4))


def published_site_profile() -> pd.DataFrame:
    leavers = pd.Series(0, index=range(1, 17))
    unreplaced = pd.Series(0, index=range(1, 17))
    for site, _, replaced in DEPARTURES:
        leavers[site] += 1
        unreplaced[site] += not replaced
    return pd.DataFrame(
        {
            "site": range(1, 17),
            "mean_competency": [MEAN_COMPETENCY[site] for site in range(1, 17)],
            "low_competency": [site in LOW_COMPETENCY_SITES for site in range(1, 17)],
            "leavers": leavers.to_numpy(),
            "replaced": (leavers - unreplaced).to_numpy(),
            "unreplaced": unreplaced.to_numpy(),
            "turnover": (leavers > 0).to_numpy(),
        }
    )


def make_monthly_minutes(site_metrics: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """Every month in study for each site, minutes summing to its total,
    a few months with none."""
    rng = np.random.default_rng(seed)
    rows = []
    for site, months_in_study, total in site_metrics[["site", "months_in_study", "total_minutes"]].itertuples(
        index=False
    ):
        months = pd.period_range(end=AS_OF - 1, periods=int(months_in_study), freq="M")
        weights = rng.gamma(3.0, size=len(months)) * (rng.random(len(months)) > 0.06)
        minutes = np.floor(total * weights / weights.sum())
        minutes[-1] += total - minutes.sum()
        rows += [(site, str(month), float(m)) for month, m in zip(months, minutes)]
    return pd.DataFrame(rows, columns=["site", "month", "minutes"])


def make_departures(departures: list[tuple[int, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ot_id": [f"OT{i + 1:02d}" for i in range(len(departures))],
            "site": [site for site, _, _ in departures],
            "left_on": pd.to_datetime([f"{month}-15" for _, month, _ in departures]),
            "month": [month for _, month, _ in departures],
            "leave_reason": "new job",
            "replaced": [replaced for _, _, replaced in departures],
        }
    )


def national_tables(
    n_sites: int = 200, n_months: int = 26, seed: int = 11
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A national-scale trial: site_metrics, monthly_minutes, ot_departures."""
    rng = np.random.default_rng(seed)
    months_in_study = rng.integers(6, n_months + 1, size=n_sites)
    minutes_per_month = rng.normal(85, 25, size=n_sites).clip(20, 200).round()
    table4 = pd.DataFrame(
        {
            "site": np.arange(1, n_sites + 1),
            "months_in_study": months_in_study,
            "total_minutes": minutes_per_month * months_in_study,
            "pct_phone_teams": rng.uniform(88, 100, size=n_sites).round(1),
            "essvr_participants": rng.integers(3, 30, size=n_sites),
            "ots": rng.integers(1, 5, size=n_sites),
            "minutes_per_month": minutes_per_month,
            "participants_per_ot": rng.integers(2, 12, size=n_sites),
        }
    )
    site_metrics = make_site_metrics(table4)
    monthly = make_monthly_minutes(site_metrics, seed)
    leaving_sites = rng.choice(site_metrics["site"], size=60, replace=False)
    departures = []
    for site in sorted(leaving_sites):
        months = monthly.loc[monthly["site"] == site, "month"].to_numpy()
        departures.append((int(site), str(rng.choice(months)), bool(rng.random() > 0.2)))
    return site_metrics, monthly, make_departures(departures)


def build_all(site_metrics, monthly_minutes, site_profile, ot_departures) -> dict[str, Chart]:
    charts = figures.all_charts(site_metrics, monthly_minutes, site_profile, ot_departures, EXPECTED_MINUTES)
    return {chart.name: chart for chart in charts}


def build_one(name: str, site_metrics, monthly_minutes, site_profile, ot_departures) -> Chart:
    """The chart ``name`` alone, built as ``figures.all_charts`` builds it."""
    builders = {
        "dose_by_site": lambda: figures.dose_by_site(site_metrics, EXPECTED_MINUTES),
        "dose_vs_competency": lambda: figures.dose_vs_competency(site_metrics, site_profile, EXPECTED_MINUTES),
        "dose_by_turnover": lambda: figures.dose_by_turnover(site_metrics, site_profile, EXPECTED_MINUTES),
        "monthly_heatmap": lambda: figures.monthly_heatmap(monthly_minutes, ot_departures),
        "mode_by_site": lambda: figures.mode_by_site(site_metrics),
    }
    return builders[name]()


CHART_NAMES = ["dose_by_site", "dose_vs_competency", "dose_by_turnover", "monthly_heatmap", "mode_by_site"]
