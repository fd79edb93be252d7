r"""Planning rules, one small named part each.

Every rule has a ``name``, a ``describe()`` line for reports, an
``apply(ctx, builder)`` that adds its rows to the model, and a
``check(ctx)`` that says before solving, with numbers, why it cannot hold.
Notation as in :mod:`siteplan.model.problem`: :math:`u_{ity}` units, :math:`z_{iy}`
parcel-year binaries, :math:`a_t` unit floor area, :math:`A_i` parcel area.
Rules marked *elastic* carry a shortfall column with a large penalty, so an
over-constrained scenario still returns the best plan and says what binds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import shapely

from ..errors import SpecificationError
from ..housing import DORMITORY_MIN_M2_PER_PERSON
from .builder import Context, Finding, ModelBuilder, group_rows
from .builder import fmt_units as _fmt

__all__ = ["PlotRatio", "YearlyTargets", "ZoneTargets", "UnitSizes", "Budget", "LockOut", "LockIn", "Inclusionary"]


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


def target_table(ctx: Context, u: np.ndarray, *, exact: bool) -> pd.DataFrame:
    """Per type and year: ``target``, ``placed`` (whole units), ``missing``, ``excess`` and ``met``.

    Every type x year of the plan, a target not given being 0. An exact
    target is met only when placed equals it (placing more is not meeting
    it); an at-least target when placed reaches it.
    """
    placed = np.zeros_like(ctx.targets, dtype=float)
    np.add.at(placed, (ctx.u_type, ctx.u_year), np.round(u))  # the delivered plan is in whole units
    t = pd.DataFrame({
        "type": np.repeat(ctx.types, len(ctx.years)),
        "year": np.tile(ctx.years, len(ctx.types)),
        "target": np.asarray(ctx.targets, dtype=float).reshape(-1),
        "placed": placed.reshape(-1).astype("int64"),
    })
    diff = t["placed"] - t["target"]
    t["missing"] = np.ceil((-diff).clip(lower=0) - 1e-9).astype("int64")
    t["excess"] = np.ceil(diff.clip(lower=0) - 1e-9).astype("int64") if exact else 0
    t["met"] = (t["missing"] == 0) & (t["excess"] == 0)
    return t


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
            elastic="both" if self.mode == "exact" else "lower",
        )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        t = target_table(ctx, u, exact=self.mode == "exact")
        text = f"{_fmt(t['placed'].sum())} units; {int(t['met'].sum())} of {len(t)} type-years met"
        missing, excess = int(t["missing"].sum()), int(t["excess"].sum())
        if missing or excess:
            text += f"; {missing:,} units missing, {excess:,} over exact targets"
        return f"{_fmt(ctx.targets.sum())} units in {ctx.targets.size} type-years", text

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
    r"""Units per zone (or district) over the plan or per year (elastic).

    .. math::

        \sum_{i \in g} \sum_{t, y} u_{ity} + s_g \ge Z_g \quad \forall g  \tag{3}

    (``=`` with ``mode="exact"``). A target given as a list of one value
    per plan year binds per year instead:
    :math:`\sum_{i \in g, t} u_{ity} + s_{gy} \ge Z_{gy}`. ``column`` is the
    parcel attribute that groups parcels: ``"zone"`` or ``"district"``.
    """

    targets: Mapping[str, float | Sequence[float]]
    mode: Literal["exact", "at_least"] = "at_least"
    column: str = "zone"
    name: str = "zone_targets"

    def describe(self) -> str:
        return f"units per {self.column} {'=' if self.mode == 'exact' else '>='} target"

    def _table(self, ctx: Context) -> pd.DataFrame:
        """One row per target: group, year (or -1 for the plan) and units."""
        rows = []
        for g, v in self.targets.items():
            if isinstance(v, (int, float, np.integer, np.floating)):
                rows.append((g, -1, float(v)))
            else:
                if len(v) != len(ctx.years):
                    raise SpecificationError(f"{self.column} {g}: {len(v)} yearly targets for {len(ctx.years)} plan years")
                rows.extend((g, y, float(n)) for y, n in zip(ctx.years, v))
        return pd.DataFrame(rows, columns=[self.column, "year", "units"])

    def _slots(self, ctx: Context, table: pd.DataFrame) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """Groups as numbers: ``(n_groups, group of each parcel (-1: none),
        group of each target, year slot of each target)``; the year slot is
        the plan year's index, or ``len(years)`` for a target over the plan."""
        names = pd.Index(pd.unique(table[self.column]))
        years = np.asarray(ctx.years)
        y = table["year"].to_numpy()
        y_tab = np.where(y == -1, len(years), np.searchsorted(years, y))
        return len(names), names.get_indexer(ctx.parcels[self.column].to_numpy()), names.get_indexer(table[self.column]), y_tab

    def _row_of_u(self, ctx: Context, table: pd.DataFrame) -> np.ndarray:
        # look groups up once per parcel and years once per year, then per unit column
        n_groups, g_parcel, g_tab, y_tab = self._slots(ctx, table)
        years = np.asarray(ctx.years)
        slot = np.full((n_groups + 1, len(years) + 1), -1)  # [group, year index or plan]
        slot[g_tab, y_tab] = np.arange(len(table))
        g = g_parcel[ctx.u_parcel]  # -1 (no target) lands on the spare last row of slot
        plan_row = slot[g, len(years)]
        return np.where(plan_row >= 0, plan_row, slot[g, ctx.u_year])

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        table = self._table(ctx)
        rows, cols, vals = group_rows(self._row_of_u(ctx, table))
        tgt = table["units"].to_numpy()
        builder.add_rows(
            self.name, rows=rows, cols=cols, vals=vals,
            lb=tgt, ub=tgt if self.mode == "exact" else np.inf,
            labels=table[[self.column, "year"]].replace({"year": {-1: pd.NA}}),
            elastic=True,
        )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        table = self._table(ctx)
        row = self._row_of_u(ctx, table)
        got = np.bincount(np.maximum(row, 0), weights=u * (row >= 0), minlength=len(table))
        op = "=" if self.mode == "exact" else ">="
        label = lambda r: f"{r[self.column]}{'' if r['year'] < 0 else ' ' + str(r['year'])}"  # noqa: E731
        return (
            "; ".join(f"{label(r)} {op} {_fmt(r['units'])}" for _, r in table.iterrows()),
            "; ".join(f"{label(r)} {_fmt(g)}" for (_, r), g in zip(table.iterrows(), got)),
        )

    def check(self, ctx: Context) -> list[Finding]:
        out = []
        table = self._table(ctx)
        plan_total = table.loc[table["year"] < 0, "units"].sum()
        per_year = table.loc[table["year"] >= 0].groupby("year")["units"].sum()
        total = float(ctx.targets.sum())
        if plan_total + per_year.sum() > total + 1e-9:
            out.append(Finding(self.name, "error", f"{self.column} targets add up to {_fmt(plan_total + per_year.sum())} units, more than the {_fmt(total)} units of the yearly targets"))
        smallest = float(ctx.unit_area.min()) if len(ctx.unit_area) else 1.0
        units_cap = np.floor(ctx.parcels["area_m2"].to_numpy() * ctx.far.max(axis=1) / smallest)
        # capacity of each group's usable parcels available by each plan year
        # (the last column: the whole plan, whatever the year)
        n_groups, g, g_tab, y_tab = self._slots(ctx, table)
        first = np.searchsorted(np.asarray(ctx.years), ctx.parcels["available_year"].to_numpy())
        in_domain = np.zeros(len(ctx.parcels), dtype=bool)
        in_domain[ctx.z_parcel] = True
        ok = in_domain & (g >= 0)
        by_year = np.zeros((n_groups, len(ctx.years) + 1))
        np.add.at(by_year, (g[ok], first[ok]), units_cap[ok])
        have_by_target = np.cumsum(by_year, axis=1)[g_tab, y_tab]
        for group, year, units, have in zip(table[self.column], table["year"].to_numpy(), table["units"].to_numpy(), have_by_target):
            when = f" by {year}" if year >= 0 else ""
            if units > have:
                out.append(Finding(self.name, "error", f"{self.column} {group}: target {_fmt(units)} units{when}, but its usable parcels{when} hold at most {_fmt(have)}"))
        return out


