"""One run, stage by stage: scenario -> layers -> features -> problem -> plan -> files.

The command line calls :func:`run`; each stage is also a public function of
its own module, so a notebook can stop anywhere and look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd

from . import export
from .features import compute_features
from .layers import Layers, read_layers
from .problem import Problem, problem
from .render import render_map
from .result import Plan
from .rules import PlotRatio, ProjectSize, TransitAccess, YearlyTargets, ZoneTargets
from .scenario import Scenario, load_scenario

__all__ = ["build_problem", "plan_from_scenario", "write_plan", "run", "RunResult", "DEMO_SCENARIO", "find_demo_scenario"]

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


def build_problem(features: gpd.GeoDataFrame, scenario: Scenario) -> Problem:
    """The problem a scenario describes, on the candidate parcels.

    Rules are added in a fixed order; those switched off in the scenario are
    left out.
    """
    candidates = features.loc[features["candidate"]]
    prob = problem(
        candidates,
        {code: t.unit_area_m2 for code, t in scenario.types.items()},
        scenario.years,
        penalty=scenario.solver.shortfall_penalty,
    ).add_targets(scenario.targets_table())
    rules = scenario.rules
    prob = prob.add_rule(PlotRatio())
    prob = prob.add_rule(YearlyTargets())
    if scenario.zones and rules.zone_targets.enabled:
        prob = prob.add_rule(ZoneTargets(dict(scenario.zones), mode=rules.zone_targets.mode))
    if rules.project_size.enabled:
        prob = prob.add_rule(ProjectSize(rules.project_size.min_units, rules.project_size.max_units))
    if rules.transit.enabled:
        t = rules.transit
        prob = prob.add_rule(TransitAccess(share=t.share, within_m=t.within_m, lead_years=t.lead_years))
    return prob


def plan_from_scenario(scenario: Scenario, *, progress: Callable[[str], None] | None = None) -> tuple[Plan, Layers]:
    """Read, compute, build and solve; return the plan and its layers."""
    say = progress or (lambda msg: log.info(msg))
    say("Reading layers")
    layers = read_layers(scenario)
    say("Computing parcel features")
    features = compute_features(layers, scenario)
    say("Building the model")
    prob = build_problem(features, scenario)
    say("Solving")
    s = scenario.solver
    plan = prob.solve(solver=s.name, time_limit_s=s.time_limit_s, gap=s.gap, threads=s.threads, seed=s.seed)
    return plan, layers


def write_plan(plan: Plan, layers: Layers, scenario: Scenario, out_dir: str | Path, *, lang: str = "zh") -> dict[str, Path]:
    """Write every output of a plan into ``out_dir`` (atomically)."""
    ntg = scenario.plan.net_to_gross
    writers = {
        "allocation.csv": lambda p: export.write_allocation_csv(plan, p, net_to_gross=ntg),
        "land_supply.csv": lambda p: export.write_land_supply_csv(plan, p, net_to_gross=ntg),
        "allocation.geojson": lambda p: export.write_geojson(plan.to_geodataframe(net_to_gross=ntg), p),
        "map.html": lambda p: render_map(plan, layers, scenario, p, lang=lang),
        "run.json": lambda p: export.write_run_json(plan, scenario, p, extra={"warnings": layers.warnings}),
    }
    return export.write_outputs(out_dir, writers)


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` produced."""

    scenario: Scenario
    plan: Plan
    layers: Layers
    files: dict[str, Path]


def run(scenario_path: str | Path, *, out_dir: str | Path | None = None, lang: str = "zh", progress: Callable[[str], None] | None = None) -> RunResult:
    """Run a scenario end to end and write its outputs.

    Parameters
    ----------
    scenario_path
        The scenario TOML file.
    out_dir
        Output folder; default ``out/<scenario name>`` in the current folder.
    lang
        Map labels, ``"zh"`` or ``"en"``.
    progress
        Called with a line at the start of each stage.
    """
    scenario = load_scenario(scenario_path)
    plan, layers = plan_from_scenario(scenario, progress=progress)
    if progress:
        progress("Writing outputs")
    out = Path(out_dir) if out_dir is not None else Path("out") / scenario.plan.name
    files = write_plan(plan, layers, scenario, out, lang=lang)
    return RunResult(scenario=scenario, plan=plan, layers=layers, files=files)
