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
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import SpecificationError

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


@dataclass(frozen=True)
class Finding:
    """Something seen before solving: ``level`` is "error" or "warning"."""

    rule: str
    level: Literal["error", "warning"]
    message: str


@dataclass(frozen=True)
class Context:
    """What rules see while compiling: data and the variable index.

    Attributes
    ----------
    parcels
        Candidate parcels (positional index ``0..n-1``) with their features.
    types, years
        The housing types and plan years, in model order.
    unit_area
        Average floor area of one unit of each type (m2), aligned to ``types``.
    targets
        Units per (type, year), shape ``(len(types), len(years))``.
    z_parcel, z_year
        Parcel position and year position of each ``z`` column.
    u_z, u_type
        The ``z`` column and type position of each ``u`` column.
    far
        Plot ratio each type may use on each parcel, ``(n_parcels, n_types)``:
        ``far_max``, or what the plot-ratio rule allows.
    rules
        Every rule of the problem, so that a check before solving can bound
        what one rule needs by what the others allow (the transit check
        uses the project size and the projects per district and year).
    """

    parcels: pd.DataFrame
    types: tuple[str, ...]
    years: tuple[int, ...]
    unit_area: np.ndarray
    targets: np.ndarray
    z_parcel: np.ndarray
    z_year: np.ndarray
    u_z: np.ndarray
    u_type: np.ndarray
    far: np.ndarray
    rules: tuple = ()

    @property
    def n_u(self) -> int:
        return len(self.u_z)

    @property
    def n_z(self) -> int:
        return len(self.z_parcel)

    @property
    def u_parcel(self) -> np.ndarray:
        return self.z_parcel[self.u_z]

    @property
    def u_year(self) -> np.ndarray:
        return self.z_year[self.u_z]

    def u_col(self, local: np.ndarray) -> np.ndarray:
        """Model column of ``u`` variables."""
        return np.asarray(local)

    def z_col(self, local: np.ndarray) -> np.ndarray:
        """Model column of ``z`` variables."""
        return self.n_u + np.asarray(local)


@runtime_checkable
class Rule(Protocol):
    """A planning rule: a named part that adds rows to the model.

    ``apply`` adds the rule's rows; ``check`` reports, before solving, why
    the rule cannot hold (with numbers); ``report`` states what the rule
    requires and what a solution achieves, for the compliance report.

    Optional hooks, looked up by name: ``domain(parcels, problem)`` returns
    a boolean ``(n_parcels, n_years)`` matrix of the parcel-years the rule
    allows; ``type_domain(parcels, types)`` a boolean ``(n_parcels,
    n_types)`` matrix of the types it allows on each parcel;
    ``far_matrix(parcels, types)`` the plot ratio each type may use.
    """

    name: str

    def describe(self) -> str: ...

    def apply(self, ctx: Context, builder: ModelBuilder) -> None: ...

    def check(self, ctx: Context) -> list[Finding]: ...

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]: ...