@dataclass(frozen=True)
class UnitSizes:
    r"""Unit sizes against policy caps; dormitories give each person enough floor.

    No rows: sizes are settings, checked before solving. ``caps`` maps a
    type to its largest average unit floor area (m2); ``persons_per_unit``
    marks dormitory-type stock, which needs at least ``min_m2_per_person``
    (5 m2) per person.
    """

    caps: Mapping[str, float] = field(default_factory=dict)
    persons_per_unit: Mapping[str, float] = field(default_factory=dict)
    min_m2_per_person: float = DORMITORY_MIN_M2_PER_PERSON
    allow_oversize: tuple[str, ...] = ()
    name: str = "unit_sizes"

    def describe(self) -> str:
        caps = ", ".join(f"{t} <= {c:g} m2" for t, c in self.caps.items())
        return f"average unit floor area within policy caps ({caps or 'none'}); dormitories >= {self.min_m2_per_person:g} m2 per person"

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        return None

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        sizes = dict(zip(ctx.types, ctx.unit_area))
        return (
            "; ".join(f"{t} <= {c:g} m2" for t, c in self.caps.items() if t in sizes) or "no caps",
            "; ".join(f"{t} {sizes[t]:g} m2" for t in ctx.types),
        )

    def check(self, ctx: Context) -> list[Finding]:
        out = []
        for t, a in zip(ctx.types, ctx.unit_area):
            cap = self.caps.get(t)
            if cap is not None and a > cap and t not in self.allow_oversize:
                out.append(Finding(self.name, "error", f"{t}: {a:g} m2 per unit is above the policy cap of {cap:g} m2"))
            persons = self.persons_per_unit.get(t)
            if persons and a / persons < self.min_m2_per_person:
                out.append(Finding(self.name, "error", f"{t}: {a:g} m2 for {persons:g} persons is {a / persons:.1f} m2 each, below {self.min_m2_per_person:g} m2 per person"))
        return out


