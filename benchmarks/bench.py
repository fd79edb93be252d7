"""Scale benchmark: siteplan's stages on synthetic cities, against the solver's floor.

For each size, a synthetic city of that many candidate parcels is generated
(:mod:`siteplan.synth`, seed 2016; cached in ``--cache``) and planned with a
scenario that scales the demo's to the city: six housing types, five years,
targets in proportion to the parcels, and every rule of the demo on. Each
size runs in a child process of its own, so peak memory is that run's alone.

Reported per size and stage: wall time (read, features, build, solve,
whole-unit rounding), peak memory (RSS), gap and objective. The *floor* is
the same compiled model handed as bare arrays to highspy, with no siteplan
code, solved to the same gap and time limit; siteplan's solve time is shown
as a ratio to it.

Run from the project folder::

    python benchmarks/bench.py                      # 1k, 10k, 20k parcels
    python benchmarks/bench.py --floor-upto 10000   # the floor only where it finishes
    python benchmarks/bench.py --sizes 1000,50000 --time-limit 600
    python benchmarks/bench.py --features-only --sizes 1000000
    python benchmarks/bench.py --without radius_cap   # one rule's cost: compare with a run with it
    python benchmarks/bench.py --province 29 --sizes 10000 --gap 0.02 --out benchmarks/results-province.json

``--province K`` plans K cities of that size (seeds 2016, 2017, ...) in
parallel on a Dask LocalCluster (``--workers``, one HiGHS thread each),
each with its own targets, as the cities of a province have their own
plans; it reports the wall time of all of them, each city's gap and the
workers' peak memory.

Figures are printed and written to ``benchmarks/results.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo-2016-2020.toml"

#: Two housing types the demo lacks, so the benchmark has six.
EXTRA_TYPES = {
    "economy": {"unit_area_m2": 80, "targets": [600, 700, 800, 900, 1000], "cost_yuan_per_m2": 2400},
    "resettlement": {"unit_area_m2": 80, "targets": [1000, 1100, 1200, 1300, 1400], "cost_yuan_per_m2": 2800},
}


def peak_rss_gb() -> float:
    """This process's peak resident memory in GB.

    Read from ``VmHWM`` in /proc (the high-water mark of this process's own
    memory); ``ru_maxrss`` is the fallback, but Linux carries it across
    ``exec``, so a child would report its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def city_dir(cache: Path, n: int, seed: int = 2016) -> Path:
    """The synthetic city of ``n`` parcels, generated once into ``cache``."""
    from siteplan import synth

    folder = cache / (f"city-{n}" if seed == 2016 else f"city-{n}-seed{seed}")
    if not (folder / "parcels.gpkg").is_file():
        synth.write_city(synth.make_city(seed=seed, n_parcels=n), folder)
    return folder


def bench_scenario(folder: Path, n: int, *, time_limit_s: float, gap: float, without: tuple[str, ...] = ()):
    """The demo scenario scaled to a city of ``n`` parcels, every rule on (see :func:`bench_data`)."""
    from siteplan.inputs.scenario import parse_scenario

    data = bench_data(folder, n, time_limit_s=time_limit_s, gap=gap, without=without)
    return parse_scenario(data, base_dir=folder, where=f"bench-{n}")


