"""The exact radius cap (``centres = "anywhere"``, the default) measured as issue #18 asks, with the load beside each figure.

Two parts, each figure with ``uptime`` before and after it:

* sizes: each run is ``radius_bench.py --one N anywhere`` in a child process
  (the synthetic city of :mod:`bench`, every rule on; timed from compiling
  the model to the delivered plan), ``--runs-1k`` runs at 1,000 parcels,
  ``--runs-10k`` at 10,000, ``--runs-20k`` at 20,000 and ``--runs-50k`` at
  50,000 (none unless asked: with the 120 s limit one run took 106 s as a
  whole process, the city made on the way, and 2.6 GB), with no extra busy
  process (the load is whatever else runs on the machine);
* demo: ``siteplan run`` of the feasible and the over-constrained demo,
  ``--alternatives 3`` on the feasible one, and ``siteplan batch`` of both
  on 2 workers (forked from the command, as it does on Linux; then as new
  processes, ``SITEPLAN_FORK_WORKERS=0``), and on 1 worker, each timed as a
  whole process, the status, gap and densest disc read from the run's
  ``run.json``; ``--demo-runs K`` repeats this part K times (``demo`` is then
  a list).

Run from the project folder::

    python benchmarks/exact_rule_bench.py
    python benchmarks/exact_rule_bench.py --skip-demo
    python benchmarks/exact_rule_bench.py --skip-sizes

Figures are printed and written to ``benchmarks/results-exact-rule.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEASIBLE = "scenarios/demo-2016-2020.toml"
OVER = "scenarios/demo-2016-2020-overconstrained.toml"


def uptime() -> str:
    """``uptime``'s line (the 1, 5 and 15 minute load averages)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def _timed(cmd: list[str], env: dict | None = None) -> tuple[dict, subprocess.CompletedProcess]:
    """Run ``cmd`` from the project folder (with ``env`` added to the environment); its wall time and the load
    before and after."""
    before, lb = uptime(), load1()
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t
    rec = dict(command=" ".join(cmd), wall_s=round(wall, 2), returncode=proc.returncode, load_before=lb,
               load_after=load1(), uptime_before=before, uptime_after=uptime())
    if proc.returncode:
        rec["output_tail"] = (proc.stdout.strip().splitlines() + proc.stderr.strip().splitlines())[-15:]
    return rec, proc


def size_run(n: int, time_limit: float, gap: float, cache: str) -> dict:
    cmd = [sys.executable, "benchmarks/radius_bench.py", "--one", str(n), "anywhere", "--time-limit", str(time_limit),
           "--gap", str(gap), "--cache", cache]
    rec, proc = _timed(cmd)
    rec["process_wall_s"] = rec.pop("wall_s")
    if proc.returncode == 0:
        rec.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rec


def _run_json(folder: Path) -> dict:
    """Status, gap, solve time and the radius cap's focal check from a run's ``run.json``."""
    f = folder / "run.json"
    if not f.is_file():
        return {"run_json": None}
    r = json.loads(f.read_text(encoding="utf-8"))
    st, so = r["status"], r["solver"]
    cap = next((c for c in r["compliance"] if c["rule"] == "radius_cap"), {})
    return dict(status=st["code"], gap=st.get("gap"), time_limit_hit=st.get("time_limit_hit"), targets_met=st["targets_met"],
                units_missing=st["units_missing"], rules_short=st.get("rules_short"), solve_s=so.get("solve_s"),
                rounding_s=so.get("rounding_s"), radius_cap_required=cap.get("required"), densest=cap.get("achieved"),
                radius_cap_ok=cap.get("ok"), over_cap=cap.get("shortfall"))


def siteplan(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "siteplan"), *args]


