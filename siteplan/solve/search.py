"""The search and its time budget: LP, dive, restricted and full MIP, then whole units (small models: one MIP).

A model of fewer than :data:`SMALL_MODEL_COLUMNS` columns is solved whole:
one integer programme with integer units (:func:`_solve_whole`). Larger ones
are searched in stages: :func:`solve_problem` solves the model with continuous units (the LP by
sifting, :mod:`siteplan.solve.sift`; the dive, :mod:`siteplan.solve.dive`;
then the MIP restricted to the parcels they use, and the full MIP), then
makes the units whole on the chosen parcel-years: by rounding with repair
(:mod:`siteplan.solve.rounding`) when that stays within the gap, else by solving
again with those parcel-years fixed and integer units. Both keep the same
rows, so the delivered plan keeps every rule the first one did.
A status without a solution raises :class:`~siteplan.errors.SolverError`
with the solver's own words; a time limit with a solution returns the best
plan found and says so. Every stage run is recorded
(:class:`~siteplan.solve.stages.StageRecord`), and the plan's status is
derived once from all of them (:func:`~siteplan.solve.stages.derive_status`).
The solver adapters are in :mod:`siteplan.solve.backends`.
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
from .backends import (MIN_STEP_S, SolveResult, _columns_of, _lex_key, _rel_gap, _relaxed, _solve_columns, _with_row,
                       _within_gap, solve_model)
from .dive import _dive_rows, _lp_dive
from .lazy import solve_lazily
from .sift import _sifted_lp
from .stages import StageRecord, derive_status, record_of

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
#: With less than this share of the limit left, a repaired plan that keeps every hard row is delivered
#: without the integer step (see :func:`_whole_units`): that step took 2 s on the demo and 7-13 s at
#: 10,000 parcels (with 100 s left); at 20,000 parcels, its integer programme given about 11 s of a
#: 120 s limit, the step took 163-170 s: HiGHS ran far past its own limit.
WHOLE_LEAST_SHARE = 0.2


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
               lp: dict | None = None, shared: dict | None = None,
               stages: list[StageRecord] | None = None, pool=None) -> tuple[SolveResult, float, str]:
    """LP bound, then a plan by diving from the LP, then (if that is not within
    ``gap`` of the bound) the MIP restricted to the parcels the LP and the
    dive use, then the full MIP from the best start.

    ``lp``, when given, keeps the sifted LP between calls on the same model
    (a second call reuses it). ``shared`` keeps what calls on models with
    the same rows over units and binaries can share (the dive's rows: the
    least-shortfall searches change only costs and add a row over shortfall
    columns). Returns the solve, the best bound known and the method used.
    Every stage run is appended to ``stages`` (see :mod:`siteplan.solve.stages`).

    With a ``pool`` (:class:`siteplan.solve.lazy.CutPool`), the sifting LP
    and the dive add the lazy rows their LPs break, and every stage after
    them solves the model with the rows found so far (``pool.applied``).
    """
    stages = [] if stages is None else stages
    if pool is not None:
        model = pool.applied(model)
    if lp is not None and "sifted" in lp:
        sifted = lp["sifted"]  # solved by an earlier call: not run again
    else:
        log.info("Stage: LP by sifting")
        t_lp = time.perf_counter()
        sifted = _sifted_lp(model, left=left, opts=opts, pool=pool, gap=gap)
        if lp is not None:
            lp["sifted"] = sifted
        if sifted is not None:
            # sifting stops short of the whole LP's optimum only when its time share is spent
            stages.append(StageRecord("lp", "Optimal" if sifted.proven else "Time limit reached",
                                      time.perf_counter() - t_lp, not sifted.proven, sifted.proven,
                                      0.0 if sifted.proven else None))
    if pool is not None:
        model = pool.applied(model)
    if sifted is not None:
        relax, proven = sifted.res, sifted.proven
    else:
        relax = solve_model(_relaxed(model), time_limit_s=left(), gap=gap, **opts)
        stages.append(record_of("lp", relax))
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
            log.info("Stage: dive")
            t_dive = time.perf_counter()
            dive = _lp_dive(model, sifted, left=left, rows=rows, pool=pool)
            if pool is not None:
                model = pool.applied(model)
            # a heuristic: its plan, if any, is proven (or not) by the stages after it
            stages.append(StageRecord("dive", "No plan" if dive is None else dive.status, time.perf_counter() - t_dive,
                                      False, True, None if dive is None else _rel_gap(dive.objective, bound)))
        if dive is not None:
            if _within_gap(dive.objective, bound, gap):
                return dataclasses.replace(dive, status="Optimal", optimal=True, bound=bound,
                                           gap=_rel_gap(dive.objective, bound)), bound, "lp-dive"
            start = dive.x if start is None or model.cost @ start > dive.objective else start
        in_use = model.slice_z(relax.x) > 1e-6
        if start is not None:
            in_use |= model.slice_z(start) > 0.5
        used = np.unique(model.ctx.z_parcel[in_use])
        keep = np.isin(model.ctx.z_parcel, used)
        log.info("Stage: restricted MIP")
        restricted = _solve_columns(model, _columns_of(model, keep), time_limit_s=left(), gap=gap / 2, start=start, **opts)
        stages.append(record_of("restricted_mip", restricted, proven=_finished(restricted)))
        log.info("LP bound %.2f; restricted MIP on %d parcels: %s", bound, len(used), restricted.status)
        if restricted.has_solution and _within_gap(restricted.objective, bound, gap):
            return restricted, bound, "lp-guided"
    # The best plan so far: nothing binds a MIP stopped by the time limit to
    # return a plan at least as good as its start (HiGHS uses a start only
    # when it accepts it as feasible, within its own tolerances).
    best = _better(model, restricted, dive)
    if best is not None:
        if left() <= MIN_STEP_S:  # no time for the full MIP
            stages.append(StageRecord("full_mip", "Time limit reached", 0.0, True, False, None))
            return dataclasses.replace(best, status="Time limit reached", optimal=False, time_limit_hit=True), bound, "lp-guided"
        start = best.x
    log.info("Stage: full MIP")
    full = solve_model(model, time_limit_s=left(), gap=gap, start=start, **opts)
    stages.append(record_of("full_mip", full, proven=_finished(full)))
    if full.has_solution and np.isfinite(full.bound):
        bound = max(bound, full.bound)
    if best is not None and _better(model, full, best) is best:
        # the full MIP's status and bound hold for the better plan too
        return dataclasses.replace(best, status=full.status, optimal=full.optimal, time_limit_hit=full.time_limit_hit,
                                   bound=full.bound), bound, "lp-guided"
    return full, bound, "full-mip"


def _finished(res: SolveResult) -> bool:
    """Whether a MIP proved its part: optimal within its gap, or no plan and
    not stopped by the time limit (proven infeasible)."""
    return bool(res.optimal or (not res.has_solution and not res.time_limit_hit))


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
    if np.isfinite(bound) and _within_gap(objective, bound, gap):
        return True
    outside = not np.isfinite(bound) or not _within_gap(start, bound, gap)
    return bool(outside and objective - start <= gap * abs(start))


def _whole_units(model: CompiledModel, x: np.ndarray, *, bound: float, gap: float, deadline: float,
                 opts: dict, least_s: float = 0.0) -> tuple[SolveResult, StageRecord]:
    """Whole units for the parcel-years ``x`` chooses, and the step's record.

    First by rounding with repair (:func:`siteplan.solve.rounding.round_units`),
    whose plan is kept when :func:`_keep_rounded` says so. Otherwise the
    chosen parcel-years are fixed and HiGHS (or CBC) solves for integer
    units, started from the repaired plan. The rows are the same either
    way, so the plan keeps every rule ``x`` kept. The record says whether
    that solve hit its limit (it did when it needed the extra time). With
    less than ``least_s`` (callers: :data:`WHOLE_LEAST_SHARE` of the limit)
    left before ``deadline``, the repaired plan goes out as it is instead (its record:
    stopped by the limit, unproven), so a run near its limit does not start
    an integer programme.
    """
    from .rounding import round_units

    log.info("Stage: whole units")
    t0 = time.perf_counter()
    abs_gap = _rounding_abs_gap(model, x)
    rounded = round_units(model, x, deadline=deadline)
    if rounded is not None:
        objective = float(model.cost @ rounded)
        loss = objective - float(model.cost @ x)
        kept = _keep_rounded(model, x, rounded, bound=bound, gap=gap)
        # No time left: the repaired plan keeps every hard row, and an integer programme now would run past
        # the limit (at 20,000 parcels, given about 11 s, HiGHS ran it for minutes, past its own limit).
        # It goes out as it is, its shortfall reported, the step unproven and stopped by the limit.
        late = not kept and time.perf_counter() > deadline - max(MIN_STEP_S, least_s)
        if kept:
            log.info("Whole units by rounding with repair: %.2f of the score given up, %.2f s", loss, time.perf_counter() - t0)
        elif late:
            log.warning("Whole units: no time left for the integer step; the repaired plan (%.2f of the score "
                        "given up) is delivered", loss)
        if kept or late:
            res = SolveResult(solver="siteplan", status="Rounded with repair" if kept else "Time limit reached",
                              has_solution=True, optimal=False, time_limit_hit=not kept, x=rounded, objective=objective,
                              bound=float("nan"), gap=float("nan"), runtime_s=time.perf_counter() - t0)
            # kept only within the step's gap (see _keep_rounded): its part is proven; a late plan proves nothing
            return res, record_of("whole_units", res, proven=kept)
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
        second = dataclasses.replace(second, time_limit_hit=True, optimal=False)
    if not second.has_solution:
        raise SolverError(
            f"rounding to whole units failed (status: {second.status}); "
            "please report this scenario, it should not happen"
        )
    second = dataclasses.replace(second, runtime_s=time.perf_counter() - t0)
    return second, record_of("whole_units", second)


#: Models with fewer columns than this are solved whole: one integer
#: programme with integer units (:func:`_solve_whole`), no LP, dive or
#: rounding. A city of a few dozen candidate parcels (72 binaries, 409
#: columns) spent 93 s of a 120 s limit making the units of its staged plan
#: whole; the one integer programme solves it in well under a second.
SMALL_MODEL_COLUMNS = 5000


def _integer_units(model: CompiledModel) -> CompiledModel:
    """The same model with integer units (binaries stay binary)."""
    integrality = model.integrality.copy()
    integrality[: model.ctx.n_u] = True
    return dataclasses.replace(model, integrality=integrality)


def _solve_whole(model: CompiledModel, *, gap: float, time_limit_s: float, opts: dict,
                 stages: list[StageRecord], least_s: float | None = None, extend: bool = True) -> tuple[SolveResult, float, str | None]:
    """A small model solved as integer programmes with whole units.

    Same rows and the same elastic shortfall columns as the staged search,
    so the same plans are allowed; only the units are integer from the
    start. Shortfall comes first, lexicographically (not by the big
    penalty alone, which a relative gap can trade for score): the least
    total shortfall any whole-unit plan can have is found first (to
    optimality; ``"least_shortfall"``), then the best plan with no more
    shortfall than that (``"mip"``). On a city of 36 parcels with targets
    three times its capacity, the penalised MIP alone stopped at a 30 s
    limit 300 units shorter than need be; least shortfall first proved its
    plan in about 10 s (the LP bound is tight there; finding the plan
    takes the time) and the capped MIP took 0.05 s. A model without
    shortfall columns skips the first step. Each solve gets what is left
    of ``time_limit_s`` and is recorded in ``stages``. Returns the solve,
    the best bound known and the method. When ``least_s`` is given and the
    least-shortfall step does not prove its floor within that many seconds,
    returns that step's result (its plan, if any, has whole units), no
    bound and no method (the caller then searches in stages, see
    :func:`_solve_small`).
    """
    deadline = time.perf_counter() + time_limit_s
    left = lambda: max(MIN_STEP_S, deadline - time.perf_counter())  # noqa: E731
    whole = _integer_units(model)
    capped, start, method = whole, None, "mip"
    if len(model.slack_rows):
        only_short = dataclasses.replace(whole, cost=np.concatenate([np.zeros(model.n_core), np.ones(len(model.slack_rows))]))
        least = solve_model(only_short, time_limit_s=left() if least_s is None else min(left(), least_s), gap=0.0, **opts)
        stages.append(record_of("least_shortfall", least, proven=_finished(least)))
        if least_s is not None and not _finished(least):
            return least, float("-inf"), None
        if least.has_solution:
            floor = float(model.slice_s(least.x).sum())
            log.info("Least possible shortfall in whole units: %.1f units", floor)
            if floor > 1e-6:
                method = "mip+least-shortfall"
            capped = _with_row(whole, np.arange(model.n_core, model.n_cols), np.ones(len(model.slack_rows)), -np.inf,
                               floor * (1 + 1e-7) + 1e-6, rule="least_shortfall")
            start = least.x
    first = solve_model(capped, time_limit_s=left(), gap=gap, start=start, **opts)
    stages.append(record_of("mip", first, proven=_finished(first)))
    if extend and not first.has_solution and first.time_limit_hit:
        log.warning("No plan within the time limit of %g s; searching %g s more for one", time_limit_s, time_limit_s)
        deadline = time.perf_counter() + time_limit_s
        first = solve_model(capped, time_limit_s=left(), gap=gap, start=start, **opts)
        stages.append(record_of("mip", first, proven=_finished(first)))
    bound = float(first.bound) if first.has_solution and np.isfinite(first.bound) else float("-inf")
    return first, bound, method


#: Share of the time limit a small model's least-shortfall integer programme
#: may take before the staged search gets the rest (:func:`_solve_small`). On
#: a 50-parcel city with the demo's rules (564 rows x 718 columns) it stopped
#: at a 30 s limit with 22,202 units short, 17.5% from the bound, where the
#: staged search's plan was 18,810 short and 2.6% from it in the same time;
#: on 36 parcels with targets three times their capacity it proves its floor
#: in 2-11 s (HiGHS's search varies from seed to seed).
SMALL_WHOLE_SHARE = 0.25


def _solve_small(model: CompiledModel, base: CompiledModel, *, gap: float, time_limit_s: float, opts: dict,
                 stages: list[StageRecord], t0: float, extend: bool = True) -> tuple[SolveResult, float, str, float, SolveResult]:
    """A model of fewer than :data:`SMALL_MODEL_COLUMNS` columns: solved whole, or in stages when that is slow.

    First :func:`_solve_whole`, its least-shortfall step given
    ``SMALL_WHOLE_SHARE`` of the limit. When that step proves its floor, the
    whole-unit plan is returned as it is. Otherwise the staged search
    (:func:`_staged`) runs in the time left, and the better of its plan and
    the least-shortfall step's (less shortfall first, then the lower
    penalised objective) is returned with the staged search's bound, the one
    valid for the whole model. Every stage run is in ``stages``, so a step
    stopped by its share says so. Returns what :func:`_staged` returns.
    """
    whole = _solve_whole(model, gap=gap, time_limit_s=time_limit_s, opts=opts, stages=stages,
                         least_s=SMALL_WHOLE_SHARE * time_limit_s if len(model.slack_rows) else None, extend=extend)
    first, bound, method = whole
    if method is not None:
        if not first.has_solution:
            raise SolverError(
                f"{opts['solver']} found no plan (status: {first.status}) within {time_limit_s:g} s; "
                "raise [solver] time_limit_s, or relax the rules the checks above name"
            )
        return first, bound, method, time.perf_counter() - t0, dataclasses.replace(first, status="Solved in whole units", runtime_s=0.0)
    early = first
    log.info("The least-shortfall step of the whole model was not proven in %.1f s; searching in stages", stages[-1].seconds)
    rest = max(MIN_STEP_S, time_limit_s - (time.perf_counter() - t0))
    first, bound, method, solve_s, second = _staged(model, base, gap=gap, time_limit_s=rest, opts=opts, stages=stages, t0=t0,
                                                    extend=extend)
    if early is not None and early.has_solution and _lex_key(base, early.x) < _lex_key(base, second.x):
        log.info("The whole model's plan beats the staged one: %.1f units short against %.1f",
                 float(base.slice_s(early.x).sum()), float(base.slice_s(second.x).sum()))
        early = dataclasses.replace(early, objective=float(base.cost @ early.x), status="Solved in whole units")
        return early, bound, "mip", solve_s, dataclasses.replace(early, runtime_s=0.0)
    return first, bound, method, solve_s, second



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

    A model of fewer than :data:`SMALL_MODEL_COLUMNS` columns is solved as
    one integer programme with whole units, least shortfall first (see
    :func:`_solve_whole`). A larger one runs in up to four steps, each
    given what is left of the time limit:

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
    with the best bound known. The report's ``stages`` list every stage
    run; its ``status`` is ``"Optimal"`` only when every stage proved its
    part and the plan is within ``gap``, ``"Time limit reached"`` when any
    stage hit its limit, else ``"Gap not proven"``.

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
    base = rounding_model if rounding_model is not None else model
    stages: list[StageRecord] = []
    search = _small_logged if model.n_cols < SMALL_MODEL_COLUMNS else _staged
    # rules too big to write (the radius cap's discs) get their rows as solutions break them
    deadline = t0 + time_limit_s
    whole = lambda b, x, bound: _whole_units(b, x, bound=bound, gap=gap, deadline=max(deadline, time.perf_counter() + MIN_STEP_S),  # noqa: E731
                                             least_s=WHOLE_LEAST_SHARE * time_limit_s,
                                             opts=opts)
    first, bound, method, solve_s, second, model, base = solve_lazily(search, model, base, gap=gap, time_limit_s=time_limit_s,
                                                                      opts=opts, stages=stages, t0=t0, whole_units=whole)
    x = second.x
    final = float(base.cost @ x)
    final_gap = _rel_gap(final, bound) if np.isfinite(bound) else float("nan")
    within_gap = bool(np.isfinite(bound) and _within_gap(final, bound, gap))
    if within_gap and stages and stages[-1].name == "trim" and not stages[-1].proven:
        # a plan fitted or trimmed to the discs is measured against the search's bound like any other (a bound
        # for the exact rule too: the LP had some of its rows): within the gap, it is proven
        stages[-1] = dataclasses.replace(stages[-1], proven=True, gap=final_gap)
    status, optimal, time_limit_hit = derive_status(stages, within_gap=within_gap)
    gap_text = f"{100 * final_gap:.2f}%" if np.isfinite(final_gap) else "not known (no bound)"
    log.info("Solved (%s): %s, gap %s, %.1f s", method, status, gap_text, solve_s)
    shortfall = float(base.slice_s(x).sum())
    report = SolverReport(
        solver=solver,
        method=method,
        status=status,
        optimal=optimal,
        time_limit_hit=time_limit_hit,
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
        within_gap=within_gap,
        objective_bound=float(-bound) if np.isfinite(bound) and shortfall < 1e-6 else float("nan"),
        n_rows=base.n_rows,
        n_cols=base.n_cols,
        n_binaries=base.ctx.n_z,
        stages=tuple(stages),
    )
    if time_limit_hit:
        log.warning("Time limit of %g s hit: this is the best plan found, %s", time_limit_s,
                    f"{100 * final_gap:.2f}% from the bound" if np.isfinite(final_gap) else "with no bound to measure it against")
    elif not optimal and within_gap:
        unproven = ", ".join(dict.fromkeys(s.name for s in stages if not s.proven))
        log.warning("The plan is %.2f%% from the bound, within the gap limit of %.2f%%, but not proven: %s did not "
                    "prove its part", 100 * final_gap, 100 * gap, unproven)
    elif not optimal and np.isfinite(final_gap):
        log.warning("The plan is %.2f%% from the bound, more than the gap limit of %.2f%%", 100 * final_gap, 100 * gap)
    elif not optimal:
        log.warning("No bound is known to measure the plan against: its gap is not proven")
    return Plan.from_solution(problem, base, x, report)


def _small_logged(*args, **kw):
    """:func:`_solve_small`, its start logged for the progress display."""
    log.info("Stage: integer programme (small model)")
    return _solve_small(*args, **kw)


def _staged(model: CompiledModel, base: CompiledModel, *, gap: float, time_limit_s: float, opts: dict,
            stages: list[StageRecord], t0: float, pool=None, extend: bool = True) -> tuple[SolveResult, float, str, float, SolveResult]:
    """The staged search and the whole-unit step of a model of :data:`SMALL_MODEL_COLUMNS` or more
    (see :func:`solve_problem`): the search's result, its bound and method, the search's seconds,
    and the whole-unit step's result (on ``base``'s rows). Every stage is appended to ``stages``.
    With a ``pool``, the lazy rows its LPs break are added as they are found (see :func:`_best_plan`),
    and the whole-unit step keeps them too. With no plan in the time limit, the search gets as long
    again, unless ``extend`` is False (a later round of lazy rows, with an earlier round's plan to
    deliver): it then raises :class:`SolverError` at the limit."""
    deadline = time.perf_counter() + time_limit_s
    # The search gets SEARCH_SHARE of the limit, the whole-unit step the rest
    # (at least MIN_STEP_S each), so the limit holds for the whole solve.
    search_deadline = time.perf_counter() + SEARCH_SHARE * time_limit_s
    left = lambda: max(MIN_STEP_S, search_deadline - time.perf_counter())  # noqa: E731

    lp: dict = {}
    shared: dict = {}  # what every search of this solve can share: the dive's rows
    first, bound, method = _best_plan(model, gap=gap, left=left, opts=opts, lp=lp, shared=shared, stages=stages, pool=pool)
    if extend and not first.has_solution and first.time_limit_hit:
        # No plan at all in the limit: a plan late is better than none, so
        # the MIP gets as long again (the LP is not solved twice), and says so.
        log.warning("No plan within the time limit of %g s; searching %g s more for one", time_limit_s, time_limit_s)
        if not any(s.time_limit_hit for s in stages):
            stages.append(record_of("full_mip", first))
        search_deadline = time.perf_counter() + time_limit_s
        deadline = search_deadline + (1 - SEARCH_SHARE) * time_limit_s
        first, bound, method = _best_plan(model, gap=gap, left=left, opts=opts, lp=lp, shared=shared, stages=stages, pool=pool)
        first = dataclasses.replace(first, time_limit_hit=True)
    if pool is not None:
        model = pool.applied(model)
    if first.has_solution and model.slice_s(first.x).sum() > 1e-6 and left() > MIN_STEP_S:
        # Some target or share cannot be met. Find the least shortfall any
        # plan can have, then the best plan with no more than that, so a
        # gap never hides avoidable shortfall.
        only_short = dataclasses.replace(model, cost=np.concatenate([np.zeros(model.n_core), np.ones(len(model.slack_rows))]))
        inner: list[StageRecord] = []
        log.info("Stage: least shortfall")
        least, _, _ = _best_plan(only_short, gap=0.0, left=left, opts=opts, start=first.x, shared=shared, stages=inner, pool=pool)
        # one record for the whole search of the least shortfall
        stages.append(StageRecord("least_shortfall", least.status, float(sum(s.seconds for s in inner)),
                                  any(s.time_limit_hit for s in inner), bool(inner) and all(s.proven for s in inner),
                                  record_of("least_shortfall", least).gap))
        if least.has_solution:
            floor = float(model.slice_s(least.x).sum())
            log.info("Least possible shortfall: %.1f units", floor)
            model = model if pool is None else pool.applied(model)
            capped = _with_row(model, np.arange(model.n_core, model.n_cols), np.ones(len(model.slack_rows)), -np.inf, floor * (1 + 1e-7) + 1e-6, rule="least_shortfall")
            again, bound2, method2 = _best_plan(capped, gap=gap, left=left, opts=opts, start=least.x, shared=shared, stages=stages, pool=pool)
            if again.has_solution:
                first, bound, method = again, bound2, method2 + "+least-shortfall"
    if not first.has_solution:
        raise SolverError(
            f"{opts['solver']} found no plan (status: {first.status}) within {time_limit_s:g} s; "
            "raise [solver] time_limit_s, or relax the rules the checks above name"
        )
    solve_s = time.perf_counter() - t0
    # same columns: the extra models (alternatives' floors) only add rows
    if pool is not None:
        base = pool.applied(base)
        fitted = _fitted_to_rows(base, first, pool, time_limit_s=time_limit_s, deadline=deadline, opts=opts)
        if fitted is not None:
            second, record = fitted
            stages.append(record)
            return first, bound, method, solve_s, second
    second, record = _whole_units(base, first.x, bound=bound, gap=gap, deadline=deadline, opts=opts,
                                  least_s=WHOLE_LEAST_SHARE * time_limit_s)
    stages.append(record)
    return first, bound, method, solve_s, second


def _fitted_to_rows(base: CompiledModel, first: SolveResult, pool, *, time_limit_s: float, deadline: float, opts: dict):
    """Whole units for a search plan that breaks rows the pool holds (a dive that went on without rows whose
    re-solve was too slow): its units fitted again on its own parcel-years with every disc row they need
    (:func:`siteplan.solve.lazy._trimmed`), and the step's record; None when the plan keeps the rows."""
    from .lazy import LP_EPS, _trimmed, lazy_row_index

    rows = lazy_row_index(base, pool.rules)
    if not len(rows) or not np.any(base.A[rows] @ first.x > base.row_upper[rows] + LP_EPS):
        return None
    log.info("Whole units: the search's plan overfills discs it knows; fitting its units to them")
    # the step's time is the fit's own, not the search's
    return _trimmed(base, dataclasses.replace(first, runtime_s=0.0), pool.rules, time_limit_s=time_limit_s, opts=opts,
                    deadline=deadline)


_staged.separates = True  # takes a CutPool (see siteplan.solve.lazy.solve_lazily)