def bench_data(folder: Path, n: int, *, time_limit_s: float, gap: float, without: tuple[str, ...] = ()) -> dict:
    """The scenario file's data: the demo scenario scaled to a city of ``n`` parcels, every rule on.

    Type, zone and district targets and the budget grow with the parcels;
    the projects allowed per district and year with them, over the larger
    city's 15 districts. The synthetic city has the same seven industrial
    parks and their workers at every size, so the worker housing they need
    does not grow with the plan: the parks' share of the plan's units
    shrinks as it grows (the demo's share at 3,000 parcels). Left at the
    demo's share, the 20,000-parcel plan asks 12,406 units within 3 km of
    one park, where a MIP over its 27 parcels, with every rule on them,
    places at most 12,070: no plan could meet it.
    """
    data = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    data["plan"]["name"] = f"bench-{n}"
    for key, rel in data["layers"].items():
        data["layers"][key] = str(folder / Path(rel).name)
    data["types"].update({k: dict(v) for k, v in EXTRA_TYPES.items()})
    scale = n / 3000
    for t in data["types"].values():
        t["targets"] = [round(v * scale) for v in t["targets"]]
    total = sum(sum(t["targets"]) for t in data["types"].values())
    zones = data["zones"]
    zone_sum = sum(zones.values())
    for z in zones:
        zones[z] = round(zones[z] / zone_sum * total * 0.95)
    for name, v in data.get("districts", {}).items():
        data["districts"][name] = [round(x * scale) for x in v] if isinstance(v, list) else round(v * scale)
    r = data["rules"]
    r["budget"]["per_year_yi_yuan"] = [round(v * scale * 1.4) for v in r["budget"]["per_year_yi_yuan"]]
    r["max_projects"]["per_district_year"] = max(4, round(4 * scale * 11 / 15))
    r["district_share"].update(min_share=0.02, max_share=0.15)
    r["parks"]["share"] = r["parks"]["share"] * min(1.0, 1 / scale)
    data["solver"].update(time_limit_s=time_limit_s, gap=gap)
    for rule in without:
        if rule not in r:
            raise SystemExit(f"--without {rule}: the scenario has no [rules.{rule}]; use one of {', '.join(sorted(r))}")
        r[rule]["enabled"] = False
    return data


def run_size(n: int, args) -> dict:
    """One size, in this (child) process: every stage timed, then the floor in a grandchild."""
    import logging

    import numpy as np

    from siteplan.model.features import compute_features
    from siteplan.inputs.layers import read_layers
    from siteplan.model.build import build_problem
    from siteplan.solve.search import solve_compiled

    logging.basicConfig(level=logging.WARNING)
    out: dict = {"parcels": n}
    t = time.perf_counter()
    folder = city_dir(Path(args.cache), n)
    out["generate_s"] = time.perf_counter() - t
    scenario = bench_scenario(folder, n, time_limit_s=args.time_limit, gap=args.gap, without=tuple(args.without))
    t = time.perf_counter()
    layers = read_layers(scenario)
    out["read_s"] = time.perf_counter() - t
    t = time.perf_counter()
    features = compute_features(layers, scenario)
    out["features_s"] = time.perf_counter() - t
    out["candidates"] = int(features["status"].isin(scenario.plan.candidate_status).sum())
    if args.features_only:
        out["peak_gb"] = peak_rss_gb()
        return out
    t = time.perf_counter()
    prob = build_problem(features, scenario, layers=layers)
    model = prob.compile()
    out["build_s"] = time.perf_counter() - t
    out.update(rows=model.n_rows, cols=model.n_cols, binaries=int(model.ctx.n_z), nonzeros=int(model.A.nnz))
    t = time.perf_counter()
    plan = solve_compiled(prob, model, time_limit_s=args.time_limit, gap=args.gap, threads=None, seed=0)
    out["solve_total_s"] = time.perf_counter() - t
    rep = plan.report
    out.update(method=rep.method, status=rep.status, time_limit_hit=bool(rep.time_limit_hit), gap=rep.gap,
               objective=rep.objective, search_s=rep.solve_s, rounding_s=rep.rounding_s)
    out["build_share_of_solve"] = out["build_s"] / max(out["solve_total_s"], 1e-9)
    out["peak_gb"] = peak_rss_gb()
    if not args.no_floor:
        with tempfile.TemporaryDirectory() as tmp:
            npz = Path(tmp) / "model.npz"
            A = model.A.tocsc()
            np.savez(npz, start=A.indptr, index=A.indices, value=A.data, cost=model.cost,
                     col_lower=model.col_lower, col_upper=model.col_upper, row_lower=model.row_lower,
                     row_upper=model.row_upper, integrality=model.integrality.astype(np.int8))
            del A, model, prob, plan, features, layers
            proc = subprocess.run([sys.executable, __file__, "--floor", str(npz), "--time-limit", str(args.time_limit),
                                   "--gap", str(args.gap)], capture_output=True, text=True)
            if proc.returncode != 0:
                out["floor"] = {"error": proc.stderr.strip().splitlines()[-1:]}
            else:
                out["floor"] = json.loads(proc.stdout.strip().splitlines()[-1])
        fl = out["floor"]
        if "solve_s" in fl:
            out["solve_ratio_to_floor"] = out["solve_total_s"] / max(fl["solve_s"], 1e-9)
    return out


