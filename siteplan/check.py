"""``siteplan check``: validate a scenario and its layers without solving.

:func:`check` loads the scenario, reads every layer with the same checks a
run makes (:func:`siteplan.inputs.layers.check_layers`), runs the rules' checks
before solving, and tabulates capacity against targets per district and
year. :func:`format_report` prints it for a planner:

- per layer: file, driver, encoding, CRS, feature count, geometry types;
- what was repaired, and how many features;
- what is wrong, and the fix;
- per district and year: capacity against targets.

The exit code (:attr:`CheckReport.exit_code`) is 0 when clean, 1 for
warnings or repairs only, 2 for errors. An error is anything that stops
``siteplan run``; a target the parcels cannot meet is a warning, since a run
then still returns the best plan and reports the shortfall.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.cells import cell_len

from .errors import SiteplanError
from .inputs.landuse import candidate_mask
from .inputs.layers import Diagnostic, LayerCheck, check_layers, crs_label
from .inputs.scenario import LAYER_PATH_KEYS, Scenario, load_scenario

__all__ = ["CapacityTable", "CheckReport", "CheckError", "check", "findings_lines", "capacity_table", "rule_findings", "layers_only_scenario", "format_report"]

log = logging.getLogger(__name__)


@dataclass
class CapacityTable:
    """Units the candidate parcels can hold, by district and supply year.

    ``by_district`` has one row per district (index ``district``, column
    ``zone``) and one column per plan year: the units that fit on candidate
    parcels available by that year (cumulative), at ``unit_area_m2``, the
    target-weighted average unit size. ``targets`` is the cumulative target
    per year; ``zones`` compares each zone's capacity over the plan with its
    ``[zones]`` target, and ``district_targets`` the ``[districts]`` targets.
    """

    years: list[int]
    unit_area_m2: float
    by_district: pd.DataFrame
    targets: pd.Series
    zones: pd.DataFrame
    district_targets: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))


@dataclass
class CheckReport:
    """What :func:`check` found. ``diagnostics`` holds every finding, in order.

    ``features`` are the parcel features the rules' checks were computed on
    (:func:`siteplan.model.features.compute_features`), kept so that a run that
    goes on to solve need not compute them again.
    """

    scenario_path: Path
    scenario: Scenario | None = None
    layers: LayerCheck | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    capacity: CapacityTable | None = None
    features: pd.DataFrame | None = None

    def of_level(self, *levels: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level in levels]

    @property
    def exit_code(self) -> int:
        """0 clean, 1 warnings (or repairs) only, 2 errors."""
        if self.of_level("error"):
            return 2
        return 1 if self.of_level("repair", "warning") else 0


def capacity_table(parcels: pd.DataFrame, scenario: Scenario) -> CapacityTable:
    """Capacity of the candidate parcels against the targets, per district and year.

    Capacity is parcel area x ``far_max`` / the target-weighted average unit
    size, over the candidate parcels (:func:`~siteplan.inputs.landuse.candidate_mask`), counted from
    their ``available_year`` on. It is an upper bound: the rules (lock-outs,
    project sizes, shares) may use less.

    Parameters
    ----------
    parcels
        Validated parcels in a projected CRS, with ``district`` and ``zone``.
    scenario
        The scenario: years, types, targets, zones and candidate statuses.
    """
    years = scenario.years
    units = {code: np.asarray(t.targets, dtype=float) for code, t in scenario.types.items()}
    floor = sum(units[c] * t.unit_area_m2 for c, t in scenario.types.items())
    total_units = sum(units.values())
    mean_area = float(floor.sum() / total_units.sum()) if total_units.sum() > 0 else float(
        np.mean([t.unit_area_m2 for t in scenario.types.values()])
    )
    cand = parcels.loc[candidate_mask(parcels, scenario)]
    cap_units = cand.geometry.area.to_numpy() * cand["far_max"].to_numpy(dtype=float) / mean_area
    frame = pd.DataFrame({"district": cand["district"].to_numpy(), "zone": cand["zone"].to_numpy(),
                          "year": cand["available_year"].to_numpy(), "units": cap_units})
    rows = {}
    for year in years:
        ready = frame.loc[frame["year"] <= year]
        rows[year] = ready.groupby("district")["units"].sum()
    by_district = pd.DataFrame(rows).fillna(0.0)
    zone_of = frame.drop_duplicates("district").set_index("district")["zone"]
    by_district.insert(0, "zone", zone_of.reindex(by_district.index))
    by_district = by_district.sort_values(["zone", "district"] if len(by_district) else "zone")
    by_district.index.name = "district"
    targets = pd.Series(np.cumsum(total_units), index=years, name="targets")
    last = years[-1]
    zone_cap = by_district.groupby("zone")[last].sum() if len(by_district) else pd.Series(dtype=float)
    zone_targets = pd.Series({z: _plan_total(v) for z, v in scenario.zones.items()}, dtype=float)
    zones = pd.DataFrame({"capacity": zone_cap, "target": zone_targets}).fillna({"capacity": 0.0})
    district_targets = pd.Series({d: _plan_total(v) for d, v in getattr(scenario, "districts", {}).items()}, dtype=float)
    return CapacityTable(years=years, unit_area_m2=mean_area, by_district=by_district, targets=targets,
                         zones=zones, district_targets=district_targets)


def _plan_total(value) -> float:
    return float(sum(value)) if isinstance(value, (list, tuple)) else float(value)


def rule_findings(layers, scenario: Scenario, *, features: pd.DataFrame | None = None) -> list[Diagnostic]:
    """The rules' own checks before solving (on ``features``, computed when not given).

    Settings that contradict each other, so that no plan can meet them
    whatever the parcels (district shares whose minimums add up to more
    than the whole plan), are errors with their fix: ``siteplan run`` stops
    on them. Targets the parcels cannot meet are warnings, since a run
    still returns the best plan and reports the shortfall.
    """
    from .model.features import compute_features
    from .model.build import build_problem

    if features is None:
        features = compute_features(layers, scenario)
    prob = build_problem(features, scenario, layers=layers)
    ctx = prob.context()
    out = []
    for rule in prob.rules:
        check_rule = getattr(rule, "check", None)
        if check_rule is None:
            continue
        for f in check_rule(ctx):
            fix = _contradiction_fix(rule, f.message) if f.level == "error" else None
            where = str(scenario.source) if scenario.source is not None else ""
            if fix is not None:
                out.append(Diagnostic("error", where, f"[rules] {f.rule}: {f.message}; {fix}"))
            else:
                out.append(Diagnostic("warning", where, f"[rules] {f.rule}: {f.message}; "
                                                        "a run returns the best plan and reports the shortfall"))
    return out


def _contradiction_fix(rule, message: str) -> str | None:
    """The fix of a rule finding that no plan can meet, or None when a best plan with a shortfall makes sense."""
    from .model.dispersion import DistrictShare

    m = re.match(r"(\d+) \w+ x min_share", message)
    if isinstance(rule, DistrictShare) and m and "more than the whole plan" in message:
        n = int(m.group(1))
        return (f"the minimum shares cannot add up: lower [rules.district_share] min_share below 1/{n} = "
                f"{1 / n:.4g} (it is {rule.min_share:g})")
    return None


def _outside_notes(scenario: Scenario) -> list[Diagnostic]:
    if scenario.source is None:
        return []
    folder = scenario.source.parent
    outside = [(k, Path(getattr(scenario.layers, k))) for k in LAYER_PATH_KEYS
               if getattr(scenario.layers, k) is not None and not Path(getattr(scenario.layers, k)).is_relative_to(folder)]
    if not outside:
        return []
    where = sorted({str(p.parent) for _, p in outside})
    return [Diagnostic("note", "[layers]", f"{len(outside)} layer path(s) lie outside the scenario's folder "
                                           f"({', '.join(k for k, _ in outside)}, in {', '.join(where)}); "
                                           "allowed, noted for the record")]


def check(scenario_path: str | Path) -> CheckReport:
    """Validate a scenario and every layer it names, without solving.

    Parameters
    ----------
    scenario_path
        The scenario TOML file.

    Returns
    -------
    CheckReport
        Every error, repair, warning and note; per-layer facts; capacity
        against targets (when the layers hold no error).
    """
    report = CheckReport(scenario_path=Path(scenario_path))
    lenient = False
    try:
        scenario = load_scenario(scenario_path)
    except SiteplanError as err:
        report.diagnostics.append(Diagnostic("error", "", str(err)))
        scenario = layers_only_scenario(scenario_path)
        if scenario is None:
            report.diagnostics.append(Diagnostic("note", "", "the layers were not checked: [plan] or [layers] "
                                                             "must be valid first"))
            return report
        lenient = True
        report.diagnostics.append(Diagnostic("note", "", "the layers were checked with [plan], [layers] and "
                                                         "[fields] only; fix the scenario to check the rest"))
    else:
        report.scenario = scenario
    report.diagnostics += _outside_notes(scenario)
    result = check_layers(scenario)
    report.layers = result
    report.diagnostics += result.diagnostics
    if result.layers is not None and not lenient:
        try:
            from .model.features import compute_features

            report.capacity = capacity_table(result.layers.parcels, scenario)
            report.features = compute_features(result.layers, scenario)
            report.diagnostics += rule_findings(result.layers, scenario, features=report.features)
        except SiteplanError as err:
            report.diagnostics.append(Diagnostic("error", "[rules]", str(err)))
    return report


def layers_only_scenario(scenario_path: str | Path) -> Scenario | None:
    """A scenario of the file's ``[plan]``, ``[layers]`` and ``[fields]`` alone, to check layers by.

    Used when the full scenario is invalid, so that ``siteplan check`` can
    still report the layers' faults. Unknown keys in those sections are
    left out. Returns None when even these sections are unusable.
    """
    import tomllib

    from pydantic import ValidationError

    from .inputs.scenario import parse_scenario

    path = Path(scenario_path)
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    data = None
    # A file saved as GBK (the fault is reported already) still names its
    # layers: read it as GBK, else byte by byte, to check them anyway.
    for codec in ("utf-8", "gb18030", "latin-1"):
        try:
            data = tomllib.loads(raw.decode(codec).removeprefix("\ufeff"))
            break
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
    if data is None:
        return None
    plan = data.get("plan")
    if not isinstance(plan, dict):
        return None
    first, last = plan.get("first_year"), plan.get("last_year")
    n_years = last - first + 1 if isinstance(first, int) and isinstance(last, int) and 0 < last - first + 1 <= 31 else 1
    core = {key: data[key] for key in ("plan", "layers", "fields") if key in data}
    core["types"] = {"layer_check": {"label": "layer check", "unit_area_m2": 50.0, "targets": [0] * n_years}}
    for _ in range(8):
        try:
            Scenario.model_validate(core)
        except ValidationError as err:
            if not _drop_bad_keys(core, err):
                return None
            continue
        try:
            scenario = parse_scenario(core, base_dir=path.parent, where=str(path))
        except SiteplanError:
            return None
        scenario._source = path.resolve()
        return scenario
    return None


def _drop_bad_keys(data: dict, err) -> bool:
    """Delete the keys a validation error points at, in [layers] and [fields]; False if none could go."""
    dropped = False
    for e in err.errors():
        loc = e["loc"]
        if len(loc) < 2 or loc[0] not in ("layers", "fields") or e["type"] == "missing":
            continue
        parent = data
        for part in loc[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and loc[-1] in parent:
            del parent[loc[-1]]
            dropped = True
    return dropped


# -- the printed report ------------------------------------------------------


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - cell_len(text))
    return gap + text if right else text + gap


def _table(header: list[str], rows: list[list[str]], *, right_from: int = 1) -> list[str]:
    widths = [max(cell_len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [_pad(c, w, right=i >= right_from) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _shown(path: Path | str, base: Path | None) -> str:
    text = str(path)
    if base is not None and text:
        try:
            rel = os.path.relpath(text, base)
            if len(rel) < len(text):
                return rel
        except ValueError:
            pass
    return text


def format_report(report: CheckReport, *, base: Path | None = None, width: int | None = None) -> str:
    """The report as plain text, for the terminal.

    Parameters
    ----------
    report
        What :func:`check` returned.
    base
        Folder that file paths are shown relative to (default: the
        current folder).
    width
        The terminal's width: a layer table wider than that is printed as
        two lines per layer instead (the file, then what was read), so no
        row wraps in the middle (default: no limit).
    """
    base = Path.cwd() if base is None else base
    out = [f"siteplan check: {_shown(report.scenario_path, base)}"]
    s = report.scenario
    if s is not None:
        out.append(f"Scenario {s.plan.name}: {s.plan.first_year}-{s.plan.last_year}, {len(s.types)} housing type(s), "
                   f"{s.total_target():,} units")
    if report.layers is not None and report.layers.crs is not None:
        out.append(f"Working CRS {crs_label(report.layers.crs)}")
    if report.layers is not None and report.layers.info:
        out += ["", "Layers"]
        rows = []
        for kind, info in report.layers.info.items():
            kept = f"{info.kept:,}" if 0 < info.kept != info.features and kind != "population" else ""
            count = "-" if kind == "population" else f"{info.features:,}" + (f" ({kept} kept)" if kept else "")
            types = ", ".join(f"{k} {v:,}" if kind != "population" else k for k, v in info.geometry_types.items())
            crs = info.crs.split(" (")[0] if info.crs.startswith("EPSG:") else info.crs
            rows.append([kind, _shown(info.path, base), info.driver or "-", info.encoding or "-",
                         crs or "-", count, types or "-"])
        table = _table(["layer", "file", "driver", "encoding", "CRS", "features", "geometry"], rows, right_from=99)
        if width is None or max(cell_len(line) for line in table) <= width:
            out += table
        else:  # too wide for the terminal: the file on one line, what was read under it
            name_w = max(cell_len(r[0]) for r in rows)
            for kind, path, driver, encoding, crs, count, types in rows:
                out.append(f"  {_pad(kind, name_w)}  {path}")
                one_type = ", " not in types and types.endswith(" " + count.split(" ")[0])
                shape = types if one_type else f"{count} features: {types}" if count != "-" else types
                read = [driver, encoding, crs, shape]  # e.g. "Polygon 3,000": one geometry type, all the features
                out.append(f"  {' ' * name_w}  " + ", ".join(x for x in read if x and x != "-"))
        out += _location_lines(report.layers.info)
    out += findings_lines(report, base=base)
    if report.capacity is not None:
        out += ["", *_capacity_lines(report.capacity)]
    code = report.exit_code
    n_err, n_warn = len(report.of_level("error")), len(report.of_level("repair", "warning"))
    verdict = {0: "clean", 1: f"{n_warn} warning(s), no error", 2: f"{n_err} error(s), {n_warn} warning(s)"}[code]
    out += ["", f"Result: {verdict} (exit code {code})"]
    return "\n".join(out)


def _location_lines(info: dict) -> list[str]:
    """Datum conversions and how the parcels' districts were found, under the layer table."""
    out = [f"  {kind}: {i.datum}" for kind, i in info.items() if getattr(i, "datum", "")]
    loc = getattr(info.get("parcels"), "location", None)
    if loc:
        out.append("  parcel districts: " + ", ".join(f"{n:,} {how}" for how, n in loc.items() if n or how == "as named"))
    return out


