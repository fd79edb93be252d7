"""Values as bureaus write them: areas with units, plot-ratio ranges and bounds, years, full-width digits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from siteplan.inputs.fields import _parse_areas, _parse_far, _parse_years

MU = 10000.0 / 15.0  # 1 亩 in m2

AREAS = [("65亩", 65 * MU), ("６５亩", 65 * MU), ("1.2公顷", 12000.0), ("3.5 ha", 35000.0), ("3.5HA", 35000.0),
         ("800㎡", 800.0), ("800m²", 800.0), ("800 m2", 800.0), ("1,200平方米", 1200.0), ("2.5万平方米", 25000.0),
         ("5", 5.0), ("0.8hm2", 8000.0)]


def test_areas_with_units():
    vals, bad = _parse_areas(pd.Series([a for a, _ in AREAS] + ["约65亩", "亩", None]))
    assert np.allclose(vals[: len(AREAS)], [m2 for _, m2 in AREAS])
    assert bad.tolist() == [False] * len(AREAS) + [True, True, False]
    assert np.isnan(vals.iloc[-1])


def test_numeric_areas_are_square_metres():
    vals, bad = _parse_areas(pd.Series([1200.0, np.nan]))
    assert vals.iloc[0] == 1200.0 and np.isnan(vals.iloc[1]) and not bad.any()


# written -> (far_max, far_upper, range, bound)
FARS = {
    "2.0-2.5": (2.0, 2.5, True, False), "2.0~2.5": (2.0, 2.5, True, False), "2.0–2.5": (2.0, 2.5, True, False),
    "2.0～2.5": (2.0, 2.5, True, False), "２．０－２．５": (2.0, 2.5, True, False), "2.0至2.5": (2.0, 2.5, True, False),
    "1.0<FAR≤2.5": (1.0, 2.5, True, False), "2.5-2.0": (2.0, 2.5, True, False),
    "≤2.5": (2.5, None, False, True), "<=2.5": (2.5, None, False, True), "＜＝2.5": (2.5, None, False, True),
    "2.5以下": (2.5, None, False, True), "不大于2.5": (2.5, None, False, True), "容积率≤2.5": (2.5, None, False, True),
    "2.5": (2.5, None, False, False), "２.５": (2.5, None, False, False), " 3 ": (3.0, None, False, False),
}


def test_plot_ratio_text():
    far, upper, bad, rng, bnd = _parse_far(pd.Series(list(FARS) + ["≥1.0", "高", None]))
    for i, (text, (lo, hi, is_range, is_bound)) in enumerate(FARS.items()):
        assert far.iloc[i] == lo, text
        assert (np.isnan(upper.iloc[i]) if hi is None else upper.iloc[i] == hi), text
        assert (rng[i], bnd[i], bad[i]) == (is_range, is_bound, False), text
    assert bad[-3:].tolist() == [True, True, False]  # a lower bound gives no cap


def test_years_with_nian_and_full_width():
    years, bad = _parse_years(pd.Series(["2017年", "２０１８年", "2019", 2020.0, "2021年6月", "明年"]))
    assert years.tolist()[:5] == [2017, 2018, 2019, 2020, 2021] and bad.tolist() == [False] * 5 + [True]
