"""The LP relaxation by sifting: column generation over parcel-years, from a start set that covers every target.

:func:`_sifted_lp` solves the LP over a few parcel-years, prices the others
with its duals and adds those that price in, until none do (the optimum of
the whole LP, a bound) or its share of the time is spent. The HiGHS
instance it leaves (:class:`_Sifted`) is where the dive starts.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from ..model.builder import CompiledModel
from .backends import (MIN_STEP_S, ParallelSimplex, SolveResult, _columns_of, _highs, _highs_result, _over_columns, _relaxed,
                       _run_for, _without_rows_since)

log = logging.getLogger(__name__)


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
#: ... and, counting the radius cap (:func:`_room_under_cap`), this many times.
SIFT_CAP_COVER = 2.0
#: Share of the search's time that sifting may take before the MIP gets the rest.
SIFT_SHARE = 0.5
#: Share of sifting's time in which rounds may add lazy rows (see :func:`_sifted_lp`).
SIFT_CUT_SHARE = 0.5
#: Past that share, sifting still goes on while fewer than this share of the
#: LP's parcel-years price in: re-solving with them is quick, and proves the
#: bound. On a 20,000-parcel city the first LP took 50 s of a 51 s share and
#: left 4 of 8,936 pricing in; the round that added them took 0.25 s, and
#: without it the run had no bound and reported no gap.
SIFT_FEW = 0.05


def best_scores(model: CompiledModel) -> np.ndarray:
    """Each parcel-year's best score per unit over its types (the negated unit cost; -inf without a unit column)."""
    best = np.full(model.ctx.n_z, -np.inf)
    np.maximum.at(best, model.ctx.u_z, -model.cost[: model.ctx.n_u])
    return best


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


def _covering_z(model: CompiledModel, best: np.ndarray) -> np.ndarray:
    """Parcel-years that cover every elastic lower bound ``SIFT_COVER`` times.

    For each elastic row with a positive lower bound, the best-scoring
    parcel-years whose units count in that row are taken until their
    capacity in the row (coefficient x unit bound, the largest over the
    parcel-year's types) reaches ``SIFT_COVER`` times the bound. A start set
    of only the best scores misses the outer districts, the parks and the
    minimum shares, so the first LPs are mostly shortfall and sifting needs
    many rounds to repair that. With the radius cap's discs added lazily,
    the rows are covered again, ``SIFT_CAP_COVER`` times, counting what
    the cap lets each part of the city hold (:func:`_room_under_cap`).
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
    need = model.row_lower[rows][r]
    keep[_cover(r, z, room, best, SIFT_COVER * need)] = True
    capped = _room_under_cap(model, r, z, room, best)
    if capped is not None:
        keep[_cover(r, z, capped, best, SIFT_CAP_COVER * need)] = True
    return keep


def _cover(r: np.ndarray, z: np.ndarray, room: np.ndarray, best: np.ndarray, need: np.ndarray) -> np.ndarray:
    """The parcel-years ``z`` that, best score first within each row ``r``, bring its ``room`` up to ``need``."""
    order = np.lexsort((-best[z], r))
    return z[order][_sum_before(r[order], room[order]) < need[order]]


def _sum_before(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For ``key`` sorted, the sum of ``values`` before each position within its run of equal keys."""
    cum = np.cumsum(values)
    start = np.searchsorted(key, key)  # where each run starts
    return (cum - values) - (cum[start] - values[start])


def _room_under_cap(model: CompiledModel, r: np.ndarray, z: np.ndarray, room: np.ndarray, best: np.ndarray) -> np.ndarray | None:
    r"""What each (row, parcel-year) entry of the cover can place once the radius cap is counted.

    A square of side :math:`R\sqrt 2` lies inside a disc of radius :math:`R`,
    so it holds at most :math:`N` units whatever the plan. Within each row,
    in order of score, a parcel-year counts only the room its square has
    left: a district whose best parcels fill one square is covered from
    other squares too. Without it, at 20,000 parcels the LP over the start
    set with the first 334 disc rows left a district 3,489 units short of
    its minimum share; with it, no unit short. None without a radius cap
    whose rows are added lazily.
    """
    from .lazy import lazy_rules

    caps = [rule for rule in lazy_rules(model) if all(hasattr(rule, a) for a in ("radius_m", "max_units", "centroids"))]
    if not caps or not len(r):
        return None
    ctx = model.ctx
    rule = min(caps, key=lambda c: c.max_units / c.radius_m**2)
    side = rule.radius_m * np.sqrt(2.0)
    xy = rule.centroids(ctx)[ctx.z_parcel[z]]  # kept with the context: the rule's rows use them too
    cell = np.floor(xy / side).astype(np.int64)
    _, square = np.unique(cell, axis=0, return_inverse=True)
    square = square.ravel()
    order = np.lexsort((-best[z], square, r))
    key = r[order].astype(np.int64) * (square.max() + 1) + square[order]
    before = _sum_before(key, room[order])  # in the same (row, square), the better parcel-years' room
    out = np.empty_like(room)
    out[order] = np.clip(rule.max_units - before, 0.0, room[order])
    return out


