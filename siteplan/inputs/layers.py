"""Read, validate and reproject the GIS layers a scenario names.

Every layer is read with pyogrio, its text decoded in the right encoding,
its columns renamed from the user's names to siteplan's (``[fields.<layer>]``
in the scenario), checked, repaired where a repair is safe (and then counted
in a warning), and projected to the scenario's working CRS. Anything that
cannot be repaired is an error naming the file, the feature, the field and
the fix.

Bureau data comes with known quirks, each handled here:

- **Text encoding.** Shapefiles from Chinese bureaus are often GBK, with or
  without a ``.cpg`` file. All text is read as raw bytes and decoded here:
  the scenario's ``[layers.encoding]`` if given, else the ``.cpg``, else the
  ``.dbf`` language byte, else whichever of UTF-8 and GBK decodes every
  value. Field names cut mid-character by the shapefile's 10-byte limit are
  decoded up to the cut. Nothing is ever passed on half-decoded.
- **Coordinates.** Gauss-Kruger eastings with a zone prefix (40500000)
  under a CRS without one (500000), or the reverse, are corrected when the
  prefix names the CRS's own zone; coordinates that cannot lie in the
  layer's CRS (degrees under a projected CRS, a foreign zone) are errors.
  Layers on the Xi'an-80 or Beijing-54 datum are reprojected with a warning,
  since PROJ has no datum shift from them to CGCS2000.
- **Geometry.** Null and empty geometries are dropped, Z and M values
  dropped, invalid polygons repaired with ``make_valid``, parcels under
  :data:`MIN_PARCEL_AREA_M2` dropped, and parcels overlapping by more than
  :data:`OVERLAP_TOLERANCE` named in a warning.
- **Attributes.** Numbers stored as text (also full-width digits), years
  written as ``2017年`` or dates, and ``是``/``否`` flags are read as meant;
  anything else is an error that lists the features and values.

:func:`check_layers` collects every finding and never raises for bad data;
:func:`read_layers` raises :class:`LayerCheckError` listing every error.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import logging
import math
import re
import unicodedata
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from ..errors import LayerError, SiteplanError
from .scenario import Scenario

__all__ = [
    "SCHEMA",
    "COLUMN_HINTS",
    "MAX_PLAUSIBLE_FAR",
    "MIN_PARCEL_AREA_M2",
    "OVERLAP_TOLERANCE",
    "Diagnostic",
    "LayerInfo",
    "LayerCheck",
    "LayerCheckError",
    "Layers",
    "check_layers",
    "read_layers",
    "read_layer",
    "crs_label",
]

log = logging.getLogger(__name__)

#: Per layer: geometry kind, required fields and optional fields with defaults.
SCHEMA: dict[str, dict] = {
    "parcels": {
        "geom": "polygon",
        "required": ["parcel_id", "district", "far_max", "available_year"],
        "optional": {
            "name": "",
            "land_use": "residential",
            "status": "reserve",
            "far_upper": np.nan,
            "metro_depot": False,
        },
    },
    "districts": {"geom": "polygon", "required": ["district", "zone"], "optional": {}},
    "stations": {
        "geom": "point",
        "required": ["station", "open_year"],
        "optional": {"line": ""},
    },
    "lines": {"geom": "line", "required": ["line", "open_year"], "optional": {}},
    "services": {"geom": "point", "required": ["category"], "optional": {"name": ""}},
    "parks": {"geom": "polygon", "required": ["park"], "optional": {"workers": 0}},
    "constraints": {"geom": "polygon", "required": ["kind"], "optional": {"name": ""}},
}

#: Column names bureau data often uses for siteplan's fields (pinyin
#: initials and Chinese), with their meaning; used for "did you mean".
COLUMN_HINTS: dict[str, dict[str, str]] = {
    "parcel_id": {"DKBH": "地块编号", "DKBM": "地块编码", "DKDM": "地块代码", "ZDBH": "宗地编号",
                  "ZDDM": "宗地代码", "BH": "编号", "地块编号": "", "地块编码": "", "宗地编号": "", "编号": ""},
    "name": {"DKMC": "地块名称", "ZDMC": "宗地名称", "MC": "名称", "地块名称": "", "名称": ""},
    "district": {"QX": "区县", "QXMC": "区县名称", "XZQ": "行政区", "XZQMC": "行政区名称", "SSQ": "所属区",
                 "SSQX": "所属区县", "区县": "", "行政区": "", "所属区": "", "所属区县": "", "区县名称": ""},
    "zone": {"PQ": "片区", "PQMC": "片区名称", "FQ": "分区", "ZT": "组团", "片区": "", "分区": "", "组团": ""},
    "far_max": {"RJL": "容积率", "RJLSX": "容积率上限", "容积率": "", "容积率上限": ""},
    "available_year": {"GYNF": "供应年份", "GDNF": "供地年份", "CRNF": "出让年份", "NF": "年份",
                       "供应年份": "", "供地年份": "", "出让年份": "", "年份": ""},
    "land_use": {"YDXZ": "用地性质", "YDLX": "用地类型", "DLMC": "地类名称", "用地性质": "", "用地类型": ""},
    "status": {"ZT": "状态", "DKZT": "地块状态", "状态": "", "地块状态": ""},
    "station": {"ZDMC": "站点名称", "ZM": "站名", "站点名称": "", "站名": "", "站点": ""},
    "line": {"XL": "线路", "XLMC": "线路名称", "线路": "", "线路名称": ""},
    "open_year": {"KTNF": "开通年份", "TCNF": "通车年份", "NF": "年份", "开通年份": "", "通车年份": "", "年份": ""},
    "category": {"LB": "类别", "LX": "类型", "SSLB": "设施类别", "类别": "", "类型": "", "设施类别": ""},
    "park": {"YQMC": "园区名称", "YQ": "园区", "园区": "", "园区名称": ""},
    "workers": {"JYRS": "就业人数", "ZGRS": "职工人数", "就业人数": "", "职工人数": ""},
    "kind": {"LX": "类型", "LB": "类别", "类型": "", "类别": ""},
}

_GEOM_TYPES = {
    "polygon": {"Polygon", "MultiPolygon"},
    "point": {"Point", "MultiPoint"},
    "line": {"LineString", "MultiLineString"},
}

_ID_COLUMN = {"parcels": "parcel_id", "districts": "district", "stations": "station", "lines": "line", "parks": "park"}

#: Plot ratios above this are taken as data errors, not ambition.
MAX_PLAUSIBLE_FAR = 20.0

#: Parcels smaller than this (m2) are slivers left by digitising; they are dropped.
MIN_PARCEL_AREA_M2 = 100.0

#: Two parcels overlapping by more than this share of the smaller one are named in a warning.
OVERLAP_TOLERANCE = 0.01

#: Years outside this range are data errors (a typo, a code, a date in another calendar).
YEAR_RANGE = (1900, 2100)

#: Service categories the features count (see :data:`siteplan.model.features.SERVICE_GROUPS`).
SERVICE_CATEGORIES = ("school", "clinic", "hospital", "market", "park", "culture")

_OLD_DATUMS = ("Xian 1980", "Beijing 1954", "New Beijing")

Level = Literal["error", "repair", "warning", "note"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the layers.

    ``level`` is ``"error"`` (the run cannot go on), ``"repair"`` (siteplan
    fixed the data and says how many features), ``"warning"`` (usable, but
    check it) or ``"note"`` (for the record: an encoding detected, a layer
    reprojected).
    """

    level: Level
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else self.message


@dataclass
class LayerInfo:
    """What was read from one layer file, for the check report."""

    kind: str
    path: Path
    driver: str = ""
    layer: str = ""
    encoding: str = ""
    crs: str = ""
    features: int = 0
    kept: int = 0
    geometry_types: dict[str, int] = field(default_factory=dict)


