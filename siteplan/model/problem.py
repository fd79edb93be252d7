r"""The allocation problem: variables, rules, objective, and compilation.

A :class:`Problem` is built like a sentence and is immutable: every ``add_*``
returns a new problem::

    plan = (
        problem(parcels, unit_area_m2={"public_rental": 45}, years=range(2016, 2021))
        .add_targets({("public_rental", 2016): 4000, ...})
        .add_rule(PlotRatio())
        .add_rule(ProjectSize(min_units=300, max_units=3000))
        .solve(time_limit_s=60, gap=0.01)
    )

:meth:`Problem.compile` turns it into a :class:`CompiledModel`: sparse
matrices that any solver adapter in :mod:`siteplan.solve` takes, and that
tests inspect without solving.

The model
---------
Let :math:`i` be a candidate parcel, :math:`t` a housing type and :math:`y` a
plan year no earlier than the parcel's ``available_year``. Variables:

- :math:`z_{iy} \in \{0, 1\}`: parcel :math:`i` is supplied in year :math:`y`;
- :math:`u_{ity} \ge 0`: units of type :math:`t` placed on :math:`i` in :math:`y`;
- :math:`s_r \ge 0`: the shortfall of an elastic rule row :math:`r`.

Objective (minimised)

.. math::

    \min \; -\sum_{ity} \sigma_{iy} u_{ity} + P \sum_r s_r

with :math:`\sigma_{iy}` the parcel's suitability score in that year and
:math:`P` the shortfall penalty, so that a rule is only broken when no plan
can keep it. Every rule adds its rows; see :mod:`siteplan.model.rules`. Units are
continuous in the first solve; :func:`siteplan.solve.solve_problem` then
fixes the chosen parcel-years and solves again with whole units, so the
delivered plan is integral and keeps every rule.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import SpecificationError
from .builder import CompiledModel, Context, Finding, ModelBuilder, Rule, fmt_units, group_rows

if TYPE_CHECKING:
    from ..solve.plan import Plan

__all__ = [
    "fmt_units",
    "group_rows",
    "Problem",
    "problem",
    "Rule",
    "Context",
    "ModelBuilder",
    "CompiledModel",
    "Finding",
    "register_solver",
]

log = logging.getLogger(__name__)

#: Parcel columns a problem needs.
REQUIRED_COLUMNS = ("parcel_id", "district", "zone", "area_m2", "far_max", "available_year")


def _targets_array(targets: Mapping | pd.DataFrame | None, types: tuple[str, ...], years: tuple[int, ...]) -> np.ndarray:
    arr = np.zeros((len(types), len(years)))
    if targets is None:
        return arr
    if isinstance(targets, pd.DataFrame):
        items = {(r.type, int(r.year)): r.units for r in targets.itertuples()}
    else:
        items = dict(targets)
    for (t, y), n in items.items():
        if t not in types:
            raise SpecificationError(f"target for type {t!r}, which the problem does not have ({', '.join(types)})")
        if int(y) not in years:
            raise SpecificationError(f"target for year {y}, outside the plan years {years[0]}-{years[-1]}")
        if n < 0:
            raise SpecificationError(f"target for {t} in {y} is negative ({n})")
        arr[types.index(t), years.index(int(y))] = n
    return arr


@dataclass(frozen=True)
class Problem:
    """An allocation problem. Create it with :func:`problem`.

    Attributes
    ----------
    parcels
        Candidate parcels with their features (see
        :func:`siteplan.model.features.compute_features`). Columns
        ``score_<year>`` are the objective's weights; without them every
        unit scores 1.
    unit_area
        Average floor area per unit of each type (m2).
    years
        The plan years.
    targets
        Units per (type, year).
    rules
        The rules, in the order they were added.
    penalty
        Cost of one unit of shortfall on an elastic rule.
    """

    parcels: pd.DataFrame
    unit_area: Mapping[str, float]
    years: tuple[int, ...]
    targets: Mapping[tuple[str, int], float] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    penalty: float = 1000.0

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.unit_area)

    def add_targets(self, targets: Mapping[tuple[str, int], float] | pd.DataFrame) -> Problem:
        """Set the units to place per (type, year); replaces earlier targets."""
        arr = _targets_array(targets, self.types, self.years)
        table = {
            (t, y): float(arr[a, b]) for a, t in enumerate(self.types) for b, y in enumerate(self.years)
        }
        if self.targets:
            warnings.warn("add_targets replaces the targets already set", stacklevel=2)
        return dataclasses.replace(self, targets=table)

    def add_rule(self, rule: Rule) -> Problem:
        """Add a rule; a rule with the same name replaces the old one (with a warning)."""
        if not isinstance(rule, Rule):
            raise TypeError(f"{rule!r} is not a rule (it needs name, describe, apply and check)")
        kept = tuple(r for r in self.rules if r.name != rule.name)
        if len(kept) != len(self.rules):
            warnings.warn(f"rule {rule.name!r} replaces the one added before", stacklevel=2)
        return dataclasses.replace(self, rules=kept + (rule,))

    def with_penalty(self, penalty: float) -> Problem:
        """Set the cost of one unit of shortfall."""
        return dataclasses.replace(self, penalty=float(penalty))

    def rule(self, name: str) -> Rule | None:
        """The rule with this name, if added."""
        return next((r for r in self.rules if r.name == name), None)

    # -- compilation -------------------------------------------------------
    def context(self) -> Context:
        """The variable index: which (parcel, year) and (parcel, type, year) exist.

        A parcel-year exists when the year is no earlier than the parcel's
        ``available_year`` and every rule's ``domain`` allows it; a unit
        column exists for each type every rule's ``type_domain`` allows on
        that parcel. Parcels take their ``role`` column ("new" when absent).
        """
        p = self.parcels.reset_index(drop=True)
        if "role" not in p.columns:
            p = p.assign(role="new")
        years = np.asarray(self.years)
        ok = years[None, :] >= p["available_year"].to_numpy()[:, None]
        allowed = np.ones((len(p), len(self.types)), dtype=bool)
        for rule in self.rules:
            domain = getattr(rule, "domain", None)
            if domain is not None:
                ok &= np.asarray(domain(p, self), dtype=bool)
            type_domain = getattr(rule, "type_domain", None)
            if type_domain is not None:
                allowed &= np.asarray(type_domain(p, self.types), dtype=bool)
        z_parcel, z_year = np.nonzero(ok)
        per_z = allowed[z_parcel]
        u_z, u_type = np.nonzero(per_z)
        far = np.repeat(p["far_max"].to_numpy(dtype=float)[:, None], len(self.types), axis=1)
        for rule in self.rules:
            far_matrix = getattr(rule, "far_matrix", None)
            if far_matrix is not None:
                far = far_matrix(p, self.types)
        return Context(
            parcels=p,
            types=self.types,
            years=tuple(int(y) for y in self.years),
            unit_area=np.array([self.unit_area[t] for t in self.types], dtype=float),
            targets=_targets_array(self.targets, self.types, self.years),
            z_parcel=z_parcel,
            z_year=z_year,
            u_z=u_z,
            u_type=u_type,
            far=far,
            rules=tuple(self.rules),
        )

    def check(self) -> list[Finding]:
        """Run every rule's pre-solve check."""
        ctx = self.context()
        return [f for rule in self.rules for f in rule.check(ctx)]

    def compile(self, *, integral_units: bool = False) -> CompiledModel:
        """Turn the problem into matrices; no solver is called.

        Parameters
        ----------
        integral_units
            Make the unit variables integer (the rounding solve uses this).
        """
        missing = [c for c in REQUIRED_COLUMNS if c not in self.parcels.columns]
        if missing:
            raise SpecificationError(f"parcels lack column(s) {missing}; compute them with siteplan.model.features")
        ctx = self.context()
        findings = [f for rule in self.rules for f in rule.check(ctx)]
        if not any(r.name == "plot_ratio" for r in self.rules):
            raise SpecificationError("the plot-ratio rule is required: add_rule(PlotRatio())")
        builder = ModelBuilder(ctx, penalty=self.penalty)
        _one_supply_year(ctx, builder)
        for rule in self.rules:
            rule.apply(ctx, builder)
        score = np.ones((len(ctx.parcels), len(ctx.years)))
        for b, y in enumerate(ctx.years):
            col = f"score_{y}"
            if col in ctx.parcels.columns:
                score[:, b] = ctx.parcels[col].to_numpy(dtype=float)
        cost_u = -score[ctx.u_parcel, ctx.u_year]
        # Units per column are bounded by what the parcel holds of that type.
        floor_cap = ctx.parcels["area_m2"].to_numpy()[:, None] * ctx.far
        upper_u = np.floor(floor_cap[ctx.u_parcel, ctx.u_type] / ctx.unit_area[ctx.u_type] + 1e-9)
        model = builder.build(cost_u=cost_u, upper_u=upper_u, integral_u=integral_units)
        model.findings.extend(findings)
        log.info(
            "Compiled %d rows x %d columns (%d binaries), %d non-zeros",
            model.n_rows, model.n_cols, ctx.n_z, model.A.nnz,
        )
        return model

    def solve(self, *, solver: str = "highs", time_limit_s: float = 120.0, gap: float = 0.01, threads: int | None = None, seed: int = 0,
              log_findings: bool = True) -> Plan:
        """Compile, solve and round; see :func:`siteplan.solve.search.solve_problem`.

        The solver is the one the solve stage registered with
        :func:`register_solver` (importing :mod:`siteplan` does that), so this
        module never imports the stage above it.
        """
        if _SOLVER is None:
            raise RuntimeError("no solver is registered: import siteplan (or siteplan.solve) before calling Problem.solve")
        return _SOLVER(self, solver=solver, time_limit_s=time_limit_s, gap=gap, threads=threads, seed=seed,
                       log_findings=log_findings)


