"""Benchmark of the exact radius cap (``centres = "anywhere"``) and of where planners wait.

Per size (synthetic cities of :mod:`benchmarks.bench`, every rule on), in a
child process each: the exact rule's solve time, gap, status, targets met
and the densest disc anywhere of the delivered plan (the focal check), for
``--runs`` runs while another process keeps one core busy
(``python -c "while True: pass"``), beside one run of the old rule
(``centres = "projects"``) in the same session. Then the demo: the
feasible and the over-constrained scenario, ``--alternatives 3`` against
one solve, and a batch of two scenarios on two Dask workers against the
two one after the other. The load average (``uptime``) is noted beside
every figure: the machine is shared.

Run from the project folder::

    python benchmarks/radius_bench.py                       # 1k, 10k, 20k
    python benchmarks/radius_bench.py --sizes 1000 --runs 1 --skip-demo

Figures are printed and written to ``benchmarks/results-radius.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def load() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _quiet() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)


def _summary(plan, wall: float) -> dict:
    st, rep = plan.status, plan.report
    text, over = plan.focal_checks.get("radius_cap", ("", 0))
    return dict(wall_s=round(wall, 2), solve_s=round(rep.solve_s, 2), rounding_s=round(rep.rounding_s, 2), gap=rep.gap,
                status=st.code, time_limit_hit=st.time_limit_hit, targets_met=st.targets_met, units_missing=st.units_missing,
                rules_short=[list(r) for r in st.rules_short], densest=text, over_cap=over, rows=rep.n_rows, method=rep.method,
                stages=[s.name for s in rep.stages])


def one_size(n: int, centres: str, time_limit: float, gap: float, cache: str) -> dict:
    """One solve of the benchmark city of ``n`` parcels with the radius cap's ``centres`` (in this process)."""
    import bench
    from siteplan.inputs.layers import read_layers
    from siteplan.inputs.scenario import parse_scenario
    from siteplan.model.build import build_problem
    from siteplan.model.features import compute_features
    from siteplan.solve.search import solve_compiled

    _quiet()
    folder = bench.city_dir(Path(cache), n)
    data = bench.bench_data(folder, n, time_limit_s=time_limit, gap=gap)
    data["rules"]["radius_cap"]["centres"] = centres
    scenario = parse_scenario(data, base_dir=folder, where=f"bench-{n}")
    layers = read_layers(scenario)
    prob = build_problem(compute_features(layers, scenario), scenario, layers=layers)
    t = time.perf_counter()
    model = prob.compile()
    plan = solve_compiled(prob, model, time_limit_s=time_limit, gap=gap)
    return _summary(plan, time.perf_counter() - t)


def demo(path: str, centres: str | None, k: int = 1) -> dict:
    """The demo scenario at ``path`` solved (``k`` plans when ``k`` > 1), in this process."""
    from siteplan.inputs.scenario import load_scenario
    from siteplan.pipeline import plan_from_scenario, plans_from_scenario

    _quiet()
    s = load_scenario(path)
    if centres is not None:
        rc = s.rules.radius_cap.model_copy(update={"centres": centres})
        s = s.model_copy(update={"rules": s.rules.model_copy(update={"radius_cap": rc})})
    t = time.perf_counter()
    if k > 1:
        plans = plans_from_scenario(s, k)[0]
        return dict(wall_s=round(time.perf_counter() - t, 2), plans=len(plans), status=[p.status.code for p in plans])
    plan, _ = plan_from_scenario(s)
    return _summary(plan, time.perf_counter() - t)


def _child(*args: str) -> dict:
    """Run this script with ``args`` in a child process; its last output line is JSON."""
    before = load()
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-3:], "load_before": before, "load_after": load()}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(load_before=before, load_after=load())
    return out


def _batch(workers: int) -> dict:
    """``siteplan batch`` of the feasible and the over-constrained demo on ``workers`` workers, timed."""
    with tempfile.TemporaryDirectory() as tmp:
        before, t = load(), time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).parent / "siteplan"), "batch", "scenarios/demo-2016-2020.toml",
                               "scenarios/demo-2016-2020-overconstrained.toml", "--workers", str(workers), "--out", tmp],
                              capture_output=True, text=True, cwd=ROOT)
        return dict(wall_s=round(time.perf_counter() - t, 2), ok=proc.returncode == 0,
                    error=None if proc.returncode == 0 else proc.stderr.strip().splitlines()[-3:], load_before=before, load_after=load())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,20000")
    p.add_argument("--runs", type=int, default=3, help="runs of the exact rule per size, under load")
    p.add_argument("--time-limit", type=float, default=120.0)
    p.add_argument("--gap", type=float, default=0.01)
    p.add_argument("--skip-demo", action="store_true")
    p.add_argument("--skip-sizes", action="store_true")
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "siteplan-bench"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results-radius.json"))
    p.add_argument("--one", nargs=2, metavar=("N", "CENTRES"), help=argparse.SUPPRESS)
    p.add_argument("--demo", nargs=3, metavar=("PATH", "CENTRES", "K"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one_size(int(args.one[0]), args.one[1], args.time_limit, args.gap, args.cache)))
        return 0
    if args.demo:
        c = None if args.demo[1] == "-" else args.demo[1]
        print(json.dumps(demo(args.demo[0], c, int(args.demo[2]))))
        return 0
    report: dict = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}, "time_limit_s": args.time_limit,
                    "gap": args.gap, "sizes": {}, "demo": {}}
    common = ["--time-limit", str(args.time_limit), "--gap", str(args.gap), "--cache", args.cache]

    def save() -> None:
        Path(args.out).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")

    if not args.skip_sizes:
        for n in [int(s) for s in args.sizes.split(",")]:
            row: dict = {"projects": _child("--one", str(n), "projects", *common)}
            print(n, "projects", row["projects"], flush=True)
            runs = []
            for _ in range(args.runs):
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                try:
                    runs.append(_child("--one", str(n), "anywhere", *common))
                finally:
                    busy.kill()
                    busy.wait()
                print(n, "anywhere under load", runs[-1], flush=True)
            row["anywhere_under_load"] = runs
            report["sizes"][str(n)] = row
            save()
    if not args.skip_demo:
        d = report["demo"]
        for name, path in (("feasible", "scenarios/demo-2016-2020.toml"), ("overconstrained", "scenarios/demo-2016-2020-overconstrained.toml")):
            for c in ("anywhere", "projects"):
                d[f"{name}_{c}"] = _child("--demo", path, c, "1")
                print(name, c, d[f"{name}_{c}"], flush=True)
        d["alternatives_3"] = _child("--demo", "scenarios/demo-2016-2020.toml", "-", "3")
        print("alternatives 3", d["alternatives_3"], flush=True)
        d["batch_2_workers"] = _batch(2)
        d["batch_1_worker"] = _batch(1)
        print("batch", d["batch_2_workers"], d["batch_1_worker"], flush=True)
        save()
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
