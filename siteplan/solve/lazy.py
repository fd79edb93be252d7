"""Lazy rows: rules whose rows are too many to write (the radius cap's discs) are added as solutions overfill them.

A rule is *lazy* when it has ``lazy = True`` and a method
``lazy_rows(model, x)`` returning ``(block, ub, labels)`` for the rows a
solution ``x`` breaks, or None (:meth:`siteplan.model.dispersion.RadiusCap.lazy_rows`).
:func:`solve_lazily` wraps a search (the staged one or the small-model
one, :mod:`siteplan.solve.search`):

1. the rows the LP relaxation breaks are found inside the staged search
   (:class:`CutPool`): its sifting LP adds them in the rounds where no
   column prices in, and its dive after each round, so the LP and the
   dive's plan keep the discs and no stage solves the whole LP again.
   For the small-model search (an integer programme from the start), the
   LP is solved first in one HiGHS instance, the rows its solution breaks
   added, and it is re-solved warm, until it breaks none (:func:`_lp_rows`);
2. the search runs on the model with those rows; the delivered plan, in
   whole units, is checked again by each rule's own exact check
   (a focal sum for the radius cap, not the rows added); rows for what it
   breaks are added and the search runs again, up to :data:`MAX_ROUNDS`;
3. a plan that still overfills discs when no time is left is fitted again
   on its own parcel-years, or trimmed (:mod:`siteplan.solve.trim`): every
   delivered plan keeps the cap, and what that costs is reported missing.

So the plan is proven against the rule itself, not against the rows that
happened to be added. Each round logs one INFO line when it starts.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import secrets
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import SolverError
from ..model.builder import CompiledModel
from .backends import MIN_STEP_S, _highs, _lex_key, _relaxed, _run, _run_for, _within_gap
from .stages import StageRecord
from .status import delivered_x

__all__ = ["CutPool", "lazy_rules", "lazy_row_index", "lazy_cuts", "with_cuts", "solve_lazily", "MAX_ROUNDS", "LP_SHARE"]

log = logging.getLogger(__name__)

#: Rounds of search at most: after the last, the plan is delivered as it is,
#: and its status says which rule it breaks (see :mod:`siteplan.solve.status`).
MAX_ROUNDS = 5
#: Rows a solution fills within this share of their bound are added with those it breaks:
#: the next solve would likely fill them past the bound (see :meth:`~siteplan.model.dispersion.RadiusCap.lazy_rows`).
NEAR = 0.1
#: Whole-unit steps again, on the same parcel-years, before a new round (see :func:`solve_lazily`).
REPAIRS = 3
#: ... tried only when the search's own plan overfills at most this many discs (321 at 20,000 parcels did not mend).
REPAIR_MOST = 50
#: A new round of search starts only while this share of the time limit is left.
NEW_ROUND_SHARE = 0.3
#: Share of the time limit the LP passes may take (they stop earlier when the LP breaks no row).
LP_SHARE = 0.3
#: LP passes at most.
LP_PASSES = 30


def lazy_rules(model: CompiledModel) -> list:
    """The model's rules that add rows lazily."""
    return [r for r in model.ctx.rules if getattr(r, "lazy", False) and hasattr(r, "lazy_rows")]


def lazy_row_index(model: CompiledModel, rules: list | None = None) -> np.ndarray:
    """Positions of the model's rows that lazy rules added (label ``part = "disc"``): an earlier solve's, kept."""
    names = [r.name for r in (lazy_rules(model) if rules is None else rules)]
    if not names or "part" not in model.rows:
        return np.zeros(0, dtype=int)
    return np.nonzero((model.rows["rule"].isin(names) & (model.rows["part"] == "disc")).to_numpy())[0]


def lazy_cuts(model: CompiledModel, x: np.ndarray, rules: list | None = None, *, near: float = NEAR,
              eps: float | None = None) -> tuple[sp.csr_matrix, np.ndarray, pd.DataFrame] | None:
    """The rows the solution ``x`` breaks, of every lazy rule: ``(block, ub, labels)``, or None.

    With some row broken, the rows ``x`` nearly fills (within ``near`` of the bound) come too.
    ``eps``: how far past its bound a row must be to count as broken (the rule's own default if None).
    """
    parts = []
    for rule in lazy_rules(model) if rules is None else rules:
        got = rule.lazy_rows(model, x, near=near, eps=eps)
        if got is not None:
            block, ub, labels = got
            parts.append((block, ub, labels.assign(rule=rule.name)))
    if not parts:
        return None
    return (sp.vstack([p[0] for p in parts], format="csr"), np.concatenate([p[1] for p in parts]),
            pd.concat([p[2] for p in parts], ignore_index=True))


#: How far past the cap (units) a disc of an LP solution must be for its row to be added inside the search
#: (:class:`CutPool`). Less than a unit over vanishes when units are made whole or is caught by the
#: exact check of the whole-unit plan; at 10,000 parcels the passes that added such rows changed the
#: LP's objective by 0.01% and took a third of the passes.
LP_EPS = 0.5


