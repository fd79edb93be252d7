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

from .outputs import export
from .model.features import compute_features
from .inputs.layers import Layers, read_layers
from .model.build import build_problem
from .outputs.printed import parcel_features, with_labels
from .outputs.docx import write_plan_docx
from .outputs.webmap import TileChoice, render_map, tile_choice
from .solve.plan import Plan
from .solve.alternatives import alternatives, difference_table, movable_parcels, selection_frequency
from .errors import SiteplanError
from .inputs.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from .check import CheckReport

__all__ = ["plan_from_scenario", "plans_from_scenario", "write_plan", "run", "output_folder", "RunResult", "DEMO_SCENARIO", "find_demo_scenario"]

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


def plan_from_scenario(scenario: Scenario, *, progress: Callable[[str], None] | None = None) -> tuple[Plan, Layers]:
    """Read, compute, build and solve; return the plan and its layers."""
    plans, layers = plans_from_scenario(scenario, 1, progress=progress)
    return plans[0], layers


def plans_from_scenario(scenario: Scenario, k: int, *, progress: Callable[[str], None] | None = None,
                        layers: Layers | None = None, features: gpd.GeoDataFrame | None = None,
                        log_findings: bool = True) -> tuple[list[Plan], Layers]:
    """Like :func:`plan_from_scenario`, with up to ``k`` alternative plans
    (see :mod:`siteplan.solve.alternatives`); the first is the best. ``layers``
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
    output_warnings: list[str] | None = None,
    run_jobs: export.JobRunner | None = None,
) -> dict[str, Path]:
    """Write every output of a plan into ``out_dir`` (atomically).

    With ``alternatives`` (the best plan first), also ``alternatives.csv``
    (every plan's allocation, with a ``plan`` column and ``movable``: the
    parcel is a new project no lock-in fixes, the parcels over which plans
    must differ), ``alternatives_difference.csv`` (per pair of plans, the
    share of each one's movable parcels and units the other does not use;
    see :func:`siteplan.solve.alternatives.difference_table`),
    ``selection_frequency.csv`` and ``selection.geojson`` (each parcel any
    plan uses, with how many plans use it); ``allocation.geojson`` then
    gives each parcel's ``selected_in`` too, and ``map.html`` a layer of
    parcels coloured by it. The planners' outputs
    (``plan.gpkg``, ``land_supply.xlsx`` and its CSV copies, ``report.html``,
    ``plan.docx`` unless ``[outputs] docx = false``,
    and with ``shapefile=True`` a ``shapefile/`` folder) come from
    :func:`siteplan.outputs.export.planner_writers`. ``tiles`` is the map's basemap
    (default the scenario's ``[map] tiles``; see
    :func:`siteplan.outputs.webmap.tile_choice`). Warnings of the writers
    (text the shapefiles cannot hold) are appended to ``output_warnings``.
    ``run_jobs`` runs the writers (see
    :func:`siteplan.outputs.export.write_outputs`; default one after the
    other, in this process); one that runs them in other processes is only
    for calls without ``output_warnings``.
    """
    ntg = scenario.plan.net_to_gross
    freq = selection_frequency(alternatives) if alternatives else None
    type_zh = {t: scenario.type_label(t, "zh") for t in plan.problem.types}  # main_type_zh, type_zh beside the codes
    writers = {
        "allocation.csv": lambda p: export.write_allocation_csv(plan, p, net_to_gross=ntg, type_labels=type_zh),
        "land_supply.csv": lambda p: export.write_land_supply_csv(plan, p, net_to_gross=ntg),
        "allocation.geojson": lambda p: export.write_geojson(
            _with_selected_in(with_labels(parcel_features(plan, net_to_gross=ntg), type_zh), freq), p),
        "map.html": lambda p: render_map(plan, layers, scenario, p, lang=lang, tiles=tiles, frequency=freq),
        "compliance.csv": lambda p: export.write_table_csv(plan.compliance(), p),
        "shortfall.csv": lambda p: export.write_table_csv(plan.shortfall_table(), p),
        "run.json": lambda p: export.write_run_json(plan, scenario, p, extra={"warnings": layers.warnings}),
    }
    writers.update(export.planner_writers(plan, layers, scenario, lang=lang, shapefile=shapefile,
                                          output_warnings=output_warnings))
    if scenario.outputs.docx:  # the land-supply chapter as a Word draft ([outputs] docx = false skips it)
        writers["plan.docx"] = lambda p: write_plan_docx(plan, layers, scenario, p)
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
    return export.write_outputs(out_dir, writers, run_jobs=run_jobs)


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
    #: Warnings met while writing the outputs (the command line then exits 1).
    output_warnings: list[str] = field(default_factory=list)


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

    First the output folder is checked (:func:`siteplan.outputs.export.check_out_dir`),
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
    written: list[str] = []
    files = write_plan(plan, layers, scenario, out, lang=lang, alternatives=plans if len(plans) > 1 else None,
                       shapefile=shapefile, tiles=choice, output_warnings=written)
    return RunResult(scenario=scenario, plan=plan, layers=layers, files=files, alternatives=plans, output_warnings=written)
