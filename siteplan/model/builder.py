"""What rules build with: the context they read, the builder they add rows to, and the compiled model.

A rule (:class:`Rule`) reads a :class:`Context` (the parcels and the
variable index), adds its rows to a :class:`ModelBuilder`, and reports
:class:`Finding` s before solving; :meth:`ModelBuilder.build` returns the
:class:`CompiledModel` that the solve stage takes. :mod:`siteplan.model.problem`
assembles these; it re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["CompiledModel", "Context", "Finding", "ModelBuilder", "Rule", "fmt_units", "group_rows"]


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