class CutPool:
    """The lazy rows found inside a search (its sifting LP and its dive), shared by every model of one solve.

    :meth:`separate` finds the rows an LP solution breaks and keeps them,
    each with an id (label ``cut``); :meth:`applied` returns a model with
    every kept row it does not hold yet, so the search's later stages (the
    dive, the MIPs, the whole-unit step) and the rounds of
    :func:`solve_lazily` all keep the rows found anywhere before them.
    Every row is valid for the rule (a disc's units at most the cap), so an
    LP over any subset of them is still a relaxation, and its optimum a
    bound.
    """

    def __init__(self, model: CompiledModel, rules: list):
        self.model, self.rules = model, rules
        self.blocks: list[sp.csr_matrix] = []
        self.ubs: list[np.ndarray] = []
        self.labels: list[pd.DataFrame] = []
        self.n = 0
        self.seconds = 0.0  # time spent finding rows
        # ids unique to this pool: a model may hold rows of an earlier solve's pool (an alternative's)
        self.token = secrets.token_hex(4)

    def separate(self, x: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, pd.DataFrame] | None:
        """The rows the LP solution ``x`` (over the model's columns) breaks by more than :data:`LP_EPS`, kept; or None."""
        t = time.perf_counter()
        cuts = lazy_cuts(self.model, x, self.rules, eps=LP_EPS)
        self.seconds += time.perf_counter() - t
        if cuts is not None:
            self.record(cuts)
        if cuts is not None and log.isEnabledFor(logging.DEBUG):
            over = cuts[0] @ x - cuts[1]
            log.debug("Separation: %d rows, most over by %.1f, %d over by more than 1%% of the bound",
                      len(over), over.max(), int(np.sum(over > 0.01 * cuts[1])))
        return cuts

    def record(self, cuts) -> None:
        """Keep rows found elsewhere (the exact check of a whole-unit plan)."""
        block, ub, labels = cuts
        self.blocks.append(block.tocsr())
        self.ubs.append(np.asarray(ub, dtype=float))
        self.labels.append(labels.assign(cut=[f"{self.token}-{i}" for i in range(self.n, self.n + block.shape[0])]))
        self.n += block.shape[0]

    def applied(self, model: CompiledModel) -> CompiledModel:
        """``model`` with every kept row it does not hold yet (by the ``cut`` label)."""
        if not self.n:
            return model
        labels = pd.concat(self.labels, ignore_index=True)
        have = set(model.rows["cut"].dropna()) if "cut" in model.rows else set()
        missing = np.nonzero(~labels["cut"].isin(have).to_numpy())[0]
        if not len(missing):
            return model
        block = sp.vstack(self.blocks, format="csr")[missing]
        labels = labels.iloc[missing].reset_index(drop=True)
        return with_cuts(model, (block, np.concatenate(self.ubs)[missing], labels))


def with_cuts(model: CompiledModel, cuts: tuple[sp.csr_matrix, np.ndarray, pd.DataFrame]) -> CompiledModel:
    """The model with the hard rows ``block x <= ub`` added, labelled with their rule."""
    block, ub, labels = cuts
    rows = pd.concat([model.rows, labels.assign(elastic="")], ignore_index=True)
    return dataclasses.replace(
        model,
        A=sp.vstack([model.A, block], format="csr"),
        row_lower=np.append(model.row_lower, np.full(block.shape[0], -np.inf)),
        row_upper=np.append(model.row_upper, ub),
        rows=rows[list(dict.fromkeys([*model.rows.columns, *rows.columns]))],
    )


def _lp_rows(model: CompiledModel, *, seconds: float, opts: dict) -> tuple[CompiledModel, int, int, bool]:
    """Rows the LP relaxation breaks, added pass by pass in one warm HiGHS instance.

    Returns the model with them, the rows added, the passes run, and
    whether the last LP broke none (False when the time share ran out).
    """
    if opts.get("solver", "highs") != "highs":
        return model, 0, 0, False
    t0 = time.perf_counter()
    left = lambda: max(MIN_STEP_S, seconds - (time.perf_counter() - t0))  # noqa: E731
    h = _highs(_relaxed(model), time_limit_s=left(), gap=0.0, threads=opts.get("threads"), seed=opts.get("seed", 0))
    _run(h)
    added, passes, clean = 0, 0, False
    while passes < LP_PASSES:
        passes += 1
        info = h.getInfo()
        if info.primal_solution_status != 2:
            break
        x = np.asarray(h.getSolution().col_value, dtype=float)
        cuts = lazy_cuts(model, x)
        if cuts is None:
            clean = True
            break
        block, ub, _ = cuts
        log.debug("Lazy rows, LP pass %d: %d rows added", passes, block.shape[0])
        model = with_cuts(model, cuts)
        added += block.shape[0]
        if time.perf_counter() - t0 > seconds:
            break
        b = block.tocsr()
        h.addRows(b.shape[0], np.full(b.shape[0], -np.inf), ub, b.nnz, b.indptr[:-1].astype(np.int32),
                  b.indices.astype(np.int32), b.data)
        _run_for(h, left())
    return model, added, passes, clean


#: Share of the time limit the last-resort trim (:mod:`siteplan.solve.trim`) may take, and at least this many seconds.
TRIM_SHARE, TRIM_LEAST_S = 0.1, 10.0
#: ... of which the refit (:func:`_refit`) may take this share: at 20,000 parcels it takes 5-6 s of the 12 s.
REFIT_SHARE = 0.75
#: Seconds before the limit at which the widenings of a refit (:func:`_widened`) stop. What follows them (the
#: check of the plan's discs, the status) takes under a second at 20,000 parcels, but a widening's rounding
#: and trim can end 2 s past its deadline on a busy machine.
WIDEN_MARGIN_S = 5.0


#: LP passes at most when the last plan's units are fitted again on its own parcel-years (:func:`_refit`).
REFIT_PASSES = 10


