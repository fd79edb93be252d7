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