class ModelBuilder:
    """Collects the rows and slack columns that rules add."""

    def __init__(self, ctx: Context, *, penalty: float):
        self.ctx = ctx
        self.penalty = penalty
        self._blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._row_lb: list[np.ndarray] = []
        self._row_ub: list[np.ndarray] = []
        self._row_meta: list[tuple[str, str, int, dict[str, np.ndarray]]] = []
        self._n_rows = 0
        self._slack_rows: list[np.ndarray] = []
        self._slack_sign: list[np.ndarray] = []
        self._aux_lower: list[np.ndarray] = []
        self._aux_upper: list[np.ndarray] = []
        self._aux_integer: list[np.ndarray] = []
        self._aux_names: list[str] = []
        self._n_aux = 0

    def add_columns(self, name: str, n: int, *, lower: float | np.ndarray = 0.0, upper: float | np.ndarray = np.inf, integer: bool = False) -> np.ndarray:
        """Add ``n`` auxiliary columns (cost 0) and return their model columns.

        Rules use them for quantities several rows share, such as a
        parcel's total units.
        """
        cols = self.ctx.n_u + self.ctx.n_z + self._n_aux + np.arange(n)
        self._aux_lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy())
        self._aux_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy())
        self._aux_integer.append(np.full(n, integer))
        self._aux_names.extend([name] * n)
        self._n_aux += n
        return cols

    @property
    def n_rows(self) -> int:
        return self._n_rows

    def add_rows(
        self,
        rule: str,
        *,
        rows: np.ndarray,
        cols: np.ndarray,
        vals: np.ndarray,
        lb: np.ndarray | float,
        ub: np.ndarray | float,
        labels: pd.DataFrame | None = None,
        elastic: bool | Literal["lower", "upper", "both"] = False,
    ) -> None:
        """Add a block of rows ``lb <= A x <= ub``.

        Parameters
        ----------
        rule
            The rule's name; it labels the rows in reports.
        rows, cols, vals
            The block's non-zeros, ``rows`` numbered from 0 within the block.
        lb, ub
            Row bounds, scalars or one per row.
        labels
            One row per block row describing it (district, type, year ...).
        elastic
            ``"lower"`` (or ``True``): each row gets a shortfall column
            ``s >= 0`` with coefficient +1, which relaxes its lower bound;
            ``"upper"``: coefficient -1, which relaxes its upper bound;
            ``"both"``: one of each. Each column costs ``penalty`` per unit.
        """
        if labels is None:
            m = int(rows.max()) + 1 if len(rows) else 0
            labels = pd.DataFrame(index=range(m))
        m = len(labels)
        lb = np.broadcast_to(np.asarray(lb, dtype=float), (m,)).copy()
        ub = np.broadcast_to(np.asarray(ub, dtype=float), (m,)).copy()
        self._blocks.append((np.asarray(rows) + self._n_rows, np.asarray(cols), np.asarray(vals, dtype=float)))
        self._row_lb.append(lb)
        self._row_ub.append(ub)
        side = "lower" if elastic is True else (elastic or "")
        if side not in ("", "lower", "upper", "both"):
            raise ValueError(f"elastic must be False, True, 'lower', 'upper' or 'both', not {elastic!r}")
        self._row_meta.append((rule, side, m, {c: labels[c].to_numpy() for c in labels.columns}))
        rows_here = np.arange(self._n_rows, self._n_rows + m)
        if side in ("lower", "both"):
            self._slack_rows.append(rows_here)
            self._slack_sign.append(np.ones(m))
        if side in ("upper", "both"):
            self._slack_rows.append(rows_here)
            self._slack_sign.append(-np.ones(m))
        self._n_rows += m

    def build(self, *, cost_u: np.ndarray, upper_u: np.ndarray, integral_u: bool = False) -> CompiledModel:
        """Assemble the model from the collected rows."""
        ctx = self.ctx
        slack_rows = np.concatenate(self._slack_rows) if self._slack_rows else np.zeros(0, dtype=int)
        n_s = len(slack_rows)
        n_a = self._n_aux
        n_cols = ctx.n_u + ctx.n_z + n_a + n_s
        rows = [b[0] for b in self._blocks] + [slack_rows]
        cols = [b[1] for b in self._blocks] + [ctx.n_u + ctx.n_z + n_a + np.arange(n_s)]
        signs = np.concatenate(self._slack_sign) if self._slack_sign else np.zeros(0)
        vals = [b[2] for b in self._blocks] + [signs]
        A = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self._n_rows, n_cols),
        )
        A.sum_duplicates()
        aux = lambda parts, dtype=float: np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)  # noqa: E731
        cost = np.concatenate([cost_u, np.zeros(ctx.n_z + n_a), np.full(n_s, self.penalty)])
        lower = np.concatenate([np.zeros(ctx.n_u + ctx.n_z), aux(self._aux_lower), np.zeros(n_s)])
        upper = np.concatenate([upper_u, np.ones(ctx.n_z), aux(self._aux_upper), np.full(n_s, np.inf)])
        integrality = np.concatenate([
            np.full(ctx.n_u, integral_u), np.ones(ctx.n_z, dtype=bool), aux(self._aux_integer, bool), np.zeros(n_s, dtype=bool)
        ])
        meta = _row_labels(self._row_meta)
        return CompiledModel(
            ctx=ctx,
            A=A,
            cost=cost,
            col_lower=lower,
            col_upper=upper,
            integrality=integrality,
            row_lower=np.concatenate(self._row_lb) if self._row_lb else np.zeros(0),
            row_upper=np.concatenate(self._row_ub) if self._row_ub else np.zeros(0),
            rows=meta,
            slack_rows=slack_rows,
            slack_sign=signs,
            n_aux=n_a,
        )


