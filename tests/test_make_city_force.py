"""``siteplan make-city`` and ``python -m siteplan.synth`` refuse to overwrite a city's layers without ``--force``."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
from typer.testing import CliRunner

from siteplan.cli import app

runner = CliRunner()


def old_layers(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("parcels.gpkg", "population.tif"):
        (folder / name).write_bytes(b"the bureau's own layer")
    (folder / "notes.txt").write_text("kept")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_make_city_refuses_the_default_layers_folder_without_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = old_layers(tmp_path / "layers")
    res = runner.invoke(app, ["make-city", "--parcels", "500"])
    text = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "layers already holds a city's layers (parcels.gpkg, population.tif)" in text
    assert "--force" in text and "--out" in text
    assert {p.name: p.read_bytes() for p in (tmp_path / "layers").iterdir()} == before


def test_make_city_force_overwrites_and_an_empty_folder_needs_no_force(tmp_path):
    res = runner.invoke(app, ["make-city", "--out", str(tmp_path / "new"), "--parcels", "500", "--seed", "5"])
    assert res.exit_code == 0, res.output
    old_layers(tmp_path / "city")
    res = runner.invoke(app, ["make-city", "--out", str(tmp_path / "city"), "--parcels", "500", "--seed", "5", "--force"])
    assert res.exit_code == 0, res.output
    assert len(gpd.read_file(tmp_path / "city" / "parcels.gpkg")) == 500
    assert (tmp_path / "city" / "parcels.gpkg").read_bytes() == (tmp_path / "new" / "parcels.gpkg").read_bytes()
    assert (tmp_path / "city" / "notes.txt").read_text() == "kept"


def test_python_m_synth_refuses_without_force(tmp_path):
    before = old_layers(tmp_path / "layers")
    res = subprocess.run([sys.executable, "-m", "siteplan.synth", "--parcels", "500"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "error: layers already holds a city's layers (parcels.gpkg, population.tif)" in res.stderr
    assert "add --force to overwrite them" in res.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "layers").iterdir()} == before


def test_python_m_synth_force_overwrites(tmp_path):
    from siteplan import synth

    old_layers(tmp_path / "layers")
    assert synth.main(["--out", str(tmp_path / "layers"), "--parcels", "500", "--seed", "5"]) == 2
    assert (tmp_path / "layers" / "parcels.gpkg").read_bytes() == b"the bureau's own layer"
    assert synth.main(["--out", str(tmp_path / "layers"), "--parcels", "500", "--seed", "5", "--force"]) == 0
    assert len(gpd.read_file(tmp_path / "layers" / "parcels.gpkg")) == 500
