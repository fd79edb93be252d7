r"""Access rules: metro stations, daily services, industrial parks.

Each says that at least a share of units lies near something, and each is
elastic: a share that the land cannot give shows as a shortfall. The
common row, for a set of unit columns :math:`S` (a year, a type, or both)
and nearness :math:`\nu \in \{0, 1\}` of the unit's parcel, is

.. math::

    \sum_{(i,t,y) \in S} (\nu_{iy} - \rho)\, u_{ity} + s_S \ge 0

so the share is of the units actually placed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import SpecificationError
from .features import SERVICE_GROUPS
from .builder import Context, Finding, ModelBuilder, group_rows
from .builder import fmt_units as _fmt

__all__ = ["TransitAccess", "ServiceAccess", "ParkWorkers"]


def _check_share(name: str, share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise SpecificationError(f"{name}: share must lie in [0, 1], got {share}")


def _share_rows(ctx: Context, builder: ModelBuilder, name: str, *, near_u: np.ndarray, share: float, row_of_u: np.ndarray, labels: pd.DataFrame) -> None:
    rows, cols, vals = group_rows(row_of_u, weights=near_u.astype(float) - share)
    builder.add_rows(name, rows=rows, cols=cols, vals=vals, lb=0.0, ub=np.inf, labels=labels, elastic="lower")


def _shares(ctx: Context, u: np.ndarray, near_u: np.ndarray, row_of_u: np.ndarray, n_rows: int) -> np.ndarray:
    ok = row_of_u >= 0
    r = np.where(ok, row_of_u, 0)
    total = np.bincount(r, weights=u * ok, minlength=n_rows)
    near = np.bincount(r, weights=u * ok * near_u, minlength=n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, near / np.maximum(total, 1e-12), np.nan)


def _top_sum(values: np.ndarray, groups: np.ndarray, k: int) -> float:
    """The sum, over groups, of each group's ``k`` largest values."""
    if not len(values):
        return 0.0
    codes = pd.factorize(groups)[0]
    order = np.lexsort((-values, codes))
    g = codes[order]
    run_start = np.searchsorted(g, g)  # g is sorted: where each group's run starts
    rank = np.arange(len(g)) - run_start
    return float(values[order][rank < k].sum())