def _refit(base: CompiledModel, second, rules: list, rule, *, deadline: float, opts: dict,
           widen_until: float | None = None) -> np.ndarray | None:
    """The plan's units placed again on its own parcel-years with every disc row they need; None if that fails.

    An LP over the parcel-years ``second`` uses (the others closed), its
    overfilled discs' rows added pass by pass, moves units from full discs
    to the plan's other projects; its units are then rounded down, a host
    below its share given units back, and a disc of ``rule`` (the radius
    cap) that those overfill trimmed. Far less is given up than by taking
    units off the whole plan (:func:`siteplan.solve.trim.trim_to_cap`),
    which follows only if this fails.

    The LP lets a new project shrink below the project minimum (its binary
    is relaxed), and rounding closes it; its units are then missing. So,
    when rounding closed some, the LP is solved once more without them (and
    without the projects it left empty), every other new project held to
    its minimum (binary at 1): their units go to the projects left open.
    The plan with fewer units short is kept. At 20,000 parcels the first
    fit's rounding closed 117 projects, and the second fit brought the
    units missing from 16,724 to 3,868.

    Units the plan's own parcel-years cannot hold then go to new projects
    where time allows (:func:`_widened`), until ``widen_until`` (the
    widenings only improve a plan already in hand, so they may go on past
    ``deadline``): at 20,000 parcels one to three widenings brought the
    units missing to 586-1,089 (docs/performance.md, eighth pass).
    """
    if opts.get("solver", "highs") != "highs":
        return None
    ctx = base.ctx
    widen = functools.partial(_widened, deadline=deadline if widen_until is None else max(deadline, widen_until), opts=opts)
    chosen = np.round(base.slice_z(second.x)) > 0
    fitted = _fit_lp(base, chosen, rules, deadline=deadline, opts=opts)
    if fitted is None:
        return None
    model, x = fitted
    first, closed = _round_fit(base, model, x, rules, rule, deadline=deadline)
    if not closed.any():
        return widen(base, model, first, rules, rule)
    from ..model.dispersion import new_projects

    used = np.bincount(ctx.u_z, weights=x[: ctx.n_u], minlength=ctx.n_z) > 1e-6
    kept = chosen & used & ~closed  # a project the first fit left empty stays closed
    held = base.col_lower.copy()
    held[ctx.z_col(np.nonzero(kept & new_projects(ctx)[ctx.z_parcel])[0])] = 1.0
    again = _fit_lp(dataclasses.replace(model, col_lower=held), kept, rules, deadline=deadline, opts=opts)
    if again is None:
        log.debug("Refit: the projects left open cannot all hold the minimum; the first fit stands")
        return widen(base, model, first, rules, rule)
    second_fit, _ = _round_fit(base, again[0], again[1], rules, rule, deadline=deadline)
    if second_fit is None or (first is not None and base.slice_s(second_fit).sum() >= base.slice_s(first).sum()):
        return widen(base, model, first, rules, rule)
    log.debug("Refit: %d projects closed, the rest held to the minimum; %.0f units short instead of %s",
              int(closed.sum()), float(base.slice_s(second_fit).sum()),
              "none" if first is None else f"{float(base.slice_s(first).sum()):.0f}")
    return widen(base, again[0], second_fit, rules, rule)


#: Parcel-years the widened fit (:func:`_widened`) may offer beyond the plan's own: at most this many times the
#: plan's, and at least :data:`WIDEN_LEAST`.
WIDEN_SHARE, WIDEN_LEAST = 1.0, 200
#: Times at most that :func:`_widened` widens the fit.
WIDEN_ROUNDS = 4
#: Whether the widenings may close the plan's own projects, from the first (see :func:`_widened`).
WIDEN_SWAP = True


def _z_only_rows(model: CompiledModel) -> np.ndarray:
    """Rows with an upper bound over binaries alone (projects per district and year, one supply year)."""
    ctx = model.ctx
    lo, hi = ctx.n_u, ctx.n_u + ctx.n_z
    A = model.A.tocsr()
    inside = np.zeros(A.nnz, dtype=bool)
    inside[(A.indices >= lo) & (A.indices < hi)] = True
    row = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    n_in = np.bincount(row, weights=inside, minlength=A.shape[0])
    return np.nonzero((n_in == np.diff(A.indptr)) & (n_in > 0) & np.isfinite(model.row_upper))[0]


def _widened(base: CompiledModel, model: CompiledModel, plan: np.ndarray | None, rules: list, rule, *,
             deadline: float, opts: dict) -> np.ndarray | None:
    """The refitted ``plan`` (whole units; ``model``: ``base`` with the fit's disc rows) with units still short
    placed on new projects (:func:`_widened_once`), again while that gains and there is time: else ``plan``.

    With :data:`WIDEN_SWAP`, the widenings may also close the plan's own projects (``swap``): a project at
    its plot-ratio cap, or one holding a place the district needs for a larger one, then gives way. When a
    widening of one kind gains nothing, one of the other kind is tried, and the widenings go on with the
    kind that gained. At 20,000 parcels, widenings that only open took the units short (every elastic row)
    from 5,919 to 2,744 and 2,120 in two rounds, and one with closing then to 1,767 (581 units missing); one
    with closing from the start took them to 1,753 in one round (586 missing), so on the search's usual path
    a slow search no longer leaves 906-1,443 missing. On the path it took in one run of three under load,
    closing from the start did worse (1,089 missing against 631)."""
    swap = WIDEN_SWAP
    for _ in range(WIDEN_ROUNDS):
        t0 = time.perf_counter()
        better = _widened_once(base, model, plan, rules, rule, deadline=deadline, opts=opts, swap=swap)
        if better is None and WIDEN_SWAP:
            swap = not swap  # this kind is stuck: the other, and on with it if it gains
            better = _widened_once(base, model, plan, rules, rule, deadline=deadline, opts=opts, swap=swap)
        if better is None:
            return plan
        plan, model = better
        if deadline - time.perf_counter() < time.perf_counter() - t0:
            break  # the next would not end in time (one that cannot gives up at the deadline; the plan stays)
    return plan


