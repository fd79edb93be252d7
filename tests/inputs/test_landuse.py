"""Land-use codes and names as bureaus write them: classes, matching, the shipped tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from siteplan.inputs.landuse import code_table, land_use_class, matches, specificity, unknown_codes

# value as written -> (code, name, system, known)
CASES = {
    "R2": ("R2", "二类居住用地", "GB 50137-2011", True),
    "r2": ("R2", "二类居住用地", "GB 50137-2011", True),
    " R2 ": ("R2", "二类居住用地", "GB 50137-2011", True),
    "Ｒ２": ("R2", "二类居住用地", "GB 50137-2011", True),  # full-width
    "R2(二类居住用地)": ("R2", "二类居住用地", "GB 50137-2011", True),
    "R2（二类居住用地）": ("R2", "二类居住用地", "GB 50137-2011", True),
    "二类居住用地(R2)": ("R2", "二类居住用地", "GB 50137-2011", True),
    "二类居住用地": ("R2", "二类居住用地", "GB 50137-2011", True),
    "二类居住": ("R2", "二类居住用地", "GB 50137-2011", True),
    "R22": ("R22", "服务设施用地", "GB 50137-2011", True),
    "RB": ("RB", "商住混合用地", "local", True),
    "商住混合": ("RB", "商住混合用地", "local", True),
    "M1": ("M1", "一类工业用地", "GB 50137-2011", True),
    "G1 公园绿地": ("G1", "公园绿地", "GB 50137-2011", True),
    "070102": ("070102", "二类城镇住宅用地", "2020 用地用海分类", True),
    "０７０１０２": ("070102", "二类城镇住宅用地", "2020 用地用海分类", True),
    "0701城镇住宅用地": ("0701", "城镇住宅用地", "2020 用地用海分类", True),
    "二类城镇住宅用地": ("070102", "二类城镇住宅用地", "2020 用地用海分类", True),
    "R20": ("R20", "二类居住用地", "GB 50137-2011", False),  # not listed: read by R2
    "residential": (None, "residential", None, False),
    "住宅用地": (None, "住宅用地", None, False),  # R11, R21 or R31: ambiguous
}


def test_each_written_form_is_read_exactly():
    values = pd.Series(list(CASES))
    got = land_use_class(values)
    for i, (text, want) in enumerate(CASES.items()):
        assert tuple(got.iloc[i][["code", "name", "system", "known"]]) == want, text


def test_numbers_that_lost_their_leading_zero():
    got = land_use_class(pd.Series([70102.0, 701, 7, np.nan]))
    assert got["code"].tolist() == ["070102", "0701", "07", None]
    assert got["name"].tolist() == ["二类城镇住宅用地", "城镇住宅用地", "居住用地", None]


def test_a_name_in_both_tables_follows_the_column():
    gb = land_use_class(pd.Series(["R2", "M1", "商业用地"]))
    new = land_use_class(pd.Series(["0701", "1001", "商业用地"]))
    assert gb["code"].iloc[2] == "B1" and new["code"].iloc[2] == "0901"


def test_prefix_and_name_matching():
    values = pd.Series(["R2", "R21", "R22", "RB", "R1", "070101", "070102", "0702", "二类居住用地", "商住混合",
                        "R2/B1", "B11", None, "residential"])
    assert matches(values, ["R2"]).tolist() == [True, True, True, False, False, False, False, False, True, False,
                                                True, False, False, False]
    assert matches(values, ["0701"]).tolist() == [False] * 5 + [True, True] + [False] * 7
    assert matches(values, ["R"]).tolist()[:5] == [True, True, True, False, True]  # R does not reach RB
    assert matches(values, ["商住混合"]).tolist() == [False] * 3 + [True] + [False] * 5 + [True] + [False] * 4
    assert matches(values, ["B1"]).tolist()[10:12] == [True, True]  # R2/B1 carries both; B11 under B1
    assert matches(values, ["居住用地"]).tolist()[:9] == [True, True, True, False, True, True, True, True, True]
    assert not matches(values, []).any()


def test_specificity_is_the_longest_code():
    assert [specificity(p) for p in ("R", "R2", "R22", "0701", "070102", "二类居住用地", "nonsense")] == [1, 2, 3, 4, 6, 2, 0]


def test_unknown_codes_are_counted():
    unknown, by_parent = unknown_codes(pd.Series(["R2", "XQ", "XQ", "绿化", "R20", None, "R2"]))
    assert dict(unknown) == {"XQ": 2, "绿化": 1}
    assert dict(by_parent) == {"R20 (R2)": 1}


def test_the_tables_name_their_source_and_hold_the_classes():
    t = code_table()
    assert not t["code"].duplicated().any()
    gb = t.loc[t["system"] != "2020 用地用海分类"].set_index("code")["name"]
    assert gb["R2"] == "二类居住用地" and gb["B1"] == "商业用地" and gb["G1"] == "公园绿地" and gb["M1"] == "一类工业用地"
    assert set(t.loc[t["system"] == "local", "code"]) == {"RB", "BR"}
    new = t.loc[t["system"] == "2020 用地用海分类"]
    assert sorted(new.loc[new["level"] == 1, "code"]) == [f"{i:02d}" for i in range(1, 25)]
    assert {"070101", "070102", "070103", "0702", "0703", "0901", "1001", "1101", "1401"} <= set(new["code"])
    assert all(len(c) == 2 * lvl for c, lvl in zip(new["code"], new["level"]))
    from importlib import resources

    for f in ("gb50137_2011.csv", "gtkj_2020.csv", "README.md"):
        head = resources.files("siteplan").joinpath("data", f).read_text(encoding="utf-8")
        assert "GB 50137-2011" in head or "用地用海分类" in head


@pytest.mark.parametrize("pattern", ["R9Z", "二类居主用地"])
def test_a_misspelt_pattern_in_the_scenario_is_an_error(pattern):
    from siteplan.errors import ScenarioError
    from siteplan.inputs.scenario import parse_scenario

    data = {"plan": {"name": "x", "first_year": 2016, "last_year": 2016, "candidate_land_use": ["R2", pattern]},
            "layers": {k: f"{k}.gpkg" for k in ("parcels", "districts", "stations", "lines")},
            "types": {"public_rental": {"unit_area_m2": 45, "targets": [10]}}}
    if pattern == "R9Z":
        parse_scenario(data)  # a code shape is accepted (a local code), and reported on the layer
        return
    with pytest.raises(ScenarioError, match="二类居主用地.*neither a land-use code"):
        parse_scenario(data)
