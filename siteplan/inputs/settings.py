"""The scenario's sections: one pydantic model per table of the scenario file.

Every model forbids unknown keys and is frozen. :class:`siteplan.inputs.scenario.Scenario`
puts them together, checks across them, and reads them from the TOML file.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

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
    candidate_land_use: list[str] = []  # e.g. ["R2", "0701"]: land-use classes that may be candidates (default: any)
    inclusionary_land_use: list[str] = []  # e.g. ["RB", "B1"]: land uses whose parcels host inclusionary units
    max_parcel_ha: float = Field(default=50.0, gt=0.0)  # larger "parcels" are named in a warning (land-use zones?)

    @field_validator("candidate_land_use", "inclusionary_land_use")
    @classmethod
    def _known_land_uses(cls, value: list[str]) -> list[str]:
        _check_land_use_patterns(value)
        return value

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
        [layers.datum]           # "gcj02": lon/lat digitised from Gaode/AMap, converted to WGS84 on reading
        stations = "gcj02"
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
    datum: dict[VectorLayer, str] = {}

    @field_validator("datum")
    @classmethod
    def _known_datums(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for kind, name in value.items():
            key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
            if key not in ("gcj02", "wgs84"):
                raise ValueError(f"{kind} = {name!r} is not a datum siteplan converts; use \"gcj02\" (Gaode/AMap, "
                                 "Tencent coordinates) or \"wgs84\" (no conversion)")
            out[kind] = key
        return out

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
        for table in ("encoding", "crs", "layer", "datum"):
            for kind in getattr(self, table):
                if getattr(self, kind) is None:
                    raise ValueError(f"[layers.{table}] names {kind}, but [layers] gives no {kind} file; add "
                                     f"{kind} = \"<file>\" to [layers], or remove {kind} from [layers.{table}]")
        return self


class Constant(_Section):
    """``field = { value = "R2" }`` in ``[fields.<layer>]``: one text value for every feature."""

    value: str | bool | int | float


#: A ``[fields.<layer>]`` entry: a column name, or a constant (a number or true/false, or ``{ value = ... }``).
FieldValue = str | bool | int | float | Constant


class FieldMaps(_Section):
    """``[fields.<layer>]``: siteplan's field name = the layer's own column, or a constant.

    ``far_max = "RJL"`` reads the column RJL; ``far_max = 2.5`` gives every
    feature 2.5; ``land_use = { value = "R2" }`` gives every feature the
    text R2.
    """

    parcels: dict[str, FieldValue] = {}
    districts: dict[str, FieldValue] = {}
    stations: dict[str, FieldValue] = {}
    lines: dict[str, FieldValue] = {}
    services: dict[str, FieldValue] = {}
    parks: dict[str, FieldValue] = {}
    constraints: dict[str, FieldValue] = {}


def _check_land_use_patterns(patterns) -> None:
    """A land-use pattern must be a code or a class name of the shipped tables."""
    from .landuse import _pattern_codes

    bad = [p for p in patterns if not _pattern_codes(p)]
    if bad:
        raise ValueError(f"{bad} {'is' if len(bad) == 1 else 'are'} neither a land-use code (such as R2, RB, 0701) "
                         "nor a class name of GB 50137-2011 or the 2020 用地用海分类 (such as 二类居住用地, 商住混合用地); "
                         "correct the spelling")


FarValue = Annotated[float, Field(gt=0.0, le=20.0)]
YearValue = Annotated[int, Field(ge=1900, le=2100)]


class Defaults(_Section):
    """``[defaults]``: parcel values used where a parcel's own value is missing.

    A scalar is the value for every parcel without one
    (``available_year = 2016``); a table gives values by land-use class,
    the longest matching code winning::

        [defaults.far_max]
        R2 = 2.5
        RB = 3.0
        R22 = 1.2      # R22 parcels take 1.2, other R2 parcels 2.5
    """

    far_max: FarValue | dict[str, FarValue] | None = None
    far_upper: FarValue | dict[str, FarValue] | None = None
    available_year: YearValue | dict[str, YearValue] | None = None
    status: str | dict[str, str] | None = None
    metro_depot: bool | dict[str, bool] | None = None

    @field_validator("far_max", "far_upper", "available_year", "status", "metro_depot")
    @classmethod
    def _known_classes(cls, value):
        if isinstance(value, dict):
            _check_land_use_patterns(list(value))
        return value


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
    """``[rules.radius_cap]``: at most ``max_units`` units in a disc of ``radius_m``.

    ``centres = "anywhere"``: in any disc at all (the focal sum a planner
    runs); ``"projects"``: only in the circles around used parcels, the
    weaker rule (it implies the cap for discs of half the radius). See
    :class:`siteplan.model.dispersion.RadiusCap`.
    """

    enabled: bool = True
    radius_m: float = Field(default=1000.0, gt=0.0, le=20_000.0)
    max_units: PositiveInt = 4000
    centres: Literal["anywhere", "projects"] = "anywhere"


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


class TargetFiles(_Section):
    """``[targets]``: targets read from the plan's own tables (see :mod:`siteplan.inputs.targets`).

    ``file`` holds type rows × year columns and fills ``[types.<code>].targets``;
    ``zones`` and ``districts`` hold name rows and fill ``[zones]`` and
    ``[districts]``. ``mode = "cumulative"`` reads 累计 tables (yearly =
    differences). ``targets = "targets.xlsx"`` is the short form of ``file``.
    """

    file: Path | None = None
    sheet: str | None = None
    mode: Literal["yearly", "cumulative"] = "yearly"
    zones: Path | None = None
    districts: Path | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_words(cls, value: object) -> object:
        words = {"yearly": "yearly", "annual": "yearly", "每年": "yearly", "年度": "yearly", "当年": "yearly",
                 "cumulative": "cumulative", "累计": "cumulative"}
        if isinstance(value, str) and value.strip().lower() in words:
            return words[value.strip().lower()]
        raise ValueError(f"mode = {value!r}: use \"yearly\" (each year's own units) or \"cumulative\" (累计: running "
                         "totals)")

    @model_validator(mode="after")
    def _some_file(self) -> TargetFiles:
        if self.file is None and self.zones is None and self.districts is None:
            raise ValueError("[targets] names no file; add file = \"targets.xlsx\" (type rows × year columns), "
                             "or zones = / districts = \"<file>\"")
        return self


class OutputSettings(_Section):
    """``[outputs]``: how the land-supply tables and the Word draft are laid out.

    ``land_table = "handan"`` prints each year table as the Handan plan
    does (类型, 套数, 容积率, 净用地 and 毛用地 only; the 配建 and 新增 rows
    give land only); ``"standard"`` (default) adds 建筑面积 and the rows'
    units. ``planning_far`` is the one planning plot ratio such a table
    prints (e.g. 2.8; default: each row's effective average, with a note).
    ``area`` names the planned area in the year sentences (e.g.
    ``"中心城区"``). ``docx = false`` skips ``plan.docx``.
    """

    land_table: Literal["standard", "handan"] = "standard"
    planning_far: float | None = Field(default=None, gt=0.0, le=30.0)
    area: str = Field(default="", max_length=40)
    docx: bool = True

    @field_validator("land_table", mode="before")
    @classmethod
    def _layout_name(cls, value: object) -> object:
        words = {"standard": "standard", "标准": "standard", "handan": "handan", "邯郸": "handan"}
        if isinstance(value, str) and value.strip().lower() in words:
            return words[value.strip().lower()]
        raise ValueError(f"land_table = {value!r}: use \"standard\" (with 建筑面积) or \"handan\" "
                         "(the Handan plan's columns: 套数, 容积率, 净用地, 毛用地)")