class LayerCheckError(LayerError):
    """Layers hold errors; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Diagnostic]):
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = f"{len(self.problems)} problems in the layers:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


@dataclass
class Layers:
    """All layers of a scenario, validated and in one projected CRS.

    Optional layers that the scenario does not name are empty GeoDataFrames
    with the expected columns, so later stages need no special cases.
    ``warnings`` lists what was repaired or looks suspicious; ``notes`` what
    was done on the way (reprojections, detected encodings).
    """

    crs: CRS
    parcels: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame
    services: gpd.GeoDataFrame
    parks: gpd.GeoDataFrame
    constraints: gpd.GeoDataFrame
    population: Path | None = None
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    info: dict[str, LayerInfo] = field(default_factory=dict)


@dataclass
class LayerCheck:
    """Everything :func:`check_layers` found.

    ``layers`` is set only when there is no error; ``frames`` holds whatever
    could be read, for reports.
    """

    crs: CRS | None
    diagnostics: list[Diagnostic]
    info: dict[str, LayerInfo]
    frames: dict[str, gpd.GeoDataFrame]
    layers: Layers | None = None

    def of_level(self, *levels: Level) -> list[Diagnostic]:
        """The diagnostics of the given levels, in the order found."""
        return [d for d in self.diagnostics if d.level in levels]

    @property
    def errors(self) -> list[Diagnostic]:
        return self.of_level("error")

    @property
    def warnings(self) -> list[Diagnostic]:
        """Repairs and warnings."""
        return self.of_level("repair", "warning")


class _Findings:
    """Collects diagnostics while layers are read."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, level: Level, path: Path | str | None, message: str) -> None:
        self.items.append(Diagnostic(level, str(path) if path is not None else "", message))

    def error(self, path, message: str) -> None:
        self.add("error", path, message)

    def repair(self, path, message: str) -> None:
        self.add("repair", path, message)

    def warn(self, path, message: str) -> None:
        self.add("warning", path, message)

    def note(self, path, message: str) -> None:
        self.add("note", path, message)

    def errors_in(self, path: Path | str) -> bool:
        return any(d.level == "error" and d.file == str(path) for d in self.items)


@dataclass(frozen=True)
class _Options:
    mapping: dict[str, str]
    encoding: str | None = None
    crs: str | None = None
    layer: str | None = None


# -- small helpers ---------------------------------------------------------


def crs_label(crs: CRS | None) -> str:
    """``EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)``, or the CRS name."""
    if crs is None:
        return "none"
    try:
        code = crs.to_epsg(min_confidence=70)
    except Exception:  # pragma: no cover - pyproj oddities on exotic WKT
        code = None
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def _sample(values, n: int = 5) -> str:
    vals = [str(v) for v in values]
    more = f" and {len(vals) - n} more" if len(vals) > n else ""
    return ", ".join(vals[:n]) + more


def _ids(gdf: pd.DataFrame, mask, id_col: str | None, n: int = 5) -> str:
    """'parcel_id P1, P2' or 'fid 3, 7' for the features where ``mask`` holds."""
    rows = gdf.loc[np.asarray(mask, dtype=bool)]
    if id_col and id_col in rows.columns:
        vals = [v if isinstance(v, str) and v else f"(fid {i})" for i, v in zip(rows.index, rows[id_col])]
        return f"{id_col} {_sample(vals, n)}"
    return f"fid {_sample(list(rows.index), n)}"


def _values(series: pd.Series, mask, n: int = 5) -> str:
    vals = list(dict.fromkeys("(empty)" if _is_missing(v) else _plain(v) for v in series[np.asarray(mask, dtype=bool)]))
    return _sample(vals, n)


def _plain(v) -> str:
    """A value as a planner wrote it: text quoted, numbers bare (20170, not np.int64(20170))."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return f"{v:.0f}"
    return repr(v) if isinstance(v, str) else str(v)


def _verb(mask_or_n, one: str, many: str) -> str:
    """``one`` for a single feature, ``many`` for several: 'parcel_id P3 holds', 'P0, P1 hold'."""
    n = int(np.asarray(mask_or_n, dtype=bool).sum()) if not isinstance(mask_or_n, int) else mask_or_n
    return one if n == 1 else many


def _is_missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return math.isnan(v)
    if isinstance(v, str):
        return v.strip() == ""
    return False


def _as_text(series: pd.Series) -> pd.Series:
    """Text values: whole floats without ``.0``, stripped; missing as None."""

    def one(v):
        if _is_missing(v):
            return None
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        if isinstance(v, (float, np.floating)):
            if not math.isfinite(v):
                return str(v)
            return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace").strip() or None
        return str(v).strip() or None

    return pd.Series([one(v) for v in series], index=series.index, dtype=object)


def _parse_numbers(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers from a column that may hold text; returns (values, unreadable mask).

    Missing values come back as NaN and are not flagged; text is read after
    Unicode normalisation, so full-width digits work.
    """
    if pd.api.types.is_bool_dtype(series):
        return pd.Series(np.nan, index=series.index), np.ones(len(series), dtype=bool)
    if pd.api.types.is_numeric_dtype(series):
        vals = series.astype("float64")
        return vals, ~np.isfinite(vals.to_numpy()) & vals.notna().to_numpy()
    out = np.full(len(series), np.nan)
    bad = np.zeros(len(series), dtype=bool)
    for i, v in enumerate(series):
        if _is_missing(v):
            continue
        if isinstance(v, (bool, np.bool_)):
            bad[i] = True
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
        else:
            text = unicodedata.normalize("NFKC", str(v)).strip()
            try:
                x = float(text)
            except ValueError:
                bad[i] = True
                continue
        if math.isfinite(x):
            out[i] = x
        else:
            bad[i] = True
    return pd.Series(out, index=series.index), bad


_YEAR_TEXT = re.compile(
    r"^(\d{4})(?:\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?"  # 2017年, 2017年6月, 2017年6月30日
    r"|[-/]\d{1,2}(?:[-/]\d{1,2})?(?:[ T].*)?"  # 2017-06, 2017/6/30, 2017-06-30 00:00:00
    r"|\.\d{1,2}\.\d{1,2})$"  # 2017.06.30 (but 2017.5 is a number, not May)
)


def _parse_years(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Years from numbers, ``"2017"``, ``"2017年"`` or dates; returns (years, unreadable mask)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        years = series.dt.year.astype("float64")
        return years, np.zeros(len(series), dtype=bool)
    out = np.full(len(series), np.nan)
    bad = np.zeros(len(series), dtype=bool)
    for i, v in enumerate(series):
        if _is_missing(v):
            continue
        if isinstance(v, (dt.date, pd.Timestamp)):
            out[i] = v.year
            continue
        if isinstance(v, (bool, np.bool_)):
            bad[i] = True
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
            if math.isfinite(x) and x.is_integer():
                out[i] = x
            else:
                bad[i] = True
            continue
        text = unicodedata.normalize("NFKC", str(v)).strip()
        try:
            x = float(text)
        except ValueError:
            x = None
        if x is not None:
            if math.isfinite(x) and x.is_integer():
                out[i] = x
            else:
                bad[i] = True
            continue
        m = _YEAR_TEXT.match(text)
        if m:
            out[i] = float(m.group(1))
        else:
            bad[i] = True
    return pd.Series(out, index=series.index), bad


_TRUE = {"1", "1.0", "true", "t", "yes", "y", "是", "√", "有"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "否", "无", "×"}


def _parse_flags(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """True/false from booleans, 1/0, yes/no or 是/否; missing is false."""
    out = np.zeros(len(series), dtype=bool)
    bad = np.zeros(len(series), dtype=bool)
    for i, v in enumerate(series):
        if _is_missing(v):
            continue
        key = unicodedata.normalize("NFKC", str(v)).strip().lower()
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
        elif key in _TRUE:
            out[i] = True
        elif key not in _FALSE:
            bad[i] = True
    return pd.Series(out, index=series.index), bad


# -- text encoding ---------------------------------------------------------

_RAW = "ISO-8859-1"  # every byte to one character and back: text arrives undecoded


def _codec(name: str) -> str | None:
    """Python's codec name for an encoding name from a .cpg, the scenario or GDAL."""
    key = name.strip().strip('"').lower().replace("_", "-")
    aliases = {"936": "gb18030", "cp936": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "gb18030": "gb18030",
               "65001": "utf-8", "utf8": "utf-8", "utf-8": "utf-8", "950": "big5", "ansi 936": "gb18030"}
    if key in aliases:
        return aliases[key]
    if key.isdigit():
        key = f"cp{key}"
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def _label(codec: str) -> str:
    return {"gb18030": "GBK", "utf-8": "UTF-8"}.get(codec, codec.upper())


def _decode(raw: bytes, codec: str) -> tuple[str, bool] | None:
    """``(text, cut)``: decoded text, and whether a last character was cut off; None if undecodable."""
    try:
        return raw.decode(codec), False
    except UnicodeDecodeError as err:
        if err.start >= len(raw) - 3 and err.end == len(raw):
            try:
                return raw[: err.start].decode(codec), True
            except UnicodeDecodeError:
                return None
        return None


def _raw(text: str) -> bytes:
    return text.encode(_RAW)


def _shapefile_hints(path: Path) -> tuple[str | None, str | None]:
    """The encoding named by a shapefile's .cpg and by its .dbf language byte."""
    cpg_codec = ldid_codec = None
    if path.suffix.lower() in (".shp", ".dbf"):
        for cpg in (path.with_suffix(".cpg"), path.with_suffix(".CPG")):
            if cpg.is_file():
                try:
                    cpg_codec = _codec(cpg.read_bytes().decode("ascii", "replace").splitlines()[0]) or "?"
                except (OSError, IndexError):
                    cpg_codec = "?"
                break
        dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.is_file()), None)
        if dbf is not None:
            try:
                with open(dbf, "rb") as fh:
                    head = fh.read(32)
                if len(head) == 32 and head[29] == 0x4D:  # 936: Chinese GBK
                    ldid_codec = "gb18030"
            except OSError:
                pass
    return cpg_codec, ldid_codec


