r"""Whole units by rounding with repair: the fast way from continuous units to a plan.

The solve (:mod:`siteplan.solve`) first places continuous units. With the
chosen parcel-years fixed, what is left is an integer programme over the
units alone. :func:`round_units` finds a good solution of it without a MIP
solver, by local search from the rounded-down units:

1. The auxiliary columns (a parcel's total units, for the radius cap) are
   defined by equality rows; they are substituted out, so every row is a
   linear function of the units: :math:`a = B u + b`.
2. Every row gets a penalty for leaving its bounds: an elastic row costs its
   shortfall columns' price per unit, a hard row ``HARD_WEIGHT`` times the
   dearest of those (so the search repairs a broken hard row before anything
   else).
3. From :math:`u = \lfloor u^* \rfloor` (or, if that start ends with a hard
   row broken or a target given up, from starts that give each parcel-year
   back its whole total: see :data:`STARTS`), the search repeatedly applies the
   single-unit moves :math:`u_j \pm 1` that lower the objective plus the
   penalties, best first, until no move does. The move values are computed
   for every column at once from the sparse matrix; each chosen move is
   checked again against the rows as they stand before it is applied.
4. Where a row is still out of bounds and every single move that would
   bring it back breaks another row (a target short by one unit on parcels
   whose radius-cap circles are full), a *chain* of up to ``CHAIN_DEPTH``
   moves is tried: the move on the row, then the best move that undoes the
   row it breaks worst, and so on; the best prefix of the chain is applied
   if it lowers the objective. Then single moves again, until neither
   helps.

The result keeps every hard row or is None (the caller then solves the
integer programme). It is usually within a few units' score of the
continuous plan; the caller decides whether that is close enough.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..model.sparse import major_slices

if TYPE_CHECKING:
    from ..model.builder import CompiledModel

__all__ = ["round_units", "over_units"]

log = logging.getLogger(__name__)

#: Penalty of a hard row per unit outside its bounds, as a multiple of the
#: dearest shortfall price: a broken hard row is repaired before anything else.
HARD_WEIGHT = 1e3
#: Most rounds of moves; each round applies every improving move it can.
MAX_ROUNDS = 200
#: A move must lower the penalised objective by more than this.
TOL = 1e-7
#: Rows outside their bounds that one round of chain moves looks at, the
#: first moves it tries for each, and the longest chain.
CHAIN_ROWS = 200
CHAIN_FIRST = 20
CHAIN_DEPTH = 5


def _aux_definitions(model: CompiledModel) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray] | None:
    """Each auxiliary column as a function of the units, ``a = E u + e0``, and
    the rows that define them; None if some auxiliary column has no defining
    row (an equality over units and that one auxiliary column)."""
    ctx = model.ctx
    n_u, n_z, n_a = ctx.n_u, ctx.n_z, model.n_aux
    if not n_a:
        return sp.csr_matrix((0, n_u)), np.zeros(0), np.zeros(0, dtype=int)
    A = model.A.tocsr()
    coo = A.tocoo()
    kind = np.zeros(model.n_cols, dtype=np.int8)  # 0 u, 1 z, 2 aux, 3 slack
    kind[n_u : n_u + n_z] = 1
    kind[n_u + n_z : n_u + n_z + n_a] = 2
    kind[n_u + n_z + n_a :] = 3
    k = kind[coo.col]
    n_aux_in = np.bincount(coo.row[k == 2], minlength=model.n_rows)
    n_other = np.bincount(coo.row[(k == 1) | (k == 3)], minlength=model.n_rows)
    defining = (n_aux_in == 1) & (n_other == 0) & (model.row_lower == model.row_upper)
    at = defining[coo.row] & (k == 2)
    row_of_aux = np.full(n_a, -1)
    row_of_aux[coo.col[at] - n_u - n_z] = coo.row[at]
    if (row_of_aux < 0).any():
        return None
    coef = np.asarray(A[row_of_aux, n_u + n_z + np.arange(n_a)]).ravel()
    E = sp.diags(-1.0 / coef) @ A[row_of_aux][:, :n_u]
    e0 = model.row_lower[row_of_aux] / coef
    return E.tocsr(), e0, row_of_aux


def complete(model: CompiledModel, out: np.ndarray, defs: tuple | None = None) -> np.ndarray | None:
    """``out`` with its auxiliary columns computed from the units and its shortfall columns from the rows
    (what each elastic row still lacks on its side); None if an auxiliary column has no defining row
    (``defs``: :func:`_aux_definitions` of the model, when known)."""
    defs = _aux_definitions(model) if defs is None else defs
    if defs is None:
        return None
    E, e0, _ = defs
    n_u, n_z, n_a = model.ctx.n_u, model.ctx.n_z, model.n_aux
    out = out.copy()
    out[n_u + n_z: n_u + n_z + n_a] = E @ out[:n_u] + e0
    out[model.n_core:] = 0.0
    act = model.A @ out
    rows, sign = model.slack_rows, model.slack_sign
    need = np.where(sign > 0, model.row_lower[rows] - act[rows], act[rows] - model.row_upper[rows])
    out[model.n_core:] = np.maximum(need, 0.0)
    return out


def over_units(model: CompiledModel, defs: tuple | None = None, A: sp.spmatrix | None = None) -> tuple[sp.csc_matrix, np.ndarray] | None:
    """Every row's terms in units, with the auxiliary columns substituted:
    ``(U, b)`` such that the row's unit and auxiliary terms equal ``U u + b``
    (the rows defining the auxiliary columns cancel out to zero). None if an
    auxiliary column has no defining row (see :func:`_aux_definitions`;
    ``defs`` is its result, when known). ``A``: other rows over the model's
    columns (lazy rows not yet in it) in place of the model's own."""
    ctx = model.ctx
    n_u, n_z, n_a = ctx.n_u, ctx.n_z, model.n_aux
    if defs is None:
        defs = _aux_definitions(model)
    if defs is None:
        return None
    E, e0, _ = defs
    A = (model.A if A is None else A).tocsc()
    if not n_a:
        return A[:, :n_u], np.zeros(A.shape[0])
    A_a = A[:, n_u + n_z : n_u + n_z + n_a]
    U = (A[:, :n_u] + A_a @ E).tocsc()
    U.eliminate_zeros()
    return U, A_a @ e0