_SECTIONS = {
    "repair": "Repaired",
    "error": "Errors (fix these; siteplan run stops on them)",
    "warning": "Warnings",
    "note": "Notes",
}


def findings_lines(report: CheckReport, levels: tuple[str, ...] = ("repair", "error", "warning", "note"), *,
                   base: Path | None = None) -> list[str]:
    """The report's findings of ``levels``, one section per level, as :func:`format_report` prints them.

    ``siteplan run`` prints its errors and warnings with this, so that they
    read the same as in ``siteplan check``.
    """
    base = Path.cwd() if base is None else base
    out = []
    for level in levels:
        items = report.of_level(level)
        if not items:
            continue
        out += ["", f"{_SECTIONS[level]}: {len(items)}"]
        for d in items:
            where = _shown(d.file, base) if d.file else ""
            first, *more = d.message.splitlines() or [""]
            out.append(f"  - {where + ': ' if where else ''}{first}")
            out += [f"    {line.strip()}" for line in more]
    return out


class CheckError(SiteplanError, ValueError):
    """The checks before a run found errors; ``report`` holds every finding."""

    def __init__(self, report: CheckReport):
        self.report = report
        n = len(report.of_level("error"))
        head = f"{report.scenario_path}: {n} error(s) found before solving; fix them and run again (nothing was written)"
        super().__init__("\n".join([head, *findings_lines(report, ("error",))[2:]]))


