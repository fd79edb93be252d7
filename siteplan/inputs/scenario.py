"""The scenario file: the single source of a run's settings.

A scenario is a TOML file, validated with pydantic. Unknown or misspelt keys
are errors that name the key, and every path is resolved against the
scenario file's own folder. A minimal scenario::

    [plan]
    name = "demo-2016-2020"
    first_year = 2016
    last_year = 2020
    crs = "EPSG:4549"

    [layers]
    parcels = "../layers/parcels.gpkg"
    districts = "../layers/districts.gpkg"
    stations = "../layers/stations.gpkg"
    lines = "../layers/lines.gpkg"

    [fields.parcels]          # siteplan's name = your column
    far_max = "RJL"

    [types.public_rental]
    unit_area_m2 = 45
    targets = [4000, 4500, 5000, 5500, 6000]   # one per plan year

The full reference is in the README. The sections are pydantic models in
:mod:`siteplan.inputs.settings`; this module puts them together
(:class:`Scenario`), reads the file and words its errors.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import tomllib
from pathlib import Path
from types import UnionType
from typing import Union, get_args, get_origin

from pydantic import (
    BaseModel,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from ..errors import ScenarioError
from ..housing import CATALOGUE, DORMITORY_MIN_M2_PER_PERSON
from .settings import (
    LAYER_PATH_KEYS,
    AlternativesSettings,
    BudgetRule,
    Defaults,
    DistrictShareRule,
    FieldMaps,
    InclusionaryRule,
    LayerPaths,
    LockInRule,
    LockOutRule,
    MapSettings,
    MaxProjectsRule,
    NonNegInt,
    OutputSettings,
    ParkRule,
    PlanSettings,
    PlotRatioRule,
    PositiveInt,
    ProjectSizeRule,
    RadiusCapRule,
    Rules,
    ServiceRule,
    Share,
    SolverSettings,
    Suitability,
    TransitRule,
    TypeSettings,
    VectorLayer,
    YearlyOrTotal,
    YearlyTargetRule,
    ZoneTargetRule,
    _Section,
)

__all__ = [
    "Scenario",
    "PlanSettings",
    "LayerPaths",
    "FieldMaps",
    "Defaults",
    "TypeSettings",
    "Rules",
    "ProjectSizeRule",
    "TransitRule",
    "ZoneTargetRule",
    "YearlyTargetRule",
    "PlotRatioRule",
    "DistrictShareRule",
    "RadiusCapRule",
    "MaxProjectsRule",
    "ServiceRule",
    "ParkRule",
    "InclusionaryRule",
    "LockInRule",
    "LockOutRule",
    "BudgetRule",
    "Suitability",
    "SolverSettings",
    "MapSettings",
    "OutputSettings",
    "load_scenario",
    "parse_scenario",
]

# Importable from here as before the split (defined in .settings).
__all__ += ["Share", "NonNegInt", "PositiveInt", "VectorLayer"]

log = logging.getLogger(__name__)


class Scenario(_Section):
    """A validated scenario. Build it with :func:`load_scenario`."""

    plan: PlanSettings
    layers: LayerPaths
    fields: FieldMaps = FieldMaps()
    defaults: Defaults = Defaults()
    types: dict[str, TypeSettings]
    zones: dict[str, YearlyOrTotal] = {}
    districts: dict[str, YearlyOrTotal] = {}
    zone_districts: dict[str, list[str]] = {}
    rules: Rules = Rules()
    suitability: Suitability = Suitability()
    solver: SolverSettings = SolverSettings()
    alternatives: AlternativesSettings = AlternativesSettings()
    map: MapSettings = MapSettings()
    outputs: OutputSettings = OutputSettings()

    _source: Path | None = PrivateAttr(default=None)
    _sha256: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _check_types(self) -> Scenario:
        problems: list[str] = []  # every problem across sections, reported together
        if not self.types:
            problems.append("[types] is empty: define at least one housing type")
        n_years = len(self.plan.years)
        for code, t in self.types.items():
            if len(t.targets) != n_years:
                problems.append(
                    f"types.{code}.targets has {len(t.targets)} values but the plan "
                    f"has {n_years} years ({self.plan.first_year}-{self.plan.last_year}); "
                    "give one target per year"
                )
            known = CATALOGUE.get(code)
            if known is None and not t.label:
                problems.append(
                    f"types.{code} is not a known type ({', '.join(CATALOGUE)}); "
                    "give it a label to define a new one"
                )
            cap = known.max_unit_area_m2 if known else None
            if cap is not None and t.unit_area_m2 > cap and not t.allow_oversize:
                problems.append(
                    f"types.{code}.unit_area_m2 = {t.unit_area_m2:g} m2 is above the "
                    f"policy cap of {cap:g} m2 for {known.label_zh}; lower it or set "
                    "allow_oversize = true"
                )
            if t.persons_per_unit and t.unit_area_m2 / t.persons_per_unit < DORMITORY_MIN_M2_PER_PERSON:
                problems.append(
                    f"types.{code}: {t.unit_area_m2:g} m2 for {t.persons_per_unit:g} persons is "
                    f"{t.unit_area_m2 / t.persons_per_unit:.1f} m2 each, below the dormitory minimum of "
                    f"{DORMITORY_MIN_M2_PER_PERSON:g} m2 per person; raise unit_area_m2 or lower persons_per_unit"
                )
        for where, values in (("zones", self.zones), ("districts", self.districts)):
            for name, v in values.items():
                if isinstance(v, list) and len(v) != n_years:
                    problems.append(f"{where}.{name} has {len(v)} yearly values but the plan has {n_years} years; "
                                    "give one value per year, or one number for the whole plan")
        zone_of: dict[str, str] = {}
        for zone, names in self.zone_districts.items():
            for name in names:
                if zone_of.get(name, zone) != zone:
                    problems.append(f"zone_districts: district {name!r} is in two zones, {zone_of[name]!r} and "
                                    f"{zone!r}; list each district in one zone only")
                zone_of.setdefault(name, zone)
        # Type codes named in rules must be defined (defaults that name
        # types the scenario lacks are simply not used).
        used = {"rules.transit.share_by_type": list(self.rules.transit.share_by_type)}
        for key in ("plot_ratio", "parks", "inclusionary"):
            section = getattr(self.rules, key)
            field_name = "upper_for" if key == "plot_ratio" else "types"
            if section is not None and field_name in section.model_fields_set:
                used[f"rules.{key}.{field_name}"] = getattr(section, field_name)
        for where, codes in used.items():
            missing = [c for c in codes if c not in self.types]
            if missing:
                problems.append(f"{where} names {missing}, which [types] does not define; define them or remove them")
        if self.rules.budget is not None:
            if len(self.rules.budget.per_year_yi_yuan) != n_years:
                problems.append(f"rules.budget.per_year_yi_yuan has {len(self.rules.budget.per_year_yi_yuan)} values "
                                f"for {n_years} plan years; give one budget per year")
            no_cost = [c for c, t in self.types.items() if t.cost_yuan_per_m2 is None]
            if no_cost:
                problems.append(f"rules.budget needs types.<code>.cost_yuan_per_m2 for {no_cost}; give each type "
                                "its cost, or switch the budget rule off")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- derived views -----------------------------------------------------
    @property
    def years(self) -> list[int]:
        """The plan years."""
        return self.plan.years

    @property
    def source(self) -> Path | None:
        """The scenario file this was read from, if any."""
        return self._source

    @property
    def sha256(self) -> str:
        """SHA-256 of the scenario file's bytes ("" if not read from a file)."""
        return self._sha256

    def type_label(self, code: str, lang: str = "zh") -> str:
        """The display name of a housing type."""
        t = self.types[code]
        known = CATALOGUE.get(code)
        if t.label:
            return t.label
        return known.label_zh if lang == "zh" else known.label_en  # type: ignore[union-attr]

    def targets_table(self) -> dict[tuple[str, int], int]:
        """Targets as ``{(type, year): units}``."""
        return {
            (code, year): n
            for code, t in self.types.items()
            for year, n in zip(self.years, t.targets)
        }

    def total_target(self) -> int:
        """All units the plan must place."""
        return sum(sum(t.targets) for t in self.types.values())


