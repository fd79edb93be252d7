"""Solver adapters: a compiled model to a :class:`SolveResult`, by HiGHS or by CBC through pulp.

Two adapters take a :class:`~siteplan.model.builder.CompiledModel`:

- ``"highs"`` (default): the arrays go straight to HiGHS through highspy;
- ``"cbc"``: the model is handed to CBC through pulp (slower; also the way
  to write ``.lp``/``.mps`` files with :func:`to_pulp`).

:func:`solve_model` picks one; HiGHS runs stoppable by Ctrl-C (:func:`_run`).
Also here: the small variants of a model the search stages solve (relaxed,
with rows added, over a subset of columns).
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import SolverError
from ..model.builder import CompiledModel

if TYPE_CHECKING:
    import pulp

__all__ = ["SolveResult", "solve_model", "to_pulp"]

log = logging.getLogger(__name__)

#: The least time any solver step is given, seconds. Sifting, the dive and
#: the search import it by name, so a test that patches it patches each of them.
MIN_STEP_S = 0.5


@dataclass(frozen=True)
class SolveResult:
    """What a solver returned for one model."""

    solver: str
    status: str
    has_solution: bool
    optimal: bool
    time_limit_hit: bool
    x: np.ndarray
    objective: float
    bound: float
    gap: float
    runtime_s: float
    row_dual: np.ndarray | None = None


def solver_log() -> bool:
    """Whether the solvers may print their own log (HiGHS's banner and progress,
    CBC's messages): only when siteplan logs at DEBUG level."""
    return logging.getLogger("siteplan").isEnabledFor(logging.DEBUG)


@functools.cache
def _quiet_highs_class():
    """A ``highspy.Highs`` that sets its log options before its first call.

    highspy's constructor enables the callbacks, and that first call into
    HiGHS prints its banner ("Running HiGHS ...") unless ``output_flag`` is
    already off; options can only be set once the object exists, so they
    are set at that step.
    """
    try:
        import highspy
    except ImportError:
        raise SolverError("HiGHS is not installed: run `pip install highspy`, or set [solver] name = \"cbc\"") from None

    class QuietHighs(highspy.Highs):
        def enableCallbacks(self):
            loud = solver_log()
            self.setOptionValue("output_flag", loud)
            self.setOptionValue("log_to_console", loud)
            return super().enableCallbacks()

    return QuietHighs


def _new_highs():
    """A HiGHS instance that prints nothing unless siteplan logs at DEBUG level (:func:`solver_log`)."""
    h = _quiet_highs_class()()
    loud = solver_log()
    h.setOptionValue("output_flag", loud)
    h.setOptionValue("log_to_console", loud)
    return h


def _highs(model: CompiledModel, *, time_limit_s: float, gap: float, threads: int | None, seed: int, abs_gap: float = 0.0):
    """A HiGHS instance holding the model, options set, not yet run."""
    try:
        import highspy
    except ImportError:
        raise SolverError("HiGHS is not installed: run `pip install highspy`, or set [solver] name = \"cbc\"") from None
    A = model.A.tocsc()
    lp = highspy.HighsLp()
    lp.num_col_ = model.n_cols
    lp.num_row_ = model.n_rows
    lp.col_cost_ = model.cost
    lp.col_lower_ = model.col_lower
    lp.col_upper_ = model.col_upper
    lp.row_lower_ = model.row_lower
    lp.row_upper_ = model.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    if model.integrality.any():
        kint, kcont = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
        lp.integrality_ = [kint if v else kcont for v in model.integrality]
    h = _new_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(gap))
    if abs_gap > 0:
        h.setOptionValue("mip_abs_gap", float(abs_gap))
    h.setOptionValue("random_seed", int(seed))
    if threads:
        h.setOptionValue("threads", int(threads))
    h.passModel(lp)
    return h


