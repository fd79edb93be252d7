"""``siteplan check``: the demo is clean, a broken copy of it lists every fault with its fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from siteplan.check import check, format_report
from siteplan.cli import app
from tests.badinputs import mini_city_copy

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "demo-2016-2020.toml"

runner = CliRunner()


def output_of(res) -> str:
    return " ".join(res.output.split())  # no wrapping surprises


@pytest.fixture(scope="module")
def demo_report():
    return check(DEMO)


def test_demo_layers_are_clean(demo_report):
    """Every layer of the demo reads without an error, a repair or a warning."""
    layers = demo_report.layers
    assert layers is not None and layers.layers is not None
    assert [str(d) for d in layers.diagnostics if d.level != "note"] == []
    assert set(layers.info) == {"parcels", "districts", "stations", "lines", "services", "parks", "constraints", "population"}
    assert layers.info["parcels"].features == 3000 and layers.info["parcels"].geometry_types == {"Polygon": 3000}
    cap = demo_report.capacity
    assert cap is not None and len(cap.by_district) == 11
    assert (cap.by_district[2020] >= cap.by_district[2016]).all()  # cumulative by year
    assert cap.targets[2020] == 50_000


def test_demo_check_is_clean():
    res = runner.invoke(app, ["check", str(DEMO)])
    assert res.exit_code == 0, res.output


def test_demo_check_report_shows_each_part(demo_report):
    text = format_report(demo_report, base=ROOT)
    for part in ("Layers", "layers/parcels.gpkg", "GPKG", "UTF-8", "EPSG:4549", "Polygon 3,000",
                 "Capacity against targets", "北湾区", "targets", "Capacity against zone targets", "Result:"):
        assert part in text, part


def test_exit_codes(tmp_path, tmp_path_factory):
    clean = mini_city_copy(tmp_path / "clean", tmp_path_factory.getbasetemp())
    res = runner.invoke(app, ["check", str(clean)])
    assert res.exit_code == 0, res.output
    assert "Result: clean (exit code 0)" in res.output

    warned = mini_city_copy(tmp_path / "warned", tmp_path_factory.getbasetemp())
    p = gpd.read_file(warned.parent / "parcels.gpkg")
    p.loc[3, "available_year"] = 2030
    p.to_file(warned.parent / "parcels.gpkg")
    res = runner.invoke(app, ["check", str(warned)])
    assert res.exit_code == 1, res.output
    assert "become available after 2017" in output_of(res)

    broken = mini_city_copy(tmp_path / "broken", tmp_path_factory.getbasetemp())
    (broken.parent / "lines.gpkg").unlink()
    res = runner.invoke(app, ["check", str(broken)])
    assert res.exit_code == 2
    assert "lines.gpkg: the lines layer file does not exist" in output_of(res)
    assert "Traceback" not in res.output

    res = runner.invoke(app, ["check", str(tmp_path / "nowhere.toml")])
    assert res.exit_code == 2 and "scenario file not found" in output_of(res)


def test_capacity_short_of_targets_is_a_warning(tmp_path, tmp_path_factory):
    scen = mini_city_copy(tmp_path / "city", tmp_path_factory.getbasetemp())
    text = scen.read_text(encoding="utf-8").replace("targets = [600, 400]", "targets = [3000, 3000]")
    scen.write_text(text, encoding="utf-8")
    report = check(scen)
    assert report.exit_code == 1
    msgs = [d.message for d in report.of_level("warning")]
    assert any("the targets need" in m and "a run returns the best plan" in m for m in msgs), msgs
    assert "!" in format_report(report)  # the 'all' row is marked short


# -- a broken copy of the demo ---------------------------------------------------------------

FAULTS = {
    # fault: phrases its report line must hold (what is wrong, where, and the fix)
    "misspelt scenario key": ("rules.transit.withinm: unknown key", "did you mean 'within_m'"),
    "duplicate parcel id": ("{dup} occurs more than once", "give each parcel its own id"),
    "plot ratio not a number": ("field 'far_max' (plot ratio) must be a number", "parcel_id {far}", "'高'", "write a number"),
    "unknown district": ("parcel_id {dist}", "'临空' -> '临空区'?", "Correct field 'district'"),
    "invalid polygon": ("repaired 1 invalid polygon(s) with make_valid", "parcel_id {bow}"),
    "available after the plan": ("become available after 2020", "parcel_id {late}"),
    "overlapping parcels": ("1 pair(s) of parcels overlap", "{ov_a} and {ov_b}", "double-counted"),
    "stations without CRS": ("stations.gpkg", "the stations layer has no CRS", "[layers.crs] stations"),
    "services field renamed": ("services.gpkg", "required field 'category' is missing", '[fields.services] category = "类别"'),
    "parks in Xi'an 80": ("parks.gpkg", "Xian 1980", '[layers.crs] parks = "EPSG:4549"'),
}


@pytest.fixture(scope="module")
def broken_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken-demo")
    shutil.copytree(ROOT / "layers", root / "layers")
    (root / "scenarios").mkdir()
    scen = root / "scenarios" / "demo.toml"
    text = DEMO.read_text(encoding="utf-8")
    transit = text.index("[rules.transit]")
    text = text[:transit] + text[transit:].replace("within_m = 800", "withinm = 800", 1)
    scen.write_text(text, encoding="utf-8")
    lay = root / "layers"

    p = gpd.read_file(lay / "parcels.gpkg")
    ids = {}
    ids["dup"] = p.loc[0, "parcel_id"]
    p.loc[1, "parcel_id"] = ids["dup"]
    p["far_max"] = [f"{v:g}" for v in p["far_max"]]
    cand = [i for i in p.index[p["status"] == "reserve"] if i > 6]  # only candidates need a plot ratio and a year
    p.loc[cand[0], "far_max"] = "高"
    ids["far"] = p.loc[cand[0], "parcel_id"]
    row = p.index[p["district"] == "临空区"][0]
    p.loc[row, "district"] = "临空"
    ids["dist"] = p.loc[row, "parcel_id"]
    x0, y0, x1, y1 = p.geometry[3].bounds
    p.loc[3, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    ids["bow"] = p.loc[3, "parcel_id"]
    p.loc[cand[1], "available_year"] = 2030
    ids["late"] = p.loc[cand[1], "parcel_id"]
    p.loc[6, "geometry"] = p.geometry[5]
    ids["ov_a"], ids["ov_b"] = p.loc[5, "parcel_id"], p.loc[6, "parcel_id"]
    p.to_file(lay / "parcels.gpkg")

    st = gpd.read_file(lay / "stations.gpkg").set_crs(None, allow_override=True)
    (lay / "stations.gpkg").unlink()
    st.to_file(lay / "stations.gpkg")
    sv = gpd.read_file(lay / "services.gpkg").rename(columns={"category": "类别"})
    (lay / "services.gpkg").unlink()
    sv.to_file(lay / "services.gpkg")
    pk = gpd.read_file(lay / "parks.gpkg").to_crs("EPSG:2385")
    (lay / "parks.gpkg").unlink()
    pk.to_file(lay / "parks.gpkg")
    return scen, ids


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_broken_demo_lists_every_fault_with_its_fix(broken_demo):
    scen, ids = broken_demo
    res = runner.invoke(app, ["check", str(scen)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    lines = [" ".join(line.split()) for line in res.output.splitlines()]
    for fault, phrases in FAULTS.items():
        wanted = [ph.format(**ids) for ph in phrases]
        assert any(all(w in line for w in wanted) for line in lines), (fault, wanted)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_broken_demo_run_stops_with_every_error_at_once(broken_demo):
    """siteplan run makes the same checks first: it stops, listing every error as siteplan check does."""
    scen, ids = broken_demo
    check_lines = [line for line in runner.invoke(app, ["check", str(scen)]).output.splitlines()]
    errors = check_lines[check_lines.index(next(x for x in check_lines if x.startswith("Errors"))):]
    errors = errors[:errors.index("")]
    res = runner.invoke(app, ["run", str(scen), "--out", str(scen.parent / "out")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = res.output.splitlines()
    for line in errors:  # the same lines, in the same format
        assert line in lines, line
    text = output_of(res)
    for phrase in ("withinm", "occurs more than once", "'高'", "'临空' -> '临空区'?",
                   "stations layer has no CRS", "required field 'category' is missing"):
        assert phrase in text, phrase
    assert "Warnings:" in text and "become available after 2020" in text  # warnings printed too
    assert "error(s) found before solving" in text and "Solving" not in text
    assert not (scen.parent / "out").exists()


def test_run_prints_check_warnings_and_goes_on(tmp_path, tmp_path_factory):
    scen = mini_city_copy(tmp_path / "city", tmp_path_factory.getbasetemp())
    p = gpd.read_file(scen.parent / "parcels.gpkg")
    p.loc[3, "available_year"] = 2030
    p.to_file(scen.parent / "parcels.gpkg")
    res = runner.invoke(app, ["run", str(scen), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    text = output_of(res)
    assert "Warnings: 1" in text and "1 parcel(s) become available after 2017" in text and "parcel_id P3" in text
    assert (tmp_path / "out" / "allocation.csv").is_file()


def test_shares_that_cannot_add_up_stop_check_and_run(tmp_path, tmp_path_factory):
    """A rule finding no plan can meet is an error with its fix, in check and in run alike."""
    from tests.badinputs import add_to_scenario

    scen = mini_city_copy(tmp_path / "city", tmp_path_factory.getbasetemp())
    add_to_scenario(scen, "rules.district_share", "min_share = 0.6\nmax_share = 0.9")
    wanted = ("[rules] district_share: 2 districts x min_share 60% is more than the whole plan; the minimum shares "
              "cannot add up: lower [rules.district_share] min_share below 1/2 = 0.5 (it is 0.6)")
    res = runner.invoke(app, ["check", str(scen)])
    assert res.exit_code == 2, res.output
    assert wanted in output_of(res)
    res = runner.invoke(app, ["run", str(scen), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert wanted in output_of(res) and "Solving" not in res.output
    assert not (tmp_path / "out").exists()


def test_pipeline_run_raises_check_error_with_the_report(tmp_path, tmp_path_factory):
    from siteplan.check import CheckError
    from siteplan.pipeline import run

    scen = mini_city_copy(tmp_path / "city", tmp_path_factory.getbasetemp())
    (scen.parent / "lines.gpkg").unlink()
    scen.write_text(scen.read_text(encoding="utf-8").replace("within_m = 800", "withinm = 800"), encoding="utf-8")
    with pytest.raises(CheckError) as raised:
        run(scen, out_dir=tmp_path / "out")
    msgs = [str(d) for d in raised.value.report.of_level("error")]
    assert any("withinm" in m for m in msgs) and any("lines.gpkg: the lines layer file does not exist" in m for m in msgs)
    assert "2 error(s) found before solving" in str(raised.value) and "withinm" in str(raised.value)


# -- faults that used to hide each other ------------------------------------------------------

INTERACTING = {
    # fault: phrases its report line must hold (what is wrong, where, and the fix)
    "required column renamed": ("parcels.gpkg", "required field 'available_year' is missing", "Did you mean 'GYNF'",
                                '[fields.parcels] available_year = "GYNF"'),
    "duplicate id beside it": ("parcels.gpkg", "{dup} occurs more than once", "give each parcel its own id"),
    "negative plot ratio beside it": ("parcels.gpkg", "parcel_id {neg} has -1;", "write each parcel's plot-ratio cap"),
    "districts without CRS": ("districts.gpkg", "the districts layer has no CRS", '[layers.crs] districts = "EPSG:4549"'),
    "district typo behind it": ("parcels.gpkg", "parcel_id {dist}", "'临空' -> '临空区'?", "Correct field 'district'"),
}


@pytest.fixture(scope="module")
def interacting_demo(tmp_path_factory):
    """A copy of the demo whose faults sit behind one another: each used to hide the next."""
    root = tmp_path_factory.mktemp("interacting-demo")
    shutil.copytree(ROOT / "layers", root / "layers")
    lay = root / "layers"
    p = gpd.read_file(lay / "parcels.gpkg")
    neg = next(i for i in p.index[p["status"] == "reserve"] if i > 1)  # only candidates need a plot ratio
    ids = {"dup": p.loc[0, "parcel_id"], "neg": p.loc[neg, "parcel_id"]}
    p.loc[1, "parcel_id"] = ids["dup"]
    p.loc[neg, "far_max"] = -1.0
    row = p.index[p["district"] == "临空区"][0]
    p.loc[row, "district"] = "临空"
    ids["dist"] = p.loc[row, "parcel_id"]
    (lay / "parcels.gpkg").unlink()
    p.rename(columns={"available_year": "GYNF"}).to_file(lay / "parcels.gpkg")
    d = gpd.read_file(lay / "districts.gpkg").set_crs(None, allow_override=True)
    (lay / "districts.gpkg").unlink()
    d.to_file(lay / "districts.gpkg")
    (root / "scenarios").mkdir()
    text = DEMO.read_text(encoding="utf-8")  # the relative ../layers paths hold in the copy
    gbk = root / "scenarios" / "demo-gbk.toml"
    gbk.write_bytes(text.encode("gbk"))  # its Chinese title is not UTF-8 now
    cross = root / "scenarios" / "demo-cross.toml"
    text = text.replace("unit_area_m2 = 45\ntargets = [4000", "unit_area_m2 = 75\ntargets = [4000", 1)
    text = text.replace('upper_for = ["public_rental"]', 'upper_for = ["public_rental", "dormitory"]', 1)
    cross.write_text(text, encoding="utf-8")
    return root, ids


def report_lines(res) -> list[str]:
    return [" ".join(line.split()) for line in res.output.splitlines()]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("scenario, scenario_faults", [
    ("demo-gbk.toml", {"scenario not UTF-8": ("demo-gbk.toml", "not UTF-8", "Save As, Encoding: UTF-8")}),
    ("demo-cross.toml", {
        "both listed under the file": ("demo-cross.toml: 2 problem(s) in the scenario",),
        "unit size above cap": ("types.public_rental.unit_area_m2 = 75 m2 is above the policy cap",
                                "lower it or set allow_oversize = true"),
        "undefined type beside it": ("rules.plot_ratio.upper_for names ['dormitory']", "define them or remove them"),
    }),
])
def test_interacting_faults_are_all_listed(interacting_demo, scenario, scenario_faults):
    """Each fault is reported although another sits in the same layer, the layer it refers to, or the scenario."""
    root, ids = interacting_demo
    res = runner.invoke(app, ["check", str(root / "scenarios" / scenario)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "unexpected problem" not in res.output
    lines = report_lines(res)
    for fault, phrases in {**INTERACTING, **scenario_faults}.items():
        wanted = [ph.format(**ids) for ph in phrases]
        assert any(all(w in line for w in wanted) for line in lines), (fault, wanted, res.output)


def test_layer_table_fits_the_terminal(demo_report):
    """At 80 columns the layer table goes to two lines per layer rather than rows the terminal would wrap."""
    wide = format_report(demo_report, base=ROOT)
    narrow = format_report(demo_report, base=ROOT, width=80)
    assert max(len(line) for line in wide.splitlines() if line.startswith("  parcels")) > 80  # the one-line table is wider
    layer_lines = narrow.split("\nLayers\n")[1].split("\n\n")[0].splitlines()
    assert all(len(line) <= 80 for line in layer_lines), layer_lines
    assert "  parcels      layers/parcels.gpkg" in layer_lines
    assert "GPKG, UTF-8, EPSG:4549, Polygon 3,000" in narrow  # what was read, under the file
