"""``siteplan init``: read a folder of the bureau's files and write a commented first scenario.

:func:`scan_folder` lists every vector layer (shapefile, every layer of a
GeoPackage, GeoJSON), raster (GeoTIFF) and target table (.xlsx, .csv) in a
folder, with its geometry, feature count, CRS, text encoding and columns
(shapefile text decoded as :mod:`siteplan.inputs.read` decodes it).
:func:`guess_roles` gives each layer the role it most likely plays (parcels,
districts, stations, lines, services, parks, constraints, population) from
its geometry, its file and layer names (Chinese and pinyin initials) and its
columns, and :func:`guess_fields` maps siteplan's fields to its columns.
:func:`scenario_text` writes all of it as a TOML scenario in which every
guess is one line with a comment saying why, and what could not be decided
is marked ``# TODO`` with the candidates seen, so that a wrong guess is
cheap to correct. :func:`init_scenario` does the three and writes the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyogrio

from .errors import ScenarioError
from .housing import CATALOGUE
from .inputs.fields import COLUMN_HINTS, SCHEMA
from .inputs.findings import _Findings, _Options
from .inputs.read import _RAW, _decode_text
from .inputs.targets import TYPE_ALIASES

__all__ = ["Found", "InitResult", "ROLES", "scan_folder", "scan_vector", "schema_fields", "land_use_counts", "guess_roles",
           "guess_fields", "scenario_text", "init_scenario"]

#: The roles a file can play, in the order of ``[layers]``, with the geometry each needs.
ROLES: dict[str, str] = {"parcels": "polygon", "districts": "polygon", "stations": "point", "lines": "line",
                         "services": "point", "parks": "polygon", "constraints": "polygon", "population": "raster"}
_REQUIRED_ROLES = ("parcels", "districts", "stations", "lines")

#: Words in file and layer names that point to a role (lower case; Chinese and pinyin initials).
NAME_WORDS: dict[str, tuple[str, ...]] = {
    "parcels": ("地块", "宗地", "控规", "用地", "出让", "储备", "parcel", "plot", "dk", "kg", "zd"),
    "districts": ("区县", "行政区", "区划", "辖区", "县区", "边界", "district", "xzq", "qx", "boundary", "admin"),
    "stations": ("站点", "地铁站", "车站", "站", "station", "stop", "ditiezhan"),
    "lines": ("线路", "轨道", "地铁线", "线网", "line", "route", "xl", "metro", "subway"),
    "services": ("设施", "学校", "医院", "公服", "配套", "poi", "service", "school", "sheshi"),
    "parks": ("园区", "产业园", "开发区", "工业园", "park", "yq"),
    "constraints": ("红线", "生态", "保护", "洪", "限制", "禁建", "constraint", "redline"),
    "population": ("人口", "pop", "population", "renkou"),
}

#: Column names for siteplan fields beyond :data:`siteplan.inputs.fields.COLUMN_HINTS`.
EXTRA_HINTS: dict[str, tuple[str, ...]] = {
    "land_use": ("用地代码", "YDDM", "YDLXBM", "用地分类", "地类代码", "DLBM", "用地性质代码", "YDXZDM"),
    "area_m2": ("用地面积", "YDMJ", "面积", "MJ", "地块面积", "DKMJ", "SHAPE_AREA"),
    "station": ("站点", "ZDMC", "站名", "车站名称"),
    "line": ("线路", "XLMC", "线路名称", "所属线路", "SSXL"),
    "district": ("区县", "QXMC", "区名", "行政区名称", "XZQMC"),
    "open_year": ("开通年份", "KTNF", "开通时间", "通车年份", "TCNF"),
    "far_upper": ("容积率上限值", "RJLSX2"),
}

_GAODE_WORDS = ("高德", "gaode", "amap", "gcj", "火星")
_VECTOR = (".shp", ".gpkg", ".geojson", ".json")
_RASTER = (".tif", ".tiff")
_TABLES = (".xlsx", ".csv")

#: Typical average floor area of one unit (m2) by catalogue type, for a first scenario.
_UNIT_AREA = {"public_rental": 50, "low_rent": 45, "economy": 80, "price_capped": 85, "talent_apartment": 70,
              "resettlement": 90, "affordable_rental": 60, "affordable_sale": 90}


@dataclass
class Found:
    """One layer (or table) found in the folder."""

    path: Path
    layer: str | None  # the layer name inside a multi-layer file, else None
    geometry: str  # "polygon", "point", "line", "raster", "table" or "none"
    features: int = 0
    crs: str = ""
    lonlat: bool = False
    lon: float | None = None  # median longitude of a lon/lat layer
    encoding: str = ""  # "GBK (detected; no .cpg)" ...
    columns: list[str] = field(default_factory=list)
    sample: pd.DataFrame | None = None
    role: str | None = None
    why: str = ""
    problem: str = ""

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.layer}" if self.layer else self.path.name


@dataclass
class InitResult:
    """What :func:`init_scenario` found and wrote."""

    path: Path
    text: str
    found: list[Found]
    todos: list[str]


def _geometry_kind(geometry_type: str | None) -> str:
    g = (geometry_type or "").lower()
    if "polygon" in g or "surface" in g:
        return "polygon"
    if "point" in g:
        return "point"
    if "line" in g or "curve" in g:
        return "line"
    return "none"


def scan_folder(folder: Path, *, sample: int = 2000) -> list[Found]:
    """Every layer, raster and table in ``folder`` (not its subfolders), read quickly.

    Vector layers are read to at most ``sample`` features for guessing;
    files GDAL cannot open are listed with their ``problem``.
    """
    out: list[Found] = []
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        suffix = path.suffix.lower()
        if suffix in _VECTOR:
            try:
                layers = [(str(n), g) for n, g in pyogrio.list_layers(path)]
            except Exception as err:
                out.append(Found(path, None, "none", problem=f"GDAL cannot open it ({str(err).strip()[:80]})"))
                continue
            for name, gtype in layers:
                out.append(scan_vector(path, name if len(layers) > 1 else None, name, gtype, sample))
        elif suffix in _RASTER:
            out.append(_scan_raster(path))
        elif suffix in _TABLES:
            out.append(Found(path, None, "table"))
    return out


def scan_vector(path: Path, shown_layer: str | None, layer: str, gtype: str | None, sample: int) -> Found:
    found = Found(path, shown_layer, _geometry_kind(gtype))
    try:
        info = pyogrio.read_info(path, layer=layer, encoding=_RAW)
        gdf = pyogrio.read_dataframe(path, layer=layer, encoding=_RAW, max_features=sample)
    except Exception as err:
        found.problem = f"GDAL cannot read it ({str(err).strip()[:80]})"
        return found
    found.features = int(info.get("features") or len(gdf))
    decoded = _decode_text(gdf, path, "parcels", _Options({}), path.suffix.lower() == ".shp", _Findings())
    if decoded is None:
        found.problem = "its text is neither UTF-8 nor GBK"
        return found
    gdf, label, _ = decoded
    found.encoding = label
    found.columns = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    found.sample = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    if gdf.crs is not None:
        from pyproj import CRS

        crs = CRS(gdf.crs)
        code = crs.to_epsg(min_confidence=70)
        found.crs = f"EPSG:{code}" if code else crs.name
        found.lonlat = crs.is_geographic
        if found.lonlat and len(gdf):
            found.lon = float(gdf.geometry.representative_point().x.median())
    return found


def _scan_raster(path: Path) -> Found:
    import rasterio

    try:
        with rasterio.open(path) as src:
            crs = src.crs.to_string() if src.crs else ""
            return Found(path, None, "raster", features=src.count, crs=crs)
    except Exception as err:
        return Found(path, None, "raster", problem=f"cannot open it ({str(err).strip()[:80]})")


# -- roles -----------------------------------------------------------------


def _words(f: Found) -> str:
    return unicodedata.normalize("NFKC", f"{f.path.stem} {f.layer or ''}").lower()


def _name_hits(text: str, role: str) -> list[str]:
    hits = []
    for w in NAME_WORDS[role]:
        if w.isascii() and len(w) <= 3:
            if re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text):
                hits.append(w)
        elif w in text:
            hits.append(w)
    return hits


def _hinted(col: str, ours: str) -> bool:
    key = col.upper() if col.isascii() else col
    names = {k.upper() if k.isascii() else k for k in COLUMN_HINTS.get(ours, {})} | {
        h.upper() if h.isascii() else h for h in EXTRA_HINTS.get(ours, ())}
    return key in names or col == ours


def _score(f: Found, role: str) -> tuple[float, str]:
    """How likely ``f`` plays ``role``, and why; 0 if its geometry cannot."""
    if f.problem or f.geometry != ROLES[role]:
        return 0.0, ""
    why: list[str] = []
    score = 1.0
    hits = _name_hits(_words(f), role)
    if hits:
        score += 3.0
        why.append(f"name contains {hits[0]}")
    wanted = [w for ws in schema_fields(role) for w in ws]
    cols = [c for c in f.columns if any(_hinted(c, w) for w in wanted if w not in ("name",))]
    if role == "parcels":
        cols = [c for c in f.columns if any(_hinted(c, w) for w in ("far_max", "land_use", "parcel_id", "area_m2"))]
    if cols:
        score += min(len(cols), 3)
        why.append(f"columns {', '.join(cols[:2])}")
    if role == "parcels" and f.features:
        score += min(f.features, 10_000) / 10_000  # the most numerous polygons are likely the parcels
    return score, ", ".join(why)


def guess_roles(found: list[Found]) -> dict[str, Found]:
    """The most likely file for each role; each file plays one role at most. Sets ``role`` and ``why``."""
    pairs = sorted(((s, role, i, why) for i, f in enumerate(found) for role in ROLES
                    for s, why in [_score(f, role)] if s > 0), key=lambda p: -p[0])
    roles: dict[str, Found] = {}
    for s, role, i, why in pairs:
        f = found[i]
        if role in roles or f.role is not None:
            continue
        if s < 2 and role not in _REQUIRED_ROLES and role != "population":
            continue  # an optional layer needs its name or columns to say so
        f.role, f.why = role, why
        roles[role] = f
    return roles


def schema_fields(role: str) -> tuple[list[str], list[str]]:
    """A layer's fields: those it needs (required, and candidate fields for parcels) and the others."""
    spec = SCHEMA.get(role, {})
    needed = [*spec.get("required", []), *spec.get("candidate", [])]
    return needed, [f for f in [*spec.get("stated", []), *spec.get("optional", {})] if f not in needed]