def _highs_result(h, model: CompiledModel, runtime: float) -> SolveResult:
    import highspy

    status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2
    solution = h.getSolution()
    n = h.getNumCol()
    x = np.asarray(solution.col_value, dtype=float) if has_solution else np.zeros(n)
    row_dual = None
    if has_solution and not model.integrality.any() and solution.dual_valid:
        row_dual = np.asarray(solution.row_dual, dtype=float)
    objective = float(info.objective_function_value) if has_solution else float("nan")
    if model.integrality.any():
        bound, mip_gap = float(info.mip_dual_bound), float(info.mip_gap)
    else:
        bound, mip_gap = objective, 0.0
    return SolveResult(
        solver="highs",
        status=h.modelStatusToString(status),
        has_solution=has_solution,
        optimal=status == highspy.HighsModelStatus.kOptimal,
        time_limit_hit=status == highspy.HighsModelStatus.kTimeLimit,
        x=x,
        objective=objective,
        bound=bound,
        gap=mip_gap,
        runtime_s=runtime,
        row_dual=row_dual,
    )


def _solve_highs(model: CompiledModel, *, time_limit_s: float, gap: float, threads: int | None, seed: int, start: np.ndarray | None = None, abs_gap: float = 0.0) -> SolveResult:
    h = _highs(model, time_limit_s=time_limit_s, gap=gap, threads=threads, seed=seed, abs_gap=abs_gap)
    import highspy  # after _highs, which turns a missing highspy into a SolverError

    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=float)
        sol.value_valid = True
        h.setSolution(sol)
    t0 = time.perf_counter()
    _run(h)
    result = _highs_result(h, model, time.perf_counter() - t0)
    if start is not None and result.has_solution and not np.isclose(float(model.cost @ result.x), result.objective,
                                                                      rtol=1e-6, atol=1e-6):
        # HiGHS 1.16 hands back the start itself as the solution when presolve
        # solves the MIP outright (no node), though it reports the better
        # objective; the same model without the start returns the true plan.
        log.debug("HiGHS returned its start instead of its solution; solving again without the start")
        left = max(MIN_STEP_S, time_limit_s - result.runtime_s)
        again = _solve_highs(model, time_limit_s=left, gap=gap, threads=threads, seed=seed, abs_gap=abs_gap)
        return dataclasses.replace(again, runtime_s=result.runtime_s + again.runtime_s)
    return result


#: Seconds :func:`_run` waits for HiGHS to stop after Ctrl-C. HiGHS checks the
#: interrupt only in its main search: a sub-MIP (RINS, RENS) or a root LP runs
#: on until it ends, and on the demo's over-constrained scenario that kept a
#: Ctrl-C waiting 10-27 s. Past this wait the run is left to its thread.
INTERRUPT_WAIT_S = 1.5

#: HiGHS runs a Ctrl-C left to their threads (see :func:`_abandon`).
_abandoned: list = []


def _run(h) -> None:
    """``h.run()``, stoppable by Ctrl-C within about :data:`INTERRUPT_WAIT_S`.

    HiGHS runs in highspy's solver thread while this one waits, so a
    KeyboardInterrupt arrives at once instead of when the solver returns
    (up to the whole time limit later). HiGHS is then asked to stop
    (highspy's user interrupt, which simplex, IPM and the MIP's main search
    check as they go) and waited for up to ``INTERRUPT_WAIT_S``; a run still
    going then is abandoned (:func:`_abandon`). Either way the interrupt is
    raised again.
    """
    h.HandleUserInterrupt = True
    h.startSolve()
    try:
        while not h.wait(0.1)[0]:
            pass
    except KeyboardInterrupt as stop:
        h.cancelSolve()
        until, stopped = time.monotonic() + INTERRUPT_WAIT_S, False
        while not stopped and time.monotonic() < until:
            try:
                stopped = h.wait(0.1)[0]
            except KeyboardInterrupt:  # pressed again: HiGHS is stopping already
                continue
        if not stopped:
            _abandon(h)
        raise stop from None


def _abandon(h) -> None:
    """Leave a HiGHS run that did not stop after Ctrl-C to its thread, and make
    the process end at once when Python exits.

    The instance is kept (its thread uses it) and marked, so nothing
    touches it again (:func:`is_abandoned`). At exit, while that run is
    still going, the process ends by ``os._exit(130)`` (the exit code of
    Ctrl-C) after flushing the logs and the console: Python's normal
    shutdown would tear down the interpreter and HiGHS's threads under a
    solve still running in C++, which can hang or crash the exit. The
    exception has by then gone through every ``finally`` and the caller's
    handler (``siteplan run`` prints its line there), and a run is
    interrupted only while solving, before any output is written, so
    nothing is half-written.
    """
    log.warning("HiGHS did not stop within %g s of Ctrl-C; leaving it to its thread", INTERRUPT_WAIT_S)
    if not _abandoned:
        atexit.register(_exit_now)
    _abandoned.append(h)