@dataclass(frozen=True)
class PricedRows:
    """What rounding with repair searches over, for chosen parcel-years: the unit columns ``J`` it may move and
    their whole-unit ``upper`` bounds (over every unit column), the rows over them (auxiliary columns substituted,
    their bounds rows of their own; ``keep``: the model's rows among them), the rows' bounds less what the
    binaries and constants give, their prices per unit outside those bounds (an elastic row's shortfall price,
    a hard row ``hard``), the rows' tolerance, and :func:`_aux_definitions` of the model."""

    defs: tuple
    J: np.ndarray
    upper: np.ndarray
    B: sp.csc_matrix
    lo: np.ndarray
    hi: np.ndarray
    price_lo: np.ndarray
    price_hi: np.ndarray
    tol: np.ndarray
    hard: float
    keep: np.ndarray

    def search(self, model: CompiledModel, start: np.ndarray) -> "_Search":
        """A local search over the columns ``J`` from the whole units ``start`` (over ``J``)."""
        return _Search(self.B, self.lo, self.hi, self.price_lo, self.price_hi, self.tol, model.cost[self.J],
                       self.upper[self.J], start)


def priced_rows(model: CompiledModel, z: np.ndarray) -> PricedRows | None:
    """The rows rounding with repair prices (:class:`PricedRows`) with the parcel-years ``z`` (0/1) chosen; None
    when an auxiliary column cannot be computed from the units (or must be whole)."""
    ctx = model.ctx
    n_u, n_z, n_a = ctx.n_u, ctx.n_z, model.n_aux
    defs = _aux_definitions(model)
    if defs is None or model.integrality[n_u + n_z : n_u + n_z + n_a].any():
        return None  # an auxiliary column it cannot compute (or must be whole)
    E, e0, def_rows = defs
    B_full, const = over_units(model, defs)
    upper = np.where(z[ctx.u_z] > 0, np.floor(model.col_upper[:n_u] + 1e-9), 0.0)
    J = np.nonzero(upper > 0)[0]
    const = const + model.A.tocsc()[:, n_u : n_u + n_z] @ z
    keep = np.ones(model.n_rows, dtype=bool)
    keep[def_rows] = False
    # aux bounds become rows of their own
    B_rows = sp.vstack([B_full[keep], E.tocsc()], format="csc")[:, J]
    const = np.concatenate([const[keep], e0])
    lo = np.concatenate([model.row_lower[keep], model.col_lower[n_u + n_z : n_u + n_z + n_a]]) - const
    hi = np.concatenate([model.row_upper[keep], model.col_upper[n_u + n_z : n_u + n_z + n_a]]) - const
    # penalties per unit below lo / above hi
    s_cost = model.cost[model.n_core :]
    price_lo = np.zeros(model.n_rows)
    price_hi = np.zeros(model.n_rows)
    np.maximum.at(price_lo, model.slack_rows[model.slack_sign > 0], s_cost[model.slack_sign > 0])
    np.maximum.at(price_hi, model.slack_rows[model.slack_sign < 0], s_cost[model.slack_sign < 0])
    hard = HARD_WEIGHT * max(float(s_cost.max(initial=1.0)), float(np.abs(model.cost[:n_u]).max(initial=1.0)))
    price_lo = np.concatenate([np.where(price_lo > 0, price_lo, hard)[keep], np.full(n_a, hard)])
    price_hi = np.concatenate([np.where(price_hi > 0, price_hi, hard)[keep], np.full(n_a, hard)])
    row_tol = 1e-7 + 1e-9 * (np.abs(np.where(np.isfinite(lo), lo, 0)) + np.abs(np.where(np.isfinite(hi), hi, 0)))
    return PricedRows(defs, J, upper, B_rows, lo, hi, price_lo, price_hi, row_tol, hard, keep)


