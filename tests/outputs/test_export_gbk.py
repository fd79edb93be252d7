"""Text GBK cannot hold (𠮷, U+20BB7) in a ``--shapefile`` run: every output written, the shapefile with
that character replaced and the replacement listed, the run exiting 1; and the modes of the outputs.

The expected values are taken from the raw parcel layer, not from siteplan's tables.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from siteplan.cli import app
from siteplan.outputs import export
from siteplan.outputs.shapefile import write_shapefiles

runner = CliRunner()
RARE = "\U00020BB7"  # 𠮷: in GB18030, not in GBK


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def name_parcel(scenario: Path, parcel_id: str, name: str) -> gpd.GeoDataFrame:
    """Rename one parcel of the mini city on disk; return the raw parcel layer."""
    path = scenario.parent / "parcels.gpkg"
    raw = gpd.read_file(path, engine="pyogrio")
    raw.loc[raw["parcel_id"] == parcel_id, "name"] = name
    raw.to_file(path, engine="pyogrio")
    return raw


def text(res) -> str:
    return " ".join(res.output.split())


def test_rare_character_is_replaced_in_the_shapefile_and_the_run_still_writes_everything(mini_city, tmp_path, umask_022):
    original = f"{RARE}祥家园"
    raw = name_parcel(mini_city, "P0", original).set_index("parcel_id")
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(out), "--shapefile"])
    assert res.exit_code == 1, res.output  # warnings, not a lost run
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # typer.Exit(1), not an uncaught error
    assert "Traceback" not in res.output
    for name in ("allocation.csv", "plan.gpkg", "map.html", "run.json", "land_supply.xlsx", "report.html"):
        assert (out / name).is_file(), name

    # plan.gpkg keeps the text as it is.
    cand_gpkg = gpd.read_file(out / "plan.gpkg", layer="candidates", engine="pyogrio").set_index("parcel_id")
    assert cand_gpkg.loc["P0", "name"] == original

    # The shapefile, read as a GIS reads it (GBK), holds every name of the raw layer, 𠮷 replaced by □ only.
    folder = out / "shapefile"
    assert (folder / "candidates.cpg").read_text(encoding="ascii").strip().upper() == "GBK"
    cand = pyogrio.read_dataframe(folder / "candidates.shp", encoding="GBK").set_index("PARCEL_ID")
    expected = raw["name"].str.replace(RARE, "\u25a1", regex=False)
    assert cand["NAME"].to_dict() == expected.loc[cand.index].to_dict()
    assert cand.loc["P0", "NAME"] == "\u25a1祥家园"
    assert (cand.drop(index="P0")["NAME"] == raw.loc[cand.index.drop("P0"), "name"]).all()  # the others untouched

    used = set(pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")["parcel_id"])
    alloc = pyogrio.read_dataframe(folder / "allocation.shp", encoding="GBK").set_index("PARCEL_ID")
    assert set(alloc.index) == used
    replaced_layers = {"candidates"} | ({"allocation"} if "P0" in used else set())
    if "P0" in used:
        assert alloc.loc["P0", "NAME"] == "\u25a1祥家园"

    # The warning names the feature, the field and the original value; so does fields.csv.
    said = text(res)
    assert "warning:" in said
    for layer in replaced_layers:
        assert f"{layer}.shp feature P0 field name: '{original}' -> '\u25a1祥家园'" in said
    fields = pd.read_csv(folder / "fields.csv", encoding="utf-8-sig", keep_default_na=False)
    listed = fields.loc[fields["replaced"] != ""]
    assert set(zip(listed["layer"], listed["full_name"])) == {(layer, "name") for layer in replaced_layers}
    assert set(listed["replaced"]) == {f"P0: {original} -> \u25a1祥家园"}

    # Under umask 022 the outputs are drwxr-xr-x and -rw-r--r--, staging folders gone.
    modes = {p.relative_to(tmp_path): stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob("*")]}
    assert {m for p, m in modes.items() if (tmp_path / p).is_dir()} == {0o755}, modes
    assert {m for p, m in modes.items() if (tmp_path / p).is_file()} == {0o644}, modes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city", "out"]


def test_shapefiles_of_clean_text_list_no_replacement(mini_city, tmp_path):
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(tmp_path / "out"), "--shapefile"])
    assert res.exit_code == 0, res.output
    fields = pd.read_csv(tmp_path / "out" / "shapefile" / "fields.csv", encoding="utf-8-sig", keep_default_na=False)
    assert (fields["replaced"] == "").all()
    assert "warning:" not in res.output


def test_write_shapefiles_replaces_other_layers_text_by_feature_number(mini_city, tmp_path, caplog):
    from siteplan.pipeline import run

    result = run(mini_city, out_dir=tmp_path / "o")
    layers = result.layers
    bad = layers.districts.copy()
    bad.loc[1, "district"] = "西城区\U0001F3E0"  # an emoji: in neither GBK nor a district name
    layers = type(layers)(**{**layers.__dict__, "districts": bad})
    with caplog.at_level("WARNING", logger="siteplan"):
        write_shapefiles(result.plan, layers, result.scenario, tmp_path / "shp")
    got = pyogrio.read_dataframe(tmp_path / "shp" / "districts.shp", encoding="GBK")
    assert list(got["DISTRICT"]) == [bad.loc[0, "district"], "西城区\u25a1"]
    assert "districts.shp feature #2 field district: '西城区\U0001F3E0' -> '西城区\u25a1'" in caplog.text
    # Collected instead of logged when the caller asks, as siteplan run does.
    caplog.clear()
    found: list[str] = []
    write_shapefiles(result.plan, layers, result.scenario, tmp_path / "shp2", output_warnings=found)
    assert len(found) == 1 and "feature #2" in found[0] and "feature #2" not in caplog.text


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_output_folder_follows_the_umask(tmp_path, mask):
    def sub(p: Path) -> None:
        p.mkdir()
        (p / "x.csv").write_text("a\n")

    old = os.umask(mask)
    try:
        files = export.write_outputs(tmp_path / "out", {"a.txt": lambda p: p.write_text("a"), "shapefile": sub})
    finally:
        os.umask(old)
    out = files["a.txt"].parent
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((out / "shapefile").stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((out / "a.txt").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((out / "shapefile" / "x.csv").stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left
