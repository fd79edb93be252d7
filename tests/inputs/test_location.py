"""Parcels located in the district polygons: filled, disagreeing, at sea, oversized; zones from the scenario; target names.

The expectations are recomputed here from the raw layers with shapely
(which district polygon holds each parcel's interior point, how far a
parcel lies from the nearest district), not taken from siteplan.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import shapely
import shapely.affinity

from siteplan.check import check, format_report
from siteplan.errors import ScenarioError
from siteplan.inputs.findings import _Findings
from siteplan.inputs.layers import check_layers, read_layers
from siteplan.inputs.location import locate_parcels
from siteplan.inputs.scenario import load_scenario
from tests.badinputs import add_to_scenario, edit_layer, edit_scenario, mini_city_copy, read

ROOT = Path(__file__).resolve().parents[2]
X0, Y0 = 500_000.0, 3_990_000.0


@pytest.fixture
def city(tmp_path, tmp_path_factory) -> Path:
    return mini_city_copy(tmp_path / "city", tmp_path_factory.getbasetemp())


def messages(result, level: str) -> list[str]:
    return [str(d) for d in result.diagnostics if d.level == level]


def located_independently(folder: Path) -> dict[str, str]:
    """parcel_id -> the district polygon holding the parcel's interior point, from the raw files."""
    p, d = read(folder, "parcels"), read(folder, "districts")
    out = {}
    for pid, g in zip(p["parcel_id"], p.geometry):
        hits = [name for name, dg in zip(d["district"], d.geometry) if dg.contains(g.representative_point())]
        out[pid] = hits[0] if hits else None
    return out


def test_parcels_without_a_district_column_get_the_district_they_lie_in(city):
    edit_layer(city.parent, "parcels", lambda g: g.drop(columns="district"))
    expected = located_independently(city.parent)
    assert set(expected.values()) == {"东城区", "西城区"}  # the test can tell them apart
    result = check_layers(load_scenario(city))
    assert result.errors == []
    got = dict(zip(result.layers.parcels["parcel_id"], result.layers.parcels["district"]))
    assert got == expected
    zones = dict(zip(result.layers.parcels["parcel_id"], result.layers.parcels["zone"]))
    assert all(zones[k] == {"东城区": "东区", "西城区": "西区"}[v] for k, v in expected.items())
    assert any("8 parcel(s) had no district value" in m for m in messages(result, "note"))
    assert result.info["parcels"].location["filled from location"] == 8


def test_parcel_moved_out_to_sea_is_an_error_naming_it(city):
    km = 80.0
    edit_layer(city.parent, "parcels",
               lambda g: g.assign(geometry=[shapely.affinity.translate(geom, km * 1000, 0) if pid == "P7" else geom
                                            for pid, geom in zip(g["parcel_id"], g.geometry)]))
    p, d = read(city.parent, "parcels"), read(city.parent, "districts")
    far = p.loc[p["parcel_id"] == "P7"].geometry.iloc[0]
    dist = min(far.distance(g) for g in d.geometry) / 1000  # independently: 80 km less half the city
    assert 75 < dist < 80
    report = check(city)
    errors = [m for m in messages(report, "error") if "outside every district" in m]
    assert len(errors) == 1, report.diagnostics
    assert "parcels.gpkg" in errors[0] and "P7" in errors[0] and f"{dist:,.1f} km from 西城区" in errors[0]
    assert "correct their coordinates" in errors[0]
    assert not any("P6" in m for m in errors)
    text = format_report(report)
    assert "P7" in text and "1 outside every district" in text and report.exit_code == 2


def test_named_district_that_disagrees_with_the_location_warns_once(city):
    def edit(g):
        g = g.copy()
        g.loc[g["parcel_id"] == "P1", "district"] = "西城区"  # lies wholly in 东城区
        geoms = list(g.geometry)
        # P3 straddles the border at x0 + 1150: 70 % in 东城区, which it names (no warning) ...
        geoms[3] = shapely.box(X0 + 1080, Y0 + 200, X0 + 1180, Y0 + 300)
        # ... and P2 lies 30 % in 东城区, which it names (a warning)
        geoms[2] = shapely.box(X0 + 1120, Y0 + 200, X0 + 1220, Y0 + 300)
        return g.set_geometry(geoms)

    edit_layer(city.parent, "parcels", edit)
    d = read(city.parent, "districts")
    east = d.loc[d["district"] == "东城区"].geometry.iloc[0]
    p = read(city.parent, "parcels").set_index("parcel_id")
    share = {k: p.geometry[k].intersection(east).area / p.geometry[k].area for k in ("P2", "P3")}
    assert share["P3"] == pytest.approx(0.7) and share["P2"] == pytest.approx(0.3)
    result = check_layers(load_scenario(city))
    warned = [m for m in messages(result, "warning") if "lie mostly in another district" in m]
    assert len(warned) == 1, result.diagnostics
    assert warned[0].split(": ", 1)[1].startswith("2 parcel(s)")
    assert "P1 names 西城区 but lies 0% in it and 100% in 东城区" in warned[0]
    assert "P2 names 东城区 but lies 30% in it and 70% in 西城区" in warned[0]
    assert "P3" not in warned[0]
    assert warned[0].index("P1") < warned[0].index("P2")  # worst first
    assert result.layers is not None  # a warning, not an error: the named district is kept
    assert result.layers.parcels.set_index("parcel_id").loc["P1", "district"] == "西城区"


