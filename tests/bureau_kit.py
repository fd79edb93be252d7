"""A messy bureau folder, as files arrive from a planning bureau, generated from a small synthetic city.

:func:`write_bureau_kit` writes, with no preparation for siteplan:

- ``控规地块.shp``: the regulatory-plan parcels as a GBK shapefile without a
  .cpg, Chinese field names 地块编号, 用地代码 (GB 50137 codes R2, R21, RB,
  B1, G1, S1), 用地面积 as text in 亩 ("15.0亩"), 容积率 as text ("2.0-2.5",
  "≤2.5", "2.8", empty for green and roads); no district, status or year;
- ``区县.shp``: two district polygons, 区县名称 only (no zone column);
- ``地铁站点.geojson``: metro stations in GCJ-02 lon/lat (as downloaded from
  Gaode/AMap), with Z coordinates; 站名, 线路, 开通年份 as "2015年";
- ``地铁线路.shp``: the metro line, 3D, 线路名称 and 开通年份;
- ``保障房目标.xlsx``: the plan's cumulative (累计) table, type rows × year
  columns, with a 序号 column and a title row.

:data:`KIT_TRUTH` holds what the files mean, for the tests to check a plan
against independently of siteplan.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from siteplan.inputs.gcj02 import wgs84_to_gcj02

X0, Y0 = 500_000.0, 3_990_000.0
CRS = "EPSG:4549"
MU_M2 = 10_000 / 15  # one 亩

#: The plan years and the cumulative table (累计) of the kit, per type row label.
YEARS = [2024, 2025, 2026]
CUMULATIVE = {"保障性租赁住房": [300, 700, 1000], "公租房": [100, 200, 300]}

#: Land-use code of each parcel, row by row (6 columns × 5 rows).
CODES = [
    "R2", "R21", "G1", "R2", "RB", "B1",
    "R21", "S1", "R2", "R2", "G1", "R2",
    "B1", "R2", "R21", "S1", "R2", "RB",
    "G1", "R2", "B1", "R21", "R2", "G1",
    "R2", "S1", "R2", "B1", "R21", "R2",
]
_FAR_TEXT = {"R2": "2.0-2.5", "R21": "≤2.5", "RB": "2.8", "B1": "3.0-4.0", "G1": "", "S1": ""}


def _parcels() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(15)
    geoms, ids, areas = [], [], []
    for k, code in enumerate(CODES):
        row, col = divmod(k, 6)
        w, h = rng.uniform(80, 120), rng.uniform(80, 120)
        x, y = X0 + col * 200.0, Y0 + row * 200.0
        geoms.append(shapely.box(x, y, x + w, y + h))
        ids.append(f"DK-{row + 1:02d}-{col + 1:02d}")
        areas.append(f"{w * h / MU_M2:.1f}亩")
    return gpd.GeoDataFrame({"地块编号": ids, "用地代码": CODES, "用地面积": areas,
                             "容积率": [_FAR_TEXT[c] for c in CODES]}, geometry=geoms, crs=CRS)


def _districts() -> gpd.GeoDataFrame:
    # 望海区 holds columns 1-3 (x < X0 + 550), 滨海区 columns 4-6.
    west = shapely.box(X0 - 300, Y0 - 300, X0 + 550, Y0 + 1200)
    east = shapely.box(X0 + 550, Y0 - 300, X0 + 1400, Y0 + 1200)
    return gpd.GeoDataFrame({"区县名称": ["望海区", "滨海区"]}, geometry=[west, east], crs=CRS)


def _stations_wgs84() -> gpd.GeoDataFrame:
    pts = [shapely.Point(X0 + 150, Y0 + 500), shapely.Point(X0 + 750, Y0 + 500), shapely.Point(X0 + 1150, Y0 + 300)]
    return gpd.GeoDataFrame({"站名": ["海港站", "滨海站", "东湖站"], "线路": ["1号线"] * 3,
                             "开通年份": ["2015年", "2015年", "2025年"]}, geometry=pts, crs=CRS).to_crs("EPSG:4326")


def write_bureau_kit(folder: Path) -> Path:
    """Write the messy bureau folder into ``folder``; returns the folder."""
    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    parcels = _parcels()
    parcels.to_file(folder / "控规地块.shp", engine="pyogrio", encoding="GBK")
    for cpg in folder.glob("控规地块.[cC][pP][gG]"):
        cpg.unlink()  # as from an old ArcGIS: the text is GBK and nothing says so
    _districts().to_file(folder / "区县.shp", engine="pyogrio", encoding="GBK")
    st = _stations_wgs84()
    lon, lat = wgs84_to_gcj02(st.geometry.x.to_numpy(), st.geometry.y.to_numpy())
    st = st.set_geometry([shapely.Point(a, b, 3.5) for a, b in zip(lon, lat)], crs="EPSG:4326")
    st.to_file(folder / "地铁站点.geojson", engine="pyogrio", driver="GeoJSON")
    line = shapely.LineString([(X0 + 150, Y0 + 500, 0.0), (X0 + 750, Y0 + 500, 0.0), (X0 + 1150, Y0 + 300, 0.0)])
    gpd.GeoDataFrame({"线路名称": ["1号线"], "开通年份": [2015]}, geometry=[line], crs=CRS).to_file(
        folder / "地铁线路.shp", engine="pyogrio", encoding="GBK")
    book = Workbook()
    ws = book.active
    ws.title = "保障房目标"
    ws.append(["表1 住房保障发展规划年度目标(累计)"])
    ws.append(["序号", "指标", *[f"{y}年" for y in YEARS]])
    for k, (label, values) in enumerate(CUMULATIVE.items(), start=1):
        ws.append([k, f"{label}累计筹集(套)", *values])
    book.save(folder / "保障房目标.xlsx")
    return folder


#: What the kit means, for independent checks: parcel id -> (code, district, plot ratio lower bound).
def kit_truth() -> gpd.GeoDataFrame:
    """The parcels with their code, true district (by location) and plot-ratio lower bound, in the kit's CRS."""
    p = _parcels()
    d = _districts()
    p["district"] = [d.loc[d.intersection(g).area.idxmax(), "区县名称"] for g in p.geometry]
    p["far_lower"] = [float(t.replace("≤", "").split("-")[0]) if t else np.nan for t in p["容积率"]]
    return p
