r"""Near-optimal alternative plans that really differ.

Planners compare options, so ``siteplan run --alternatives K`` returns K
plans: the best one, and K-1 more, each

- within ``within`` (e.g. 5%) of the best plan's objective:
  :math:`c^\top x \le c^\top x^* + w\,|c^\top x^*|`;
- differing from every other plan in at least a share ``differ``
  (:math:`\delta`) of its *movable* parcels, both ways.

Difference is measured over the parcels that can move: new projects
(``role == "new"``) that no lock-in rule fixes. Inclusionary shares in
commercial projects and locked-in parcels are in every plan by rule, so
counting them would only dilute the difference. With :math:`M` the movable
parcels and :math:`S_k \subseteq M` those plan :math:`k` uses, a new plan
(:math:`z`) must leave out at least :math:`\delta` of each earlier plan's
movable parcels, and use at least :math:`\delta` of its own movable
parcels outside them:

.. math::

    \sum_{i \in S_k} \sum_y z_{iy} \le \lfloor (1 - \delta) |S_k| \rfloor,
    \qquad
    \sum_{i \in S_k} \sum_y z_{iy} \le (1 - \delta) \sum_{i \in M} \sum_y z_{iy} .

So for every pair of plans :math:`(a, b)`, at least :math:`\delta` of
:math:`a`'s movable parcels are not used by :math:`b`, and the other way
round. Plans that only shuffle units between the same parcels do not count
as different. :func:`difference_table` reports what each pair achieves, in
parcels (the promise) and in units on those parcels;
:func:`selection_frequency` says, per parcel, how many of the plans use it.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import SpecificationError
from ..model.problem import Problem
from .backends import _with_row, _with_rows
from .plan import Plan
from .search import solve_compiled, solve_problem

__all__ = ["alternatives", "difference_table", "movable_parcels", "selection_frequency"]

log = logging.getLogger(__name__)


def alternatives(
    problem: Problem,
    k: int,
    *,
    within: float = 0.05,
    differ: float = 0.3,
    solver: Literal["highs", "cbc"] = "highs",
    time_limit_s: float = 120.0,
    gap: float = 0.01,
    threads: int | None = None,
    seed: int = 0,
    log_findings: bool = True,
) -> list[Plan]:
    """The best plan and up to ``k - 1`` near-optimal, different ones.

    Parameters
    ----------
    k
        How many plans, the best included.
    within
        Largest relative loss of objective an alternative may have.
    differ
        Smallest share of movable parcels (new projects not locked in) by
        which every two plans differ, each way (see the module docstring).

    log_findings
        Log the rules' checks before solving (see :func:`siteplan.solve.solve_problem`).

    Returns
    -------
    list of Plan
        Fewer than ``k`` when no further plan meets both conditions (logged).
    """
    if k < 1:
        raise SpecificationError(f"alternatives: k must be at least 1, got {k}")
    if not (0.0 <= within < 1.0 and 0.0 < differ <= 1.0):
        raise SpecificationError(f"alternatives: need 0 <= within < 1 and 0 < differ <= 1, got {within}, {differ}")
    opts = dict(solver=solver, time_limit_s=time_limit_s, gap=gap, threads=threads, seed=seed)
    best = solve_problem(problem, log_findings=log_findings, **opts)
    plans = [best]
    if k == 1:
        return plans
    # the best plan's model: its columns are the problem's, and it holds the lazy rows its solve found
    base = best.model
    ctx = base.ctx
    pos = pd.Index(ctx.parcels["parcel_id"])
    movable = _movable(problem, ctx)
    z_movable = movable[ctx.z_parcel]
    # The rows below count parcels by z; a plan counts them by units. A
    # movable parcel-year that is chosen must carry a unit, so both agree
    # (also through the whole-unit step, which keeps these rows).
    base = _chosen_carries_units(base, np.nonzero(z_movable)[0])
    target = best.report.penalised_objective
    model = _with_row(base, np.arange(base.n_cols), base.cost, -np.inf, target + within * abs(target), rule="alternative_objective")
    while len(plans) < k:
        used = pos.get_indexer(plans[-1].units["parcel_id"].unique())
        used = used[movable[used]]
        in_used = np.isin(ctx.z_parcel, used)
        cols = ctx.z_col(np.nonzero(in_used)[0])
        model = _with_row(model, cols, np.ones(len(cols)), -np.inf, math.floor((1 - differ) * len(used)), rule="alternative_differ")
        # ... and the new plan's own movable parcels lie outside them by the same share.
        both = np.nonzero(z_movable)[0]
        model = _with_row(model, ctx.z_col(both), np.where(in_used[both], differ, -(1 - differ)), -np.inf, 0.0, rule="alternative_differ")
        try:
            plan = solve_compiled(problem, model, rounding_model=base, **opts)
        except Exception as err:  # no further plan meets both conditions
            log.warning("Stopped after %d plans: %s", len(plans), err)
            break
        plans.append(plan)
        log.info("Alternative %d: objective %.1f", len(plans), plan.report.objective)
    return plans


def _chosen_carries_units(model, z_local: np.ndarray):
    r"""The model with :math:`\sum_t u_{ity} \ge z_{iy}` for the parcel-years ``z_local``."""
    import scipy.sparse as sp

    ctx = model.ctx
    row_of = np.full(ctx.n_z, -1)
    row_of[z_local] = np.arange(len(z_local))
    u = np.nonzero(row_of[ctx.u_z] >= 0)[0]
    rows = np.concatenate([row_of[ctx.u_z[u]], np.arange(len(z_local))])
    cols = np.concatenate([ctx.u_col(u), ctx.z_col(z_local)])
    vals = np.concatenate([np.ones(len(u)), -np.ones(len(z_local))])
    block = sp.csr_matrix((vals, (rows, cols)), shape=(len(z_local), model.n_cols))
    return _with_rows(model, block, 0.0, np.inf, rule="alternative_units")


def _movable(problem: Problem, ctx) -> np.ndarray:
    """Boolean per parcel of ``ctx``: a new project no lock-in rule fixes."""
    movable = ctx.parcels["role"].to_numpy() == "new"
    lock = problem.rule("lock_in")
    if lock is not None:
        movable[lock._split(ctx)[0]] = False
    return movable


def movable_parcels(problem: Problem) -> set:
    """Ids of the parcels over which alternatives must differ (see the module docstring)."""
    ctx = problem.context()
    return set(ctx.parcels["parcel_id"].to_numpy()[_movable(problem, ctx)])


def difference_table(plans: list[Plan], *, differ: float | None = None) -> pd.DataFrame:
    """How much every two plans differ, over the movable parcels.

    One row per pair ``plan_a < plan_b`` (numbered from 1, the best plan
    first): ``movable_parcels_a``/``_b`` (parcels each uses that can move),
    ``shared_parcels``; ``parcels_differ_a``, the share of ``a``'s movable
    parcels that ``b`` does not use (and ``parcels_differ_b`` the other way
    round), which :func:`alternatives` keeps at least ``differ``;
    ``units_differ_a``/``_b``, the share of each plan's units on movable
    parcels that lie on parcels the other plan does not use. With
    ``differ``, also ``differ`` and ``met`` (both parcel shares at least
    ``differ``).
    """
    cols = ["plan_a", "plan_b", "movable_parcels_a", "movable_parcels_b", "shared_parcels",
            "parcels_differ_a", "parcels_differ_b", "units_differ_a", "units_differ_b"]
    if differ is not None:
        cols += ["differ", "met"]
    if len(plans) < 2:
        return pd.DataFrame(columns=cols)
    movable = movable_parcels(plans[0].problem)
    units = [p.units.loc[p.units["parcel_id"].isin(movable)].groupby("parcel_id")["units"].sum() for p in plans]
    rows = []
    for a in range(len(plans)):
        for b in range(a + 1, len(plans)):
            ua, ub = units[a], units[b]
            sa, sb = set(ua.index), set(ub.index)
            share = lambda n, d: n / d if d else float("nan")  # noqa: E731
            row = {
                "plan_a": a + 1, "plan_b": b + 1,
                "movable_parcels_a": len(sa), "movable_parcels_b": len(sb), "shared_parcels": len(sa & sb),
                "parcels_differ_a": share(len(sa - sb), len(sa)),
                "parcels_differ_b": share(len(sb - sa), len(sb)),
                "units_differ_a": share(float(ua[~ua.index.isin(sb)].sum()), float(ua.sum())),
                "units_differ_b": share(float(ub[~ub.index.isin(sa)].sum()), float(ub.sum())),
            }
            if differ is not None:
                row["differ"] = differ
                ok = lambda v: not v < differ - 1e-9  # noqa: E731  (an empty side has nothing to differ in)
                row["met"] = ok(row["parcels_differ_a"]) and ok(row["parcels_differ_b"])
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def selection_frequency(plans: list[Plan]) -> pd.DataFrame:
    """Per parcel used by any plan: in how many plans, and which.

    Columns ``parcel_id``, ``selected_in`` (count), ``frequency`` (share
    of the plans) and ``plans`` (e.g. ``"1,3"``).
    """
    rows = {}
    for n, plan in enumerate(plans, start=1):
        for pid in plan.units["parcel_id"].unique():
            rows.setdefault(pid, []).append(n)
    out = pd.DataFrame({
        "parcel_id": list(rows),
        "selected_in": [len(v) for v in rows.values()],
        "plans": [",".join(map(str, v)) for v in rows.values()],
    })
    out["frequency"] = out["selected_in"] / max(len(plans), 1)
    return out.sort_values(["selected_in", "parcel_id"], ascending=[False, True], kind="stable").reset_index(drop=True)[
        ["parcel_id", "selected_in", "frequency", "plans"]
    ]