@dataclass(frozen=True)
class Budget:
    r"""A yearly investment budget (hard).

    .. math::

        \sum_{i,t} a_t c_t u_{ity} \le B_y \quad \forall y  \tag{6}

    with :math:`c_t` the investment per m2 of floor area of type :math:`t`
    (yuan) and :math:`B_y` the budget of year :math:`y` (yuan). Targets are
    elastic, so a tight budget shows as a shortfall, not as infeasibility.
    """

    cost_per_m2: Mapping[str, float]
    per_year: Sequence[float]
    name: str = "budget"

    def describe(self) -> str:
        return "investment per year <= budget"

    def _cost_of_u(self, ctx: Context) -> np.ndarray:
        c = np.array([self.cost_per_m2.get(t, 0.0) for t in ctx.types])
        return (ctx.unit_area * c)[ctx.u_type]

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        if len(self.per_year) != len(ctx.years):
            raise SpecificationError(f"budget has {len(self.per_year)} values for {len(ctx.years)} plan years")
        # Rows in 10,000 yuan (万元), so coefficients and bounds stay in a range solvers like.
        rows, cols, vals = group_rows(ctx.u_year, weights=self._cost_of_u(ctx) / 1e4)
        builder.add_rows(self.name, rows=rows, cols=cols, vals=vals, lb=-np.inf, ub=np.asarray(self.per_year, dtype=float) / 1e4,
                         labels=pd.DataFrame({"year": list(ctx.years)}))

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        spent = np.bincount(ctx.u_year, weights=u * self._cost_of_u(ctx), minlength=len(ctx.years))
        share = spent / np.maximum(np.asarray(self.per_year, dtype=float), 1e-9)
        k = int(np.argmax(share)) if len(share) else 0
        return f"<= {_yi(min(self.per_year))}-{_yi(max(self.per_year))} per year", f"highest use {share[k]:.1%} of the budget ({ctx.years[k]})"

    def check(self, ctx: Context) -> list[Finding]:
        c = np.array([self.cost_per_m2.get(t, 0.0) for t in ctx.types])
        need = (ctx.targets * (ctx.unit_area * c)[:, None]).sum(axis=0)
        return [
            Finding(self.name, "error", f"{y}: the targets cost {_yi(n)}, above the budget of {_yi(b)}")
            for y, n, b in zip(ctx.years, need, self.per_year)
            if n > b * (1 + 1e-9)
        ]