def floor(npz: str, time_limit_s: float, gap: float) -> dict:
    """The floor: the bare arrays solved by highspy alone (no siteplan import)."""
    import highspy
    import numpy as np

    t = time.perf_counter()
    d = np.load(npz)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(d["cost"]), len(d["row_lower"])
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = d["cost"], d["col_lower"], d["col_upper"]
    lp.row_lower_, lp.row_upper_ = d["row_lower"], d["row_upper"]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = d["start"], d["index"], d["value"]
    kint, kcont = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
    lp.integrality_ = [kint if v else kcont for v in d["integrality"]]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("random_seed", 0)
    h.passModel(lp)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    h.run()
    info = h.getInfo()
    found = info.primal_solution_status == 2
    return {"load_s": load_s, "solve_s": time.perf_counter() - t, "status": h.modelStatusToString(h.getModelStatus()),
            "gap": float(info.mip_gap) if found else None,
            "objective": float(info.objective_function_value) if found else None, "peak_gb": peak_rss_gb()}


def machine() -> dict:
    import highspy

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
            "highs": getattr(highspy, "__version__", None) or _dist_version("highspy"),
            "date": time.strftime("%Y-%m-%d")}


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _fmt(v, spec: str = ",.1f") -> str:
    return "-" if v is None else format(v, spec)


def table(results: list[dict]) -> str:
    """The figures as a Markdown table (what the README shows)."""
    head = ("| parcels | rows x cols (binaries) | read s | features s | build s | solve s | of which rounding s "
            "| gap | peak GB | floor solve s | floor status | ratio |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['parcels']:,} | failed: {r['error']} |")
            continue
        fl = r.get("floor", {})
        size = f"{r['rows']:,} x {r['cols']:,} ({r['binaries']:,})" if "rows" in r else "-"
        gap = f"{100 * r['gap']:.2f}%" if r.get("gap") is not None else "-"
        lines.append(
            f"| {r['parcels']:,} | {size} | {_fmt(r.get('read_s'))} | {_fmt(r.get('features_s'))} | {_fmt(r.get('build_s'))} "
            f"| {_fmt(r.get('solve_total_s'))} | {_fmt(r.get('rounding_s'))} | {gap} | {_fmt(r.get('peak_gb'), '.2f')} "
            f"| {_fmt(fl.get('solve_s'))} | {fl.get('status', '-')} | {_fmt(r.get('solve_ratio_to_floor'), '.2f')} |"
        )
    return "\n".join(lines)


def _province_city(cache: str, n: int, seed: int, data_args: dict, out_dir: str) -> dict:
    """One city of a province, on a Dask worker: generate it (once), plan it
    with :func:`siteplan.sweep.run_variant` (which writes its outputs), and
    add its parcels, candidates and seed to the row."""
    import geopandas as gpd

    from siteplan.inputs.scenario import parse_scenario
    from siteplan.sweep import run_variant

    folder = city_dir(Path(cache), n, seed)
    data = bench_data(folder, n, **data_args)
    data["plan"]["name"] = f"city-{seed}"
    data["solver"]["threads"] = 1  # one HiGHS thread per Dask worker: the workers share the cores
    row = run_variant(data, str(folder), out_dir)
    wanted = parse_scenario(data, base_dir=folder, where=data["plan"]["name"]).plan.candidate_status
    status = gpd.read_file(folder / "parcels.gpkg", columns=["status"])["status"]
    row.update(seed=seed, parcels=n, candidates=int(status.isin(wanted).sum()))
    return row


