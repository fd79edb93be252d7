r"""大分散、小集中 (large dispersion, small concentration) as rules.

Spread units across the whole city and every district, but in moderately
sized clusters: never one mega-estate and never scattered single
buildings. Four parts, each a rule of its own:

- :class:`DistrictShare`: every district receives between a minimum and a
  maximum share of the plan's units (or of each type's);
- :class:`ProjectSize`: each project (a used parcel) has between a minimum
  and a maximum number of units;
- :class:`RadiusCap`: no circle of a given radius around a used parcel holds
  more than a given number of units;
- :class:`MaxProjects`: at most so many new projects per district and year.

Projects are parcels with ``role == "new"``; the affordable share inside a
commercial project (``role == "inclusionary"``) is not a project of its
own, though its units count toward shares and the radius cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SpecificationError
from .builder import Context, Finding, ModelBuilder, group_rows
from .builder import fmt_units as _fmt

__all__ = ["DistrictShare", "ProjectSize", "RadiusCap", "MaxProjects"]


def _is_new(ctx: Context) -> np.ndarray:
    return ctx.parcels["role"].to_numpy() == "new"


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

    def domain(self, parcels: pd.DataFrame, problem) -> np.ndarray:
        smallest = min(problem.unit_area.values())
        far = parcels["far_max"].to_numpy(dtype=float)
        if "far_upper" in parcels:
            up = parcels["far_upper"].to_numpy(dtype=float)
            far = np.where(np.isfinite(up) & (up > far), up, far)
        big_enough = np.floor(parcels["area_m2"].to_numpy() * far / smallest + 1e-9) >= self.min_units
        return (big_enough | (parcels["role"].to_numpy() != "new"))[:, None]

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        zs = np.nonzero(_is_new(ctx)[ctx.z_parcel])[0]
        row_of_z = np.full(ctx.n_z, -1)
        row_of_z[zs] = np.arange(len(zs))
        rows, cols, vals = group_rows(row_of_z[ctx.u_z])
        labels = pd.DataFrame({
            "parcel_id": ctx.parcels["parcel_id"].to_numpy()[ctx.z_parcel[zs]],
            "year": np.asarray(ctx.years)[ctx.z_year[zs]],
        })
        for part, bound in (("min", self.min_units), ("max", self.max_units)):
            if bound is None or (part == "min" and bound == 0):
                continue
            builder.add_rows(
                self.name,
                rows=np.concatenate([rows, np.arange(len(zs))]),
                cols=np.concatenate([cols, ctx.z_col(zs)]),
                vals=np.concatenate([vals, np.full(len(zs), -float(bound))]),
                lb=0.0 if part == "min" else -np.inf,
                ub=np.inf if part == "min" else 0.0,
                labels=labels.assign(part=part),
            )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        size = np.bincount(ctx.u_z, weights=u * _is_new(ctx)[ctx.u_parcel], minlength=ctx.n_z)
        size = size[size > 0.5]
        hi = f"{self.max_units:,}" if self.max_units is not None else "any"
        if not len(size):
            return f"{self.min_units:,}-{hi} units per project", "no projects"
        return f"{self.min_units:,}-{hi} units per project", f"{_fmt(size.min())}-{_fmt(size.max())} units in {len(size):,} projects"

    def check(self, ctx: Context) -> list[Finding]:
        if self.max_units is None:
            return []
        n_parcels = len(np.unique(ctx.z_parcel[_is_new(ctx)[ctx.z_parcel]]))
        total = float(ctx.targets.sum())
        if total > n_parcels * self.max_units:
            return [Finding(self.name, "error", f"targets of {_fmt(total)} units need more than the {n_parcels:,} usable parcels x {self.max_units:,} units each")]
        return []


@dataclass(frozen=True)
class DistrictShare:
    r"""Every district receives between a minimum and a maximum share (elastic).

    Shares are of the plan's target units :math:`T` (or of each type's,
    :math:`T_t`, with ``per_type``):

    .. math::

        \underline{\rho}\, T \le \sum_{i \in d} \sum_{t,y} u_{ity} \le \bar\rho\, T \quad \forall d  \tag{9}

    Both sides carry shortfall columns, so a district without enough land
    shows as a shortfall rather than infeasibility.
    """

    min_share: float = 0.0
    max_share: float = 1.0
    per_type: bool = False
    column: str = "district"
    districts: tuple[str, ...] = ()
    name: str = "district_share"

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_share <= self.max_share <= 1.0:
            raise SpecificationError(f"district shares need 0 <= min_share <= max_share <= 1, got {self.min_share}, {self.max_share}")

    def describe(self) -> str:
        of = "each type's units" if self.per_type else "the plan's units"
        return f"every {self.column} gets {self.min_share:.0%}-{self.max_share:.0%} of {of}"

    def _groups(self, ctx: Context) -> list[str]:
        return list(self.districts) or sorted(ctx.parcels[self.column].unique())

    def _row_of_u(self, ctx: Context, names: list[str]) -> np.ndarray:
        d = pd.Index(names).get_indexer(ctx.parcels[self.column].to_numpy()[ctx.u_parcel])
        if self.per_type:
            return np.where(d >= 0, d * len(ctx.types) + ctx.u_type, -1)
        return d

    def _base(self, ctx: Context, names: list[str]) -> np.ndarray:
        per_type = ctx.targets.sum(axis=1)
        return np.tile(per_type, len(names)) if self.per_type else np.full(len(names), per_type.sum())

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        names = self._groups(ctx)
        rows, cols, vals = group_rows(self._row_of_u(ctx, names))
        base = self._base(ctx, names)
        labels = pd.DataFrame({self.column: np.repeat(names, len(ctx.types)), "type": np.tile(ctx.types, len(names))}) if self.per_type \
            else pd.DataFrame({self.column: names})
        if self.min_share > 0:
            builder.add_rows(self.name, rows=rows, cols=cols, vals=vals, lb=self.min_share * base, ub=np.inf,
                             labels=labels.assign(part="min"), elastic="lower")
        if self.max_share < 1:
            builder.add_rows(self.name, rows=rows, cols=cols, vals=vals, lb=-np.inf, ub=self.max_share * base,
                             labels=labels.assign(part="max"), elastic="upper")

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        names = self._groups(ctx)
        r = self._row_of_u(ctx, names)
        got = np.bincount(np.maximum(r, 0), weights=u * (r >= 0), minlength=len(self._base(ctx, names)))
        share = got / np.maximum(self._base(ctx, names), 1e-9)
        return f"{self.min_share:.0%}-{self.max_share:.0%}", f"{share.min():.1%}-{share.max():.1%}"

    def check(self, ctx: Context) -> list[Finding]:
        out = []
        names = self._groups(ctx)
        if self.min_share * len(names) > 1 + 1e-9:
            out.append(Finding(self.name, "error", f"{len(names)} districts x min_share {self.min_share:.0%} is more than the whole plan"))
        cap = pd.Series(_cap_units(ctx)).groupby(ctx.parcels[self.column].to_numpy()).sum()
        need = self.min_share * float(ctx.targets.sum())
        for d in names:
            if not self.per_type and cap.get(d, 0.0) < need:
                out.append(Finding(self.name, "error", f"{self.column} {d}: min share needs {_fmt(need)} units, but its usable parcels hold {_fmt(cap.get(d, 0.0))}"))
        return out


def _cap_units(ctx: Context) -> np.ndarray:
    """Most units (of the smallest type) each usable parcel can hold; 0 if unusable."""
    smallest = float(ctx.unit_area.min()) if len(ctx.unit_area) else 1.0
    cap = np.floor(ctx.parcels["area_m2"].to_numpy() * ctx.far.max(axis=1) / smallest + 1e-9)
    usable = np.zeros(len(cap), dtype=bool)
    usable[ctx.z_parcel] = True
    return np.where(usable, cap, 0.0)


@dataclass(frozen=True)
class RadiusCap:
    r"""No circle of radius :math:`R` around a used parcel holds more than :math:`N` units.

    With :math:`U_j = \sum_{t,y} u_{jty}` (an auxiliary column per parcel
    that can be used), :math:`\mathcal N_i` the parcels whose centroids lie
    within :math:`R` of parcel :math:`i`'s centroid (including :math:`i`),
    and :math:`M_i` their capacity above :math:`N`:

    .. math::

        \sum_{j \in \mathcal N_i} U_j \le N + M_i \Big(1 - \sum_y z_{iy}\Big) \quad \forall i  \tag{10}

    Rows are only written where :math:`M_i > 0`: elsewhere the circle cannot
    exceed the cap anyway.
    """

    radius_m: float = 1000.0
    max_units: int = 4000
    name: str = "radius_cap"

    def describe(self) -> str:
        return f"at most {self.max_units:,} units within {self.radius_m:,.0f} m of any used parcel"

    def _neighbours(self, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        import geopandas as gpd

        p = ctx.parcels
        if "geometry" not in p.columns:
            raise SpecificationError("the radius cap needs parcel geometry")
        c = gpd.GeoSeries(p.geometry.values, crs=getattr(p, "crs", None)).centroid
        src, dst = c.sindex.query(c.values, predicate="dwithin", distance=self.radius_m)
        return src, dst

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        cap = _cap_units(ctx)
        src, dst = self._neighbours(ctx)
        keep = cap[dst] > 0
        src, dst = src[keep], dst[keep]
        m = np.bincount(src, weights=cap[dst], minlength=len(cap)) - self.max_units
        centre = np.nonzero((m > 0) & (cap > 0))[0]
        if not len(centre):
            return
        # U_j for every parcel that appears in a binding neighbourhood.
        members = np.unique(dst[np.isin(src, centre)])
        u_col_of = np.full(len(cap), -1)
        u_col_of[members] = builder.add_columns("parcel_units", len(members), upper=cap[members])
        # U_j - sum u_j = 0
        pos = np.full(len(cap), -1)
        pos[members] = np.arange(len(members))
        rows, cols, vals = group_rows(pos[ctx.u_parcel], weights=-np.ones(ctx.n_u))
        builder.add_rows(
            f"{self.name}",
            rows=np.concatenate([rows, np.arange(len(members))]),
            cols=np.concatenate([cols, u_col_of[members]]),
            vals=np.concatenate([vals, np.ones(len(members))]),
            lb=0.0, ub=0.0,
            labels=pd.DataFrame({"parcel_id": ctx.parcels["parcel_id"].to_numpy()[members], "part": "parcel_total"}),
        )
        row_of = np.full(len(cap), -1)
        row_of[centre] = np.arange(len(centre))
        sel = row_of[src] >= 0
        r_u, c_u = row_of[src[sel]], u_col_of[dst[sel]]
        z_sel = row_of[ctx.z_parcel] >= 0
        r_z = row_of[ctx.z_parcel[z_sel]]
        builder.add_rows(
            self.name,
            rows=np.concatenate([r_u, r_z]),
            cols=np.concatenate([c_u, ctx.z_col(np.nonzero(z_sel)[0])]),
            vals=np.concatenate([np.ones(len(r_u)), m[centre][r_z]]),
            lb=-np.inf,
            ub=self.max_units + m[centre],
            labels=pd.DataFrame({"parcel_id": ctx.parcels["parcel_id"].to_numpy()[centre], "part": "circle"}),
        )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        tot = np.bincount(ctx.u_parcel, weights=u, minlength=len(ctx.parcels))
        src, dst = self._neighbours(ctx)
        circle = np.bincount(src, weights=tot[dst], minlength=len(tot))
        used = tot > 0.5
        worst = float(circle[used].max()) if used.any() else 0.0
        return f"<= {self.max_units:,} units within {self.radius_m:,.0f} m", f"densest circle {_fmt(worst)} units"

    def check(self, ctx: Context) -> list[Finding]:
        return []


@dataclass(frozen=True)
class MaxProjects:
    r"""At most :math:`K` new projects per district and year (hard).

    .. math::

        \sum_{i \in d,\ role_i = new} z_{iy} \le K \quad \forall d, y  \tag{11}
    """

    per_district_year: int = 3
    column: str = "district"
    name: str = "max_projects"

    def describe(self) -> str:
        return f"at most {self.per_district_year} new projects per {self.column} and year"

    def _row_of_z(self, ctx: Context) -> tuple[np.ndarray, list[str]]:
        names = sorted(ctx.parcels[self.column].unique())
        d = pd.Index(names).get_indexer(ctx.parcels[self.column].to_numpy()[ctx.z_parcel])
        r = np.where(_is_new(ctx)[ctx.z_parcel], d * len(ctx.years) + ctx.z_year, -1)
        return r, names

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        r, names = self._row_of_z(ctx)
        keep = r >= 0
        builder.add_rows(
            self.name, rows=r[keep], cols=ctx.z_col(np.nonzero(keep)[0]), vals=np.ones(int(keep.sum())),
            lb=-np.inf, ub=float(self.per_district_year),
            labels=pd.DataFrame({self.column: np.repeat(names, len(ctx.years)), "year": np.tile(ctx.years, len(names))}),
        )

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        r, names = self._row_of_z(ctx)
        used = np.bincount(ctx.u_z, weights=u, minlength=ctx.n_z) > 0.5
        counts = np.bincount(r[used & (r >= 0)], minlength=len(names) * len(ctx.years))
        return f"<= {self.per_district_year} per {self.column} and year", f"most {int(counts.max()) if len(counts) else 0}"

    def check(self, ctx: Context) -> list[Finding]:
        return []
