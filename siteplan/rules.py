r"""Planning rules, one small named part each.

Every rule has a ``name``, a ``describe()`` line for reports, an
``apply(ctx, builder)`` that adds its rows to the model, and a
``check(ctx)`` that says before solving, with numbers, why it cannot hold.
Notation as in :mod:`siteplan.problem`: :math:`u_{ity}` units, :math:`z_{iy}`
parcel-year binaries, :math:`a_t` unit floor area, :math:`A_i` parcel area.
Rules marked *elastic* carry a shortfall column with a large penalty, so an
over-constrained scenario still returns the best plan and says what binds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from .errors import SpecificationError
from .problem import Context, Finding, ModelBuilder

__all__ = ["PlotRatio", "YearlyTargets", "ZoneTargets", "ProjectSize", "TransitAccess"]


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def _per_z_sum(ctx: Context, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``sum_t w[u] u[z, t]``, one per ``z``: (rows, cols, vals)."""
    return ctx.u_z, ctx.u_col(np.arange(ctx.n_u)), weights


@dataclass(frozen=True)
class PlotRatio:
    r"""Plot ratio (容积率): floor area on a parcel never exceeds area x cap.

    .. math::

        \sum_t \frac{a_t}{f_{it}} u_{ity} \le A_i z_{iy} \quad \forall i, y  \tag{1}

    i.e. the net land the units need (floor area / plot ratio) fits on the
    parcel. :math:`f_{it}` is ``far_max``; a type in ``upper_for`` may use
    the parcel's ``far_upper`` where it has one (public rental may use the
    regulatory plan's upper bound). The rule also links units to the
    parcel's supply year: no units without :math:`z_{iy} = 1`.
    """

    upper_for: tuple[str, ...] = ()
    name: str = "plot_ratio"

    def describe(self) -> str:
        extra = f"; {', '.join(self.upper_for)} may use far_upper" if self.upper_for else ""
        return f"floor area <= parcel area x far_max{extra}"

    def far_matrix(self, parcels: pd.DataFrame, types: tuple[str, ...]) -> np.ndarray:
        base = parcels["far_max"].to_numpy(dtype=float)
        upper = parcels["far_upper"].to_numpy(dtype=float) if "far_upper" in parcels else base
        upper = np.where(np.isfinite(upper) & (upper > base), upper, base)
        return np.stack([upper if t in self.upper_for else base for t in types], axis=1)

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        land_per_unit = ctx.unit_area[ctx.u_type] / ctx.far[ctx.u_parcel, ctx.u_type]
        rows, cols, vals = _per_z_sum(ctx, land_per_unit)
        area = ctx.parcels["area_m2"].to_numpy()[ctx.z_parcel]
        builder.add_rows(
            self.name,
            rows=np.concatenate([rows, np.arange(ctx.n_z)]),
            cols=np.concatenate([cols, ctx.z_col(np.arange(ctx.n_z))]),
            vals=np.concatenate([vals, -area]),
            lb=-np.inf,
            ub=0.0,
            labels=pd.DataFrame({
                "parcel_id": ctx.parcels["parcel_id"].to_numpy()[ctx.z_parcel],
                "year": np.asarray(ctx.years)[ctx.z_year],
            }),
        )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        land = np.bincount(ctx.u_parcel, weights=u * ctx.unit_area[ctx.u_type] / ctx.far[ctx.u_parcel, ctx.u_type], minlength=len(ctx.parcels))
        used = land > 0
        top = float((land[used] / ctx.parcels["area_m2"].to_numpy()[used]).max()) if used.any() else 0.0
        return "net land <= parcel area", f"fullest parcel uses {top:.1%} of its land"

    def check(self, ctx: Context) -> list[Finding]:
        floor_cap = ctx.parcels["area_m2"].to_numpy()[:, None] * ctx.far
        need = float((ctx.targets.sum(axis=1) * ctx.unit_area).sum())
        have = float(floor_cap.max(axis=1).sum())
        if need > have:
            return [Finding(self.name, "error", f"targets need {_fmt(need)} m2 of floor area but all candidate parcels hold {_fmt(have)} m2")]
        return []