def guess_fields(f: Found, role: str) -> dict[str, tuple[str, str]]:
    """siteplan field -> (the layer's column, why) for the fields whose column can be told."""
    needed, others = schema_fields(role)
    wanted = [*needed, *others]
    out: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    for ours in wanted:
        if ours in f.columns:
            taken.add(ours)
    for ours in wanted:
        if ours in f.columns:
            continue
        for col in f.columns:
            if col not in taken and _hinted(col, ours):
                gloss = COLUMN_HINTS.get(ours, {}).get(col.upper() if col.isascii() else col, "")
                out[ours] = (col, f"column {col}" + (f" ({gloss})" if gloss else ""))
                taken.add(col)
                break
    ident = {"districts": "district", "stations": "station", "lines": "line", "parks": "park"}.get(role)
    if ident and ident not in out and ident not in f.columns and f.sample is not None:
        # No known name: the first text column whose values are all different names the features.
        for col in f.columns:
            values = f.sample[col].dropna()
            if col not in taken and len(values) and values.map(lambda v: isinstance(v, str)).all() and values.is_unique:
                out[ident] = (col, f"column {col}: a different text in every feature")
                break
    return out


# -- the scenario text -----------------------------------------------------


def _q(text: object) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(str(text), ensure_ascii=False)


def _key(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else _q(text)


def _gk_crs(lon: float | None) -> str | None:
    """The CGCS2000 3-degree Gauss-Kruger CRS (no zone prefix) whose central meridian is nearest ``lon``."""
    if lon is None or not 73.5 <= lon <= 136.5:
        return None
    cm = int(round(lon / 3.0) * 3)
    return f"EPSG:{4534 + (cm - 75) // 3}" if 75 <= cm <= 135 else None


def land_use_counts(f: Found, col: str) -> Counter:
    """Counts of each land-use value over the whole layer (the sample when the layer is no larger)."""
    values = f.sample[col] if f.sample is not None and col in f.sample else pd.Series(dtype=object)
    if f.features > len(values):
        import geopandas as gpd

        try:
            raw = pyogrio.read_dataframe(f.path, layer=f.layer, read_geometry=False, encoding=_RAW)
            gdf = gpd.GeoDataFrame(raw, geometry=gpd.GeoSeries([None] * len(raw), index=raw.index))
            decoded = _decode_text(gdf, f.path, "parcels", _Options({}), f.path.suffix.lower() == ".shp", _Findings())
            if decoded is not None and col in decoded[0]:
                values = decoded[0][col]
        except Exception:  # the sample's counts are still worth showing
            pass
    return Counter(str(v).strip() for v in values.dropna() if str(v).strip())


def _residential(codes: Counter) -> tuple[list[str], list[str], str]:
    """Candidate and inclusionary land-use patterns from the codes found, and a note of what they are."""
    from .inputs.landuse import land_use_class

    if not codes:
        return [], [], ""
    values = pd.Series(list(codes))
    cls = land_use_class(values)
    cand, incl = [], []
    for v, code in zip(values, cls["code"]):
        code = str(code or "")
        if code.startswith("R2") and "R2" not in cand:
            cand.append("R2")
        elif code.startswith("0701") and "0701" not in cand:
            cand.append("0701")
        elif code in ("RB", "BR", "B1") and code not in incl:
            incl.append(code)
    names = {v: n for v, n in zip(values, cls["name"]) if isinstance(n, str)}
    shown = ", ".join(f"{v} {names[v]} {n:,}" if names.get(v) not in (None, v) else f"{v} {n:,}"
                      for v, n in codes.most_common(12))
    return cand, incl, shown


def _types_from_table(path: Path) -> tuple[list[str], list[int], bool]:
    """Catalogue types named in a targets table, its years, and whether it says 累计."""
    from .inputs.targets import _layout, _match_type, _read_table, _type_names

    table = _read_table(path, None, ("指标", "目标", "target"), "targets")
    grid = _layout(table, need_years=True)
    names = {code: _type_names(code, None) for code in {*CATALOGUE, *TYPE_ALIASES}}
    codes = [c for label in grid.labels.values() for c, _ in [_match_type(label, names)] if c is not None]
    text = " ".join(str(v) for r in table.rows for v in r if v is not None)
    return list(dict.fromkeys(codes)), sorted(grid.years.values()), "累计" in text or "cumulative" in text.lower()


def scenario_text(folder: Path, out: Path, found: list[Found], roles: dict[str, Found]) -> tuple[str, list[str]]:
    """The commented scenario TOML, and the list of what is left to do."""
    todos: list[str] = []
    rel = lambda p: Path(os.path.relpath(p, out.parent)).as_posix()  # noqa: E731
    lines = [f"# Scenario written by `siteplan init {folder.name}` on {dt.date.today().isoformat()}.",
             "# Every guess is one line with the reason after #. Correct what is wrong, fill every TODO,",
             f"# then run `siteplan check {out.name}` and `siteplan run {out.name}`.", ""]
    # -- targets table and years
    tables = [f for f in found if f.geometry == "table"]
    target_file = next((f for f in tables if any(w in f.path.stem for w in ("目标", "指标", "任务", "计划", "target"))),
                       tables[0] if len(tables) == 1 else None)
    types: list[str] = []
    years: list[int] = []
    cumulative = False
    if target_file is not None:
        try:
            types, years, cumulative = _types_from_table(target_file.path)
        except ScenarioError as err:
            target_file.problem = str(err)[:120]
            target_file = None
    if target_file is not None:
        target_file.role = "targets"
        target_file.why = f"type rows {', '.join(types) or 'none known'}; years {years[0]}-{years[-1]}" if years else ""
    first, last = (years[0], years[-1]) if years else (dt.date.today().year, dt.date.today().year + 4)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-._") or "plan"
    if not re.match(r"[A-Za-z0-9]", name):
        name = "plan"
    crs, crs_why = "EPSG:4549", "TODO: no projected layer found; the CGCS2000 Gauss-Kruger zone of your city"
    projected = next((f for f in [roles.get("parcels"), *found] if f is not None and f.crs and not f.lonlat
                      and f.geometry != "table"), None)
    if projected is not None:
        crs, crs_why = projected.crs, f"the CRS of {projected.name}"
    else:
        lon = next((f.lon for f in found if f.lon is not None), None)
        gk = _gk_crs(lon)
        if gk:
            crs, crs_why = gk, f"review: CGCS2000 Gauss-Kruger zone nearest longitude {lon:.1f}"
    lines += ["[plan]", f"name = {_q(name)}   # letters, digits, - and _; names the output folder",
              f"first_year = {first}" + (f"   # from {target_file.path.name}" if years else "   # TODO: the plan's first year"),
              f"last_year = {last}" + (f"   # from {target_file.path.name}" if years else "   # TODO: the plan's last year"),
              f"crs = {_q(crs)}   # {crs_why}"]
    if not years:
        todos.append("[plan] first_year / last_year")
    parcels = roles.get("parcels")
    pfields = guess_fields(parcels, "parcels") if parcels else {}
    if "land_use" in pfields:
        codes = land_use_counts(parcels, pfields["land_use"][0])
        cand, incl, shown = _residential(codes)
        lines.append(f"# land-use codes in {pfields['land_use'][0]}: {shown}")
        if cand:
            lines.append(f"candidate_land_use = [{', '.join(_q(c) for c in cand)}]   # review: residential codes found "
                         "(a code matches by prefix: R2 covers R21, R22)")
            lines.append('candidate_status = ["reserve"]   # parcels without a status column count as reserve')
        else:
            lines.append('# candidate_land_use = ["R2", "0701"]   # TODO: no residential code found; name the codes '
                         "of the parcels that may receive housing")
            todos.append("[plan] candidate_land_use")
        if incl:
            lines.append(f"inclusionary_land_use = [{', '.join(_q(c) for c in incl)}]   # review: commercial/mixed "
                         "codes found; used when [rules.inclusionary] is on")
    lines.append("")
    # -- layers
    lines.append("[layers]")
    options: dict[str, list[str]] = {"encoding": [], "layer": [], "datum": []}
    for role in ROLES:
        f = roles.get(role)
        if f is None:
            cands = [g.name for g in found if g.geometry == ROLES[role] and g.role is None and not g.problem]
            seen = f" candidates: {', '.join(cands[:4])}" if cands else f" no {ROLES[role]} layer in the folder"
            if role in _REQUIRED_ROLES:
                lines.append(f"{role} = \"TODO\"   # TODO: which file holds the {role}?{seen}")
                todos.append(f"[layers] {role}")
            else:
                lines.append(f"# {role} = \"\"   # optional, none found;{seen}")
            continue
        what = "raster" if f.geometry == "raster" else f"{f.geometry}s, {f.features:,} feature{'s' * (f.features != 1)}"
        lines.append(f"{role} = {_q(rel(f.path))}   # {', '.join(w for w in (what, f.why) if w)}")
        if f.layer:
            options["layer"].append(f"{role} = {_q(f.layer)}   # one of the layers of {f.path.name}")
        if f.encoding.startswith("GBK") and "detected" in f.encoding:
            options["encoding"].append(f"{role} = \"GBK\"   # detected: no .cpg, and the text decodes as GBK")
        if f.lonlat and f.geometry in ("point", "line", "polygon"):
            if any(w in _words(f) for w in _GAODE_WORDS):
                options["datum"].append(f"{role} = \"gcj02\"   # review: the name says Gaode/AMap (GCJ-02)")
            else:
                options["datum"].append(f"# {role} = \"gcj02\"   # uncomment if digitised from Gaode/AMap or "
                                        "Tencent maps (GCJ-02, ~500 m off)")
    for table, rows in options.items():
        if rows:
            lines += ["", f"[layers.{table}]", *rows]
    # -- fields
    zone_todo: list[str] = []
    for role in ("parcels", "districts", "stations", "lines", "services", "parks", "constraints"):
        f = roles.get(role)
        if f is None:
            continue
        mapped = guess_fields(f, role)
        needed, others = schema_fields(role)
        block = []
        for ours in [*needed, *others]:
            if ours in mapped:
                block.append(f"{ours} = {_q(mapped[ours][0])}   # {mapped[ours][1]}")
            elif ours in f.columns:
                continue
            elif role == "parcels" and ours == "district":
                block.append("# district: no column; each parcel gets the district polygon it overlaps most")
            elif role == "parcels" and ours == "available_year":
                block.append("# available_year: no column; [defaults] available_year below applies")
            elif role == "districts" and ours == "zone":
                zone_todo.append(f.name)
            elif ours in needed:
                cols = ", ".join(f.columns) or "none"
                block.append(f"{ours} = \"TODO\"   # TODO: which column? the layer has: {cols}")
                todos.append(f"[fields.{role}] {ours}")
        if block:
            lines += ["", f"[fields.{role}]   # siteplan's field = your column", *block]
    # -- defaults
    if parcels is not None:
        no_year = "available_year" not in pfields and "available_year" not in parcels.columns
        no_far = "far_max" not in pfields and "far_max" not in parcels.columns
        if no_year or no_far:
            lines += ["", "[defaults]"]
        if no_year:
            lines.append(f"available_year = {first}   # review: no year column; every parcel available from the first year")
        if no_far:
            lines += ["", "[defaults.far_max]   # TODO: no plot-ratio (容积率) column; the plot ratio by land-use class",
                      "R2 = 2.5"]
            todos.append("[defaults.far_max]")
    # -- zones
    districts = roles.get("districts")
    if zone_todo and districts is not None:
        col = guess_fields(districts, "districts").get("district", (None,))[0] or "district"
        names = [str(v) for v in districts.sample[col].dropna().unique()] if col in districts.columns else []
        lines += ["", f"[zone_districts]   # TODO: {districts.name} has no zone (片区) column; group the districts "
                      "into zones (now each district is its own zone)"]
        lines += [f"{_q(n)} = [{_q(n)}]" for n in names[:60]] or ["# \"东岸城区\" = [\"望海区\", \"滨海区\"]"]
        todos.append("[zone_districts]")
    # -- types and targets
    lines.append("")
    if target_file is not None:
        lines += ["[targets]", f"file = {_q(rel(target_file.path))}   # type rows x year columns",
                  f"mode = {_q('cumulative' if cumulative else 'yearly')}   # review: "
                  + ("the table says 累计 (running totals)" if cumulative else "each year's own units; "
                     "\"cumulative\" for 累计 tables"), ""]
    if not types:
        types = ["public_rental"]
    for code in types:
        label = CATALOGUE[code].label_zh if code in CATALOGUE else code
        lines += [f"[types.{code}]   # {label}",
                  f"unit_area_m2 = {_UNIT_AREA.get(code, 60)}   # review: the average floor area of one unit"]
        if code not in CATALOGUE:
            lines.append(f"label = {_q(TYPE_ALIASES.get(code, (code,))[0])}")
        if target_file is None:
            lines.append(f"targets = []   # TODO: units of {label} per year, {first}-{last}, e.g. "
                         f"[{', '.join(['100'] * (last - first + 1))}]")
            todos.append(f"[types.{code}] targets")
        lines.append("")
    lines += ["# [zones]   # zone targets over the plan, e.g. \"东岸城区\" = 16000", "",
              "# [outputs]   # the land tables as the plan prints them (uncomment to use)",
              "# land_table = \"handan\"   # the Handan plan's columns: 套数, 容积率, 净用地, 毛用地",
              "# planning_far = 2.8   # the one planning plot ratio the tables print",
              "# area = \"中心城区\"   # the area named in the titles and year sentences", ""]
    return "\n".join(lines), todos


def init_scenario(folder: str | Path, out: str | Path | None = None, *, force: bool = False) -> InitResult:
    """Scan ``folder``, guess roles and fields, and write a commented scenario to ``out``.

    Parameters
    ----------
    folder
        The folder of the bureau's files.
    out
        The scenario file to write; default ``<folder>/scenario.toml``.
    force
        Overwrite an existing file.

    Raises
    ------
    ScenarioError
        If the folder is missing or empty of GIS files, or ``out`` exists and ``force`` is not given.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such folder; name the folder that holds your layers")
    out = Path(out) if out is not None else folder / "scenario.toml"
    if out.exists() and not force:
        raise ScenarioError(f"{out}: exists already; pass --force to overwrite it, or --out another file name")
    found = scan_folder(folder)
    if not any(f.geometry in ("polygon", "point", "line") for f in found):
        raise ScenarioError(f"{folder}: holds no vector layer (.shp, .gpkg, .geojson) siteplan can read; put the "
                            "bureau's layers into it")
    roles = guess_roles(found)
    text, todos = scenario_text(folder.resolve(), out.resolve(), found, roles)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return InitResult(out, text, found, todos)
