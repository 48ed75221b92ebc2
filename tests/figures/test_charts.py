"""What every chart of ``figures.all_charts`` must be: in report order,
titled, labelled with units, legible, deterministic, drawable for a trial
with no mentoring yet, and matching its baseline image.

Image regression
----------------
Each chart is rendered to PNG at ``BASELINE_DPI`` from the fixture tables
(``chart_tables``: the published Table 4, with the other metrics-stage tables
made up to match it) and compared with its baseline in ``baselines/`` by
matplotlib's ``compare_images``: the RMS of the pixel difference, 0–255
scale, over the whole image.

Tolerance: ``IMAGE_TOLERANCE_RMS`` = 2. Anti-aliasing differs between
FreeType builds (a matplotlib built against a system FreeType, as conda's
is, instead of the wheel's bundled one): the partly covered pixels at glyph
and line edges come out lighter or darker. Only one FreeType build is
available here, so ``test_tolerance_absorbs_antialiasing_differences``
emulates one: every anti-aliased edge pixel of the baseline pushed through a
gamma of 1.1 gives an RMS of 1.0–1.6 on these charts, inside 2. What must
fail changes solid areas: one bar 2 minutes a month shorter (RMS ≈ 6), one
point moved 2 competency points (≈ 5), the busiest heat-map cell emptied
(≈ 12) — the ``test_tolerance_catches_*`` tests check each fails. Limit:
a small change of colour in one heat-map cell (+30 minutes: RMS ≈ 0.7) is
below any tolerance that absorbs anti-aliasing; the heat map's numbers are
tested on ``site_month_matrix`` instead.

Regenerating the baselines after an intended change to a chart::

    MENTORING_EVAL_UPDATE_BASELINES=1 .venv/bin/python -m pytest tests/figures/test_charts.py

then look at the new PNGs in ``tests/figures/baselines/`` before committing them.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from chart_tables import CHART_NAMES, build_one
from matplotlib.figure import Figure
from matplotlib.testing.compare import compare_images
from PIL import Image

from mentoring_eval import figures
from mentoring_eval.figures import Chart

BASELINES = Path(__file__).resolve().parent / "baselines"
UPDATE_BASELINES = os.environ.get("MENTORING_EVAL_UPDATE_BASELINES") == "1"
BASELINE_DPI = 100  # small files in the repository; the same pixels per point on every machine
IMAGE_TOLERANCE_RMS = 2.0  # see the module docstring for why
ANTIALIASING_GAMMA = 1.1  # the emulated difference between FreeType builds


def test_all_charts_in_report_order(charts):
    assert list(charts) == CHART_NAMES


@pytest.mark.parametrize("name", CHART_NAMES)
def test_chart_has_title_axis_labels_with_units_and_text(charts, name):
    chart = charts[name]
    ax = chart.figure.axes[0]
    assert isinstance(chart.figure, Figure)
    assert ax.get_title(loc="left").replace("\n", " ") == chart.title
    assert ax.get_xlabel() and ax.get_ylabel()
    value_axis_label = ax.get_ylabel() if name in ("dose_vs_competency", "dose_by_turnover") else ax.get_xlabel()
    if name != "monthly_heatmap":
        assert "minutes" in value_axis_label
    assert chart.alt_text and chart.caption
    assert chart.figure.get_figwidth() == pytest.approx(figures.FIGURE_WIDTH_IN)


@pytest.mark.parametrize("name", CHART_NAMES)
def test_no_text_smaller_than_9_pt(charts, name):
    chart = charts[name]
    chart.figure.draw_without_rendering()
    sizes = [text.get_fontsize() for text in chart.figure.findobj(mpl.text.Text) if text.get_text()]
    assert min(sizes) >= 9


def test_every_chart_draws_a_trial_with_no_mentoring_yet():
    """Early in a live trial every site can have zero minutes (shares NA): the
    charts say so rather than fail."""
    sites = [1, 2, 3]
    site_metrics = pd.DataFrame(
        {
            "site": sites,
            "months_in_study": [2, 1, 1],
            "total_minutes": [0, 0, 0],
            "pct_phone_teams": pd.array([pd.NA] * 3, dtype="Float64"),
            "essvr_participants": [0, 1, 0],
            "ots": [2, 2, 1],
            "minutes_per_month": pd.array([0, 0, 0], dtype="Int64"),
            "participants_per_ot": pd.array([0, 0, 0], dtype="Int64"),
            "phone_minutes": [0, 0, 0],
            "teams_minutes": [0, 0, 0],
            "written_minutes": [0, 0, 0],
            "dose_band": ["below"] * 3,
        }
    )
    profile = pd.DataFrame(
        {
            "site": sites,
            "mean_competency": pd.array([70.0, pd.NA, 65.0], dtype="Float64"),
            "low_competency": [False, False, False],
            "leavers": [0, 0, 0],
            "replaced": [0, 0, 0],
            "unreplaced": [0, 0, 0],
            "turnover": [False, False, False],
        }
    )
    monthly = pd.DataFrame(
        {"site": [1, 1, 2, 3], "month": ["2020-01", "2020-02", "2020-02", "2020-02"], "minutes": [0.0, 0.0, 0.0, 0.0]}
    )
    departures = pd.DataFrame(
        {
            "ot_id": pd.Series([], dtype=str),
            "site": pd.Series([], dtype="int64"),
            "left_on": pd.Series([], dtype="datetime64[ns]"),
            "month": pd.Series([], dtype=str),
            "leave_reason": pd.Series([], dtype=str),
            "replaced": pd.Series([], dtype=bool),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a collapsed layout warns: that is a broken chart
        charts = figures.all_charts(site_metrics, monthly, profile, departures)
    assert [chart.name for chart in charts] == [
        "dose_by_site",
        "dose_vs_competency",
        "dose_by_turnover",
        "monthly_heatmap",
        "mode_by_site",
    ]
    assert "no mentoring recorded" in charts[-1].title and "No site has mentoring" in charts[-1].alt_text


@pytest.mark.parametrize("name", CHART_NAMES)
def test_same_inputs_give_the_same_svg_and_png_bytes(
    site_metrics, monthly_minutes, site_profile, ot_departures, name, tmp_path
):
    first, second = (build_one(name, site_metrics, monthly_minutes, site_profile, ot_departures) for _ in range(2))
    assert figures.chart_to_svg(first) == figures.chart_to_svg(second)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    svg_a, png_a = figures.save_chart(first, tmp_path / "a")
    svg_b, png_b = figures.save_chart(second, tmp_path / "b")
    assert svg_a.name == f"{name}.svg" and png_a.name == f"{name}.png"
    assert svg_a.read_bytes() == svg_b.read_bytes()
    assert png_a.read_bytes() == png_b.read_bytes()


def render_png(chart: Chart, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _, png = figures.save_figure(chart.figure, folder / chart.name, dpi=BASELINE_DPI)
    return png


def compare_with_baseline(png: Path, name: str) -> str | None:
    """``None`` when ``png`` matches the baseline within tolerance, else
    matplotlib's report (RMS, and the path of a difference image)."""
    return compare_images(str(BASELINES / f"{name}.png"), str(png), tol=IMAGE_TOLERANCE_RMS)