@dataclass(frozen=True)
class YearlyTargets:
    r"""Yearly targets per housing type (elastic).

    .. math::

        \sum_i u_{ity} + s_{ty} = T_{ty} \quad \forall t, y  \tag{2}

    With ``mode="at_least"`` the equality becomes :math:`\ge`.
    """

    mode: Literal["exact", "at_least"] = "exact"
    name: str = "yearly_targets"

    def describe(self) -> str:
        return f"units per type and year {'=' if self.mode == 'exact' else '>='} target"

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        n_y = len(ctx.years)
        rows = ctx.u_type * n_y + ctx.u_year
        tgt = ctx.targets.reshape(-1)
        builder.add_rows(
            self.name,
            rows=rows,
            cols=ctx.u_col(np.arange(ctx.n_u)),
            vals=np.ones(ctx.n_u),
            lb=tgt,
            ub=tgt if self.mode == "exact" else np.inf,
            labels=pd.DataFrame({
                "type": np.repeat(ctx.types, n_y),
                "year": np.tile(ctx.years, len(ctx.types)),
            }),
            elastic=True,
        )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        placed = np.zeros_like(ctx.targets)
        np.add.at(placed, (ctx.u_type, ctx.u_year), u)
        met = int((placed >= ctx.targets - 1e-6).sum())
        return (
            f"{_fmt(ctx.targets.sum())} units in {ctx.targets.size} type-years",
            f"{_fmt(placed.sum())} units; {met} of {ctx.targets.size} type-years met",
        )

    def check(self, ctx: Context) -> list[Finding]:
        """Cumulative floor area needed by each year against land ready by then."""
        out = []
        floor_cap = ctx.parcels["area_m2"].to_numpy()[:, None] * ctx.far
        avail = ctx.parcels["available_year"].to_numpy()
        need = np.cumsum((ctx.targets * ctx.unit_area[:, None]).sum(axis=0))
        for b, y in enumerate(ctx.years):
            have = float(floor_cap[avail <= y].max(axis=1).sum()) if len(avail) else 0.0
            if need[b] > have:
                out.append(Finding(
                    self.name, "error",
                    f"by {y} the targets need {_fmt(need[b])} m2 of floor area, but parcels available "
                    f"by {y} hold {_fmt(have)} m2",
                ))
        return out


@dataclass(frozen=True)
class ZoneTargets:
    r"""Units per zone over the plan (elastic).

    .. math::

        \sum_{i \in g} \sum_{t, y} u_{ity} + s_g \ge Z_g \quad \forall g  \tag{3}

    (``=`` with ``mode="exact"``).
    """

    targets: Mapping[str, float]
    mode: Literal["exact", "at_least"] = "at_least"
    column: str = "zone"
    name: str = "zone_targets"

    def describe(self) -> str:
        return f"units per {self.column} {'=' if self.mode == 'exact' else '>='} target"

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        names = list(self.targets)
        zone = ctx.parcels[self.column].to_numpy()[ctx.u_parcel]
        pos = pd.Index(names).get_indexer(zone)
        keep = pos >= 0
        tgt = np.array([self.targets[n] for n in names], dtype=float)
        builder.add_rows(
            self.name,
            rows=pos[keep],
            cols=ctx.u_col(np.nonzero(keep)[0]),
            vals=np.ones(int(keep.sum())),
            lb=tgt,
            ub=tgt if self.mode == "exact" else np.inf,
            labels=pd.DataFrame({self.column: names}),
            elastic=True,
        )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        zone = ctx.parcels[self.column].to_numpy()[ctx.u_parcel]
        got = pd.Series(u).groupby(zone).sum()
        op = "=" if self.mode == "exact" else ">="
        return (
            "; ".join(f"{k} {op} {_fmt(v)}" for k, v in self.targets.items()),
            "; ".join(f"{k} {_fmt(got.get(k, 0))}" for k in self.targets),
        )

    def check(self, ctx: Context) -> list[Finding]:
        out = []
        total = float(ctx.targets.sum())
        want = float(sum(self.targets.values()))
        if want > total + 1e-9:
            out.append(Finding(self.name, "error", f"{self.column} targets add up to {_fmt(want)} units, more than the {_fmt(total)} units of the yearly targets"))
        smallest = float(ctx.unit_area.min()) if len(ctx.unit_area) else 1.0
        floor_cap = ctx.parcels["area_m2"].to_numpy() * ctx.far.max(axis=1)
        col = ctx.parcels[self.column].to_numpy()
        for name, n in self.targets.items():
            have = float(np.floor(floor_cap[col == name] / smallest).sum())
            if n > have:
                out.append(Finding(self.name, "error", f"{self.column} {name}: target {_fmt(n)} units, but its candidate parcels hold at most {_fmt(have)}"))
        return out


