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

The full reference is in the README.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import logging
import re
import tomllib
from pathlib import Path
from types import UnionType
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import ScenarioError
from ..housing import CATALOGUE, DORMITORY_MIN_M2_PER_PERSON

__all__ = [
    "Scenario",
    "PlanSettings",
    "LayerPaths",
    "FieldMaps",
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
    "load_scenario",
    "parse_scenario",
]

log = logging.getLogger(__name__)

Share = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]
YearlyOrTotal = NonNegInt | list[NonNegInt]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanSettings(_Section):
    """``[plan]``: what the plan is and where it lives."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=80)
    title: str = ""
    first_year: int = Field(ge=1990, le=2100)
    last_year: int = Field(ge=1990, le=2100)
    crs: str = "EPSG:4549"
    net_to_gross: float = Field(default=0.8, gt=0.0, le=1.0)
    candidate_status: list[str] = ["reserve"]

    @model_validator(mode="after")
    def _years_in_order(self) -> PlanSettings:
        if self.last_year < self.first_year:
            raise ValueError(
                f"last_year {self.last_year} is before first_year {self.first_year}; "
                "swap them"
            )
        if self.last_year - self.first_year > 30:
            raise ValueError("a plan may span at most 30 years")
        return self

    @property
    def years(self) -> list[int]:
        """The plan years, first to last."""
        return list(range(self.first_year, self.last_year + 1))


VectorLayer = Literal["parcels", "districts", "stations", "lines", "services", "parks", "constraints"]

#: The keys of ``[layers]`` that are file paths.
LAYER_PATH_KEYS = ("parcels", "districts", "stations", "lines", "services", "parks", "constraints", "population")


class LayerPaths(_Section):
    """``[layers]``: paths of the GIS layers, relative to the scenario file.

    Three optional tables say what a file does not say itself (or says
    wrong), per vector layer::

        [layers.encoding]        # text encoding of a shapefile without (or with a wrong) .cpg
        parcels = "GBK"
        [layers.crs]             # the layer's real CRS, when the .prj is missing or wrong
        parcels = "EPSG:4528"
        [layers.layer]           # which layer of a file that holds several (GeoPackage, FileGDB)
        parcels = "地块"
    """

    parcels: Path
    districts: Path
    stations: Path
    lines: Path
    services: Path | None = None
    parks: Path | None = None
    constraints: Path | None = None
    population: Path | None = None
    encoding: dict[VectorLayer, str] = {}
    crs: dict[VectorLayer, str] = {}
    layer: dict[VectorLayer, str] = {}

    @field_validator("encoding")
    @classmethod
    def _known_encodings(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, name in value.items():
            key = name.strip().lower()
            if key in ("gbk", "gb2312", "gb18030", "cp936", "936", "utf-8", "utf8", "big5"):
                continue
            try:
                codecs.lookup(key)
            except LookupError:
                raise ValueError(f"{kind} = {name!r} is not an encoding Python knows; use e.g. \"GBK\" or \"UTF-8\"") from None
        return value

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, value: dict[str, str]) -> dict[str, str]:
        from pyproj import CRS

        for kind, text in value.items():
            try:
                CRS.from_user_input(text)
            except Exception:
                raise ValueError(f"{kind} = {text!r} is not a CRS pyproj knows; use e.g. \"EPSG:4549\"") from None
        return value

    @model_validator(mode="after")
    def _options_name_given_layers(self) -> LayerPaths:
        for table in ("encoding", "crs", "layer"):
            for kind in getattr(self, table):
                if getattr(self, kind) is None:
                    raise ValueError(f"[layers.{table}] names {kind}, but [layers] gives no {kind} file; add "
                                     f"{kind} = \"<file>\" to [layers], or remove {kind} from [layers.{table}]")
        return self


class FieldMaps(_Section):
    """``[fields.<layer>]``: siteplan's field name = the layer's own column."""

    parcels: dict[str, str] = {}
    districts: dict[str, str] = {}
    stations: dict[str, str] = {}
    lines: dict[str, str] = {}
    services: dict[str, str] = {}
    parks: dict[str, str] = {}
    constraints: dict[str, str] = {}


class TypeSettings(_Section):
    """``[types.<code>]``: one housing type, its unit size and yearly targets."""

    label: str | None = None
    unit_area_m2: float = Field(gt=0.0, le=500.0)
    targets: list[NonNegInt]
    allow_oversize: bool = False
    persons_per_unit: float | None = Field(default=None, gt=0.0)
    cost_yuan_per_m2: float | None = Field(default=None, ge=0.0)


class ProjectSizeRule(_Section):
    """``[rules.project_size]``: units per project (per used parcel)."""

    enabled: bool = True
    min_units: NonNegInt = 0
    max_units: NonNegInt | None = None

    @model_validator(mode="after")
    def _min_below_max(self) -> ProjectSizeRule:
        if self.max_units is not None and self.min_units > self.max_units:
            raise ValueError(
                f"min_units {self.min_units} is above max_units {self.max_units}; lower min_units or raise "
                "max_units, so that a project can have a size"
            )
        return self


class TransitRule(_Section):
    """``[rules.transit]``: a share of units near open metro stations."""

    enabled: bool = True
    share: Share = 0.5
    within_m: float = Field(default=800.0, gt=0.0, le=10_000.0)
    lead_years: NonNegInt = 0
    share_by_type: dict[str, Share] = {}


class ZoneTargetRule(_Section):
    """``[rules.zone_targets]``: how the ``[zones]`` and ``[districts]`` targets bind."""

    enabled: bool = True
    mode: Literal["at_least", "exact"] = "at_least"


class YearlyTargetRule(_Section):
    """``[rules.yearly_targets]``: how the per-type yearly targets bind."""

    mode: Literal["exact", "at_least"] = "exact"


class PlotRatioRule(_Section):
    """``[rules.plot_ratio]``: types that may use a parcel's ``far_upper``."""

    upper_for: list[str] = []