def _local_rows(model: CompiledModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Rows over one parcel-year's columns alone of the form :math:`\sum_t b_t u_t - a z \ge 0` (:math:`a, b > 0`).

    The project minimum (:math:`\sum_t u_t - m z \ge 0`), and an
    alternative's "a chosen parcel-year carries a unit". Returns, per such
    row, its parcel-year and :math:`a`, and its unit entries (row index into
    the first two arrays, unit column, :math:`b`).
    """
    ctx = model.ctx
    n_u, n_z = ctx.n_u, ctx.n_z
    rows = np.nonzero((model.row_lower == 0) & (model.row_upper > 0))[0]
    empty = (np.zeros(0, int), np.zeros(0), np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    if not len(rows):
        return empty
    sub = model.A[rows].tocoo()
    col, val, r = sub.col, sub.data, sub.row
    owner = np.full(len(col), -1)
    is_u, is_z = col < n_u, (col >= n_u) & (col < n_u + n_z)
    owner[is_u] = ctx.u_z[col[is_u]]
    owner[is_z] = col[is_z] - n_u
    first = np.full(len(rows), -2)
    first[r[::-1]] = owner[::-1]
    ok = np.ones(len(rows), dtype=bool)
    # every entry of the row: a unit of its parcel-year with b > 0, or its binary with -a < 0
    np.logical_and.at(ok, r, (owner >= 0) & (owner == first[r]) & np.where(is_u, val > 0, val < 0))
    n_zs = np.bincount(r[is_z], minlength=len(rows))
    ok &= (n_zs == 1) & (np.bincount(r[is_u], minlength=len(rows)) > 0)
    if not ok.any():
        return empty
    keep = np.nonzero(ok)[0]
    pos = np.full(len(rows), -1)
    pos[keep] = np.arange(len(keep))
    zent = is_z & ok[r]
    a = np.zeros(len(keep))
    a[pos[r[zent]]] = -val[zent]
    uent = is_u & ok[r]
    return first[keep], a, pos[r[uent]], col[uent], val[uent]


def _bundle_room(local, reduced: np.ndarray, n_z: int) -> np.ndarray:
    r"""How much each parcel-year's binary may gain in reduced cost from its own local rows' duals.

    A local row :math:`\sum_t b_t u_t - a z \ge 0` of a parcel-year outside
    the LP has no column in it, so its dual is 0 there; at activity 0 it
    sits at its bound, so any dual :math:`y \ge 0` is as valid for the
    whole LP. It raises the binary's reduced cost by :math:`a y` and lowers
    each unit's by :math:`b_t y`: a binary that prices in alone, with every
    unit at a reduced cost of at least :math:`b_t y`, prices out with it.
    So a parcel-year whose binary's reduced cost plus this room is not
    negative needs no column, and the restricted LP's optimum is still the
    whole LP's (the duals so completed are feasible for it, with the same
    objective, the rows' bound being 0).
    """
    j, a, r_u, c_u, b = local
    room = np.zeros(n_z)
    if not len(j):
        return room
    least = np.full(len(j), np.inf)
    np.minimum.at(least, r_u, reduced[c_u] / b)
    np.maximum.at(room, j, a * np.maximum(least, 0.0))
    return room


@dataclass
class _Sifted:
    """A sifted LP: its solution (over all columns), whether it is the whole
    LP's optimum, and the HiGHS instance holding the LP over the columns
    ``cols`` (with its last basis, for the dive)."""

    res: SolveResult
    proven: bool
    highs: object
    cols: np.ndarray
    simplex: ParallelSimplex | None = None  #: chooses the instance's simplex for its re-solves (the dive's too)


def _add_cut_rows(h, cuts, cols: np.ndarray, n_cols: int) -> None:
    """Add the rows ``cuts`` (over every model column) to the HiGHS instance ``h`` over the columns ``cols``.

    Lazy rows are over auxiliary columns only, which every sifted LP holds (:func:`_columns_of`).
    """
    block, ub, _ = cuts
    local = np.full(n_cols, -1)
    local[cols] = np.arange(len(cols))
    b = block.tocoo()
    if np.any(local[b.col] < 0):
        raise ValueError("a lazy row has a column outside the LP")
    b = sp.csr_matrix((b.data, (b.row, local[b.col])), shape=(block.shape[0], len(cols)))
    h.addRows(b.shape[0], np.full(b.shape[0], -np.inf), np.asarray(ub, dtype=float), b.nnz,
              b.indptr[:-1].astype(np.int32), b.indices.astype(np.int32), b.data)


#: Sifting adds no more lazy rows once a round of them moved the LP's objective by less than this share
#: of the gap asked for: the bound is then nearly as tight as with every row, and the dive separates the rest.
SIFT_SETTLED = 0.05


#: A sifting LP whose re-solve after lazy rows took this long by dual simplex solves the next
#: ones by interior point with crossover (:func:`_run_ipm`).
SIFT_IPM_S = 8.0


#: A re-solve after lazy rows gets what is left of sifting's time share, but at least this many times
#: the longest re-solve so far (and what is left of the search at most). Past it the rows leave the LP
#: again, the last basis comes back, and sifting ends with the LP before them, a bound all the same.
#: At 50,000 parcels with a 600 s limit a re-solve after 212 rows ran 353 s, about 150 s past the share,
#: and the search found no plan within the limit; at 20,000 parcels the slowest took 28 s, after one of 16 s.
SIFT_ROWS_SLACK = 2.0


def _run_ipm(h, seconds: float) -> None:
    """Solve ``h`` afresh by interior point, then crossover to a basis (for pricing and the dive's warm starts).

    At 20,000 parcels, re-solving the sifting LP after 468 and 545 disc rows
    took 83 s and 78 s by dual simplex from the last basis, against 21 s
    each by interior point with crossover (19 s for the first 334 rows,
    which simplex re-solved in 12 s).
    """
    h.setOptionValue("solver", "ipm")
    h.setOptionValue("run_crossover", "on")
    try:
        _run_for(h, seconds)
    finally:
        h.setOptionValue("solver", "choose")


def _without_last_rows(h, saved, cols: np.ndarray, simplex, *, seconds: float, left: float) -> _Sifted:
    """The sifted LP before its last lazy rows, whose re-solve ran past its time (:data:`SIFT_ROWS_SLACK`).

    The rows leave the instance and its basis from before them comes back,
    so the dive starts from that LP's optimum; the pool keeps the rows. The
    LP before them was the whole LP's optimum (rows are added only when no
    column prices in), and without rows it is a bound all the same.
    """
    res, n_rows, basis = saved
    dropped = _without_rows_since(h, n_rows, basis, left)
    log.info("Sifting: the LP with the last %d disc rows did not re-solve in %.1f s; sifting ends with the LP "
             "before them (the dive separates what it breaks)", dropped, seconds)
    return _Sifted(res, True, h, cols, simplex)


def _sifted_lp(model: CompiledModel, *, left, opts: dict, pool=None, gap: float = 0.0) -> _Sifted | None:
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

    With a ``pool`` (:class:`siteplan.solve.lazy.CutPool`), each round also
    adds the lazy rows its LP breaks (the radius cap's overfilled discs),
    which the pool keeps for the rest of the search; sifting ends when no
    column prices in and no row is broken; past ``SIFT_CUT_SHARE`` of its
    time share, when no column prices in (a bound all the same: the rows
    left out only tighten it; the dive separates what is still broken).
    Rows are added only in a round where no column prices in, and columns
    only in one where no row was added, so each re-solve starts from a
    basis that is dual or primal feasible. Once a round of rows moved the
    objective by less than ``SIFT_SETTLED`` x ``gap`` (relative), no more
    rows are added: the later rounds tighten the bound by less still
    (at 10,000 parcels the last six moved it by 0.013% in all, in 2.3 s),
    and the dive separates what the LP still breaks. A re-solve after rows
    that runs past what is left of the share (see :data:`SIFT_ROWS_SLACK`)
    ends sifting with the LP before those rows. The rows are over auxiliary
    columns only, so they do not change how the parcel-years price.
    """
    if opts.get("solver", "highs") != "highs":
        return None
    ctx = model.ctx
    relaxed = _relaxed(model)
    best = best_scores(model)
    keep = _forced_z(model) | _covering_z(model, best)
    order = np.argsort(-best, kind="stable")
    keep[order[: max(SIFT_START, ctx.n_z // 10)]] = True
    cols = _columns_of(model, keep)
    sub = _over_columns(relaxed, cols)
    h = _highs(sub, time_limit_s=left(), gap=0.0, threads=opts.get("threads"), seed=opts.get("seed", 0))
    simplex = ParallelSimplex(opts.get("threads"))
    AT = model.A.T.tocsr()
    A_csc = model.A.tocsc()
    local = _local_rows(model)
    t0 = time.perf_counter()
    budget = SIFT_SHARE * left()
    slow = False  # a re-solve after rows were added took SIFT_IPM_S or more by simplex
    rows_added = False
    settled = False  # the last rows moved the LP's objective by less than SIFT_SETTLED of the gap
    before_rows = None
    longest = 0.0  # the longest re-solve so far
    saved = None  # before the last rows: (the LP's result, its rows, its basis)
    for _ in range(100):
        t_run = time.perf_counter()
        limit = search_left = left()
        if rows_added:
            limit = min(search_left, max(t0 + budget - t_run, SIFT_ROWS_SLACK * longest))
        if rows_added and slow:
            _run_ipm(h, limit)
        else:
            simplex.choose(h)
            _run_for(h, limit)
        # stopped by sifting's own limit, not the search's (what is left of the search after the run has shrunk by it)
        if rows_added and limit < search_left and h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit:
            return _without_last_rows(h, saved, cols, simplex, seconds=time.perf_counter() - t_run, left=left())
        longest = max(longest, time.perf_counter() - t_run)
        if rows_added and not slow and time.perf_counter() - t_run >= SIFT_IPM_S:
            slow = True
            log.debug("Sifting: the re-solve with rows took %.1f s; the next ones by interior point", time.perf_counter() - t_run)
        res = _highs_result(h, sub, time.perf_counter() - t0)
        if not (res.has_solution and res.optimal and res.row_dual is not None):
            return None
        log.debug("Sifting: LP re-solved in %.1f s, objective %.2f", time.perf_counter() - t_run, res.objective)
        if rows_added and gap > 0 and res.objective - before_rows <= SIFT_SETTLED * gap * max(1.0, abs(res.objective)):
            settled = True
            log.info("Sifting: the last disc rows moved the LP by %.3f%%; no more rows",
                     100 * (res.objective - before_rows) / max(1.0, abs(res.objective)))
        rows_added = False
        # rows past the model's own are lazy rows, over auxiliary columns only: no parcel-year's price has them
        reduced = model.cost - AT @ res.row_dual[: model.n_rows]
        neg = reduced < -1e-7
        u_neg = np.nonzero(neg[: ctx.n_u])[0]
        worst = np.zeros(ctx.n_z)
        np.minimum.at(worst, ctx.u_z[u_neg], reduced[u_neg])
        # a binary prices in only past what its own local rows' duals can give it (see _bundle_room)
        z_rc = reduced[ctx.n_u : ctx.n_u + ctx.n_z] + _bundle_room(local, reduced, ctx.n_z)
        z_neg = np.nonzero(z_rc < -1e-7)[0]
        worst[z_neg] = np.minimum(worst[z_neg], z_rc[z_neg])
        cand = np.nonzero((worst < 0) & ~keep)[0]
        log.info("Sifting: %d parcel-years in the LP, %d price in", int(keep.sum()), len(cand))
        x = np.zeros(model.n_cols)
        x[cols] = res.x[: len(cols)]
        spent = time.perf_counter() - t0 > budget or left() <= MIN_STEP_S
        # rows only once no column prices in: a round that adds columns and rows at once leaves a basis
        # neither primal nor dual feasible, and at 20,000 parcels that re-solve ran 80 s against 10 s
        # and none past half the time share: the LP with more rows re-solves slowly (28 s at 20,000 parcels),
        # and the pricing after it needs time too; the dive and the exact check catch what is left
        early = time.perf_counter() - t0 < SIFT_CUT_SHARE * budget
        cuts = pool.separate(x) if pool is not None and not len(cand) and early and not settled else None
        if cuts is not None:
            before_rows = res.objective
            saved = (dataclasses.replace(res, x=x), h.getNumRow(), h.getBasis())
            log.info("Sifting: %d disc rows added", cuts[0].shape[0])
            _add_cut_rows(h, cuts, cols, model.n_cols)
            rows_added = True
        if not len(cand) and cuts is None:
            return _Sifted(dataclasses.replace(res, x=x), True, h, cols, simplex)
        few = len(cand) <= SIFT_FEW * keep.sum()  # a round that adds these is quick
        if (spent and not few) or left() <= MIN_STEP_S:
            log.warning("Sifting stopped by the time limit with %d parcel-years still pricing in: no LP bound, "
                        "the MIP starts from the last LP's parcels", len(cand))
            return _Sifted(dataclasses.replace(res, x=x, optimal=False), False, h, cols, simplex)
        if not len(cand):
            continue  # only rows were added this round
        add = cand[np.argsort(worst[cand], kind="stable")][: max(SIFT_ADD, int(keep.sum()) // 2)]
        keep[add] = True
        new = np.concatenate([np.nonzero(np.isin(ctx.u_z, add))[0], ctx.z_col(add)])
        block = A_csc[:, new]
        h.addCols(len(new), model.cost[new], model.col_lower[new], model.col_upper[new], block.nnz,
                  block.indptr[:-1].astype(np.int32), block.indices.astype(np.int32), block.data)
        cols = np.concatenate([cols, new])
        sub = dataclasses.replace(sub, cost=np.concatenate([sub.cost, model.cost[new]]), integrality=np.zeros(len(cols), dtype=bool))
    return None