def _decode_text(gdf: gpd.GeoDataFrame, path: Path, kind: str, opts: _Options, is_shapefile: bool,
                 found: _Findings) -> tuple[gpd.GeoDataFrame, str, dict[str, bytes]] | None:
    """Decode names and text values read as raw bytes; choose the encoding.

    Returns the frame, the encoding's label for the report, and the raw
    bytes of each (decoded) column name.
    """
    names = [c for c in gdf.columns if c != gdf.geometry.name]
    text_cols = [c for c in names if gdf[c].dtype == object or pd.api.types.is_string_dtype(gdf[c].dtype)]
    raw_names = {c: _raw(c) for c in names}
    raw_values: dict[str, list[bytes]] = {}
    for c in text_cols:
        raw_values[c] = sorted({_raw(v) for v in gdf[c] if isinstance(v, str)})
    every = list(raw_names.values()) + [b for vals in raw_values.values() for b in vals]
    if all(b.isascii() for b in every):
        chosen, label = "ascii", "ASCII"
    else:
        candidates: list[tuple[str, str]] = []
        if opts.encoding:
            codec = _codec(opts.encoding)
            candidates = [(codec or "utf-8", f"{_label(codec or 'utf-8')} (from the scenario)")]
        else:
            cpg, ldid = _shapefile_hints(path) if is_shapefile else (None, None)
            if cpg and cpg != "?":
                candidates.append((cpg, f"{_label(cpg)} (.cpg)"))
            if ldid:
                candidates.append((ldid, f"{_label(ldid)} (.dbf language byte)"))
            candidates += [("utf-8", "UTF-8"), ("gb18030", "GBK")]
        chosen = label = None
        for codec, lab in candidates:
            if all(_decode(b, codec) is not None for b in every):
                chosen, label = codec, lab
                break
        if chosen is None:
            codec, lab = candidates[0]
            bad_col, bad_val = next(
                ((c, b) for c, vals in raw_values.items() for b in vals if _decode(b, codec) is None),
                (next((c for c, b in raw_names.items() if _decode(b, codec) is None), "?"), b""),
            )
            if opts.encoding:
                alt = next((c for c in ("utf-8", "gb18030") if all(_decode(b, c) is not None for b in every)), None)
                shown = _raw(bad_col).decode(alt) if alt else _show_name(bad_col)
                hint = (f"; the text reads as {_label(alt)}: set [layers.encoding] {kind} = \"{_label(alt)}\""
                        if alt else f"; check [layers.encoding] {kind} in the scenario")
                found.error(path, f"text in field {shown!r} is not valid {opts.encoding} "
                                  f"(bytes {bad_val[:12]!r}){hint}")
            else:
                found.error(path, f"cannot tell the text encoding: field {_show_name(bad_col)!r} holds text that is "
                                  f"neither UTF-8 nor GBK (bytes {bad_val[:12]!r}); state it in the scenario: "
                                  f'[layers.encoding] {kind} = "BIG5" (or whatever your GIS saved it in)')
            return None
        if not opts.encoding and is_shapefile:
            cpg, ldid = _shapefile_hints(path)
            if cpg and not label.endswith("(.cpg)"):
                found.warn(path, f"the .cpg file says {cpg if cpg != '?' else 'an unknown encoding'}, but the text "
                                 f"is {_label(chosen)}; read as {_label(chosen)}. Correct the .cpg (write "
                                 f"{_label(chosen)} in it) or state it: [layers.encoding] {kind} = \"{_label(chosen)}\"")
            elif not cpg:
                label = f"{_label(chosen)} (detected; no .cpg)"
                found.note(path, f"no .cpg file: the text decodes as {_label(chosen)} and was read so; "
                                 f'to be explicit, add a .cpg or set [layers.encoding] {kind} = "{_label(chosen)}"')
        elif not opts.encoding and chosen != "utf-8":
            found.warn(path, f"the text is {_label(chosen)}, not UTF-8 as this format requires; read as "
                             f"{_label(chosen)}. Save the file as UTF-8, or state it: [layers.encoding] {kind} = "
                             f'"{_label(chosen)}"')
    codec = "utf-8" if chosen == "ascii" else chosen
    rename: dict[str, str] = {}
    cut_names: list[str] = []
    new_raw: dict[str, bytes] = {}
    for c, b in raw_names.items():
        text, cut = _decode(b, codec) or ("", False)
        text = text or f"field_{names.index(c) + 1}"
        while text in rename.values():
            text += "_"
        if cut:
            cut_names.append(text)
        rename[c] = text
        new_raw[text] = b
    cut_values: dict[str, int] = {}
    out = gdf.copy()
    for c in text_cols:
        table = {}
        for b in raw_values[c]:
            text, cut = _decode(b, codec) or ("", False)
            table[b.decode(_RAW)] = text
            if cut:
                cut_values[rename[c]] = cut_values.get(rename[c], 0) + 1
        out[c] = [table.get(v, v) if isinstance(v, str) else v for v in gdf[c]]
    out = out.rename(columns=rename)
    if cut_names:
        limit = "3 Chinese characters in UTF-8, 5 in GBK"
        found.repair(path, f"{len(cut_names)} field name(s) were cut mid-character by the shapefile's 10-byte "
                           f"limit ({limit}); read as {', '.join(repr(n) for n in cut_names)}. Rename the fields "
                           "in your GIS, or map these names in [fields." + kind + "]")
    for col, n in cut_values.items():
        found.repair(path, f"{n} value(s) of field {col!r} end in a character cut in half (the field is too "
                           "narrow for them); the cut character was dropped. Widen the field in your GIS")
    return out, label, new_raw


def _show_name(name: str) -> str:
    try:
        return _raw(name).decode("utf-8", "replace")
    except UnicodeEncodeError:
        return name


# -- reading one file ------------------------------------------------------


