"""The app's runs: queued one at a time, each solved in a process of its own, all kept on disk.

A run is a folder under the workspace's ``siteplan-runs/``, named by when it
was asked for (``20261206-093015-01``), holding:

- ``job.json``: what was asked (a run, K alternatives or a sweep of the
  scenario file), its state (``queued``, ``running``, ``done``, ``failed``,
  ``cancelled`` or ``interrupted``), its times, the worker's process id and,
  when it ends, the plan's status or the error in a planner's words;
- ``progress.jsonl``: one line per step and solve stage, as the worker
  (:mod:`siteplan.app.worker`) meets them;
- ``out/``: the outputs, exactly as ``siteplan run`` writes them;
- ``worker.log``: what the worker printed, for when something goes wrong.

:class:`RunQueue` starts the oldest queued run when none is running. The
worker is a process of its own, in a session of its own: closing the
browser, or even the app, does not stop a solve, and an app started again
finds every run on disk (:meth:`RunQueue.recover`), still running or not.
Cancelling sends the worker Ctrl-C (its outputs are written atomically, so
nothing is half written) and, if it has not stopped after
:data:`CANCEL_WAIT_S`, kills it; no other run's folder is touched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RunQueue", "Job", "RUN_ID", "CANCEL_WAIT_S", "write_json", "read_json", "pid_alive"]

log = logging.getLogger(__name__)

#: The shape of a run's folder name; anything else in a request is refused.
RUN_ID = re.compile(r"^\d{8}-\d{6}-\d{2}$")

#: Seconds a cancelled worker has to stop on Ctrl-C before it is killed.
CANCEL_WAIT_S = 15.0

FINAL_STATES = ("done", "failed", "cancelled", "interrupted")


def write_json(path: Path, record: dict) -> None:
    """Write ``record`` to ``path`` atomically (a reader never sees half a file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, ensure_ascii=False, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a finished child of this process stays a zombie until reaped; it is not running
    try:
        done, _ = os.waitpid(int(pid), os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class Job:
    """One run as ``job.json`` records it."""

    folder: Path
    record: dict

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def state(self) -> str:
        return self.record.get("state", "queued")

    @property
    def out(self) -> Path:
        return self.folder / "out"

    def progress(self, last: int | None = None) -> list[dict]:
        """The progress lines so far (the ``last`` ones)."""
        path = self.folder / "progress.jsonl"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        events = []
        for line in lines[-last:] if last else lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a line being written
        return events

    def as_dict(self) -> dict:
        return {"id": self.id, **self.record}


class RunQueue:
    """The runs of one workspace: ask for one, cancel one, list them; one solves at a time."""

    def __init__(self, runs_dir: str | Path, *, python: str | None = None, start: bool = True) -> None:
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.python = python or sys.executable
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._procs: dict[str, subprocess.Popen] = {}
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="siteplan-runs", daemon=True)
        if start:
            self._thread.start()

    # ----------------------------------------------------------------- records
    def job(self, run_id: str) -> Job | None:
        if not RUN_ID.match(run_id or ""):
            return None
        folder = self.runs_dir / run_id
        record = read_json(folder / "job.json")
        return Job(folder, record) if record else None

    def jobs(self) -> list[Job]:
        """Every run on disk, newest first."""
        found = []
        for folder in sorted(self.runs_dir.iterdir(), reverse=True) if self.runs_dir.is_dir() else []:
            if folder.is_dir() and RUN_ID.match(folder.name):
                record = read_json(folder / "job.json")
                if record:
                    found.append(Job(folder, record))
        return found

    def _update(self, job: Job, **changes: Any) -> None:
        with self._lock:
            record = read_json(job.folder / "job.json") or job.record
            record.update(changes)
            write_json(job.folder / "job.json", record)
            job.record = record

    # ----------------------------------------------------------------- asking
    def submit(self, scenario: str | Path, *, kind: str = "run", label: str = "", alternatives: int | None = None,
               vary: list[str] | None = None, lang: str = "zh") -> Job:
        """Queue a run of ``scenario`` (``kind`` ``run`` or ``sweep``); it starts when the runs before it end."""
        if kind not in ("run", "sweep"):
            raise ValueError(f"unknown kind of run {kind!r}")
        with self._lock:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            n = 1
            while (self.runs_dir / f"{stamp}-{n:02d}").exists():
                n += 1
            folder = self.runs_dir / f"{stamp}-{n:02d}"
            folder.mkdir(parents=True)
            record = {"kind": kind, "scenario": str(Path(scenario).resolve()), "label": label,
                      "alternatives": alternatives, "vary": list(vary or []), "lang": lang,
                      "state": "queued", "asked": _now(), "started": None, "finished": None, "pid": None}
            write_json(folder / "job.json", record)
        self._wake.set()
        return Job(folder, record)

    def cancel(self, run_id: str) -> bool:
        """Cancel a queued or running run; False when there is no such run or it has ended."""
        job = self.job(run_id)
        if job is None or job.state in FINAL_STATES:
            return False
        if job.state == "queued":
            self._update(job, state="cancelled", finished=_now())
            return True
        self._update(job, cancel_asked=_now())
        pid = job.record.get("pid")
        if pid_alive(pid):
            try:
                os.killpg(int(pid), signal.SIGINT)  # the worker's own session: Ctrl-C, as on a terminal
            except (ProcessLookupError, PermissionError):
                pass
            threading.Thread(target=self._kill_later, args=(job, int(pid)), daemon=True).start()
        return True

    def _kill_later(self, job: Job, pid: int) -> None:
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.2)
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        self._update(job, state="cancelled", finished=_now())

    # ----------------------------------------------------------------- running
    def recover(self) -> None:
        """After a restart: a run whose worker still runs is watched again; one whose worker is gone without a word is marked interrupted."""
        for job in self.jobs():
            if job.state == "running" and not pid_alive(job.record.get("pid")):
                self._update(job, state="interrupted", finished=_now(),
                             error="the run's process ended without finishing (the computer or the app was stopped); run it again")

    def running(self) -> Job | None:
        return next((j for j in self.jobs() if j.state == "running"), None)

    def _next_queued(self) -> Job | None:
        queued = [j for j in self.jobs() if j.state == "queued"]
        return queued[-1] if queued else None  # jobs() is newest first: the oldest asked

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # the queue must outlive any one run's trouble
                log.exception("siteplan app: the run queue met an error")
            self._wake.wait(1.0)
            self._wake.clear()

    def _step(self) -> None:
        current = self.running()
        if current is not None:
            pid = current.record.get("pid")
            proc = self._procs.get(current.id)
            if proc is not None and proc.poll() is None:
                return
            if proc is None and pid_alive(pid):
                return  # a worker started before the app restarted: still going
            self._procs.pop(current.id, None)
            fresh = self.job(current.id)
            if fresh is not None and fresh.state == "running":  # the worker died without its last word
                cancelled = bool(fresh.record.get("cancel_asked"))
                self._update(fresh, state="cancelled" if cancelled else "failed", finished=_now(),
                             error=None if cancelled else "the run's process stopped without finishing; see worker.log")
            self._wake.set()
            return
        job = self._next_queued()
        if job is None:
            return
        self._launch(job)

    def _launch(self, job: Job) -> None:
        # "running" before the process starts; afterwards only its pid is added, so a worker that ends at once
        # (a scenario that cannot be read) never has its last word overwritten
        self._update(job, state="running", started=_now(), pid=None)
        log_file = open(job.folder / "worker.log", "ab")
        try:
            env = {**os.environ, "SITEPLAN_PROGRESS": "0", "PYTHONIOENCODING": "utf-8"}
            proc = subprocess.Popen([self.python, "-m", "siteplan.app.worker", str(job.folder)],
                                    stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=str(Path(job.record["scenario"]).parent), env=env, start_new_session=True)
        finally:
            log_file.close()
        self._procs[job.id] = proc
        self._update(job, pid=proc.pid)
        if job.record.get("cancel_asked"):  # cancelled while the process was starting, before its pid was known
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except (ProcessLookupError, PermissionError):
                pass
            threading.Thread(target=self._kill_later, args=(job, proc.pid), daemon=True).start()

    def wait(self, run_id: str, timeout: float = 600.0) -> Job | None:
        """Block until a run ends (for tests and scripts); the job, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(run_id)
            if job is not None and job.state in FINAL_STATES:
                return job
            self._wake.set()
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        """Stop watching (the workers go on)."""
        self._stop.set()
        self._wake.set()
