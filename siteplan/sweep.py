"""Scenario sweeps and batches: many scenarios, solved through Dask.

A planner asks "what if targets were 10% higher, or the transit rule
stricter?". :func:`variants` turns a scenario and a list of ``--vary``
settings into every combination of them, each a complete scenario that is
validated before any work starts; :func:`run_sweep` solves them on a Dask
cluster (a :class:`distributed.LocalCluster` on this machine by default, or
the scheduler at ``scheduler``) and writes one output folder per variant
plus ``sweep.csv``, a table comparing them.

A ``--vary`` setting is ``KEY=V1,V2,...``:

- ``KEY`` is a dotted path into the scenario file, e.g.
  ``rules.transit.share=0.5,0.6,0.7`` or ``suitability.weights.transit=0.2,0.5``;
  values are read as TOML values (numbers, ``true``/``false``, quoted strings);
- ``targets=0.9,1.0,1.1`` is special: it scales every yearly type target,
  and the zone and district targets with them.

:func:`run_batch` solves several scenario files the same way, one folder
each plus ``batch.csv``: the cities of a province, each with its own
layers and targets, have their own plans and share no rule, so they are
planned apart and in parallel.

Dask is an optional dependency (``pip install "siteplan[dask]"``): the
rest of siteplan never imports it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import logging
import os
import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import ScenarioError, SiteplanError

__all__ = ["Vary", "Variant", "parse_vary", "variants", "run_variant", "run_sweep", "run_batch", "SWEEP_COLUMNS", "BATCH_COLUMNS"]

log = logging.getLogger(__name__)

#: Columns of ``sweep.csv``, in order.
#: ``status`` is the plan's one status (``optimal``, ``feasible``, ``shortfall``,
#: see :mod:`siteplan.solve.status`) or ``error``; ``status_text`` says why,
#: ``units_missing``/``units_excess`` are the yearly targets' whole units and
#: ``shortfall_by_rule`` the other broken rules' (never one sum across rules).
SWEEP_COLUMNS = [
    "variant", "settings", "status", "status_text", "optimal", "time_limit_hit", "gap", "within_gap", "objective",
    "target_units", "placed_units", "units_missing", "units_excess", "shortfall_by_rule",
    "projects", "new_land_gross_ha", "inclusionary_projects", "runtime_s", "folder", "error",
]

#: Columns of ``batch.csv``: the scenario file, then a sweep's columns (its
#: ``variant`` is the scenario's plan name).
BATCH_COLUMNS = ["scenario", *(c for c in SWEEP_COLUMNS if c != "settings")]

#: The key that scales every target instead of setting one value.
TARGETS_KEY = "targets"

#: ``finished(done, total, row)``: a sweep's or batch's live count of finished variants (see :func:`run_sweep`).
Finished = Callable[[int, int, "dict | None"], None]


@dataclass(frozen=True)
class Vary:
    """One ``--vary`` setting: a dotted ``key`` and the values it takes."""

    key: str
    values: tuple


@dataclass(frozen=True)
class Variant:
    """One combination of settings: its name, settings and full scenario data."""

    name: str
    settings: dict
    data: dict

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.items())


def _toml_value(text: str, spec: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if text and all(ch.isalnum() or ch in "_-." for ch in text):
            return text  # a bare word, such as a housing type code
        raise ScenarioError(f"--vary {spec!r}: {text!r} is not a value; quote strings, e.g. '\"cbc\"'") from None


def parse_vary(spec: str) -> Vary:
    """Read ``KEY=V1,V2,...``.

    Raises
    ------
    ScenarioError
        When there is no ``=``, no key, or no value.
    """
    key, sep, rest = spec.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip():
        raise ScenarioError(f"--vary {spec!r}: write KEY=V1,V2,..., e.g. rules.transit.share=0.5,0.7 or targets=0.9,1.1")
    if any(not part for part in key.split(".")):
        raise ScenarioError(f"--vary {spec!r}: {key!r} is not a dotted key such as rules.transit.share")
    values = tuple(_toml_value(v.strip(), spec) for v in rest.split(","))
    if key == TARGETS_KEY and not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ScenarioError(f"--vary {spec!r}: targets takes scale factors such as 0.9,1.0,1.1")
    return Vary(key, values)


def _scaled(value, factor: float):
    if isinstance(value, list):
        return [round(v * factor) for v in value]
    return round(value * factor)


def _apply(data: dict, key: str, value) -> None:
    if key == TARGETS_KEY:
        for t in data.get("types", {}).values():
            if isinstance(t, dict) and "targets" in t:
                t["targets"] = _scaled(t["targets"], value)
        for section in ("zones", "districts"):
            for name, v in data.get(section, {}).items():
                data[section][name] = _scaled(v, value)
        return
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError(f"--vary {key}: {part!r} holds a value, not a section, in the scenario")
        node = child
    node[leaf] = value


def variants(data: dict, varies: Sequence[Vary], *, base_dir: Path, where: str) -> list[Variant]:
    """Every combination of the settings, each validated as a full scenario.

    Variant ``k`` (from 1) is named ``v01``, ``v02``, ... and its
    ``[plan] name`` becomes ``<name>-v01`` so its outputs say which it is.

    Raises
    ------
    ScenarioError
        Naming the variant and its settings, when one is not a valid scenario
        (an unknown key, a value out of range).
    """
    from .inputs.scenario import parse_scenario

    if not varies:
        raise ScenarioError("siteplan sweep needs at least one --vary KEY=V1,V2,...")
    keys = [v.key for v in varies]
    if len(set(keys)) != len(keys):
        raise ScenarioError(f"--vary names a key twice: {', '.join(sorted({k for k in keys if keys.count(k) > 1}))}")
    out = []
    combos = list(itertools.product(*(v.values for v in varies)))
    width = max(2, len(str(len(combos))))
    for k, combo in enumerate(combos, start=1):
        settings = dict(zip(keys, combo))
        d = copy.deepcopy(data)
        for key, value in settings.items():
            _apply(d, key, value)
        name = f"v{k:0{width}d}"
        d.setdefault("plan", {})["name"] = f"{data.get('plan', {}).get('name', 'sweep')}-{name}"
        variant = Variant(name, settings, d)
        parse_scenario(d, base_dir=base_dir, where=f"{where} [variant {name}: {variant.label}]")
        out.append(variant)
    return out


def run_variant(data: dict, base_dir: str, out_dir: str, *, source: str | None = None) -> dict:
    """Solve one variant and write its outputs; return its row of ``sweep.csv``.

    Runs on a Dask worker, so it takes plain data and returns plain data.
    A siteplan error (a layer problem, no plan in the time limit) is
    returned in the row's ``error`` instead of raised, so one bad variant
    does not lose the others.
    """
    import time

    from .pipeline import plan_from_scenario, write_plan
    from .inputs.scenario import parse_scenario

    t0 = time.perf_counter()
    name = data["plan"]["name"]
    try:
        from distributed import get_client
        workers = len(get_client().scheduler_info()["workers"])
    except (ImportError, ValueError):  # not on a Dask worker
        workers = 1
    if data.get("solver", {}).get("threads", 1) == 1:  # HiGHS gets this machine's cores // workers threads
        data = {**data, "solver": {**data.get("solver", {}), "threads": max(1, (os.cpu_count() or 1) // max(workers, 1))}}
    row = dict.fromkeys(SWEEP_COLUMNS)
    row.update(variant=name, folder=out_dir)
    try:
        scenario = parse_scenario(data, base_dir=Path(base_dir), where=name)
        if source is not None:
            scenario._source = Path(source)
        scenario._sha256 = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        plan, layers = plan_from_scenario(scenario)
        # the files are written by every worker free to take a share (a batch's last, longest plan
        # then does not write them all alone); on one worker, here
        write_plan(plan, layers, scenario, out_dir, run_jobs=_outputs_on_workers if workers > 1 else None)
    except SiteplanError as err:
        row.update(status="error", error=str(err), runtime_s=time.perf_counter() - t0)
        return row
    st = plan.status
    alloc = plan.allocation(net_to_gross=scenario.plan.net_to_gross)
    new = alloc.loc[alloc["role"] == "new"]
    row.update(
        status=st.code,
        status_text=st.text("en"),
        optimal=st.optimal,
        time_limit_hit=st.time_limit_hit,
        gap=st.gap,
        within_gap=st.within_gap,
        objective=plan.report.objective,
        target_units=int(scenario.total_target()),
        placed_units=int(alloc["units"].sum()),
        units_missing=st.units_missing,
        units_excess=st.units_excess,
        shortfall_by_rule="; ".join(f"{r} {s} {u}" for r, s, u in st.rules_short),
        projects=int(new["parcel_id"].nunique()),
        new_land_gross_ha=float(new["gross_land_ha"].sum()),
        inclusionary_projects=int(alloc.loc[alloc["role"] == "inclusionary", "parcel_id"].nunique()),
        runtime_s=time.perf_counter() - t0,
    )
    return row


#: About how long each output file takes to write, in seconds (the feasible demo, 3,000 parcels);
#: :func:`_output_bins` shares the files among the workers by it. Files not named here weigh 0.05.
OUTPUT_SECONDS = {"map.html": 1.6, "report.html": 1.2, "land_supply.xlsx": 0.5, "plan.docx": 0.4,
                  "plan.gpkg": 0.2, "allocation.geojson": 0.15}


#: The most groups a run's files are written in (:func:`_outputs_on_workers`).
OUTPUT_GROUPS = 4


def _output_bins(names: Sequence[str], k: int) -> list[list[int]]:
    """The positions of ``names`` in at most ``k`` groups of about equal writing time (:data:`OUTPUT_SECONDS`).

    The land-supply workbook and its CSV copies (``land_supply_*.csv``) stay
    together: they share the tables they print. Largest first, each to the
    group with the least so far.
    """
    families: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        family = "land_supply.xlsx" if name.startswith("land_supply_") and name.endswith(".csv") else name
        families.setdefault(family, []).append(i)
    weight = {f: sum(OUTPUT_SECONDS.get(names[i], 0.05) for i in members) for f, members in families.items()}
    bins: list[list[int]] = [[] for _ in range(max(1, min(k, len(families))))]
    load = [0.0] * len(bins)
    for family in sorted(families, key=lambda f: -weight[f]):
        b = load.index(min(load))
        bins[b].extend(families[family])
        load[b] += weight[family]
    return [sorted(b) for b in bins if b]


def _run_pickled(payload: bytes, which: list[int]) -> None:
    """Run the output jobs ``which`` of those pickled in ``payload`` (a task of :func:`_outputs_on_workers`)."""
    import cloudpickle

    jobs = cloudpickle.loads(payload)
    for i in which:
        jobs[i]()


def _outputs_on_workers(names: list[str], jobs: list[Callable[[], object]]) -> None:
    """Write a run's files on every worker of its Dask cluster (``run_jobs`` of :func:`siteplan.outputs.export.write_outputs`).

    The jobs go out in groups of about equal time (:func:`_output_bins`),
    one group per worker, at most :data:`OUTPUT_GROUPS`. They are pickled
    together, once (the plan and layers they share with it), and sent to
    this worker and the least busy others, one for each group (data held by
    one worker would draw every group to it). This task leaves its worker's
    slot while it waits, so its own worker takes a group too. Returns when
    every group has ended, so no job still writes into the folder after a
    failure; then raises the first failure.
    """
    import cloudpickle
    from distributed import get_worker, wait, worker_client

    here = get_worker().address
    with worker_client() as client:
        workers = client.scheduler_info()["workers"]
        # this worker and the least busy others, at most OUTPUT_GROUPS of them (a big cluster gets no copy on every worker)
        others = sorted((a for a in workers if a != here),
                        key=lambda a: workers[a].get("metrics", {}).get("task_counts", {}).get("executing", 0))
        chosen = [here, *others][:OUTPUT_GROUPS]
        bins = _output_bins(names, len(chosen))
        payload = client.scatter(cloudpickle.dumps(jobs), hash=False, broadcast=True, workers=chosen)
        futures = [client.submit(_run_pickled, payload, b, pure=False) for b in bins]
        wait(futures)
        for future in futures:
            future.result()  # the first failure, raised here as it was there


#: Set to ``0`` (or ``no``, ``off``) to have ``siteplan batch`` and ``siteplan sweep`` start new worker
#: processes rather than forks of themselves (see :func:`_client`): a way out should fork misbehave on a machine.
#: The command line reads it (:func:`siteplan.progress.switched_off`).
FORK_ENV = "SITEPLAN_FORK_WORKERS"


def _can_fork() -> bool:
    """Whether local workers may be forks of this process: on Linux only (macOS's system libraries are not
    safe to fork; Windows has no fork)."""
    import multiprocessing

    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _plain_streams_in_child() -> None:
    """In a forked worker: write to the process's own stdout and stderr, and log there as plain lines.

    Not through the parent's console: a progress display the parent starts after its first workers may
    hold the console's lock when the Nanny forks a worker again, and the copy of that lock in the worker
    would then never be released. The log handlers keep their level and filters; only what they write
    to changes (a worker Dask spawns logs plain lines too).
    """
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.__stdout__, sys.__stderr__):
            continue
        plain = logging.StreamHandler(sys.__stderr__)
        plain.setLevel(handler.level)
        plain.setFormatter(logging.Formatter("%(message)s"))
        for f in handler.filters:
            plain.addFilter(f)
        root.removeHandler(handler)
        root.addHandler(plain)


_at_fork_registered = False


def _client(scheduler: str | None, workers: int | None, *, fork: bool = False):
    """A Dask client: of the scheduler at ``scheduler``, or of a new local cluster of ``workers`` processes.

    ``fork``: start the local workers as forks of this process where :func:`_can_fork`. A worker Dask spawns
    is a new Python that imports siteplan again before its first task; a fork has it already, and the
    first plan starts about 1.5 s sooner. Fork copies only the thread that forks, and any lock another
    thread held stays held in the worker, so only a process that has no thread of its own at that moment
    may ask for it: the command line, which forks before its progress display starts and has solved
    nothing (HiGHS keeps threads between solves). Otherwise, and where fork is missing, Dask's spawn.
    """
    global _at_fork_registered
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SiteplanError('siteplan sweep needs Dask: pip install "siteplan[dask]" (or pip install "dask[distributed]")') from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as err:
            raise SiteplanError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({err}); "
                                "check the address, or leave --scheduler out to run on this machine") from None
    # Dask's own INFO lines (scheduler and worker start-up) are not the planner's business
    logging.getLogger("distributed").setLevel(max(logging.getLogger().level, logging.WARNING))
    n = workers or max(1, min(os.cpu_count() or 1, 4))
    method = "fork" if fork and _can_fork() else "spawn"
    if method == "fork" and not _at_fork_registered:
        os.register_at_fork(after_in_child=_plain_streams_in_child)
        _at_fork_registered = True
    with dask.config.set({"distributed.worker.multiprocessing-method": method}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, scheduler_kwargs={"dashboard": False})
    return Client(cluster), cluster


@contextlib.contextmanager
def _dask(scheduler: str | None, workers: int | None, *, fork: bool = False) -> Iterator:
    """A Dask client (see :func:`_client`), closed with its local cluster on the way out."""
    client, cluster = _client(scheduler, workers, fork=fork)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_sweep(
    scenario_path: str | Path,
    varies: Sequence[Vary],
    *,
    out_dir: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
    finished: Finished | None = None,
    fork_workers: bool = False,
) -> tuple[pd.DataFrame, Path]:
    """Solve every variant on a Dask cluster; write their folders and ``sweep.csv``.

    Parameters
    ----------
    scenario_path
        The base scenario TOML file.
    varies
        The settings to vary (see :func:`parse_vary`).
    out_dir
        Folder for the sweep; default ``out/<scenario name>-sweep``. Each
        variant writes into ``<out_dir>/<variant>/`` (as ``siteplan run``
        would), and ``sweep.csv`` (UTF-8 with BOM) compares them.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); default a
        local cluster of ``workers`` processes.
    workers
        Local worker processes (default: the cores, at most 4). Each variant
        solves with one HiGHS thread unless the scenario sets ``[solver] threads``.
    progress
        Called with a line for each step and each finished variant; default the log.
    finished
        Called as ``finished(done, total, row)``: once with ``done=0`` and no
        row when the variants are handed out, then as each finishes, in the
        order they finish, with its row of ``sweep.csv`` (for a live count).
    fork_workers
        Start the local workers as forks of this process (Linux), about 1.5 s
        sooner than new processes. Only for a process with no other thread
        when the cluster starts: no solve run before in it, and ``finished``
        drawing nothing before its first call (see :func:`_client`). The
        command line asks for it.

    Returns
    -------
    The comparison table and the sweep folder.
    """
    from .inputs.scenario import load_scenario

    say = progress or log.info
    path = Path(scenario_path)
    base = load_scenario(path)  # the base must be valid on its own
    data = _read_data(path)
    found = variants(data, varies, base_dir=path.parent, where=str(path))
    folder = Path(out_dir) if out_dir is not None else Path("out") / f"{base.plan.name}-sweep"
    folder.mkdir(parents=True, exist_ok=True)
    say(f"{len(found)} variant(s) of {base.plan.name}")
    jobs = [(v.data, path.parent, folder / v.name, path) for v in found]
    rows = _solve_on_dask(jobs, scheduler=scheduler, workers=workers, say=say, finished=finished, fork=fork_workers)
    table = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
    table["settings"] = [v.label for v in found]
    for key in (v.key for v in varies):
        table.insert(2, key, [v.settings[key] for v in found])
    _write_csv(table, folder / "sweep.csv")
    return table, folder


def _solve_on_dask(jobs: Sequence[tuple[dict, Path, Path, Path]], *, scheduler: str | None, workers: int | None,
                   say: Callable[[str], None], finished: Finished | None = None, fork: bool = False) -> list[dict]:
    """:func:`run_variant` of every ``(data, base_dir, out_dir, source)`` on a Dask cluster; their rows, in order.

    Each variant is reported as it finishes (``say`` a line, ``finished`` the count; see :func:`run_sweep`).
    """
    with _dask(scheduler, workers, fork=fork) as client:  # says how to install Dask when it is missing
        from dask.distributed import as_completed

        where = f"scheduler {scheduler}" if scheduler else f"{len(client.scheduler_info()['workers'])} local workers"
        say(f"Solving on Dask ({where})")
        futures = [
            client.submit(run_variant, data, str(Path(base).resolve()), str(Path(out).resolve()),
                          source=str(Path(source).resolve()), key=f"siteplan-{data['plan']['name']}-{k}", pure=False)
            for k, (data, base, out, source) in enumerate(jobs)
        ]
        order = {f.key: k for k, f in enumerate(futures)}
        rows: list[dict | None] = [None] * len(futures)
        if finished is not None:
            finished(0, len(futures), None)
        for done, future in enumerate(as_completed(futures), start=1):
            row = future.result()  # an error that is not siteplan's own stops the sweep, as gather did
            rows[order[future.key]] = row
            say(_finished_line(row, done, len(futures)))
            if finished is not None:
                finished(done, len(futures), row)
        return rows


def _finished_line(row: dict, done: int, total: int) -> str:
    """One line for a finished variant: its name, its count, its status and time."""
    seconds = row.get("runtime_s")
    took = f", {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
    return f"Finished {row['variant']} ({done} of {total}): {row['status']}{took}"


def _write_csv(table: pd.DataFrame, target: Path) -> None:
    """Write a comparison table beside ``target``, then move it in: a failed write leaves no half table."""
    from .outputs import export

    part = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        export.write_table_csv(table, part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _read_data(path: Path) -> dict:
    """A scenario file's data for the workers: one HiGHS thread each unless it says otherwise."""
    from .inputs.targets import inline_target_files

    data = tomllib.loads(path.read_bytes().decode("utf-8").removeprefix("\ufeff"))
    # [targets] tables read into [types], [zones], [districts] here, so that targets=0.9,1.1 scales them.
    data = inline_target_files(data, base_dir=path.parent, where=str(path))
    data.setdefault("solver", {}).setdefault("threads", 1)
    return data


