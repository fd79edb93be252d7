"""Solver adapters and the two-step solve that delivers whole units.

Two adapters take a :class:`~siteplan.model.problem.CompiledModel`:

- ``"highs"`` (default): the arrays go straight to HiGHS through highspy;
- ``"cbc"``: the model is handed to CBC through pulp (slower; also the way
  to write ``.lp``/``.mps`` files with :func:`to_pulp`).

:func:`solve_problem` solves the model with continuous units, then makes
the units whole on the chosen parcel-years: by rounding with repair
(:mod:`siteplan.solve.rounding`) when that stays within the gap, else by solving
again with those parcel-years fixed and integer units. Both keep the same
rows, so the delivered plan keeps every rule the first one did.
A status without a solution raises :class:`~siteplan.errors.SolverError`
with the solver's own words; a time limit with a solution returns the best
plan found and says so.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import SolverError
from ..model.problem import CompiledModel, Problem

if TYPE_CHECKING:
    import pulp

    from .plan import Plan

__all__ = ["SolveResult", "solve_model", "solve_problem", "solve_compiled", "to_pulp"]

log = logging.getLogger(__name__)


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
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
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
    import highspy

    h = _highs(model, time_limit_s=time_limit_s, gap=gap, threads=threads, seed=seed, abs_gap=abs_gap)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=float)
        sol.value_valid = True
        h.setSolution(sol)
    t0 = time.perf_counter()
    _run(h)
    return _highs_result(h, model, time.perf_counter() - t0)


def _run(h) -> None:
    """``h.run()``, stoppable by Ctrl-C.

    HiGHS runs in highspy's solver thread while this one waits, so a
    KeyboardInterrupt arrives at once instead of when the solver returns
    (up to the whole time limit later). HiGHS is then asked to stop
    (highspy's user interrupt, which simplex, IPM and the MIP check as
    they go), its thread is waited for, and the interrupt raised again.
    """
    h.HandleUserInterrupt = True
    h.startSolve()
    try:
        while not h.wait(0.1)[0]:
            pass
    except KeyboardInterrupt as stop:
        h.cancelSolve()
        while True:
            try:
                if h.wait(0.1)[0]:
                    break
            except KeyboardInterrupt:  # pressed again: HiGHS is stopping already
                continue
        raise stop


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
    opts = dict(msg=False, timeLimit=time_limit_s, gapRel=gap, gapAbs=abs_gap or None, threads=threads, options=[f"randomSeed {seed or 1}"])
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


def _fixed_for_rounding(model: CompiledModel, x: np.ndarray) -> CompiledModel:
    """The same model with the chosen parcel-years fixed and units integer."""
    ctx = model.ctx
    z = np.round(model.slice_z(x))
    lower, upper = model.col_lower.copy(), model.col_upper.copy()
    zc = ctx.z_col(np.arange(ctx.n_z))
    lower[zc] = z
    upper[zc] = z
    unused = z[ctx.u_z] == 0
    upper[: ctx.n_u][unused] = 0.0
    integrality = model.integrality.copy()
    integrality[: ctx.n_u] = True
    return dataclasses.replace(model, col_lower=lower, col_upper=upper, integrality=integrality)


def _half_shortfall_unit(model: CompiledModel) -> float:
    """Half the cheapest unit of shortfall: the whole-unit step never gives up
    this much, so it never buys score with a broken target (inf without any)."""
    slack_cost = model.cost[model.n_core :]
    return 0.5 * float(slack_cost.min()) if len(slack_cost) else np.inf


def _rounding_abs_gap(model: CompiledModel, x: np.ndarray) -> float:
    """Absolute gap of the whole-unit step: ``ROUNDING_GAP`` of the plan's score,
    below half the cheapest shortfall unit (see ``ROUNDING_GAP``)."""
    score = abs(float(model.cost[: model.ctx.n_u] @ x[: model.ctx.n_u]))
    return float(min(ROUNDING_GAP * score, _half_shortfall_unit(model)))


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


def _solve_columns(model: CompiledModel, cols: np.ndarray, *, start: np.ndarray | None = None, **kw) -> SolveResult:
    """Solve the model over a subset of its columns (the others fixed at 0).

    The result's ``x`` is mapped back to all columns.
    """
    sub = dataclasses.replace(
        model,
        A=model.A[:, cols],
        cost=model.cost[cols],
        col_lower=model.col_lower[cols],
        col_upper=model.col_upper[cols],
        integrality=model.integrality[cols],
    )
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


def _forced_z(model: CompiledModel) -> np.ndarray:
    """Parcel-years a hard row may force: every year of a parcel that appears in a
    hard (not elastic) row with a positive lower bound (lock-in, inclusionary)."""
    ctx = model.ctx
    zc = slice(ctx.n_u, ctx.n_u + ctx.n_z)
    hard = (model.rows["elastic"] == "").to_numpy()
    rows = np.nonzero((model.row_lower > 0) & np.isfinite(model.row_lower) & hard)[0]
    if not len(rows):
        return np.zeros(ctx.n_z, dtype=bool)
    sub = model.A[rows][:, zc]
    hit = np.zeros(ctx.n_z, dtype=bool)
    hit[np.unique(sub.indices)] = True
    parcels = np.unique(ctx.z_parcel[hit])
    forced = np.isin(ctx.z_parcel, parcels)
    # also parcels whose units appear in such rows (lock-in "units" rows)
    usub = model.A[rows][:, : ctx.n_u]
    if usub.nnz:
        forced |= np.isin(ctx.z_parcel, np.unique(ctx.u_parcel[np.unique(usub.indices)]))
    return forced


#: Parcel-years the first sifting LP starts from, and how many to add per round.
SIFT_START = 1500
SIFT_ADD = 1500
#: The start set holds, for every elastic row with a lower bound (a target,
#: a minimum share), parcel-years that could place this many times the bound.
#: Generous, because project sizes, projects per district and year and the
#: radius cap let a parcel hold far less than its plot ratio allows: on the
#: 20,000-parcel benchmark the first LP left 19,000 units short with 3,
#: 3,600 with 8 and none with 20 (9.7 s, within 0.02% of the whole LP).
SIFT_COVER = 20.0


def _covering_z(model: CompiledModel, best: np.ndarray) -> np.ndarray:
    """Parcel-years that cover every elastic lower bound ``SIFT_COVER`` times.

    For each elastic row with a positive lower bound, the best-scoring
    parcel-years whose units count in that row are taken until their
    capacity in the row (coefficient x unit bound, the largest over the
    parcel-year's types) reaches ``SIFT_COVER`` times the bound. A start set
    of only the best scores misses the outer districts, the parks and the
    minimum shares, so the first LPs are mostly shortfall and sifting needs
    many rounds to repair that.
    """
    ctx = model.ctx
    keep = np.zeros(ctx.n_z, dtype=bool)
    elastic = (model.rows["elastic"].isin(["lower", "both"])).to_numpy()
    rows = np.nonzero(elastic & np.isfinite(model.row_lower) & (model.row_lower > 0))[0]
    if not len(rows):
        return keep
    sub = model.A[rows][:, : ctx.n_u].tocoo()
    pos = sub.data > 0
    r, u = sub.row[pos], sub.col[pos]
    room = sub.data[pos] * model.col_upper[u]
    z = ctx.u_z[u]
    # one entry per (row, parcel-year): its largest room over types
    key = r.astype(np.int64) * ctx.n_z + z
    order = np.lexsort((-room, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    pick = order[first]
    r, z, room = r[pick], z[pick], room[pick]
    # within each row, best score first; keep until the cover is reached
    order = np.lexsort((-best[z], r))
    r, z, room = r[order], z[order], room[order]
    cum = np.cumsum(room)
    run_start = np.searchsorted(r, r)  # where each row's run starts
    before = (cum - room) - (cum[run_start] - room[run_start])
    need = SIFT_COVER * model.row_lower[rows][r]
    keep[z[before < need]] = True
    return keep


#: Gap of the whole-unit step, relative to the plan's suitability score:
#: rounding moves the objective by a few units, so proving the last of them
#: optimal is not worth minutes. The step's gap is absolute and stays below
#: half a unit of shortfall penalty, so it never buys score with a broken target.
ROUNDING_GAP = 1e-3
#: Share of the search's time that sifting may take before the MIP gets the rest.
SIFT_SHARE = 0.5
#: Past that share, sifting still goes on while fewer than this share of the
#: LP's parcel-years price in: re-solving with them is quick, and proves the
#: bound. On a 20,000-parcel city the first LP took 50 s of a 51 s share and
#: left 4 of 8,936 pricing in; the round that added them took 0.25 s, and
#: without it the run had no bound and reported no gap.
SIFT_FEW = 0.05
#: Share of the time limit for the search; the whole-unit step has the rest.
SEARCH_SHARE = 0.85
#: The least time any solver step is given, seconds.
MIN_STEP_S = 0.5
#: Extra time for the whole-unit step when the limit left it too little.
ROUNDING_EXTRA_S = 60.0


def _run_for(h, seconds: float) -> None:
    """Run a HiGHS instance for at most ``seconds`` more: its time limit counts
    the instance's own run time across every ``run()``, so a limit of just
    ``seconds`` would stop a later run early."""
    h.setOptionValue("time_limit", h.getRunTime() + float(seconds))
    _run(h)


@dataclass
class _Sifted:
    """A sifted LP: its solution (over all columns), whether it is the whole
    LP's optimum, and the HiGHS instance holding the LP over the columns
    ``cols`` (with its last basis, for the dive)."""

    res: SolveResult
    proven: bool
    highs: object
    cols: np.ndarray


def _sifted_lp(model: CompiledModel, *, left, opts: dict) -> _Sifted | None:
    """The LP relaxation by sifting (column generation over parcel-years).

    Starts from the best-scoring parcel-years (and any a hard row may
    force), solves the LP over them, prices every other column with the
    duals, adds those with negative reduced cost, and re-solves from the
    last basis, until no column prices in: the result is the optimum of
    the whole LP, a valid bound. Returns the solution and whether it is
    that optimum (``proven``): when the rounds take
    more than ``SIFT_SHARE`` of the time left and more than ``SIFT_FEW`` of
    the LP's parcel-years still price in, sifting stops with the last
    round's LP, which is no bound but still says which parcels are worth
    the MIP's time (``False``). Returns None where duals are not available
    (CBC) or the LP fails, so the caller solves the whole LP.
    """
    if opts.get("solver", "highs") != "highs":
        return None
    ctx = model.ctx
    relaxed = _relaxed(model)
    score = -model.cost[: ctx.n_u]
    best = np.full(ctx.n_z, -np.inf)
    np.maximum.at(best, ctx.u_z, score)
    keep = _forced_z(model) | _covering_z(model, best)
    order = np.argsort(-best, kind="stable")
    keep[order[: max(SIFT_START, ctx.n_z // 10)]] = True
    cols = _columns_of(model, keep)
    sub = dataclasses.replace(relaxed, A=model.A[:, cols], cost=model.cost[cols], col_lower=model.col_lower[cols],
                              col_upper=model.col_upper[cols], integrality=np.zeros(len(cols), dtype=bool))
    h = _highs(sub, time_limit_s=left(), gap=0.0, threads=opts.get("threads"), seed=opts.get("seed", 0))
    AT = model.A.T.tocsr()
    A_csc = model.A.tocsc()
    t0 = time.perf_counter()
    budget = SIFT_SHARE * left()
    for _ in range(100):
        _run_for(h, left())
        res = _highs_result(h, sub, time.perf_counter() - t0)
        if not (res.has_solution and res.optimal and res.row_dual is not None):
            return None
        reduced = model.cost - AT @ res.row_dual
        neg = reduced < -1e-7
        u_neg = np.nonzero(neg[: ctx.n_u])[0]
        worst = np.zeros(ctx.n_z)
        np.minimum.at(worst, ctx.u_z[u_neg], reduced[u_neg])
        z_neg = np.nonzero(neg[ctx.n_u : ctx.n_u + ctx.n_z])[0]
        worst[z_neg] = np.minimum(worst[z_neg], reduced[ctx.z_col(z_neg)])
        cand = np.nonzero((worst < 0) & ~keep)[0]
        log.info("Sifting: %d parcel-years in the LP, %d price in", int(keep.sum()), len(cand))
        x = np.zeros(model.n_cols)
        x[cols] = res.x
        if not len(cand):
            return _Sifted(dataclasses.replace(res, x=x), True, h, cols)
        few = len(cand) <= SIFT_FEW * keep.sum()  # a round that adds these is quick
        if (time.perf_counter() - t0 > budget and not few) or left() <= MIN_STEP_S:
            log.warning("Sifting stopped by the time limit with %d parcel-years still pricing in: no LP bound, "
                        "the MIP starts from the last LP's parcels", len(cand))
            return _Sifted(dataclasses.replace(res, x=x, optimal=False), False, h, cols)
        add = cand[np.argsort(worst[cand], kind="stable")][: max(SIFT_ADD, int(keep.sum()) // 2)]
        keep[add] = True
        new = np.concatenate([np.nonzero(np.isin(ctx.u_z, add))[0], ctx.z_col(add)])
        block = A_csc[:, new]
        h.addCols(len(new), model.cost[new], model.col_lower[new], model.col_upper[new], block.nnz,
                  block.indptr[:-1].astype(np.int32), block.indices.astype(np.int32), block.data)
        cols = np.concatenate([cols, new])
        sub = dataclasses.replace(sub, cost=np.concatenate([sub.cost, model.cost[new]]), integrality=np.zeros(len(cols), dtype=bool))
    return None


#: Share of the fractional parcel-years the LP dive fixes to 1 in each round
#: (all that the hard rows allow, see :func:`_dive_rows`; a refused batch is halved).
DIVE_SHARE = 1.0
#: Share of the search time left that the LP dive may take before the MIP gets the rest.
#: A dive stopped early leaves nothing, and a MIP over 20,000 parcels finds little in the
#: time after it: with 0.4 of a 120 s limit the dive stopped after 3 rounds and the MIP's
#: plan was 28,921 units short. With 0.8 it finished in one of three runs (36 s, a plan
#: meeting every target), as sifting took 38-50 s.
DIVE_TIME_SHARE = 0.8
#: The dive's last round fixes the parcel-years the LP mostly uses (z >= 0.5)
#: and closes every other, so its LP's binaries are whole. It comes after
#: ``DIVE_MAX_ROUNDS`` rounds, or sooner when the time left is less than
#: ``DIVE_FINISH_ROUNDS`` times the last round took, so a dive that would
#: run out of time still ends with a plan. Rounds after the second fix a few
#: parcel-years each: on the 20,000-parcel benchmark they took 11 s apiece,
#: and the dive 88 s to a plan of score 250,409; ending with the third round,
#: 20 s to 250,871. At 10,000 parcels 133,068 became 133,078; at 1,000 the
#: third round's plan was short, so that dive went on to the same plan as
#: before (14,265), the undone round costing about 0.1 s of a 0.5 s solve.
DIVE_MAX_ROUNDS = 2
DIVE_FINISH_ROUNDS = 2.0
#: A dive round that fixes or closes at least this many fractional
#: parcel-years solves its LP afresh (presolve, then simplex) instead of from
#: the last basis: on the 20,000-parcel benchmark the first round took 13 s
#: that way against 26-31 s; at 10,000 parcels the two are alike.
DIVE_COLD = 200


def _dive_rows(model: CompiledModel) -> tuple[sp.csc_matrix, np.ndarray]:
    r"""What fixing each parcel-year to 1 adds, at the least, to the hard rows
    with an upper bound: ``(W, room)`` with ``W`` (rows x parcel-years) and
    ``room`` the upper bound less the rows' least activity with nothing fixed.

    Fixing :math:`z_j = 1` adds the row's coefficient of :math:`z_j` (one
    supply year, projects per district and year, the radius cap's centre
    term) and the least units the parcel-year must then hold, from the hard
    rows :math:`\sum_t a_t u_{jt} + b z_j \ge L` over its units alone
    (the project minimum; an inclusionary share), times the smallest
    coefficient of its units in the row (a circle of the radius cap, the
    budget). Auxiliary columns are substituted by the units they sum. A set
    of parcel-years whose sums pass ``room`` cannot all be fixed; a set
    that stays within it still may not be (the rows are checked one at a
    time), so the dive also backs off from an infeasible LP.
    """
    from .rounding import over_units

    ctx = model.ctx
    n_u, n_z = ctx.n_u, ctx.n_z
    hard = (model.rows["elastic"] == "").to_numpy()
    A = model.A.tocsc()
    # without a definition of some auxiliary column, its terms are left out
    U, const = over_units(model) or (A[:, :n_u], np.zeros(model.n_rows))
    Z = A[:, n_u : n_u + n_z].tocsr()
    # least units of each parcel-year once it is used
    least = np.zeros(n_z)
    lb_rows = np.nonzero(hard & np.isfinite(model.row_lower))[0]
    Ul, Zl = U[lb_rows].tocsr(), Z[lb_rows]
    u_coo = Ul.tocoo()
    pz = ctx.u_z[u_coo.col]
    # rows over one parcel-year's units with positive coefficients only
    first = np.full(len(lb_rows), -1)
    first[u_coo.row[::-1]] = pz[::-1]
    single = np.ones(len(lb_rows), dtype=bool)
    np.logical_and.at(single, u_coo.row, (pz == first[u_coo.row]) & (u_coo.data > 0))
    has_u = np.diff(Ul.indptr) > 0
    rows_ok = np.nonzero(single & has_u)[0]
    if len(rows_ok):
        top = np.zeros(len(lb_rows))
        np.maximum.at(top, u_coo.row, u_coo.data)
        j = first[rows_ok]
        zc = np.asarray(Zl[rows_ok, :][np.arange(len(rows_ok)), j]).ravel()
        need = (model.row_lower[lb_rows][rows_ok] - const[lb_rows][rows_ok] - zc) / top[rows_ok]
        np.maximum.at(least, j, np.maximum(need, 0.0))
    # rows with an upper bound: z coefficients plus least units x smallest unit coefficient
    ub_rows = np.nonzero(hard & np.isfinite(model.row_upper))[0]
    Uu, Zu = U[ub_rows].tocoo(), Z[ub_rows].tocoo()
    key = Uu.row.astype(np.int64) * n_z + ctx.u_z[Uu.col]
    n_types = np.bincount(ctx.u_z, minlength=n_z)
    uniq, inv = np.unique(key, return_inverse=True)
    lo_coef = np.full(len(uniq), np.inf)
    np.minimum.at(lo_coef, inv, Uu.data)
    count = np.bincount(inv, minlength=len(uniq))
    r_u, j_u = uniq // n_z, uniq % n_z
    w_u = np.where((count == n_types[j_u]) & (lo_coef > 0), lo_coef, 0.0) * least[j_u]
    # least activity with nothing fixed: negative coefficients at their bounds
    neg_u = np.minimum(Uu.data, 0.0) * model.col_upper[Uu.col]
    base = np.bincount(Uu.row, weights=neg_u, minlength=len(ub_rows)) + np.bincount(Zu.row, weights=np.minimum(Zu.data, 0.0), minlength=len(ub_rows))
    W = sp.csc_matrix(
        (np.concatenate([w_u, np.maximum(Zu.data, 0.0)]), (np.concatenate([r_u, Zu.row]), np.concatenate([j_u, Zu.col]))),
        shape=(len(ub_rows), n_z),
    )
    W.sum_duplicates()
    W.eliminate_zeros()
    keep = np.diff(W.tocsr().indptr) > 0
    W = W.tocsr()[keep].tocsc()
    room = (model.row_upper[ub_rows] - const[ub_rows] - base)[keep]
    return W, room


def _lp_dive(model: CompiledModel, sifted: _Sifted, *, left, rows: tuple | None = None) -> SolveResult | None:
    r"""A plan by diving from the sifted LP: fix parcel-years to 1, re-solve, repeat.

    Each round fixes the LP's integral parcel-years and then the
    ``DIVE_SHARE`` of its fractional ones that hold the most units, as long
    as the hard rows still allow them, counting what each fixed parcel-year
    adds to them at the least (:func:`_dive_rows`: one supply year,
    projects per district and year, and the project minimum's units in the
    radius cap's circles and the budget); a parcel-year they no longer
    allow is closed (:math:`z = 0`). The LP is then re-solved from its last basis
    over the sifted columns, so the units move to the parcels that stay
    open. When no open parcel-year has :math:`z > 0` the LP's binaries are
    whole: that is a plan (continuous units). A batch that makes the LP
    infeasible is undone and retried with its first half (the rows are
    checked one at a time, so a batch can still be refused); a single
    parcel-year refused is closed.

    The last round comes after ``DIVE_MAX_ROUNDS`` rounds, or sooner when
    the time left is less than ``DIVE_FINISH_ROUNDS`` times the last round
    took: it fixes the parcel-years at :math:`z \ge 0.5` that fit and closes
    every other open one, so its LP's binaries are whole. A last round by
    count whose plan has more shortfall than the LP before it is undone (the
    closed parcel-years reopened) and the dive goes on; one by time is kept.

    Returns None if the LP fails or the dive takes more than
    ``DIVE_TIME_SHARE`` of the time left (its last round may take as long
    as the round before it); the HiGHS instance's bounds are restored either
    way, so the sifted LP can be reused. ``rows`` is :func:`_dive_rows` of
    the model, when known.
    """
    import highspy

    ctx = model.ctx
    h, cols = sifted.highs, sifted.cols
    local = np.full(model.n_cols, -1)
    local[cols] = np.arange(len(cols))
    z_local = local[ctx.n_u : ctx.n_u + ctx.n_z]
    W, room = rows if rows is not None else _dive_rows(model)
    act = np.zeros(len(room))
    tol = 1e-9 * np.maximum(1.0, np.abs(room))
    fixed = np.zeros(ctx.n_z, dtype=bool)
    closed = z_local < 0
    lower0, upper0 = model.col_lower[cols].copy(), model.col_upper[cols].copy()
    x = sifted.res.x
    t0 = time.perf_counter()
    last_s = 0.0  # the last round's time
    kept_going = False  # a last round by DIVE_MAX_ROUNDS was short, so the dive went on
    budget = DIVE_TIME_SHARE * left()
    stop = lambda: max(MIN_STEP_S, budget - (time.perf_counter() - t0))  # noqa: E731

    def entries(j: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows fixing parcel-year ``j`` adds to, and what it adds (see :func:`_dive_rows`)."""
        at = slice(W.indptr[j], W.indptr[j + 1])
        return W.indices[at], W.data[at]

    def fits(j: int) -> bool:
        r, v = entries(j)
        return bool(np.all(act[r] + v <= room[r] + tol[r]))

    def solution() -> np.ndarray:
        """The LP's solution over every model column (0 off the sifted ones)."""
        out = np.zeros(model.n_cols)
        out[cols] = np.asarray(h.getSolution().col_value)
        return out

    def set_bounds(js, lo: float | np.ndarray, hi: float | np.ndarray) -> None:
        if len(js):
            idx = z_local[np.asarray(js)].astype(np.int32)
            h.changeColsBounds(len(idx), idx, np.broadcast_to(lo, idx.shape).astype(float),
                               np.broadcast_to(hi, idx.shape).astype(float))

    def fix(js) -> None:
        """Fix parcel-years to 1 and count what they add to the rows."""
        for j in js:
            r, v = entries(j)
            act[r] += v
        fixed[js] = True
        set_bounds(js, 1.0, 1.0)

    def release(js) -> None:
        """Undo :func:`fix`: the parcel-years get their own bounds back."""
        for j in js:
            r, v = entries(j)
            act[r] -= v
        fixed[js] = False
        idx = z_local[np.asarray(js, dtype=int)]
        set_bounds(js, lower0[idx], upper0[idx])

    try:
        for rounds in range(1, 10 * ctx.n_z + 1):
            z = x[ctx.n_u : ctx.n_u + ctx.n_z]
            open_ = ~fixed & ~closed
            live = np.nonzero(open_ & (z > 1e-6))[0]
            if not len(live):
                break
            units = np.bincount(ctx.u_z, weights=x[: ctx.n_u], minlength=ctx.n_z)
            whole = live[z[live] >= 1 - 1e-6]
            frac = live[z[live] < 1 - 1e-6]
            frac = frac[np.argsort(-units[frac], kind="stable")]
            elapsed = time.perf_counter() - t0
            late = elapsed + DIVE_FINISH_ROUNDS * last_s > budget
            finish = rounds > 1 and (late or (rounds > DIVE_MAX_ROUNDS and not kept_going))
            if finish:
                # the last round: fix what the LP mostly uses, close the rest
                frac = frac[z[frac] >= 0.5]
            quota = len(whole) + max(1, int(np.ceil(DIVE_SHARE * len(frac))))
            batch, shut = [], []
            for j in np.concatenate([whole, frac]):
                if len(batch) >= quota:
                    break
                if fits(j):
                    fix([j])
                    batch.append(j)
                else:
                    shut.append(j)
            if finish:
                shut = np.nonzero(~fixed & ~closed)[0].tolist()
                log.debug("LP dive round %d is the last: %d fixed, %d closed", rounds, len(batch), len(shut))
            closed[shut] = True
            set_bounds(shut, 0.0, 0.0)
            if int(np.sum(z[batch] < 1 - 1e-6)) + len(shut) >= DIVE_COLD:
                # many bounds moved: presolve and a fresh simplex beat the last basis
                h.clearSolver()
            _run_for(h, max(stop(), last_s) if finish else stop())
            status = h.getModelStatus()
            log.debug("LP dive round %d: %d fixed, %d closed, %s, %.1f s", rounds, len(batch), len(shut),
                      h.modelStatusToString(status), time.perf_counter() - t0)
            while status == highspy.HighsModelStatus.kInfeasible and batch:
                # rows over units as well as binaries can refuse a batch:
                # undo it and try its first half; a single parcel-year
                # refused is closed
                release(batch)
                if len(batch) == 1:
                    closed[batch[0]] = True
                    set_bounds(batch, 0.0, 0.0)
                    batch = []
                else:
                    batch = batch[: len(batch) // 2]
                    fix(batch)
                _run_for(h, stop())
                status = h.getModelStatus()
                if time.perf_counter() - t0 > budget:
                    break
                log.debug("LP dive round %d retried with %d: %s", rounds, len(batch), h.modelStatusToString(status))
            if status != highspy.HighsModelStatus.kOptimal or (time.perf_counter() - t0 > budget and not finish):
                log.info("LP dive stopped after %d rounds: %s", rounds, h.modelStatusToString(status))
                return None
            last_s = time.perf_counter() - t0 - elapsed
            before = x
            x = solution()
            if finish and not late and model.slice_s(x).sum() > model.slice_s(before).sum() + 1e-6:
                # closing the rest costs a target: reopen them and dive on
                log.debug("LP dive round %d: the last round's plan is short, diving on", rounds)
                kept_going = True
                closed[shut] = False
                idx = z_local[np.asarray(shut, dtype=int)]
                set_bounds(shut, lower0[idx], upper0[idx])
                _run_for(h, stop())
                if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    return None
                x = solution()
        objective = float(model.cost @ x)
        log.info("LP dive: a plan in %d rounds, %.1f s, objective %.2f", rounds, time.perf_counter() - t0, objective)
        return SolveResult(solver="highs", status="Dive plan", has_solution=True, optimal=False, time_limit_hit=False,
                           x=x, objective=objective, bound=float("nan"), gap=float("nan"),
                           runtime_s=time.perf_counter() - t0)
    finally:
        h.changeColsBounds(len(cols), np.arange(len(cols), dtype=np.int32), lower0, upper0)


def _best_plan(model: CompiledModel, *, gap: float, left, opts: dict, start: np.ndarray | None = None,
               lp: dict | None = None, shared: dict | None = None) -> tuple[SolveResult, float, str]:
    """LP bound, then a plan by diving from the LP, then (if that is not within
    ``gap`` of the bound) the MIP restricted to the parcels the LP and the
    dive use, then the full MIP from the best start.

    ``lp``, when given, keeps the sifted LP between calls on the same model
    (a second call reuses it). ``shared`` keeps what calls on models with
    the same rows over units and binaries can share (the dive's rows: the
    least-shortfall searches change only costs and add a row over shortfall
    columns). Returns the solve, the best bound known and the method used.
    """
    if lp is not None and "sifted" in lp:
        sifted = lp["sifted"]
    else:
        sifted = _sifted_lp(model, left=left, opts=opts)
        if lp is not None:
            lp["sifted"] = sifted
    if sifted is not None:
        relax, proven = sifted.res, sifted.proven
    else:
        relax = solve_model(_relaxed(model), time_limit_s=left(), gap=gap, **opts)
        proven = relax.optimal
    bound, restricted, dive = float("-inf"), None, None
    if relax.has_solution and left() > MIN_STEP_S and (proven or sifted is not None):
        bound = relax.objective if proven else float("-inf")
        if sifted is not None:
            rows = shared.get("dive_rows") if shared is not None else None
            if rows is None:
                rows = _dive_rows(model)
                if shared is not None:
                    shared["dive_rows"] = rows
            dive = _lp_dive(model, sifted, left=left, rows=rows)
        if dive is not None:
            if _rel_gap(dive.objective, bound) <= gap:
                return dataclasses.replace(dive, status="Optimal", optimal=True, bound=bound,
                                           gap=_rel_gap(dive.objective, bound)), bound, "lp-dive"
            start = dive.x if start is None or model.cost @ start > dive.objective else start
        in_use = model.slice_z(relax.x) > 1e-6
        if start is not None:
            in_use |= model.slice_z(start) > 0.5
        used = np.unique(model.ctx.z_parcel[in_use])
        keep = np.isin(model.ctx.z_parcel, used)
        restricted = _solve_columns(model, _columns_of(model, keep), time_limit_s=left(), gap=gap / 2, start=start, **opts)
        log.info("LP bound %.2f; restricted MIP on %d parcels: %s", bound, len(used), restricted.status)
        if restricted.has_solution and _rel_gap(restricted.objective, bound) <= gap:
            return restricted, bound, "lp-guided"
    # The best plan so far: nothing binds a MIP stopped by the time limit to
    # return a plan at least as good as its start (HiGHS uses a start only
    # when it accepts it as feasible, within its own tolerances).
    best = _better(model, restricted, dive)
    if best is not None:
        if left() <= MIN_STEP_S:  # no time for the full MIP
            return dataclasses.replace(best, status="Time limit reached", optimal=False, time_limit_hit=True), bound, "lp-guided"
        start = best.x
    full = solve_model(model, time_limit_s=left(), gap=gap, start=start, **opts)
    if full.has_solution and np.isfinite(full.bound):
        bound = max(bound, full.bound)
    if best is not None and _better(model, full, best) is best:
        # the full MIP's status and bound hold for the better plan too
        return dataclasses.replace(best, status=full.status, optimal=full.optimal, time_limit_hit=full.time_limit_hit,
                                   bound=full.bound), bound, "lp-guided"
    return full, bound, "full-mip"


def _better(model: CompiledModel, *results: SolveResult | None) -> SolveResult | None:
    """The result with a plan of the lowest objective (``cost @ x``, the first of equals), or None."""
    found = [r for r in results if r is not None and r.has_solution]
    return min(found, key=lambda r: float(model.cost @ r.x)) if found else None


def _keep_rounded(model: CompiledModel, x: np.ndarray, rounded: np.ndarray, *, bound: float, gap: float) -> bool:
    """Whether the repaired plan ``rounded`` stands for ``x`` with whole units.

    It does when it gives up no more than the whole-unit step's absolute gap
    (see :func:`_rounding_abs_gap`), or when it has no more shortfall than
    ``x`` (so no target is traded for score) and is still within ``gap`` of
    ``bound``. At 20,000 parcels without the radius cap the repair gives up
    614 of a score of 269,609 (0.23%), more than half a shortfall unit (500),
    and the integer step it then needed took 11 s.

    When ``x`` itself is not within ``gap`` of ``bound`` (a search the time
    limit stopped), the integer step can win back at most what the repair
    gave up (and what ``x``'s units left on its parcel-years), never the
    gap, so the repaired plan also stands when it trades no target and
    gives up less than ``gap`` of ``x``'s objective. At 20,000 parcels in 120 s the repair
    gave up 504 of 250,481 (0.2%) from a plan 2.1% off the bound, and the
    integer step then spent 15 s to find a plan of the same score.
    """
    objective = float(model.cost @ rounded)
    start = float(model.cost @ x)
    if objective - start <= _rounding_abs_gap(model, x):
        return True
    no_trade = float(model.slice_s(rounded).sum()) <= float(model.slice_s(x).sum()) + 1e-6
    if not no_trade:
        return False
    if np.isfinite(bound) and _rel_gap(objective, bound) <= gap:
        return True
    outside = not np.isfinite(bound) or _rel_gap(start, bound) > gap
    return bool(outside and objective - start <= gap * abs(start))


def _whole_units(model: CompiledModel, x: np.ndarray, *, bound: float, gap: float, deadline: float, opts: dict) -> SolveResult:
    """Whole units for the parcel-years ``x`` chooses.

    First by rounding with repair (:func:`siteplan.solve.rounding.round_units`),
    whose plan is kept when :func:`_keep_rounded` says so. Otherwise the
    chosen parcel-years are fixed and HiGHS (or CBC) solves for integer
    units, started from the repaired plan. The rows are the same either
    way, so the plan keeps every rule ``x`` kept.
    """
    from .rounding import round_units

    t0 = time.perf_counter()
    abs_gap = _rounding_abs_gap(model, x)
    rounded = round_units(model, x, deadline=deadline)
    if rounded is not None:
        objective = float(model.cost @ rounded)
        loss = objective - float(model.cost @ x)
        if _keep_rounded(model, x, rounded, bound=bound, gap=gap):
            log.info("Whole units by rounding with repair: %.2f of the score given up, %.2f s", loss, time.perf_counter() - t0)
            return SolveResult(solver="siteplan", status="Rounded with repair", has_solution=True, optimal=False,
                               time_limit_hit=False, x=rounded, objective=objective, bound=float("nan"), gap=float("nan"),
                               runtime_s=time.perf_counter() - t0)
        log.info("Rounding with repair gave up %.2f of the score; solving for whole units", loss)
    fixed = _fixed_for_rounding(model, x)
    chosen = np.round(model.slice_z(x)) > 0
    cols = _columns_of(model, chosen)
    second = _solve_columns(fixed, cols, time_limit_s=max(MIN_STEP_S, deadline - time.perf_counter()), gap=0.0,
                            abs_gap=abs_gap, start=rounded, **opts)
    if not second.has_solution and second.time_limit_hit:
        # Whole units could not be found in the time left: a plan late is
        # better than none, so the step gets a while longer, and says so.
        log.warning("Whole units needed more time than the limit left; giving that step %g s more", ROUNDING_EXTRA_S)
        second = _solve_columns(fixed, cols, time_limit_s=ROUNDING_EXTRA_S, gap=0.0, abs_gap=abs_gap, start=rounded, **opts)
    if not second.has_solution:
        raise SolverError(
            f"rounding to whole units failed (status: {second.status}); "
            "please report this scenario, it should not happen"
        )
    return dataclasses.replace(second, runtime_s=time.perf_counter() - t0)


def solve_problem(
    problem: Problem,
    *,
    solver: Literal["highs", "cbc"] = "highs",
    time_limit_s: float = 120.0,
    gap: float = 0.01,
    threads: int | None = None,
    seed: int = 0,
    log_findings: bool = True,
) -> Plan:
    """Compile, solve, round to whole units, and return the plan.

    The solve runs in up to three steps, each given what is left of the
    time limit:

    1. *LP relaxation* of the whole model by sifting: its optimum is a
       valid bound.
    2. *LP dive* from it (HiGHS): parcel-years fixed to 1 in rounds, the LP
       re-solved each time, until its binaries are whole. If that plan is
       within ``gap`` of the bound it is proven good enough and returned.
    3. Otherwise the *restricted MIP* over the parcels the relaxation or the
       dive used (all their years), started from the dive's plan. If its
       plan is within ``gap`` of the bound, the full MIP is skipped.
    4. Otherwise the *full MIP*, started from the best plan so far.

    If that plan breaks a target or share, the same steps first find the
    least shortfall possible (to optimality) and then the best plan with
    no more shortfall than that.

    Then the chosen parcel-years are fixed and units are made whole (see
    the module docstring). The reported gap compares the delivered plan
    with the best bound known.

    The rules' checks before solving are logged as warnings, unless
    ``log_findings`` is False (the caller has shown them already, as
    ``siteplan run`` does); either way they are on the plan's ``findings``.

    Raises
    ------
    SolverError
        When the solver returns no plan at all (the model is elastic, so this
        means a time limit too short to find any plan, or a solver failure).
    """
    t0 = time.perf_counter()
    model = problem.compile()
    build_s = time.perf_counter() - t0
    if log_findings:
        for f in model.findings:
            log.warning("%s: %s", f.rule, f.message)
    return solve_compiled(problem, model, solver=solver, time_limit_s=time_limit_s, gap=gap, threads=threads, seed=seed, build_s=build_s)


def solve_compiled(
    problem: Problem,
    model: CompiledModel,
    *,
    solver: Literal["highs", "cbc"] = "highs",
    time_limit_s: float = 120.0,
    gap: float = 0.01,
    threads: int | None = None,
    seed: int = 0,
    build_s: float = 0.0,
    rounding_model: CompiledModel | None = None,
) -> Plan:
    """Solve an already compiled model of ``problem`` and round it (see :func:`solve_problem`).

    ``rounding_model`` is the model whose rows the whole-unit step keeps
    (default ``model``); alternatives pass the model without their
    objective floor, which rounding may move by a unit.
    """
    from .plan import Plan, SolverReport

    t0 = time.perf_counter()
    opts = dict(solver=solver, threads=threads, seed=seed)
    deadline = time.perf_counter() + time_limit_s
    # The search gets SEARCH_SHARE of the limit, the whole-unit step the rest
    # (at least MIN_STEP_S each), so the limit holds for the whole solve.
    search_deadline = time.perf_counter() + SEARCH_SHARE * time_limit_s
    left = lambda: max(MIN_STEP_S, search_deadline - time.perf_counter())  # noqa: E731

    lp: dict = {}
    shared: dict = {}  # what every search of this solve can share: the dive's rows
    first, bound, method = _best_plan(model, gap=gap, left=left, opts=opts, lp=lp, shared=shared)
    if not first.has_solution and first.time_limit_hit:
        # No plan at all in the limit: a plan late is better than none, so
        # the MIP gets as long again (the LP is not solved twice), and says so.
        log.warning("No plan within the time limit of %g s; searching %g s more for one", time_limit_s, time_limit_s)
        search_deadline = time.perf_counter() + time_limit_s
        deadline = search_deadline + (1 - SEARCH_SHARE) * time_limit_s
        first, bound, method = _best_plan(model, gap=gap, left=left, opts=opts, lp=lp, shared=shared)
        first = dataclasses.replace(first, time_limit_hit=True)
    if first.has_solution and model.slice_s(first.x).sum() > 1e-6 and left() > MIN_STEP_S:
        # Some target or share cannot be met. Find the least shortfall any
        # plan can have, then the best plan with no more than that, so a
        # gap never hides avoidable shortfall.
        only_short = dataclasses.replace(model, cost=np.concatenate([np.zeros(model.n_core), np.ones(len(model.slack_rows))]))
        least, _, _ = _best_plan(only_short, gap=0.0, left=left, opts=opts, start=first.x, shared=shared)
        if least.has_solution:
            floor = float(model.slice_s(least.x).sum())
            log.info("Least possible shortfall: %.1f units", floor)
            capped = _with_row(model, np.arange(model.n_core, model.n_cols), np.ones(len(model.slack_rows)), -np.inf, floor * (1 + 1e-7) + 1e-6, rule="least_shortfall")
            again, bound2, method2 = _best_plan(capped, gap=gap, left=left, opts=opts, start=least.x, shared=shared)
            if again.has_solution:
                first, bound, method = again, bound2, method2 + "+least-shortfall"
    if not first.has_solution:
        raise SolverError(
            f"{solver} found no plan (status: {first.status}) within {time_limit_s:g} s; "
            "raise [solver] time_limit_s, or relax the rules the checks above name"
        )
    solve_s = time.perf_counter() - t0
    base = rounding_model if rounding_model is not None else model
    # same columns: the extra models (alternatives' floors) only add rows
    second = _whole_units(base, first.x, bound=bound, gap=gap, deadline=deadline, opts=opts)
    x = second.x
    final = float(base.cost @ x)
    final_gap = _rel_gap(final, bound) if np.isfinite(bound) else float("nan")
    log.info("Solved (%s): %s, gap %.2f%%, %.1f s", method, first.status, 100 * final_gap, solve_s)
    shortfall = float(base.slice_s(x).sum())
    report = SolverReport(
        solver=solver,
        method=method,
        status=first.status,
        optimal=first.optimal,
        time_limit_hit=first.time_limit_hit,
        time_limit_s=time_limit_s,
        gap=final_gap,
        gap_limit=gap,
        bound=bound,
        objective=float(-(base.cost[: base.ctx.n_u] @ x[: base.ctx.n_u])),
        penalised_objective=final,
        build_s=build_s,
        solve_s=solve_s,
        rounding_s=second.runtime_s,
        rounding_status=second.status,
        runtime_s=build_s + time.perf_counter() - t0,
        within_gap=bool(np.isfinite(final_gap) and final_gap <= gap + 1e-9),
        objective_bound=float(-bound) if np.isfinite(bound) and shortfall < 1e-6 else float("nan"),
        n_rows=base.n_rows,
        n_cols=base.n_cols,
        n_binaries=base.ctx.n_z,
    )
    if first.time_limit_hit:
        log.warning("Time limit of %g s hit: this is the best plan found, %.2f%% from the bound", time_limit_s, 100 * final_gap)
    return Plan.from_solution(problem, base, x, report)
