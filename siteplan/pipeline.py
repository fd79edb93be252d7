"""One run, stage by stage: scenario -> layers -> features -> problem -> plan -> files.

The command line calls :func:`run`; each stage is also a public function of
its own module, so a notebook can stop anywhere and look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from . import export
from .features import compute_features
from .layers import Layers, read_layers
from .problem import Problem, problem
from .render import TileChoice, render_map, tile_choice
from .result import Plan
from .access import ParkWorkers, ServiceAccess, TransitAccess
from .alternatives import alternatives, difference_table, movable_parcels, selection_frequency
from .dispersion import DistrictShare, MaxProjects, ProjectSize, RadiusCap
from .housing import CATALOGUE
from .rules import Budget, Inclusionary, LockIn, LockOut, PlotRatio, UnitSizes, YearlyTargets, ZoneTargets
from .errors import SiteplanError
from .scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from .check import CheckReport

__all__ = ["build_problem", "plan_from_scenario", "plans_from_scenario", "write_plan", "run", "output_folder", "RunResult", "DEMO_SCENARIO", "find_demo_scenario"]

log = logging.getLogger(__name__)

#: The bundled demo scenario, relative to the project folder.
DEMO_SCENARIO = Path("scenarios") / "demo-2016-2020.toml"


def find_demo_scenario() -> Path:
    """The demo scenario: in the current folder's project, else beside the package."""
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        candidate = base / DEMO_SCENARIO
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"the demo scenario {DEMO_SCENARIO} was not found; run siteplan from the project folder "
        "(where scenarios/ and layers/ are), or name a scenario: siteplan run path/to/scenario.toml"
    )


def build_problem(features: gpd.GeoDataFrame, scenario: Scenario, *, layers: Layers | None = None) -> Problem:
    """The problem a scenario describes, on the candidate parcels.

    Parcels whose ``status`` is a candidate status take the role ``"new"``;
    with the inclusionary rule on, commercial projects available within the
    plan take the role ``"inclusionary"``. Rules are added in a fixed order;
    those switched off in the scenario are left out. ``layers`` supplies
    the constraint polygons for the lock-out rule.
    """
    r = scenario.rules
    years = scenario.years
    role = pd.Series(pd.NA, index=features.index, dtype="object")
    role[features["status"].isin(scenario.plan.candidate_status) & (features["available_year"] <= years[-1])] = "new"
    incl = r.inclusionary if r.inclusionary is not None and r.inclusionary.enabled else None
    if incl is not None:
        ready = features["available_year"].between(years[0], years[-1])
        role[(features["status"] == incl.status) & ready & role.isna()] = "inclusionary"
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
        add.append(RadiusCap(r.radius_cap.radius_m, r.radius_cap.max_units))
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


def plan_from_scenario(scenario: Scenario, *, progress: Callable[[str], None] | None = None) -> tuple[Plan, Layers]:
    """Read, compute, build and solve; return the plan and its layers."""
    plans, layers = plans_from_scenario(scenario, 1, progress=progress)
    return plans[0], layers


def plans_from_scenario(scenario: Scenario, k: int, *, progress: Callable[[str], None] | None = None,
                        layers: Layers | None = None, features: gpd.GeoDataFrame | None = None,
                        log_findings: bool = True) -> tuple[list[Plan], Layers]:
    """Like :func:`plan_from_scenario`, with up to ``k`` alternative plans
    (see :mod:`siteplan.alternatives`); the first is the best. ``layers``
    and their ``features``, when given, are used as they are (already read,
    checked and computed, as :func:`siteplan.check.check` leaves them).
    ``log_findings=False`` leaves the rules' checks unlogged, for a caller
    that has reported them already."""
    say = progress or (lambda msg: log.info(msg))
    if layers is None:
        say("Reading layers")
        layers = read_layers(scenario)
    if features is None:
        say("Computing parcel features")
        features = compute_features(layers, scenario)
    say("Building the model")
    prob = build_problem(features, scenario, layers=layers)
    say("Solving" if k == 1 else f"Solving for {k} alternative plans")
    s = scenario.solver
    opts = dict(solver=s.name, time_limit_s=s.time_limit_s, gap=s.gap, threads=s.threads, seed=s.seed, log_findings=log_findings)
    if k == 1:
        return [prob.solve(**opts)], layers
    a = scenario.alternatives
    return alternatives(prob, k, within=a.within, differ=a.differ, **opts), layers