def demo(tmp: Path) -> dict:
    d: dict = {}
    for name, path in (("feasible", FEASIBLE), ("overconstrained", OVER)):
        rec, _ = _timed(siteplan("run", path, "--out", str(tmp / name)))
        rec.update(_run_json(tmp / name))
        d[name] = rec
        print(name, json.dumps(rec, ensure_ascii=False), flush=True)
    rec, _ = _timed(siteplan("run", FEASIBLE, "--alternatives", "3", "--out", str(tmp / "alt3")))
    rec.update(_run_json(tmp / "alt3"))
    rec["folders"] = sorted(p.name for p in (tmp / "alt3").iterdir() if p.is_dir()) if (tmp / "alt3").is_dir() else []
    d["alternatives_3"] = rec
    print("alternatives 3", json.dumps(rec, ensure_ascii=False), flush=True)
    # on 2 workers forked from the command (its default on Linux), then as new processes, then on 1 worker
    for key, w, env in (("batch_2_workers", 2, None), ("batch_2_workers_spawned", 2, {"SITEPLAN_FORK_WORKERS": "0"}),
                        ("batch_1_workers", 1, None)):
        out = tmp / key
        rec, _ = _timed(siteplan("batch", FEASIBLE, OVER, "--workers", str(w), "--out", str(out)), env=env)
        if (out / "batch.csv").is_file():
            with open(out / "batch.csv", encoding="utf-8-sig") as fh:
                rec["rows"] = [{k: row.get(k) for k in ("scenario", "status", "gap", "units_missing", "runtime_s", "error")}
                               for row in csv.DictReader(fh)]
        d[key] = rec
        print(key.replace("_", " "), json.dumps(rec, ensure_ascii=False), flush=True)
    seq = d["feasible"]["wall_s"] + d["overconstrained"]["wall_s"]
    one = d["feasible"]["wall_s"]
    d["goals"] = {
        "overconstrained_over_feasible": round(d["overconstrained"]["wall_s"] / one, 2),
        "overconstrained_goal_met (<= 2x)": d["overconstrained"]["wall_s"] <= 2 * one,
        "alternatives_3_over_one": round(d["alternatives_3"]["wall_s"] / one, 2),
        "alternatives_goal_met (<= 1.2 x 3 x one)": d["alternatives_3"]["wall_s"] <= 1.2 * 3 * one,
        "sequential_s (feasible + overconstrained runs)": round(seq, 2),
        "batch_2_speedup_vs_sequential": round(seq / d["batch_2_workers"]["wall_s"], 2),
        "batch_2_spawned_speedup_vs_sequential": round(seq / d["batch_2_workers_spawned"]["wall_s"], 2),
        "batch_2_speedup_vs_batch_1": round(d["batch_1_workers"]["wall_s"] / d["batch_2_workers"]["wall_s"], 2),
        "batch_goal_met (>= 1.5x vs sequential)": seq / d["batch_2_workers"]["wall_s"] >= 1.5,
    }
    return d


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs-1k", type=int, default=1)
    p.add_argument("--runs-10k", type=int, default=2)
    p.add_argument("--runs-20k", type=int, default=1)
    p.add_argument("--runs-50k", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.add_argument("--gap", type=float, default=0.01)
    p.add_argument("--skip-demo", action="store_true")
    p.add_argument("--skip-sizes", action="store_true")
    p.add_argument("--demo-runs", type=int, default=1)
    p.add_argument("--date", default=time.strftime("%Y-%m-%d"))
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "siteplan-bench"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results-exact-rule.json"))
    args = p.parse_args(argv)
    out = Path(args.out)
    report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    report.update(date=args.date, machine={"cores": os.cpu_count(), "python": sys.version.split()[0]},
                  rule='[rules.radius_cap] centres = "anywhere" (default)', time_limit_s=args.time_limit, gap=args.gap)

    def save() -> None:
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    if not args.skip_sizes:
        sizes = report.setdefault("sizes", {})
        for n, k in ((1000, args.runs_1k), (10000, args.runs_10k), (20000, args.runs_20k), (50000, args.runs_50k)):
            if not k:
                continue  # a size not asked for keeps the figures of an earlier run in the file
            runs = sizes[str(n)] = []
            for _ in range(k):
                runs.append(size_run(n, args.time_limit, args.gap, args.cache))
                print(n, json.dumps(runs[-1], ensure_ascii=False), flush=True)
                save()
    if not args.skip_demo:
        runs = []
        for _ in range(max(1, args.demo_runs)):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(demo(Path(tmp)))
            report["demo"] = runs[0] if args.demo_runs <= 1 else runs
            save()
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
