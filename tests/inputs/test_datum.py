"""GCJ-02 layers ([layers.datum]): converted to WGS84 vertex by vertex before projecting, and said in the check report.

The stations of the mini city are shifted to GCJ-02 with the package's own
forward formula (itself tested against published points in
test_gcj02.py), written as a lon/lat layer, and must read back where they
were; without ``datum`` they land the few hundred metres off that GCJ-02 is.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Geod

from siteplan.check import check, format_report
from siteplan.errors import ScenarioError
from siteplan.inputs.gcj02 import wgs84_to_gcj02
from siteplan.inputs.layers import check_layers, read_layer, read_layers
from siteplan.inputs.scenario import load_scenario
from tests.badinputs import add_to_scenario, mini_city_copy, read, set_layer_path


@pytest.fixture
def city(tmp_path, tmp_path_factory) -> Path:
    return mini_city_copy(tmp_path / "city", tmp_path_factory.getbasetemp())


def gcj02_stations(city: Path) -> tuple[gpd.GeoDataFrame, float]:
    """Write the stations as GCJ-02 lon/lat GeoJSON; returns the originals and the mean shift in metres."""
    original = read(city.parent, "stations")
    wgs = original.to_crs("EPSG:4326")
    lon, lat = wgs.geometry.x.to_numpy(), wgs.geometry.y.to_numpy()
    glon, glat = wgs84_to_gcj02(lon, lat)
    shifted = wgs.set_geometry(gpd.points_from_xy(glon, glat), crs="EPSG:4326")
    shifted.to_file(city.parent / "stations_gcj.geojson", engine="pyogrio")
    set_layer_path(city, "stations", "stations_gcj.geojson")
    return original, float(np.mean(Geod(ellps="WGS84").inv(lon, lat, glon, glat)[2]))


def offsets(layers, original: gpd.GeoDataFrame) -> np.ndarray:
    got = layers.stations.set_index("station").geometry
    want = original.set_index("station").geometry
    return np.array([got[k].distance(want[k]) for k in want.index])


def test_gcj02_layer_reads_back_where_it_was(city):
    original, shift = gcj02_stations(city)
    assert 300 < shift < 700  # the test city lies in China, where GCJ-02 applies
    add_to_scenario(city, "layers.datum", 'stations = "gcj02"')
    layers = read_layers(load_scenario(city))
    assert offsets(layers, original).max() < 1.0


def test_without_datum_the_layer_is_hundreds_of_metres_off(city):
    original, _ = gcj02_stations(city)
    layers = read_layers(load_scenario(city))
    off = offsets(layers, original)
    assert (off > 300).all() and (off < 700).all(), off


def test_check_reports_the_conversion_and_its_shift(city):
    _, shift = gcj02_stations(city)
    add_to_scenario(city, "layers.datum", 'stations = "GCJ-02"')
    report = check(city)
    assert report.of_level("error") == []
    assert report.layers.info["stations"].datum == f"GCJ-02 → WGS84, mean shift {shift:,.0f} m"
    assert f"stations: GCJ-02 → WGS84, mean shift {shift:,.0f} m" in format_report(report)
    assert any("converted 2 feature(s) from GCJ-02" in str(d) for d in report.of_level("note"))


def test_gcj02_on_a_projected_layer_is_an_error_with_the_fix(city):
    add_to_scenario(city, "layers.datum", 'stations = "gcj02"')
    result = check_layers(load_scenario(city))
    errors = [str(e) for e in result.errors]
    assert len(errors) == 1 and "stations.gpkg" in errors[0] and "projected CRS" in errors[0]
    assert "must be in degrees" in errors[0] and "remove stations from [layers.datum]" in errors[0]


def test_wgs84_is_accepted_and_changes_nothing(city):
    add_to_scenario(city, "layers.datum", 'stations = "wgs84"')
    original = read(city.parent, "stations")
    layers = read_layers(load_scenario(city))
    assert offsets(layers, original).max() < 1e-6


@pytest.mark.parametrize("value", ["bd09", "gcj"])
def test_other_datums_are_refused_with_the_allowed_values(city, value):
    add_to_scenario(city, "layers.datum", f'stations = "{value}"')
    with pytest.raises(ScenarioError, match='use "gcj02".*or "wgs84"'):
        load_scenario(city)


def test_datum_for_a_layer_the_scenario_lacks_is_refused(city):
    add_to_scenario(city, "layers.datum", 'constraints = "gcj02"')
    with pytest.raises(ScenarioError, match=r"\[layers.datum\] names constraints"):
        load_scenario(city)


def test_read_layer_takes_a_datum(city):
    original, _ = gcj02_stations(city)
    got = read_layer(city.parent / "stations_gcj.geojson", "stations", crs="EPSG:4549", datum="gcj02")
    want = original.set_index("station").geometry
    assert max(g.distance(want[s]) for s, g in zip(got["station"], got.geometry)) < 1.0