def write_plan(
    plan: Plan,
    layers: Layers,
    scenario: Scenario,
    out_dir: str | Path,
    *,
    lang: str = "zh",
    alternatives: list[Plan] | None = None,
    shapefile: bool = False,
    tiles: str | TileChoice | None = None,
) -> dict[str, Path]:
    """Write every output of a plan into ``out_dir`` (atomically).

    With ``alternatives`` (the best plan first), also ``alternatives.csv``
    (every plan's allocation, with a ``plan`` column and ``movable``: the
    parcel is a new project no lock-in fixes, the parcels over which plans
    must differ), ``alternatives_difference.csv`` (per pair of plans, the
    share of each one's movable parcels and units the other does not use;
    see :func:`siteplan.alternatives.difference_table`),
    ``selection_frequency.csv`` and ``selection.geojson`` (each parcel any
    plan uses, with how many plans use it); ``allocation.geojson`` then
    gives each parcel's ``selected_in`` too, and ``map.html`` a layer of
    parcels coloured by it. The planners' outputs
    (``plan.gpkg``, ``land_supply.xlsx`` and its CSV copies, ``report.html``,
    and with ``shapefile=True`` a ``shapefile/`` folder) come from
    :func:`siteplan.export.planner_writers`. ``tiles`` is the map's basemap
    (default the scenario's ``[map] tiles``; see
    :func:`siteplan.render.tile_choice`).
    """
    ntg = scenario.plan.net_to_gross
    freq = selection_frequency(alternatives) if alternatives else None
    writers = {
        "allocation.csv": lambda p: export.write_allocation_csv(plan, p, net_to_gross=ntg),
        "land_supply.csv": lambda p: export.write_land_supply_csv(plan, p, net_to_gross=ntg),
        "allocation.geojson": lambda p: export.write_geojson(_with_selected_in(plan.to_geodataframe(net_to_gross=ntg), freq), p),
        "map.html": lambda p: render_map(plan, layers, scenario, p, lang=lang, tiles=tiles, frequency=freq),
        "compliance.csv": lambda p: export.write_table_csv(plan.compliance(), p),
        "shortfall.csv": lambda p: export.write_table_csv(plan.shortfall_table(), p),
        "run.json": lambda p: export.write_run_json(plan, scenario, p, extra={"warnings": layers.warnings}),
    }
    writers.update(export.planner_writers(plan, layers, scenario, lang=lang, shapefile=shapefile))
    if freq is not None:
        movable = movable_parcels(alternatives[0].problem)
        writers["alternatives.csv"] = lambda p: export.write_table_csv(
            pd.concat([a.allocation(net_to_gross=ntg).assign(plan=n) for n, a in enumerate(alternatives, start=1)], ignore_index=True)
            .pipe(lambda t: t.assign(movable=t["parcel_id"].isin(movable))), p
        )
        writers["alternatives_difference.csv"] = lambda p: export.write_table_csv(
            difference_table(alternatives, differ=scenario.alternatives.differ), p
        )
        writers["selection_frequency.csv"] = lambda p: export.write_table_csv(freq, p)
        writers["selection.geojson"] = lambda p: export.write_geojson(_selection_gdf(freq, layers), p)
    return export.write_outputs(out_dir, writers)