def is_abandoned(h) -> bool:
    """Whether the HiGHS instance ``h`` is still running a solve abandoned after Ctrl-C (leave it alone)."""
    return any(a is h for a in _abandoned) and h.is_solver_running()


def _exit_now() -> None:
    if any(a.is_solver_running() for a in _abandoned):
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(130)


def _run_for(h, seconds: float) -> None:
    """Run a HiGHS instance for at most ``seconds`` more: its time limit counts
    the instance's own run time across every ``run()``, so a limit of just
    ``seconds`` would stop a later run early."""
    h.setOptionValue("time_limit", h.getRunTime() + float(seconds))
    _run(h)


def _without_rows_since(h, n_rows: int, basis, seconds: float) -> int:
    """Take the rows past the first ``n_rows`` out of ``h``, give it back ``basis`` (its basis before them)
    and re-solve for at most ``seconds`` (from an optimal basis: no iteration); the number of rows taken out.

    Where lazy disc rows made an LP re-solve too slowly: the sifting LP and the dive go on without them."""
    extra = np.arange(n_rows, h.getNumRow(), dtype=np.int32)
    h.deleteRows(len(extra), extra)
    h.setBasis(basis)
    _run_for(h, seconds)
    return len(extra)


#: The sifting LP and the dive re-solve by HiGHS's parallel dual simplex (PAMI, ``simplex_strategy = 2``)
#: while other processes leave at least this much of a core idle beside the solve's own. The iterations
#: are the same as by serial dual simplex; on a quiet 2-core machine the 10,000-parcel benchmark solved
#: in 13.0 s instead of 16.4 s, but with one core kept busy by another process in 30.3 s instead of 15.5 s.
SPARE_CORE = 0.5


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class ParallelSimplex:
    """Switches a HiGHS instance between serial and parallel dual simplex by what the machine has spare.

    :meth:`choose` before each re-solve measures, since the last call, how
    many cores the other processes kept busy (all the machine's busy time
    from ``/proc/stat``, less this process's own CPU time): the parallel
    variant only where a core is left idle (:data:`SPARE_CORE`). With
    ``threads`` set to 1 (a batch worker's share), and where the machine
    does not say (not Linux), the solve stays serial. In a container
    ``/proc/stat`` may count the whole host: busy neighbours then keep the
    solve serial, the safe side. A program that starts mid-solve costs the
    one re-solve running then (at 10k one took 5 s instead of 1.8 s) before
    the next is serial.
    """

    def __init__(self, threads: int | None) -> None:
        self.cores = _usable_cores() if not threads else min(int(threads), _usable_cores())
        self.parallel = False
        self._last = self._read() if self.cores >= 2 else None

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        """(seconds the machine's cores were busy, this process's CPU seconds, wall clock)."""
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                f = fh.readline().split()
            ticks = [int(v) for v in f[1:9]]
            tick = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, AttributeError):
            return None
        busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]  # user nice system irq softirq steal
        return busy / tick, time.process_time(), time.perf_counter()

    def spare(self) -> float | None:
        """Cores idle since the last call, beside one for this solve; None if unknown or too soon to tell."""
        if self._last is None:
            return None
        now, last = self._read(), self._last
        if now is None or now[2] - last[2] < 0.05:
            return None
        self._last = now
        others = ((now[0] - last[0]) - (now[1] - last[1])) / (now[2] - last[2])
        return self.cores - 1 - max(others, 0.0)

    def choose(self, h) -> None:
        """Set ``h``'s simplex strategy for its next run."""
        spare = self.spare()
        if spare is None:
            return
        want = spare >= SPARE_CORE
        if want != self.parallel:
            h.setOptionValue("simplex_strategy", 2 if want else 1)
            self.parallel = want
            log.debug("Simplex: %s (%.1f cores spare)", "parallel dual" if want else "serial dual", spare)


