r"""大分散、小集中 (large dispersion, small concentration) as rules.

Spread units across the whole city and every district, but in moderately
sized clusters: never one mega-estate and never scattered single
buildings. Four parts, each a rule of its own:

- :class:`DistrictShare`: every district receives between a minimum and a
  maximum share of the plan's units (or of each type's);
- :class:`ProjectSize`: each project (a used parcel) has between a minimum
  and a maximum number of units;
- :class:`RadiusCap`: no disc of a given radius, anywhere (or, the weaker
  option, around a used parcel), holds more than a given number of units;
- :class:`MaxProjects`: at most so many new projects per district and year.

Projects are parcels with ``role == "new"``; the affordable share inside a
commercial project (``role == "inclusionary"``) is not a project of its
own, though its units count toward shares and the radius cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ..errors import SpecificationError
from .builder import Context, Finding, ModelBuilder, group_rows
from .builder import fmt_units as _fmt
from .focal import TOL_M, Disc, centroids_xy, densest_disc, disc_sums, overfull_discs
from .sparse import major_slices

__all__ = ["DistrictShare", "ProjectSize", "RadiusCap", "MaxProjects"]

#: Usable parcels from which the exact radius cap gets a warning before solving: at 10,000
#: and 20,000 parcels it did not reliably finish within a 120 s limit (docs/performance.md).
LARGE_CITY_PARCELS = 5000


def new_projects(ctx: Context) -> np.ndarray:
    """Which parcels are new projects (``role == "new"``): the ones the project rules bind, not 配建 hosts."""
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
        zs = np.nonzero(new_projects(ctx)[ctx.z_parcel])[0]
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
        size = np.bincount(ctx.u_z, weights=u * new_projects(ctx)[ctx.u_parcel], minlength=ctx.n_z)
        size = size[size > 0.5]
        hi = f"{self.max_units:,}" if self.max_units is not None else "any"
        if not len(size):
            return f"{self.min_units:,}-{hi} units per project", "no projects"
        return f"{self.min_units:,}-{hi} units per project", f"{_fmt(size.min())}-{_fmt(size.max())} units in {len(size):,} projects"

    def check(self, ctx: Context) -> list[Finding]:
        if self.max_units is None:
            return []
        n_parcels = len(np.unique(ctx.z_parcel[new_projects(ctx)[ctx.z_parcel]]))
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


#: Discs written in one lazy pass lie at least this share of the radius apart (see :meth:`RadiusCap.lazy_rows`).
LAZY_SPACING = 0.5


def _kept(owner, key: str, make):
    """``make()``, computed once per ``owner`` and kept in its ``__dict__``.

    For what a context or a compiled model gives that does not change once
    they are built (centroids, the :math:`U_j` columns); a model with rows
    added is a new object (``dataclasses.replace``) and computes its own.
    """
    kept = owner.__dict__
    if key not in kept:
        kept[key] = make()
    return kept[key]


def _disc_members(rule: "RadiusCap", model, pos: np.ndarray) -> cKDTree:
    """A tree of the centroids of the parcels with a :math:`U_j` column (``pos``), kept with the model."""
    return _kept(model, f"_{rule.name}_tree", lambda: cKDTree(rule.centroids(model.ctx)[pos]))


def _incidence(tree: cKDTree, centres: np.ndarray, radius: float, n: int) -> sp.csr_matrix:
    """Discs x points: 1 where point ``j`` of ``tree`` lies within ``radius`` of centre ``i`` (indices sorted)."""
    pairs = cKDTree(centres).sparse_distance_matrix(tree, radius, output_type="ndarray")
    inc = sp.csr_matrix((np.ones(len(pairs)), (pairs["i"], pairs["j"])), shape=(len(centres), n))
    inc.sort_indices()
    return inc


def _shared(inc: sp.csr_matrix, rows: np.ndarray, members: np.ndarray) -> np.ndarray:
    """How many of the sorted points ``members`` each of the (non-empty) rows ``rows`` of ``inc`` holds."""
    at, lens = major_slices(inc, rows)
    points = inc.indices[at]
    hit = members[np.minimum(np.searchsorted(members, points), len(members) - 1)] == points
    return np.add.reduceat(hit, np.cumsum(lens) - lens)


def _distinct_spread(inc: sp.csr_matrix, centres: np.ndarray, reach: float, spacing: float, most: int) -> np.ndarray:
    """Of the discs ``inc`` (rows, most overfilled first), up to ``most``: each the first with its points, no
    strict subset of another's points (that row would imply it), and none closer than ``spacing`` to one taken
    before it. ``reach``: how far apart two discs sharing a point can lie (2R).

    Spreading goes to every cluster rather than to a hundred near-copies of one disc; a repeat or a subset is
    passed over before it can keep a neighbour out.
    """
    size = np.diff(inc.indptr)
    seen: set[bytes] = set()
    near_tree = cKDTree(centres)
    cells: dict[tuple[int, int], list[int]] = {}
    taken: list[int] = []
    for k in range(inc.shape[0]):
        members = inc.indices[inc.indptr[k] : inc.indptr[k + 1]]
        key = members.tobytes()
        if key in seen:
            continue
        seen.add(key)
        x, y = centres[k]
        cx, cy = int(np.floor(x / spacing)), int(np.floor(y / spacing))
        if any((centres[j, 0] - x) ** 2 + (centres[j, 1] - y) ** 2 < spacing * spacing
               for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in cells.get((cx + dx, cy + dy), ())):
            continue
        others = np.asarray(near_tree.query_ball_point(centres[k], reach), dtype=int)
        others = others[size[others] > size[k]]
        if len(others) and len(members) and (_shared(inc, others, members) >= size[k]).any():
            continue  # a strict subset of another disc's points
        cells.setdefault((cx, cy), []).append(k)
        taken.append(k)
        if len(taken) >= most:
            break
    return np.asarray(taken, dtype=int)


@dataclass(frozen=True)
class RadiusCap:
    r"""No disc of radius :math:`R` holds more than :math:`N` units (大分散、小集中; units counted at parcel centroids).

    With :math:`U_j = \sum_{t,y} u_{jty}` (an auxiliary column per parcel
    that can be used) and :math:`c_j` parcel :math:`j`'s centroid, two
    guarantees, chosen by ``centres``:

    ``"anywhere"`` (the default): no disc anywhere holds more than :math:`N`,
    the focal sum a planner runs in desktop GIS:

    .. math::

        \sum_{j :\, \lVert c_j - p \rVert \le R} U_j \le N \quad \forall p \in \mathbb{R}^2  \tag{10}

    Only finitely many of these rows differ, and a finite set of them holds
    a densest disc for any units: the discs centred at each centroid and at
    the two centres through each pair of centroids closer than :math:`2R`
    (:mod:`siteplan.model.focal`). Those are too many to write (every pair
    within 2 km of a city), and few bind, so the rows are added lazily:
    the model starts with none; the solve finds the discs a solution
    overfills, adds their rows (:meth:`lazy_rows`) and solves again, until
    the delivered plan's own focal check finds no disc over :math:`N`
    (:mod:`siteplan.solve.lazy`). Only parcels with more than :math:`N`
    units of capacity within :math:`2R` can be in an overfull disc; the
    others get no column.

    ``"projects"`` (the weaker rule, kept as an option): the circles around
    used parcels, with :math:`\mathcal N_i` the parcels whose centroids lie
    within :math:`R` of :math:`c_i` (including :math:`i`) and :math:`M_i`
    their capacity above :math:`N`:

    .. math::

        \sum_{j \in \mathcal N_i} U_j \le N + M_i \Big(1 - \sum_y z_{iy}\Big) \quad \forall i  \tag{10'}

    A disc of radius :math:`R/2` that holds a used parcel :math:`i` lies
    inside :math:`i`'s circle, so this implies the cap only for discs of
    radius :math:`R/2`:
    :math:`\sum_{j :\, \lVert c_j - p \rVert \le R/2} U_j \le N \;\forall p`.
    Two full projects just over :math:`R` apart put :math:`2N` in one disc
    of radius :math:`R` between them. Rows are only written where
    :math:`M_i > 0`: elsewhere the circle cannot exceed the cap anyway.

    Either way the compliance report gives the densest disc of radius
    :math:`R` anywhere in the delivered plan, computed from its units apart
    from the model's rows.
    """

    radius_m: float = 1000.0
    max_units: int = 4000
    centres: Literal["anywhere", "projects"] = "anywhere"
    name: str = "radius_cap"

    def __post_init__(self) -> None:
        if self.centres not in ("anywhere", "projects"):
            raise SpecificationError(f'radius cap: centres must be "anywhere" or "projects", not {self.centres!r}')
        if self.radius_m <= 0 or self.max_units <= 0:
            raise SpecificationError(f"radius cap needs radius_m > 0 and max_units > 0, got {self.radius_m}, {self.max_units}")

    @property
    def lazy(self) -> bool:
        """Whether the solve adds this rule's rows lazily (:meth:`lazy_rows`)."""
        return self.centres == "anywhere"

    def describe(self) -> str:
        if self.centres == "anywhere":
            return f"at most {self.max_units:,} units in any disc of radius {self.radius_m:,.0f} m"
        return f"at most {self.max_units:,} units within {self.radius_m:,.0f} m of any used parcel"

    def _neighbours(self, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        import geopandas as gpd

        p = ctx.parcels
        if "geometry" not in p.columns:
            raise SpecificationError("the radius cap needs parcel geometry")
        c = gpd.GeoSeries(p.geometry.values, crs=getattr(p, "crs", None)).centroid
        src, dst = c.sindex.query(c.values, predicate="dwithin", distance=self.radius_m)
        return src, dst

    def centroids(self, ctx: Context) -> np.ndarray:
        """The parcels' centroids (projected, m) as ``(n, 2)``, computed once per context."""
        if "geometry" not in ctx.parcels.columns:
            raise SpecificationError("the radius cap needs parcel geometry")
        return _kept(ctx, "_radius_cap_xy", lambda: centroids_xy(ctx.parcels))

    def _add_totals(self, ctx: Context, builder: ModelBuilder, members: np.ndarray, cap: np.ndarray) -> np.ndarray:
        """The columns :math:`U_j = \\sum u_j` of ``members`` (their rows added); -1 for other parcels."""
        u_col_of = np.full(len(cap), -1)
        u_col_of[members] = builder.add_columns("parcel_units", len(members), upper=cap[members])
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
        return u_col_of

    def apply(self, ctx: Context, builder: ModelBuilder) -> None:
        cap = _cap_units(ctx)
        if self.centres == "anywhere":
            usable = np.nonzero(cap > 0)[0]
            xy = self.centroids(ctx)[usable]
            near = disc_sums(xy, cap[usable], xy, 2 * self.radius_m)
            members = usable[near > self.max_units]
            if len(members):
                self._add_totals(ctx, builder, members, cap)
            return
        src, dst = self._neighbours(ctx)
        keep = cap[dst] > 0
        src, dst = src[keep], dst[keep]
        m = np.bincount(src, weights=cap[dst], minlength=len(cap)) - self.max_units
        centre = np.nonzero((m > 0) & (cap > 0))[0]
        if not len(centre):
            return
        # U_j for every parcel that appears in a binding neighbourhood.
        u_col_of = self._add_totals(ctx, builder, np.unique(dst[np.isin(src, centre)]), cap)
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

    def _total_cols(self, model) -> tuple[np.ndarray, np.ndarray]:
        """Parcel positions and their :math:`U_j` columns, read from this rule's ``parcel_total`` rows."""
        return _kept(model, f"_{self.name}_total_cols", lambda: self._read_total_cols(model))

    def _read_total_cols(self, model) -> tuple[np.ndarray, np.ndarray]:
        ctx = model.ctx
        part = model.rows["part"] if "part" in model.rows else pd.Series("", index=model.rows.index)
        mask = ((model.rows["rule"] == self.name) & (part == "parcel_total")).to_numpy()
        if not mask.any():
            return np.zeros(0, int), np.zeros(0, int)
        lo = ctx.n_u + ctx.n_z
        sub = model.A[np.nonzero(mask)[0]][:, lo: model.n_core].tocsr()
        cols = lo + sub.indices[sub.indptr[:-1]]
        pos = pd.Index(ctx.parcels["parcel_id"]).get_indexer(model.rows.loc[mask, "parcel_id"].to_numpy())
        return pos, cols

    def lazy_rows(self, model, x: np.ndarray, *, most: int = 1500, eps: float | None = None, near: float = 0.0):
        """Rows (10) for the discs the solution ``x`` overfills, or None when it overfills none.

        With ``near`` > 0, discs that hold more than :math:`(1 - near) N`
        get their rows too (valid rows all the same: the search that follows
        then needs fewer rounds), but only when some disc is overfilled.

        Returns ``(block, ub, labels)``: a sparse block of one row per disc
        over the model's columns (the :math:`U_j` of every parcel within
        :math:`R` of the disc's centre, whatever its units now), the row
        bounds (:math:`N`) and labels (``part = "disc"``, the centre's
        ``x`` and ``y``). Discs with the same parcels are written once, a
        disc whose parcels are a subset of another's is left out (the other
        row implies it), and at most ``most`` rows are returned, the
        most overfilled first, their centres at least
        :data:`LAZY_SPACING` x R apart (the rows of one pass go to every
        cluster, not to a hundred near-copies of one disc).
        """
        ctx = model.ctx
        eps = max(1e-6 * self.max_units, 1e-4) if eps is None else eps
        pos, cols = self._total_cols(model)
        if not len(pos):
            return None
        xy_all = self.centroids(ctx)
        units = np.bincount(ctx.u_parcel, weights=np.maximum(x[: ctx.n_u], 0.0), minlength=len(ctx.parcels))
        centres, sums = overfull_discs(xy_all, units, self.radius_m, (1 - near) * self.max_units, eps=eps)
        if not len(sums) or sums[0] <= self.max_units + eps:
            return None
        centres = centres[: 20 * most]
        inc = _incidence(_disc_members(self, model, pos), centres, self.radius_m + TOL_M, len(pos))
        first = _distinct_spread(inc, centres, 2 * (self.radius_m + TOL_M), LAZY_SPACING * self.radius_m, most)
        inc = inc[first].tocoo()
        block = sp.csr_matrix((np.ones(inc.nnz), (inc.row, cols[inc.col])), shape=(len(first), model.n_cols))
        labels = pd.DataFrame({"part": "disc", "x": np.round(centres[first, 0], 1), "y": np.round(centres[first, 1], 1)})
        return block, np.full(len(first), float(self.max_units)), labels

    def densest(self, parcels: pd.DataFrame, units: np.ndarray) -> Disc:
        """The densest disc of radius :math:`R` anywhere, ``units`` per parcel of ``parcels`` (exact focal sum)."""
        return densest_disc(centroids_xy(parcels), np.asarray(units, dtype=float), self.radius_m)

    def around_projects(self, parcels: pd.DataFrame, units: np.ndarray) -> float:
        """Most units within :math:`R` of a used parcel (what ``centres = "projects"`` caps)."""
        xy, units = centroids_xy(parcels), np.asarray(units, dtype=float)
        used = units > 0.5
        if not used.any():
            return 0.0
        return float(disc_sums(xy, units, xy[used], self.radius_m).max())

    def required(self) -> str:
        if self.centres == "anywhere":
            return f"<= {self.max_units:,} units in any {self.radius_m:,.0f} m disc"
        return f"<= {self.max_units:,} units within {self.radius_m:,.0f} m"

    def focal_check(self, parcels: pd.DataFrame, units: np.ndarray) -> tuple[str, int]:
        """What the plan achieves, and the units by which it breaks the rule's guarantee (0 when kept).

        Always states the densest disc anywhere (the focal sum a planner
        runs); with ``centres = "projects"`` also the densest circle around
        a used parcel, which is what that rule caps.
        """
        d = self.densest(parcels, units)
        r = f"{self.radius_m / 1000:g} km" if self.radius_m >= 1000 else f"{self.radius_m:,.0f} m"
        text = f"densest {r} disc anywhere: {d.text()}" if np.isfinite(d.x) else f"densest {r} disc anywhere: 0 units"
        worst = d.units
        if self.centres == "projects":
            worst = self.around_projects(parcels, units)
            text += f"; around a used parcel: {_fmt(worst)} units"
        return text, int(np.ceil(max(worst - self.max_units, 0.0) - 1e-6))

    def report(self, ctx: Context, u: np.ndarray) -> tuple[str, str]:
        tot = np.bincount(ctx.u_parcel, weights=u, minlength=len(ctx.parcels))
        return self.required(), self.focal_check(ctx.parcels, tot)[0]

    def check(self, ctx: Context) -> list[Finding]:
        usable = int((_cap_units(ctx) > 0).sum())
        if self.centres != "anywhere" or usable < LARGE_CITY_PARCELS:
            return []
        return [Finding(self.name, "warning",
                        f"the exact radius cap (centres = \"anywhere\") on {usable:,} usable parcels may not meet every "
                        "target within the time limit: on the benchmark cities a 10,000-parcel run took 15-22 s, but a 20,000-parcel "
                        "run ended after 102-117 s of its 120 s limit with 315-1,089 of its 380,000 units missing "
                        "(the status says so when that happens); raise "
                        "[solver] time_limit_s, or set [rules.radius_cap] centres = \"projects\" (faster, but it caps only "
                        "the discs around used parcels)")]


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
        r = np.where(new_projects(ctx)[ctx.z_parcel], d * len(ctx.years) + ctx.z_year, -1)
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