def _widened_once(base: CompiledModel, model: CompiledModel, plan: np.ndarray | None, rules: list, rule, *,
                  deadline: float, opts: dict, swap: bool = False) -> tuple[np.ndarray, CompiledModel] | None:
    """The refitted ``plan`` (whole units; ``model``: ``base`` with the fit's disc rows) with units still short
    placed on new projects, and the model with the disc rows found; None when it gains nothing or there is no time.

    The fit moves units only among the plan's own parcel-years, so units that its discs cannot hold go
    missing. Here the LP is solved over the plan's parcel-years (each held open) and others where the plan's
    discs leave room for a project (fewer than ``N`` less the project minimum units within :math:`2R`; the
    best-scoring first), their binaries relaxed, with the disc rows its solutions break. Each parcel-year to
    which that LP gives at least the project minimum is opened, best first, while every row over binaries
    alone (projects per district and year) has room; the LP over the plan's and those, every one held open,
    is then rounded as the fit is. The plan with fewer units short is kept.

    With ``swap``, the plan's projects are not held open in the first LP, and rows over binaries alone do not
    rule a candidate out: a project to which that LP gives less than the minimum closes, and its place in
    those rows may go to a new one.
    """
    from ..model.dispersion import new_projects
    from ..model.focal import disc_sums
    from .sift import best_scores
    from .trim import project_minimum

    if plan is None or base.slice_s(plan).sum() < 0.5 or deadline - time.perf_counter() < 2 * MIN_STEP_S:
        return None
    t0 = time.perf_counter()
    ctx = base.ctx
    least = max(project_minimum(ctx), 1.0)  # units that make a project
    per_z = np.bincount(ctx.u_z, weights=plan[: ctx.n_u], minlength=ctx.n_z)
    used = per_z > 0.5
    project = new_projects(ctx)[ctx.z_parcel]
    xy = rule.centroids(ctx)
    per_parcel = np.bincount(ctx.u_parcel, weights=plan[: ctx.n_u], minlength=len(xy))
    busy = per_parcel > 0.5
    room = rule.max_units - disc_sums(xy[busy], per_parcel[busy], xy, 2 * rule.radius_m)[ctx.z_parcel]
    # rows over binaries alone (projects per district and year): their room for more projects
    zrows = _z_only_rows(base)
    Az = base.A[zrows][:, ctx.n_u: ctx.n_u + ctx.n_z].tocsc()
    slack_with = lambda open_z: base.row_upper[zrows] - Az @ open_z.astype(float)  # noqa: E731
    if swap:
        full = np.zeros(ctx.n_z, dtype=bool)  # a project the LP closes frees its place
    else:
        full = abs(Az).T @ (slack_with(used) < 1 - 1e-9).astype(float) > 0  # in a row that cannot take one more
    cand = np.nonzero(~used & ~full & project & (room >= least) & (base.col_upper[ctx.n_u: ctx.n_u + ctx.n_z] > 0))[0]
    most = max(WIDEN_LEAST, int(WIDEN_SHARE * used.sum()))
    cand = cand[np.argsort(-best_scores(base)[cand], kind="stable")][:most]
    if not len(cand):
        return None
    held = base.col_lower.copy()
    if not swap:
        held[ctx.z_col(np.nonzero(used & project)[0])] = 1.0
    offer = used.copy()
    offer[cand] = True
    fitted = _fit_lp(dataclasses.replace(model, col_lower=held), offer, rules, deadline=deadline, opts=opts)
    if fitted is None:
        return None
    lp_units = np.bincount(ctx.u_z, weights=fitted[1][: ctx.n_u], minlength=ctx.n_z)
    # with swap, the plan's projects to which the LP gives less than the minimum close; their places go to new ones
    kept = used & (~project | (lp_units >= least - 1e-6)) if swap else used.copy()
    slack = slack_with(kept)
    gain = cand[lp_units[cand] >= least - 1e-6]
    gain = gain[np.argsort(-lp_units[gain], kind="stable")]
    opened = []
    for j in gain:
        r, v = Az.indices[Az.indptr[j]: Az.indptr[j + 1]], Az.data[Az.indptr[j]: Az.indptr[j + 1]]
        if np.all(slack[r] - v >= -1e-9):
            slack[r] -= v
            opened.append(j)
    if not opened:
        return None
    keep = kept.copy()
    keep[opened] = True
    held[ctx.z_col(np.nonzero(keep & project)[0])] = 1.0
    again = _fit_lp(dataclasses.replace(fitted[0], col_lower=held), keep, rules, deadline=deadline, opts=opts)
    if again is None or time.perf_counter() > deadline - MIN_STEP_S:
        return None  # no time to round it: rounding and its trim would end past the deadline
    wide, _ = _round_fit(base, again[0], again[1], rules, rule, deadline=deadline)
    short, before = (np.inf if wide is None else float(base.slice_s(wide).sum())), float(base.slice_s(plan).sum())
    log.debug("Refit widened%s: %d parcel-years offered, %d opened%s; %s units short instead of %.0f, %.1f s",
              " with closing" if swap else "", len(cand), len(opened),
              f", {int((used & ~kept).sum())} of the plan's closed" if swap else "",
              "no plan" if wide is None else f"{short:.0f}", before, time.perf_counter() - t0)
    return (wide, again[0]) if short < before - 0.5 else None