def _keys_at(loc: tuple) -> list[str]:
    """The keys the scenario allows in the table at ``loc`` (empty if unknown)."""
    ann: object = Scenario
    for part in loc:
        ann = _model_or_dict(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            info = ann.model_fields.get(str(part))
            if info is None:
                return []
            ann = info.annotation
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
        else:
            return []
    ann = _model_or_dict(ann)
    return list(ann.model_fields) if isinstance(ann, type) and issubclass(ann, BaseModel) else []


def _model_or_dict(ann: object) -> object:
    """``X`` from ``X | None``, for models and dicts."""
    if get_origin(ann) in (Union, UnionType):
        for arg in get_args(ann):
            if (isinstance(arg, type) and issubclass(arg, BaseModel)) or get_origin(arg) is dict:
                return arg
    return ann


def _target_year(loc: tuple, data: dict | None) -> int | None:
    """The plan year of ``types.<code>.targets.<i>``, from the document's [plan] first_year."""
    plan = data.get("plan") if isinstance(data, dict) else None
    first = plan.get("first_year") if isinstance(plan, dict) else None
    if isinstance(first, int) and len(loc) == 4 and loc[0] == "types" and loc[2] == "targets" and isinstance(loc[3], int):
        return first + loc[3]
    return None


def _format_validation_error(err: ValidationError, where: str, data: dict | None = None) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        year = _target_year(tuple(e["loc"]), data)
        if not loc:
            # Checks across sections name their own keys, one problem a line.
            lines += [f"  - {m}" for m in e["msg"].removeprefix("Value error, ").splitlines()]
            continue
        if year is not None and e["type"] in ("greater_than_equal", "int_parsing", "int_type", "int_from_float"):
            code = e["loc"][1]
            lines.append(f"  - types.{code}.targets: the {year} target is {_plain(e.get('input'))}, not a whole number "
                         f"of 0 or more; write the units of {code} to place in {year}, e.g. 0")
            continue
        if e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(e["loc"][-1]), _keys_at(tuple(e["loc"][:-1])), n=2, cutoff=0.6)
            did = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            msg = f"unknown key; {did}check its spelling against the README's scenario reference"
        elif e["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  - {loc}: {msg}")
    return "\n".join([f"{where}: {len(lines)} problem(s) in the scenario", *lines])