class DistrictShareRule(_Section):
    """``[rules.district_share]``: each district's share of the plan's units."""

    enabled: bool = True
    min_share: Share = 0.0
    max_share: Share = 1.0
    per_type: bool = False

    @model_validator(mode="after")
    def _min_below_max(self) -> DistrictShareRule:
        if self.min_share > self.max_share:
            raise ValueError(f"min_share {self.min_share} is above max_share {self.max_share}")
        return self


class RadiusCapRule(_Section):
    """``[rules.radius_cap]``: units within a circle around any used parcel."""

    enabled: bool = True
    radius_m: float = Field(default=1000.0, gt=0.0, le=20_000.0)
    max_units: PositiveInt = 4000


class MaxProjectsRule(_Section):
    """``[rules.max_projects]``: new projects per district and year."""

    enabled: bool = True
    per_district_year: PositiveInt = 3


class ServiceRule(_Section):
    """``[rules.services]``: a share of units within walking distance of services."""

    enabled: bool = True
    share: Share = 0.5
    within_m: float = Field(default=1000.0, gt=0.0, le=10_000.0)
    groups: list[Literal["school", "clinic", "market", "park"]] = ["school", "clinic"]
    per_year: bool = False


class ParkRule(_Section):
    """``[rules.parks]``: worker housing near industrial parks."""

    enabled: bool = True
    types: list[str] = ["public_rental", "talent_apartment"]
    share: Share = 0.3
    within_m: float = Field(default=3000.0, gt=0.0, le=20_000.0)
    proportional: bool = False


class InclusionaryRule(_Section):
    """``[rules.inclusionary]``: the affordable share inside commercial projects."""

    enabled: bool = True
    status: str = "commercial"
    ratio: Share = 0.05
    max_ratio: Share | None = None
    types: list[str] = ["public_rental"]

    @model_validator(mode="after")
    def _ratio_order(self) -> InclusionaryRule:
        if self.max_ratio is not None and self.max_ratio < self.ratio:
            raise ValueError(f"max_ratio {self.max_ratio} is below ratio {self.ratio}")
        return self


class LockInRule(_Section):
    """``[rules.lock_in]``: parcels that must be supplied."""

    parcel_ids: list[str] = []
    metro_depot: bool = True
    where: dict[str, list[str | int | float | bool]] = {}


class LockOutRule(_Section):
    """``[rules.lock_out]``: parcels that may not be used."""

    parcel_ids: list[str] = []
    where: dict[str, list[str | int | float | bool]] = {}
    constraint_kinds: list[str] = ["ecological_redline", "flood_zone"]
    min_overlap: Share = 0.0


class BudgetRule(_Section):
    """``[rules.budget]``: yearly investment limits, in 亿元 (100 million yuan)."""

    enabled: bool = True
    per_year_yi_yuan: list[Annotated[float, Field(gt=0.0)]]