def _with_selected_in(alloc: gpd.GeoDataFrame, freq: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """``alloc`` with ``selected_in``: in how many of the alternative plans each parcel is used."""
    if freq is None:
        return alloc
    count = alloc["parcel_id"].map(freq.set_index("parcel_id")["selected_in"]).fillna(0).astype(int)
    return alloc.assign(selected_in=count.to_numpy())


def _selection_gdf(freq: pd.DataFrame, layers: Layers) -> gpd.GeoDataFrame:
    parcels = layers.parcels.set_index("parcel_id")
    geo = parcels.loc[freq["parcel_id"]]
    return gpd.GeoDataFrame(
        freq.assign(name=geo["name"].to_numpy(), district=geo["district"].to_numpy()),
        geometry=geo.geometry.to_numpy(),
        crs=layers.parcels.crs,
    )


def output_folder(scenario_path: str | Path, out_dir: str | Path | None = None) -> Path | None:
    """The folder a run writes to: ``out_dir``, else ``out/<scenario name>``; None when the scenario cannot be read."""
    if out_dir is not None:
        return Path(out_dir)
    try:
        return Path("out") / load_scenario(scenario_path).plan.name
    except (SiteplanError, OSError):
        return None  # the checks report why


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` produced."""

    scenario: Scenario
    plan: Plan
    layers: Layers
    files: dict[str, Path]
    alternatives: list[Plan] = field(default_factory=list)


def run(
    scenario_path: str | Path,
    *,
    out_dir: str | Path | None = None,
    lang: str = "zh",
    alternatives: int | None = None,
    shapefile: bool = False,
    tiles: str | None = None,
    progress: Callable[[str], None] | None = None,
    on_check: Callable[[CheckReport], None] | None = None,
) -> RunResult:
    """Run a scenario end to end and write its outputs.

    First the output folder is checked (:func:`siteplan.export.check_out_dir`),
    then the scenario and its layers, with every check ``siteplan check``
    makes (:func:`siteplan.check.check`); any error stops the run before
    solving.

    Parameters
    ----------
    scenario_path
        The scenario TOML file.
    out_dir
        Output folder; default ``out/<scenario name>`` in the current folder.
    lang
        Map labels, ``"zh"`` or ``"en"``.
    alternatives
        How many plans to make (the best and near-optimal, different
        ones); default ``[alternatives] count`` of the scenario.
    shapefile
        Also write a ``shapefile/`` folder (GBK, with ``.cpg`` files and a
        ``fields.csv`` alias table) for ArcGIS users.
    tiles
        The map's basemap, ``"none"``, ``"osm"``, ``"tianditu"`` or
        ``"gaode"``; default the scenario's ``[map] tiles`` (none).
    progress
        Called with a line at the start of each stage.
    on_check
        Called with the check report before solving (the command line
        prints its errors and warnings); without it, repairs and warnings
        are logged.

    Raises
    ------
    CheckError
        When the checks find an error; its ``report`` holds every finding.
    OutputError
        When the output folder cannot be written.
    """
    from .check import CheckError, check

    out = output_folder(scenario_path, out_dir)
    if out is not None:
        export.check_out_dir(out)  # a file in the way or a read-only folder fails now, not after the solve
    if progress:
        progress("Checking the scenario and layers")
    report = check(scenario_path)  # the same checks as siteplan check, all of them
    if on_check is not None:
        on_check(report)
    else:
        for d in report.of_level("repair", "warning"):
            log.warning("%s", d)
    if report.of_level("error") or report.scenario is None or report.layers is None or report.layers.layers is None:
        raise CheckError(report)
    scenario = report.scenario
    if out is None:
        out = export.check_out_dir(Path("out") / scenario.plan.name)
    # Checked before the solve, so that a bad tile name or a missing
    # Tianditu key fails at once, not after minutes of solving.
    choice = tile_choice(scenario, tiles=tiles)
    k = alternatives if alternatives is not None else scenario.alternatives.count
    # the check report, shown or logged above, holds the rules' checks: the solve does not repeat them
    plans, layers = plans_from_scenario(scenario, k, progress=progress, layers=report.layers.layers,
                                        features=report.features, log_findings=False)
    plan = plans[0]
    if progress:
        progress("Writing outputs")
    files = write_plan(plan, layers, scenario, out, lang=lang, alternatives=plans if len(plans) > 1 else None,
                       shapefile=shapefile, tiles=choice)
    return RunResult(scenario=scenario, plan=plan, layers=layers, files=files, alternatives=plans)
