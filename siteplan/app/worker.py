"""One run of the app, in a process of its own: ``python -m siteplan.app.worker RUN_FOLDER``.

It reads the run's ``job.json`` (written by :class:`siteplan.app.runs.RunQueue`)
and calls what the command line calls: :func:`siteplan.pipeline.run` for a
run (``siteplan run SCENARIO --out RUN/out --shapefile [--alternatives K]``,
the same outputs byte for byte but for the times in ``run.json``) and
:func:`siteplan.sweep.run_sweep` for a sweep. Each step, solve stage,
check finding and warning becomes one line of ``progress.jsonl``; the end
(the plan's status in the words of :class:`siteplan.solve.status.PlanStatus`,
or the error in a planner's words) goes into ``job.json``. Ctrl-C (the
app's cancel button) ends it as ``cancelled``, with nothing half written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import sys
import time
import traceback
from pathlib import Path

from ..check import CheckError, findings_lines
from ..errors import SiteplanError, error_text
from ..progress import StageHandler
from .runs import read_json, write_json

__all__ = ["main", "command_line"]


def command_line(record: dict, out: Path) -> list[str]:
    """The command that makes the same outputs from a terminal."""
    scenario = record["scenario"]
    if record.get("kind") == "sweep":
        cmd = ["siteplan", "sweep", scenario, "--out", str(out)]
        for v in record.get("vary") or []:
            cmd += ["--vary", v]
        return cmd
    cmd = ["siteplan", "run", scenario, "--out", str(out), "--shapefile"]
    if record.get("alternatives") and int(record["alternatives"]) > 1:
        cmd += ["--alternatives", str(int(record["alternatives"]))]
    if record.get("lang", "zh") != "zh":
        cmd += ["--lang", record["lang"]]
    return cmd


class _Events:
    """Appends one JSON line per event to ``progress.jsonl``, flushed at once (the app reads it while the run goes on)."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "a", encoding="utf-8")

    def __call__(self, kind: str, text: str, **more) -> None:
        self.fh.write(json.dumps({"t": round(time.time(), 2), "kind": kind, "text": text, **more}, ensure_ascii=False) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


class _Warnings(logging.Handler):
    """siteplan's own warnings, as events."""

    def __init__(self, emit) -> None:
        super().__init__(level=logging.WARNING)
        self.emit_event = emit

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("siteplan"):
            self.emit_event("warning", record.getMessage())


def _finish(folder: Path, **changes) -> None:
    record = read_json(folder / "job.json")
    record.update(changes, finished=dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    write_json(folder / "job.json", record)


def _plan_record(result) -> dict:
    st = result.plan.status
    gap = st.gap if st.gap == st.gap else None  # NaN: no bound
    return {
        "status": st.code, "status_zh": st.text("zh"), "status_en": st.text("en"),
        "gap": gap, "gap_limit": st.gap_limit, "time_limit_hit": st.time_limit_hit,
        "placed_units": int(result.plan.units["units"].sum()),
        "units_missing": st.units_missing, "units_excess": st.units_excess,
        "rules_short": [list(r) for r in st.rules_short],
        "plans": len(result.alternatives) or 1,
        "files": sorted(p.name for p in result.files.values()),
        "output_warnings": list(result.output_warnings),
    }


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C is the app's cancel button. A process started in the background by a script ignores it, and so
    # would this worker, inheriting that from the app: the cancel would do nothing while the run went on.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]).resolve()
    record = read_json(folder / "job.json")
    out = folder / "out"
    events = _Events(folder / "progress.jsonl")
    root = logging.getLogger("siteplan")
    root.setLevel(logging.INFO)
    stages = StageHandler(lambda stage, created: events("stage" if stage.kind != "start" else "start", stage.label,
                                                        stage=stage.kind, detail=stage.detail))
    warnings = _Warnings(events)
    root.addHandler(stages)
    root.addHandler(warnings)
    try:
        write_json(folder / "job.json", {**read_json(folder / "job.json"), "command": command_line(record, out)})
        if record.get("kind") == "sweep":
            from ..sweep import parse_vary, run_sweep

            varies = [parse_vary(v) for v in record.get("vary") or []]
            table, where = run_sweep(record["scenario"], varies, out_dir=out, progress=lambda msg: events("step", msg),
                                     finished=lambda done, total, row=None: events("variants", f"{done}/{total}",
                                                                                  done=done, total=total))
            _finish(folder, state="done", variants=len(table),
                    sweep=json.loads(table.to_json(orient="records", force_ascii=False)))
        else:
            from ..pipeline import run

            def on_check(report) -> None:
                for line in findings_lines(report, ("error", "repair", "warning"))[1:]:
                    events("finding", line)

            k = record.get("alternatives")
            result = run(record["scenario"], out_dir=out, lang=record.get("lang", "zh"), alternatives=int(k) if k else None,
                         shapefile=True, progress=lambda msg: events("step", msg), on_check=on_check)
            _finish(folder, state="done", **_plan_record(result))
        events("end", "done")
        return 0
    except KeyboardInterrupt:
        events("end", "cancelled")
        _finish(folder, state="cancelled", error=None)
        return 130
    except CheckError as err:
        findings = findings_lines(err.report, ("error",))[1:]
        events("end", "failed")
        _finish(folder, state="failed", error=str(err).splitlines()[0], findings=findings)
        return 2
    except (SiteplanError, OSError) as err:
        events("end", "failed")
        _finish(folder, state="failed", error=error_text(err))
        return 2
    except Exception as err:  # noqa: BLE001 - the app shows it; the traceback goes to worker.log
        traceback.print_exc()
        events("end", "failed")
        _finish(folder, state="failed", error=f"unexpected error {type(err).__name__}: {err}; see worker.log in the run's folder")
        return 1
    finally:
        root.removeHandler(stages)
        root.removeHandler(warnings)
        events.close()


if __name__ == "__main__":  # pragma: no cover - started by RunQueue
    sys.exit(main())
