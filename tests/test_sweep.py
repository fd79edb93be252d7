"""Tests for siteplan.sweep: --vary parsing, variant grids, and a sweep on a Dask LocalCluster."""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import tomllib

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from siteplan.cli import app
from siteplan.errors import ScenarioError, SiteplanError
from siteplan.sweep import BATCH_COLUMNS, Vary, parse_vary, run_batch, run_sweep, variants


def test_parse_vary_reads_toml_values():
    assert parse_vary("rules.transit.share=0.5,0.7") == Vary("rules.transit.share", (0.5, 0.7))
    assert parse_vary("rules.services.enabled=true,false").values == (True, False)
    assert parse_vary('solver.name="highs","cbc"').values == ("highs", "cbc")
    assert parse_vary("rules.yearly_targets.mode=exact,at_least").values == ("exact", "at_least")
    assert parse_vary("targets=0.9, 1, 1.1").values == (0.9, 1, 1.1)


@pytest.mark.parametrize("spec, says", [
    ("rules.transit.share", "write KEY=V1,V2"),
    ("=0.5", "write KEY=V1,V2"),
    ("rules..share=0.5", "not a dotted key"),
    ("targets=-1", "scale factors"),
    ("targets=high", "scale factors"),
    ("rules.transit.share=0.5,[1", "is not a value"),
])
def test_parse_vary_errors_say_the_fix(spec, says):
    with pytest.raises(ScenarioError, match="--vary") as err:
        parse_vary(spec)
    assert says in str(err.value)


def _data(mini_city):
    return tomllib.loads(mini_city.read_text(encoding="utf-8"))


def test_variants_are_the_grid_and_scale_targets(mini_city):
    data = _data(mini_city)
    found = variants(data, [parse_vary("targets=0.5,1.5"), parse_vary("rules.transit.share=0.2,0.4,0.6")],
                     base_dir=mini_city.parent, where="s.toml")
    assert [v.name for v in found] == ["v01", "v02", "v03", "v04", "v05", "v06"]
    assert {(v.settings["targets"], v.settings["rules.transit.share"]) for v in found} == {
        (t, s) for t in (0.5, 1.5) for s in (0.2, 0.4, 0.6)}
    first = found[0]
    assert first.data["plan"]["name"] == "mini-v01"
    assert first.data["types"]["public_rental"]["targets"] == [300, 200]  # 600, 400 x 0.5
    assert first.data["zones"]["东区"] == 150  # zone targets scale with them
    assert first.data["rules"]["transit"]["share"] == 0.2
    assert data["types"]["public_rental"]["targets"] == [600, 400]  # the base is left as it was
    # a key the base lacks is created
    made = variants(data, [parse_vary("rules.services.share=0.3")], base_dir=mini_city.parent, where="s.toml")
    assert made[0].data["rules"]["services"]["share"] == 0.3


def test_a_bad_variant_fails_before_any_work_and_names_itself(mini_city):
    with pytest.raises(ScenarioError) as err:
        variants(_data(mini_city), [parse_vary("rules.transit.share=0.5,1.5")], base_dir=mini_city.parent, where="s.toml")
    assert "variant v02: rules.transit.share=1.5" in str(err.value)
    with pytest.raises(ScenarioError, match="did you mean 'share'"):
        variants(_data(mini_city), [parse_vary("rules.transit.shar=0.5")], base_dir=mini_city.parent, where="s.toml")
    with pytest.raises(ScenarioError, match="names a key twice"):
        variants(_data(mini_city), [parse_vary("targets=1"), parse_vary("targets=2")], base_dir=mini_city.parent, where="s")