class Rules(_Section):
    """``[rules]``: the planning rules and their parameters."""

    yearly_targets: YearlyTargetRule = YearlyTargetRule()
    plot_ratio: PlotRatioRule = PlotRatioRule()
    zone_targets: ZoneTargetRule = ZoneTargetRule()
    district_share: DistrictShareRule | None = None
    project_size: ProjectSizeRule = ProjectSizeRule()
    radius_cap: RadiusCapRule | None = None
    max_projects: MaxProjectsRule | None = None
    transit: TransitRule = TransitRule()
    services: ServiceRule | None = None
    parks: ParkRule | None = None
    inclusionary: InclusionaryRule | None = None
    lock_in: LockInRule = LockInRule()
    lock_out: LockOutRule = LockOutRule()
    budget: BudgetRule | None = None


class Suitability(_Section):
    """``[suitability]``: how parcels are scored (see :mod:`siteplan.model.features`)."""

    walk_m: float = Field(default=1000.0, gt=0.0)
    transit_reach_m: float = Field(default=2000.0, gt=0.0)
    park_reach_m: float = Field(default=5000.0, gt=0.0)
    weights: dict[Literal["transit", "services", "population", "parks"], float] = {
        "transit": 0.35,
        "services": 0.30,
        "population": 0.15,
        "parks": 0.20,
    }

    @field_validator("weights")
    @classmethod
    def _weights_non_negative(cls, w: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in w.items() if v < 0}
        if bad:
            raise ValueError(f"weights must be >= 0, got {bad}")
        if w and sum(w.values()) <= 0:
            raise ValueError("at least one weight must be above 0")
        return w


class SolverSettings(_Section):
    """``[solver]``: which solver, and how long and how closely it solves."""

    name: Literal["highs", "cbc"] = "highs"
    time_limit_s: float = Field(default=120.0, gt=0.0)
    gap: float = Field(default=0.01, ge=0.0, lt=1.0)
    threads: int | None = Field(default=None, ge=1)
    seed: int = 0
    shortfall_penalty: float = Field(default=1000.0, gt=0.0)


class AlternativesSettings(_Section):
    """``[alternatives]``: near-optimal plans that differ (see :mod:`siteplan.solve.alternatives`)."""

    count: Annotated[int, Field(ge=1, le=20)] = 1
    within: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05
    differ: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3


class MapSettings(_Section):
    """``[map]``: the basemap of ``map.html`` (see :func:`siteplan.outputs.webmap.tile_choice`).

    ``tiles`` is ``"none"`` (default: no tiles, the page makes no network
    request), ``"osm"`` (OpenStreetMap), ``"tianditu"`` (天地图, needs a
    key) or ``"gaode"`` (高德; displayed geometry is shifted to GCJ-02,
    exports never are). ``tianditu_key`` may be left out and given in the
    environment variable ``SITEPLAN_TIANDITU_KEY`` (or ``TIANDITU_KEY``)
    instead, which keeps it out of a shared scenario file.
    """

    tiles: Literal["none", "osm", "tianditu", "gaode"] = "none"
    tianditu_key: str | None = None

    @field_validator("tiles", mode="before")
    @classmethod
    def _tiles_name(cls, value: object) -> object:
        names = ("none", "osm", "tianditu", "gaode")
        if isinstance(value, str) and value.strip().lower() in names:
            return value.strip().lower()
        raise ValueError(f"unknown map tiles {value!r}; use one of {', '.join(repr(n) for n in names)}")

    @field_validator("tianditu_key", mode="before")
    @classmethod
    def _key_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        key = value.strip()
        if not key:
            return None  # empty: take the key from the environment
        if not re.fullmatch(r"[A-Za-z0-9]{8,64}", key):
            raise ValueError("a Tianditu key is 8-64 letters and digits (usually 32 hex digits); copy it from the Tianditu console")
        return key


class Scenario(_Section):
    """A validated scenario. Build it with :func:`load_scenario`."""

    plan: PlanSettings
    layers: LayerPaths
    fields: FieldMaps = FieldMaps()
    types: dict[str, TypeSettings]
    zones: dict[str, YearlyOrTotal] = {}
    districts: dict[str, YearlyOrTotal] = {}
    rules: Rules = Rules()
    suitability: Suitability = Suitability()
    solver: SolverSettings = SolverSettings()
    alternatives: AlternativesSettings = AlternativesSettings()
    map: MapSettings = MapSettings()

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