def _yi(yuan: float) -> str:
    return f"{yuan / 1e8:,.2f} 亿元"


def _parcel_mask(parcels: pd.DataFrame, ids: Sequence[str], where: Mapping[str, Sequence]) -> np.ndarray:
    mask = parcels["parcel_id"].isin(list(ids)).to_numpy().copy()
    for col, values in where.items():
        if col not in parcels.columns:
            raise SpecificationError(f"lock rule: parcels have no column {col!r}; columns: {', '.join(map(str, parcels.columns))}")
        mask |= parcels[col].isin(list(values)).to_numpy()
    return mask


@dataclass(frozen=True)
class LockOut:
    r"""Parcels that may not be used: by id, by attribute, or under polygons.

    ``polygons`` (ecological red line, flood zone ...) lock out every parcel
    they overlap by more than ``min_overlap`` of the parcel's area. The
    rule removes those parcels' variables; it adds no rows.
    """

    parcel_ids: Sequence[str] = ()
    where: Mapping[str, Sequence] = field(default_factory=dict)
    polygons: object = None  # a GeoSeries in the parcels' CRS
    min_overlap: float = 0.0
    name: str = "lock_out"

    def describe(self) -> str:
        parts = []
        if self.parcel_ids:
            parts.append(f"{len(self.parcel_ids)} parcel ids")
        if self.where:
            parts.append(", ".join(f"{k} in {list(v)}" for k, v in self.where.items()))
        if self.polygons is not None:
            parts.append(f"{len(self.polygons)} constraint polygons")
        return "parcels locked out: " + ("; ".join(parts) or "none")

    def locked(self, parcels: pd.DataFrame) -> np.ndarray:
        """Boolean per parcel: locked out."""
        mask = _parcel_mask(parcels, self.parcel_ids, self.where)
        if self.polygons is not None and len(self.polygons) and hasattr(parcels, "geometry"):
            geoms = np.asarray(parcels.geometry.values)
            polys = np.asarray(self.polygons.values)
            hit = np.zeros(len(parcels), dtype=bool)
            # The constraint polygons are few and detailed (a red line of a
            # thousand vertices), the parcels many and simple: query the
            # parcels' tree with the polygons, prepared, and intersect only
            # the parcels a polygon does not cover whole.
            shapely.prepare(polys)
            qi, pi = shapely.STRtree(geoms).query(polys, predicate="intersects")
            if len(pi):
                share = np.ones(len(pi))
                part = ~shapely.covers(polys[qi], geoms[pi])
                inter = shapely.intersection(geoms[pi][part], polys[qi][part])
                share[part] = shapely.area(inter) / np.maximum(shapely.area(geoms[pi][part]), 1e-9)
                over = np.zeros(len(parcels))
                np.maximum.at(over, pi, share)
                hit = over > self.min_overlap
            mask |= hit
        return mask

    def domain(self, parcels: pd.DataFrame, problem) -> np.ndarray:
        return ~self.locked(parcels)[:, None]

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        return None

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        n = int(self.locked(ctx.parcels).sum())
        used = np.bincount(ctx.u_parcel, weights=u, minlength=len(ctx.parcels)) > 0
        return f"{n:,} parcels unused", f"{int((used & self.locked(ctx.parcels)).sum())} locked-out parcels used"

    def check(self, ctx: Context) -> list[Finding]:
        return []


