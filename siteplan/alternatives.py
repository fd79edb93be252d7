r"""Near-optimal alternative plans that really differ.

Planners compare options, so ``siteplan run --alternatives K`` returns K
plans: the best one, and K-1 more, each

- within ``within`` (e.g. 5%) of the best plan's objective:
  :math:`c^\top x \le c^\top x^* + w\,|c^\top x^*|`;
- differing from every earlier plan :math:`k` in at least a share
  ``differ`` of that plan's new projects: with :math:`S_k` the parcels
  plan :math:`k` uses for new projects (not inclusionary shares or
  locked-in parcels, which rules fix),

  .. math::

      \sum_{i \in S_k} \sum_y z_{iy} \le \lfloor (1 - \delta) |S_k| \rfloor .

Plans that only shuffle units between the same parcels do not count as
different. :func:`selection_frequency` says, per parcel, how many of the
plans use it.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import numpy as np
import pandas as pd

from .errors import SpecificationError
from .problem import Problem
from .result import Plan
from .solve import _with_row, solve_compiled, solve_problem

__all__ = ["alternatives", "selection_frequency"]

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
) -> list[Plan]:
    """The best plan and up to ``k - 1`` near-optimal, different ones.

    Parameters
    ----------
    k
        How many plans, the best included.
    within
        Largest relative loss of objective an alternative may have.
    differ
        Smallest share of each earlier plan's parcels an alternative must
        leave out.

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
    best = solve_problem(problem, **opts)
    plans = [best]
    if k == 1:
        return plans
    base = problem.compile()
    ctx = base.ctx
    target = best.report.penalised_objective
    model = _with_row(base, np.arange(base.n_cols), base.cost, -np.inf, target + within * abs(target), rule="alternative_objective")
    pos = pd.Index(ctx.parcels["parcel_id"])
    # Only new projects can move: inclusionary shares and locked-in parcels
    # are fixed by rule, so they are left out of the comparison.
    movable = ctx.parcels["role"].to_numpy() == "new"
    lock = problem.rule("lock_in")
    if lock is not None:
        movable[lock._split(ctx)[0]] = False
    while len(plans) < k:
        used = pos.get_indexer(plans[-1].units["parcel_id"].unique())
        used = used[movable[used]]
        cols = ctx.z_col(np.nonzero(np.isin(ctx.z_parcel, used))[0])
        model = _with_row(model, cols, np.ones(len(cols)), -np.inf, math.floor((1 - differ) * len(used)), rule="alternative_differ")
        try:
            plan = solve_compiled(problem, model, rounding_model=base, **opts)
        except Exception as err:  # no further plan meets both conditions
            log.warning("Stopped after %d plans: %s", len(plans), err)
            break
        plans.append(plan)
        log.info("Alternative %d: objective %.1f", len(plans), plan.report.objective)
    return plans


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