@dataclass(frozen=True)
class TransitAccess:
    r"""A share of each year's units lies near an open metro station (elastic).

    A parcel is *near* in year :math:`y` when its distance to a station open
    by :math:`y + \ell` (``lead_years``) is at most ``within_m``. One row per
    year for all units (share :math:`\rho`), and one per year and type for
    each type in ``share_by_type``:

    .. math::

        \sum_{i,t} (\nu_{iy} - \rho) u_{ity} + s_y \ge 0 \quad \forall y  \tag{5}

    Distances come from the parcel columns ``station_m_<year>``.
    """

    share: float = 0.5
    within_m: float = 800.0
    lead_years: int = 0
    share_by_type: Mapping[str, float] = field(default_factory=dict)
    name: str = "transit_access"

    def __post_init__(self) -> None:
        _check_share(self.name, self.share)
        for t, v in self.share_by_type.items():
            _check_share(f"{self.name} ({t})", v)

    def describe(self) -> str:
        lead = f" (+{self.lead_years} years)" if self.lead_years else ""
        extra = "".join(f"; {t} >= {v:.0%}" for t, v in self.share_by_type.items())
        return f">= {self.share:.0%} of units within {self.within_m:,.0f} m of a station open by the supply year{lead}{extra}"

    def near(self, ctx: Context) -> np.ndarray:
        """Boolean ``(n_parcels, n_years)``: parcel is near an open station."""
        cols = []
        for y in ctx.years:
            col = f"station_m_{y + self.lead_years}"
            if col not in ctx.parcels.columns:
                raise SpecificationError(f"parcels lack {col}; compute features with the transit rule's lead_years")
            cols.append(ctx.parcels[col].to_numpy(dtype=float) <= self.within_m)
        return np.stack(cols, axis=1) if cols else np.zeros((len(ctx.parcels), 0), dtype=bool)

    def _typed(self, ctx: Context) -> list[tuple[int, str, float]]:
        return [(ctx.types.index(t), t, v) for t, v in self.share_by_type.items() if t in ctx.types]

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        nu = self.near(ctx)[ctx.u_parcel, ctx.u_year]
        _share_rows(ctx, builder, self.name, near_u=nu, share=self.share, row_of_u=ctx.u_year,
                    labels=pd.DataFrame({"year": list(ctx.years)}))
        for k, t, v in self._typed(ctx):
            _share_rows(ctx, builder, self.name, near_u=nu, share=v, row_of_u=np.where(ctx.u_type == k, ctx.u_year, -1),
                        labels=pd.DataFrame({"type": t, "year": list(ctx.years)}))

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        nu = self.near(ctx)[ctx.u_parcel, ctx.u_year]
        share = _shares(ctx, u, nu, ctx.u_year, len(ctx.years))
        if not np.isfinite(share).any():
            return f">= {self.share:.0%} of each year's units within {self.within_m:,.0f} m", "-"
        worst = int(np.nanargmin(share))
        return (
            f">= {self.share:.0%} of each year's units within {self.within_m:,.0f} m",
            f"lowest {share[worst]:.1%} ({ctx.years[worst]})",
        )

    def check(self, ctx: Context) -> list[Finding]:
        out = []
        near = self.near(ctx)
        floor_cap = ctx.parcels["area_m2"].to_numpy() * ctx.far.max(axis=1)
        usable = np.zeros(len(ctx.parcels), dtype=bool)
        usable[ctx.z_parcel] = True
        avail = ctx.parcels["available_year"].to_numpy()
        rows = [(None, self.share, (ctx.targets * ctx.unit_area[:, None]).sum(axis=0))]
        rows += [(t, v, ctx.targets[k] * ctx.unit_area[k]) for k, t, v in self._typed(ctx)]
        for t, share, need_floor in rows:
            for b, y in enumerate(ctx.years):
                have = float(floor_cap[near[:, b] & usable & (avail <= y)].sum())
                need = share * float(need_floor[b])
                if need > have:
                    what = f"{y} {t}" if t else f"{y}"
                    if t:
                        k = ctx.types.index(t)
                        msg = (f"{what}: target {_fmt(ctx.targets[k, b])} units, {share:.0%} of them within {self.within_m:,.0f} m of an open "
                               f"station, but parcels available by {y} within {self.within_m:,.0f} m of an open station hold "
                               f"{_fmt(have / ctx.unit_area[k])}")
                    else:
                        msg = (f"{what}: {share:.0%} of the year's units need {_fmt(need)} m2 of floor area within {self.within_m:,.0f} m "
                               f"of an open station, but such parcels available by {y} hold {_fmt(have)} m2")
                    out.append(Finding(self.name, "error", msg))
        if not out:
            out += self._check_projects(ctx, near)
            out += self._check_inclusionary(ctx, near)
        return out

    def _check_inclusionary(self, ctx: Context, near: np.ndarray) -> list[Finding]:
        """Near-station units bounded by the commercial projects far from stations.

        With exact yearly targets a year's units are fixed, and each
        commercial project supplied that year (inclusionary rule) carries at
        least its ``ratio`` of floor area as affordable units: at least
        :math:`\\lceil r F_i / \\max_t a_t \\rceil` of them. Those on
        parcels away from an open station are far units the share cannot
        avoid.
        """
        incl = next((r for r in ctx.rules if r.name == "inclusionary"), None)
        targets = next((r for r in ctx.rules if r.name == "yearly_targets"), None)
        if incl is None or getattr(targets, "mode", None) != "exact":
            return []
        p = ctx.parcels
        commercial = p["role"].to_numpy() == "inclusionary"
        allowed = [a for t, a in zip(ctx.types, ctx.unit_area) if not incl.types or t in incl.types]
        if not commercial.any() or not allowed:
            return []
        in_year = np.zeros((len(p), len(ctx.years)), dtype=bool)
        in_year[ctx.z_parcel, ctx.z_year] = True
        forced = np.ceil(incl.ratio * (p["area_m2"] * p["far_max"]).to_numpy() / max(allowed) - 1e-9)
        out = []
        w = f"{self.within_m:,.0f} m"
        for b, y in enumerate(ctx.years):
            total = float(ctx.targets[:, b].sum())
            far = commercial & in_year[:, b] & ~near[:, b]
            left = total - float(forced[far].sum())
            if self.share * total > left + 1e-9:
                out.append(Finding(self.name, "error",
                    f"{y}: {self.share:.0%} of the year's {_fmt(total)} units ({_fmt(self.share * total)}) must lie within {w} of an open "
                    f"station, but the {int(far.sum()):,} commercial project{'s' if far.sum() != 1 else ''} supplied in {y} farther away must carry at least "
                    f"{_fmt(forced[far].sum())} affordable units ({incl.ratio:.0%} of their floor area), which leaves at most "
                    f"{_fmt(left)} ({left / total:.1%}) near"))
        return out

    def _check_projects(self, ctx: Context, near: np.ndarray) -> list[Finding]:
        """Near-station units bounded by project size and projects per district-year.

        A new project holds at most ``min(capacity, max_units)`` units
        (``project_size``); with ``max_projects`` on, a district supplies at
        most :math:`K` new projects a year, so a year's near units are at
        most the :math:`K` largest near parcels of each district. Commercial
        projects (inclusionary) carry at most their share. Each parcel is
        supplied once, so the near units needed up to a year are also
        bounded by the near parcels available by then.
        """
        size = next((r for r in ctx.rules if r.name == "project_size"), None)
        most = next((r for r in ctx.rules if r.name == "max_projects"), None)
        incl = next((r for r in ctx.rules if r.name == "inclusionary"), None)
        max_units = getattr(size, "max_units", None)
        per_dy = getattr(most, "per_district_year", None)
        if max_units is None and per_dy is None:
            return []
        p = ctx.parcels
        new = p["role"].to_numpy() == "new"
        district = p[getattr(most, "column", "district")].to_numpy() if per_dy is not None else np.zeros(len(p))
        n_years = len(ctx.years)
        in_year = np.zeros((len(p), n_years), dtype=bool)
        in_year[ctx.z_parcel, ctx.z_year] = True
        by_year = np.logical_or.accumulate(in_year, axis=1)
        floor = p["area_m2"].to_numpy()[:, None] * ctx.far
        commercial = (p["area_m2"] * p["far_max"]).to_numpy() * (incl.upper if incl is not None else 1.0)
        limits = []
        if max_units is not None:
            limits.append(f"{max_units:,} units per project")
        if per_dy is not None:
            limits.append(f"{per_dy} new projects per district and year")
        why = " and ".join(limits)
        rows = [(None, self.share, ctx.targets.sum(axis=0), float(ctx.unit_area.min()), floor.max(axis=1))]
        rows += [(t, v, ctx.targets[k], float(ctx.unit_area[k]), floor[:, k]) for k, t, v in self._typed(ctx)]
        out = []
        w = f"{self.within_m:,.0f} m"
        for t, share, target, unit, cap_floor in rows:
            cap = np.floor(np.where(new, cap_floor, np.minimum(cap_floor, commercial)) / unit + 1e-9)
            if max_units is not None:
                cap = np.where(new, np.minimum(cap, max_units), cap)
            what = f"{ctx.years[0]}-{{y}} {t}" if t else f"{ctx.years[0]}-{{y}}"
            for b, y in enumerate(ctx.years):
                need = share * float(target[b])
                ok = near[:, b] & in_year[:, b]
                have = float(cap[ok & ~new].sum())
                if per_dy is not None:
                    have += _top_sum(cap[ok & new], district[ok & new], per_dy)
                else:
                    have += float(cap[ok & new].sum())
                label = f"{y} {t}" if t else f"{y}"
                if need > have + 1e-9:
                    out.append(Finding(self.name, "error",
                        f"{label}: target {_fmt(target[b])} units, {share:.0%} of them ({_fmt(need)}) within {w} of an open station, "
                        f"but parcels available in {y} within {w} of an open station hold at most {_fmt(have)} at {why}"))
                    continue
                # Each parcel is supplied once: the years so far share the near parcels.
                need_so_far = share * float(target[: b + 1].sum())
                ok = near[:, b] & by_year[:, b]
                have_so_far = float(cap[ok].sum())
                if b and max_units is not None and need_so_far > have_so_far + 1e-9:
                    out.append(Finding(self.name, "error",
                        f"{what.format(y=y)}: targets {_fmt(target[: b + 1].sum())} units, {share:.0%} of them ({_fmt(need_so_far)}) within {w} "
                        f"of an open station, but the {int(ok.sum()):,} parcels available by {y} within {w} of an open station hold at most "
                        f"{_fmt(have_so_far)} at {max_units:,} units per project, each supplied once"))
        return out