def run_batch(
    scenario_paths: Sequence[str | Path],
    *,
    out_dir: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
    finished: Finished | None = None,
    fork_workers: bool = False,
) -> tuple[pd.DataFrame, Path]:
    """Solve several scenarios on a Dask cluster; write their folders and ``batch.csv``.

    For plans that share no rule, such as the cities of a province: each
    scenario keeps its own layers, targets and rules. Every scenario is
    read and validated before any work starts.

    Parameters
    ----------
    scenario_paths
        The scenario TOML files. Their ``[plan] name`` must differ, since
        each names its output folder.
    out_dir
        Folder for the batch; default ``out/batch``. Each scenario writes
        into ``<out_dir>/<plan name>/`` (as ``siteplan run`` would), and
        ``batch.csv`` (UTF-8 with BOM, columns :data:`BATCH_COLUMNS`)
        compares them.
    scheduler, workers, progress, finished, fork_workers
        As for :func:`run_sweep`.

    Returns
    -------
    The comparison table and the batch folder.

    Raises
    ------
    ScenarioError
        When a file is not a valid scenario, is named twice, or two
        scenarios share a plan name.
    """
    from .inputs.scenario import load_scenario

    say = progress or log.info
    paths = [Path(p) for p in scenario_paths]
    if not paths:
        raise ScenarioError("siteplan batch needs at least one scenario file")
    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:
            raise ScenarioError(f"{path}: named twice in the batch; name each scenario file once")
        seen.add(path.resolve())
    names: dict[str, Path] = {}
    for path in paths:
        name = load_scenario(path).plan.name  # each must be valid on its own
        if name in names:
            raise ScenarioError(f"{path}: [plan] name {name!r} is also the plan name of {names[name]}, and each names "
                                "its output folder; give each scenario its own [plan] name")
        names[name] = path
    folder = Path(out_dir) if out_dir is not None else Path("out") / "batch"
    folder.mkdir(parents=True, exist_ok=True)
    say(f"{len(paths)} scenario(s): {', '.join(names)}")
    jobs = [(_read_data(path), path.parent, folder / name, path) for name, path in names.items()]
    rows = _solve_on_dask(jobs, scheduler=scheduler, workers=workers, say=say, finished=finished, fork=fork_workers)
    table = pd.DataFrame(rows, columns=SWEEP_COLUMNS).drop(columns="settings")
    table.insert(0, "scenario", [str(p) for p in names.values()])
    table = table[BATCH_COLUMNS]
    _write_csv(table, folder / "batch.csv")
    return table, folder
