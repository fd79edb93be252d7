"""End to end on the hand-made mini city: files, their formats, and every rule
recomputed independently (tests/plancheck.py)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest

from siteplan.pipeline import run
from tests.plancheck import check_plan


@pytest.fixture
def mini_run(mini_city, tmp_path):
    out = tmp_path / "out"
    result = run(mini_city, out_dir=out)
    return mini_city, out, result


def test_all_outputs_are_written(mini_run):
    _, out, _ = mini_run
    names = {p.name for p in out.iterdir()}
    assert {"allocation.csv", "land_supply.csv", "allocation.geojson", "map.html", "run.json", "compliance.csv", "shortfall.csv"} <= names
    assert not list(out.parent.glob(".out.partial-*"))


def test_rules_hold_when_recomputed_from_the_raw_layers(mini_run):
    scenario, out, _ = mini_run
    figures = check_plan(scenario, out)
    assert figures["units"] == 1000


def test_geojson_is_rfc7946(mini_run):
    _, out, _ = mini_run
    doc = json.loads((out / "allocation.geojson").read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")
    assert len(doc["features"]) == alloc["parcel_id"].nunique()
    xs = [c[0] for f in doc["features"] for c in f["geometry"]["coordinates"][0]]
    assert all(119 < x < 121 for x in xs)  # lon/lat, not Gauss-Kruger metres
    props = doc["features"][0]["properties"]
    assert {"parcel_id", "year", "units", "units_public_rental", "floor_area_m2", "net_land_ha", "gross_land_ha"} <= set(props)
    gdf = gpd.read_file(out / "allocation.geojson")
    assert gdf.crs.to_epsg() == 4326


def test_land_supply_csv_adds_up(mini_run):
    _, out, _ = mini_run
    ls = pd.read_csv(out / "land_supply.csv", encoding="utf-8-sig")
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")
    assert list(ls.columns) == ["year", "type", "units", "floor_area_m2", "floor_area_10k_m2", "plot_ratio", "net_land_ha", "gross_land_ha"]
    total = ls.loc[ls["type"] == "合计"].set_index("year")
    assert total["units"].to_dict() == alloc.groupby("year")["units"].sum().to_dict()
    assert (total["floor_area_10k_m2"] * 10_000).round(2).tolist() == total["floor_area_m2"].round(2).tolist()
    assert total["gross_land_ha"].round(4).tolist() == (total["net_land_ha"] / 0.8).round(4).tolist()
    assert (total["plot_ratio"] - 2.0).abs().max() < 1e-6  # every mini parcel has plot ratio 2


def test_run_json_records_the_solve(mini_run):
    _, out, result = mini_run
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert rec["scenario"] == "mini" and len(rec["scenario_sha256"]) == 64
    assert rec["solver"]["solver"] == "highs" and rec["solver"]["status"] == "Optimal"
    assert rec["placed_units"] == rec["targets_units"] == 1000
    assert "highspy" in rec["versions"]


def test_map_has_parcels_and_layers(mini_run):
    _, out, result = mini_run
    html = (out / "map.html").read_text(encoding="utf-8")
    for pid in result.plan.units["parcel_id"].unique():
        assert pid in html
    for text in ("2016年供地", "地铁站点", "甲站"):  # raw, or \u-escaped inside JSON
        assert text in html or json.dumps(text)[1:-1] in html, text


def test_two_runs_give_identical_tables(mini_city, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(mini_city, out_dir=a)
    run(mini_city, out_dir=b)
    for name in ("allocation.csv", "land_supply.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_failed_run_keeps_previous_outputs(mini_city, tmp_path, monkeypatch):
    out = tmp_path / "out"
    run(mini_city, out_dir=out)
    before = (out / "allocation.csv").read_bytes()
    import siteplan.pipeline as pl

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pl, "render_map", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        run(mini_city, out_dir=out)
    assert (out / "allocation.csv").read_bytes() == before
    assert not list(tmp_path.glob(".out.partial-*"))