@dataclass(frozen=True)
class ServiceAccess:
    r"""A share of units lies within walking distance of daily services (elastic).

    A parcel is *served* when, for every group in ``groups`` (default school
    and clinic: a 15-minute life circle), a service of that group lies
    within ``within_m`` (parcel columns ``svc_<group>_m``). One row over the
    plan, or one per year with ``per_year``.
    """

    share: float = 0.5
    within_m: float = 1000.0
    groups: tuple[str, ...] = ("school", "clinic")
    per_year: bool = False
    name: str = "service_access"

    def __post_init__(self) -> None:
        _check_share(self.name, self.share)
        unknown = set(self.groups) - set(SERVICE_GROUPS)
        if unknown:
            raise SpecificationError(f"{self.name}: unknown service groups {sorted(unknown)}; use {sorted(SERVICE_GROUPS)}")

    def describe(self) -> str:
        return f">= {self.share:.0%} of units within {self.within_m:,.0f} m of a {' and a '.join(self.groups)}"

    def near(self, ctx: Context) -> np.ndarray:
        ok = np.ones(len(ctx.parcels), dtype=bool)
        for g in self.groups:
            col = f"svc_{g}_m"
            if col not in ctx.parcels.columns:
                raise SpecificationError(f"parcels lack {col}; compute them with siteplan.model.features")
            ok &= ctx.parcels[col].to_numpy(dtype=float) <= self.within_m
        return ok

    def _rows(self, ctx: Context) -> tuple[np.ndarray, pd.DataFrame]:
        if self.per_year:
            return ctx.u_year, pd.DataFrame({"year": list(ctx.years)})
        return np.zeros(ctx.n_u, dtype=int), pd.DataFrame({"year": [pd.NA]})

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        r, labels = self._rows(ctx)
        _share_rows(ctx, builder, self.name, near_u=self.near(ctx)[ctx.u_parcel], share=self.share, row_of_u=r, labels=labels)

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        r, labels = self._rows(ctx)
        share = _shares(ctx, u, self.near(ctx)[ctx.u_parcel], r, len(labels))
        return f">= {self.share:.0%}", f"lowest {np.nanmin(share):.1%}" if np.isfinite(share).any() else "-"

    def check(self, ctx: Context) -> list[Finding]:
        usable = np.zeros(len(ctx.parcels), dtype=bool)
        usable[ctx.z_parcel] = True
        floor_cap = ctx.parcels["area_m2"].to_numpy() * ctx.far.max(axis=1)
        have = float(floor_cap[usable & self.near(ctx)].sum())
        need = self.share * float((ctx.targets * ctx.unit_area[:, None]).sum())
        if need > have:
            return [Finding(self.name, "error", f"{self.share:.0%} of units need {_fmt(need)} m2 of floor area within {self.within_m:,.0f} m of a {' and a '.join(self.groups)}, but such parcels hold {_fmt(have)} m2")]
        return []