def to_pulp(model: CompiledModel, *, name: str = "siteplan") -> pulp.LpProblem:
    """The compiled model as a pulp problem (for CBC, or ``writeLP``/``writeMPS``)."""
    import pulp

    prob = pulp.LpProblem(name, pulp.LpMinimize)
    xs = [
        prob.add_variable(
            f"x{j}",
            lowBound=float(model.col_lower[j]),
            upBound=None if not np.isfinite(model.col_upper[j]) else float(model.col_upper[j]),
            cat=pulp.LpInteger if model.integrality[j] else pulp.LpContinuous,
        )
        for j in range(model.n_cols)
    ]
    prob += pulp.LpAffineExpression([(xs[j], float(c)) for j, c in enumerate(model.cost) if c != 0.0])
    A = model.A
    for r in range(model.n_rows):
        lo, hi = A.indptr[r], A.indptr[r + 1]
        expr = pulp.LpAffineExpression([(xs[j], float(v)) for j, v in zip(A.indices[lo:hi], A.data[lo:hi])])
        lb, ub = model.row_lower[r], model.row_upper[r]
        if np.isfinite(lb) and np.isfinite(ub) and lb == ub:
            prob += expr == float(lb), f"r{r}"
            continue
        if np.isfinite(lb):
            prob += expr >= float(lb), f"r{r}_lo"
        if np.isfinite(ub):
            prob += expr <= float(ub), f"r{r}_hi"
    return prob


def _solve_cbc(model: CompiledModel, *, time_limit_s: float, gap: float, threads: int | None, seed: int, start: np.ndarray | None = None, abs_gap: float = 0.0) -> SolveResult:
    import pulp

    prob = to_pulp(model)
    opts = dict(msg=solver_log(), timeLimit=time_limit_s, gapRel=gap, gapAbs=abs_gap or None, threads=threads, options=[f"randomSeed {seed or 1}"])
    cmd = pulp.COIN_CMD(**opts)
    if not cmd.available():
        # The CBC binary bundled with pulp 3.x: deprecated there, still the
        # one every pulp install has.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cmd = pulp.PULP_CBC_CMD(**opts)
    if not cmd.available():
        raise SolverError("CBC is not available to pulp; reinstall pulp (`pip install --force-reinstall pulp`) or use [solver] name = \"highs\"")
    t0 = time.perf_counter()
    prob.solve(cmd)
    runtime = time.perf_counter() - t0
    has_solution = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    variables = {v.name: v.value() for v in prob.variables()}
    x = np.array([variables.get(f"x{j}") or 0.0 for j in range(model.n_cols)]) if has_solution else np.zeros(model.n_cols)
    objective = float(model.cost @ x) if has_solution else float("nan")
    optimal = prob.sol_status == pulp.LpSolutionOptimal
    return SolveResult(
        solver="cbc",
        status=pulp.LpSolution[prob.sol_status],
        has_solution=has_solution,
        optimal=optimal,
        time_limit_hit=has_solution and not optimal,
        x=x,
        objective=objective,
        bound=objective if optimal else float("nan"),
        gap=0.0 if optimal else float("nan"),
        runtime_s=runtime,
    )


def solve_model(
    model: CompiledModel,
    *,
    solver: Literal["highs", "cbc"] = "highs",
    time_limit_s: float = 120.0,
    gap: float = 0.01,
    threads: int | None = None,
    seed: int = 0,
    start: np.ndarray | None = None,
    abs_gap: float = 0.0,
) -> SolveResult:
    """Solve a compiled model with one adapter; never raises on infeasibility.

    ``start`` is a feasible solution to start from (HiGHS uses it; CBC
    ignores it). ``abs_gap``, when positive, also stops the search once the
    objective is within that much of the bound.
    """
    adapters = {"highs": _solve_highs, "cbc": _solve_cbc}
    if solver not in adapters:
        raise SolverError(f"unknown solver {solver!r}; use one of {sorted(adapters)}")
    return adapters[solver](model, time_limit_s=time_limit_s, gap=gap, threads=threads, seed=seed, start=start, abs_gap=abs_gap)


