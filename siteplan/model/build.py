"""The problem a scenario describes: candidate parcels, targets and the rules switched on, in a fixed order."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from ..housing import CATALOGUE
from ..inputs.landuse import candidate_mask, inclusionary_mask
from ..inputs.layers import Layers
from ..inputs.scenario import Scenario
from .access import ParkWorkers, ServiceAccess, TransitAccess
from .dispersion import DistrictShare, MaxProjects, ProjectSize, RadiusCap
from .problem import Problem, problem
from .rules import Budget, Inclusionary, LockIn, LockOut, PlotRatio, UnitSizes, YearlyTargets, ZoneTargets

__all__ = ["build_problem"]


def build_problem(features: gpd.GeoDataFrame, scenario: Scenario, *, layers: Layers | None = None) -> Problem:
    """The problem a scenario describes, on the candidate parcels.

    Candidate parcels (:func:`~siteplan.inputs.landuse.candidate_mask`:
    status and land use) take the role ``"new"``; with the inclusionary rule
    on, commercial projects (:func:`~siteplan.inputs.landuse.inclusionary_mask`)
    available within the plan take the role ``"inclusionary"``. Rules are added in a fixed order;
    those switched off in the scenario are left out. ``layers`` supplies
    the constraint polygons for the lock-out rule.
    """
    r = scenario.rules
    years = scenario.years
    role = pd.Series(pd.NA, index=features.index, dtype="object")
    role[candidate_mask(features, scenario) & (features["available_year"] <= years[-1]).to_numpy()] = "new"
    incl = r.inclusionary if r.inclusionary is not None and r.inclusionary.enabled else None
    if incl is not None:
        ready = features["available_year"].between(years[0], years[-1]).to_numpy()
        role[inclusionary_mask(features, scenario) & ready & role.isna().to_numpy()] = "inclusionary"
    parcels = features.assign(role=role).loc[role.notna()]
    types = list(scenario.types)
    prob = problem(
        parcels,
        {code: t.unit_area_m2 for code, t in scenario.types.items()},
        years,
        penalty=scenario.solver.shortfall_penalty,
    ).add_targets(scenario.targets_table())
    add = []
    add.append(PlotRatio(upper_for=tuple(t for t in r.plot_ratio.upper_for if t in types)))
    add.append(YearlyTargets(mode=r.yearly_targets.mode))
    add.append(UnitSizes(
        caps={c: CATALOGUE[c].max_unit_area_m2 for c in types if c in CATALOGUE and CATALOGUE[c].max_unit_area_m2},
        persons_per_unit={c: t.persons_per_unit for c, t in scenario.types.items() if t.persons_per_unit},
        allow_oversize=tuple(c for c, t in scenario.types.items() if t.allow_oversize),
    ))
    if r.zone_targets.enabled:
        if scenario.zones:
            add.append(ZoneTargets(dict(scenario.zones), mode=r.zone_targets.mode, column="zone"))
        if scenario.districts:
            add.append(ZoneTargets(dict(scenario.districts), mode=r.zone_targets.mode, column="district", name="district_targets"))
    if r.district_share is not None and r.district_share.enabled:
        d = r.district_share
        names = tuple(sorted(layers.districts["district"])) if layers is not None else ()
        add.append(DistrictShare(d.min_share, d.max_share, per_type=d.per_type, districts=names))
    if r.project_size.enabled:
        add.append(ProjectSize(r.project_size.min_units, r.project_size.max_units))
    if r.radius_cap is not None and r.radius_cap.enabled:
        add.append(RadiusCap(r.radius_cap.radius_m, r.radius_cap.max_units, centres=r.radius_cap.centres))
    if r.max_projects is not None and r.max_projects.enabled:
        add.append(MaxProjects(r.max_projects.per_district_year))
    if r.transit.enabled:
        t = r.transit
        add.append(TransitAccess(share=t.share, within_m=t.within_m, lead_years=t.lead_years, share_by_type=dict(t.share_by_type)))
    if r.services is not None and r.services.enabled:
        sv = r.services
        add.append(ServiceAccess(share=sv.share, within_m=sv.within_m, groups=tuple(sv.groups), per_year=sv.per_year))
    if r.parks is not None and r.parks.enabled and layers is not None and len(layers.parks):
        pk = r.parks
        add.append(ParkWorkers(
            types=tuple(c for c in pk.types if c in types), share=pk.share, within_m=pk.within_m, proportional=pk.proportional,
            workers=tuple(layers.parks["workers"].astype(float)), park_names=tuple(layers.parks["park"].astype(str)),
        ))
    if incl is not None:
        add.append(Inclusionary(ratio=incl.ratio, max_ratio=incl.max_ratio, types=tuple(incl.types)))
    lo = r.lock_out
    polygons = None
    if layers is not None and len(layers.constraints) and lo.constraint_kinds:
        polygons = layers.constraints.loc[layers.constraints["kind"].isin(lo.constraint_kinds)].geometry.reset_index(drop=True)
    if lo.parcel_ids or lo.where or (polygons is not None and len(polygons)):
        add.append(LockOut(parcel_ids=tuple(lo.parcel_ids), where=dict(lo.where), polygons=polygons, min_overlap=lo.min_overlap))
    li = r.lock_in
    where = dict(li.where)
    if li.metro_depot and "metro_depot" in parcels.columns and parcels["metro_depot"].astype(bool).any():
        where["metro_depot"] = [True]
    if li.parcel_ids or where:
        add.append(LockIn(parcel_ids=tuple(li.parcel_ids), where=where))
    if r.budget is not None and r.budget.enabled:
        add.append(Budget(
            cost_per_m2={c: float(t.cost_yuan_per_m2 or 0.0) for c, t in scenario.types.items()},
            per_year=tuple(v * 1e8 for v in r.budget.per_year_yi_yuan),
        ))
    for rule in add:
        prob = prob.add_rule(rule)
    return prob