def test_sweep_on_a_local_cluster(mini_city, tmp_path):
    out = tmp_path / "sweep"
    said, counts = [], []
    table, folder = run_sweep(mini_city, [parse_vary("targets=0.5,1.0")], out_dir=out, workers=2, progress=said.append,
                              finished=lambda done, total, row: counts.append((done, total, row and row["variant"])))
    assert folder == out
    # the variants are counted as each finishes, in the order they finish, and each gets a line
    assert counts[0] == (0, 2, None) and [c[:2] for c in counts[1:]] == [(1, 2), (2, 2)]
    assert sorted(c[2] for c in counts[1:]) == ["mini-v01", "mini-v02"]
    finished = [line for line in said if line.startswith("Finished")]
    assert len(finished) == 2 and all(f"({k} of 2)" in line for k, line in zip((1, 2), finished))
    assert list(table["variant"]) == ["mini-v01", "mini-v02"]
    assert (table["status"] != "error").all(), table["error"].tolist()
    base = _data(mini_city)["types"]["public_rental"]["targets"]
    for k, factor in ((1, 0.5), (2, 1.0)):
        alloc = pd.read_csv(out / f"v{k:02d}" / "allocation.csv", encoding="utf-8-sig")
        # recomputed from the variant's own allocation: each year's units are the scaled target
        placed = alloc.groupby("year")["units"].sum()
        assert placed.to_dict() == {2016: round(base[0] * factor), 2017: round(base[1] * factor)}
        assert (out / f"v{k:02d}" / "map.html").is_file() and (out / f"v{k:02d}" / "run.json").is_file()
    written = pd.read_csv(out / "sweep.csv", encoding="utf-8-sig")
    assert list(written["targets"]) == [0.5, 1.0]
    assert list(written["placed_units"]) == [500, 1000]
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no partial files left


