"""The site pages' chart: OT codes are drawn as typed, never as mathtext."""

from __future__ import annotations

import pandas as pd

from mentoring_eval.figures.site_months import site_months


def test_ot_codes_are_drawn_literally():
    months = pd.DataFrame({"month": ["2019-01", "2019-02"], "minutes": [60.0, 30.0], "dose_band": ["close", "below"]})
    codes = ["OT$1$", "OT\\$2", "$\\alpha$"]
    events = pd.DataFrame({"ot_id": codes, "month": ["2019-01", "2019-02", "2019-02"], "event": ["started"] * 3})
    chart = site_months(7, months, pd.period_range("2019-01", "2019-02", freq="M"), events)
    drawn = {text._preprocess_math(text.get_text()) for text in chart.figure.axes[0].texts}
    assert drawn >= {(code, False) for code in codes}
    assert not any(is_math for _, is_math in drawn)
    assert all(code in chart.alt_text for code in codes)
