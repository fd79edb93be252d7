"""Tiny hand-made cities for the tests: a grid of parcels whose optimum is known, and the mini city on disk."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely


def grid_parcels(n: int, *, side_m: float = 100.0, far: float = 2.0, years=(2016, 2017), **columns) -> gpd.GeoDataFrame:
    """``n`` square parcels in a row, 1 ha each by default, all available from the first year.

    Extra keyword arguments become columns (scalars or sequences). Every
    parcel gets ``score_<year>`` = 1 and ``station_m_<year>`` = 0 unless given.
    """
    geoms = [shapely.box(i * 3 * side_m, 0, i * 3 * side_m + side_m, side_m) for i in range(n)]
    data = {
        "parcel_id": [f"P{i}" for i in range(n)],
        "name": [f"parcel {i}" for i in range(n)],
        "district": "A",
        "zone": "E",
        "far_max": far,
        "far_upper": np.nan,
        "available_year": years[0],
    }
    for y in years:
        data[f"score_{y}"] = 1.0
        data[f"station_m_{y}"] = 0.0
    data.update(columns)
    gdf = gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4549")
    gdf["area_m2"] = gdf.area
    return gdf


MINI_SCENARIO = """
[plan]
name = "mini"
first_year = 2016
last_year = 2017
crs = "EPSG:4549"

[layers]
parcels = "parcels.gpkg"
districts = "districts.gpkg"
stations = "stations.gpkg"
lines = "lines.gpkg"
services = "services.gpkg"
parks = "parks.gpkg"
population = "population.tif"

[types.public_rental]
unit_area_m2 = 50
targets = [600, 400]

[zones]
"东区" = 300

[rules.project_size]
min_units = 100
max_units = 500

[rules.transit]
share = 0.5
within_m = 800

[solver]
time_limit_s = 30
"""


def write_mini_city(folder, *, scenario: str = MINI_SCENARIO):
    """A valid two-district city of 8 parcels on disk, and its scenario file.

    Parcels P0-P3 lie in 东城区 (zone 东区), P4-P7 in 西城区 (zone 西区);
    each is 1 ha with plot ratio 2 (400 units of 50 m2). A station opened in
    2010 stands next to P0, one opening in 2017 next to P5.
    """
    import rasterio

    folder.mkdir(parents=True, exist_ok=True)
    crs = "EPSG:4549"
    x0, y0 = 500_000.0, 3_990_000.0
    parcels = grid_parcels(8, years=(2016,)).drop(columns=["area_m2", "zone", "score_2016", "station_m_2016"])
    parcels["geometry"] = parcels.translate(x0, y0)
    parcels["district"] = ["东城区"] * 4 + ["西城区"] * 4
    parcels["available_year"] = [2016, 2016, 2017, 2016, 2016, 2017, 2016, 2016]
    parcels["land_use"] = "residential"
    parcels["status"] = "reserve"
    parcels.to_file(folder / "parcels.gpkg", engine="pyogrio")
    gpd.GeoDataFrame(
        {"district": ["东城区", "西城区"], "zone": ["东区", "西区"]},
        geometry=[shapely.box(x0 - 100, y0 - 500, x0 + 1150, y0 + 600), shapely.box(x0 + 1150, y0 - 500, x0 + 2500, y0 + 600)],
        crs=crs,
    ).to_file(folder / "districts.gpkg", engine="pyogrio")
    gpd.GeoDataFrame(
        {"station": ["甲站", "乙站"], "line": ["1号线", "1号线"], "open_year": [2010, 2017]},
        geometry=[shapely.Point(x0 + 50, y0 + 150), shapely.Point(x0 + 1550, y0 + 150)],
        crs=crs,
    ).to_file(folder / "stations.gpkg", engine="pyogrio")
    gpd.GeoDataFrame(
        {"line": ["1号线"], "open_year": [2010]},
        geometry=[shapely.LineString([(x0 + 50, y0 + 150), (x0 + 1550, y0 + 150)])],
        crs=crs,
    ).to_file(folder / "lines.gpkg", engine="pyogrio")
    gpd.GeoDataFrame(
        {"category": ["school", "clinic", "market", "park"], "name": ["一小", "卫生院", "菜市场", "公园"]},
        geometry=[shapely.Point(x0 + 350, y0 + 50)] * 4,
        crs=crs,
    ).to_file(folder / "services.gpkg", engine="pyogrio")
    gpd.GeoDataFrame(
        {"park": ["产业园"], "workers": [5000]},
        geometry=[shapely.box(x0 + 2000, y0 - 400, x0 + 2400, y0 - 100)],
        crs=crs,
    ).to_file(folder / "parks.gpkg", engine="pyogrio")
    data = np.full((11, 26), 1000.0, dtype="float32")
    with rasterio.open(folder / "population.tif", "w", driver="GTiff", height=11, width=26, count=1, dtype="float32",
                       crs=crs, transform=rasterio.Affine(100, 0, x0 - 100, 0, -100, y0 + 600), nodata=-1) as dst:
        dst.write(data, 1)
    path = folder / "scenario.toml"
    path.write_text(scenario, encoding="utf-8")
    return path
