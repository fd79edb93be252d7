"""Issue 16: one figure, one value in every file, recomputed from the raw layers; compare's 相同; the plot ratio used.

One run of a small city whose numbers do not come out round (parcels of
odd sizes and plot ratios, two types of 47 and 83 m², public rental allowed
``far_upper``), and a second run with other targets for ``siteplan compare``.
Every output is read back (openpyxl, pandas, json, the HTML text) and each
figure compared with the value recomputed independently from the layers and
``allocation.csv``'s units under the stated rule: half to even at 0.01,
gross = printed net / 0.8, totals = sums of the printed rows.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_EVEN, Decimal

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from siteplan.outputs.compare import compare_runs, write_comparison
from siteplan.pipeline import run
from tests.cities import write_mini_city

NTG = Decimal("0.8")
AREA = {"public_rental": 47, "price_capped": 83}
LABEL = {"public_rental": "公共租赁住房", "price_capped": "限价商品住房"}

SCENARIO = """
[plan]
name = "odd"
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
unit_area_m2 = 47
targets = [TARGETS]

[types.price_capped]
unit_area_m2 = 83
targets = [131, 173]

[rules.plot_ratio]
upper_for = ["public_rental"]

[rules.project_size]
min_units = 50
max_units = 700

[solver]
time_limit_s = 30
"""

FAR_MAX = [2.35, 1.85, 2.6, 2.15, 2.45, 1.95, 2.8, 2.25]
FAR_UPPER = [3.15, np.nan, 3.4, np.nan, 2.9, np.nan, np.nan, 3.05]
HEIGHT = [53.7, 61.3, 47.9, 58.1, 49.3, 66.7, 44.9, 57.3]


def _odd_city(folder, targets: str):
    scenario = write_mini_city(folder)
    p = gpd.read_file(folder / "parcels.gpkg")
    x0, y0 = 500_000.0, 3_990_000.0
    p["geometry"] = [shapely.box(x0 + i * 300, y0, x0 + i * 300 + 97.1, y0 + h) for i, h in enumerate(HEIGHT)]
    p["far_max"], p["far_upper"] = FAR_MAX, FAR_UPPER
    p["available_year"] = 2016
    p.to_file(folder / "parcels.gpkg", engine="pyogrio")
    scenario.write_text(SCENARIO.replace("TARGETS", targets), encoding="utf-8")
    return scenario


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("figures")
    a = _odd_city(base / "a", "611, 437")
    b = _odd_city(base / "b", "587, 463")
    run(a, out_dir=base / "out-a")
    run(b, out_dir=base / "out-b")
    cmp_files = write_comparison(base / "out-a", base / "out-b", base / "cmp")
    return base / "out-a", base / "out-b", cmp_files, base / "a"


def q(x) -> Decimal:
    return Decimal(f"{float(x):.9f}").quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def _far_used(parcels: pd.DataFrame, pid: str, t: str) -> float:
    row = parcels.loc[pid]
    up = row["far_upper"]
    return float(up) if t == "public_rental" and np.isfinite(up) and up > row["far_max"] else float(row["far_max"])


def expected(out, city) -> dict:
    """Every figure recomputed from the layers and the units of allocation.csv, with the stated rule."""
    parcels = gpd.read_file(city / "parcels.gpkg").set_index("parcel_id")
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})
    alloc["floor"] = alloc["units"] * alloc["type"].map(AREA)
    alloc["net"] = [f / _far_used(parcels, p, t) / 10_000 for f, p, t in zip(alloc["floor"], alloc["parcel_id"], alloc["type"])]
    cells = {}
    for (y, t), part in alloc.groupby(["year", "type"]):
        net = q(part["net"].sum())
        cells[(y, t)] = {"units": int(part["units"].sum()), "floor": q(part["floor"].sum() / 10_000), "net": net,
                         "gross": q(net / NTG)}
    years = {}
    for y in sorted(alloc["year"].unique()):
        mine = [v for (yy, _), v in cells.items() if yy == y]
        years[y] = {k: sum((v[k] for v in mine), Decimal(0) if k != "units" else 0) for k in ("units", "floor", "net", "gross")}
    grand = {k: sum((v[k] for v in years.values()), Decimal(0) if k != "units" else 0) for k in ("units", "floor", "net", "gross")}
    return {"cells": cells, "years": years, "grand": grand, "alloc": alloc, "parcels": parcels}


def _sheet(ws) -> pd.DataFrame:
    """A one-header-row sheet as a frame, without the note under the table (nor a year sheet's sentence above it)."""
    head = 3 if ws.cell(row=3, column=1).value in ("类型", "片区") else 2
    rows = [r for r in ws.iter_rows(min_row=head + 1, values_only=True) if r[0] is not None and not str(r[0]).startswith("注：")]
    return pd.DataFrame(rows, columns=[c.value for c in ws[head]])


def _d(x) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"))


def test_every_file_prints_the_same_figures(runs):
    out, _, cmp_files, city = runs
    exp = expected(out, city)
    wb = openpyxl.load_workbook(out / "land_supply.xlsx")
    ls = pd.read_csv(out / "land_supply.csv", encoding="utf-8-sig")
    n_checked = 0
    for y, tot in exp["years"].items():
        sheet = _sheet(wb[f"{y}年"]).set_index("类型")
        ycsv = pd.read_csv(out / f"land_supply_{y}.csv", encoding="utf-8-sig").set_index("类型")
        long = ls.loc[ls["year"] == y].set_index("type")
        for t in AREA:
            c = exp["cells"].get((y, t))
            if c is None:
                continue
            for table in (sheet, ycsv):
                row = table.loc[LABEL[t]]
                assert (int(row["套数（套）"]), _d(row["建筑面积（万m²）"]), _d(row["净用地面积（公顷）"]), _d(row["毛用地面积（公顷）"])) \
                    == (c["units"], c["floor"], c["net"], c["gross"]), (y, t)
            r = long.loc[t]
            assert (int(r["units"]), _d(r["floor_area_10k_m2"]), _d(r["net_land_ha"]), _d(r["gross_land_ha"])) \
                == (c["units"], c["floor"], c["net"], c["gross"]), (y, t)
            n_checked += 1
        for row in (sheet.loc["合计"], ycsv.loc["合计"]):
            assert (int(row["套数（套）"]), _d(row["建筑面积（万m²）"]), _d(row["净用地面积（公顷）"]), _d(row["毛用地面积（公顷）"])) \
                == (tot["units"], tot["floor"], tot["net"], tot["gross"]), y
        r = long.loc["合计"]
        assert (int(r["units"]), _d(r["floor_area_10k_m2"]), _d(r["net_land_ha"]), _d(r["gross_land_ha"])) \
            == (tot["units"], tot["floor"], tot["net"], tot["gross"]), y
    assert n_checked >= 3

    g = exp["grand"]
    # 分区: the 合计 is the plan's total of the year tables; the districts add up to it
    for dist in (_sheet(wb["分区"]), pd.read_csv(out / "land_supply_districts.csv", encoding="utf-8-sig")):
        total = dist.loc[dist["片区"] == "合计"].iloc[0]
        assert (int(total["合计（套）"]), _d(total["建筑面积（万m²）"]), _d(total["净用地面积（公顷）"]), _d(total["毛用地面积（公顷）"])) \
            == (g["units"], g["floor"], g["net"], g["gross"])
        body = dist.loc[~dist["行政区"].isin(["小计", ""]) & (dist["片区"] != "合计")]
        assert sum(_d(v) for v in body["净用地面积（公顷）"]) == g["net"]
        # each district within 0.01 ha of its own net land recomputed from the layers
        al = exp["alloc"]
        for _, row in body.iterrows():
            own = al.loc[al["district"] == row["行政区"], "net"].sum()
            assert abs(_d(row["净用地面积（公顷）"]) - q(own)) <= Decimal("0.01"), row["行政区"]

    # 规划期: each year's and the period's floor area
    period = pd.read_csv(out / "land_supply_period.csv", encoding="utf-8-sig").set_index("项目")
    for y, tot in exp["years"].items():
        assert _d(period.loc["合计", f"{y}年面积（万m²）"]) == tot["floor"]
        for t in AREA:
            if (y, t) in exp["cells"]:
                assert _d(period.loc[LABEL[t], f"{y}年面积（万m²）"]) == exp["cells"][(y, t)]["floor"]
    assert _d(period.loc["合计", "2016-2017年面积（万m²）"]) == g["floor"]

    # report.html: the land table
    html = (out / "report.html").read_text(encoding="utf-8")
    for y, tot in exp["years"].items():
        cells = [f"{tot['units']:,}", f"{tot['floor']:,.2f}", f"{tot['net']:,.2f}", f"{tot['gross']:,.2f}"]
        assert re.search(rf"<td[^>]*>{y}</td>" + "".join(rf"<td[^>]*>{re.escape(c)}</td>" for c in cells), html), (y, cells)
    cells = [f"{g['units']:,}", f"{g['floor']:,.2f}", f"{g['net']:,.2f}", f"{g['gross']:,.2f}"]
    assert re.search(r"<td[^>]*>合计</td>" + "".join(rf"<td[^>]*>{re.escape(c)}</td>" for c in cells), html), cells

    # differences.xlsx and compare_land.csv: A's years and total are the same figures
    land = _sheet(openpyxl.load_workbook(cmp_files["differences.xlsx"])["用地对比"]).set_index("年份")
    land_csv = pd.read_csv(cmp_files["compare_land.csv"], encoding="utf-8-sig", dtype={"年份": str}).set_index("年份")
    for table in (land, land_csv):
        for y, tot in exp["years"].items():
            assert (_d(table.loc[str(y), "A净用地面积（公顷）"]), _d(table.loc[str(y), "A毛用地面积（公顷）"])) == (tot["net"], tot["gross"])
        assert (_d(table.loc["合计", "A净用地面积（公顷）"]), _d(table.loc["合计", "A毛用地面积（公顷）"])) == (g["net"], g["gross"])


def test_parcel_figures_agree_in_csv_geojson_gpkg_and_map(runs):
    out, _, cmp_files, city = runs
    exp = expected(out, city)
    al = exp["alloc"]
    # allocation.csv rows: printed once from full precision; gross from the printed net
    assert [_d(v) for v in al["net_land_ha"]] == [q(v) for v in al["net"]]
    assert [_d(v) for v in al["gross_land_ha"]] == [q(q(v) / NTG) for v in al["net"]]
    per = al.groupby("parcel_id").agg(floor=("floor", "sum"), net=("net", "sum"))
    per["gross"] = [q(q(v) / NTG) for v in per["net"]]
    geo = gpd.read_file(out / "allocation.geojson").set_index("parcel_id")
    gpkg = gpd.read_file(out / "plan.gpkg", layer="allocation").set_index("parcel_id")
    page = (out / "map.html").read_text(encoding="utf-8")
    popups = {f["properties"]["parcel_id"]: f["properties"] for f in _map_features(page) if "far_used_text" in f["properties"]}
    parcels_cmp = _sheet(openpyxl.load_workbook(cmp_files["differences.xlsx"])["地块对比"]).set_index("地块编号")
    assert set(popups) == set(per.index) == set(geo.index) == set(gpkg.index)
    for pid, r in per.iterrows():
        want = (round(r["floor"]), q(r["net"]), r["gross"])
        for src in (geo.loc[pid], gpkg.loc[pid], popups[pid]):
            assert (round(float(src["floor_area_m2"])), _d(src["net_land_ha"]), _d(src["gross_land_ha"])) == want, pid
        if pid in parcels_cmp.index and parcels_cmp.loc[pid, "A毛用地面积（公顷）"] is not None:
            assert _d(parcels_cmp.loc[pid, "A毛用地面积（公顷）"]) == r["gross"], pid


def _map_features(page: str) -> list[dict]:
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(r'\{"bbox"|\{"features"|\{"type": "FeatureCollection"', page):
        try:
            doc, _ = dec.raw_decode(page, m.start())
        except ValueError:
            continue
        out.extend(doc.get("features", []))
    return out


def test_plot_ratio_used_is_shown_and_never_exceeded(runs):
    out, _, _, city = runs
    exp = expected(out, city)
    parcels, al = exp["parcels"], exp["alloc"]
    page = (out / "map.html").read_text(encoding="utf-8")
    popups = {f["properties"]["parcel_id"]: f["properties"] for f in _map_features(page) if "far_used_text" in f["properties"]}
    geo = gpd.read_file(out / "allocation.geojson").set_index("parcel_id")
    gpkg = gpd.read_file(out / "plan.gpkg", layer="allocation").set_index("parcel_id")
    used_upper = 0
    for pid, part in al.groupby("parcel_id"):
        fars = {t: _far_used(parcels, pid, t) for t in part["type"]}
        want = max(fars.values())
        upper = sorted(t for t in fars if fars[t] > parcels.loc[pid, "far_max"])
        used_upper += bool(upper)
        area = parcels.loc[pid].geometry.area  # from the layer, not siteplan's numbers
        pop = popups[pid]
        shown = float(pop["far_used_text"])
        assert shown == pytest.approx(want, abs=1e-9), pid
        floor = float(pop["floor_area_m2"])
        assert floor <= area * shown * (1 + 1e-12), (pid, floor, area, shown)
        labels = {LABEL[t] for t in upper}
        assert (set(pop["far_upper_label"].split("、")) if upper else {pop["far_upper_label"]}) == (labels or {"-"}), pid
        for src in (geo.loc[pid], gpkg.loc[pid]):
            assert float(src["far_used"]) == pytest.approx(want) and sorted(filter(None, str(src["far_upper_types"] or "").split(","))) == upper
        # allocation.csv: each row's own plot ratio
        for _, row in part.iterrows():
            assert float(row["far_used"]) == pytest.approx(fars[row["type"]])
            assert (row["far_upper_types"] if isinstance(row["far_upper_types"], str) else "") == \
                (row["type"] if fars[row["type"]] > parcels.loc[pid, "far_max"] else "")
    assert used_upper >= 1, "the test city should make public rental use far_upper somewhere"


def test_shapefile_field_map_names_the_plot_ratio_used():
    from siteplan.outputs.export import FIELD_LABELS
    from siteplan.outputs.shapefile import shapefile_field_names

    names = shapefile_field_names(["far_used", "far_upper_types", "far_upper", "far_max"])
    assert names["far_used"] == "FAR_USED" and names["far_upper_types"] == "FAR_UP_TYP"
    assert all(len(v.encode()) <= 10 for v in names.values()) and len(set(names.values())) == 4
    assert FIELD_LABELS["far_used"] == "采用容积率"


def test_compare_marks_same_only_when_every_planned_field_is_unchanged(runs, tmp_path):
    out_a, _, _, _ = runs
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out_a, copy)
    _, _, tables = compare_runs(out_a, copy)
    assert set(tables["parcels"]["change"]) == {"same"}  # a run against its own copy
    # Change only the gross land of one parcel, as the issue saw (3.78 -> 3.75 ha).
    doc = json.loads((copy / "allocation.geojson").read_text(encoding="utf-8"))
    pid = doc["features"][0]["properties"]["parcel_id"]
    doc["features"][0]["properties"]["gross_land_ha"] -= 0.03
    (copy / "allocation.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    _, _, tables = compare_runs(out_a, copy)
    p = tables["parcels"].set_index("parcel_id")
    assert p.loc[pid, "change"] == "gross"
    assert (p.drop(index=pid)["change"] == "same").all()
    # and the plot ratio used
    doc["features"][0]["properties"]["gross_land_ha"] += 0.03
    doc["features"][1]["properties"]["far_used"] += 0.5
    (copy / "allocation.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    _, _, tables = compare_runs(out_a, copy)
    p = tables["parcels"].set_index("parcel_id")
    assert p.loc[doc["features"][1]["properties"]["parcel_id"], "change"] == "far"
    assert p.loc[pid, "change"] == "same"
    files = write_comparison(out_a, copy, tmp_path / "cmp")
    sheet = _sheet(openpyxl.load_workbook(files["differences.xlsx"])["地块对比"]).set_index("地块编号")
    assert sheet.loc[doc["features"][1]["properties"]["parcel_id"], "变化"] == "采用容积率"
