"""The run queue on its own: one at a time, on disk, and honest about runs that ended badly."""

from __future__ import annotations

import json
import subprocess
import sys

from siteplan.app.runs import RunQueue, read_json, write_json


def test_a_scenario_that_cannot_be_read_fails_with_the_readers_words(tmp_path):
    bad = tmp_path / "scenario.toml"
    bad.write_text('[plan]\nname = "x"\nfirst_year = 2020\nlast_year = 2019\n', encoding="utf-8")
    q = RunQueue(tmp_path / "runs")
    try:
        job = q.wait(q.submit(bad).id, timeout=120)
    finally:
        q.stop()
    assert job is not None and job.state == "failed"
    assert "scenario.toml" in job.record["error"] and "Traceback" not in job.record["error"]
    assert job.record["command"][:2] == ["siteplan", "run"]
    assert [e["kind"] for e in job.progress()][-1] == "end"


def test_a_queued_run_cancelled_never_starts(tmp_path):
    q = RunQueue(tmp_path / "runs", start=False)
    job = q.submit(tmp_path / "scenario.toml")
    assert q.cancel(job.id)
    assert q.job(job.id).state == "cancelled"
    assert not q.cancel(job.id)  # ended already
    assert not q.cancel("../../etc")  # not a run's name


def test_restart_marks_a_run_whose_process_is_gone_and_keeps_one_still_going(tmp_path):
    q = RunQueue(tmp_path / "runs", start=False)
    gone, going = q.submit(tmp_path / "a.toml"), q.submit(tmp_path / "b.toml")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        write_json(gone.folder / "job.json", {**gone.record, "state": "running", "pid": dead.pid})
        write_json(going.folder / "job.json", {**going.record, "state": "running", "pid": alive.pid})
        again = RunQueue(tmp_path / "runs", start=False)  # the app started again
        assert again.job(gone.id).state == "interrupted"
        assert "run it again" in again.job(gone.id).record["error"]
        assert again.job(going.id).state == "running"
        assert [j.id for j in again.jobs()] == [going.id, gone.id]  # newest first, both found
    finally:
        alive.kill()
        alive.wait()


def test_job_files_are_whole_json(tmp_path):
    path = tmp_path / "job.json"
    write_json(path, {"state": "queued", "label": "方案<script>"})
    assert json.loads(path.read_text(encoding="utf-8"))["label"] == "方案<script>"
    assert read_json(tmp_path / "missing.json") == {}