@dataclass(frozen=True)
class ProjectSize:
    r"""Units per project (a used parcel) lie between a minimum and a maximum.

    .. math::

        m\, z_{iy} \le \sum_t u_{ity} \le M\, z_{iy} \quad \forall i, y  \tag{4}

    Parcels too small to hold ``min_units`` of the smallest type are not
    offered at all ("never scattered single buildings").
    """

    min_units: int = 0
    max_units: int | None = None
    name: str = "project_size"

    def __post_init__(self) -> None:
        if self.min_units < 0 or (self.max_units is not None and self.max_units < self.min_units):
            raise SpecificationError(f"project size needs 0 <= min_units <= max_units, got {self.min_units}, {self.max_units}")

    def describe(self) -> str:
        hi = f"{self.max_units:,}" if self.max_units is not None else "no limit"
        return f"units per project between {self.min_units:,} and {hi}"

    def usable(self, parcels: pd.DataFrame, problem) -> np.ndarray:
        smallest = min(problem.unit_area.values())
        far = parcels["far_max"].to_numpy(dtype=float)
        if "far_upper" in parcels:
            up = parcels["far_upper"].to_numpy(dtype=float)
            far = np.where(np.isfinite(up) & (up > far), up, far)
        return np.floor(parcels["area_m2"].to_numpy() * far / smallest + 1e-9) >= self.min_units

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        rows, cols, vals = _per_z_sum(ctx, np.ones(ctx.n_u))
        zc = ctx.z_col(np.arange(ctx.n_z))
        labels = pd.DataFrame({
            "parcel_id": ctx.parcels["parcel_id"].to_numpy()[ctx.z_parcel],
            "year": np.asarray(ctx.years)[ctx.z_year],
        })
        if self.min_units > 0:
            builder.add_rows(
                self.name,
                rows=np.concatenate([rows, np.arange(ctx.n_z)]),
                cols=np.concatenate([cols, zc]),
                vals=np.concatenate([vals, np.full(ctx.n_z, -float(self.min_units))]),
                lb=0.0, ub=np.inf, labels=labels.assign(part="min"),
            )
        if self.max_units is not None:
            builder.add_rows(
                self.name,
                rows=np.concatenate([rows, np.arange(ctx.n_z)]),
                cols=np.concatenate([cols, zc]),
                vals=np.concatenate([vals, np.full(ctx.n_z, -float(self.max_units))]),
                lb=-np.inf, ub=0.0, labels=labels.assign(part="max"),
            )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        size = np.bincount(ctx.u_z, weights=u, minlength=ctx.n_z)
        size = size[size > 0.5]
        hi = f"{self.max_units:,}" if self.max_units is not None else "any"
        if not len(size):
            return f"{self.min_units:,}-{hi} units per project", "no projects"
        return f"{self.min_units:,}-{hi} units per project", f"{_fmt(size.min())}-{_fmt(size.max())} units in {len(size):,} projects"

    def check(self, ctx: Context) -> list[Finding]:
        if self.max_units is None:
            return []
        n_parcels = len(np.unique(ctx.z_parcel))
        total = float(ctx.targets.sum())
        if total > n_parcels * self.max_units:
            return [Finding(self.name, "error", f"targets of {_fmt(total)} units need more than the {n_parcels:,} usable parcels x {self.max_units:,} units each")]
        return []


