"""The last resort of the radius cap: take units off a plan until no disc anywhere holds more than N.

The lazy rounds (:mod:`siteplan.solve.lazy`) add the rows of the discs a
plan overfills and search again. When the time limit leaves no room for
another round, the plan in hand may still overfill discs: at 20,000
parcels one such plan held 31,525 units in a 1 km disc against a cap of
4,000. The radius cap is a hard rule (大分散、小集中: never one
mega-estate), the targets are elastic (a unit that cannot be placed is
reported missing), so such a plan is outside the model's own feasible set.
:func:`trim_to_cap` brings it back inside: in the disc holding the most
units, it takes units off the new projects that score least per unit,
until the disc holds N, and repeats for every disc still over, heaviest
first (discs that share no parcel in one pass).

What it keeps:

- A project is trimmed down to the project minimum and not below; a
  project that must go lower is closed (its units and its parcel-year
  choice go to zero), unless it is locked in, where it stays at the
  minimum and another project gives way.
- Inclusionary hosts (配建 in commercial projects) are never trimmed: their
  units follow the commercial project's floor area.
- Every other hard row of the model: the trimmed plan is checked against
  them all, and against the rule's own focal sum, and refused (None) if it
  breaks one the plan kept.

The units taken off show as missing in the plan's status and shortfall
table, by type and year, as any other shortfall.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from scipy.spatial import cKDTree

from ..model.builder import CompiledModel
from ..model.focal import TOL_M, overfull_discs
from .rounding import complete
from .status import delivered_x

__all__ = ["trim_to_cap", "hard_rows_broken", "project_minimum"]

log = logging.getLogger(__name__)

#: Passes at most (each pass trims every overfilled disc that shares no parcel with a heavier one).
MAX_PASSES = 200


def project_minimum(ctx) -> float:
    """The project minimum of the model's ``project_size`` rule (0 without one)."""
    return float(next((getattr(r, "min_units", 0) for r in ctx.rules if getattr(r, "name", "") == "project_size"), 0) or 0)


def hard_rows_broken(model: CompiledModel, x: np.ndarray, *, tol: float = 1e-6) -> np.ndarray:
    """Indices of the rows (every row but the elastic ones' shortfall) that ``x`` leaves outside their bounds."""
    act = model.A @ x
    scale = 1.0 + np.abs(np.where(np.isfinite(model.row_lower), model.row_lower, 0.0)) + np.abs(
        np.where(np.isfinite(model.row_upper), model.row_upper, 0.0))
    bad = (act < model.row_lower - tol * scale) | (act > model.row_upper + tol * scale)
    return np.nonzero(bad)[0]


