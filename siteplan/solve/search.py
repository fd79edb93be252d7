"""The search and its time budget: LP, dive, restricted and full MIP, then whole units.

:func:`solve_problem` solves the model with continuous units (the LP by
sifting, :mod:`siteplan.solve.sift`; the dive, :mod:`siteplan.solve.dive`;
then the MIP restricted to the parcels they use, and the full MIP), then
makes the units whole on the chosen parcel-years: by rounding with repair
(:mod:`siteplan.solve.rounding`) when that stays within the gap, else by solving
again with those parcel-years fixed and integer units. Both keep the same
rows, so the delivered plan keeps every rule the first one did.
A status without a solution raises :class:`~siteplan.errors.SolverError`
with the solver's own words; a time limit with a solution returns the best
plan found and says so. The solver adapters are in :mod:`siteplan.solve.backends`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..errors import SolverError
from ..model.builder import CompiledModel
from ..model.problem import Problem
from .backends import MIN_STEP_S, SolveResult, _columns_of, _rel_gap, _relaxed, _solve_columns, _with_row, solve_model
from .dive import _dive_rows, _lp_dive
from .sift import _sifted_lp

if TYPE_CHECKING:
    from .plan import Plan

__all__ = ["solve_problem", "solve_compiled"]

log = logging.getLogger(__name__)


#: Gap of the whole-unit step, relative to the plan's suitability score:
#: rounding moves the objective by a few units, so proving the last of them
#: optimal is not worth minutes. The step's gap is absolute and stays below
#: half a unit of shortfall penalty, so it never buys score with a broken target.
ROUNDING_GAP = 1e-3
#: Share of the time limit for the search; the whole-unit step has the rest.
SEARCH_SHARE = 0.85
#: Extra time for the whole-unit step when the limit left it too little.
ROUNDING_EXTRA_S = 60.0


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
