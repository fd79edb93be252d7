"""The Run page (step 4) and the Results page (step 5): runs asked from the app, followed, and their outputs served safely.

Runs solve the mini city for real (a few seconds each) in the workspace's
queue; results are checked against the files the run wrote, read here with
csv/pandas/openpyxl, and against ``siteplan.pipeline.run`` called directly.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import tomllib
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from siteplan.app.runs import FINAL_STATES, RunQueue
from siteplan.app.server import Workspace
from tests.app.conftest import make_client
from tests.cities import write_mini_city

XSS = "<script>alert(1)</script>"
REPO = Path(__file__).resolve().parents[2]
OVER = REPO / "scenarios" / "demo-2016-2020-overconstrained.toml"


def _start(client, **form) -> str:
    r = client.post("/run/start", data={"kind": "run", "alternatives": "1", **form})
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/run\?id=(\d{8}-\d{6}-\d{2})", r.headers["location"])
    assert m, r.headers["location"]
    return m.group(1)


def _wait(ws: Workspace, run_id: str, timeout: float = 180.0):
    job = ws.runs.wait(run_id, timeout=timeout)
    assert job is not None, f"run {run_id} did not end in {timeout} s"
    return job


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _live(root: Path, *, names: str | None = None) -> Workspace:
    scenario = write_mini_city(root / "city")
    if names is not None:  # every parcel named so, whichever the plan uses
        parcels = gpd.read_file(root / "city" / "parcels.gpkg", engine="pyogrio")
        parcels["name"] = names
        parcels.to_file(root / "city" / "parcels.gpkg", engine="pyogrio")
    return Workspace.open(root, scenario, start_queue=True)


def _close(ws: Workspace) -> None:
    for job in ws.runs.jobs():
        if job.state not in FINAL_STATES:
            ws.runs.cancel(job.id)
            ws.runs.wait(job.id, timeout=30)
    ws.runs.stop()


@pytest.fixture
def live_ws(tmp_path):
    """The mini city with its run queue started (runs solve)."""
    ws = _live(tmp_path)
    yield ws
    _close(ws)


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """One workspace, two finished runs of the mini city (A: one plan, B: two alternatives); parcels named with a script tag."""
    root = tmp_path_factory.mktemp("solved")
    ws = _live(root, names=XSS)
    client = make_client(ws)
    a = _start(client)
    _wait(ws, a)
    b = _start(client, alternatives="2")
    _wait(ws, b)
    yield ws, client, a, b
    _close(ws)


# ------------------------------------------------------------------------------------------ the Run page


def test_run_page_offers_the_starts_and_the_common_sweep_keys(client):
    r = client.get("/run")
    assert r.status_code == 200
    for needle in ('id="run-start"', 'id="run-alternatives"', 'id="sweep-key"', 'id="sweep-values"', 'id="sweep-start"',
                   'id="scenario-ok"', "rules.transit.within_m", "rules.radius_cap.max_units", "rules.project_size.max_units"):
        assert needle in r.text, needle
    assert 'id="run-start" disabled' not in r.text
    assert "运行方案" in client.get("/run").text and "Run the scenario" in client.get("/run?lang=en").text


def test_a_scenario_that_does_not_read_disables_the_start_and_names_the_fix(client, mini_ws):
    mini_ws.scenario.write_text(mini_ws.scenario.read_text(encoding="utf-8").replace("first_year = 2016", "first_year = 2019"),
                                encoding="utf-8")
    r = client.get("/run")
    assert 'id="scenario-problem"' in r.text and 'id="scenario-fix"' in r.text
    assert re.search(r'id="run-start"[^>]*disabled', r.text)
    assert client.post("/run/start", data={"kind": "run", "alternatives": "1"}).status_code == 400
    assert mini_ws.runs.jobs() == []


@pytest.mark.parametrize("k", ["0", "21", "x", "2.5"])
def test_alternatives_out_of_range_are_refused(client, mini_ws, k):
    r = client.post("/run/start", data={"kind": "run", "alternatives": k})
    assert r.status_code == 400 and 'id="run-error"' in r.text
    assert mini_ws.runs.jobs() == []


def test_alternatives_and_sweeps_are_queued_as_asked(client, mini_ws):
    run_id = _start(client, alternatives="3")
    record = json.loads((mini_ws.runs.runs_dir / run_id / "job.json").read_text(encoding="utf-8"))
    assert record["kind"] == "run" and record["alternatives"] == 3 and record["state"] == "queued"
    r = client.post("/run/start", data={"kind": "sweep", "sweep_key": "rules.transit.share", "sweep_values": "0.5, 0.6,0.7"})
    assert r.status_code == 303
    sweep = mini_ws.runs.jobs()[0]
    assert sweep.record["kind"] == "sweep" and sweep.record["vary"] == ["rules.transit.share=0.5, 0.6,0.7"]
    # the queue is not started here: both wait, the second behind the first
    view = client.get(f"/api/runs/{sweep.id}").json()
    assert view["state"] == "queued" and "前面还有 1 个" in view["state_text"]


@pytest.mark.parametrize("key,values", [("rules.transit.share", ""), ("", "0.5"), ("targets", "abc"), ("rules..share", "1")])
def test_a_bad_sweep_is_refused_with_parse_varys_words(client, mini_ws, key, values):
    r = client.post("/run/start", data={"kind": "sweep", "sweep_key": key, "sweep_values": values})
    assert r.status_code == 400
    assert 'id="run-error"' in r.text and "--vary" in r.text
    assert mini_ws.runs.jobs() == []


def test_unknown_runs_are_404_and_not_cancelled(client):
    assert client.get("/api/runs/x").status_code == 404
    assert client.get("/api/runs/20200101-000000-01").status_code == 404
    assert client.post("/run/20200101-000000-01/cancel").status_code == 404
    assert client.post("/run/..%2f..%2fetc/cancel").status_code in (403, 404)


def test_a_run_started_from_the_page_ends_done_and_reports_what_run_json_says(live_ws):
    client = make_client(live_ws)
    run_id = _start(client)
    seen_running = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        view = client.get(f"/api/runs/{run_id}").json()
        seen_running |= view["state"] == "running"
        if view["final"]:
            break
        time.sleep(0.3)
    assert view["state"] == "done", view
    run_json = json.loads((live_ws.runs.runs_dir / run_id / "out" / "run.json").read_text(encoding="utf-8"))
    st = run_json["status"]
    assert view["status"] == st["code"] and view["status_text"] == st["text_zh"]
    assert view["status_class"] == f"status-{st['code']}"
    assert f"{run_json['placed_units']:,}" in view["units_text"]
    assert view["gap_text"] == f"间隙 {st['gap'] * 100:.2f}%（上限 {st['gap_limit'] * 100:.2f}%）"
    texts = [e["text"] for e in view["events"]]
    assert "检查方案与图层" in texts and "建立模型" in texts and "写出成果" in texts and "求解完成" in texts
    assert all(e["elapsed"].endswith("s") for e in view["events"])
    assert view["command"].startswith("siteplan run ") and "--shapefile" in view["command"]
    en = client.get(f"/api/runs/{run_id}?lang=en").json()
    assert en["state_text"] == "done" and en["status_text"] == st["text_en"] and "Writing outputs" in [e["text"] for e in en["events"]]
    page = client.get(f"/run?id={run_id}").text
    assert 'id="run-cancel-form" hidden' in page and f'href="/results?id={run_id}"' in page
    listed = client.get("/api/runs").json()["runs"]
    assert [r["id"] for r in listed] == [run_id] and listed[0]["state"] == "done"
    # a restarted app (a new queue on the same folder) lists the run
    again = Workspace.open(live_ws.root, live_ws.scenario, start_queue=False)
    try:
        assert [j.id for j in again.runs.jobs()] == [run_id]
        assert f'id="run-row-{run_id}"' in make_client(again).get("/run").text
    finally:
        again.runs.stop()
    assert [j.id for j in RunQueue(live_ws.runs.runs_dir, start=False).jobs()] == [run_id]


def test_two_asked_at_once_queue_and_never_run_together(live_ws):
    client = make_client(live_ws)
    first = _start(client)
    second = _start(client)
    view = client.get(f"/api/runs/{second}").json()
    assert view["state"] == "queued" and view["state_text"].startswith("排队中")
    states = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        runs = {r["id"]: r["state"] for r in client.get("/api/runs").json()["runs"]}
        states.append(runs)
        assert list(runs.values()).count("running") <= 1, runs
        if all(s in FINAL_STATES for s in runs.values()):
            break
        time.sleep(0.2)
    assert states[-1] == {first: "done", second: "done"}
    assert any(s.get(first) == "running" and s.get(second) == "queued" for s in states)
    a, b = live_ws.runs.job(first), live_ws.runs.job(second)
    assert a.record["finished"] <= b.record["started"]


@pytest.mark.parametrize("ctrl_c", ["live", "ignored"])
def test_cancel_of_a_running_run_leaves_the_earlier_runs_outputs_untouched(live_ws, ctrl_c):
    """The cancel button sends the worker Ctrl-C. With Ctrl-C ignored in the app's own process (as in one a
    script started in the background), the worker, which inherits that, still stops on it."""
    import signal

    if ctrl_c == "ignored":
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the workers started below inherit it
        try:
            _cancel_a_running_run(live_ws)
        finally:
            signal.signal(signal.SIGINT, previous)
    else:
        _cancel_a_running_run(live_ws)


def _cancel_a_running_run(live_ws):
    client = make_client(live_ws)
    first = _start(client)
    assert _wait(live_ws, first).state == "done"
    before = _hashes(live_ws.runs.runs_dir / first / "out")
    assert "allocation.csv" in before
    # the second run solves the over-constrained demo (3k parcels, many seconds of solving), so the cancel
    # below always meets it while it solves; the mini city's run can end before a cancel on a busy machine
    layers = (REPO / "layers").as_posix()
    live_ws.scenario.write_text(OVER.read_text(encoding="utf-8").replace('"../layers/', f'"{layers}/'), encoding="utf-8")
    second = _start(client)
    progress = live_ws.runs.runs_dir / second / "progress.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # its first solve stage has started
        job = live_ws.runs.job(second)
        if job.state in FINAL_STATES or (job.state == "running" and progress.exists()
                                         and '"kind": "start"' in progress.read_text(encoding="utf-8")):
            break
        time.sleep(0.05)
    assert job.state == "running" and job.record.get("pid"), job.record
    assert 'id="run-cancel"' in client.get(f"/run?id={second}").text
    r = client.post(f"/run/{second}/cancel")
    assert r.status_code == 303 and r.headers["location"] == f"/run?id={second}"
    job = _wait(live_ws, second, timeout=60)
    assert job.state == "cancelled"
    assert client.get(f"/api/runs/{second}").json()["state_text"] == "已取消"
    last = json.loads(progress.read_text(encoding="utf-8").splitlines()[-1])
    assert (last["kind"], last["text"]) == ("end", "cancelled")  # the worker itself stopped on the cancel, mid-solve
    assert not (live_ws.runs.runs_dir / second / "out" / "allocation.csv").exists()
    assert _hashes(live_ws.runs.runs_dir / first / "out") == before


# ------------------------------------------------------------------------------------------ the Results page


def test_siteplan_run_on_the_saved_scenario_writes_the_same_bytes_as_the_app(solved, tmp_path):
    """Every file but run.json byte for byte; run.json the same but for the solver's times."""
    import json

    from typer.testing import CliRunner

    from siteplan.cli import app as cli

    ws, _, a, _ = solved
    direct = tmp_path / "direct"
    ran = CliRunner().invoke(cli, ["run", str(ws.scenario), "--out", str(direct), "--shapefile"])
    assert ran.exit_code == 0, ran.output
    out = ws.runs.job(a).out
    mine, theirs = _hashes(out), _hashes(direct)
    assert sorted(mine) == sorted(theirs)
    assert any(name.startswith("shapefile/") for name in mine) and "plan.docx" in mine and "map.html" in mine
    differ = [name for name in mine if mine[name] != theirs[name]]
    assert set(differ) <= {"run.json"}, differ

    def untimed(path):
        record = json.loads(path.read_text(encoding="utf-8"))
        for key in ("build_s", "solve_s", "rounding_s", "runtime_s"):
            record["solver"].pop(key, None)
        for stage in record["solver"].get("stages", []) or []:
            stage.pop("seconds", None)
        return record

    assert untimed(out / "run.json") == untimed(direct / "run.json")