def round_units(model: CompiledModel, x: np.ndarray, *, deadline: float | None = None) -> np.ndarray | None:
    """Whole units for the parcel-years ``x`` chooses, by rounding with repair.

    Returns a full solution vector (units whole, binaries as in ``x``,
    auxiliary and shortfall columns computed from the units) that keeps
    every hard row, or None when the search cannot repair one from any of
    the :data:`STARTS` or the model has a column it does not know how to
    compute. The first start whose plan has no more shortfall than ``x``
    wins; failing that, the best plan of the starts. No start begins after
    ``deadline`` (a ``time.perf_counter()`` value), when one is given.
    """
    t0 = time.perf_counter()
    ctx = model.ctx
    n_u, n_z = ctx.n_u, ctx.n_z
    z = np.round(model.slice_z(x))
    rows = priced_rows(model, z)
    if rows is None:
        return None
    defs, J, upper, keep, hard = rows.defs, rows.J, rows.upper, rows.keep, rows.hard
    n_a = model.n_aux

    def plan(u: np.ndarray) -> np.ndarray:
        """The full solution vector of units ``u`` on the columns ``J``."""
        out = np.zeros(model.n_cols)
        out[J] = u
        out[n_u : n_u + n_z] = z
        return complete(model, out, defs)

    best = None
    short = float(model.slice_s(x).sum())
    for k, start in enumerate(STARTS):
        if k and deadline is not None and time.perf_counter() > deadline:
            log.info("Rounding with repair: no time left for the %s start", start)
            break
        search = rows.search(model, _start(model, x, J, upper[J], start))
        rounds = search.run()
        mask = search.broken(hard)
        broken = int(mask.sum())
        if broken and log.isEnabledFor(logging.DEBUG):
            names = np.concatenate([model.rows["rule"].to_numpy()[keep], np.full(n_a, "aux bound")])
            what = pd.Series(names[mask]).value_counts().to_dict()
            log.debug("Rounding with repair from the %s start: hard rows broken by rule: %s", start, what)
        out = plan(search.u) if not broken else None
        log.info("Rounding with repair from the %s start: %d rounds, %.2f s, %d hard rows broken%s", start, rounds,
                 time.perf_counter() - t0, broken, "" if out is None else f", {float(model.slice_s(out).sum()):.1f} units short")
        if out is None:
            continue
        if float(model.slice_s(out).sum()) <= short + 1e-6:
            return out  # every hard row kept and no target given up
        if best is None or model.cost @ out < model.cost @ best:
            best = out
        if short > 1e-6 and float(model.slice_s(out).sum()) > short + MANY_SHORT:
            # a plan that gives up targets (an over-constrained scenario), and a start far shorter still:
            # the other starts end as short (the over-constrained demo: 93, 94 and 95 units more than
            # the LP, 1.1-1.7 s each), and the integer step after them finds the whole units in about
            # the time of one start. A start a unit short is worth another (a small city: 422 against
            # 421, where the next start met 421).
            log.info("Rounding with repair: the plan gives up targets and this start %.0f units more; no other start",
                     float(model.slice_s(out).sum()) - short)
            break
    return best