def _capacity_lines(cap: CapacityTable) -> list[str]:
    years = cap.years
    lines = [f"Capacity against targets, in units of {cap.unit_area_m2:,.1f} m2 (the targets' average), on "
             "candidate parcels available by each year (cumulative)"]
    rows = []
    for district, r in cap.by_district.iterrows():
        target = cap.district_targets.get(district)
        rows.append([str(district), str(r["zone"])] + [f"{r[y]:,.0f}" for y in years]
                    + [f"{target:,.0f}" if target is not None and not np.isnan(target) else "-"])
    total = cap.by_district[years].sum() if len(cap.by_district) else pd.Series(0.0, index=years)
    rows.append(["all", ""] + [f"{total[y]:,.0f}" + (" !" if total[y] < cap.targets[y] else "") for y in years] + [""])
    rows.append(["targets", ""] + [f"{cap.targets[y]:,.0f}" for y in years] + [""])
    lines += _table(["district", "zone", *map(str, years), "target"], rows, right_from=2)
    if len(cap.zones):
        zrows = []
        for zone, r in cap.zones.iterrows():
            short = not np.isnan(r["target"]) and r["capacity"] < r["target"]
            zrows.append([str(zone), f"{r['capacity']:,.0f}",
                          "-" if np.isnan(r["target"]) else f"{r['target']:,.0f}", "short" if short else ""])
        lines += ["", "Capacity against zone targets over the plan"]
        lines += _table(["zone", "capacity", "target", ""], zrows, right_from=1)
    if (total < cap.targets).any():
        lines.append("  ! capacity below the cumulative targets")
    return lines