def test_results_page_shows_status_map_counts_and_tables(solved):
    ws, client, a, _ = solved
    r = client.get(f"/results?id={a}")
    assert r.status_code == 200
    html = r.text
    assert f'<iframe id="results-map" class="map" src="/runs/{a}/files/map.html"' in html
    out = ws.runs.job(a).out
    status = json.loads((out / "run.json").read_text(encoding="utf-8"))["status"]
    assert status["text_zh"] in html and f'class="status-{status["code"]}"' in html
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})
    per = alloc.groupby("parcel_id")["units"].sum()
    n, units = int((per > 0).sum()), int(per[per > 0].sum())
    m = re.search(r'<p id="results-parcels" data-parcels="(\d+)" data-units="(\d+)">([^<]*)</p>', html)
    assert m and (int(m.group(1)), int(m.group(2))) == (n, units)
    assert m.group(3) == f"已落实地块 {n} 个，共 {units:,} 套"
    compliance = pd.read_csv(out / "compliance.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    table = html.split('id="compliance-table"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    assert len(rows) == len(compliance)
    import html as html_lib

    for row, (_, expect) in zip(rows, compliance.iterrows()):
        cells = [html_lib.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row, flags=re.S)]
        assert cells == list(expect.values)
    shortfall = pd.read_csv(out / "shortfall.csv", encoding="utf-8-sig")
    assert ('id="shortfall-none"' in html) == shortfall.empty
    assert "Rules" in client.get(f"/results?id={a}&lang=en").text


