from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from siteplan.model import features as F
from tests.cities import grid_parcels

CRS = "EPSG:4549"


def points(xy, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[shapely.Point(x, y) for x, y in xy], crs=CRS)


def test_area_and_capacity():
    p = grid_parcels(2, far=2.5)
    assert F.area_m2(p).tolist() == [10_000.0, 10_000.0]
    assert F.floor_capacity_m2(p).tolist() == [25_000.0, 25_000.0]
    assert F.unit_capacity(F.floor_capacity_m2(p), 45.0).tolist() == [555, 555]
    # exact multiples are not lost to floating point
    assert F.unit_capacity(pd.Series([0.3 * 3 * 1000]), 0.3 * 1000).tolist() == [3]


def test_station_distance_uses_opening_year_and_parcel_edge():
    p = grid_parcels(2)  # boxes x in [0,100] and [300,400], y in [0,100]
    st = points([(150, 50), (300, 500)], station=["a", "b"], open_year=[2018, 2010])
    d2016 = F.station_distance(p, st, open_by=2016)
    d2018 = F.station_distance(p, st, open_by=2018)
    assert d2016.tolist() == pytest.approx([np.hypot(200, 400), 400.0])
    assert d2018.tolist() == pytest.approx([50.0, 150.0])
    assert d2018.index.equals(p.index)


def test_no_open_station_gives_infinity():
    p = grid_parcels(1)
    st = points([(0, 0)], station=["a"], open_year=[2030])
    assert np.isinf(F.station_distance(p, st, open_by=2020)).all()


def test_service_counts_by_group():
    p = grid_parcels(2)
    sv = points(
        [(50, 150), (50, 1500), (350, 50), (350, 60), (360, 70)],
        category=["school", "school", "hospital", "clinic", "park"],
    )
    c = F.service_counts(p, sv, within_m=100)
    assert c["svc_school"].tolist() == [1, 0]
    assert c["svc_clinic"].tolist() == [0, 2]
    assert c["svc_park"].tolist() == [0, 1]
    assert c["svc_market"].tolist() == [0, 0]


def test_zonal_mean_counts_cell_centres_and_samples_small_parcels(tmp_path):
    # 4 x 4 cells of 100 m from (0, 400); values = row * 10 + col
    data = (np.arange(4)[:, None] * 10 + np.arange(4)[None, :]).astype("float32")
    data[0, 3] = -1  # nodata
    path = tmp_path / "pop.tif"
    with rasterio.open(path, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32", crs=CRS,
                       transform=rasterio.Affine(100, 0, 0, 0, -100, 400), nodata=-1) as dst:
        dst.write(data, 1)
    parcels = gpd.GeoDataFrame(
        geometry=[
            shapely.box(0, 200, 200, 400),      # cells (0,0),(0,1),(1,0),(1,1): 0,1,10,11
            shapely.box(210, 10, 240, 40),     # no cell centre inside: sampled, cell (3,2) = 32
            shapely.box(200, 300, 400, 400),   # cells (0,2)=2 and (0,3)=nodata
        ],
        crs=CRS,
    )
    z = F.zonal_mean(parcels, path)
    assert z.tolist() == pytest.approx([5.5, 32.0, 2.0])


def test_suitability_formula():
    df = pd.DataFrame({
        "station_m_2016": [0.0, 1000.0, 5000.0],
        "svc_school": [3, 1, 0], "svc_clinic": [3, 0, 0], "svc_market": [3, 0, 0], "svc_park": [3, 0, 0],
        "park_m": [0.0, 2500.0, np.inf],
        "pop_density": [100.0, 50.0, np.nan],
    })
    s = F.suitability(df, year=2016, weights={"transit": 1, "services": 1, "parks": 1, "population": 1},
                      transit_reach_m=2000, park_reach_m=5000)
    p95 = np.nanpercentile([100.0, 50.0, 0.0], 95)
    expected1 = (0.5 + (1 / 3) / 4 + 0.5 + min(50 / p95, 1)) / 4
    assert s.iloc[0] == pytest.approx(1.0)
    assert s.iloc[1] == pytest.approx(expected1)
    assert s.iloc[2] == pytest.approx(0.0)
    assert ((s >= 0) & (s <= 1)).all()


def test_nearest_point_distances_equal_the_index_for_every_subset():
    # random parcels of very different sizes (long thin ones too, where the
    # centroid's nearest points are not the edge's) against random points
    rng = np.random.default_rng(7)
    n, m = 400, 60
    x, y = rng.uniform(0, 20_000, n), rng.uniform(0, 20_000, n)
    w, h = rng.uniform(30, 3000, n), rng.uniform(30, 300, n)
    parcels = gpd.GeoDataFrame(geometry=shapely.box(x, y, x + w, y + h), crs=CRS)
    pts = points(rng.uniform(0, 20_000, (m, 2)), open_year=rng.integers(2010, 2022, m))
    years = range(2012, 2021)
    got = F.station_distances(parcels, pts, years)
    for year in years:
        want = F.station_distance(parcels, pts, open_by=year)
        assert np.allclose(got[f"station_m_{year}"], want), year
    # no station open yet: infinitely far
    assert np.isinf(F.station_distances(parcels, pts, [2000])["station_m_2000"]).all()
    # a parcel holding a point is at distance 0
    inside = F.nearest_point_distances(parcels.iloc[:1], points([(x[0] + 1, y[0] + 1)]), {"d": np.array([True])})
    assert inside["d"].iloc[0] == 0.0