def _gdal_words(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _choose_layer(path: Path, kind: str, opts: _Options, found: _Findings) -> str | None:
    try:
        listed = pyogrio.list_layers(path)
    except Exception as err:
        found.error(path, f"cannot read the {kind} layer ({_gdal_words(err)}); is it a GIS file GDAL can open? "
                          "Open it in QGIS to see, and export it again as GeoPackage or shapefile")
        return None
    names = [str(n) for n, _ in listed]
    spatial = [str(n) for n, g in listed if g is not None]
    if opts.layer is not None:
        if opts.layer not in names:
            found.error(path, f"has no layer {opts.layer!r} ([layers.layer] {kind}); its layers are: {_sample(names, 20)}")
            return None
        return opts.layer
    if not names:
        found.error(path, f"the {kind} layer file holds no layer at all; export the {kind} layer into it again")
        return None
    if len(names) == 1:
        return names[0]
    for wanted in (kind, path.stem):
        if wanted in names:
            return wanted
    if len(spatial) == 1:
        return spatial[0]
    found.error(path, f"holds {len(names)} layers ({_sample(names, 20)}) and none is named {kind!r}; say which "
                      f'one is the {kind} layer: [layers.layer] {kind} = "{spatial[0] if spatial else names[0]}"')
    return None


def _read_raw(path: Path, kind: str, opts: _Options, found: _Findings, info: LayerInfo) -> tuple[gpd.GeoDataFrame, bool] | None:
    """Read a layer with all text as raw bytes; returns the frame and whether it is a shapefile."""
    layer = _choose_layer(path, kind, opts, found)
    if layer is None:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta = pyogrio.read_info(path, layer=layer, encoding=_RAW)
            gdf = pyogrio.read_dataframe(path, layer=layer, encoding=_RAW, fid_as_index=True)
        except Exception as err:
            found.error(path, f"cannot read the {kind} layer ({_gdal_words(err)}); is it a GIS file GDAL can open? "
                              "Open it in QGIS to see, and export it again as GeoPackage or shapefile")
            return None
    info.driver = str(meta.get("driver") or "")
    info.layer = layer
    info.features = len(gdf)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
        found.error(path, f"the {kind} layer has no geometry column; export it from your GIS as a spatial layer")
        return None
    measured = any("Measured (M)" in str(w.message) for w in caught)
    if measured:
        found.repair(path, f"dropped the M (measure) values of {len(gdf)} feature(s); siteplan uses x and y only")
    return gdf, info.driver == "ESRI Shapefile"


def _source_crs(gdf: gpd.GeoDataFrame, path: Path, kind: str, opts: _Options, working: CRS,
                found: _Findings) -> CRS | None:
    file_crs = CRS(gdf.crs) if gdf.crs is not None else None
    if opts.crs:
        try:
            stated = CRS.from_user_input(opts.crs)
        except Exception:
            found.error(path, f"[layers.crs] {kind} = {opts.crs!r} is not a CRS pyproj knows; use e.g. \"EPSG:4549\"")
            return None
        if file_crs is not None and not file_crs.equals(stated, ignore_axis_order=True):
            found.note(path, f"CRS taken from [layers.crs] {kind} ({crs_label(stated)}), not from the file "
                             f"({crs_label(file_crs)})")
        return stated
    if file_crs is None:
        found.error(path, f"the {kind} layer has no CRS; define it in your GIS (for a shapefile, the .prj file) "
                          f"and save again, or state it in the scenario: [layers.crs] {kind} = "
                          f'"{working.to_string()}"')
    return file_crs


def _tm_params(crs: CRS) -> tuple[float, float] | None:
    """Central meridian and false easting of a Transverse Mercator (Gauss-Kruger) CRS."""
    if not crs.is_projected or crs.coordinate_operation is None:
        return None
    op = crs.coordinate_operation
    if "transverse mercator" not in op.method_name.lower() and "gauss" not in op.method_name.lower():
        return None
    params = {p.name.lower(): p.value for p in op.params}
    cm = params.get("longitude of natural origin", params.get("central_meridian"))
    fe = params.get("false easting", params.get("false_easting"))
    if cm is None or fe is None:
        return None
    return float(cm), float(fe)


def _gk_suggestion(prefix: int) -> str:
    """The CGCS2000 Gauss-Kruger CRS whose eastings carry this zone prefix."""
    if 25 <= prefix <= 45:
        return f"EPSG:{4513 + prefix - 25} (CGCS2000 3-degree zone {prefix}, CM {3 * prefix}E)"
    if 13 <= prefix <= 23:
        return f"EPSG:{4491 + prefix - 13} (CGCS2000 6-degree zone {prefix}, CM {6 * prefix - 3}E)"
    return ""


def _fix_coordinates(gdf: gpd.GeoDataFrame, crs: CRS, path: Path, kind: str, id_col: str | None,
                     found: _Findings) -> gpd.GeoDataFrame | None:
    """Check that coordinates can lie in ``crs``; correct a Gauss-Kruger zone prefix."""
    geoms = gdf.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return gdf
    bounds = shapely.bounds(geoms[present])
    if not np.isfinite(bounds).all():
        found.error(path, f"{int((~np.isfinite(bounds).all(axis=1)).sum())} feature(s) have coordinates that are "
                          "not numbers (NaN or infinite); fix them in your GIS")
        return None
    xmin, ymin = bounds[:, 0].min(), bounds[:, 1].min()
    xmax, ymax = bounds[:, 2].max(), bounds[:, 3].max()
    box = f"x {xmin:,.1f} to {xmax:,.1f}, y {ymin:,.1f} to {ymax:,.1f}"
    if crs.is_geographic:
        if not (-180 <= xmin and xmax <= 360 and -90 <= ymin and ymax <= 90):
            guess = _gk_suggestion(int(xmin // 1_000_000)) if xmin >= 1_000_000 else "EPSG:4549 or the CRS your bureau uses"
            found.error(path, f"coordinates ({box}) are not degrees, but the layer's CRS {crs_label(crs)} is "
                              f"geographic: its CRS definition is wrong. State the real one: [layers.crs] {kind} = "
                              f"\"...\", e.g. {guess}")
            return None
    else:
        if -180 <= xmin and xmax <= 180 and -90 <= ymin and ymax <= 90 and (xmax - xmin) < 5:
            found.error(path, f"coordinates ({box}) look like degrees, but the layer's CRS {crs_label(crs)} is "
                              f"projected, in metres. If they are longitude/latitude, state it: [layers.crs] {kind} "
                              '= "EPSG:4490" (CGCS2000) or "EPSG:4326" (WGS 84)')
            return None
        tm = _tm_params(crs)
        if tm is not None:
            gdf = _fix_zone_prefix(gdf, crs, tm, present, bounds, path, kind, id_col, found)
            if gdf is None:
                return None
            bounds = shapely.bounds(gdf.geometry.values[present])
            xmin, xmax = bounds[:, 0].min(), bounds[:, 2].max()
            ymin, ymax = bounds[:, 1].min(), bounds[:, 3].max()
            box = f"x {xmin:,.1f} to {xmax:,.1f}, y {ymin:,.1f} to {ymax:,.1f}"
    aou = crs.area_of_use
    if aou is not None:
        try:
            to_geo = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
            xs = np.array([xmin, xmax, xmin, xmax, (xmin + xmax) / 2])
            ys = np.array([ymin, ymin, ymax, ymax, (ymin + ymax) / 2])
            with np.errstate(all="ignore"):
                lon, lat = to_geo.transform(xs, ys)
            lon, lat = np.asarray(lon), np.asarray(lat)
        except Exception:
            lon = lat = np.array([np.inf])
        margin = 3.0
        inside = (
            np.isfinite(lon).all() and np.isfinite(lat).all()
            and lon.min() >= aou.west - margin and lon.max() <= aou.east + margin
            and lat.min() >= aou.south - margin and lat.max() <= aou.north + margin
        )
        if not inside:
            found.error(path, f"coordinates ({box}) lie outside the area {crs_label(crs)} is made for "
                              f"({aou.name}); the layer's CRS is probably wrong. State the real one in the "
                              f'scenario: [layers.crs] {kind} = "EPSG:...", or fix the .prj in your GIS')
            return None
    return gdf


def _fix_zone_prefix(gdf, crs, tm, present, bounds, path, kind, id_col, found):
    cm, fe = tm
    expected = int(round((fe - 500_000) / 1_000_000)) if fe >= 1_000_000 else 0
    prefix = np.floor(bounds[:, 0] / 1_000_000).astype(int)
    kinds = sorted(set(prefix.tolist()))
    if kinds == [expected]:
        return gdf
    ids_all = np.zeros(len(gdf), dtype=bool)
    if len(kinds) > 1:
        counts = ", ".join(f"{int((prefix == p).sum())} with {p * 1_000_000 + 500_000:,.0f}-like eastings" for p in kinds)
        first = np.flatnonzero(present)[prefix != prefix[0]]
        ids_all[first] = True
        found.error(path, f"eastings mix Gauss-Kruger numberings ({counts}; e.g. {_ids(gdf, ids_all, id_col)}): some "
                          "carry the zone prefix and some do not. Bring them to one numbering in your GIS")
        return None
    p = kinds[0]
    zones = {z for z in ((cm / 3), ((cm + 3) / 6)) if float(z).is_integer()}
    example = bounds[0, 0]
    if expected == 0 and p in {int(z) for z in zones}:
        shift = -p * 1_000_000
        words = f"carry the zone prefix {p} (e.g. {example:,.1f}) but its CRS {crs_label(crs)} has none"
        with_prefix = _gk_suggestion(p)
        fix = f"state the CRS with the prefix: [layers.crs] {kind} = \"{with_prefix.split(' ')[0]}\"" if with_prefix else "fix the .prj"
    elif expected > 0 and p == 0:
        shift = expected * 1_000_000
        words = f"have no zone prefix (e.g. {example:,.1f}) but its CRS {crs_label(crs)} expects prefix {expected}"
        fix = "state the CRS without the prefix in [layers.crs] " + kind
    else:
        hint = _gk_suggestion(p)
        found.error(path, f"eastings (e.g. {example:,.1f}) do not fit the layer's CRS {crs_label(crs)}, a "
                          f"Gauss-Kruger zone at {cm:g}E" + (f" with prefix {expected}" if expected else "")
                          + (f"; their prefix {p} is zone {hint}" if hint else "")
                          + f". State the real CRS: [layers.crs] {kind} = \"EPSG:...\", or fix the .prj")
        return None
    out = gdf.copy()
    out["geometry"] = shapely.transform(out.geometry.values, lambda xy: xy + np.array([shift, 0.0]))
    out = out.set_geometry("geometry", crs=gdf.crs)
    found.repair(path, f"eastings of {int(present.sum())} feature(s) {words}; read them in that zone. To say so "
                       f"in the data, {fix}")
    return out


def _rename_fields(gdf: gpd.GeoDataFrame, kind: str, mapping: dict[str, str], path: Path,
                   raw_names: dict[str, bytes], codec_label: str, found: _Findings,
                   tables: dict[str, pd.DataFrame] | None = None) -> gpd.GeoDataFrame | None:
    spec = SCHEMA[kind]
    known = set(spec["required"]) | set(spec["optional"])
    geom_col = gdf.geometry.name
    cols = [str(c) for c in gdf.columns if c != geom_col]
    ok = True
    unknown = sorted(set(mapping) - known)
    if unknown:
        close = {u: difflib.get_close_matches(u, sorted(known), n=1, cutoff=0.5) for u in unknown}
        did = "".join(f" Did you mean {c[0]!r} for {u!r}?" for u, c in close.items() if c)
        found.error(path, f"[fields.{kind}] names siteplan field(s) {unknown} that a {kind} layer does not "
                          f"have; siteplan's fields are {sorted(known)}.{did} Write the siteplan field on the left "
                          "of = and your column on the right, e.g. far_max = \"RJL\"")
        ok = False
    rename: dict[str, str] = {}
    for ours, theirs in mapping.items():
        if ours not in known:
            continue
        col = theirs if theirs in cols else _cut_match(theirs, raw_names, codec_label)
        if col is None:
            hint = difflib.get_close_matches(theirs, cols, n=3)
            did = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
            found.error(path, f"column {theirs!r} (mapped to {ours!r} in [fields.{kind}]) is not in the layer.{did} "
                              f"The layer has: {', '.join(cols)}. Correct the line {ours} = {theirs!r} in "
                              f"[fields.{kind}] to name one of these columns")
            ok = False
            continue
        if col != theirs:
            found.note(path, f"column {theirs!r} in [fields.{kind}] matched the field {col!r}, its name as cut to "
                             "10 bytes in the shapefile")
        if col in rename:
            found.error(path, f"[fields.{kind}] maps both {rename[col]!r} and {ours!r} to the column {col!r}; "
                              "map each siteplan field to its own column")
            ok = False
            continue
        rename[col] = ours
    if not ok:
        return None
    shadowed = [c for c in cols if c in rename.values() and c not in rename]
    gdf = gdf.drop(columns=shadowed).rename(columns=rename)
    cols = [str(c) for c in gdf.columns if c != geom_col]
    for ours in [*spec["required"], *spec["optional"]]:
        short = ours[:10]
        if ours not in cols and len(ours) > 10 and short in cols and short not in rename.values():
            gdf = gdf.rename(columns={short: ours})
            found.note(path, f"field {short!r} read as {ours!r} (shapefile field names hold 10 bytes)")
    cols = [str(c) for c in gdf.columns if c != geom_col]
    for req in spec["required"]:
        if req in gdf.columns:
            continue
        hinted = []
        for c in cols:
            gloss = COLUMN_HINTS.get(req, {})
            key = c.upper() if c.isascii() else c
            if key in gloss:
                hinted.append(f"{c!r} ({gloss[key]})" if gloss[key] else repr(c))
        close = [repr(h) for h in difflib.get_close_matches(req, cols, n=3, cutoff=0.5)]
        suggestions = list(dict.fromkeys(hinted + close))
        did = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        example = suggestions[0].split(" ")[0].strip("'") if suggestions else "YOUR_COLUMN"
        found.error(path, f"required field {req!r} is missing.{did} Map your column to it in the scenario: "
                          f'[fields.{kind}] {req} = "{example}". The layer has: {", ".join(cols) or "no fields"}')
        ok = False
    for opt, default in spec["optional"].items():
        if opt not in gdf.columns:
            gdf[opt] = default
    if tables is not None:
        tables[kind] = gdf  # the attribute table, for checks on the columns present
    return gdf if ok else None


def _cut_match(name: str, raw_names: dict[str, bytes], codec_label: str) -> str | None:
    """The column whose name is ``name`` cut to the shapefile's 10 bytes, if any."""
    codec = _codec(codec_label.split(" ")[0]) or "utf-8"
    try:
        full = name.encode(codec)
    except (UnicodeEncodeError, LookupError):
        return None
    for col, raw in raw_names.items():
        if len(raw) >= 9 and len(full) > len(raw) and full[: len(raw)] == raw:
            return col
    return None


def _clean_geometry(gdf: gpd.GeoDataFrame, kind: str, path: Path, id_col: str | None,
                    found: _Findings) -> gpd.GeoDataFrame | None:
    """Drop null geometries and Z values, repair polygons, check the geometry type."""
    geoms = gdf.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.all():
        found.error(path, f"none of the {len(gdf)} feature(s) has a geometry; export the {kind} layer again "
                          "with its shapes")
        return None
    if missing.any():
        found.repair(path, f"dropped {int(missing.sum())} feature(s) with no geometry (null or empty): "
                           f"{_ids(gdf, missing, id_col)}")
        gdf = gdf.loc[~missing].copy()
    geoms = gdf.geometry.values
    z = shapely.has_z(geoms)
    if z.any():
        gdf = gdf.set_geometry(shapely.force_2d(geoms), crs=gdf.crs)
        found.repair(path, f"dropped the Z values of {int(z.sum())} feature(s); siteplan uses x and y only")
    want = SCHEMA[kind]["geom"]
    gtype = pd.Series(shapely.get_type_id(gdf.geometry.values), index=gdf.index)
    if want == "polygon":
        gdf = _repair_polygons(gdf, path, id_col, found)
        if gdf is None:
            return None
    names = gdf.geometry.geom_type
    bad = ~names.isin(_GEOM_TYPES[want])
    if bad.any():
        found.error(path, f"{int(bad.sum())} feature(s) are {sorted(set(names[bad]))}, but a {kind} layer needs "
                          f"{' or '.join(sorted(_GEOM_TYPES[want]))} ({_ids(gdf, bad, id_col)}); export the right "
                          "geometry type from your GIS")
        return None
    del gtype
    return gdf


def _repair_polygons(gdf: gpd.GeoDataFrame, path: Path, id_col: str | None, found: _Findings) -> gpd.GeoDataFrame | None:
    geoms = gdf.geometry.values.copy()
    # Polygon parts of collections (e.g. GeoJSON GeometryCollections) are kept.
    coll = shapely.get_type_id(geoms) == 7
    if coll.any():
        geoms[coll] = [_polygonal(g) for g in geoms[coll]]
        lost = coll & shapely.is_empty(geoms)
        found.repair(path, f"kept the polygon parts of {int((coll & ~lost).sum())} geometry collection(s)"
                           + (f"; {int(lost.sum())} had none" if lost.any() else ""))
    polyish = np.isin(shapely.get_type_id(geoms), (3, 6))
    self_hole = np.zeros(len(geoms), dtype=bool)
    for i in np.flatnonzero(polyish):
        self_hole[i] = _hole_is_shell(geoms[i])
    if self_hole.any():
        geoms[self_hole] = shapely.Polygon()
        found.repair(path, f"dropped {int(self_hole.sum())} polygon(s) made only of a hole: a hole as large as "
                           f"their outer ring leaves no area ({_ids(gdf, self_hole, id_col)}). Redraw them in "
                           "your GIS if they are real")
    invalid = polyish & ~self_hole & ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = [_polygonal(g) for g in shapely.make_valid(geoms[invalid])]
        found.repair(path, f"repaired {int(invalid.sum())} invalid polygon(s) with make_valid (self-crossing or "
                           f"misoriented rings): {_ids(gdf, invalid, id_col)}")
    empty = (polyish | coll) & shapely.is_empty(geoms) & ~self_hole
    if empty.any():
        found.repair(path, f"dropped {int(empty.sum())} polygon(s) with no area left after repair: "
                           f"{_ids(gdf, empty, id_col)}")
    drop = (polyish | coll) & shapely.is_empty(geoms)
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    if drop.all():
        found.error(path, "no polygon with an area is left after repair; export the layer again from your GIS")
        return None
    return gdf.loc[~drop].copy()


def _polygonal(g) -> shapely.Geometry:
    """The polygon parts of a geometry, as one (Multi)Polygon; empty if none."""
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def _hole_is_shell(g) -> bool:
    """Whether a polygon's only content is a hole equal to its outer ring."""
    for poly in shapely.get_parts(g):
        if poly.is_empty or not poly.interiors:
            return False
        shell = shapely.Polygon(poly.exterior)
        if not any(shapely.Polygon(r).equals(shell) for r in poly.interiors):
            return False
    return True


def _project(gdf: gpd.GeoDataFrame, src: CRS, working: CRS, path: Path, kind: str, found: _Findings) -> gpd.GeoDataFrame:
    if src.equals(working, ignore_axis_order=True):
        return gdf.set_crs(working, allow_override=True)
    sd, wd = src.datum.name if src.datum else "", working.datum.name if working.datum else ""
    if sd != wd and any(o in sd or o in wd for o in _OLD_DATUMS):
        found.warn(path, f"the {kind} layer is in {crs_label(src)}, on the {sd} datum, and the working CRS is on "
                         f"{wd}; PROJ has no datum shift between them, so the layer was only reprojected and may be "
                         "off by tens of metres or more. Convert it with your bureau's conversion parameters, or, if "
                         f"it was already converted and only its .prj is old, state its real CRS: [layers.crs] {kind} "
                         f'= "{working.to_string()}"')
    found.note(path, f"reprojected {len(gdf):,} feature(s) from {crs_label(src)} to {crs_label(working)}")
    log.info("Projecting %s (%d features) from %s to %s", path.name, len(gdf), crs_label(src), crs_label(working))
    with np.errstate(all="ignore"):
        out = gdf.set_crs(src, allow_override=True).to_crs(working)
    return out


def _read_vector(path: Path, kind: str, opts: _Options, working: CRS, found: _Findings,
                 info: LayerInfo, tables: dict[str, pd.DataFrame] | None = None) -> gpd.GeoDataFrame | None:
    """Read, decode, rename, clean and project one vector layer; None on an error.

    ``tables`` receives the layer's renamed attribute table as soon as it is
    read, even when the layer fails later (no CRS, a required field
    missing), so that the checks of its other columns still run.
    """
    if not path.exists():
        found.error(path, f"the {kind} layer file does not exist; check [layers] {kind} in the scenario")
        return None
    got = _read_raw(path, kind, opts, found, info)
    if got is None:
        return None
    gdf, is_shp = got
    decoded = _decode_text(gdf, path, kind, opts, is_shp, found)
    if decoded is None:
        return None
    gdf, info.encoding, raw_names = decoded
    info.geometry_types = {str(k): int(v) for k, v in gdf.geometry.geom_type.fillna("none").value_counts().items()}
    if len(gdf) == 0:
        found.error(path, f"the {kind} layer has no features; add them, or "
                          + ("remove it from [layers]" if kind in ("services", "parks", "constraints") else
                             "point [layers] " + kind + " at the right file"))
        return None
    src = _source_crs(gdf, path, kind, opts, working, found)
    info.crs = crs_label(src) if src is not None else "none"
    gdf = _rename_fields(gdf, kind, opts.mapping, path, raw_names, info.encoding, found, tables)
    if src is None or gdf is None:
        return None
    id_col = _ID_COLUMN.get(kind)
    if id_col in gdf.columns:
        gdf[id_col] = _as_text(gdf[id_col])
    gdf = _fix_coordinates(gdf, src, path, kind, id_col, found)
    if gdf is None:
        return None
    gdf = _clean_geometry(gdf, kind, path, id_col, found)
    if gdf is None:
        return None
    gdf = _project(gdf, src, working, path, kind, found)
    info.kept = len(gdf)
    return gdf


def read_layer(path: str | Path, kind: str, *, mapping: dict[str, str] | None = None, crs: CRS,
               notes: list[str] | None = None, encoding: str | None = None, source_crs: str | None = None,
               layer: str | None = None) -> gpd.GeoDataFrame:
    """Read one layer, decode its text, rename its fields, check its geometry and project it.

    Only the layer's own checks run here; checks across layers (parcel
    districts against the districts layer) are in :func:`check_layers`.

    Parameters
    ----------
    path
        The file (GeoPackage, shapefile, GeoJSON or anything GDAL reads).
    kind
        Which layer this is, a key of :data:`SCHEMA`.
    mapping
        siteplan field name -> the layer's column name.
    crs
        The working CRS to project to.
    notes
        Repairs, warnings and notes are appended here as text.
    encoding, source_crs, layer
        The text encoding, the layer's CRS and the layer's name inside the
        file, when the file does not say them itself (or says them wrong).

    Raises
    ------
    LayerCheckError
        Listing every error found.
    """
    found = _Findings()
    path = Path(path)
    opts = _Options(mapping=dict(mapping or {}), encoding=encoding, crs=source_crs, layer=layer)
    gdf = None
    with _guard(found, path, f"the {kind} layer"):
        gdf = _read_vector(path, kind, opts, CRS.from_user_input(crs), found, LayerInfo(kind, path))
    if notes is not None:
        notes.extend(str(d) for d in found.items if d.level != "error")
    errors = [d for d in found.items if d.level == "error"]
    if errors or gdf is None:
        raise LayerCheckError(errors or [Diagnostic("error", str(path), f"the {kind} layer could not be read")])
    return gdf.reset_index(drop=True)


# -- checks across a layer's features and across layers ---------------------


def _validate_districts(d: gpd.GeoDataFrame, path: Path, scenario: Scenario, found: _Findings) -> gpd.GeoDataFrame:
    d["zone"] = _as_text(d["zone"])
    no_name = d["district"].isna()
    if no_name.any():
        found.error(path, f"{int(no_name.sum())} district polygon(s) have no name in field 'district' "
                          f"({_ids(d, no_name, None)}); give each district its name")
    no_zone = d["zone"].isna() & ~no_name
    if no_zone.any():
        found.error(path, f"field 'zone' is empty for {_ids(d, no_zone, 'district')}; give each district its zone")
    dup = d["district"].duplicated(keep=False) & ~no_name
    if dup.any():
        names = sorted(set(d.loc[dup, 'district']))
        found.error(path, f"district names must be unique, but {_sample(names)} {_verb(len(names), 'occurs', 'occur')} "
                          "more than once; merge the polygons of one district (Dissolve in QGIS) or rename them")
    unknown_zones = sorted(set(scenario.zones) - set(d["zone"].dropna()))
    if unknown_zones:
        found.error(path, f"[zones] in the scenario names {unknown_zones}, which no district has as its zone; zones in "
                          f"the layer: {sorted(set(d['zone'].dropna()))}. Correct the names in [zones] or in field 'zone'")
    return d


def _validate_parcels(p: gpd.GeoDataFrame, path: Path, districts: gpd.GeoDataFrame | None, scenario: Scenario,
                      found: _Findings) -> gpd.GeoDataFrame:
    """Check the parcels' attributes; columns that are absent (a required field missing, reported already) are skipped."""
    has = set(p.columns)
    no_id = p["parcel_id"].isna() if "parcel_id" in has else pd.Series(False, index=p.index)
    if no_id.any():
        found.error(path, f"field 'parcel_id' is empty for {int(no_id.sum())} parcel(s) ({_ids(p, no_id, None)}); "
                          "give each parcel its id")
    dup = p["parcel_id"].duplicated(keep=False) & ~no_id if "parcel_id" in has else no_id
    if dup.any():
        ids = sorted(set(p.loc[dup, 'parcel_id']))
        found.error(path, f"parcel_id must be unique, but {_sample(ids)} {_verb(len(ids), 'occurs', 'occur')} more "
                          f"than once ({int(dup.sum())} parcels); give each parcel its own id")
    far, bad = _parse_numbers(p["far_max"] if "far_max" in has else pd.Series(1.0, index=p.index))
    nan = far.isna().to_numpy() & ~bad
    if bad.any():
        mixed = " (the column mixes numbers and text)" if (~bad & p["far_max"].notna().to_numpy()).any() else ""
        found.error(path, f"field 'far_max' (plot ratio) must be a number{mixed}, but {_ids(p, bad, 'parcel_id')} "
                          f"{_verb(bad, 'holds', 'hold')} {_values(p['far_max'], bad)}; write a number such as 2.5 "
                          "in field 'far_max' for each")
    if nan.any():
        found.error(path, f"field 'far_max' (plot ratio) is empty for {_ids(p, nan, 'parcel_id')}; fill in the "
                          "plot-ratio cap of each parcel")
    out_of_range = ((far <= 0) | (far > MAX_PLAUSIBLE_FAR)).to_numpy()
    if out_of_range.any():
        found.error(path, f"field 'far_max' (plot ratio) must be above 0 and at most {MAX_PLAUSIBLE_FAR:g}, but "
                          f"{_ids(p, out_of_range, 'parcel_id')} {_verb(out_of_range, 'has', 'have')} "
                          f"{_sample([f'{v:g}' for v in sorted(set(far[out_of_range].tolist()))])}; write each parcel's "
                          "plot-ratio cap from the regulatory plan (2.5 is written 2.5, not 250 or 0)")
    if "far_max" in has:
        p["far_max"] = far
    upper, bad_up = _parse_numbers(p["far_upper"])
    if bad_up.any():
        found.warn(path, f"field 'far_upper' holds text that is not a number for {_ids(p, bad_up, 'parcel_id')} "
                         f"({_values(p['far_upper'], bad_up)}); taken as no upper plot ratio")
    p["far_upper"] = upper.where(upper > 0)
    years, bad_y = _parse_years(p["available_year"] if "available_year" in has
                                else pd.Series(scenario.plan.first_year, index=p.index))
    nan_y = years.isna().to_numpy() & ~bad_y
    if bad_y.any():
        found.error(path, f"field 'available_year' must be a year, but {_ids(p, bad_y, 'parcel_id')} {_verb(bad_y, 'holds', 'hold')} "
                          f"{_values(p['available_year'], bad_y)}; write the year the land is ready, e.g. 2017")
    if nan_y.any():
        found.error(path, f"field 'available_year' is empty for {_ids(p, nan_y, 'parcel_id')}; fill in the year the "
                          "land is ready")
    absurd = ((years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1])).to_numpy()
    if absurd.any():
        found.error(path, f"field 'available_year' must be a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}, but "
                          f"{_ids(p, absurd, 'parcel_id')} {_verb(absurd, 'has', 'have')} "
                          f"{_values(years, absurd)}; write the year the land is ready, e.g. 2017")
    if "available_year" in has:
        p["available_year"] = _whole_years(years)
    late = (years > scenario.plan.last_year).to_numpy() & ~absurd
    if late.any():
        found.warn(path, f"{int(late.sum())} parcel(s) become available after {scenario.plan.last_year}, the plan's "
                         f"last year, and cannot be used in this plan ({_ids(p, late, 'parcel_id')})")
    for col in ("land_use", "name"):
        p[col] = _as_text(p[col]).fillna(SCHEMA["parcels"]["optional"][col] if col == "land_use" else "")
    status = _as_text(p["status"])
    no_status = status.isna().to_numpy()
    if no_status.any() and len(p):
        found.warn(path, f"field 'status' is empty for {int(no_status.sum())} parcel(s) ({_ids(p, no_status, 'parcel_id')}); "
                         "taken as 'reserve' (a candidate). Fill it in if they are not")
    p["status"] = status.fillna("reserve")
    depot, bad_d = _parse_flags(p["metro_depot"])
    if bad_d.any():
        found.error(path, f"field 'metro_depot' must be true or false, but {_ids(p, bad_d, 'parcel_id')} "
                          f"{_verb(bad_d, 'holds', 'hold')} {_values(p['metro_depot'], bad_d)}; write 1 or 0, true or "
                          "false, 是 or 否 (empty counts as no)")
    p["metro_depot"] = depot
    if "district" not in has:
        return p
    p["district"] = _as_text(p["district"])
    no_d = p["district"].isna().to_numpy()
    if no_d.any():
        found.error(path, f"field 'district' is empty for {_ids(p, no_d, 'parcel_id')}; name the district each "
                          "parcel lies in, as in the districts layer")
    p["zone"] = None
    if districts is not None:
        p = _match_districts(p, path, districts, no_d, found)
    return p


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


def _match_districts(p: gpd.GeoDataFrame, path: Path, districts: gpd.GeoDataFrame, no_d: np.ndarray,
                     found: _Findings) -> gpd.GeoDataFrame:
    known = sorted(str(x) for x in districts["district"].dropna())
    canonical = {_norm(k): k for k in known}
    matched = p["district"].map(lambda v: v if v in known else canonical.get(_norm(v)) if isinstance(v, str) else None)
    respelt = matched.notna() & (matched != p["district"])
    if respelt.any():
        found.note(path, f"{int(respelt.sum())} parcel district name(s) differ from the districts layer only in "
                         f"spaces or full-width characters ({_values(p['district'], respelt)}); matched")
    unknown = matched.isna().to_numpy() & ~no_d
    if unknown.any():
        names = sorted(set(p.loc[unknown, "district"]))
        hints = {n: difflib.get_close_matches(n, known, n=1) for n in names[:5]}
        hint_txt = "; ".join(f"{n!r} -> {h[0]!r}?" for n, h in hints.items() if h)
        found.error(path, f"{int(unknown.sum())} parcel(s) name districts that are not in the districts layer: "
                          f"{names[:5]} ({_ids(p, unknown, 'parcel_id')}). "
                          f"{('Perhaps: ' + hint_txt + ' ') if hint_txt else ''}Correct field 'district'; known "
                          f"districts: {', '.join(known)}")
    p["district"] = matched.where(matched.notna(), p["district"])
    zone_of = dict(zip(districts["district"], districts["zone"]))
    p["zone"] = p["district"].map(zone_of)
    return p


def _slivers_and_overlaps(p: gpd.GeoDataFrame, path: Path, found: _Findings) -> gpd.GeoDataFrame:
    area = p.geometry.area.to_numpy()
    small = area < MIN_PARCEL_AREA_M2
    if small.all():
        found.error(path, f"every parcel is smaller than {MIN_PARCEL_AREA_M2:g} m2; are the coordinates in metres? "
                          "Check the layer's CRS")
        return p
    if small.any():
        found.repair(path, f"dropped {int(small.sum())} sliver parcel(s) under {MIN_PARCEL_AREA_M2:g} m2 "
                           f"({_ids(p, small, 'parcel_id')}); clean them up in your GIS")
        p = p.loc[~small].copy()
        area = area[~small]
    geoms = p.geometry.values
    left, right = p.sindex.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left):
        with np.errstate(all="ignore"):
            shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
        share = shared / np.minimum(area[left], area[right])
        over = share > OVERLAP_TOLERANCE
        if over.any():
            ids = p["parcel_id"].to_numpy()
            order = np.argsort(-shared[over])
            pairs = [f"{ids[a]} and {ids[b]} ({s:,.0f} m2)" for a, b, s in
                     zip(left[over][order], right[over][order], shared[over][order])]
            found.warn(path, f"{int(over.sum())} pair(s) of parcels overlap by more than {100 * OVERLAP_TOLERANCE:g}% "
                             f"of the smaller one: {_sample(pairs)}. The overlapping land counts in both parcels' "
                             "capacity (double-counted); fix the boundaries in your GIS")
    return p


def _whole_years(years: pd.Series) -> pd.Series:
    """Years as integers; missing and impossible ones (already reported) as -1."""
    ok = years.between(YEAR_RANGE[0], YEAR_RANGE[1]) & (years == np.round(years))
    return years.where(ok, -1).astype("int64")


def _validate_years(gdf: gpd.GeoDataFrame, col: str, path: Path, kind: str, found: _Findings) -> gpd.GeoDataFrame:
    years, bad = _parse_years(gdf[col])
    nan = years.isna().to_numpy() & ~bad
    absurd = ((years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1])).to_numpy()
    id_col = _ID_COLUMN.get(kind)
    if bad.any() or nan.any() or absurd.any():
        wrong = bad | nan | absurd
        found.error(path, f"field {col!r} must be a year, but {_ids(gdf, wrong, id_col)} {_verb(wrong, 'holds', 'hold')} "
                          f"{_values(gdf[col], wrong)}; write the year it opens, e.g. 2018")
    gdf[col] = _whole_years(years)
    return gdf