@dataclass(frozen=True)
class TransitAccess:
    r"""A share of each year's units lies near a metro station (elastic).

    A parcel is *near* in year :math:`y` when its distance to a station open
    by :math:`y + \ell` (``lead_years``) is at most ``within_m``:

    .. math::

        \sum_{i,t} (\nu_{iy} - \rho) u_{ity} + s_y \ge 0 \quad \forall y  \tag{5}

    with :math:`\nu_{iy} \in \{0, 1\}` and :math:`\rho` the share. Distances
    come from the parcel columns ``station_m_<year>``.
    """

    share: float = 0.5
    within_m: float = 800.0
    lead_years: int = 0
    name: str = "transit_access"

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise SpecificationError(f"transit share must lie in [0, 1], got {self.share}")

    def describe(self) -> str:
        lead = f" (+{self.lead_years} years)" if self.lead_years else ""
        return f">= {self.share:.0%} of units within {self.within_m:,.0f} m of a station open by the supply year{lead}"

    def near(self, ctx: Context) -> np.ndarray:
        """Boolean ``(n_parcels, n_years)``: parcel is near an open station."""
        cols = []
        for y in ctx.years:
            col = f"station_m_{y + self.lead_years}"
            if col not in ctx.parcels.columns:
                raise SpecificationError(f"parcels lack {col}; compute features with the transit rule's lead_years")
            cols.append(ctx.parcels[col].to_numpy(dtype=float) <= self.within_m)
        return np.stack(cols, axis=1) if cols else np.zeros((len(ctx.parcels), 0), dtype=bool)

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        nu = self.near(ctx)[ctx.u_parcel, ctx.u_year].astype(float)
        builder.add_rows(
            self.name,
            rows=ctx.u_year,
            cols=ctx.u_col(np.arange(ctx.n_u)),
            vals=nu - self.share,
            lb=0.0,
            ub=np.inf,
            labels=pd.DataFrame({"year": list(ctx.years)}),
            elastic=True,
        )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        nu = self.near(ctx)[ctx.u_parcel, ctx.u_year]
        total = np.bincount(ctx.u_year, weights=u, minlength=len(ctx.years))
        near = np.bincount(ctx.u_year, weights=u * nu, minlength=len(ctx.years))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, near / total, 1.0)
        worst = int(np.argmin(share)) if len(share) else 0
        return (
            f">= {self.share:.0%} of each year's units within {self.within_m:,.0f} m",
            f"lowest {share[worst]:.1%} ({ctx.years[worst]})" if len(share) else "-",
        )

    def check(self, ctx: Context) -> list[Finding]:
        out = []
        near = self.near(ctx)
        floor_cap = ctx.parcels["area_m2"].to_numpy() * ctx.far.max(axis=1)
        avail = ctx.parcels["available_year"].to_numpy()
        need_floor = ctx.targets * ctx.unit_area[:, None]
        for b, y in enumerate(ctx.years):
            ok = near[:, b] & (avail <= y)
            have = float(floor_cap[ok].sum())
            need = self.share * float(need_floor[:, b].sum())
            if need > have:
                out.append(Finding(
                    self.name, "error",
                    f"{y}: {self.share:.0%} of the year's units need {_fmt(need)} m2 of floor area within "
                    f"{self.within_m:,.0f} m of an open station, but such parcels available by {y} hold {_fmt(have)} m2",
                ))
        return out
