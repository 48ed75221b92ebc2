"""Tests of the five charts: structure, alt text, determinism, and image
regression against the baselines in ``tests/baseline_figures/``.

Image regression
----------------
Each chart is rendered to PNG at ``BASELINE_DPI`` from the fixture below (the
published Table 4, with the other metrics-stage tables made up to match it)
and compared with its baseline by matplotlib's ``compare_images``: the RMS
of the pixel difference, 0–255 scale, over the whole image.

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

    MENTORING_EVAL_UPDATE_BASELINES=1 .venv/bin/python -m pytest tests/test_figures.py

then look at the new PNGs in ``tests/baseline_figures/`` before committing them.
"""

from __future__ import annotations

import warnings

import os
from itertools import combinations
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image
from matplotlib.testing.compare import compare_images

from mentoring_eval import figures
from mentoring_eval.figures import Chart

HERE = Path(__file__).resolve().parent
BASELINES = HERE / "baseline_figures"
PUBLISHED_TABLE4 = HERE.parent / "data" / "reference" / "table4_published.csv"
UPDATE_BASELINES = os.environ.get("MENTORING_EVAL_UPDATE_BASELINES") == "1"
BASELINE_DPI = 100  # small files in the repository; the same pixels per point on every machine
IMAGE_TOLERANCE_RMS = 2.0  # see the module docstring for why
ANTIALIASING_GAMMA = 1.1  # the emulated difference between FreeType builds

AS_OF = pd.Period("2020-04", freq="M")
EXPECTED_MINUTES = 60
# From the seed's text: sites with low competency scores, and OT turnover.
MEAN_COMPETENCY = {1: 62.5, 2: 81.0, 3: 77.5, 4: 60.0, 5: 64.5, 6: 84.0, 7: 58.0, 8: 79.5,
                   9: 86.0, 10: 82.5, 11: 66.0, 12: 75.0, 13: 88.5, 14: 80.0, 15: 61.5, 16: 67.0}
LOW_COMPETENCY_SITES = {1, 4, 5, 7, 11, 15, 16}
DEPARTURES = [  # (site, month, replaced)
    (1, "2019-02", True), (2, "2019-08", False), (4, "2018-11", True), (4, "2019-09", True),
    (5, "2019-05", True), (6, "2019-10", True), (8, "2018-12", True), (11, "2019-07", True), (15, "2019-11", True),
]


# --------------------------------------------------------------------------- fixtures


def dose_band(minutes_per_month: pd.Series, expected: float = EXPECTED_MINUTES) -> pd.Series:
    """Within 10 minutes of the expected dose is "close": gives the seed's
    three close sites (9, 10, 13) and one below (2)."""
    band = np.where(minutes_per_month < expected - 10, "below",
                    np.where(minutes_per_month > expected + 10, "above", "close"))
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
    return pd.DataFrame({
        "site": range(1, 17),
        "mean_competency": [MEAN_COMPETENCY[site] for site in range(1, 17)],
        "low_competency": [site in LOW_COMPETENCY_SITES for site in range(1, 17)],
        "leavers": leavers.to_numpy(),
        "replaced": (leavers - unreplaced).to_numpy(),
        "unreplaced": unreplaced.to_numpy(),
        "turnover": (leavers > 0).to_numpy(),
    })