def trim_to_cap(model: CompiledModel, x: np.ndarray, rule, *, deadline: float | None = None) -> np.ndarray | None:
    """The plan ``x`` (whole units) with units taken off until no disc of ``rule`` holds more than its cap.

    ``rule`` is the model's :class:`~siteplan.model.dispersion.RadiusCap`.
    Returns the full solution vector (units, parcel-year choices, auxiliary
    and shortfall columns), or None when the plan overfills no disc, when
    it cannot be trimmed without breaking another hard row or touching an
    inclusionary host, or when ``deadline`` (``time.perf_counter()``) passes.
    """
    t0 = time.perf_counter()
    ctx = model.ctx
    n_u, n_z = ctx.n_u, ctx.n_z
    start = delivered_x(model, x)
    completed = complete(model, start)
    if completed is None:
        return None  # an auxiliary column it cannot compute
    before = set(hard_rows_broken(model, completed).tolist())  # the disc rows the plan overfills, among others
    u = start[:n_u].copy()
    z = start[n_u: n_u + n_z].copy()
    xy = rule.centroids(ctx)
    cap, radius = float(rule.max_units), float(rule.radius_m)
    n_parcels = len(ctx.parcels)
    u_parcel = ctx.u_parcel
    host = (ctx.parcels["role"].to_numpy() == "inclusionary") if "role" in ctx.parcels else np.zeros(n_parcels, bool)
    z_lower = model.col_lower[n_u: n_u + n_z]
    minimum = project_minimum(ctx)
    # the least valuable units go first: the model minimises cost, so the highest cost per unit
    cost = model.cost[:n_u]
    removed = 0.0
    passes = 0
    while passes < MAX_PASSES:
        passes += 1
        if deadline is not None and time.perf_counter() > deadline:
            log.info("Trimming to the radius cap: out of time after %d passes", passes - 1)
            return None
        units = np.bincount(u_parcel, weights=u, minlength=n_parcels)
        centres, sums = overfull_discs(xy, units, radius, cap, eps=1e-6)
        if not len(sums):
            break
        used = np.nonzero(units > 0.5)[0]
        tree = cKDTree(xy[used])
        taken: set[int] = set()
        progress = False
        for centre, total in zip(centres, sums):
            members = used[tree.query_ball_point(centre, radius + TOL_M)]
            if taken.intersection(members.tolist()):
                continue  # shares a parcel with a disc trimmed in this pass: its sum is stale
            taken.update(members.tolist())
            excess = float(np.bincount(u_parcel, weights=u, minlength=n_parcels)[members].sum()) - cap
            if excess <= 1e-9:
                continue
            got = _take(u, z, members, excess, u_parcel=u_parcel, u_z=ctx.u_z, cost=cost, host=host,
                        z_lower=z_lower, minimum=minimum)
            if got <= 0:
                log.info("Trimming to the radius cap: a disc of %.0f units cannot be brought to %.0f without "
                         "touching inclusionary hosts or locked parcels", total, cap)
                return None
            removed += got
            progress = True
        if not progress:
            return None
    else:
        return None
    out = start.copy()
    out[:n_u] = u
    out[n_u: n_u + n_z] = z
    full = complete(model, out)
    if full is None:
        return None
    broken = set(hard_rows_broken(model, full).tolist()) - before
    if broken:
        log.info("Trimming to the radius cap broke %d other hard rows; not kept", len(broken))
        return None
    log.info("Trimmed %.0f units off to keep every disc at %.0f units or fewer: %d passes, %.2f s", removed, cap, passes,
             time.perf_counter() - t0)
    return full


def _take(u: np.ndarray, z: np.ndarray, members: np.ndarray, excess: float, *, u_parcel, u_z, cost, host, z_lower,
          minimum: float) -> float:
    """Take ``excess`` units off the ``members`` parcels (in place), least valuable units first; the units taken."""
    member = np.zeros(host.shape[0], bool)
    member[members] = True
    cols = np.nonzero(member[u_parcel] & (u > 0) & ~host[u_parcel])[0]
    if not len(cols):
        return 0.0
    cols = cols[np.argsort(-cost[cols], kind="stable")]
    taken = 0.0
    per_z = np.bincount(u_z, weights=u, minlength=len(z))
    # first the units projects hold above the minimum, least valuable first: no project closes for a unit or two
    # (a fit holds many projects at the minimum; closing one for a disc a unit over lost 300 units each)
    for j in cols:
        if taken >= excess - 1e-9:
            break
        k = u_z[j]
        step = min(u[j], np.floor(per_z[k] - minimum + 1e-9), np.ceil(excess - taken - 1e-9))
        if step > 0:
            u[j] -= step
            per_z[k] -= step
            taken += step
            if per_z[k] <= 1e-9 and z_lower[k] < 0.5:  # no minimum: the project is gone
                z[k] = 0.0
    for j in cols:
        if u[j] <= 0:
            continue
        if taken >= excess - 1e-9:
            break
        k = u_z[j]
        want = min(u[j], np.ceil(excess - taken - 1e-9))
        if per_z[k] - want >= minimum - 1e-9 or per_z[k] - want <= 1e-9:
            u[j] -= want
            per_z[k] -= want
            taken += want
        elif z_lower[k] < 0.5:
            # below the project minimum: close the project, all its units
            same = np.nonzero((u_z == k) & (u > 0))[0]
            taken += float(u[same].sum())
            per_z[k] = 0.0
            u[same] = 0.0
        else:
            # locked in: down to the minimum only
            room = max(0.0, per_z[k] - minimum)
            step = min(u[j], room)
            u[j] -= step
            per_z[k] -= step
            taken += step
        if per_z[k] <= 1e-9:
            z[k] = 0.0 if z_lower[k] < 0.5 else z[k]
    return taken
