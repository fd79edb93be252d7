"""The plan: allocation, shortfall, summaries and land-supply tables.

A :class:`Plan` comes back from :meth:`siteplan.model.problem.Problem.solve` in the
shape of the input: one row per (parcel, type, year) that received units,
plus the solver's report and any shortfall. Tables are computed by separate
functions and methods, never stored half-made on the object.

Land arithmetic follows the land-supply tables of the housing-security
plans::

    net land  = floor area / plot ratio
    gross land = net land / net-to-gross ratio      (e.g. 0.8)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..model.builder import CompiledModel, Finding
from .rounding import over_units
from .status import PlanStatus, broken_rows, delivered_x, plan_status
from .stages import StageRecord

if TYPE_CHECKING:
    from ..model.problem import Problem

__all__ = ["Plan", "SolverReport", "land_supply", "ALLOCATION_COLUMNS", "LAND_SUPPLY_COLUMNS"]

ALLOCATION_COLUMNS = [
    "parcel_id", "district", "zone", "type", "year", "units",
    "floor_area_m2", "net_land_ha", "gross_land_ha", "role",
]
LAND_SUPPLY_COLUMNS = [
    "year", "type", "units", "floor_area_m2", "floor_area_10k_m2",
    "plot_ratio", "net_land_ha", "gross_land_ha",
]


@dataclass(frozen=True)
class SolverReport:
    """How the solve went.

    ``objective`` is the suitability-weighted units of the delivered plan;
    ``penalised_objective`` adds the shortfall penalty (the minimised
    quantity, negated objective); ``bound`` is the best proven bound on it
    and ``gap`` the delivered plan's relative distance from that bound;
    ``within_gap`` says whether that is within ``gap_limit``.
    ``objective_bound`` is the same bound on ``objective``'s own scale (no
    more suitability-weighted units are possible), given for plans without
    shortfall. ``stages`` records every stage the solve ran
    (:class:`~siteplan.solve.stages.StageRecord`, whole-unit step
    included), and ``status``, ``optimal`` and ``time_limit_hit`` are
    derived from them all (:func:`~siteplan.solve.stages.derive_status`):
    ``optimal`` only when every stage proved its part and ``within_gap``;
    ``time_limit_hit`` when any stage hit its limit.
    ``runtime_s`` is the whole of build, search and rounding.
    ``method`` is ``"lp-dive"``, ``"lp-guided"``, ``"full-mip"`` or
    ``"mip"`` (a small model solved whole), with ``"+least-shortfall"``
    when targets could not all be met (see
    :func:`siteplan.solve.solve_problem`).
    """

    solver: str
    method: str
    status: str
    optimal: bool
    time_limit_hit: bool
    time_limit_s: float
    gap: float
    gap_limit: float
    bound: float
    objective: float
    penalised_objective: float
    build_s: float
    solve_s: float
    rounding_s: float
    rounding_status: str
    runtime_s: float
    within_gap: bool
    objective_bound: float
    n_rows: int
    n_cols: int
    n_binaries: int
    stages: tuple[StageRecord, ...] = ()

    def as_dict(self) -> dict:
        """The report as JSON-safe values: NaN and inf become None, ``stages`` a list of dicts."""
        out = dict(self.__dict__)
        for k, v in out.items():
            if isinstance(v, float) and not np.isfinite(v):
                out[k] = None
        out["stages"] = [s.as_dict() for s in self.stages]
        return out


def land_supply(floor_area_m2: np.ndarray | float, plot_ratio: np.ndarray | float, net_to_gross: float) -> tuple[np.ndarray, np.ndarray]:
    """Net and gross land (ha) for floor area built at a plot ratio.

    >>> net, gross = land_supply(127_800, 2.8, 0.8)   # Handan 2011, low-rent
    >>> round(float(net), 2), round(float(gross), 2)
    (4.56, 5.71)
    """
    net = np.asarray(floor_area_m2, dtype=float) / np.asarray(plot_ratio, dtype=float) / 10_000.0
    return net, net / net_to_gross


@dataclass
class Plan:
    """A solved plan.

    Attributes
    ----------
    problem
        The problem that was solved.
    units
        One row per (parcel, type, year) with units > 0: ``parcel_id``,
        ``type``, ``year``, ``units`` (int), ``far`` (plot ratio used).
    shortfall
        One row per elastic rule row the delivered plan breaks: ``rule``, its
        labels, ``side`` and ``shortfall`` (whole units missing, or over an
        upper bound, recomputed from the plan's units, rounded up).
    report
        The solver report.
    model, x
        The compiled model and the solution vector the plan was read from.
    findings
        What the checks before solving found.
    """

    problem: Problem
    units: pd.DataFrame
    shortfall: pd.DataFrame
    report: SolverReport
    model: CompiledModel
    x: np.ndarray
    findings: list[Finding] = field(default_factory=list)
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def memo(self, key: tuple, make: Callable[[], object], *, of: tuple = ()) -> object:
        """``make()``, made once per plan, ``key`` and the objects ``of`` (by
        identity; the entry keeps them alive, so an id is never reused under
        it): a figure several outputs print (the parcel features, the printed
        tables, the static map). The caller copies what it may change."""
        full = (*key, *map(id, of))
        if full not in self._memo:
            self._memo[full] = (of, make())
        return self._memo[full][1]

    @classmethod
    def from_solution(cls, problem: Problem, model: CompiledModel, x: np.ndarray, report: SolverReport) -> Plan:
        """Read a solution vector of ``model`` into a plan."""
        ctx = model.ctx
        u = np.round(model.slice_u(x)).astype("int64")
        keep = u > 0
        pi = ctx.u_parcel[keep]
        ti = ctx.u_type[keep]
        units = pd.DataFrame({
            "parcel_id": ctx.parcels["parcel_id"].to_numpy()[pi],
            "type": np.asarray(ctx.types, dtype=object)[ti],
            "year": np.asarray(ctx.years)[ctx.u_year[keep]],
            "units": u[keep],
            "far": ctx.far[pi, ti],
        })
        broken = broken_rows(model, x)
        rows = model.rows.iloc[broken["row"].to_numpy()].copy()
        rows["side"] = broken["side"].to_numpy()
        rows["shortfall"] = broken["units"].to_numpy()
        rows = rows.drop(columns=["elastic"]).dropna(axis=1, how="all")
        return cls(
            problem=problem, units=units, shortfall=rows.reset_index(drop=True), report=report,
            model=model, x=np.asarray(x, dtype=float), findings=list(model.findings),
        )

    @cached_property
    def status(self) -> PlanStatus:
        """The plan's one status, derived once from every solve stage and the delivered whole units.

        Every output that says how the plan went reads this (see
        :mod:`siteplan.solve.status`).
        """
        return plan_status(self)

    def _row_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per model row: whole units broken, at its lower bound, at its upper bound, touched.

        A row is *at* a bound when the delivered plan sits on it or so close
        that one more whole unit of any of its unit columns would cross it:
        a parcel is at its plot-ratio cap when not even one unit of the
        smallest type fits any more (a whole-unit plan rarely fills 100.000%).
        Broken rows (the elastic ones the plan misses, see
        :func:`~siteplan.solve.status.broken_rows`) carry their whole units.
        A row is *touched* when one of its variables is non-zero in the
        plan; a row whose variables are all zero (an unused parcel-year)
        sits at its bound trivially and does not bind.
        """
        m = self.model
        x = delivered_x(m, self.x)
        n_core, n_u = m.n_core, m.ctx.n_u
        activity = m.A[:, :n_core] @ x[:n_core]
        broken = np.zeros(m.n_rows, dtype="int64")
        b = broken_rows(m, self.x)
        np.add.at(broken, b["row"].to_numpy(), b["units"].to_numpy())
        tol = 1e-6 * np.maximum(1.0, np.abs(activity))
        A_u = m.A[:, :n_u].tocsr()
        step_up = _row_min(A_u, positive=True)     # the least rise one more unit gives
        step_down = _row_min(A_u, positive=False)  # the least fall one more unit gives
        with np.errstate(invalid="ignore"):
            room_up = m.row_upper - activity
            room_down = activity - m.row_lower
            at_lower = np.isfinite(m.row_lower) & ((np.abs(room_down) <= tol) | (np.isfinite(step_down) & (room_down < step_down - tol)))
            at_upper = np.isfinite(m.row_upper) & ((np.abs(room_up) <= tol) | (np.isfinite(step_up) & (room_up < step_up - tol)))
        touched = (abs(m.A[:, :n_core]) @ np.abs(x[:n_core])) > 1e-9
        return broken, at_lower, at_upper, touched

    def compliance(self) -> pd.DataFrame:
        """One row per rule: what it requires, what the plan achieves, and whether it binds.

        A rule *binds* when at least one of its rows that the plan uses sits
        at its bound in whole units (loosening it could change the plan; see
        :meth:`_row_state`); ``shortfall`` is the whole units by which the
        delivered plan breaks its elastic rows (0 for a plan that keeps
        every rule), recomputed from the plan's units. The yearly targets'
        row and :attr:`status` count from one table
        (:func:`siteplan.model.rules.target_table`): an exact target the plan
        exceeds is not met.
        """
        m, x = self.model, self.x
        ctx = m.ctx
        short, at_lower, at_upper, touched = self._row_state()
        broken = short > 0
        binds = ((at_lower | at_upper) & touched) | broken
        u = m.slice_u(delivered_x(m, x))
        rows = []
        for rule in self.problem.rules:
            mask = (m.rows["rule"] == rule.name).to_numpy()
            focal = self.focal_checks.get(rule.name)
            required, achieved = rule.report(ctx, u) if focal is None else (rule.required(), focal[0])
            shortfall, ok = int(short[mask].sum()), not bool((mask & broken).any())
            if focal is not None:  # the radius cap: the densest disc of the delivered plan, apart from the rows
                shortfall, ok = int(focal[1]), focal[1] == 0
            rows.append({
                "rule": rule.name,
                "description": rule.describe(),
                "required": required,
                "achieved": achieved,
                "rows": int(mask.sum()),
                "binding_rows": int((mask & binds).sum()),
                "binding": bool((mask & binds).any()),
                "shortfall": shortfall,
                "ok": ok,
            })
        rows[:0] = self._land_rows(binds)
        return pd.DataFrame(rows)

    @cached_property
    def focal_checks(self) -> dict[str, tuple[str, int]]:
        """Per rule with a focal check (the radius cap): what the delivered plan achieves, and the units over its cap.

        Computed from the plan's units at the parcels' centroids, apart from
        the model's rows (:meth:`siteplan.model.dispersion.RadiusCap.focal_check`).
        """
        rules = [r for r in self.problem.rules if hasattr(r, "focal_check")]
        if not rules:
            return {}
        p = self.problem.parcels
        per = self.units.groupby("parcel_id")["units"].sum()
        units = per.reindex(p["parcel_id"].to_numpy()).fillna(0).to_numpy(dtype=float)
        return {r.name: r.focal_check(p, units) for r in rules}

    def _land_rows(self, binds: np.ndarray) -> list[dict]:
        """Compliance rows of the two rules every problem has, read from the plan.

        ``one_supply_year``: each parcel is supplied in at most one year
        (binding where a used parcel's row is at its bound, i.e. always once
        a parcel is used). ``available_year``: no parcel is used before its
        land is available; it binds when a plan supplies a new project in
        the very year its land becomes available, later than the first plan
        year (it might have been used earlier had its land been ready;
        commercial projects are supplied in that year by rule).
        """
        m = self.model
        p = self.problem.parcels.set_index("parcel_id")
        u = self.units
        years = u.groupby("parcel_id")["year"].agg(["nunique", "min"])
        most = int(years["nunique"].max()) if len(years) else 0
        mask = (m.rows["rule"] == "one_supply_year").to_numpy()
        avail = p.loc[years.index, "available_year"].to_numpy() if len(years) else np.zeros(0)
        early = int((years["min"].to_numpy() < avail).sum()) if len(years) else 0
        first = min(self.problem.years)
        new = (p.loc[years.index, "role"] == "new").to_numpy() if "role" in p.columns else np.ones(len(years), dtype=bool)
        at_ready = int(((years["min"].to_numpy() == avail) & (avail > first) & new).sum()) if len(years) else 0
        return [
            {
                "rule": "one_supply_year",
                "description": "each parcel is supplied in at most one year",
                "required": "<= 1 supply year per parcel",
                "achieved": f"{len(years):,} parcels used; most supply years for one parcel: {most}",
                "rows": int(mask.sum()),
                "binding_rows": int((mask & binds).sum()),
                "binding": bool((mask & binds).any()),
                "shortfall": 0,
                "ok": most <= 1,
            },
            {
                "rule": "available_year",
                "description": "no parcel is used before its available_year (land availability)",
                "required": "supply year >= available_year",
                "achieved": f"{early} parcels used early; {at_ready} new projects supplied in the year their land becomes available",
                "rows": 0,
                "binding_rows": 0,
                "binding": at_ready > 0,
                "shortfall": 0,
                "ok": early == 0,
            },
        ]

    # -- tables ------------------------------------------------------------
    def allocation(self, *, net_to_gross: float = 0.8) -> pd.DataFrame:
        """One row per parcel x type x year, sorted, with floor area and land.

        ``role`` is ``"new"`` for land newly supplied for affordable housing
        (保障性住房新增用地) and ``"inclusionary"`` for the affordable share
        built inside a commercial housing project (普通商品房配建用地).
        """
        p = self.problem.parcels.set_index("parcel_id")
        a = self.units.copy()
        a["district"] = p.loc[a["parcel_id"], "district"].to_numpy()
        a["zone"] = p.loc[a["parcel_id"], "zone"].to_numpy()
        a["role"] = p.loc[a["parcel_id"], "role"].to_numpy() if "role" in p.columns else "new"
        area = a["type"].map(self.problem.unit_area).astype(float)
        a["floor_area_m2"] = a["units"] * area
        a["net_land_ha"], a["gross_land_ha"] = land_supply(a["floor_area_m2"].to_numpy(), a["far"].to_numpy(), net_to_gross)
        a = a.sort_values(["year", "type", "parcel_id"], kind="stable").reset_index(drop=True)
        return a[ALLOCATION_COLUMNS]

    def land_supply_table(self, *, net_to_gross: float = 0.8) -> pd.DataFrame:
        """Per year and type: units, floor area, plot ratio, net and gross land.

        The plot ratio of a row is its floor area over its net land (the
        floor-weighted plot ratio of the parcels used). A row with type
        ``合计`` (total) closes each year.
        """
        a = self.allocation(net_to_gross=net_to_gross)
        types = list(self.problem.types)
        rows = []
        for year in self.problem.years:
            ay = a.loc[a["year"] == year]
            for t in types + ["合计"]:
                at = ay if t == "合计" else ay.loc[ay["type"] == t]
                floor = float(at["floor_area_m2"].sum())
                net = float(at["net_land_ha"].sum())
                rows.append({
                    "year": year,
                    "type": t,
                    "units": int(at["units"].sum()),
                    "floor_area_m2": floor,
                    "floor_area_10k_m2": floor / 10_000.0,
                    "plot_ratio": floor / (net * 10_000.0) if net > 0 else np.nan,
                    "net_land_ha": net,
                    "gross_land_ha": float(at["gross_land_ha"].sum()),
                })
        return pd.DataFrame(rows, columns=LAND_SUPPLY_COLUMNS)

    def summary(self) -> pd.DataFrame:
        """Targets against placed units per type and year."""
        placed = self.units.groupby(["type", "year"])["units"].sum()
        rows = []
        for (t, y), target in sorted(self.problem.targets.items(), key=lambda kv: (self.problem.types.index(kv[0][0]), kv[0][1])):
            rows.append({"type": t, "year": y, "target": int(round(target)), "placed": int(placed.get((t, y), 0))})
        df = pd.DataFrame(rows, columns=["type", "year", "target", "placed"])
        df["difference"] = df["placed"] - df["target"]
        return df

    def by_column(self, column: str) -> pd.Series:
        """Placed units by a parcel attribute such as ``zone`` or ``district``."""
        p = self.problem.parcels.set_index("parcel_id")[column]
        return self.units.groupby(self.units["parcel_id"].map(p))["units"].sum().rename("units")

    def parcels_used(self) -> pd.DataFrame:
        """One row per used parcel: its supply year and units by type."""
        wide = self.units.pivot_table(index=["parcel_id", "year"], columns="type", values="units", aggfunc="sum", fill_value=0)
        wide = wide.reindex(columns=list(self.problem.types), fill_value=0)
        wide.columns = [f"units_{t}" for t in wide.columns]
        wide["units"] = wide.sum(axis=1)
        return wide.reset_index()

    def to_geodataframe(self, *, net_to_gross: float = 0.8) -> gpd.GeoDataFrame:
        """One feature per used parcel, in the parcels' CRS (needs parcel geometry).

        Properties: ``parcel_id``, ``name``, ``district``, ``zone``, ``year``
        (supply year), ``units`` and ``units_<type>``, ``main_type`` (the type
        with most units), ``floor_area_m2``, ``net_land_ha``, ``gross_land_ha``,
        ``far_max`` and ``area_ha``.
        """
        used = self.parcels_used()
        alloc = self.allocation(net_to_gross=net_to_gross)
        land = alloc.groupby("parcel_id")[["floor_area_m2", "net_land_ha", "gross_land_ha"]].sum()
        unit_cols = [c for c in used.columns if c.startswith("units_")]
        main = used[unit_cols].to_numpy().argmax(axis=1)
        used["main_type"] = [unit_cols[k].removeprefix("units_") for k in main]
        used = used.join(land, on="parcel_id")
        geo = self.problem.parcels.set_index("parcel_id").loc[used["parcel_id"]]
        gdf = gpd.GeoDataFrame(
            used.assign(
                name=geo["name"].to_numpy(),
                district=geo["district"].to_numpy(),
                zone=geo["zone"].to_numpy(),
                far_max=geo["far_max"].to_numpy(),
                area_ha=(geo.geometry.area / 10_000.0).to_numpy(),
            ),
            geometry=geo.geometry.to_numpy(),
            crs=getattr(self.problem.parcels, "crs", None),
        )
        cols = ["parcel_id", "name", "district", "zone", "year", "main_type", "units", *unit_cols,
                "floor_area_m2", "net_land_ha", "gross_land_ha", "far_max", "area_ha", "geometry"]
        gdf = gdf[cols].sort_values(["year", "parcel_id"], kind="stable").reset_index(drop=True)
        return gdf

    def shortfall_table(self) -> pd.DataFrame:
        """Broken targets and shares: where, by how much, and what binds.

        One row per elastic rule row the plan could not keep, with the
        columns ``rule``, ``side`` ("short" or "excess"), ``zone``,
        ``district``, ``park``, ``type``, ``year``, ``units`` and
        ``binding_rules``. Empty when the plan keeps every rule.

        *Share rows* (transit, services, parks: at least a share of some
        units lies near something) are split by district x type x year:
        each group's deficit is the share times its units less its near
        units (the near units it lacks for the share among its own), and
        the row's shortfall is divided over the groups with a deficit in
        proportion to it, in whole units by largest remainder, so the parts
        add up to the row's shortfall.

        ``units`` are whole units, recomputed from the delivered plan
        against each row's bound (see
        :func:`~siteplan.solve.status.broken_rows`): a share row 1.4 near
        units short misses 2.

        ``binding_rules`` names, per row, the hard rules that stop the plan
        from reducing *that* shortfall. A move that would reduce it is one
        more unit on a column whose coefficient in the row helps (opening
        the parcel-year if the plan leaves it closed), or one unit less on
        a used column whose coefficient hurts; only the row's own group's
        columns count for a split share row. A hard rule binds for the row
        when one of its rows sits at its bound in the plan, is touched
        (has a non-zero variable), and one such move would push it past
        that bound. Rules are listed by how many moves they block, most
        first. When no hard rule blocks a move, the elastic rules the plan
        keeps at their bound and a move would break are named instead,
        marked ``(elastic)`` (e.g. ``yearly_targets (elastic)``: units
        could only leave far parcels by missing an exact target); ``-``
        when nothing blocks a move.
        """
        cols = ["rule", "side", "zone", "district", "park", "type", "year", "units", "binding_rules"]
        if not len(self.shortfall):
            return pd.DataFrame(columns=cols)
        m, x = self.model, self.x
        ctx = m.ctx
        n_u = ctx.n_u
        A_u = m.A[:, :n_u].tocsr()
        u = delivered_x(m, x)[:n_u]
        blocks = _BlockingMoves(self)
        district = ctx.parcels["district"].to_numpy()[ctx.u_parcel] if "district" in ctx.parcels else np.full(n_u, "-")
        zone = ctx.parcels["zone"].to_numpy()[ctx.u_parcel] if "zone" in ctx.parcels else np.full(n_u, "-")
        types = np.asarray(ctx.types, dtype=object)[ctx.u_type]
        years = np.asarray(ctx.years)[ctx.u_year]
        broken = broken_rows(m, x)
        out = []
        for r, sign, units in zip(broken["row"].to_numpy(), broken["sign"].to_numpy(), broken["units"].to_numpy()):
            r, sign, units = int(r), float(sign), int(units)
            label = m.rows.iloc[r]
            base = {c: label[c] if c in label.index else pd.NA for c in cols}
            base.update(rule=label["rule"], side="short" if sign > 0 else "excess")
            a = np.asarray(A_u[r].toarray()).ravel()
            is_share = sign > 0 and m.row_lower[r] == 0 and (a < 0).any()
            if not is_share:
                out.append({**base, "units": units, "binding_rules": blocks.names(a, sign, np.ones(n_u, dtype=bool))})
                continue
            key = pd.MultiIndex.from_arrays([district, types, years])
            deficit = pd.Series(-a * u).groupby(key).sum()
            deficit = deficit[deficit > 1e-9]
            parts = _apportion(units, deficit.to_numpy())
            for ((d, t, y), _), part in zip(deficit.items(), parts):
                if part == 0:
                    continue
                mask = (district == d) & (types == t) & (years == y) & (a != 0)
                z = zone[mask][0] if mask.any() else pd.NA
                out.append({**base, "district": d, "zone": z, "type": t, "year": int(y), "units": int(part),
                            "binding_rules": blocks.names(a, sign, mask)})
        df = pd.DataFrame(out, columns=cols)
        df["year"] = pd.to_numeric(df["year"], errors="coerce").astype("Int64")
        df["units"] = df["units"].astype("int64")
        return df.sort_values(["rule", "year", "type", "district"], kind="stable", na_position="first").reset_index(drop=True)

    @property
    def total_shortfall(self) -> float:
        """The whole units of every broken rule row, added up (0 for a plan that keeps every rule).

        This adds different rules together (a yearly target and a transit
        share may count the same units twice), so it is a test figure, not
        a headline: reports give :attr:`status` (``units_missing`` and
        ``rules_short``, by rule).
        """
        return float(self.shortfall["shortfall"].sum()) if len(self.shortfall) else 0.0


def _row_min(A: sp.spmatrix, *, positive: bool) -> np.ndarray:
    """Per row, the least positive coefficient (``positive``) or the least magnitude of a negative one; inf if none."""
    A = sp.csr_matrix(A)
    A.prune()
    data = A.data if positive else -A.data
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    keep = data > 1e-12
    out = np.full(A.shape[0], np.inf)
    np.minimum.at(out, rows[keep], data[keep])
    return out


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` whole units split in proportion to ``weights`` by largest remainder; the parts add up to ``total``."""
    w = np.asarray(weights, dtype=float)
    if not len(w) or w.sum() <= 0:
        return np.zeros(len(w), dtype="int64")
    exact = total * w / w.sum()
    parts = np.floor(exact).astype("int64")
    left = int(total - parts.sum())
    if left > 0:
        parts[np.argsort(-(exact - parts), kind="stable")[:left]] += 1
    return parts


class _BlockingMoves:
    """Which hard rows block which one-unit moves of a plan (see :meth:`Plan.shortfall_table`).

    For every unit column :math:`j` two moves: *up* (one unit more, with
    its parcel-year opened if the plan leaves it closed) and *down* (one
    unit less, only where the plan has units). Auxiliary columns follow the
    equality rows that define them (a parcel's total units). A hard row
    blocks a move when it is at its bound in the plan in whole units (see
    :meth:`Plan._row_state`), touched, and the move pushes it past that
    bound: a parcel whose plot ratio leaves less land than one more unit
    needs blocks every unit more on it.
    """

    def __init__(self, plan: Plan):
        m, x = plan.model, plan.x
        ctx = m.ctx
        n_u, n_z, n_core = ctx.n_u, ctx.n_z, m.n_core
        A = m.A[:, :n_core].tocsc()
        A_u, A_z = A[:, :n_u], A[:, n_u:n_u + n_z]
        # auxiliary columns follow the units they sum (without a definition, their terms are left out)
        moved, _ = over_units(m) or (A_u, None)
        closed = np.round(m.slice_z(x)) < 0.5
        opened = sp.csr_matrix((closed[ctx.u_z].astype(float), (ctx.u_z, np.arange(n_u))), shape=(n_z, n_u))
        up = (moved + A_z @ opened).tocsr()
        down = (-moved).tocsr()
        short, at_lower, at_upper, touched = plan._row_state()
        activity = m.A[:, :n_core] @ delivered_x(m, x)[:n_core]
        with np.errstate(invalid="ignore"):
            room_up = np.maximum(m.row_upper - activity, 0.0)
            room_down = np.maximum(activity - m.row_lower, 0.0)
        hard = (m.rows["elastic"] == "").to_numpy()
        kept = ~hard & (short == 0)
        tol = 1e-9

        def blocked(e: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
            # a move blocks where it takes a row at its bound further than the row's room
            e = e.tocsr()
            e.prune()  # sums of sparse matrices may keep spare room in data
            r = np.repeat(np.arange(e.shape[0]), np.diff(e.indptr))
            over = (at_upper & touched & rows)[r] & (e.data > room_up[r] + tol)
            under = (at_lower & touched & rows)[r] & (-e.data > room_down[r] + tol)
            out = sp.csr_matrix(((over | under).astype(float), e.indices.copy(), e.indptr.copy()), shape=e.shape)
            out.eliminate_zeros()
            return out

        self.hard = (blocked(up, hard), blocked(down, hard))
        self.elastic = (blocked(up, kept), blocked(down, kept))
        self.can_down = m.slice_u(x) > 1e-9
        self.rule = m.rows["rule"].to_numpy()

    def names(self, a: np.ndarray, sign: float, mask: np.ndarray) -> str:
        """The hard rules blocking a move that reduces a row's shortfall.

        ``a`` is the row's unit coefficients, ``sign`` +1 for a shortfall
        below its lower bound and -1 for an excess above its upper bound,
        ``mask`` the unit columns that count.
        """
        helps = a * sign
        go_up = (mask & (helps > 0)).astype(float)
        go_down = (mask & (helps < 0) & self.can_down).astype(float)
        for (up, down), mark in ((self.hard, ""), (self.elastic, " (elastic)")):
            hits = up @ go_up + down @ go_down
            rows = np.nonzero(hits > 0)[0]
            if len(rows):
                count = pd.Series(hits[rows], index=self.rule[rows]).groupby(level=0).sum()
                return ", ".join(f"{r}{mark}" for r in count.sort_values(ascending=False, kind="stable").index)
        return "-"
