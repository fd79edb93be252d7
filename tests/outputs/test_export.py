"""Desktop-GIS exports read back by GDAL's own reader, ``ogrinfo``.

plan.gpkg (working CRS, layers, QGIS styles in ``layer_styles``),
allocation.geojson (RFC 7946) and the optional GBK shapefiles are opened
with ``ogrinfo`` (gdal-bin) and checked for CRS, feature counts and Chinese
text; the counts are taken independently from the raw layer files and
allocation.csv. Skipped only when ogrinfo is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from siteplan.outputs.export import qml_style
from siteplan.outputs.shapefile import shapefile_field_names, write_shapefiles
from siteplan.pipeline import run, write_plan


def ogrinfo(*args: str) -> str:
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.skip("ogrinfo is not installed (CI installs it with apt-get install gdal-bin)")
    res = subprocess.run([exe, "-ro", *args], capture_output=True, check=True, timeout=60)
    return res.stdout.decode("utf-8")


def feature_count(text: str) -> int:
    return int(re.search(r"Feature Count: (\d+)", text).group(1))


def epsg(text: str) -> str | None:
    ids = re.findall(r'ID\["EPSG",(\d+)\]\]\s*$', text.split("Data axis")[0], re.M)
    return ids[-1] if ids else None


@pytest.fixture(scope="module")
def mini_out(tmp_path_factory):
    from tests.cities import write_mini_city

    folder = tmp_path_factory.mktemp("export")
    scenario = write_mini_city(folder / "city")
    out = folder / "out"
    result = run(scenario, out_dir=out)
    return scenario, out, result


def test_geopackage_layers_crs_counts_and_chinese_text(mini_out):
    scenario, out, _ = mini_out
    city = scenario.parent
    listing = ogrinfo(str(out / "plan.gpkg"))
    for name in ("allocation", "candidates", "districts", "stations", "lines", "parks", "services", "layer_styles"):
        assert re.search(rf"^\d+: {name}\b", listing, re.M), listing
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")
    raw = {k: gpd.read_file(city / f"{k}.gpkg") for k in ("parcels", "districts", "stations", "lines")}
    expected = {
        "allocation": alloc["parcel_id"].nunique(),
        # every mini parcel has status "reserve" and is available within the plan
        "candidates": int(((raw["parcels"]["status"] == "reserve") & (raw["parcels"]["available_year"] <= 2017)).sum()),
        "districts": len(raw["districts"]),
        "stations": len(raw["stations"]),
        "lines": len(raw["lines"]),
    }
    for name, count in expected.items():
        info = ogrinfo("-so", str(out / "plan.gpkg"), name)
        assert feature_count(info) == count, name
        assert epsg(info) == "4549", name  # the scenario's working CRS, CGCS2000 / 3-degree GK CM 120E
    text = ogrinfo("-q", str(out / "plan.gpkg"), "districts")
    assert "district (String) = 东城区" in text and "zone (String) = 西区" in text
    used_districts = set(alloc["district"])
    assert any(f"district (String) = {d}" in ogrinfo("-q", str(out / "plan.gpkg"), "allocation") for d in used_districts)


def test_geopackage_holds_default_qgis_styles(mini_out):
    _, out, result = mini_out
    sql = "SELECT f_table_name, f_table_schema, f_geometry_column, useAsDefault, styleQML FROM layer_styles"
    text = ogrinfo("-q", str(out / "plan.gpkg"), "-sql", sql)
    rows = re.findall(r"f_table_name \(String\) = (\w+)\s+f_table_schema \(String\) = (.*?)\s+f_geometry_column \(String\) = (\w+)\s+"
                      r"useAsDefault \(Integer\(Boolean\)\) = (\d)", text)
    styled = {r[0] for r in rows}
    assert {"allocation", "candidates", "districts", "stations", "lines"} <= styled
    assert all(r[1] == "" and r[3] == "1" for r in rows)  # QGIS looks up f_table_schema='' AND useAsDefault
    geom_col = re.search(r"Geometry Column = (\w+)", ogrinfo("-so", str(out / "plan.gpkg"), "allocation")).group(1)
    assert all(r[2] == geom_col for r in rows)
    # The allocation style: rules by role (new land, 配建), under each one rule per housing type, labelled in Chinese.
    import sqlite3

    with sqlite3.connect(out / "plan.gpkg") as db:
        qml = db.execute("SELECT styleQML FROM layer_styles WHERE f_table_name='allocation'").fetchone()[0]
    root = ET.fromstring(qml.split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "RuleRenderer"
    roles = renderer.find("rules").findall("rule")
    assert [r.get("filter") for r in roles] == ["\"role\" <> 'inclusionary'", "\"role\" = 'inclusionary'"]
    for r in roles:
        cats = {c.get("filter"): c.get("label") for c in r.findall("rule")}
        assert cats == {"\"main_type\" = 'public_rental'": "公共租赁住房"}
    assert {a.get("field"): a.get("name") for a in root.iter("alias")}["units"] == "套数"
    assert "units" in gpd.read_file(out / "plan.gpkg", layer="allocation").columns


def test_candidate_style_categories_occur_in_the_layer(mini_out):
    _, out, _ = mini_out
    import sqlite3

    with sqlite3.connect(out / "plan.gpkg") as db:
        qml = db.execute("SELECT styleQML FROM layer_styles WHERE f_table_name='candidates'").fetchone()[0]
    renderer = ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2")
    assert renderer.get("attr") == "used"
    styled = {c.get("value") for c in renderer.iter("category")}
    # As GDAL reads the field: an integer 0/1, not a Boolean.
    info = ogrinfo("-q", str(out / "plan.gpkg"), "candidates")
    types = set(re.findall(r"^\s+used \(([^)]+(?:\))?)\) = ", info, re.M))
    assert types == {"Integer"}, types
    values = set(re.findall(r"^\s+used \(Integer\) = (\S+)$", info, re.M))
    assert values == styled == {"0", "1"}
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")
    cand = gpd.read_file(out / "plan.gpkg", layer="candidates", engine="pyogrio")
    assert set(cand.loc[cand["used"] == 1, "parcel_id"]) == set(alloc["parcel_id"])


def test_geojson_is_read_as_wgs84(mini_out):
    _, out, _ = mini_out
    info = ogrinfo("-so", "-al", str(out / "allocation.geojson"))
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")
    assert feature_count(info) == alloc["parcel_id"].nunique()
    assert epsg(info) == "4326" or "WGS 84" in info
    # Chinese text survives as GDAL reads it: every used parcel's district and zone.
    text = ogrinfo("-q", "-al", str(out / "allocation.geojson"))
    got = sorted(re.findall(r"^\s+district \(String\) = (.+)$", text, re.M))
    assert got == sorted(alloc.groupby("parcel_id")["district"].first())
    assert set(re.findall(r"^\s+zone \(String\) = (.+)$", text, re.M)) == set(alloc["zone"])
    assert {"东城区", "西城区"} & set(got)


def test_shapefiles_gbk_short_names_and_alias_table(mini_out, tmp_path):
    _, out, result = mini_out
    paths = write_shapefiles(result.plan, result.layers, result.scenario, tmp_path / "shp")
    names = {p.name for p in paths}
    assert {"allocation.shp", "districts.shp", "stations.shp", "lines.shp", "candidates.shp", "fields.csv"} <= names
    shp = tmp_path / "shp"
    assert (shp / "allocation.cpg").read_text().strip().upper() == "GBK"
    dbf = (shp / "districts.dbf").read_bytes()
    assert "东城区".encode("gbk") in dbf and "东城区".encode("utf-8") not in dbf
    info = ogrinfo("-so", str(shp / "allocation.shp"), "allocation")
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")
    assert feature_count(info) == alloc["parcel_id"].nunique()
    assert epsg(info) == "4549"
    fields = re.findall(r"^(\w+): (?:String|Integer|Integer64|Real)", info, re.M)
    assert fields and all(len(f.encode()) <= 10 for f in fields)
    assert "U_PUBLIC_R" in fields
    assert "DISTRICT (String) = 东城区" in ogrinfo("-q", str(shp / "districts.shp"), "districts")
    aliases = pd.read_csv(shp / "fields.csv", encoding="utf-8-sig")
    alloc_alias = aliases.loc[aliases["layer"] == "allocation"].set_index("short_name")
    assert set(fields) == set(alloc_alias.index)
    assert alloc_alias.loc["U_PUBLIC_R", "full_name"] == "units_public_rental"
    assert alloc_alias.loc["U_PUBLIC_R", "label_zh"] == "公共租赁住房（套）"


# Text GBK cannot hold is replaced, not refused: tests/outputs/test_export_gbk.py.


def test_short_field_names_are_unique_and_ten_bytes():
    cols = ["units_public_rental", "units_public_rental_b", "units_price_capped", "score_2016", "station_m_2016",
            "a_very_long_custom_field", "a_very_long_custom_other", "name"]
    m = shapefile_field_names(cols)
    assert len(set(m.values())) == len(cols)
    assert all(len(v.encode("ascii")) <= 10 for v in m.values())
    assert m["score_2016"] == "SCORE_2016" and m["station_m_2016"] == "STN_M_2016" and m["name"] == "NAME"
    assert m["units_public_rental"] == "U_PUBLIC_R" and m["units_public_rental_b"] == "U_PUBLIC_1"


def test_qml_is_well_formed_and_escapes_values():
    qml = qml_style("fill", attr="zone", categories=[('<b>&"区', "x<y", "#112233")], label_field="district",
                    aliases={"zone": "片区<"})
    root = ET.fromstring(qml.split("\n", 1)[1])
    cat = next(root.iter("category"))
    assert cat.get("value") == '<b>&"区' and cat.get("label") == "x<y"
    assert root.get("labelsEnabled") == "1"
    colour = next(o for o in root.iter("Option") if o.get("name") == "color")
    assert colour.get("value") == "17,34,51,255"


def test_write_plan_writes_every_planner_output(mini_out, tmp_path):
    _, _, result = mini_out
    files = write_plan(result.plan, result.layers, result.scenario, tmp_path / "o", shapefile=True)
    names = set(files)
    assert {"plan.gpkg", "land_supply.xlsx", "land_supply_2016.csv", "land_supply_2017.csv", "land_supply_period.csv",
            "land_supply_districts.csv", "report.html", "map.html", "shapefile"} <= names
    assert (tmp_path / "o" / "shapefile" / "allocation.shp").is_file()
    assert not list(tmp_path.glob(".o.partial-*"))
