"""Candidacy by land use, [defaults], constants and stated areas, on a GBK shapefile as a bureau sends it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from siteplan.check import check
from siteplan.inputs.landuse import candidate_mask, inclusionary_mask
from siteplan.inputs.layers import check_layers
from siteplan.inputs.scenario import load_scenario
from tests.badinputs import add_to_scenario, edit_scenario, mini_city_copy, read

USE = ["R2", "二类居住用地(R2)", "R22", "RB", "G1", "Ｍ１", "070102", "S1"]
FAR = ["2.0-2.5", "≤2.5", None, "3", None, None, "２．０", None]
AREA = ["15亩", "1公顷", "10000", "1.5公顷", None, None, "10000㎡", None]  # every parcel is 1 ha; P3 states 1.5 ha
YEAR = ["2016年", None, "２０１７", "2016", None, None, None, None]

BUREAU = """
[fields.parcels]
parcel_id = "地块编号"
land_use = "用地性质"
far_max = "容积率"
area_m2 = "用地面积"
available_year = "供地年份"

[defaults]
available_year = 2016

[defaults.far_max]
R2 = 1.8
R22 = 1.2

[rules.inclusionary]
ratio = 0.05
types = ["public_rental"]
"""


def bureau_city(tmp_path, tmp_path_factory, *, extra: str = BUREAU, far=FAR):
    scen = mini_city_copy(tmp_path / "city", tmp_path_factory.getbasetemp())
    folder = scen.parent
    p = read(folder, "parcels")
    bureau = p[["district", "geometry"]].assign(地块编号=[f"DK-{i}" for i in range(8)], 用地性质=USE, 容积率=far,
                                                用地面积=AREA, 供地年份=YEAR)
    bureau.to_file(folder / "parcels.shp", engine="pyogrio", encoding="GBK")
    assert (folder / "parcels.dbf").read_bytes().find("二类居住用地".encode("gbk")) > 0  # really GBK on disk
    edit_scenario(scen, 'parcels = "parcels.gpkg"', 'parcels = "parcels.shp"')
    edit_scenario(scen, 'crs = "EPSG:4549"', 'crs = "EPSG:4549"\ncandidate_land_use = ["R2", "0701"]\n'
                                             'inclusionary_land_use = ["商住混合"]')
    scen.write_text(scen.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return scen


def _texts(result, level):
    return [d.message for d in result.diagnostics if d.level == level]


def test_bureau_values_defaults_and_candidacy(tmp_path, tmp_path_factory):
    scen = bureau_city(tmp_path, tmp_path_factory)
    scenario = load_scenario(scen)
    result = check_layers(scenario)
    assert not result.errors, [str(d) for d in result.errors]
    p = result.layers.parcels.set_index("parcel_id").loc[[f"DK-{i}" for i in range(8)]]
    # Plot ratios: own text where given (range, bound, full-width), else [defaults.far_max] by the
    # longest matching code (R22 -> 1.2, not R2's 1.8), else empty for non-candidates.
    want_far = [2.0, 2.5, 1.2, 3.0, math.nan, math.nan, 2.0, math.nan]
    assert np.allclose(p["far_max"].to_numpy(), want_far, equal_nan=True)
    assert np.allclose(p["far_upper"].to_numpy(), [2.5] + [math.nan] * 7, equal_nan=True)
    assert p["available_year"].tolist() == [2016, 2016, 2017, 2016, 2016, 2016, 2016, 2016]
    assert np.allclose(p["area_stated_m2"].to_numpy()[[0, 1, 2, 3, 6]], [10000.0, 10000.0, 10000.0, 15000.0, 10000.0])
    parcels = result.layers.parcels
    cand = dict(zip(parcels["parcel_id"], candidate_mask(parcels, scenario)))
    host = dict(zip(parcels["parcel_id"], inclusionary_mask(parcels, scenario)))
    assert [k for k, v in sorted(cand.items()) if v] == ["DK-0", "DK-1", "DK-2", "DK-6"]
    assert [k for k, v in sorted(host.items()) if v] == ["DK-3"]
    warnings, notes = _texts(result, "warning"), _texts(result, "note")
    area = [w for w in warnings if "state an area more than 10%" in w]
    assert len(area) == 1 and "1 parcel(s)" in area[0] and "DK-3 states 15,000 m2, its polygon has 10,000 m2" in area[0]
    assert any("1 plot ratio(s) read from ranges such as '2.0-2.5' (far_max 2, far_upper 2.5) and 1 from upper "
               "bounds such as '≤2.5' (far_max 2.5)" in n for n in notes), notes
    assert any("'far_max' taken from [defaults] for 1 parcel(s) without a value (by land use: R22 1)" in n for n in notes)
    assert any("3 parcel(s) that are not candidates have no usable plot ratio" in n for n in notes)
    assert not any("neither GB 50137-2011" in w for w in warnings)  # every code is in a table


def test_check_counts_capacity_on_candidates_only(tmp_path, tmp_path_factory):
    report = check(bureau_city(tmp_path, tmp_path_factory))
    assert not report.of_level("error"), [str(d) for d in report.of_level("error")]
    cap = report.capacity.by_district
    # Independently: each parcel is 1 ha; units of 50 m2 = 10000 * far / 50 on the candidates DK-0, 1, 2 (东城区), 6 (西城区).
    assert cap.loc["东城区", 2017] == pytest.approx(10000 * (2.0 + 2.5 + 1.2) / 50)
    assert cap.loc["西城区", 2017] == pytest.approx(10000 * 2.0 / 50)
    assert cap.loc["东城区", 2016] == pytest.approx(10000 * (2.0 + 2.5) / 50)  # DK-2 is ready in 2017


def test_candidate_without_plot_ratio_is_an_error_naming_it(tmp_path, tmp_path_factory):
    scen = bureau_city(tmp_path, tmp_path_factory, extra=BUREAU.replace("R22 = 1.2\n", "").replace("R2 = 1.8\n", ""))
    errors = _texts(check_layers(load_scenario(scen)), "error")
    assert any("field 'far_max' (plot ratio) is empty for parcel_id DK-2" in e for e in errors), errors
    assert not any("DK-4" in e or "DK-5" in e or "DK-7" in e for e in errors)  # green, industry, road: not candidates


def test_constant_plot_ratio_and_unknown_codes(tmp_path, tmp_path_factory):
    extra = BUREAU.replace('far_max = "容积率"', "far_max = 2.5").replace('land_use = "用地性质"',
                                                                         'land_use = "用地性质"\nname = { value = "示范" }')
    scen = bureau_city(tmp_path, tmp_path_factory, extra=extra)
    folder = scen.parent
    import geopandas as gpd

    g = gpd.read_file(folder / "parcels.shp", encoding="GBK")
    g.loc[4, "用地性质"] = "绿化"
    g.loc[5, "用地性质"] = "绿化"
    g.to_file(folder / "parcels.shp", engine="pyogrio", encoding="GBK")
    result = check_layers(load_scenario(scen))
    assert not result.errors, [str(d) for d in result.errors]
    assert (result.layers.parcels["far_max"] == 2.5).all() and (result.layers.parcels["name"] == "示范").all()
    unknown = [w for w in _texts(result, "warning") if "neither GB 50137-2011" in w]
    assert len(unknown) == 1 and "2 parcel(s)" in unknown[0] and "'绿化' (2)" in unknown[0]


def test_land_use_matching_no_parcel_is_an_error(tmp_path, tmp_path_factory):
    scen = bureau_city(tmp_path, tmp_path_factory)
    edit_scenario(scen, 'candidate_land_use = ["R2", "0701"]', 'candidate_land_use = ["R3"]')
    errors = _texts(check_layers(load_scenario(scen)), "error")
    assert any("candidate_land_use = ['R3']" in e and "'R2'" in e for e in errors), errors


def test_defaults_must_name_known_classes(tmp_path, tmp_path_factory):
    from siteplan.errors import ScenarioError

    scen = bureau_city(tmp_path, tmp_path_factory)
    add_to_scenario(scen, "defaults.far_max", "\"二类居主\" = 2.0")
    with pytest.raises(ScenarioError, match="defaults.far_max.*二类居主"):
        load_scenario(scen)