#: Units of shortfall beyond the continuous plan's past which a plan that already gives up
#: targets tries no other start (see :func:`round_units`).
MANY_SHORT = 5.0

#: The starts the search tries, in turn, until one ends with every hard row kept
#: and no more shortfall than the continuous plan (else the best plan that
#: keeps the hard rows; see :func:`_start`). Each succeeds where another
#: fails: on the 20,000-parcel benchmark plan, the floor and the largest
#: remainders left two hard rows broken and the smallest-land start none; on
#: a 10,000-parcel plan (a project 3 units below its minimum among full
#: radius-cap circles) only the largest remainders kept every row; on a
#: second 20,000-parcel city the floor left 142.5 units short, the largest
#: remainders 43.5 and the smallest-land start none. The integer programme
#: they spare took 15 s and more.
STARTS = ("floor", "smallest", "remainder")


def _start(model: CompiledModel, x: np.ndarray, J: np.ndarray, upper: np.ndarray, how: str) -> np.ndarray:
    """Whole units for the columns ``J`` to start the search from.

    ``"floor"``: every unit column rounded down. The other two then give
    each parcel-year back the units its rounding lost, up to its own
    continuous total rounded down, so a project at its minimum stays there:
    ``"remainder"`` one unit each to the types with the largest fractions;
    ``"smallest"`` all to the type that takes the least land per unit (unit
    area over the plot ratio that type may use), so the plot ratio and the
    radius cap's circles hold as they did. No column passes its ``upper``.
    """
    u = np.floor(x[J] + 1e-6)
    if how == "floor":
        return u
    ctx = model.ctx
    zj = ctx.u_z[J]
    lost = np.floor(np.bincount(zj, weights=x[J], minlength=ctx.n_z) + 1e-6) - np.bincount(zj, weights=u, minlength=ctx.n_z)
    if how == "smallest":
        key = ctx.unit_area[ctx.u_type[J]] / np.maximum(ctx.far[ctx.z_parcel[zj], ctx.u_type[J]], 1e-9)
    else:
        key = -(x[J] - u)
    order = np.lexsort((key, zj))  # by parcel-year, then best type first
    zs = zj[order]
    rank = np.arange(len(order)) - np.searchsorted(zs, zs)
    add = np.zeros(len(J))
    if how == "smallest":
        add[order] = np.where(rank == 0, lost[zs], 0.0)
    else:
        add[order] = (rank < lost[zs]).astype(float)
    return np.minimum(u + add, upper)


def _priced(a: np.ndarray, lo: np.ndarray, hi: np.ndarray, price_lo: np.ndarray, price_hi: np.ndarray) -> np.ndarray:
    """What activities ``a`` cost outside ``[lo, hi]`` at those prices per unit."""
    return price_lo * np.maximum(lo - a, 0.0) + price_hi * np.maximum(a - hi, 0.0)


