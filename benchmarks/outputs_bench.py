"""How long each output file of a plan takes to write.

Solves a scenario once (the feasible demo by default), then writes its
files ``--writes`` times in this process, one file after another, timing
each. The first write is what ``siteplan run`` pays (it also makes the
figures several files share, :meth:`siteplan.solve.plan.Plan.memo`); the
later ones show the file's own cost. Run from the project folder::

    python benchmarks/outputs_bench.py
    python benchmarks/outputs_bench.py --scenario scenarios/demo-2016-2020-overconstrained.toml

Figures are printed and written to ``benchmarks/results-outputs.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "demo-2016-2020.toml"))
    p.add_argument("--writes", type=int, default=4)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results-outputs.json"))
    args = p.parse_args(argv)

    from siteplan.inputs.scenario import load_scenario
    from siteplan.pipeline import plan_from_scenario, write_plan

    scenario = load_scenario(Path(args.scenario))
    plan, layers = plan_from_scenario(scenario)
    per_file: dict[str, list[float]] = {}
    totals: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(max(1, args.writes)):
            def one_by_one(names, jobs):
                for name, job in zip(names, jobs):
                    t = time.perf_counter()
                    job()
                    per_file.setdefault(name, []).append(time.perf_counter() - t)

            t = time.perf_counter()
            write_plan(plan, layers, scenario, Path(tmp) / f"w{k}", run_jobs=one_by_one)
            totals.append(time.perf_counter() - t)
    later = lambda xs: round(statistics.median(xs[1:]), 3) if len(xs) > 1 else None  # noqa: E731
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0], "load_after": os.getloadavg()[0]},
        "scenario": str(Path(args.scenario).resolve().relative_to(ROOT)) if Path(args.scenario).resolve().is_relative_to(ROOT) else args.scenario,
        "writes": len(totals),
        "all_files_s": {"first": round(totals[0], 3), "later_median": later(totals)},
        "files_s": {name: {"first": round(xs[0], 3), "later_median": later(xs)}
                    for name, xs in sorted(per_file.items(), key=lambda item: -item[1][0])},
    }
    print(f"all files: first {totals[0]:.2f} s" + (f", later {later(totals):.2f} s" if later(totals) else ""))
    for name, row in report["files_s"].items():
        if row["first"] >= 0.05:
            print(f"  {name:24s} first {row['first']:.2f} s" + (f", later {row['later_median']:.2f} s" if row["later_median"] else ""))
    Path(args.out).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
