from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from siteplan.errors import ScenarioError
from siteplan.inputs.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo-2016-2020.toml"


def demo_dict() -> dict:
    return tomllib.loads(DEMO.read_text(encoding="utf-8"))


def test_demo_scenario_loads_and_matches_the_qingdao_shape():
    s = load_scenario(DEMO)
    assert s.plan.name == "demo-2016-2020"
    assert s.years == [2016, 2017, 2018, 2019, 2020]
    assert s.total_target() == 50_000
    assert s.zones == {"东岸城区": 16_000, "西岸城区": 13_000, "北岸城区": 13_000, "外围组团": 8_000}
    assert s.types["public_rental"].unit_area_m2 <= 60
    assert s.layers.parcels == (ROOT / "layers" / "parcels.gpkg").resolve()
    assert len(s.sha256) == 64


def test_unknown_key_is_named():
    d = demo_dict()
    d["rules"]["transit"]["withinm"] = 500
    with pytest.raises(ScenarioError, match=r"rules\.transit\.withinm: unknown key"):
        parse_scenario(d)


def test_misspelt_top_level_section_is_named():
    d = demo_dict()
    d["zone"] = d.pop("zones")
    with pytest.raises(ScenarioError, match=r"zone: unknown key"):
        parse_scenario(d)


def test_targets_need_one_value_per_year():
    d = demo_dict()
    d["types"]["low_rent"]["targets"] = [1, 2, 3]
    with pytest.raises(ScenarioError, match=r"types\.low_rent\.targets has 3 values but the plan has 5 years"):
        parse_scenario(d)


def test_public_rental_above_60_m2_is_an_error_unless_allowed():
    d = demo_dict()
    d["types"]["public_rental"]["unit_area_m2"] = 65
    with pytest.raises(ScenarioError, match="policy cap of 60 m2"):
        parse_scenario(d)
    d["types"]["public_rental"]["allow_oversize"] = True
    assert parse_scenario(d).types["public_rental"].unit_area_m2 == 65


def test_negative_target_and_reversed_years_are_errors():
    d = demo_dict()
    d["types"]["low_rent"]["targets"][0] = -5
    d["plan"]["first_year"], d["plan"]["last_year"] = 2020, 2016
    with pytest.raises(ScenarioError) as err:
        parse_scenario(d)
    text = str(err.value)
    assert "types.low_rent.targets: the 2020 target is -5" in text and "last_year 2016 is before first_year 2020" in text


def test_unknown_type_needs_a_label():
    d = demo_dict()
    d["types"]["dormitory"] = {"unit_area_m2": 30, "targets": [1, 1, 1, 1, 1], "cost_yuan_per_m2": 2000}
    with pytest.raises(ScenarioError, match="types.dormitory is not a known type"):
        parse_scenario(d)
    d["types"]["dormitory"]["label"] = "宿舍型公租房"
    assert parse_scenario(d).type_label("dormitory") == "宿舍型公租房"


def test_min_above_max_project_size():
    d = demo_dict()
    d["rules"]["project_size"] = {"min_units": 500, "max_units": 100}
    with pytest.raises(ScenarioError, match="min_units 500 is above max_units 100"):
        parse_scenario(d)


def test_not_utf8_and_not_toml(tmp_path):
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes(DEMO.read_text(encoding="utf-8").encode("gbk"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(gbk)
    bad = tmp_path / "bad.toml"
    bad.write_text("[plan\nname=1", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "missing.toml")


def test_utf8_bom_is_accepted(tmp_path):
    f = tmp_path / "bom.toml"
    f.write_bytes(b"\xef\xbb\xbf" + DEMO.read_bytes())
    assert load_scenario(f).plan.name == "demo-2016-2020"


def test_layer_paths_resolve_against_the_scenario_folder(tmp_path):
    sub = tmp_path / "plans"
    sub.mkdir()
    f = sub / "s.toml"
    f.write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    s = load_scenario(f)
    assert s.layers.parcels == (tmp_path / "layers" / "parcels.gpkg").resolve()


def test_plan_name_must_be_safe_for_a_folder():
    d = demo_dict()
    d["plan"]["name"] = "../../etc"
    with pytest.raises(ScenarioError, match="plan.name"):
        parse_scenario(d)


def test_map_section_tiles_and_tianditu_key():
    assert parse_scenario(demo_dict()).map.tiles == "none"
    d = demo_dict()
    d["map"] = {"tiles": "Gaode"}
    assert parse_scenario(d).map.tiles == "gaode"
    d["map"] = {"tiles": "tianditu", "tianditu_key": "0123456789abcdef0123456789abcdef"}
    assert parse_scenario(d).map.tianditu_key == "0123456789abcdef0123456789abcdef"
    d["map"] = {"tiles": "tianditu", "tianditu_key": "abc';alert(1)//"}
    with pytest.raises(ScenarioError, match=r"map\.tianditu_key: a Tianditu key is 8-64 letters and digits"):
        parse_scenario(d)
    d["map"] = {"tiles": "osm", "zoom": 12}
    with pytest.raises(ScenarioError, match=r"map\.zoom: unknown key"):
        parse_scenario(d)