@dataclass(frozen=True)
class LockIn:
    r"""Parcels that must be supplied within the plan (hard).

    .. math::

        \sum_y z_{iy} = 1, \qquad \sum_{t,y} u_{ity} \ge 1 \quad \forall i \in L  \tag{7}

    By id or by attribute (e.g. ``where={"metro_depot": [True]}`` for
    metro-depot sites, 地铁上盖). A locked-in parcel that cannot be used
    (locked out, not available within the plan, too small for a project) is
    reported before solving and left out of the rule.
    """

    parcel_ids: Sequence[str] = ()
    where: Mapping[str, Sequence] = field(default_factory=dict)
    name: str = "lock_in"

    def describe(self) -> str:
        parts = [f"{len(self.parcel_ids)} parcel ids"] if self.parcel_ids else []
        parts += [f"{k} in {list(v)}" for k, v in self.where.items()]
        return "parcels locked in: " + ("; ".join(parts) or "none")

    def _split(self, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        """Locked parcels that can be used, and those that cannot."""
        locked = _parcel_mask(ctx.parcels, self.parcel_ids, self.where)
        has_z = np.zeros(len(ctx.parcels), dtype=bool)
        has_z[ctx.z_parcel] = True
        return np.nonzero(locked & has_z)[0], np.nonzero(locked & ~has_z)[0]

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        ok, _ = self._split(ctx)
        row_of_parcel = np.full(len(ctx.parcels), -1)
        row_of_parcel[ok] = np.arange(len(ok))
        r = row_of_parcel[ctx.z_parcel]
        keep = r >= 0
        labels = pd.DataFrame({"parcel_id": ctx.parcels["parcel_id"].to_numpy()[ok]})
        builder.add_rows(self.name, rows=r[keep], cols=ctx.z_col(np.nonzero(keep)[0]), vals=np.ones(int(keep.sum())),
                         lb=1.0, ub=1.0, labels=labels.assign(part="supplied"))
        rows, cols, vals = group_rows(row_of_parcel[ctx.u_parcel])
        builder.add_rows(self.name, rows=rows, cols=cols, vals=vals, lb=1.0, ub=np.inf, labels=labels.assign(part="units"))

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        ok, bad = self._split(ctx)
        used = np.bincount(ctx.u_parcel, weights=u, minlength=len(ctx.parcels)) > 0
        return f"{len(ok) + len(bad)} parcels supplied", f"{int(used[ok].sum())} supplied; {len(bad)} could not be used"

    def check(self, ctx: Context) -> list[Finding]:
        _, bad = self._split(ctx)
        p = ctx.parcels.iloc[bad]
        last = ctx.years[-1]
        out = []
        for _, r in p.iterrows():
            why = (f"it becomes available only in {r['available_year']}" if r["available_year"] > last
                   else "another rule excludes it (locked out, or too small for a project)")
            out.append(Finding(self.name, "error", f"locked-in parcel {r['parcel_id']} cannot be used: {why}; it is left out of the lock"))
        return out


@dataclass(frozen=True)
class Inclusionary:
    r"""Inclusionary share (配建) inside commercial housing projects.

    Parcels with ``role == "inclusionary"`` are commercial housing projects
    supplied in their ``available_year``; each must carry between ``ratio``
    and ``max_ratio`` of its residential floor area (area x ``far_max``,
    :math:`F_i`) as affordable units of the allowed ``types``:

    .. math::

        z_{i,y_i} = 1, \qquad
        r F_i \le \sum_t a_t u_{i t y_i} \le \bar r F_i + \max_t a_t  \tag{8}

    Without ``max_ratio``, :math:`\bar r = r`: the share is met, rounded up
    to whole units (hence the one unit of slack above).

    The units count toward the targets; their land is reported as
    inclusionary land (普通商品房配建用地), apart from new land.
    """

    ratio: float = 0.05
    max_ratio: float | None = None
    types: tuple[str, ...] = ()
    name: str = "inclusionary"

    def __post_init__(self) -> None:
        hi = self.max_ratio if self.max_ratio is not None else self.ratio
        if not 0.0 <= self.ratio <= hi <= 1.0:
            raise SpecificationError(f"inclusionary needs 0 <= ratio <= max_ratio <= 1, got {self.ratio}, {self.max_ratio}")

    @property
    def upper(self) -> float:
        return self.max_ratio if self.max_ratio is not None else self.ratio

    def describe(self) -> str:
        span = f"{self.ratio:.0%}" if self.upper == self.ratio else f"{self.ratio:.0%}-{self.upper:.0%}"
        return f"commercial projects carry {span} of their residential floor area as {', '.join(self.types) or 'any type'}"

    def domain(self, parcels: pd.DataFrame, problem) -> np.ndarray:
        incl = (parcels["role"] == "inclusionary").to_numpy()
        years = np.asarray(problem.years)
        at_year = years[None, :] == parcels["available_year"].to_numpy()[:, None]
        return ~incl[:, None] | at_year

    def type_domain(self, parcels: pd.DataFrame, types: tuple[str, ...]) -> np.ndarray:
        incl = (parcels["role"] == "inclusionary").to_numpy()
        ok_type = np.array([not self.types or t in self.types for t in types])
        return ~incl[:, None] | ok_type[None, :]

    def _z(self, ctx: Context) -> np.ndarray:
        return np.nonzero((ctx.parcels["role"].to_numpy() == "inclusionary")[ctx.z_parcel])[0]

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        zs = self._z(ctx)
        if not len(zs):
            return
        row_of_z = np.full(ctx.n_z, -1)
        row_of_z[zs] = np.arange(len(zs))
        floor = (ctx.parcels["area_m2"] * ctx.parcels["far_max"]).to_numpy()[ctx.z_parcel[zs]]
        rows, cols, vals = group_rows(row_of_z[ctx.u_z], weights=ctx.unit_area[ctx.u_type])
        labels = pd.DataFrame({"parcel_id": ctx.parcels["parcel_id"].to_numpy()[ctx.z_parcel[zs]],
                               "year": np.asarray(ctx.years)[ctx.z_year[zs]]})
        allowed = [a for t, a in zip(ctx.types, ctx.unit_area) if not self.types or t in self.types]
        one_unit = max(allowed) if allowed else 0.0
        builder.add_rows(self.name, rows=rows, cols=cols, vals=vals, lb=self.ratio * floor, ub=self.upper * floor + one_unit, labels=labels)
        builder.add_rows(self.name, rows=np.arange(len(zs)), cols=ctx.z_col(zs), vals=np.ones(len(zs)), lb=1.0, ub=1.0,
                         labels=labels.assign(part="supplied"))

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        zs = self._z(ctx)
        parcels = ctx.z_parcel[zs]
        floor = (ctx.parcels["area_m2"] * ctx.parcels["far_max"]).to_numpy()[parcels]
        got = np.bincount(ctx.u_parcel, weights=u * ctx.unit_area[ctx.u_type], minlength=len(ctx.parcels))[parcels]
        share = got / np.maximum(floor, 1e-9)
        achieved = f"{share.min():.1%}-{share.max():.1%} in {len(zs)} projects" if len(zs) else "no commercial projects"
        return self.describe().split(" carry ")[1], achieved

    def check(self, ctx: Context) -> list[Finding]:
        """Forced inclusionary floor area per year against the targets of its types."""
        zs = self._z(ctx)
        ks = [k for k, t in enumerate(ctx.types) if not self.types or t in self.types]
        floor = (ctx.parcels["area_m2"] * ctx.parcels["far_max"]).to_numpy()[ctx.z_parcel[zs]] * self.ratio
        forced = np.bincount(ctx.z_year[zs], weights=floor, minlength=len(ctx.years))
        room = (ctx.targets[ks] * ctx.unit_area[ks, None]).sum(axis=0)
        return [
            Finding(self.name, "error", f"{y}: commercial projects must carry {_fmt(f)} m2 of affordable floor area, "
                    f"more than the {_fmt(r)} m2 of that year's {', '.join(ctx.types[k] for k in ks)} targets")
            for y, f, r in zip(ctx.years, forced, room) if f > r * (1 + 1e-9)
        ]


def _units_cap(ctx: Context) -> np.ndarray:
    """Most units of the smallest type each parcel can hold."""
    smallest = float(ctx.unit_area.min()) if len(ctx.unit_area) else 1.0
    return np.floor(ctx.parcels["area_m2"].to_numpy() * ctx.far.max(axis=1) / smallest + 1e-9)
