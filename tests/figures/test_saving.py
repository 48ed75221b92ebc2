"""Charts as SVG, PNG and notebook output: no dates, no software tag, title
and alt text embedded and escaped, the same bytes whatever came between."""

from __future__ import annotations

from mentoring_eval import figures


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