def _check_raster(path: Path, working: CRS, parcels: gpd.GeoDataFrame | None, found: _Findings, info: LayerInfo) -> None:
    import rasterio

    if not path.exists():
        found.error(path, "the population raster does not exist; check [layers] population")
        return
    try:
        with rasterio.open(path) as src:
            info.driver = src.driver
            info.features = int(src.width * src.height)
            info.geometry_types = {f"raster {src.width} x {src.height}, {src.count} band(s)": 1}
            rcrs = CRS(src.crs) if src.crs else None
            bounds = src.bounds
            if src.count < 1:
                found.error(path, "the population raster has no band; export it again with the density band")
                return
    except Exception as err:
        found.error(path, f"cannot read the population raster ({_gdal_words(err)}); export it again as GeoTIFF")
        return
    info.crs = crs_label(rcrs)
    info.encoding = "-"
    if rcrs is None:
        found.error(path, "the population raster has no CRS; define it in your GIS and save it again as GeoTIFF "
                          f"(e.g. in {working.to_string()})")
        return
    if parcels is not None and len(parcels):
        try:
            pb = gpd.GeoSeries([shapely.box(*parcels.total_bounds)], crs=parcels.crs).to_crs(rcrs).iloc[0]
            if not pb.intersects(shapely.box(*bounds)):
                found.warn(path, "the population raster does not cover any parcel, so every parcel gets no "
                                 "population score; check the raster's CRS and extent")
        except Exception:
            found.warn(path, "could not compare the population raster's extent with the parcels; check its CRS")


