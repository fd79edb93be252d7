from __future__ import annotations

from typer.testing import CliRunner

from siteplan.cli import app

runner = CliRunner()


def test_run_prints_summary_and_writes_outputs(mini_city, tmp_path):
    out = tmp_path / "cli-out"
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # tables wrap on narrow terminals
    assert "Targets and placed units" in text and "Units by zone" in text
    assert "Optimal" in text
    assert (out / "map.html").is_file() and (out / "allocation.csv").is_file()
    assert not (out / "shapefile").exists()  # only with --shapefile


def test_bad_scenario_gives_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[plan]\nname = "x"\nfirst_year = 2016\nlast_year = 2017\ncolour = "red"\n', encoding="utf-8")
    res = runner.invoke(app, ["run", str(bad)])
    assert res.exit_code == 2
    assert "plan.colour: unknown key" in res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_bad_layer_gives_a_message_not_a_traceback(mini_city, tmp_path):
    (mini_city.parent / "districts.gpkg").unlink()
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "districts.gpkg: the districts layer file does not exist; check [layers] districts" in res.output
    assert not (tmp_path / "o").exists()


def test_english_map_labels(mini_city, tmp_path):
    out = tmp_path / "en"
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "Supplied 2016" in (out / "map.html").read_text(encoding="utf-8")


def test_shapefile_option_writes_gbk_shapefiles(mini_city, tmp_path):
    out = tmp_path / "shp-out"
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(out), "--shapefile"])
    assert res.exit_code == 0, res.output
    folder = out / "shapefile"
    shps = {p.stem for p in folder.glob("*.shp")}
    assert {"allocation", "candidates", "districts", "stations", "lines"} <= shps
    for stem in shps:
        assert (folder / f"{stem}.cpg").read_text(encoding="ascii").strip().upper() == "GBK", stem
    assert "东城区".encode("gbk") in (folder / "districts.dbf").read_bytes()
    assert (folder / "fields.csv").is_file()



def test_scenario_map_section_chooses_gaode_tiles_and_exports_stay_wgs84(tmp_path):
    import geopandas as gpd

    from tests.cities import MINI_SCENARIO, write_mini_city

    scenario = write_mini_city(tmp_path / "city", scenario=MINI_SCENARIO + '\n[map]\ntiles = "gaode"\n')
    out = tmp_path / "gaode"
    res = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "https://webrd0{s}.is.autonavi.com/appmaptile" in (out / "map.html").read_text(encoding="utf-8")
    # Exports are in WGS84 (GeoJSON) and the working CRS (GeoPackage), never GCJ-02:
    # they sit exactly on the source parcels, while GCJ-02 would move them by hundreds of metres.
    raw = gpd.read_file(tmp_path / "city" / "parcels.gpkg").set_index("parcel_id")
    gj = gpd.read_file(out / "allocation.geojson").set_index("parcel_id")
    assert gj.crs.to_epsg() == 4326 and len(gj)
    moved = gj.to_crs(4549).geometry.hausdorff_distance(raw.loc[gj.index].geometry, align=False)
    assert (moved < 0.5).all(), moved  # metres (coordinates are rounded); GCJ-02 is some 470 m off here
    gp = gpd.read_file(out / "plan.gpkg", layer="allocation").set_index("parcel_id")
    assert gp.crs.to_epsg() == 4549
    assert (gp.geometry.centroid.distance(raw.loc[gp.index].geometry.centroid) < 0.01).all()  # metres
    # --tiles overrides the scenario's choice.
    over = tmp_path / "none"
    res = runner.invoke(app, ["run", str(scenario), "--out", str(over), "--tiles", "none"])
    assert res.exit_code == 0, res.output
    assert "autonavi" not in (over / "map.html").read_text(encoding="utf-8")


def test_unknown_tiles_are_named_in_the_scenario_and_on_the_command_line(mini_city, tmp_path, monkeypatch):
    from tests.cities import MINI_SCENARIO

    mini_city.write_text(MINI_SCENARIO + '\n[map]\ntiles = "google"\n', encoding="utf-8")
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(tmp_path / "a")])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "map.tiles: unknown map tiles 'google'; use one of 'none', 'osm', 'tianditu', 'gaode'" in text
    mini_city.write_text(MINI_SCENARIO + '\n[map]\ntile = "osm"\n', encoding="utf-8")
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "map.tile: unknown key; did you mean 'tiles'?" in " ".join(res.output.split())
    mini_city.write_text(MINI_SCENARIO, encoding="utf-8")
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(tmp_path / "c"), "--tiles", "bing"])
    text = " ".join(res.output.replace("│", " ").split())  # click draws the message in a box
    assert res.exit_code == 2 and "--tiles" in text and "unknown map tiles 'bing'; use none, osm, tianditu or gaode" in text
    # Tianditu without a key fails before the solve, naming both places a key can come from.
    for var in ("SITEPLAN_TIANDITU_KEY", "TIANDITU_KEY"):
        monkeypatch.delenv(var, raising=False)
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(tmp_path / "d"), "--tiles", "tianditu"])
    assert res.exit_code == 2 and "Solving" not in res.output
    assert "[map] tianditu_key" in res.output and "SITEPLAN_TIANDITU_KEY" in res.output
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_run_shows_each_rule_warning_once(mini_city, tmp_path):
    # 2,500 units in 2016 need 125,000 m2 of floor area; the six parcels
    # available by then hold 120,000: a warning, then a plan with shortfall.
    mini_city.write_text(mini_city.read_text(encoding="utf-8").replace("targets = [600, 400]", "targets = [2500, 400]"), encoding="utf-8")
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert text.count("by 2016 the targets need 125,000 m2 of floor area") == 1, text
    run = (tmp_path / "o" / "run.json").read_text(encoding="utf-8")
    assert "by 2016 the targets need 125,000 m2" in run  # still recorded with the plan