def _fit_lp(base: CompiledModel, open_z: np.ndarray, rules: list, *, deadline: float, opts: dict):
    """The LP over the parcel-years ``open_z`` with the disc rows its solutions break added pass by pass: the
    model with those rows and the LP's solution, or None (no solution, no time, or still overfilled).

    One HiGHS instance over those columns: each pass adds the rows to it and re-solves from the last
    basis, as sifting does. At 20,000 parcels the passes took 1.9-2.7 s each as fresh solves.
    """
    from .backends import ParallelSimplex, _columns_of, _highs_result, _over_columns
    from .sift import _add_cut_rows

    cols = _columns_of(base, open_z)
    model = base
    sub = _over_columns(_relaxed(base), cols)
    left = deadline - time.perf_counter()
    if left < MIN_STEP_S:
        return None
    h = _highs(sub, time_limit_s=left, gap=0.0, threads=opts.get("threads"), seed=opts.get("seed", 0))
    simplex = ParallelSimplex(opts.get("threads"))
    for _ in range(REFIT_PASSES):
        left = deadline - time.perf_counter()
        if left < MIN_STEP_S:
            return None
        t_run = time.perf_counter()
        simplex.choose(h)
        _run_for(h, left)
        res = _highs_result(h, sub, time.perf_counter() - t_run)
        if not res.has_solution:
            return None
        x = np.zeros(base.n_cols)
        x[cols] = res.x[: len(cols)]
        cuts = lazy_cuts(model, x, rules)
        log.debug("Fit LP pass: %d parcel-years, %.1f s, objective %.2f, %d disc rows broken", int(open_z.sum()),
                  res.runtime_s, res.objective, 0 if cuts is None else cuts[0].shape[0])
        if cuts is None:
            return model, x
        model = with_cuts(model, cuts)
        _add_cut_rows(h, cuts, cols, base.n_cols)
    return None


def _round_fit(base: CompiledModel, model: CompiledModel, x: np.ndarray, rules: list, rule, *, deadline: float):
    """Whole units from a fit's LP solution ``x`` (over ``model``, ``base`` with disc rows): the plan (None if it
    breaks a row) and which new projects it closed for falling below the project minimum.

    Rounding down (a disc row only loses by it); a new project left below the minimum is closed, a host left
    below its inclusionary share gets units back (_up_to_own_minimum), and so does a project the LP held to the
    minimum that rounding took below it (largest remainder first). Rounding with repair would give up less, but
    at 20,000 parcels one start of it ran 30 s: this is instant.
    """
    from ..model.dispersion import new_projects
    from .rounding import complete
    from .trim import hard_rows_broken, project_minimum, trim_to_cap

    ctx = base.ctx
    out = x.copy()
    u = _up_to_own_minimum(model, x[: ctx.n_u], np.floor(out[: ctx.n_u] + 1e-6))
    minimum = project_minimum(ctx)
    held = model.col_lower[ctx.n_u: ctx.n_u + ctx.n_z] > 0.5
    u = _up_to_minimum(model, x[: ctx.n_u], u, held, minimum)
    per_z = np.bincount(ctx.u_z, weights=u, minlength=ctx.n_z)
    locked = base.col_lower[ctx.n_u: ctx.n_u + ctx.n_z] > 0.5
    new = new_projects(ctx)[ctx.z_parcel]  # the minimum binds them, not 配建 hosts
    small = (per_z > 0) & (per_z < minimum - 1e-9) & ~locked & new
    u[small[ctx.u_z]] = 0.0
    per_z[small] = 0.0
    u = _give_back(model, x[: ctx.n_u], u, (per_z > 0.5) | locked)
    per_z = np.bincount(ctx.u_z, weights=u, minlength=ctx.n_z)
    out[: ctx.n_u] = u
    out[ctx.n_u: ctx.n_u + ctx.n_z] = np.where((per_z > 0.5) | locked, 1.0, 0.0)
    whole = complete(model, out)
    if whole is None:
        return None, small
    if lazy_cuts(base, whole, rules) is not None:
        # the units given back can overfill a full disc by a unit or two: taken off other projects in it
        whole = trim_to_cap(base, whole[: base.n_cols], rule, deadline=deadline)
        if whole is None:
            return None, small
    if len(hard_rows_broken(model, whole)) or lazy_cuts(base, whole, rules) is not None:
        return None, small
    return whole[: base.n_cols], small


def _give_back(model: CompiledModel, x_u: np.ndarray, u: np.ndarray, open_z: np.ndarray) -> np.ndarray:
    """Units ``u`` (``x_u`` rounded down) with a unit given back to columns of the open parcel-years ``open_z``,
    largest remainder first, up to ``x_u`` rounded up, wherever that lowers the objective as rounding with repair
    prices it (:func:`siteplan.solve.rounding.priced_rows`: a target it serves is short, and no row it counts in
    goes further from its bound than that gains; a hard row never leaves its bounds). Rounding each column down
    loses half a unit on average: at 20,000 parcels the fit's plan lacked hundreds of units, a few in each type
    and year, that its parcel-years had room for."""
    from .rounding import priced_rows

    ctx = model.ctx
    cand = np.nonzero(open_z[ctx.u_z] & (x_u - u > 1e-6))[0]
    if not len(cand):
        return u
    rows = priced_rows(model, open_z.astype(float))
    if rows is None:
        return u
    at = np.full(ctx.n_u, -1)
    at[rows.J] = np.arange(len(rows.J))
    search = rows.search(model, u[rows.J])
    for c in cand[np.argsort(-(x_u[cand] - u[cand]), kind="stable")]:
        if at[c] >= 0 and search.delta([at[c]], [1.0]) < -1e-9:
            search.apply([at[c]], [1.0])
    u = u.copy()
    u[rows.J] = search.u
    return u