def make_monthly_minutes(site_metrics: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """Every month in study for each site, minutes summing to its total,
    a few months with none."""
    rng = np.random.default_rng(seed)
    rows = []
    for site, months_in_study, total in site_metrics[["site", "months_in_study", "total_minutes"]].itertuples(index=False):
        months = pd.period_range(end=AS_OF - 1, periods=int(months_in_study), freq="M")
        weights = rng.gamma(3.0, size=len(months)) * (rng.random(len(months)) > 0.06)
        minutes = np.floor(total * weights / weights.sum())
        minutes[-1] += total - minutes.sum()
        rows += [(site, str(month), float(m)) for month, m in zip(months, minutes)]
    return pd.DataFrame(rows, columns=["site", "month", "minutes"])


def make_departures(departures: list[tuple[int, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame({
        "ot_id": [f"OT{i + 1:02d}" for i in range(len(departures))],
        "site": [site for site, _, _ in departures],
        "left_on": pd.to_datetime([f"{month}-15" for _, month, _ in departures]),
        "month": [month for _, month, _ in departures],
        "leave_reason": "new job",
        "replaced": [replaced for _, _, replaced in departures],
    })


def national_tables(n_sites: int = 200, n_months: int = 26, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A national-scale trial: site_metrics, monthly_minutes, ot_departures."""
    rng = np.random.default_rng(seed)
    months_in_study = rng.integers(6, n_months + 1, size=n_sites)
    minutes_per_month = rng.normal(85, 25, size=n_sites).clip(20, 200).round()
    table4 = pd.DataFrame({
        "site": np.arange(1, n_sites + 1),
        "months_in_study": months_in_study,
        "total_minutes": minutes_per_month * months_in_study,
        "pct_phone_teams": rng.uniform(88, 100, size=n_sites).round(1),
        "essvr_participants": rng.integers(3, 30, size=n_sites),
        "ots": rng.integers(1, 5, size=n_sites),
        "minutes_per_month": minutes_per_month,
        "participants_per_ot": rng.integers(2, 12, size=n_sites),
    })
    site_metrics = make_site_metrics(table4)
    monthly = make_monthly_minutes(site_metrics, seed)
    leaving_sites = rng.choice(site_metrics["site"], size=60, replace=False)
    departures = []
    for site in sorted(leaving_sites):
        months = monthly.loc[monthly["site"] == site, "month"].to_numpy()
        departures.append((int(site), str(rng.choice(months)), bool(rng.random() > 0.2)))
    return site_metrics, monthly, make_departures(departures)


@pytest.fixture(scope="module")
def site_metrics() -> pd.DataFrame:
    return published_site_metrics()


@pytest.fixture(scope="module")
def site_profile() -> pd.DataFrame:
    return published_site_profile()


@pytest.fixture(scope="module")
def monthly_minutes(site_metrics: pd.DataFrame) -> pd.DataFrame:
    return make_monthly_minutes(site_metrics)


@pytest.fixture(scope="module")
def ot_departures() -> pd.DataFrame:
    return make_departures(DEPARTURES)


def build_all(site_metrics, monthly_minutes, site_profile, ot_departures) -> dict[str, Chart]:
    charts = figures.all_charts(site_metrics, monthly_minutes, site_profile, ot_departures, EXPECTED_MINUTES)
    return {chart.name: chart for chart in charts}


@pytest.fixture(scope="module")
def charts(site_metrics, monthly_minutes, site_profile, ot_departures) -> dict[str, Chart]:
    return build_all(site_metrics, monthly_minutes, site_profile, ot_departures)


CHART_NAMES = ["dose_by_site", "dose_vs_competency", "dose_by_turnover", "monthly_heatmap", "mode_by_site"]


# --------------------------------------------------------------------------- structure


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


def test_heatmap_colour_bar_is_in_minutes(charts):
    colour_bar_axes = charts["monthly_heatmap"].figure.axes[1]
    assert "minutes" in colour_bar_axes.get_ylabel()


def test_alt_text_names_the_extremes(charts):
    assert "Site 7 highest at 121 minutes per month, site 2 lowest at 43" in charts["dose_by_site"].alt_text
    assert "12 above" in charts["dose_by_site"].alt_text
    assert "3 close (sites 9, 10 and 13)" in charts["dose_by_site"].alt_text
    assert "1 below (site 2)" in charts["dose_by_site"].alt_text
    assert "Site 7 received most (121 minutes" in charts["dose_vs_competency"].alt_text
    assert "site 2 least (43 minutes" in charts["dose_vs_competency"].alt_text
    assert "Unreplaced departure: 1 site (site 2), 43 minutes per month." in charts["dose_by_turnover"].alt_text
    assert "Site 7 highest at 2,906 minutes, site 15 lowest at 612." in charts["mode_by_site"].alt_text
    assert "91.6–100% of each site" in charts["mode_by_site"].alt_text
    heatmap_alt = charts["monthly_heatmap"].alt_text
    assert "16 sites over 25 months (Mar 2018 to Mar 2020)" in heatmap_alt
    assert "9 OT departures marked: 8 replaced, 1 not replaced (site 2, Aug 2019)" in heatmap_alt


def test_titles_state_the_finding(charts):
    assert charts["dose_by_site"].title.endswith("12 of 16 sites above the expected 60 minutes")
    assert "low-scoring sites averaged 101 minutes, others 75" in charts["dose_vs_competency"].title
    assert "91.6–100%" in charts["mode_by_site"].title


def test_dose_bands_differ_by_hatching_as_well_as_colour(charts):
    bars = [patch for patch in charts["dose_by_site"].figure.axes[0].patches if patch.get_width() > 0]
    hatch_by_colour = {patch.get_facecolor(): patch.get_hatch() for patch in bars}
    assert len(hatch_by_colour) == 3
    assert len(set(hatch_by_colour.values())) == 3


def test_bars_are_ordered_by_minutes(charts):
    ax = charts["dose_by_site"].figure.axes[0]
    bars = sorted((patch for patch in ax.patches if patch.get_width() > 0), key=lambda patch: patch.get_y())
    widths = [bar.get_width() for bar in bars]
    assert widths == sorted(widths, reverse=True)  # first row (top) is the largest


@pytest.mark.parametrize("name", ["dose_vs_competency", "dose_by_turnover"])
def test_every_point_labelled_without_overlap(charts, name):
    figure = charts[name].figure
    ax = figure.axes[0]
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    site_labels = [text for text in ax.texts if text.get_text().isdigit()]
    assert sorted(int(text.get_text()) for text in site_labels) == list(range(1, 17))
    boxes = [text.get_window_extent(renderer) for text in ax.texts]
    frame = ax.get_window_extent(renderer)
    assert not [(a, b) for a, b in combinations(boxes, 2) if a.overlaps(b)]
    assert all(frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1 for box in boxes)


def test_low_competency_sites_have_their_own_marker(charts):
    lines = [line for line in charts["dose_vs_competency"].figure.axes[0].lines if line.get_linestyle() == "None"]
    assert {line.get_marker() for line in lines} == {"o", "^"}
    low = next(line for line in lines if line.get_marker() == "^")
    assert len(low.get_xdata()) == len(LOW_COMPETENCY_SITES)


def test_competency_chart_without_scores_says_so(site_metrics, site_profile):
    chart = figures.dose_vs_competency(site_metrics, site_profile.assign(mean_competency=np.nan))
    assert chart.alt_text == "Empty chart: No site has a competency score yet."
    assert "No site has a competency score yet." in [text.get_text() for text in chart.figure.axes[0].texts]


def test_turnover_groups(site_profile):
    groups = figures.turnover_group(site_profile).set_axis(site_profile["site"])
    assert groups[2] == "Unreplaced departure"
    assert groups[4] == "Turnover, all replaced"
    assert groups[3] == "No turnover"


def test_strip_offsets_spread_close_values_and_are_deterministic():
    offsets = figures.strip_offsets([50, 51, 52, 90], close=5)
    assert len(set(offsets[:3])) == 3
    assert offsets[3] == 0
    assert np.array_equal(offsets, figures.strip_offsets([50, 51, 52, 90], close=5))


def test_heatmap_months_before_opening_are_blank_not_zero(monthly_minutes):
    matrix = figures.site_month_matrix(monthly_minutes)
    assert matrix.shape == (16, 25)
    assert matrix.loc[15].isna().sum() == 25 - 8  # site 15: 8 months in study
    assert matrix.loc[1].notna().all()


def test_heatmap_marks_departures_by_replacement(charts):
    markers = [line for line in charts["monthly_heatmap"].figure.axes[0].lines if len(line.get_xdata())]
    counts = {line.get_marker(): len(line.get_xdata()) for line in markers}
    assert counts == {"o": 8, "X": 1}


def test_heatmap_readable_at_200_sites():
    site_metrics, monthly, departures = national_tables()
    chart = figures.monthly_heatmap(monthly, departures)
    ax = chart.figure.axes[0]
    assert chart.figure.get_figheight() <= figures.MAX_FIGURE_HEIGHT_IN
    assert 10 <= len(ax.get_yticklabels()) <= 50
    assert len(ax.get_xticklabels()) <= 12
    assert "200 sites over 26 months" in chart.alt_text


@pytest.mark.parametrize("builder", [figures.dose_by_site, figures.mode_by_site])
def test_bar_charts_cap_height_and_thin_labels_at_200_sites(builder):
    site_metrics, _, _ = national_tables()
    chart = builder(site_metrics)
    assert chart.figure.get_figheight() <= figures.MAX_FIGURE_HEIGHT_IN
    assert len(chart.figure.axes[0].get_yticklabels()) <= 50


def test_label_step():
    assert figures.label_step(16) == 1
    assert figures.label_step(200) == 5
    assert figures.label_step(200, max_labels=25) == 10


def test_missing_column_names_table_and_column(site_metrics):
    with pytest.raises(ValueError, match="site_metrics lacks column.*dose_band"):
        figures.dose_by_site(site_metrics.drop(columns="dose_band"))


def test_unknown_dose_band_is_refused(site_metrics):
    with pytest.raises(ValueError, match="unknown value"):
        figures.dose_by_site(site_metrics.assign(dose_band="way off"))


def test_builders_leave_global_rcparams_alone(site_metrics, monthly_minutes, site_profile, ot_departures):
    before = dict(mpl.rcParams)
    build_all(site_metrics, monthly_minutes, site_profile, ot_departures)
    figures.figure_to_svg(figures.dose_by_site(site_metrics).figure)
    assert dict(mpl.rcParams) == before


def test_row_order_does_not_change_the_chart(site_metrics, site_profile):
    shuffled = site_metrics.sample(frac=1, random_state=3)
    a = figures.chart_to_svg(figures.dose_vs_competency(site_metrics, site_profile))
    b = figures.chart_to_svg(figures.dose_vs_competency(shuffled, site_profile.iloc[::-1]))
    assert a == b


# --------------------------------------------------------------------------- deterministic output


@pytest.mark.parametrize("name", CHART_NAMES)
def test_same_inputs_give_the_same_svg_and_png_bytes(site_metrics, monthly_minutes, site_profile, ot_departures, name, tmp_path):
    first = build_all(site_metrics, monthly_minutes, site_profile, ot_departures)[name]
    second = build_all(site_metrics, monthly_minutes, site_profile, ot_departures)[name]
    assert figures.chart_to_svg(first) == figures.chart_to_svg(second)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    svg_a, png_a = figures.save_chart(first, tmp_path / "a")
    svg_b, png_b = figures.save_chart(second, tmp_path / "b")
    assert svg_a.name == f"{name}.svg" and png_a.name == f"{name}.png"
    assert svg_a.read_bytes() == svg_b.read_bytes()
    assert png_a.read_bytes() == png_b.read_bytes()


def test_rendering_twice_gives_the_same_svg_whatever_came_between(charts, tmp_path):
    chart = charts["monthly_heatmap"]  # the colour bar's layout is the one that used to drift
    first = figures.chart_to_svg(chart)
    figures.save_chart(chart, tmp_path)  # a 200 dpi PNG in between
    assert figures.chart_to_svg(chart) == first


def test_svg_has_no_date_and_carries_title_and_alt_text(charts):
    chart = charts["dose_by_site"]
    svg = figures.chart_to_svg(chart)
    assert "<dc:date>" not in svg and "Date" not in svg
    assert f"<title>{chart.title}</title>" in svg
    assert f"<desc>{chart.alt_text}</desc>" in svg
    assert svg.index("<title>") < svg.index("<metadata>")  # first children of <svg>


def test_svg_escapes_markup_in_text(charts):
    svg = figures.figure_to_svg(charts["dose_by_site"].figure, title="a < b & c", description='"d"')
    assert "<title>a &lt; b &amp; c</title>" in svg


def test_save_figure_png_has_no_software_tag(charts, tmp_path):
    _, png = figures.save_figure(charts["mode_by_site"].figure, tmp_path / "mode")
    assert b"Software" not in png.read_bytes()
    assert b"matplotlib" not in png.read_bytes().lower()


def test_notebook_output_is_svg_with_alt_text_as_plain_text(charts):
    from IPython.core.formatters import DisplayFormatter

    chart = charts["monthly_heatmap"]
    bundle, _ = DisplayFormatter().format(figures.svg_for_notebook(chart))
    assert bundle["image/svg+xml"].startswith("<svg")
    assert f"<desc>{chart.alt_text}</desc>" in bundle["image/svg+xml"]
    assert bundle["text/plain"] == chart.alt_text
    assert bundle == DisplayFormatter().format(figures.svg_for_notebook(chart))[0]


# --------------------------------------------------------------------------- image regression


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
    on_edge = ((padded[1:-1, :-2] != grey) | (padded[1:-1, 2:] != grey)
               | (padded[:-2, 1:-1] != grey) | (padded[2:, 1:-1] != grey))
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


def test_every_chart_draws_a_trial_with_no_mentoring_yet():
    """Early in a live trial every site can have zero minutes (shares NA): the
    charts say so rather than fail."""
    sites = [1, 2, 3]
    site_metrics = pd.DataFrame({
        "site": sites, "months_in_study": [2, 1, 1], "total_minutes": [0, 0, 0],
        "pct_phone_teams": pd.array([pd.NA] * 3, dtype="Float64"), "essvr_participants": [0, 1, 0], "ots": [2, 2, 1],
        "minutes_per_month": pd.array([0, 0, 0], dtype="Int64"), "participants_per_ot": pd.array([0, 0, 0], dtype="Int64"),
        "phone_minutes": [0, 0, 0], "teams_minutes": [0, 0, 0], "written_minutes": [0, 0, 0],
        "dose_band": ["below"] * 3,
    })
    profile = pd.DataFrame({"site": sites, "mean_competency": pd.array([70.0, pd.NA, 65.0], dtype="Float64"),
                            "low_competency": [False, False, False], "leavers": [0, 0, 0], "replaced": [0, 0, 0],
                            "unreplaced": [0, 0, 0], "turnover": [False, False, False]})
    monthly = pd.DataFrame({"site": [1, 1, 2, 3], "month": ["2020-01", "2020-02", "2020-02", "2020-02"],
                            "minutes": [0.0, 0.0, 0.0, 0.0]})
    departures = pd.DataFrame({"ot_id": pd.Series([], dtype=str), "site": pd.Series([], dtype="int64"),
                               "left_on": pd.Series([], dtype="datetime64[ns]"), "month": pd.Series([], dtype=str),
                               "leave_reason": pd.Series([], dtype=str), "replaced": pd.Series([], dtype=bool)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a collapsed layout warns: that is a broken chart
        charts = figures.all_charts(site_metrics, monthly, profile, departures)
    assert [chart.name for chart in charts] == ["dose_by_site", "dose_vs_competency", "dose_by_turnover",
                                                "monthly_heatmap", "mode_by_site"]
    assert "no mentoring recorded" in charts[-1].title and "No site has mentoring" in charts[-1].alt_text


def test_strip_offsets_stay_inside_their_group_however_many_sites_share_a_value():
    offsets = figures.strip_offsets([60.0] * 150, close=5.0)
    assert np.abs(offsets).max() <= 0.34 + 1e-12
    assert len(np.unique(offsets)) == 150  # still side by side, none on top of another


def test_labelled_sites_numbers_every_site_of_a_small_trial_and_the_extremes_of_a_large_one():
    few = pd.DataFrame({"site": range(16), "minutes_per_month": range(16)})
    assert figures.labelled_sites(few, "minutes_per_month").all()
    many = pd.DataFrame({"site": range(200), "minutes_per_month": range(200)})
    shown = figures.labelled_sites(many, "minutes_per_month")
    assert shown.sum() == 20 and shown[:10].all() and shown[-10:].all()