def _working_crs(scenario: Scenario, found: _Findings) -> CRS | None:
    try:
        crs = CRS.from_user_input(scenario.plan.crs)
    except Exception:
        found.error(scenario.source, f"[plan] crs = {scenario.plan.crs!r} is not a CRS pyproj knows; use e.g. 'EPSG:4549'")
        return None
    if not crs.is_projected:
        found.error(scenario.source, f"[plan] crs = {scenario.plan.crs!r} is geographic; siteplan measures in metres, so "
                          "choose a projected CRS such as CGCS2000 Gauss-Kruger (EPSG:4549 for 120E)")
        return None
    return crs


def _empty_layer(kind: str, crs: CRS) -> gpd.GeoDataFrame:
    spec = SCHEMA[kind]
    cols = spec["required"] + list(spec["optional"])
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _options(scenario: Scenario, kind: str) -> _Options:
    lp = scenario.layers
    return _Options(
        mapping=dict(getattr(scenario.fields, kind)),
        encoding=getattr(lp, "encoding", {}).get(kind),
        crs=getattr(lp, "crs", {}).get(kind),
        layer=getattr(lp, "layer", {}).get(kind),
    )


@contextmanager
def _guard(found: _Findings, path, what: str):
    """Turn an unexpected exception into an error naming the file: no traceback reaches a planner."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    except SiteplanError as err:
        found.error(path, str(err))
    except Exception as err:  # a bug or a data shape never seen: say so, and where
        log.debug("unexpected error while checking %s", what, exc_info=True)
        found.error(path, f"unexpected problem while checking {what} ({type(err).__name__}: {err}); siteplan "
                          "cannot use this data as it is. Please report it, with the file")


def _tidy_other_layers(frames: dict[str, gpd.GeoDataFrame], paths, found: _Findings) -> None:
    """Years, names, worker counts and service categories of the other layers."""
    for kind in ("stations", "lines"):
        if frames.get(kind) is not None and getattr(paths, kind) is not None:
            frames[kind] = _validate_years(frames[kind], "open_year", Path(getattr(paths, kind)), kind, found)
    for kind, cols in (("stations", ("station", "line")), ("lines", ("line",)), ("parks", ("park",)),
                       ("constraints", ("kind", "name")), ("services", ("category", "name"))):
        f = frames.get(kind)
        if f is not None and getattr(paths, kind) is not None:
            for col in cols:
                f[col] = _as_text(f[col]).fillna("")
    if paths.parks is not None and frames.get("parks") is not None:
        workers, bad = _parse_numbers(frames["parks"]["workers"])
        if bad.any():
            found.warn(paths.parks, f"field 'workers' is not a number for {_ids(frames['parks'], bad, 'park')} "
                                    f"({_values(frames['parks']['workers'], bad)}); taken as 0")
        frames["parks"]["workers"] = workers.fillna(0.0)
    if paths.services is not None and frames.get("services") is not None:
        s = frames["services"]
        other = ~s["category"].isin(SERVICE_CATEGORIES)
        if other.any():
            found.warn(paths.services, f"{int(other.sum())} service(s) have categories siteplan does not count "
                                       f"({_values(s['category'], other)}); the known ones are "
                                       f"{', '.join(SERVICE_CATEGORIES)}. Recode field 'category' to count them")


def check_layers(scenario: Scenario) -> LayerCheck:
    """Read and check every layer the scenario names; never raises for bad data.

    Parameters
    ----------
    scenario
        A loaded scenario (layer paths already absolute).

    Returns
    -------
    LayerCheck
        Every error, repair, warning and note, what was read from each file,
        and the :class:`Layers` when there is no error.
    """
    found = _Findings()
    info: dict[str, LayerInfo] = {}
    frames: dict[str, gpd.GeoDataFrame] = {}
    tables: dict[str, pd.DataFrame] = {}
    crs = _working_crs(scenario, found)
    if crs is None:
        return LayerCheck(crs=None, diagnostics=found.items, info=info, frames=frames)
    paths = scenario.layers
    for kind in SCHEMA:
        path = getattr(paths, kind)
        if path is None:
            frames[kind] = _empty_layer(kind, crs)
            continue
        info[kind] = LayerInfo(kind, Path(path))
        with _guard(found, path, f"the {kind} layer"):
            gdf = _read_vector(Path(path), kind, _options(scenario, kind), crs, found, info[kind], tables)
            if gdf is not None:
                frames[kind] = gdf
    # A layer that failed (no CRS, a required field missing) still has its
    # other columns checked, from its attribute table, so that one fault
    # does not hide the others.
    districts = frames.get("districts")
    table = tables.get("districts")
    if districts is None and table is not None and {"district", "zone"} <= set(table.columns):
        districts = table.assign(district=_as_text(table["district"]))
    if districts is not None:
        with _guard(found, paths.districts, "the districts layer"):
            districts = _validate_districts(districts, Path(paths.districts), scenario, found)
        if "zone" not in districts.columns or districts["district"].isna().all():
            districts = None  # no names to match parcels against
    if frames.get("parcels") is not None:
        path = Path(paths.parcels)
        with _guard(found, path, "the parcels layer"):
            p = _validate_parcels(frames["parcels"], path, districts, scenario, found)
            frames["parcels"] = _slivers_and_overlaps(p, path, found)
            info["parcels"].kept = len(frames["parcels"])
    elif tables.get("parcels") is not None:
        path = Path(paths.parcels)
        table = tables["parcels"].copy()
        if "parcel_id" in table.columns:
            table["parcel_id"] = _as_text(table["parcel_id"])
        with _guard(found, path, "the parcels layer"):
            _validate_parcels(table, path, districts, scenario, found)
    with _guard(found, None, "the stations, lines, services and parks"):
        _tidy_other_layers(frames, paths, found)
    if paths.population is not None:
        info["population"] = LayerInfo("population", Path(paths.population))
        with _guard(found, paths.population, "the population raster"):
            _check_raster(Path(paths.population), crs, frames.get("parcels"), found, info["population"])
    result = LayerCheck(crs=crs, diagnostics=found.items, info=info, frames=frames)
    if not result.errors and all(frames.get(k) is not None for k in SCHEMA):
        result.layers = Layers(
            crs=crs,
            population=Path(paths.population) if paths.population is not None else None,
            warnings=[str(d) for d in result.warnings],
            notes=[str(d) for d in result.of_level("note")],
            sources={k: Path(getattr(paths, k)) for k in info},
            info=info,
            **{k: frames[k].reset_index(drop=True) for k in SCHEMA},
        )
    return result


def read_layers(scenario: Scenario) -> Layers:
    """Read and validate every layer the scenario names.

    Parameters
    ----------
    scenario
        A loaded scenario (layer paths already absolute).

    Returns
    -------
    Layers
        Layers in ``scenario.plan.crs``, with the repairs and warnings listed.

    Raises
    ------
    LayerCheckError
        A :class:`~siteplan.errors.LayerError` listing every error found.
    """
    result = check_layers(scenario)
    if result.errors or result.layers is None:
        raise LayerCheckError(result.errors or [Diagnostic("error", "", "the layers could not be read")])
    layers = result.layers
    for d in result.warnings:
        log.warning("%s", d)
    for d in result.of_level("note"):
        log.info("%s", d)
    log.info("Read %d parcels, %d districts, %d stations in %s", len(layers.parcels), len(layers.districts),
             len(layers.stations), crs_label(layers.crs))
    return layers