def _up_to_minimum(model: CompiledModel, x_u: np.ndarray, u: np.ndarray, held: np.ndarray, minimum: float) -> np.ndarray:
    """Units ``u`` (``x_u`` rounded down) with units given back to each parcel-year the LP ``held`` to the
    project minimum that rounding took below it: one to a column, largest remainder first, as many as it lacks,
    and only where every row with an upper bound (a disc, the plot ratio) still has room for it."""
    from .rounding import over_units

    ctx = model.ctx
    if minimum <= 0 or not held.any():
        return u
    per_z = np.bincount(ctx.u_z, weights=u, minlength=ctx.n_z)
    lack = np.where(held, np.ceil(minimum - per_z - 1e-9), 0.0)
    cand = np.nonzero((lack[ctx.u_z] > 0) & (x_u - u > 1e-6))[0]
    if not len(cand):
        return u
    sub = over_units(model)
    if sub is None:
        return u
    B, const = sub
    z = np.zeros(ctx.n_z)
    z[held] = 1.0
    act = B @ u + const + model.A.tocsc()[:, ctx.n_u: ctx.n_u + ctx.n_z] @ z
    ub = model.row_upper + 1e-6 * (1.0 + np.abs(np.where(np.isfinite(model.row_upper), model.row_upper, 0.0)))
    u = u.copy()
    for c in cand[np.argsort(-(x_u[cand] - u[cand]), kind="stable")]:
        j = ctx.u_z[c]
        if lack[j] <= 0:
            continue
        r, v = B.indices[B.indptr[c]: B.indptr[c + 1]], B.data[B.indptr[c]: B.indptr[c + 1]]
        if np.all(act[r] + v <= ub[r]):
            u[c] += 1.0
            act[r] += v
            lack[j] -= 1.0
    return u


