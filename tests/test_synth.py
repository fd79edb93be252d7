"""Tests for the synthetic demo city generator (siteplan.synth)."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from scipy.spatial import cKDTree

from siteplan import synth
from siteplan.synth import City, make_city, write_city

UNIT_M2 = 55.0
ZONE_TARGETS = {"东岸城区": 16_000, "西岸城区": 13_000, "北岸城区": 13_000, "外围组团": 8_000}

COLUMNS = {
    "districts": {"district": "str", "zone": "str", "district_en": "str"},
    "lines": {"line": "str", "line_en": "str", "open_year": "int64"},
    "stations": {"station": "str", "line": "str", "open_year": "int64"},
    "services": {"category": "str", "name": "str"},
    "parks": {"park": "str", "workers": "int64"},
    "parcels": {
        "parcel_id": "str", "name": "str", "district": "str", "land_use": "str",
        "far_max": "float64", "far_upper": "float64", "available_year": "int64",
        "status": "str", "metro_depot": "bool",
    },
    "constraints": {"kind": "str", "name": "str"},
}
GEOM = {
    "districts": {"Polygon"}, "lines": {"LineString"}, "stations": {"Point"},
    "services": {"Point"}, "parks": {"Polygon"}, "parcels": {"Polygon"},
    "constraints": {"Polygon"},
}


@pytest.fixture(scope="module")
def small() -> City:
    return make_city(seed=11, n_parcels=500)


@pytest.fixture(scope="module")
def demo() -> City:
    return make_city(seed=2016, n_parcels=3000)


def _dtype_name(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if pd.api.types.is_string_dtype(s) and s.map(lambda v: isinstance(v, str)).all():
        return "str"
    return str(s.dtype)


def _assert_same_city(a: City, b: City) -> None:
    for name in synth.LAYERS:
        ga, gb = getattr(a, name), getattr(b, name)
        pd.testing.assert_frame_equal(
            pd.DataFrame(ga.drop(columns="geometry")), pd.DataFrame(gb.drop(columns="geometry"))
        )
        assert shapely.equals_exact(ga.geometry.values, gb.geometry.values, tolerance=0).all(), name
    np.testing.assert_array_equal(a.population, b.population)
    assert a.transform == b.transform


def _units(parcels: gpd.GeoDataFrame) -> pd.Series:
    return parcels.area * parcels["far_max"] / UNIT_M2


# --- determinism -------------------------------------------------------------------


def test_same_seed_same_city(small: City) -> None:
    _assert_same_city(small, make_city(seed=11, n_parcels=500))


def test_different_seed_differs(small: City) -> None:
    other = make_city(seed=12, n_parcels=500)
    assert not np.array_equal(small.population, other.population)
    a = small.parcels.geometry.values
    b = other.parcels.geometry.values
    assert len(a) == len(b) == 500
    assert not shapely.equals_exact(a, b, tolerance=0).all()
    assert set(small.stations["station"]) != set(other.stations["station"])


def test_rejects_silly_sizes() -> None:
    with pytest.raises(ValueError):
        make_city(n_parcels=10)


# --- schema --------------------------------------------------------------------------


@pytest.mark.parametrize("layer", synth.LAYERS)
def test_columns_dtypes_and_crs(small: City, layer: str) -> None:
    gdf = getattr(small, layer)
    assert list(gdf.columns) == [*COLUMNS[layer], "geometry"]
    for col, want in COLUMNS[layer].items():
        assert _dtype_name(gdf[col]) == want, (layer, col, gdf[col].dtype)
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4549
    assert set(gdf.geom_type) == GEOM[layer]
    assert gdf.is_valid.all() and not gdf.is_empty.any()
    # eastings near the 120E meridian, northings near 36N
    x0, y0, x1, y1 = gdf.total_bounds
    assert 380_000 < x0 < x1 < 620_000 and 3_900_000 < y0 < y1 < 4_080_000
    assert small.crs == "EPSG:4549"


def test_attribute_values(small: City) -> None:
    d = small.districts
    assert 8 <= len(d) <= 12 and d["district"].is_unique and d["district_en"].is_unique
    assert set(d["zone"]) == set(synth.ZONES)
    assert d["zone"].value_counts().min() >= 2

    ln = small.lines
    assert 4 <= len(ln) <= 6 and ln["line"].is_unique
    assert ln["open_year"].between(2010, 2015).any() and ln["open_year"].between(2016, 2020).any()
    assert ln["line_en"].str.startswith("Line ").all()

    st = small.stations
    assert st["station"].is_unique and set(st["line"]) == set(ln["line"])
    line_year = st["line"].map(dict(zip(ln["line"], ln["open_year"])))
    assert (st["open_year"] >= line_year).all() and (st["open_year"] > line_year).any()

    sv = small.services
    assert set(sv["category"]) == set(synth.SERVICE_CATEGORIES) and len(sv) >= 1000
    assert sv["name"].str.len().min() >= 3

    pk = small.parks
    assert 5 <= len(pk) <= 8 and pk["park"].is_unique
    assert pk["workers"].between(8_000, 80_000).all()

    cs = small.constraints
    assert set(cs["kind"]) == {"ecological_redline", "flood_zone"}

    p = small.parcels
    assert len(p) == 500 and p["parcel_id"].is_unique and p["name"].is_unique
    assert p["parcel_id"].str.fullmatch(r"[A-Z]{2,3}\d?-20(1[4-9]|20)-\d{4,}").all()
    assert p["parcel_id"].is_monotonic_increasing
    assert set(p["district"]) <= set(d["district"])
    assert set(p["land_use"]) == set(synth.LAND_USES)
    assert set(p["status"]) == set(synth.STATUSES)
    assert p["far_max"].between(1.2, 4.0).all()
    assert np.allclose(p["far_max"], p["far_max"].round(1))
    up = p["far_upper"].dropna()
    assert 0.35 < p["far_upper"].isna().mean() < 0.65
    gap = (up - p.loc[up.index, "far_max"]).round(6)
    assert gap.between(0.2, 0.8).all()
    assert p["available_year"].between(2014, 2020).all()
    assert p["available_year"].between(2015, 2019).mean() > 0.75
    share = p["status"].value_counts(normalize=True)
    assert 0.6 < share["reserve"] < 0.8 and 0.08 < share["commercial"] < 0.22
    assert 3 <= p["metro_depot"].sum() <= 8
    assert (p.loc[p["metro_depot"], "status"] == "reserve").all()
    # a depot site is locked in, so it must touch no red line or flood zone (which lock out)
    cons = shapely.union_all(small.constraints.geometry.to_numpy())
    assert not shapely.intersects(p.loc[p["metro_depot"]].geometry.to_numpy(), cons).any()


# --- geometry --------------------------------------------------------------------------


def test_districts_tile_the_land(small: City) -> None:
    g = small.districts.geometry.values
    union = shapely.union_all(g)
    assert abs(shapely.area(g).sum() - union.area) < 1.0  # m2: no overlaps
    left, right = small.districts.sindex.query(g, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(g[left[pairs]], g[right[pairs]])).sum()
    assert overlap < 1.0
    assert union.geom_type == "Polygon"  # one connected land area, no slivers between districts


def test_parcels_in_district_not_overlapping(small: City) -> None:
    p = small.parcels
    area_ha = p.area / 1e4
    assert area_ha.between(0.3, 8.0).all()
    assert 1.0 < area_ha.median() < 2.6
    dist = small.districts.set_index("district").geometry
    inside = shapely.within(p.geometry.values, dist.loc[p["district"]].values)
    assert inside.all()
    left, right = p.sindex.query(p.geometry.values, predicate="intersects")
    pairs = left < right
    inter = shapely.area(shapely.intersection(p.geometry.values[left[pairs]], p.geometry.values[right[pairs]]))
    assert (inter < 1e-6).all()
    # blocks are quadrilaterals
    assert (shapely.get_num_coordinates(p.geometry.values) == 5).all()


def test_parcels_larger_outside_the_core(demo: City) -> None:
    p = demo.parcels.merge(demo.districts[["district", "zone"]], on="district")
    med = (p.area / 1e4).groupby(p["zone"]).median()
    assert med["东岸城区"] < med["外围组团"]
    far = p.groupby("zone")["far_max"].mean()
    assert far["东岸城区"] > far["外围组团"]


def test_stations_on_their_lines(small: City) -> None:
    st = small.stations
    lines = small.lines.set_index("line").geometry
    d = shapely.distance(st.geometry.values, lines.loc[st["line"]].values)
    assert (d < 1e-3).all()
    gaps = []
    for _, g in st.groupby("line"):
        xy = shapely.get_coordinates(g.geometry.values)
        gaps.append(np.hypot(*np.diff(xy, axis=0).T))
    assert 1000.0 <= np.median(np.concatenate(gaps)) <= 1500.0
    land = shapely.union_all(small.districts.geometry.values)
    assert shapely.within(st.geometry.values, land).all()


def test_constraints_touch_some_parcels(demo: City) -> None:
    hit = demo.parcels.sindex.query(demo.constraints.geometry.values, predicate="intersects")[1]
    assert 5 <= len(np.unique(hit)) < 0.2 * len(demo.parcels)


def test_committed_demo_depots_clear_of_lock_outs() -> None:
    # the bundled layers, as a planner gets them: every depot site (locked in by the demo
    # scenario) lies clear of the red lines and flood zones (locked out by it)
    from pathlib import Path

    layers = Path(__file__).resolve().parents[1] / "layers"
    parcels = gpd.read_file(layers / "parcels.gpkg")
    cons = shapely.union_all(gpd.read_file(layers / "constraints.gpkg").geometry.to_numpy())
    depots = parcels.loc[parcels["metro_depot"].astype(bool)]
    assert len(depots) >= 3
    assert not shapely.intersects(depots.geometry.to_numpy(), cons).any()


def test_population_raster(small: City) -> None:
    pop = small.population
    assert pop.dtype == np.float32 and pop.ndim == 2
    assert (pop == -1).any() and (pop >= 0).mean() > 0.3
    t = small.transform
    assert t.a == -t.e and t.a in (100.0, 200.0)
    # denser in the old core than in an outer town
    d = small.districts.set_index("district_en").geometry

    def mean_density(name: str) -> float:
        rows, cols = np.indices(pop.shape)
        x = t.c + (cols + 0.5) * t.a
        y = t.f + (rows + 0.5) * t.e
        inside = shapely.contains_xy(d[name], x, y)
        return float(pop[inside].mean())

    assert mean_density("Binhai") > 3 * mean_density("Songling")


# --- writing ---------------------------------------------------------------------------------


def test_write_city_roundtrip(small: City, tmp_path) -> None:
    paths = write_city(small, tmp_path / "a")
    assert set(paths) == {*synth.LAYERS, "population"}
    for name in synth.LAYERS:
        assert paths[name].name == f"{name}.gpkg"
        assert pyogrio.list_layers(paths[name])[:, 0].tolist() == [name]
        back = gpd.read_file(paths[name], engine="pyogrio")
        assert back.crs.to_epsg() == 4549 and len(back) == len(getattr(small, name))
        for col, want in COLUMNS[name].items():
            assert _dtype_name(back[col]) == want, (name, col, back[col].dtype)
    with rasterio.open(paths["population"]) as r:
        assert r.crs.to_epsg() == 4549
        assert r.shape == small.population.shape and r.dtypes[0] == "float32"
        assert r.transform == small.transform and r.nodata == -1
        assert r.profile["compress"].lower() == "lzw"
        np.testing.assert_array_equal(r.read(1), small.population)
    # byte-identical when written again
    again = write_city(small, tmp_path / "b")
    for name, path in paths.items():
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(again[name].read_bytes()).digest(), name


def test_main_writes_layers(tmp_path, capsys) -> None:
    assert synth.main(["--out", str(tmp_path), "--seed", "5", "--parcels", "500"]) == 0
    assert len(gpd.read_file(tmp_path / "parcels.gpkg")) == 500
    assert (tmp_path / "population.tif").exists()
    assert "parcels" in capsys.readouterr().out


# --- capacity sanity facts other modules rely on -------------------------------------------


@pytest.mark.parametrize("which", ["small", "demo"])
def test_capacity_sanity(which: str, request) -> None:
    city: City = request.getfixturevalue(which)
    p = city.parcels.merge(city.districts[["district", "zone"]], on="district")
    active = p[p["status"].isin(["reserve", "commercial"])]
    units = _units(active)
    assert units.sum() > 5 * 50_000
    by_zone = units.groupby(active["zone"]).sum()
    for zone, target in ZONE_TARGETS.items():
        assert by_zone.get(zone, 0.0) >= 3 * target, zone
    assert units[active["available_year"] <= 2016].sum() >= 3 * 8_000

    st = city.stations[city.stations["open_year"] <= 2018]
    reserve = p[p["status"] == "reserve"]
    dist, _ = cKDTree(shapely.get_coordinates(st.geometry.values)).query(
        shapely.get_coordinates(reserve.geometry.centroid.values)
    )
    assert (dist <= 800.0).mean() >= 0.25


def test_grows_with_n_parcels() -> None:
    big = make_city(seed=3, n_parcels=20_000)
    assert len(big.parcels) == 20_000 and big.parcels["parcel_id"].is_unique
    assert len(big.districts) > 11
    small_area = shapely.union_all(make_city(seed=3, n_parcels=600).districts.geometry.values).area
    assert shapely.union_all(big.districts.geometry.values).area > 2 * small_area