def _plain(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def parse_scenario(data: dict, *, base_dir: Path | None = None, where: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (as read from TOML).

    Parameters
    ----------
    data
        The parsed TOML document.
    base_dir
        Folder that relative layer paths are resolved against.
    where
        Name of the source used in error messages.

    Raises
    ------
    ScenarioError
        With one line per invalid or unknown key.
    """
    from .targets import inline_target_files  # [targets] files fill [types] targets, [zones], [districts]

    data = inline_target_files(data, base_dir=base_dir, where=where)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_validation_error(err, where, data)) from None
    if base_dir is not None:
        resolved = {}
        for key in LAYER_PATH_KEYS:
            value = getattr(scenario.layers, key)
            if value is None:
                continue
            try:
                path = Path(value)
                full = (base_dir / path).resolve() if not path.is_absolute() else path
                inside = full.is_relative_to(base_dir.resolve())
            except (ValueError, OSError) as err:
                raise ScenarioError(f"{where}: layers.{key} = {str(value)!r} is not a usable path ({err})") from None
            if not inside:
                log.info("layers.%s points outside the scenario's folder: %s", key, full)
            resolved[key] = full
        scenario = scenario.model_copy(
            update={"layers": scenario.layers.model_copy(update=resolved)}
        )
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path
        The scenario file. Layer paths inside it are relative to its folder.

    Returns
    -------
    Scenario
        With absolute layer paths, and the file's path and hash attached.

    Raises
    ------
    ScenarioError
        If the file is missing, not UTF-8, not TOML, or invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: scenario file not found; check the path")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read the scenario file ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(
            f"{path}: not UTF-8 (byte {err.start}); save the file as UTF-8 "
            "(in Notepad: Save As, Encoding: UTF-8)"
        ) from None
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {err}; correct the file there (a table is written [name], "
                            "a setting key = value, text in double quotes)") from None
    scenario = parse_scenario(data, base_dir=path.parent, where=str(path))
    scenario._source = path.resolve()
    scenario._sha256 = hashlib.sha256(raw).hexdigest()
    return scenario
