"""Fixtures of the chart tests: the 16-site tables of ``chart_tables`` and
the five charts drawn from them once per session (tests only read them)."""

from __future__ import annotations

import chart_tables
import pandas as pd
import pytest

from mentoring_eval.figures import Chart


@pytest.fixture(scope="session")
def site_metrics() -> pd.DataFrame:
    return chart_tables.published_site_metrics()


@pytest.fixture(scope="session")
def site_profile() -> pd.DataFrame:
    return chart_tables.published_site_profile()


@pytest.fixture(scope="session")
def monthly_minutes(site_metrics: pd.DataFrame) -> pd.DataFrame:
    return chart_tables.make_monthly_minutes(site_metrics)


@pytest.fixture(scope="session")
def ot_departures() -> pd.DataFrame:
    return chart_tables.make_departures(chart_tables.DEPARTURES)


@pytest.fixture(scope="session")
def charts(site_metrics, monthly_minutes, site_profile, ot_departures) -> dict[str, Chart]:
    return chart_tables.build_all(site_metrics, monthly_minutes, site_profile, ot_departures)