def _relaxed(model: CompiledModel) -> CompiledModel:
    return dataclasses.replace(model, integrality=np.zeros_like(model.integrality))


def _restricted(model: CompiledModel, keep_z: np.ndarray) -> CompiledModel:
    """The model with every parcel-year outside ``keep_z`` closed (z = 0, u = 0)."""
    ctx = model.ctx
    upper = model.col_upper.copy()
    upper[ctx.z_col(np.nonzero(~keep_z)[0])] = 0.0
    upper[: ctx.n_u][~keep_z[ctx.u_z]] = 0.0
    return dataclasses.replace(model, col_upper=upper)


def _rel_gap(objective: float, bound: float) -> float:
    return abs(objective - bound) / max(abs(objective), 1e-9)


#: Relative difference below which a plan counts as at its bound, or a gap as within its limit: float
#: noise, far below HiGHS's own tolerances (1e-7). With a gap of 0 (the search for the least shortfall), a restricted MIP's optimum of
#: 7874.957405163033 against an LP bound one digit higher in the last place was taken as short of the
#: bound, and a full MIP of 4 s followed on the over-constrained demo.
GAP_TOL = 1e-9


def _within_gap(objective: float, bound: float, gap: float) -> bool:
    """Whether ``objective`` is within the relative ``gap`` of ``bound`` (up to :data:`GAP_TOL`)."""
    return _rel_gap(objective, bound) <= gap + GAP_TOL


def _lex_key(model: CompiledModel, x: np.ndarray) -> tuple[float, float]:
    """Shortfall first (to a thousandth of a unit), then the penalised objective: the order plans are compared in."""
    return round(float(model.slice_s(x).sum()), 3), float(model.cost @ x)


def _with_rows(model: CompiledModel, block: sp.spmatrix, lb, ub, *, rule: str) -> CompiledModel:
    """The model with the hard rows ``lb <= block x <= ub`` added (``block``
    has one column per model column; ``lb``, ``ub`` scalars or one per row)."""
    m = block.shape[0]
    rows = pd.concat([model.rows, pd.DataFrame({"rule": [rule] * m, "elastic": [""] * m})], ignore_index=True)
    return dataclasses.replace(
        model,
        A=sp.vstack([model.A, block], format="csr"),
        row_lower=np.append(model.row_lower, np.broadcast_to(lb, (m,))),
        row_upper=np.append(model.row_upper, np.broadcast_to(ub, (m,))),
        rows=rows,
    )


def _with_row(model: CompiledModel, cols: np.ndarray, vals: np.ndarray, lb: float, ub: float, *, rule: str) -> CompiledModel:
    """The model with one more row ``lb <= sum vals x[cols] <= ub``."""
    row = sp.csr_matrix((vals, (np.zeros(len(cols), dtype=int), cols)), shape=(1, model.n_cols))
    return _with_rows(model, row, lb, ub, rule=rule)


def _over_columns(model: CompiledModel, cols: np.ndarray) -> CompiledModel:
    """The model over the columns ``cols`` alone (the others left out, as if fixed at 0)."""
    return dataclasses.replace(model, A=model.A[:, cols], cost=model.cost[cols], col_lower=model.col_lower[cols],
                               col_upper=model.col_upper[cols], integrality=model.integrality[cols])


def _solve_columns(model: CompiledModel, cols: np.ndarray, *, start: np.ndarray | None = None, **kw) -> SolveResult:
    """Solve the model over a subset of its columns (the others fixed at 0).

    The result's ``x`` is mapped back to all columns.
    """
    sub = _over_columns(model, cols)
    res = solve_model(sub, start=None if start is None else start[cols], **kw)
    x = np.zeros(model.n_cols)
    x[cols] = res.x
    return dataclasses.replace(res, x=x)


def _columns_of(model: CompiledModel, keep_z: np.ndarray) -> np.ndarray:
    """Columns of the kept parcel-years (their u and z), plus every auxiliary and shortfall column."""
    ctx = model.ctx
    u = np.nonzero(keep_z[ctx.u_z])[0]
    z = ctx.z_col(np.nonzero(keep_z)[0])
    rest = np.arange(ctx.n_u + ctx.n_z, model.n_cols)
    return np.concatenate([u, z, rest])