def _up_to_own_minimum(model: CompiledModel, x_u: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Units ``u`` (``x_u`` rounded down) with units given back where a hard row over one parcel-year's units
    alone, with positive coefficients (the inclusionary share of a host's floor area), fell below its lower
    bound: one at a time, largest remainder of ``x_u`` first, until the row holds or the parcel-year has no
    unit left to give back."""
    ctx = model.ctx
    A = model.A.tocsr()
    hard = (model.rows["elastic"] == "").to_numpy() & np.isfinite(model.row_lower)
    act = A[:, : ctx.n_u] @ u
    u = u.copy()
    for r in np.nonzero(hard & (act < model.row_lower - 1e-6))[0]:
        cols, coef = A.indices[A.indptr[r]: A.indptr[r + 1]], A.data[A.indptr[r]: A.indptr[r + 1]]
        if not len(cols) or cols.max() >= ctx.n_u or (coef <= 0).any() or len(np.unique(ctx.u_z[cols])) > 1:
            continue
        room = np.ceil(x_u[cols] - 1e-6) - u[cols]  # at most the LP's units, rounded up
        for k in np.argsort(-(x_u[cols] - u[cols]), kind="stable"):
            while room[k] > 0 and act[r] < model.row_lower[r] - 1e-6:
                u[cols[k]] += 1.0
                room[k] -= 1.0
                act[r] += coef[k]
    return u


def _trimmed(base: CompiledModel, second, rules: list, *, time_limit_s: float, opts: dict | None = None,
             deadline: float | None = None):
    """The whole-unit plan ``second`` brought within the radius cap, and the step's record; None when it cannot be.

    First its units are fitted again on its own parcel-years (:func:`_refit`); failing that, units are taken off
    the densest discs (:func:`siteplan.solve.trim.trim_to_cap`). The refit may take :data:`REFIT_SHARE` of the
    trim's time, or, with a ``deadline``, until :data:`TRIM_LEAST_S` before it; once it has a plan, its widenings
    may go on until :data:`WIDEN_MARGIN_S` before the ``deadline``.
    """
    from .trim import trim_to_cap

    rule = next((r for r in rules if getattr(r, "name", "") == "radius_cap"), None)
    if rule is None:
        return None
    t0 = time.perf_counter()
    budget = max(TRIM_LEAST_S, TRIM_SHARE * time_limit_s)
    refit_until = t0 + REFIT_SHARE * budget if deadline is None else max(t0 + REFIT_SHARE * budget, deadline - TRIM_LEAST_S)
    # the widenings improve a plan in hand: they may use the limit but for WIDEN_MARGIN_S
    widen_until = refit_until if deadline is None else max(refit_until, deadline - WIDEN_MARGIN_S)
    x = _refit(base, second, rules, rule, deadline=refit_until, opts=opts or {}, widen_until=widen_until)
    how = "Refitted on the plan's parcel-years"
    if x is not None:
        log.info("Units fitted again on the plan's parcel-years with their disc rows: %.0f units short, %.1f s",
                 float(base.slice_s(x).sum()), time.perf_counter() - t0)
    else:
        x = trim_to_cap(base, second.x, rule, deadline=max(t0 + budget, time.perf_counter() + TRIM_LEAST_S))
        how = "Trimmed to the radius cap"
    if x is None or lazy_cuts(base, x, rules) is not None:
        return None
    seconds = time.perf_counter() - t0
    res = dataclasses.replace(second, x=x, objective=float(base.cost @ x), status=how,
                              optimal=False, bound=float("nan"), gap=float("nan"), runtime_s=second.runtime_s + seconds)
    # the trim keeps the rule, but what it gives up is not measured against any bound: the step proves nothing
    return res, StageRecord("trim", how, seconds, False, False, None)


def _within_cap(base: CompiledModel, second, cuts, rules: list, stages: list[StageRecord], *, time_limit_s: float,
                opts: dict, limit_hit: bool):
    """The whole-unit plan to deliver when no round is left and ``second`` overfills the discs of ``cuts``.

    Brought within the cap by :func:`_trimmed` when it can be (its record added to ``stages``); else
    delivered as it is, with a ``lazy_rows`` record that proves nothing (``limit_hit``: it stopped for lack
    of time), so that its status says the rule is broken.
    """
    trimmed = _trimmed(base, second, rules, time_limit_s=time_limit_s, opts=opts)
    if trimmed is not None:
        second, record = trimmed
        stages.append(record)
        log.warning("No time for another round: the plan was brought within the radius cap (%s); what that gives "
                    "up is reported missing", record.status.lower())
        return second
    log.warning("The plan still overfills %d discs; delivering it as it is (no time for another round)", cuts[0].shape[0])
    stages.append(StageRecord("lazy_rows", "Rows left", 0.0, limit_hit, False, None))
    return second


def solve_lazily(search, model: CompiledModel, base: CompiledModel, *, gap: float, time_limit_s: float, opts: dict,
                 stages: list[StageRecord], t0: float, whole_units=None):
    """Run ``search`` (``_staged`` or ``_solve_small``) with the lazy rules' rows added as needed.

    ``search(model, base, gap=, time_limit_s=, opts=, stages=, t0=)``
    returns ``(first, bound, method, solve_s, second)``: the search's plan
    and the whole-unit plan; this returns the same, plus the model and base
    with every row added. Without lazy rules it only calls ``search``.

    After each round, the search's own plan is checked first: if it
    overfills more than :data:`REPAIR_MOST` discs, the rows go in and the
    search runs again (no whole units on its parcel-years would keep them
    cheaply). Otherwise, when the whole-unit plan overfills discs,
    ``whole_units(base, x, bound)`` (returning the new whole-unit result
    and its stage record) makes the units whole again with the new rows,
    on the same parcel-years, up to :data:`REPAIRS` times, before a new
    round. A round that finds no plan in the time left delivers the last
    round's plan. A plan that still overfills discs when no time is left
    is fitted again on its own parcel-years with the rows it needs, or, if
    that fails, trimmed (:func:`_trimmed`, :mod:`siteplan.solve.trim`), so
    that every delivered plan keeps the cap; what that gives up is reported
    missing. The bound of the last round is valid for the rule itself (its
    rows are a subset of the rule's), and the delivered plan is checked
    against the rule's own exact check before it is kept.
    """
    rules = lazy_rules(model)
    if not rules:
        return (*search(model, base, gap=gap, time_limit_s=time_limit_s, opts=opts, stages=stages, t0=t0), model, base)
    same = base is model
    deadline = t0 + time_limit_s
    pool = CutPool(model, rules)
    # a search that takes the pool adds the rows its own LPs break, inside its sifting LP and dive
    separates = bool(getattr(search, "separates", False)) and opts.get("solver", "highs") == "highs"
    kw = {"pool": pool} if separates else {}

    def add(cuts):
        pool.record(cuts)
        sync()

    def sync():
        """The pool's rows (found by the search, or by the checks here) into the model and base."""
        nonlocal model, base
        model = pool.applied(model)
        base = model if same else pool.applied(base)

    t_lp = time.perf_counter()
    earlier = len(lazy_row_index(model, rules))
    if separates:
        # the search's sifting LP finds them: the LP passes here would solve the whole LP once more
        log.info("Lazy disc rows: %s; the search adds the rows its LPs break",
                 f"{earlier} rows from the earlier solve kept" if earlier else "none yet")
        cut_model, added, passes, clean = model, 0, 0, None
    elif earlier:
        # rows found by an earlier solve of this model (the best plan, for an alternative): the LP passes would
        # solve the whole LP once more to find what the rounds below catch anyway (6 s of each demo alternative)
        log.info("Lazy disc rows: %d rows from the earlier solve kept; no LP passes", earlier)
        cut_model, added, passes, clean = model, 0, 0, True
    else:
        log.info("Stage: lazy disc rows in the LP")
        cut_model, added, passes, clean = _lp_rows(model, seconds=LP_SHARE * time_limit_s, opts=opts)
    if added:
        labels = cut_model.rows.iloc[model.n_rows:].drop(columns=["elastic"])
        add((cut_model.A[model.n_rows:], cut_model.row_upper[model.n_rows:], labels))
    seconds = time.perf_counter() - t_lp
    if clean is not None:
        # passes stopped by their time share with discs still overfilled: the stage did not finish its part
        stages.append(StageRecord("lazy_rows", "Optimal" if clean else "Time limit reached", seconds, not clean, clean, None))
        log.info("Lazy disc rows in the LP: %d rows in %d passes, %.1f s", added, passes, seconds)
    last = None  # the previous round's result, delivered if a later round finds no plan in the time left
    kept = None  # the best plan of the rounds searched again that keeps every disc: (round, result, last record, key)
    bounds: list[tuple[float, str]] = []  # each round's bound and method

    def key_of(res) -> tuple[float, float]:
        """How the rounds' plans are compared (:func:`~siteplan.solve.backends._lex_key` of the plan as delivered)."""
        return _lex_key(base, delivered_x(base, res.x))

    def deliver(k: int, first, bound, method, solve_s, second):
        """Round ``k``'s result, or the kept plan of an earlier round when that one has fewer units short (then
        the lower penalised objective): a later round, with more rows from its start, can end with a worse plan
        (at 20,000 parcels with a 600 s limit round 2 ended 1,891 units short against round 1's 1,190). Without a
        bound of its own (its sifting stopped by the limit), a round is measured against the best earlier one's:
        every round's LP holds a subset of the rule's rows, so its bound is one for the rule (least-shortfall
        bounds stay with their own round: they hold only for plans with no more shortfall than its floor)."""
        key = key_of(second)
        if kept is not None and kept[0] < k and kept[3] < key:
            j, earlier, record, earlier_key = kept
            log.info("Lazy disc rows, round %d: its plan is %.0f units short, round %d's %.0f; delivering round %d's plan",
                     k, key[0], j, earlier_key[0], j)
            # the delivered plan's own last record again, as it was before the later round
            stages.append(dataclasses.replace(record, seconds=0.0, status=f"{record.status}; round {j}'s plan, delivered"))
            first, bound, method, _, second = earlier
        plain = [b for b, m in bounds if np.isfinite(b) and "least-shortfall" not in m]
        if "least-shortfall" not in method and plain:
            bound = max([bound, *plain]) if np.isfinite(bound) else max(plain)
        return first, bound, method, solve_s, second, model, base

    for k in range(1, MAX_ROUNDS + 1):
        log.info("Stage: lazy disc rows, round %d", k)
        t_round = time.perf_counter()
        left = max(MIN_STEP_S, deadline - time.perf_counter())
        try:
            # a later round does not search past the limit for a plan: the last round's goes out instead
            first, bound, method, solve_s, second = search(model, base, gap=gap, time_limit_s=left, opts=opts,
                                                           stages=stages, t0=t0, extend=last is None, **kw)
        except SolverError:
            sync()
            if last is None:
                raise
            # a later round with more rows found no plan in the time left: the last round's plan goes out
            log.warning("Lazy disc rows, round %d: no plan in the %.0f s left; delivering round %d's plan", k, left, k - 1)
            stages.append(StageRecord("lazy_rows", "Time limit reached", 0.0, True, False, None))
            first, bound, method, solve_s, second = last
            cuts = lazy_cuts(base, delivered_x(base, second.x), rules)
            if cuts is not None:
                second = _within_cap(base, second, cuts, rules, stages, time_limit_s=time_limit_s, opts=opts,
                                     limit_hit=True)
            return deliver(k, first, bound, method, solve_s, second)
        sync()
        if separates:
            log.info("Lazy disc rows, round %d: %d disc rows so far (%.1f s finding them in the search's LPs)",
                     k, pool.n, pool.seconds)
        last = (first, bound, method, solve_s, second)
        bounds.append((bound, method))
        short = float(base.slice_s(first.x).sum())
        # The repairs below mend what rounding to whole units overfilled. When the search's own plan overfills
        # discs, no whole units on its parcel-years can keep them cheaply (at 20,000 parcels the repair of such
        # a plan ran 32 s from one start and 150 s from the next, past the limit): a new round, or the trim, does.
        own = lazy_cuts(base, first.x, rules, near=0.0)
        if own is not None:
            log.info("Lazy disc rows, round %d: the search's own plan overfills %d discs", k, own[0].shape[0])
        mend = own is None or own[0].shape[0] <= REPAIR_MOST  # a few discs (4 at 10,000 parcels) mend cheaply
        rows_before = base.n_rows
        cuts = lazy_cuts(base, delivered_x(base, second.x), rules)  # of the whole-unit plan in hand, kept up to date
        for _ in range(REPAIRS if whole_units is not None and mend else 0):
            # first the same parcel-years with the new rows: far cheaper than a new search
            if cuts is None:
                break
            took = next((s.seconds for s in reversed(stages) if s.name == "whole_units"), 0.0)
            if deadline - time.perf_counter() < took:
                # another would likely end past the limit (at 20,000 parcels with 300 s, two ran 37 s from 24 s
                # before it): the plan goes to the refit or the trim below, which take a few seconds
                log.info("Lazy disc rows, round %d: no time to make the units whole again (the last time took %.1f s)",
                         k, took)
                break
            log.info("Lazy disc rows, round %d: the plan overfills %d discs; making its units whole again with their rows",
                     k, cuts[0].shape[0])
            add(cuts)
            try:
                second, record = whole_units(base, first.x, bound)
            except SolverError:  # no whole units on these parcel-years keep the new rows (project minimums)
                log.info("Lazy disc rows, round %d: the parcel-years cannot keep the new rows", k)
                break
            stages.append(record)
            cuts = lazy_cuts(base, delivered_x(base, second.x), rules)
        # a plan that gives up more than the search's is searched again only with rows added this round:
        # with the same rows the search gives the same plan (the over-constrained demo ran five identical rounds)
        more_short = (float(base.slice_s(delivered_x(base, second.x)).sum()) > short + 0.5
                      and base.n_rows > rows_before)
        time_left = deadline - time.perf_counter() > NEW_ROUND_SHARE * time_limit_s
        late = time.perf_counter() > deadline
        if late:  # the rounds ran past the limit: say so, whatever the plan
            stages.append(StageRecord("lazy_rows", "Time limit reached", 0.0, True, False, None))
        # the search's own plan broke discs and its fit to them gave targets up, or left the gap asked for: another
        # round knows those discs from its start, if there is as much time left as this round took (at 20,000
        # parcels there is not)
        fit_x = delivered_x(base, second.x)
        gave_up = float(base.slice_s(fit_x).sum()) > short + 0.5 or (
            np.isfinite(bound) and not _within_gap(float(base.cost @ fit_x), bound, gap))
        refitted = (own is not None and cuts is None and time_left and stages[-1].name == "trim" and gave_up
                    and deadline - time.perf_counter() > time.perf_counter() - t_round)
        if cuts is None and not (more_short and time_left) and not refitted:
            log.info("Lazy disc rows, round %d: the plan overfills no disc", k)
            return deliver(k, first, bound, method, solve_s, second)
        if k == MAX_ROUNDS or not time_left:
            if cuts is not None:
                add(cuts)
                second = _within_cap(base, second, cuts, rules, stages, time_limit_s=time_limit_s, opts=opts,
                                     limit_hit=not time_left and not late)
            return deliver(k, first, bound, method, solve_s, second)
        log.info("Lazy disc rows, round %d: %s; searching again with the rows found", k,
                 "the plan gives up targets to keep the discs" if cuts is None else f"the plan overfills {cuts[0].shape[0]} discs")
        if cuts is None:  # the plan keeps every disc: deliverable, if no later round does better
            key = key_of(second)
            if kept is None or key < kept[3]:
                kept = (k, (first, bound, method, solve_s, second), stages[-1], key)
        if cuts is not None:
            add(cuts)
        if refitted:
            add(own)
            # the fit's plan (this round's last stage) is not the one delivered: its record, like a dive's, needs no proof
            stages[-1] = dataclasses.replace(stages[-1], status=stages[-1].status + "; searched again", proven=True)
    raise AssertionError("unreachable")