def _row_labels(blocks: list[tuple[str, str, int, dict[str, np.ndarray]]]) -> pd.DataFrame:
    """One table of row labels from the blocks' ``(rule, elastic, rows, labels)``.

    Each block's columns are ``rule``, its labels, ``elastic``; the table
    has every column in the order the blocks first name them, and a block
    without a column gets NaN there. That is what ``pd.concat`` of one
    frame per block gives; built column by column, it is several
    milliseconds faster at a hundred blocks, which counts in the build of
    a 1,000-parcel model (about 30 ms).
    """
    if not blocks:
        return pd.DataFrame(columns=["rule", "elastic"])
    sizes = np.array([m for _, _, m, _ in blocks])
    names = list(dict.fromkeys(c for *_, labels in blocks for c in ("rule", *labels, "elastic")))
    out = {}
    for name in names:
        if name in ("rule", "elastic"):
            out[name] = np.repeat(np.array([b[0 if name == "rule" else 1] for b in blocks], dtype=object), sizes)
            continue
        parts = [labels.get(name) for *_, labels in blocks]
        present = [a for a in parts if a is not None]
        numeric = all(a.dtype.kind in "iufb" for a in present)
        if numeric and len(present) == len(parts):
            out[name] = np.concatenate(present)
            continue
        dtype = float if numeric else object
        out[name] = np.concatenate([np.full(m, np.nan, dtype=dtype) if a is None else a.astype(dtype, copy=False)
                                    for a, (_, _, m, _) in zip(parts, blocks)])
    return pd.DataFrame(out)


@dataclass
class CompiledModel:
    """A problem as matrices: ``min c x`` s.t. ``row_lower <= A x <= row_upper``.

    Columns are ``[u | z | a | s]``: units, parcel-year binaries, auxiliary
    columns rules added, then one shortfall column per elastic row. ``rows`` describes each row (its rule,
    and labels such as district, type, year).
    """

    ctx: Context
    A: sp.csr_matrix
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    rows: pd.DataFrame
    slack_rows: np.ndarray
    slack_sign: np.ndarray
    n_aux: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def n_cols(self) -> int:
        return self.A.shape[1]

    @property
    def n_rows(self) -> int:
        return self.A.shape[0]

    def rows_of(self, rule: str) -> pd.DataFrame:
        """The rows one rule added, with their bounds."""
        mask = (self.rows["rule"] == rule).to_numpy()
        out = self.rows.loc[mask].copy()
        out["lower"] = self.row_lower[mask]
        out["upper"] = self.row_upper[mask]
        return out

    def rule_names(self) -> list[str]:
        return list(dict.fromkeys(self.rows["rule"]))

    def slice_u(self, x: np.ndarray) -> np.ndarray:
        return x[: self.ctx.n_u]

    def slice_z(self, x: np.ndarray) -> np.ndarray:
        return x[self.ctx.n_u : self.ctx.n_u + self.ctx.n_z]

    def slice_s(self, x: np.ndarray) -> np.ndarray:
        return x[self.ctx.n_u + self.ctx.n_z + self.n_aux :]

    @property
    def n_core(self) -> int:
        """Columns before the shortfall columns."""
        return self.ctx.n_u + self.ctx.n_z + self.n_aux


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


def fmt_units(n: float) -> str:
    """A count for messages: ``12,400``."""
    return f"{n:,.0f}"


def group_rows(group_of_u: np.ndarray, *, weights: np.ndarray | None = None, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zeros of rows that sum unit columns by group.

    Parameters
    ----------
    group_of_u
        Row number (0-based, within the block) of each ``u`` column, or -1
        to leave it out.
    weights
        Coefficient of each ``u`` column (default 1).
    mask
        Extra filter on the ``u`` columns.

    Returns
    -------
    rows, cols, vals
        For :meth:`ModelBuilder.add_rows`; ``u`` columns are the first model
        columns, so a ``u`` index is its column.
    """
    keep = group_of_u >= 0
    if mask is not None:
        keep &= mask
    cols = np.nonzero(keep)[0]
    vals = np.ones(len(cols)) if weights is None else np.asarray(weights, dtype=float)[cols]
    return group_of_u[cols], cols, vals


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