#: The function behind :meth:`Problem.solve`, set by the solve stage.
_SOLVER: Callable[..., Plan] | None = None


def register_solver(solve: Callable[..., Plan]) -> None:
    """Make ``solve(problem, **options)`` the function behind :meth:`Problem.solve`.

    The solve stage calls this when it is imported; the model stays below it.
    """
    global _SOLVER
    _SOLVER = solve


def _one_supply_year(ctx: Context, builder: ModelBuilder) -> None:
    r"""Each parcel is supplied in at most one year: :math:`\sum_y z_{iy} \le 1`."""
    parcels, rows = np.unique(ctx.z_parcel, return_inverse=True)
    builder.add_rows(
        "one_supply_year",
        rows=rows,
        cols=ctx.z_col(np.arange(ctx.n_z)),
        vals=np.ones(ctx.n_z),
        lb=-np.inf,
        ub=1.0,
        labels=pd.DataFrame({"parcel_id": ctx.parcels["parcel_id"].to_numpy()[parcels]}),
    )


def problem(
    parcels: pd.DataFrame,
    unit_area_m2: Mapping[str, float],
    years: Iterable[int],
    *,
    penalty: float = 1000.0,
) -> Problem:
    """Start a problem on candidate parcels.

    Parameters
    ----------
    parcels
        Candidate parcels with features; at least the columns in
        :data:`REQUIRED_COLUMNS`.
    unit_area_m2
        Average floor area of one unit per housing type.
    years
        The plan years.
    penalty
        Cost of one unit of shortfall on an elastic rule (see the module
        docstring); it must dominate the suitability scores, which lie in
        [0, 1].
    """
    years = tuple(int(y) for y in years)
    if not years or list(years) != sorted(set(years)):
        raise SpecificationError(f"years must be increasing and unique, got {years}")
    if not unit_area_m2:
        raise SpecificationError("give at least one housing type with its unit area")
    bad = {t: a for t, a in unit_area_m2.items() if not a > 0}
    if bad:
        raise SpecificationError(f"unit areas must be above 0: {bad}")
    return Problem(parcels=parcels.reset_index(drop=True), unit_area=dict(unit_area_m2), years=years, penalty=penalty)