def rms_against_baseline(png: Path, name: str) -> float:
    report = compare_images(str(BASELINES / f"{name}.png"), str(png), tol=0, in_decorator=True)
    return 0.0 if report is None else float(report["rms"])


@pytest.mark.parametrize("name", CHART_NAMES)
def test_chart_matches_baseline_image(charts, name, tmp_path):
    png = render_png(charts[name], tmp_path)
    baseline = BASELINES / f"{name}.png"
    if UPDATE_BASELINES:
        BASELINES.mkdir(exist_ok=True)
        baseline.write_bytes(png.read_bytes())
        pytest.skip(f"baseline written: {baseline}")
    assert baseline.exists(), f"no baseline {baseline}: run with MENTORING_EVAL_UPDATE_BASELINES=1"
    assert compare_with_baseline(png, name) is None


def with_antialiasing_changed(png: Path, out: Path, gamma: float = ANTIALIASING_GAMMA) -> Path:
    """The same picture with every anti-aliased pixel drawn lighter or
    darker, as another FreeType build's coverage/gamma would draw glyph and
    line edges: grey pixels (R = G = B, neither black nor white) that differ
    from a neighbour, i.e. partly covered edge pixels, not solid fills."""
    image = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    grey = image[..., 0]
    is_grey = (grey == image[..., 1]) & (grey == image[..., 2]) & (grey > 0) & (grey < 255)
    padded = np.pad(grey, 1, mode="edge")
    on_edge = (
        (padded[1:-1, :-2] != grey)
        | (padded[1:-1, 2:] != grey)
        | (padded[:-2, 1:-1] != grey)
        | (padded[2:, 1:-1] != grey)
    )
    edge = is_grey & on_edge
    image[edge] = 255 * (image[edge] / 255) ** gamma
    Image.fromarray(image.round().astype(np.uint8)).save(out)
    return out


@pytest.mark.skipif(UPDATE_BASELINES, reason="baselines being regenerated")
@pytest.mark.parametrize("name", CHART_NAMES)
def test_tolerance_absorbs_antialiasing_differences(name, tmp_path):
    changed = with_antialiasing_changed(BASELINES / f"{name}.png", tmp_path / f"{name}.png")
    assert 0 < rms_against_baseline(changed, name) <= IMAGE_TOLERANCE_RMS


@pytest.mark.skipif(UPDATE_BASELINES, reason="baselines being regenerated")
def test_tolerance_catches_one_moved_bar(site_metrics, tmp_path):
    # Site 3 from 105 to 103 minutes a month: one bar 2 minutes shorter, same order.
    moved = site_metrics.copy()
    moved.loc[moved["site"] == 3, "minutes_per_month"] = 103
    png = render_png(figures.dose_by_site(moved), tmp_path)
    assert rms_against_baseline(png, "dose_by_site") > 2 * IMAGE_TOLERANCE_RMS
    assert compare_with_baseline(png, "dose_by_site") is not None


@pytest.mark.skipif(UPDATE_BASELINES, reason="baselines being regenerated")
def test_tolerance_catches_one_moved_point(site_metrics, site_profile, tmp_path):
    moved = site_profile.copy()
    moved.loc[moved["site"] == 12, "mean_competency"] -= 2
    png = render_png(figures.dose_vs_competency(site_metrics, moved), tmp_path)
    assert compare_with_baseline(png, "dose_vs_competency") is not None


@pytest.mark.skipif(UPDATE_BASELINES, reason="baselines being regenerated")
def test_tolerance_catches_one_emptied_heatmap_cell(monthly_minutes, ot_departures, tmp_path):
    moved = monthly_minutes.copy()
    moved.loc[moved["minutes"].idxmax(), "minutes"] = 0
    png = render_png(figures.monthly_heatmap(moved, ot_departures), tmp_path)
    assert compare_with_baseline(png, "monthly_heatmap") is not None


def test_each_chart_alone_is_the_one_all_charts_builds(
    charts, site_metrics, monthly_minutes, site_profile, ot_departures
):
    """So the tests that build one chart at a time test what the report shows."""
    for name in CHART_NAMES:
        alone = build_one(name, site_metrics, monthly_minutes, site_profile, ot_departures)
        assert figures.chart_to_svg(alone) == figures.chart_to_svg(charts[name])
