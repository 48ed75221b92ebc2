"""The report's charts, their shared style, alt text and deterministic files.

Every builder takes metrics-stage tables (see CONTRIBUTING.md) and returns a
:class:`Chart`: the matplotlib ``Figure`` together with the title, the alt
text and the caption computed from the same data, so that a chart can never
be shown without a description that matches it. The alt text goes to
Quarto's ``fig-alt``, to ``<img alt>`` and to the SVG's ``<title>``/``<desc>``.

Figures are built on a bare ``Figure`` (not pyplot), inside
``matplotlib.rc_context(STYLE)``, so building a chart never touches global
state, and rendered with a fixed SVG hash salt and no dates, so that the
same tables always give the same bytes.

Modules: :mod:`.style` (colours, fonts, the :class:`Chart` record, figure and
legend helpers), :mod:`.saving` (SVG, PNG and notebook output),
:mod:`.site_axis` and :mod:`.labels` (a site per row; numbered points), and
one module per chart: :mod:`.dose`, :mod:`.competency`, :mod:`.turnover`,
:mod:`.heatmap`, :mod:`.mode`.
"""

from __future__ import annotations

import pandas as pd

from mentoring_eval.figures.competency import dose_vs_competency
from mentoring_eval.figures.dose import DOSE_BAND_STYLE, DOSE_BANDS, dose_by_site
from mentoring_eval.figures.heatmap import monthly_heatmap, site_month_matrix
from mentoring_eval.figures.labels import labelled_sites, place_point_labels
from mentoring_eval.figures.mode import MODE_STYLE, mode_by_site
from mentoring_eval.figures.saving import (
    NotebookSVG,
    chart_to_svg,
    figure_to_svg,
    save_chart,
    save_figure,
    svg_for_notebook,
)
from mentoring_eval.figures.site_axis import label_step
from mentoring_eval.figures.style import (
    FIGURE_WIDTH_IN,
    FONT_SIZE_PT,
    MAX_FIGURE_HEIGHT_IN,
    MAX_SITE_LABELS,
    OKABE_ITO,
    PNG_DPI,
    STYLE,
    SVG_HASH_SALT,
    Chart,
    styled,
)
from mentoring_eval.figures.turnover import TURNOVER_GROUPS, dose_by_turnover, strip_offsets, turnover_group

__all__ = [
    "DOSE_BANDS",
    "DOSE_BAND_STYLE",
    "FIGURE_WIDTH_IN",
    "FONT_SIZE_PT",
    "MAX_FIGURE_HEIGHT_IN",
    "MAX_SITE_LABELS",
    "MODE_STYLE",
    "OKABE_ITO",
    "PNG_DPI",
    "STYLE",
    "SVG_HASH_SALT",
    "TURNOVER_GROUPS",
    "Chart",
    "NotebookSVG",
    "all_charts",
    "chart_to_svg",
    "dose_by_site",
    "dose_by_turnover",
    "dose_vs_competency",
    "figure_to_svg",
    "label_step",
    "labelled_sites",
    "mode_by_site",
    "monthly_heatmap",
    "place_point_labels",
    "save_chart",
    "save_figure",
    "site_month_matrix",
    "strip_offsets",
    "styled",
    "svg_for_notebook",
    "turnover_group",
]


def all_charts(
    site_metrics: pd.DataFrame,
    monthly_minutes: pd.DataFrame,
    site_profile: pd.DataFrame,
    ot_departures: pd.DataFrame,
    expected_minutes: float = 60,
) -> list[Chart]:
    """The five charts in report order."""
    return [
        dose_by_site(site_metrics, expected_minutes),
        dose_vs_competency(site_metrics, site_profile, expected_minutes),
        dose_by_turnover(site_metrics, site_profile, expected_minutes),
        monthly_heatmap(monthly_minutes, ot_departures),
        mode_by_site(site_metrics),
    ]