class _Search:
    """Local search over whole units: ``act = B u`` must lie in ``[lo, hi]``
    (within ``tol``); leaving it costs ``price_lo``/``price_hi`` per unit of
    activity beyond the tolerance."""

    def __init__(self, B: sp.csc_matrix, lo, hi, price_lo, price_hi, tol, cost, upper, start) -> None:
        self.B, self.Br = B, B.tocsr()
        # bounds widened by the tolerance: what a row may reach unpriced
        self.lo, self.hi, self.price_lo, self.price_hi = lo - tol, hi + tol, price_lo, price_hi
        self.c, self.ub = cost, upper
        self.u = np.clip(start, 0.0, upper)
        self.act = B @ self.u
        self.col_of_nz = np.repeat(np.arange(B.shape[1]), np.diff(B.indptr))
        # the row bounds and prices at each non-zero, for the all-column pass
        rows = B.indices
        self._nz = (self.lo[rows], self.hi[rows], price_lo[rows], price_hi[rows])

    def penalty(self, a: np.ndarray, r: np.ndarray) -> np.ndarray:
        return _priced(a, self.lo[r], self.hi[r], self.price_lo[r], self.price_hi[r])

    def change(self, before: np.ndarray, after: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``penalty(after, r) - penalty(before, r)``, the rows' bounds and prices looked up once."""
        bounds = self.lo[r], self.hi[r], self.price_lo[r], self.price_hi[r]
        return _priced(after, *bounds) - _priced(before, *bounds)

    def broken(self, hard: float) -> np.ndarray:
        return ((self.act < self.lo) & (self.price_lo >= hard)) | ((self.act > self.hi) & (self.price_hi >= hard))

    def column(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        s = slice(self.B.indptr[j], self.B.indptr[j + 1])
        return self.B.indices[s], self.B.data[s]

    def delta(self, js, steps) -> float:
        """Change of the penalised objective if ``u[js] += steps`` (inf if out of bounds)."""
        for j, st in zip(js, steps):
            if not 0 <= self.u[j] + st <= self.ub[j]:
                return np.inf
        if len(js) == 1:
            r, v = self.column(js[0])
            dv = steps[0] * v
        else:
            parts = [self.column(j) for j in js]
            r_all = np.concatenate([p[0] for p in parts])
            v_all = np.concatenate([st * p[1] for p, st in zip(parts, steps)])
            r, inv = np.unique(r_all, return_inverse=True)
            dv = np.bincount(inv, weights=v_all, minlength=len(r))
        moved = float(sum(self.c[j] * st for j, st in zip(js, steps)))
        a = self.act[r]
        return moved + float(np.sum(self.change(a, a + dv, r)))

    def apply(self, js, steps) -> None:
        for j, st in zip(js, steps):
            r, v = self.column(j)
            self.u[j] += st
            self.act[r] += st * v

    def deltas(self, act: np.ndarray, cols: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Change of the penalised objective for each move ``u[cols[i]] += steps[i]``
        alone, from the activities ``act`` (inf where it leaves the bounds)."""
        at, lens = major_slices(self.B, cols)
        rows, vals = self.B.indices[at], self.B.data[at]
        col_of = np.repeat(np.arange(len(cols)), lens)
        a = act[rows]
        change = self.change(a, a + steps[col_of] * vals, rows)
        d = steps * self.c[cols] + np.bincount(col_of, weights=change, minlength=len(cols))
        new_u = self.u[cols] + steps
        d[(new_u < 0) | (new_u > self.ub[cols])] = np.inf
        return d

    def _every_delta(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`deltas` of ``+1`` and of ``-1`` on every column, in one pass."""
        nz = self._nz
        a = self.act[self.B.indices]
        base = _priced(a, *nz)
        n = self.B.shape[1]
        d_up = self.c + np.bincount(self.col_of_nz, weights=_priced(a + self.B.data, *nz) - base, minlength=n)
        d_dn = -self.c + np.bincount(self.col_of_nz, weights=_priced(a - self.B.data, *nz) - base, minlength=n)
        d_up[self.u >= self.ub] = np.inf
        d_dn[self.u <= 0] = np.inf
        return d_up, d_dn

    def single_round(self) -> int:
        """Apply every improving single-unit move, best first; the number applied."""
        d_up, d_dn = self._every_delta()
        cand = np.concatenate([np.nonzero(d_up < -TOL)[0], -1 - np.nonzero(d_dn < -TOL)[0]])
        value = np.where(cand >= 0, d_up[np.maximum(cand, 0)], d_dn[np.maximum(-1 - cand, 0)])
        applied = 0
        for m in cand[np.argsort(value, kind="stable")]:
            j, st = (int(m), 1.0) if m >= 0 else (int(-1 - m), -1.0)
            while self.delta([j], [st]) < -TOL:  # as many units as keep improving
                self.apply([j], [st])
                applied += 1
        return applied

    def row(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        s = slice(self.Br.indptr[r], self.Br.indptr[r + 1])
        return self.Br.indices[s], self.Br.data[s]

    def _chain(self, j: int, st: float, target: int) -> tuple[float, list, list]:
        """Move ``j`` by ``st``, then up to ``CHAIN_DEPTH - 1`` partner moves, each
        the best move on a column of the row the moves so far break worst
        (other than ``target``) that pushes it back. Returns the best prefix of
        the chain: (delta, columns, steps)."""
        moves, steps = [j], [st]
        act = self.act.copy()
        r, v = self.column(j)
        act[r] += st * v
        touched = set(r.tolist())
        total = self.delta(moves, steps)
        best = (total, list(moves), list(steps))
        for _ in range(CHAIN_DEPTH - 1):
            rows = np.fromiter(touched, dtype=int)
            worse = self.change(self.act[rows], act[rows], rows)
            worse[rows == target] = 0.0
            if not (worse > TOL).any():
                break
            q = int(rows[np.argmax(worse)])
            push = np.sign(act[q] - self.act[q])
            cols, vals = self.row(q)
            ok = cols != moves[0]
            for m in moves[1:]:  # at most CHAIN_DEPTH of them: cheaper than np.isin's sort
                ok &= cols != m
            cols, vals = cols[ok], vals[ok]
            if not len(cols):
                break
            stk = -push * np.sign(vals)
            d = self.deltas(act, cols, stk)
            i = int(np.argmin(d))
            if not np.isfinite(d[i]):
                break
            k = int(cols[i])
            moves.append(k)
            steps.append(float(stk[i]))
            total += float(d[i])
            rk, vk = self.column(k)
            act[rk] += stk[i] * vk
            touched.update(rk.tolist())
            if total < best[0]:
                best = (total, list(moves), list(steps))
        return best

    def chain_round(self) -> int:
        """For each row still outside its bounds, the best chain of moves that
        brings it back (see :meth:`_chain`), applied while it improves; the
        number of chains applied."""
        pen = self.penalty(self.act, np.arange(len(self.act)))
        applied = 0
        for r in np.argsort(-pen, kind="stable")[: min(int((pen > 0).sum()), CHAIN_ROWS)]:
            if self.penalty(self.act[r : r + 1], np.array([r]))[0] <= 0:
                continue
            want = 1.0 if self.act[r] < self.lo[r] else -1.0
            cols, vals = self.row(int(r))
            steps = want * np.sign(vals)
            d1 = self.deltas(self.act, cols, steps)
            best = (-TOL, [], [])
            for i in np.argsort(d1, kind="stable")[:CHAIN_FIRST]:
                if np.isfinite(d1[i]):
                    cand = self._chain(int(cols[i]), float(steps[i]), int(r))
                    if cand[0] < best[0]:
                        best = cand
            if best[1]:
                while self.delta(best[1], best[2]) < -TOL:
                    self.apply(best[1], best[2])
                    applied += 1
        return applied

    def run(self) -> int:
        """Single moves until none improves, then chains, and again; the rounds taken."""
        for rounds in range(1, MAX_ROUNDS + 1):
            n1 = self.single_round()
            n2 = 0 if n1 else self.chain_round()
            pen = self.penalty(self.act, np.arange(len(self.act)))
            log.debug("Rounding round %d: %d single moves, %d chains; score %.2f, penalty %.2f in %d rows", rounds, n1, n2, float(self.c @ self.u), float(pen.sum()), int((pen > 0).sum()))
            if not n1 and not n2:
                break
        return rounds
