"""``siteplan init``: roles and fields guessed from a bureau folder, one commented line each, TODOs that check points at."""

from __future__ import annotations

import tomllib

import geopandas as gpd
import shapely
from typer.testing import CliRunner

import siteplan
from siteplan.cli import app
from siteplan.init import init_scenario
from tests.bureau_kit import CUMULATIVE, write_bureau_kit

runner = CliRunner()


def test_kit_roles_fields_and_options_are_guessed(tmp_path):
    folder = write_bureau_kit(tmp_path / "kit")
    result = init_scenario(folder)
    data = tomllib.loads(result.text)
    assert data["layers"]["parcels"] == "控规地块.shp"
    assert data["layers"]["districts"] == "区县.shp"
    assert data["layers"]["stations"] == "地铁站点.geojson"
    assert data["layers"]["lines"] == "地铁线路.shp"
    # GBK detected where no .cpg says so (the parcels), not where the .cpg does.
    assert data["layers"]["encoding"] == {"parcels": "GBK"}
    assert data["fields"]["parcels"]["parcel_id"] == "地块编号"
    assert data["fields"]["parcels"]["land_use"] == "用地代码"
    assert data["fields"]["parcels"]["far_max"] == "容积率"
    assert data["fields"]["districts"] == {"district": "区县名称"}
    assert data["fields"]["stations"]["station"] == "站名"
    assert data["plan"]["first_year"] == 2024 and data["plan"]["last_year"] == 2026
    assert data["plan"]["candidate_land_use"] == ["R2"]
    assert data["targets"] == {"file": "保障房目标.xlsx", "mode": "cumulative"}
    assert set(data["types"]) == {"affordable_rental", "public_rental"}
    assert data["zone_districts"] == {"望海区": ["望海区"], "滨海区": ["滨海区"]}
    # Every guess is one line with its reason; the codes found are listed with counts.
    assert '控规地块.shp"   # polygons, 30 features, name contains 地块' in result.text
    assert "R2 二类居住用地 12" in result.text
    assert '# stations = "gcj02"' in result.text  # a lon/lat layer: the datum line to uncomment
    assert result.todos == ["[zone_districts]"]


def test_written_scenario_loads_and_reads_the_cumulative_table(tmp_path):
    folder = write_bureau_kit(tmp_path / "kit")
    out = init_scenario(folder).path
    s = siteplan.load_scenario(out)
    yearly = {label: [b - a for a, b in zip([0, *v], v)] for label, v in CUMULATIVE.items()}
    assert s.types["affordable_rental"].targets == yearly["保障性租赁住房"] == [300, 400, 300]
    assert s.types["public_rental"].targets == yearly["公租房"]
    assert s.layers.parcels == (folder / "控规地块.shp").resolve()
    assert s.outputs.land_table == "standard"
    # the [outputs] block is written commented out: uncommented, as a planner would, it loads
    text = out.read_text(encoding="utf-8")
    for line in ("[outputs]", 'land_table = "handan"', "planning_far = 2.8"):
        text = text.replace(f"# {line}", line)
    out.write_text(text, encoding="utf-8")
    s = siteplan.load_scenario(out)
    assert (s.outputs.land_table, s.outputs.planning_far) == ("handan", 2.8)


def test_refuses_to_overwrite_without_force(tmp_path):
    folder = write_bureau_kit(tmp_path / "kit")
    first = runner.invoke(app, ["init", str(folder)])
    assert first.exit_code == 0, first.output
    assert "Left to do" in first.output and "[zone_districts]" in first.output
    (folder / "scenario.toml").write_text("# mine\n", encoding="utf-8")
    again = runner.invoke(app, ["init", str(folder)])
    assert again.exit_code == 2
    assert "exists already; pass --force" in again.output
    assert (folder / "scenario.toml").read_text(encoding="utf-8") == "# mine\n"
    assert runner.invoke(app, ["init", str(folder), "--force"]).exit_code == 0
    assert (folder / "scenario.toml").read_text(encoding="utf-8").startswith("# Scenario written by")


def _sparse_folder(tmp_path):
    """Parcels in a GeoPackage of two layers, districts, a Gaode station layer; no lines, no targets table."""
    folder = tmp_path / "sparse"
    folder.mkdir()
    x0, y0 = 500_000.0, 3_990_000.0
    parcels = gpd.GeoDataFrame({"DKBH": ["A1", "A2"], "YDXZ": ["二类居住用地", "商业用地"], "RJL": [2.0, 3.0],
                                "GYNF": [2024, 2025], "QXMC": ["甲区", "甲区"]},
                               geometry=[shapely.box(x0, y0, x0 + 100, y0 + 100), shapely.box(x0 + 200, y0, x0 + 300, y0 + 100)],
                               crs="EPSG:4549")
    parcels.to_file(folder / "规划.gpkg", layer="控规地块", engine="pyogrio")
    gpd.GeoDataFrame({"QXMC": ["甲区"], "PQ": ["东片"]}, geometry=[shapely.box(x0 - 50, y0 - 50, x0 + 400, y0 + 200)],
                     crs="EPSG:4549").to_file(folder / "规划.gpkg", layer="行政区", engine="pyogrio")
    gpd.GeoDataFrame({"ZDMC": ["甲站"], "KTNF": [2020]}, geometry=[shapely.Point(120.0, 36.0)],
                     crs="EPSG:4326").to_file(folder / "gaode_stations.geojson", engine="pyogrio")
    return folder


def test_multi_layer_gpkg_gaode_name_and_todos(tmp_path):
    folder = _sparse_folder(tmp_path)
    result = init_scenario(folder, tmp_path / "s.toml")
    data = tomllib.loads(result.text)
    assert data["layers"]["parcels"] == "sparse/规划.gpkg"
    assert data["layers"]["layer"] == {"parcels": "控规地块", "districts": "行政区"}
    assert data["layers"]["datum"] == {"stations": "gcj02"}
    assert data["layers"]["lines"] == "TODO"
    assert data["fields"]["parcels"] == {"parcel_id": "DKBH", "far_max": "RJL", "available_year": "GYNF",
                                         "district": "QXMC", "land_use": "YDXZ"}
    assert data["fields"]["districts"] == {"district": "QXMC", "zone": "PQ"}
    assert data["plan"]["candidate_land_use"] == ["R2"]  # 二类居住用地 is R2
    assert "zone_districts" not in data
    assert data["types"]["public_rental"]["targets"] == []
    assert result.todos[:2] == ["[plan] first_year / last_year", "[layers] lines"]
    assert "[types.public_rental] targets" in result.todos


def test_check_on_unfilled_todos_points_at_them_without_a_traceback(tmp_path):
    folder = _sparse_folder(tmp_path)
    out = init_scenario(folder).path
    res = runner.invoke(app, ["check", str(out)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    assert "types.public_rental.targets has 0 values" in res.output
    # Once filled as the comments say, the lines TODO is the one left.
    text = out.read_text(encoding="utf-8").replace("targets = []", "targets = [100, 100, 100, 100, 100]")
    out.write_text(text, encoding="utf-8")
    res = runner.invoke(app, ["check", str(out)])
    assert res.exit_code == 2
    assert "TODO" in res.output and "lines" in res.output