def test_sweep_without_dask_names_the_install(mini_city, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith(("dask", "distributed")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(SiteplanError, match=r'pip install "siteplan\[dask\]"'):
        run_sweep(mini_city, [parse_vary("targets=1")], out_dir=tmp_path / "s")


def test_sweep_cli_errors_are_one_line(mini_city, tmp_path):
    res = CliRunner().invoke(app, ["sweep", str(mini_city), "--vary", "rules.transit.shar=0.5", "--out", str(tmp_path / "s")])
    assert res.exit_code == 2
    assert "did you mean 'share'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "s").exists()  # nothing is written for a sweep that cannot start


def _second_city(tmp_path, *, name: str, targets: str):
    """The mini city again in its own folder, with its own plan name and targets."""
    from tests.cities import MINI_SCENARIO, write_mini_city

    text = MINI_SCENARIO.replace('name = "mini"', f'name = "{name}"').replace("targets = [600, 400]", f"targets = {targets}")
    return write_mini_city(tmp_path / name, scenario=text)


def test_batch_plans_each_city_on_a_local_cluster(mini_city, tmp_path):
    other = _second_city(tmp_path, name="second", targets="[300, 500]")
    out = tmp_path / "batch"
    table, folder = run_batch([mini_city, other], out_dir=out, workers=2)
    assert folder == out
    assert list(table["variant"]) == ["mini", "second"] and list(table["scenario"]) == [str(mini_city), str(other)]
    assert (table["status"] != "error").all(), table["error"].tolist()
    _check_batch_folder(out, mini_city, other)


def _check_batch_folder(out, mini_city, other) -> None:
    """The batch folder of the mini city and :func:`_second_city` ``second`` (targets 300, 500), checked from
    each city's own scenario and layers."""
    for scenario_file, name in ((mini_city, "mini"), (other, "second")):
        data = tomllib.loads(scenario_file.read_text(encoding="utf-8"))
        alloc = pd.read_csv(out / name / "allocation.csv", encoding="utf-8-sig")
        # recomputed from each city's own scenario and layers: its yearly targets, and the plot ratio
        targets = data["types"]["public_rental"]["targets"]
        assert alloc.groupby("year")["units"].sum().to_dict() == {2016: targets[0], 2017: targets[1]}
        parcels = gpd.read_file(scenario_file.parent / data["layers"]["parcels"]).set_index("parcel_id")
        floor = alloc.groupby("parcel_id")["units"].sum() * data["types"]["public_rental"]["unit_area_m2"]
        assert (floor <= parcels.loc[floor.index].area * parcels.loc[floor.index, "far_max"] + 1e-6).all()
        run = json.loads((out / name / "run.json").read_text(encoding="utf-8"))
        assert run["scenario"] == name and run["scenario_file"] == str(scenario_file.resolve())
    written = pd.read_csv(out / "batch.csv", encoding="utf-8-sig")
    assert list(written.columns) == BATCH_COLUMNS
    assert list(written["placed_units"]) == [1000, 800] and list(written["target_units"]) == [1000, 800]
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no partial files left


def test_batch_command_plans_each_city_on_workers_forked_from_it(mini_city, tmp_path):
    # the command as a planner types it, in a process of its own: on Linux its workers are forks of it
    other = _second_city(tmp_path, name="second", targets="[300, 500]")
    out = tmp_path / "batch"
    res = subprocess.run([sys.executable, "-m", "siteplan", "batch", str(mini_city), str(other), "--workers", "2",
                          "--out", str(out)], capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "80"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Finished mini" in res.stdout and "Finished second" in res.stdout and "Traceback" not in res.stderr
    _check_batch_folder(out, mini_city, other)


def test_batch_and_sweep_commands_fork_their_workers_unless_told_not_to(mini_city, tmp_path, monkeypatch):
    import siteplan.sweep as sweep_module

    asked = []

    def stop(*args, fork_workers, **kwargs):
        asked.append(fork_workers)
        raise ScenarioError("stopped before any work")

    monkeypatch.setattr(sweep_module, "run_batch", stop)
    monkeypatch.setattr(sweep_module, "run_sweep", stop)
    for env in ({"SITEPLAN_FORK_WORKERS": None}, {"SITEPLAN_FORK_WORKERS": "0"}, {"SITEPLAN_FORK_WORKERS": "off"}):
        for command in (["batch", str(mini_city)], ["sweep", str(mini_city), "--vary", "targets=1.0"]):
            res = CliRunner().invoke(app, [*command, "--out", str(tmp_path / "o")], env=env)
            assert res.exit_code == 2 and "stopped before any work" in res.output
    assert asked == [True, True, False, False, False, False]
    from siteplan.progress import switched_off

    assert not switched_off(sweep_module.FORK_ENV, {"SITEPLAN_FORK_WORKERS": "1"})
    assert switched_off(sweep_module.FORK_ENV, {"SITEPLAN_FORK_WORKERS": "No "})


def test_a_forked_worker_logs_plain_lines_with_the_commands_levels_and_filters(monkeypatch):
    import io
    import logging

    from rich.logging import RichHandler

    from siteplan import sweep

    root = logging.getLogger()
    rich = RichHandler(level=logging.WARNING)
    only = logging.Filter("siteplan")
    rich.addFilter(only)
    monkeypatch.setattr(root, "handlers", [rich])
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # as the progress display redirects it
    monkeypatch.setattr(sys, "stderr", sys.stderr)  # put back after the test
    sweep._plain_streams_in_child()
    assert sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__
    (plain,) = root.handlers
    assert type(plain) is logging.StreamHandler and plain.stream is sys.__stderr__
    assert plain.level == logging.WARNING and plain.filters == [only]


#: Run as a script of its own (a fresh process, as the command line is): the value a module-level name set
#: before the cluster starts has in each worker, for a cluster whose workers are forked and one whose are not.
FORK_PROBE = """
import json
import siteplan
from siteplan import sweep

def probe():
    import siteplan
    return getattr(siteplan, "_set_before_the_cluster", False)

if __name__ == "__main__":
    siteplan._set_before_the_cluster = True
    seen = {}
    for fork in (True, False):
        client, cluster = sweep._client(None, 2, fork=fork)
        try:
            seen[str(fork)] = sorted(client.run(probe).values())
        finally:
            client.close()
            cluster.close()
    print(json.dumps(seen))
"""


def test_local_workers_are_forks_only_where_asked_and_possible(tmp_path, monkeypatch):
    from siteplan import sweep

    script = tmp_path / "probe.py"
    script.write_text(FORK_PROBE, encoding="utf-8")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    forked = sweep._can_fork()
    assert forked == sys.platform.startswith("linux")
    assert seen == {"True": [forked, forked], "False": [False, False]}
    monkeypatch.setattr(sys, "platform", "darwin")  # fork is not safe under macOS's system libraries
    assert not sweep._can_fork()


def test_batch_refuses_clashing_plans_before_any_work(mini_city, tmp_path):
    twin = _second_city(tmp_path, name="mini", targets="[300, 500]")
    out = tmp_path / "batch"
    with pytest.raises(ScenarioError) as err:
        run_batch([mini_city, twin], out_dir=out)
    assert str(twin) in str(err.value) and str(mini_city) in str(err.value) and "give each scenario its own [plan] name" in str(err.value)
    with pytest.raises(ScenarioError, match="named twice"):
        run_batch([mini_city, mini_city], out_dir=out)
    assert not out.exists()


def test_batch_cli_names_the_bad_file_in_one_line(mini_city, tmp_path):
    bad = _second_city(tmp_path, name="bad", targets="[300, 500]")
    bad.write_text(bad.read_text(encoding="utf-8").replace("share = 0.5", "share = 1.5"), encoding="utf-8")
    res = CliRunner().invoke(app, ["batch", str(mini_city), str(bad), "--out", str(tmp_path / "b")])
    assert res.exit_code == 2
    assert "rules.transit.share" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "b").exists()


def test_output_bins_share_the_writing_time_and_keep_the_workbook_with_its_csv_copies():
    from siteplan.sweep import OUTPUT_SECONDS, _output_bins

    names = ["allocation.csv", "map.html", "land_supply.xlsx", "land_supply_2016.csv", "land_supply_period.csv",
             "report.html", "plan.docx", "plan.gpkg", "run.json", "land_supply.csv"]
    for k in (1, 2, 3, 20):
        bins = _output_bins(names, k)
        assert sorted(i for b in bins for i in b) == list(range(len(names)))  # every file once
        assert len(bins) == min(k, 8)  # 8 families: the workbook's CSV copies go with it
        home = {names[i]: n for n, b in enumerate(bins) for i in b}
        assert home["land_supply_2016.csv"] == home["land_supply_period.csv"] == home["land_supply.xlsx"]
    # two workers: the two groups' times within the largest file's of each other, neither 60% of the whole
    seconds = [sum(OUTPUT_SECONDS.get(names[i], 0.05) for i in b) for b in _output_bins(names, 2)]
    assert max(seconds) - min(seconds) <= max(OUTPUT_SECONDS.values())
    assert max(seconds) < 0.6 * sum(seconds)


def test_files_written_on_the_workers_are_all_there_or_none_is(tmp_path):
    """write_outputs with the batch's runner: each job runs once on some worker; a failing one
    fails the whole, after the others ended, and the previous outputs stay."""
    import time

    from dask.distributed import Client, LocalCluster

    from siteplan.outputs.export import write_outputs
    from siteplan.sweep import _outputs_on_workers

    def slow(p):  # as the map does: it makes its folder, should it be missing
        time.sleep(0.5)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("slow", encoding="utf-8")

    good = {"map.html": lambda p: p.write_text("m", encoding="utf-8"), "report.html": slow,
            "land_supply.xlsx": lambda p: p.write_text("x", encoding="utf-8"),
            "land_supply_2016.csv": lambda p: p.write_text("c", encoding="utf-8")}
    out = tmp_path / "plan"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, scheduler_kwargs={"dashboard": False}) as cluster, \
            Client(cluster) as client:
        written = client.submit(write_outputs, out, good, run_jobs=_outputs_on_workers, pure=False).result()
        assert sorted(written) == sorted(good)
        assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()} == {
            "map.html": "m", "report.html": "slow", "land_supply.xlsx": "x", "land_supply_2016.csv": "c"}

        def fails(p):
            raise OSError(28, "No space left on device")

        bad = {**good, "map.html": fails}  # the map goes first, alone: it fails while the report still sleeps
        with pytest.raises(Exception, match="No space left|cannot write"):
            client.submit(write_outputs, out, bad, run_jobs=_outputs_on_workers, pure=False).result()
    time.sleep(0.7)  # a job still running would write after the failure
    assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}["map.html"] == "m"  # the previous outputs
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]  # no staging folder left behind


def test_files_written_in_groups_on_the_workers_are_the_bytes_one_process_writes(mini_city, tmp_path, monkeypatch):
    """The same plan written by write_plan here and through the batch's runner on two worker
    processes: every file, run.json included, the same bytes."""
    from dask.distributed import Client, LocalCluster

    from siteplan.inputs.scenario import load_scenario
    from siteplan.pipeline import plan_from_scenario, write_plan
    from siteplan.sweep import _outputs_on_workers
    from tests.outputs.test_reproducible import _same_files

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # one date for both, in the workers too
    scenario = load_scenario(mini_city)
    plan, layers = plan_from_scenario(scenario)
    write_plan(plan, layers, scenario, tmp_path / "here")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, scheduler_kwargs={"dashboard": False}) as cluster, \
            Client(cluster) as client:
        client.submit(write_plan, plan, layers, scenario, tmp_path / "workers", run_jobs=_outputs_on_workers,
                      pure=False).result()
    assert len(list((tmp_path / "here").iterdir())) >= 15  # the map, the report, the workbook and its copies, ...
    _same_files(tmp_path / "here", tmp_path / "workers", except_run_json=False)
