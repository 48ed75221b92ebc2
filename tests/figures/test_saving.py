"""Charts as SVG, PNG and notebook output: no dates, no software tag, title
and alt text embedded and escaped, the same bytes whatever came between."""

from __future__ import annotations

from collections import Counter

from chart_tables import build_all
from matplotlib.figure import Figure

from mentoring_eval import figures


def test_rendering_twice_gives_the_same_svg_whatever_came_between(charts, tmp_path):
    chart = charts["monthly_heatmap"]  # the colour bar's layout is the one that used to drift
    first = figures.figure_to_svg(chart.figure)  # drawn afresh each time (chart_to_svg keeps its first drawing)
    figures.save_chart(chart, tmp_path)  # a 200 dpi PNG in between
    assert figures.figure_to_svg(chart.figure) == first
    assert figures.chart_to_svg(chart) == figures.figure_to_svg(
        chart.figure, title=chart.title, description=chart.alt_text
    )


def test_each_chart_is_drawn_once_per_output_format(
    site_metrics, monthly_minutes, site_profile, ot_departures, tmp_path, monkeypatch
):
    """Building a chart lays it out without drawing it; the SVG file and the
    notebook's copy share one SVG drawing, and the PNG is the other."""
    drawn: list[str] = []
    draw = Figure.draw

    def counted_draw(figure, renderer):
        drawn.append(type(renderer).__name__)
        return draw(figure, renderer)

    monkeypatch.setattr(Figure, "draw", counted_draw)
    charts = build_all(site_metrics, monthly_minutes, site_profile, ot_departures)
    assert drawn == []
    for chart in charts.values():
        figures.save_chart(chart, tmp_path)
        figures.svg_for_notebook(chart)
    assert Counter(drawn) == {"MixedModeRenderer": len(charts), "RendererAgg": len(charts)}  # SVG, PNG


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
