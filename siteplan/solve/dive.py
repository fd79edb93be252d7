"""The LP dive: a plan from the sifted LP by fixing parcel-years to 1 in rounds until its binaries are whole.

:func:`_dive_rows` counts what fixing each parcel-year adds, at the least,
to the hard rows with an upper bound, so a round fixes only what they
allow; :func:`_lp_dive` runs the rounds on the sifted LP's HiGHS instance.
"""

from __future__ import annotations

import logging
import time
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ..model.builder import CompiledModel
from .backends import MIN_STEP_S, SolveResult, _run_for, _without_rows_since, is_abandoned
from .sift import _add_cut_rows, _Sifted

log = logging.getLogger(__name__)


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


class DiveRows(NamedTuple):
    """What the dive counts (see :func:`_dive_rows`)."""

    W: sp.csc_matrix  #: rows x parcel-years: what fixing each adds to the row, at the least
    room: np.ndarray  #: each row's upper bound less its least activity with nothing fixed
    least: np.ndarray  #: least units of each parcel-year once it is used
    defs: tuple | None  #: the auxiliary columns as functions of the units (``rounding._aux_definitions``)


def _dive_rows(model: CompiledModel) -> DiveRows:
    r"""What fixing each parcel-year to 1 adds, at the least, to the hard rows
    with an upper bound: ``W`` (rows x parcel-years) and ``room``, the upper
    bound less the rows' least activity with nothing fixed (:class:`DiveRows`).

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
    from .rounding import _aux_definitions, over_units

    ctx = model.ctx
    n_u, n_z = ctx.n_u, ctx.n_z
    hard = (model.rows["elastic"] == "").to_numpy()
    A = model.A.tocsc()
    defs = _aux_definitions(model)
    # without a definition of some auxiliary column, its terms are left out
    U, const = over_units(model, defs) or (A[:, :n_u], np.zeros(model.n_rows))
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
    return DiveRows(W, room, least, defs)


def _cut_dive_rows(model: CompiledModel, rows: DiveRows, block: sp.csr_matrix, ub: np.ndarray) -> tuple[sp.csc_matrix, np.ndarray] | None:
    """:func:`_dive_rows` of lazy rows ``block x <= ub`` (over auxiliary columns: the radius cap's discs), or None.

    Fixing a parcel-year adds its least units (the project minimum) to
    every disc row over its parcel's units.
    """
    from .rounding import over_units

    if rows.defs is None:
        return None
    ctx = model.ctx
    U, const = over_units(model, rows.defs, A=block)
    U = U.tocoo()
    pos = U.data > 0
    n_z = ctx.n_z
    key = np.unique(U.row[pos].astype(np.int64) * n_z + ctx.u_z[U.col[pos]])
    r, j = key // n_z, key % n_z
    W = sp.csr_matrix((rows.least[j], (r, j)), shape=(block.shape[0], n_z)).tocsc()
    return W, np.asarray(ub, dtype=float) - const


#: Units each disc row keeps free in the dive's last LP (:func:`_leave_room`), as a share of the cap
#: (at least one unit; 0: none). At 10,000 parcels 0.2% (8 of 4,000 units) cost 0.015% of the score.
DISC_ROOM = 0.002


def _disc_rows(model: CompiledModel, h) -> np.ndarray:
    """The HiGHS rows of ``h`` that are lazy rows: the model's own (added in an earlier round) and those past its rows."""
    from .lazy import lazy_row_index

    return np.concatenate([lazy_row_index(model), np.arange(model.n_rows, h.getNumRow())]).astype(np.int32)


def _leave_room(model: CompiledModel, h, x: np.ndarray, solution, stop) -> np.ndarray:
    r"""The dive's plan again with every disc row :data:`DISC_ROOM` of the cap below it, if that costs no target.

    The parcel-years are whole by now, so the LP only moves units between
    the chosen ones. A plan whose discs sit exactly at the cap leaves
    rounding no unit to give a project rounded below its minimum: at
    10,000 parcels every start of rounding with repair left 2-4 projects a
    unit short in clusters of full discs, and an integer step of 7-14 s
    followed. The bounds are put back afterwards; the bound of the search
    is the sifted LP's, so it does not move.
    """
    import highspy

    rows = _disc_rows(model, h) if DISC_ROOM > 0 else []
    if not len(rows):
        return x
    _, _, lower, upper, _ = h.getRows(len(rows), rows)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    room = np.maximum(1.0, np.floor(DISC_ROOM * upper))
    try:
        h.changeRowsBounds(len(rows), rows, lower, upper - room)
        _run_for(h, stop())
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            log.debug("LP dive: no plan with room in the discs (%s)", h.modelStatusToString(h.getModelStatus()))
            return x
        roomy = solution()
        if model.slice_s(roomy).sum() > model.slice_s(x).sum() + 1e-6:
            log.debug("LP dive: room in the discs costs a target; the plan keeps them full")
            return x
        log.debug("LP dive: %d disc rows given room, score %.2f to %.2f", len(rows), -float(model.cost @ x), -float(model.cost @ roomy))
        return roomy
    finally:
        h.changeRowsBounds(len(rows), rows, lower, upper)


#: Lazy-row passes after each dive round at most (:func:`_lp_dive` with a pool).
DIVE_CUT_PASSES = 5
#: A re-solve after lazy rows that takes longer than this many times the round's own LP (and at least
#: :data:`DIVE_CUT_MIN_S`) is stopped: the rows leave the LP, the last basis comes back, and the dive
#: goes on without adding rows. Backing off from parcel-years of the round that the rows refuse (the
#: project minimums of a disc's fixed projects over its cap) counts as part of that re-solve: past the
#: same time, the parcel-years fixed and closed before the rows come back too.
DIVE_CUT_SLOW = 1.0
DIVE_CUT_MIN_S = 2.0


def _lp_dive(model: CompiledModel, sifted: _Sifted, *, left, rows: DiveRows | None = None, pool=None) -> SolveResult | None:
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

    With a ``pool`` (:class:`siteplan.solve.lazy.CutPool`), the rows each
    round's LP breaks (the radius cap's overfilled discs) are added to the
    LP and kept in the pool, up to :data:`DIVE_CUT_PASSES` passes a round,
    and counted like the other rows when parcel-years are fixed (a disc
    holds the project minimum of each project fixed in it). The dive's plan
    then keeps the discs (less than :data:`siteplan.solve.lazy.LP_EPS`
    over): without it, the dive moves units into discs the sifted LP left
    below the cap (at 20,000 parcels its plan overfilled 321 discs). A
    pass whose re-solve, backing off included, takes longer than
    :data:`DIVE_CUT_SLOW` allows is undone, and the dive adds no more rows;
    its plan may then overfill discs, and the search fits it to them.
    """
    import highspy

    ctx = model.ctx
    h, cols = sifted.highs, sifted.cols
    local = np.full(model.n_cols, -1)
    local[cols] = np.arange(len(cols))
    z_local = local[ctx.n_u : ctx.n_u + ctx.n_z]
    rows = rows if rows is not None else _dive_rows(model)
    W, room = rows.W, rows.room
    act = np.zeros(len(room))
    tol = 1e-9 * np.maximum(1.0, np.abs(room))
    fixed = np.zeros(ctx.n_z, dtype=bool)
    closed = z_local < 0
    lower0, upper0 = model.col_lower[cols].copy(), model.col_upper[cols].copy()
    x = sifted.res.x
    t0 = time.perf_counter()
    last_s = 0.0  # the last round's time
    kept_going = False  # a last round by DIVE_MAX_ROUNDS was short, so the dive went on
    cutting = True  # lazy rows are still added (see DIVE_CUT_SLOW)
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

    def settle(status, batch: list, rounds: int, until: float | None = None):
        """Back off from an infeasible LP: rows over units as well as binaries can refuse a batch,
        so it is undone and its first half tried; a single parcel-year refused is closed. With ``until``
        (a ``perf_counter`` time), backing off stops there, the LP left as it is (the caller undoes it)."""
        while status == highspy.HighsModelStatus.kInfeasible and batch:
            if until is not None and time.perf_counter() >= until:
                break
            release(batch)
            if len(batch) == 1:
                closed[batch[0]] = True
                set_bounds(batch, 0.0, 0.0)
                batch = []
            else:
                batch = batch[: len(batch) // 2]
                fix(batch)
            _run_for(h, stop() if until is None else max(0.0, min(stop(), until - time.perf_counter())))
            status = h.getModelStatus()
            if time.perf_counter() - t0 > budget:
                break
            log.debug("LP dive round %d retried with %d: %s", rounds, len(batch), h.modelStatusToString(status))
        return status, batch

    def add_rows(cuts) -> None:
        """Add lazy rows to the LP and to what :func:`fits` counts."""
        nonlocal W, room, act, tol
        _add_cut_rows(h, cuts, cols, model.n_cols)
        more = _cut_dive_rows(model, rows, cuts[0], cuts[1])
        if more is None:
            return
        W_new, room_new = more
        act = np.append(act, W_new @ fixed.astype(float))
        W = sp.vstack([W.tocsr(), W_new.tocsr()]).tocsc()
        room = np.append(room, room_new)
        tol = 1e-9 * np.maximum(1.0, np.abs(room))

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
            if sifted.simplex is not None:
                sifted.simplex.choose(h)
            if int(np.sum(z[batch] < 1 - 1e-6)) + len(shut) >= DIVE_COLD:
                # many bounds moved: presolve and a fresh simplex beat the last basis
                h.clearSolver()
            t_round = time.perf_counter()
            _run_for(h, max(stop(), last_s) if finish else stop())
            round_s = time.perf_counter() - t_round
            status = h.getModelStatus()
            log.debug("LP dive round %d: %d fixed, %d closed, %s, %.1f s", rounds, len(batch), len(shut),
                      h.modelStatusToString(status), time.perf_counter() - t0)
            status, batch = settle(status, batch, rounds)
            for _ in range(DIVE_CUT_PASSES if pool is not None and cutting and status == highspy.HighsModelStatus.kOptimal else 0):
                cuts = pool.separate(solution())
                if cuts is None:
                    break
                saved = (W, room, act.copy(), tol, h.getNumRow(), h.getBasis(), list(batch), fixed.copy(), closed.copy())
                add_rows(cuts)
                left_now = max(stop(), last_s) if finish else stop()
                slow = max(DIVE_CUT_MIN_S, DIVE_CUT_SLOW * round_s)
                t_cut = time.perf_counter()
                _run_for(h, min(left_now, slow))
                status = h.getModelStatus()
                # backing off from the round's fixed parcel-years that the rows refuse shares the re-solve's time:
                # at 20,000 parcels with a 300 s limit it took 71 s (a round's LP: 8 s), and the dive's last round,
                # late, then closed enough parcel-years to leave about 12,550 units short
                until = t_cut + slow if slow < left_now else None
                refused = status == highspy.HighsModelStatus.kInfeasible
                if refused:
                    status, batch = settle(status, batch, rounds, until=until)
                if until is not None and (status == highspy.HighsModelStatus.kTimeLimit or (
                        status != highspy.HighsModelStatus.kOptimal and time.perf_counter() >= until)):
                    # the LP with these rows re-solves too slowly: they leave it, the parcel-years fixed and closed
                    # before them and the last basis come back, and the dive goes on without adding rows (the
                    # pool keeps them; the plan is fitted to them afterwards)
                    W, room, act, tol, n_before, basis, batch, was_fixed, was_closed = saved
                    reopen = np.nonzero(closed & ~was_closed)[0]
                    fixed[:], closed[:] = was_fixed, was_closed
                    if len(reopen):
                        idx = z_local[reopen]
                        set_bounds(reopen, lower0[idx], upper0[idx])
                    set_bounds(batch, 1.0, 1.0)
                    _without_rows_since(h, n_before, basis, left_now)
                    cutting = False
                    log.info("LP dive round %d: the LP with %d more disc rows did not re-solve in %.1f s%s; "
                             "the dive goes on without them", rounds, cuts[0].shape[0], slow,
                             ", backing off from the parcel-years they refuse" if refused else "")
                    status = h.getModelStatus()
                    break
                log.debug("LP dive round %d: %d disc rows added, %s", rounds, cuts[0].shape[0], h.modelStatusToString(status))
                if status != highspy.HighsModelStatus.kOptimal:
                    break
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
        if pool is not None:
            x = _leave_room(model, h, x, solution, stop)
        objective = float(model.cost @ x)
        log.info("LP dive: a plan in %d rounds, %.1f s, objective %.2f", rounds, time.perf_counter() - t0, objective)
        return SolveResult(solver="highs", status="Dive plan", has_solution=True, optimal=False, time_limit_hit=False,
                           x=x, objective=objective, bound=float("nan"), gap=float("nan"),
                           runtime_s=time.perf_counter() - t0)
    finally:
        if not is_abandoned(h):  # a solve left running after Ctrl-C owns the instance
            h.changeColsBounds(len(cols), np.arange(len(cols), dtype=np.int32), lower0, upper0)