def test_oversized_parcel_is_named_in_a_warning(city):
    def edit(g):
        g = g.copy()
        geoms = list(g.geometry)
        geoms[0] = shapely.box(X0 - 100, Y0 + 150, X0 + 700, Y0 + 600)  # 800 m x 450 m = 36 ha
        return g.set_geometry(geoms)

    edit_layer(city.parent, "parcels", edit)
    ha = read(city.parent, "parcels").geometry.area.max() / 10_000
    assert ha == pytest.approx(36.0)
    result = check_layers(load_scenario(city))
    assert not any("max_parcel_ha" in m for m in messages(result, "warning"))  # 50 ha by default
    add_to_scenario(city, "plan", "max_parcel_ha = 30")
    result = check_layers(load_scenario(city))
    warned = [m for m in messages(result, "warning") if "max_parcel_ha = 30 ha" in m]
    assert len(warned) == 1 and "P0 36.0 ha" in warned[0] and "land-use zones" in warned[0]
    assert "P1" not in warned[0]


def test_misspelt_district_target_is_an_error_with_the_valid_names(city):
    add_to_scenario(city, "districts", '"东成区" = 100')
    result = check_layers(load_scenario(city))
    errors = [m for m in messages(result, "error") if "[districts] names" in m]
    assert len(errors) == 1, result.diagnostics
    assert "scenario.toml" in errors[0] and "'东成区' -> '东城区'" in errors[0]
    assert "The districts are: 东城区, 西城区" in errors[0]


def test_misspelt_zone_target_is_an_error_with_the_valid_names(city):
    edit_scenario(city, '"东区" = 300', '"东 区" = 300')
    result = check_layers(load_scenario(city))
    errors = [m for m in messages(result, "error") if "[zones] names" in m]
    assert len(errors) == 1 and "'东 区' -> '东区'" in errors[0] and "The zones are: 东区, 西区" in errors[0]


def no_zone_column(city: Path) -> None:
    edit_layer(city.parent, "districts", lambda g: g.drop(columns="zone"))


def test_zones_from_the_scenario(city):
    no_zone_column(city)
    add_to_scenario(city, "zone_districts", '"东区" = ["东城区"]\n"西区" = ["西城区"]')
    result = check_layers(load_scenario(city))
    assert result.errors == [], result.errors
    p = result.layers.parcels
    assert dict(zip(p["parcel_id"], p["zone"])) == {f"P{i}": "东区" if i < 4 else "西区" for i in range(8)}


def test_zone_districts_naming_an_unknown_district_is_an_error(city):
    no_zone_column(city)
    add_to_scenario(city, "zone_districts", '"东区" = ["东城"]\n"西区" = ["西城区"]')
    errors = messages(check_layers(load_scenario(city)), "error")
    assert any("[zone_districts] names 东城" in m and "'东城' -> '东城区'" in m and "The districts are: 东城区, 西城区" in m
               for m in errors), errors


def test_a_district_in_two_zones_is_an_error(city):
    add_to_scenario(city, "zone_districts", '"东区" = ["东城区"]\n"西区" = ["西城区", "东城区"]')
    with pytest.raises(ScenarioError, match="district '东城区' is in two zones, '东区' and '西区'"):
        load_scenario(city)


def test_a_district_in_no_zone_warns_and_is_a_zone_of_its_own(city):
    no_zone_column(city)
    add_to_scenario(city, "zone_districts", '"东区" = ["东城区"]')
    result = check_layers(load_scenario(city))
    assert result.errors == []
    assert any("puts 西城区 in no zone" in m for m in messages(result, "warning"))
    p = result.layers.parcels
    assert set(p.loc[p["district"] == "西城区", "zone"]) == {"西城区"}


def test_zone_targets_without_zones_is_an_error_naming_the_fix(city):
    no_zone_column(city)
    errors = messages(check_layers(load_scenario(city)), "error")
    assert any("[zones] sets targets for 东区" in m and "[zone_districts]" in m and "[fields.districts] zone" in m
               for m in errors), errors


def test_no_zones_and_no_zone_targets_needs_no_zone(city):
    no_zone_column(city)
    edit_scenario(city, '[zones]\n"东区" = 300', "")
    layers = read_layers(load_scenario(city))
    assert (layers.parcels["zone"] == layers.parcels["district"]).all()
    assert (layers.districts["zone"] == layers.districts["district"]).all()


def test_demo_parcels_lie_in_their_named_districts_fast():
    scenario = load_scenario(ROOT / "scenarios" / "demo-2016-2020.toml")
    result = check_layers(scenario)
    assert result.errors == []
    assert result.info["parcels"].location == {"as named": 3000, "filled from location": 0,
                                               "named otherwise than located": 0, "outside every district": 0}
    assert not any("district" in m for m in messages(result, "warning"))
    parcels, districts = result.layers.parcels, result.layers.districts
    raw = read(ROOT / "layers", "parcels").merge(read(ROOT / "layers", "districts")[["district", "zone"]], on="district")
    assert dict(zip(parcels["parcel_id"], parcels["zone"])) == dict(zip(raw["parcel_id"], raw["zone"]))
    start = time.perf_counter()
    found = _Findings()
    located = locate_parcels(parcels.assign(district=None), Path("parcels.gpkg"), districts, found)
    took = time.perf_counter() - start
    assert (located["district"] == parcels["district"]).all()  # location alone recovers every named district
    assert took < 5.0, took