@dataclass(frozen=True)
class ParkWorkers:
    r"""Worker housing near industrial parks (园区集中配建) (elastic).

    For the housing ``types`` that serve park workers, at least ``share`` of
    their units lie within ``within_m`` of an industrial park (parcel column
    ``park_m``). With ``proportional``, each park :math:`p` also gets units
    near it in proportion to its workers :math:`w_p`:

    .. math::

        \sum_{i \in N(p),\, t \in T_w,\, y} u_{ity} + s_p \ge \rho \frac{w_p}{\sum_q w_q} \sum_{t \in T_w, y} T_{ty}  \tag{12}

    where :math:`N(p)` are the parcels whose nearest park is :math:`p`, within
    ``within_m`` (parcel column ``park_index``).
    """

    types: tuple[str, ...] = ("public_rental", "talent_apartment")
    share: float = 0.3
    within_m: float = 3000.0
    proportional: bool = False
    workers: Sequence[float] = ()
    park_names: Sequence[str] = ()
    name: str = "park_workers"

    def __post_init__(self) -> None:
        _check_share(self.name, self.share)

    def describe(self) -> str:
        prop = ", each park in proportion to its workers" if self.proportional else ""
        return f">= {self.share:.0%} of {', '.join(self.types)} units within {self.within_m:,.0f} m of an industrial park{prop}"

    def _mask(self, ctx: Context) -> np.ndarray:
        ks = [ctx.types.index(t) for t in self.types if t in ctx.types]
        return np.isin(ctx.u_type, ks)

    def near(self, ctx: Context) -> np.ndarray:
        if "park_m" not in ctx.parcels.columns:
            raise SpecificationError("parcels lack park_m; compute it with siteplan.model.features")
        return ctx.parcels["park_m"].to_numpy(dtype=float) <= self.within_m

    def _worker_targets(self, ctx: Context) -> np.ndarray:
        ks = [ctx.types.index(t) for t in self.types if t in ctx.types]
        w = np.asarray(self.workers, dtype=float)
        return self.share * w / max(w.sum(), 1e-9) * float(ctx.targets[ks].sum())

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        mask = self._mask(ctx)
        _share_rows(ctx, builder, self.name, near_u=self.near(ctx)[ctx.u_parcel], share=self.share,
                    row_of_u=np.where(mask, 0, -1), labels=pd.DataFrame({"type": [",".join(self.types)]}))
        if self.proportional and len(self.workers):
            park = ctx.parcels["park_index"].to_numpy()[ctx.u_parcel]
            r = np.where(mask & self.near(ctx)[ctx.u_parcel], park, -1).astype(int)
            rows, cols, vals = group_rows(r)
            names = list(self.park_names) or [str(k) for k in range(len(self.workers))]
            builder.add_rows(self.name, rows=rows, cols=cols, vals=vals, lb=self._worker_targets(ctx), ub=np.inf,
                             labels=pd.DataFrame({"park": names}), elastic="lower")

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        mask = self._mask(ctx)
        share = _shares(ctx, u, self.near(ctx)[ctx.u_parcel], np.where(mask, 0, -1), 1)[0]
        return f">= {self.share:.0%}", f"{share:.1%}" if np.isfinite(share) else "-"

    def check(self, ctx: Context) -> list[Finding]:
        usable = np.zeros(len(ctx.parcels), dtype=bool)
        usable[ctx.z_parcel] = True
        ks = [ctx.types.index(t) for t in self.types if t in ctx.types]
        floor_cap = ctx.parcels["area_m2"].to_numpy() * ctx.far.max(axis=1)
        have = float(floor_cap[usable & self.near(ctx)].sum())
        need = self.share * float((ctx.targets[ks] * ctx.unit_area[ks, None]).sum())
        if need > have:
            return [Finding(self.name, "error", f"{self.share:.0%} of {', '.join(self.types)} units need {_fmt(need)} m2 within {self.within_m:,.0f} m of an industrial park, but such parcels hold {_fmt(have)} m2")]
        return []