def test_results_default_to_the_newest_finished_run_and_unknown_ids_are_404(solved):
    _, client, a, b = solved
    html = client.get("/results").text
    assert f'<option value="{b}" selected>' in html and f'<option value="{a}">' in html
    assert client.get("/results?id=20200101-000000-01").status_code == 404
    assert client.get("/results?id=<b>x").status_code == 404
    assert "<b>x" not in client.get("/results?id=<b>x").text


def test_a_script_in_a_parcels_name_is_shown_as_text(solved):
    _, client, a, _ = solved
    html = client.get(f"/results?id={a}").text
    table = html.split('id="parcels-table"', 1)[1].split("</table>", 1)[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert "<script>alert" not in html


def test_every_output_is_a_download_and_the_xlsx_and_shapefile_zip_read_back(solved, tmp_path):
    import openpyxl

    ws, client, a, _ = solved
    out = ws.runs.job(a).out
    html = client.get(f"/results?id={a}").text
    for p in out.iterdir():
        if p.is_file():
            assert f'id="dl-{p.name}"' in html, p.name
    assert f'href="/runs/{a}/zip/shapefile" id="dl-shapefile.zip"' in html
    r = client.get(f"/runs/{a}/files/land_supply.xlsx")
    assert r.status_code == 200 and r.content == (out / "land_supply.xlsx").read_bytes()
    assert "attachment" in r.headers["content-disposition"]
    (tmp_path / "x.xlsx").write_bytes(r.content)
    assert openpyxl.load_workbook(tmp_path / "x.xlsx").sheetnames
    r = client.get(f"/runs/{a}/files/allocation.csv")
    assert r.status_code == 200 and r.content == (out / "allocation.csv").read_bytes()
    r = client.get(f"/runs/{a}/files/map.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "sandbox" in r.headers["content-security-policy"]
    r = client.get(f"/runs/{a}/zip/shapefile")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    for ext in (".shp", ".dbf", ".prj", ".cpg", ".shx"):
        assert f"shapefile/allocation{ext}" in names
    assert {Path(n).name for n in names} == {p.name for p in (out / "shapefile").iterdir()}
    assert client.get(f"/runs/{a}/zip/out").status_code == 404
    assert client.get(f"/runs/{a}/zip/..%2fshapefile").status_code in (403, 404)


@pytest.mark.parametrize("path", [
    "/runs/{id}/files/../job.json",
    "/runs/{id}/files/%2e%2e/job.json",
    "/runs/{id}/files/%2E%2E/job.json",
    "/runs/{id}/files//etc/passwd",
    "/runs/{id}/files/..%2fjob.json",
    "/runs/{id}/files/..%5cjob.json",
    "/runs/{id}/files/shapefile/..%2f..%2fjob.json",
    "/runs/{id}/files/%2fetc%2fpasswd",
    "/runs/../../etc/files/passwd",
    "/runs/x/files/job.json",
    "/runs/..%2f{id}/files/job.json",
    "/runs/{id}/files/",
    "/runs/{id}/files/nothing.csv",
    "/runs/{id}/zip/..%2f..%2f..",
    "/compare/compare-{id}-vs-{id}/..%2f{id}%2fjob.json",
    "/compare/..%2f{id}/job.json",
    "/compare/x/compare.html",
])
def test_files_outside_a_runs_outputs_are_refused(solved, path):
    ws, client, a, _ = solved
    url = path.format(id=a)
    r = client.get(url)
    assert 400 <= r.status_code < 500, (url, r.status_code)
    job_json = (ws.runs.runs_dir / a / "job.json").read_text(encoding="utf-8")
    assert '"scenario"' not in r.text and job_json not in r.text
    assert "root:" not in r.text


def test_a_link_in_out_leading_outside_is_refused(solved):
    ws, client, a, _ = solved
    out = ws.runs.job(a).out
    link = out / "leak.json"
    link.symlink_to(ws.runs.runs_dir / a / "job.json")
    try:
        r = client.get(f"/runs/{a}/files/leak.json")
        assert r.status_code == 403 and '"scenario"' not in r.text
    finally:
        link.unlink()


def test_two_runs_compared_show_the_map_and_the_summary(solved):
    ws, client, a, b = solved
    r = client.post("/results/compare", data={"compare_a": a, "compare_b": b})
    assert r.status_code == 303
    name = f"compare-{a}-vs-{b}"
    assert r.headers["location"] == f"/results?id={a}&compare={name}"
    html = client.get(r.headers["location"]).text
    assert f'<iframe id="compare-map" class="map" src="/compare/{name}/compare.html"' in html
    parcels = pd.read_csv(ws.runs.runs_dir / name / "compare_parcels.csv", encoding="utf-8-sig")
    m = re.search(r'id="compare-summary" data-only-a="(\d+)" data-only-b="(\d+)"\s+data-both="(\d+)"', html)
    assert m and sum(int(x) for x in m.groups()) == len(parcels)
    page = client.get(f"/compare/{name}/compare.html")
    assert page.status_code == 200 and page.content == (ws.runs.runs_dir / name / "compare.html").read_bytes()
    assert client.get(f"/compare/{name}/differences.xlsx").status_code == 200
    # the same run twice, or a run that is not there, is refused with the reason
    for form in ({"compare_a": a, "compare_b": a}, {"compare_a": a, "compare_b": "../x"}):
        r = client.post("/results/compare", data=form)
        assert r.status_code == 303
        assert 'id="compare-error"' in client.get(r.headers["location"]).text


def test_a_sweeps_results_show_its_table_and_each_variants_files(mini_ws):
    """A sweep's folder as run_sweep writes it (made here: sweeps need Dask): sweep.csv and v01/, v02/."""
    client = make_client(mini_ws)
    job = mini_ws.runs.submit(mini_ws.scenario, kind="sweep", vary=["rules.transit.share=0.5,0.7"])
    out = job.out
    for v in ("v01", "v02"):
        (out / v).mkdir(parents=True)
        (out / v / "map.html").write_text("<p>map</p>", encoding="utf-8")
        (out / v / "report.html").write_text("<p>report</p>", encoding="utf-8")
    (out / "sweep.csv").write_text("\ufeffvariant,settings,status\nv01,rules.transit.share=0.5,optimal\nv02,"
                                   f"\"{XSS}\",shortfall\n", encoding="utf-8")
    record = json.loads((job.folder / "job.json").read_text(encoding="utf-8"))
    record.update(state="done", variants=2)
    (job.folder / "job.json").write_text(json.dumps(record), encoding="utf-8")
    html = client.get(f"/results?id={job.id}").text
    assert 'id="sweep-table"' in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    for v in ("v01", "v02"):
        assert f'href="/runs/{job.id}/files/{v}/map.html" id="variant-map-{v}"' in html
        assert client.get(f"/runs/{job.id}/files/{v}/report.html").text == "<p>report</p>"
    assert 'id="dl-sweep.csv"' in html
    assert client.get(f"/api/runs/{job.id}").json()["status_text"] == "共 2 个变体已完成"
    # tomllib sees the scenario untouched by the page
    assert tomllib.loads(mini_ws.scenario.read_text(encoding="utf-8"))["rules"]["transit"]["share"] == 0.5