def run_province(args) -> dict:
    """``--province K``: K synthetic cities of ``--sizes`` parcels each (seeds
    2016, 2017, ...), planned in parallel on a Dask LocalCluster. The cities
    share no rule (each has its own targets, as each city of a province
    has its own plan), so each is solved on its own."""
    from siteplan.sweep import _dask

    n = int(args.sizes.split(",")[0])
    data_args = dict(time_limit_s=args.time_limit, gap=args.gap, without=tuple(args.without))
    with _dask(None, args.workers) as client:
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            futures = [client.submit(_province_city, args.cache, n, 2016 + k, data_args, str(Path(out) / f"city-{k}"), pure=False)
                       for k in range(args.province)]
            rows = client.gather(futures)
            wall = time.perf_counter() - t
        peaks = client.run(peak_rss_gb)
    gaps = [r["gap"] for r in rows if r.get("gap") is not None]
    return {
        "cities": args.province, "parcels_each": n, "parcels": n * args.province,
        "candidates": sum(r["candidates"] for r in rows), "workers": len(peaks), "wall_s": wall,
        "max_gap": max(gaps) if len(gaps) == len(rows) else None,
        "all_within_gap": len(gaps) == len(rows) and max(gaps) <= args.gap + 1e-9,
        "shortfall_units": sum(r.get("shortfall_units") or 0.0 for r in rows),
        "errors": [r["error"] for r in rows if r.get("error")],
        "peak_gb_workers": sum(peaks.values()), "city_runtime_s_max": max(r["runtime_s"] for r in rows),
        "city_rows": rows,
    }


def _write_report(args, argv: list[str] | None, **body) -> None:
    """Write ``--out``: the machine, gap, time limit and command, then ``body``."""
    report = {"machine": machine(), "gap": args.gap, "time_limit_s": args.time_limit,
              "command": " ".join(["python", "benchmarks/bench.py", *(argv if argv is not None else sys.argv[1:])]), **body}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,20000", help="comma-separated parcel counts")
    p.add_argument("--time-limit", type=float, default=300.0, help="solver time limit per size, seconds")
    p.add_argument("--gap", type=float, default=0.01, help="relative MIP gap")
    p.add_argument("--features-only", action="store_true", help="time reading and features only")
    p.add_argument("--no-floor", action="store_true", help="skip the bare-highspy floor")
    p.add_argument("--floor-upto", type=int, metavar="N", help="run the floor only for sizes up to N parcels")
    p.add_argument("--without", action="append", default=[], metavar="RULE",
                   help="switch a rule off (e.g. radius_cap), to measure its cost; repeatable")
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "siteplan-bench"), help="folder for generated cities")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"), help="JSON file to write")
    p.add_argument("--province", type=int, metavar="K",
                   help="plan K cities of --sizes parcels each in parallel on a Dask LocalCluster (needs siteplan[dask])")
    p.add_argument("--workers", type=int, default=2, help="Dask workers for --province")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--floor", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.floor:
        print(json.dumps(floor(args.floor, args.time_limit, args.gap)))
        return 0
    if args.one:
        print(json.dumps(run_size(args.one, args)))
        return 0
    if args.province:
        res = run_province(args)
        _write_report(args, argv, province=res)
        print(json.dumps({k: v for k, v in res.items() if k != "city_rows"}, indent=2, default=str))
        print(f"\nwritten to {args.out}")
        return 0
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        no_floor = args.no_floor or (args.floor_upto is not None and n > args.floor_upto)
        cmd = [sys.executable, __file__, "--one", str(n), "--time-limit", str(args.time_limit), "--gap", str(args.gap),
               "--cache", args.cache] + (["--features-only"] if args.features_only else []) + (["--no-floor"] if no_floor else []) \
            + [f"--without={rule}" for rule in args.without]
        print(f"{n:,} parcels ...", flush=True)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            res = {"parcels": n, "error": tail}
        else:
            res = json.loads(proc.stdout.strip().splitlines()[-1])
        res["wall_s"] = time.perf_counter() - t
        results.append(res)
        print(json.dumps(res, indent=None, default=str), flush=True)
    _write_report(args, argv, features_only=args.features_only, without=args.without, floor_upto=args.floor_upto,
                  results=results)
    print()
    print(table(results))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
