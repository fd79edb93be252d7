"""Read, validate and reproject the GIS layers a scenario names.

Every layer is read with pyogrio, its columns renamed from the user's names
to siteplan's (``[fields.<layer>]`` in the scenario), checked, repaired where
a repair is safe (and then counted in a warning), and projected to the
scenario's working CRS. Anything that cannot be repaired raises
:class:`~siteplan.errors.LayerError` naming the file, the feature, the field
and the fix.
"""

from __future__ import annotations

import difflib
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .errors import LayerError
from .scenario import Scenario

__all__ = ["Layers", "SCHEMA", "read_layers", "read_layer"]

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

_GEOM_TYPES = {
    "polygon": {"Polygon", "MultiPolygon"},
    "point": {"Point", "MultiPoint"},
    "line": {"LineString", "MultiLineString"},
}

#: Plot ratios above this are taken as data errors, not ambition.
MAX_PLAUSIBLE_FAR = 20.0


@dataclass
class Layers:
    """All layers of a scenario, validated and in one projected CRS.

    Optional layers that the scenario does not name are empty GeoDataFrames
    with the expected columns, so later stages need no special cases.
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


def _fail(path: Path, message: str) -> LayerError:
    return LayerError(f"{path}: {message}")


def _empty_layer(kind: str, crs: CRS) -> gpd.GeoDataFrame:
    spec = SCHEMA[kind]
    cols = spec["required"] + list(spec["optional"])
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _rename_fields(gdf: gpd.GeoDataFrame, kind: str, mapping: dict[str, str], path: Path) -> gpd.GeoDataFrame:
    spec = SCHEMA[kind]
    known = set(spec["required"]) | set(spec["optional"])
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise _fail(
            path,
            f"[fields.{kind}] names siteplan field(s) {unknown} that a {kind} layer does not "
            f"have; siteplan's fields are {sorted(known)}",
        )
    rename = {}
    for ours, theirs in mapping.items():
        if theirs not in gdf.columns:
            hint = difflib.get_close_matches(theirs, [str(c) for c in gdf.columns], n=3)
            did = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
            raise _fail(
                path,
                f"column {theirs!r} (mapped to {ours!r} in [fields.{kind}]) is not in the "
                f"layer.{did} The layer has: {', '.join(map(str, gdf.columns.drop('geometry')))}",
            )
        rename[theirs] = ours
    gdf = gdf.rename(columns=rename)
    for req in spec["required"]:
        if req not in gdf.columns:
            cols = [str(c) for c in gdf.columns if c != "geometry"]
            hint = difflib.get_close_matches(req, cols, n=3, cutoff=0.5)
            did = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
            raise _fail(
                path,
                f"required field {req!r} is missing.{did} Map your column to it in the "
                f'scenario: [fields.{kind}] {req} = "YOUR_COLUMN". The layer has: {", ".join(cols)}',
            )
    for opt, default in spec["optional"].items():
        if opt not in gdf.columns:
            gdf[opt] = default
    return gdf


def _check_geometry(gdf: gpd.GeoDataFrame, kind: str, path: Path, id_col: str | None, notes: list[str]) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    missing = geom.isna() | geom.is_empty
    if missing.any():
        ids = _sample_ids(gdf.loc[missing], id_col)
        notes.append(f"{path.name}: dropped {int(missing.sum())} feature(s) with empty geometry ({ids})")
        gdf = gdf.loc[~missing].copy()
        geom = gdf.geometry
    if shapely.has_z(geom.values).any():
        gdf = gdf.set_geometry(shapely.force_2d(geom.values))
        notes.append(f"{path.name}: dropped Z coordinates")
    wanted = _GEOM_TYPES[SCHEMA[kind]["geom"]]
    gtype = gdf.geometry.geom_type
    if SCHEMA[kind]["geom"] == "polygon":
        invalid = ~gdf.geometry.is_valid
        if invalid.any():
            fixed = shapely.make_valid(gdf.geometry.values[invalid.to_numpy()])
            polys = [
                shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")])
                for g in fixed
            ]
            gdf.loc[invalid, "geometry"] = gpd.GeoSeries(polys, index=gdf.index[invalid], crs=gdf.crs)
            notes.append(
                f"{path.name}: repaired {int(invalid.sum())} invalid polygon(s) with make_valid "
                f"({_sample_ids(gdf.loc[invalid], id_col)})"
            )
            gtype = gdf.geometry.geom_type
    bad = ~gtype.isin(wanted)
    if bad.any():
        raise _fail(
            path,
            f"{int(bad.sum())} feature(s) are {sorted(set(gtype[bad]))}, but a {kind} layer needs "
            f"{' or '.join(sorted(wanted))} ({_sample_ids(gdf.loc[bad], id_col)}); "
            "export the right geometry type from your GIS",
        )
    return gdf


def _sample_ids(gdf: pd.DataFrame, id_col: str | None, n: int = 5) -> str:
    if id_col and id_col in gdf.columns:
        vals = [str(v) for v in gdf[id_col].head(n)]
        label = id_col
    else:
        vals = [str(v) for v in gdf.index[:n]]
        label = "feature"
    more = f" and {len(gdf) - n} more" if len(gdf) > n else ""
    return f"{label} {', '.join(vals)}{more}"


def _numeric(gdf: gpd.GeoDataFrame, col: str, path: Path, id_col: str | None, *, integer: bool = False) -> pd.Series:
    values = pd.to_numeric(gdf[col], errors="coerce")
    bad = values.isna() & gdf[col].notna()
    nan = gdf[col].isna()
    if bad.any() or nan.any():
        rows = gdf.loc[bad | nan]
        raise _fail(
            path,
            f"field {col!r} must be a number, but {len(rows)} feature(s) hold "
            f"{sorted(set(map(str, gdf.loc[bad | nan, col])))[:5]} ({_sample_ids(rows, id_col)}); "
            "fill in a number for each",
        )
    if integer:
        frac = values != np.round(values)
        if frac.any():
            raise _fail(path, f"field {col!r} must be a whole number ({_sample_ids(gdf.loc[frac], id_col)})")
        return values.astype("int64")
    return values.astype("float64")


def read_layer(path: Path, kind: str, *, mapping: dict[str, str] | None = None, crs: CRS, notes: list[str]) -> gpd.GeoDataFrame:
    """Read one layer, rename its fields, check its geometry and project it.

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
        Warnings (what was repaired) are appended here.
    """
    path = Path(path)
    if not path.exists():
        raise _fail(path, f"the {kind} layer file does not exist; check [layers] {kind} in the scenario")
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as err:  # GDAL's own words are the most useful here
        raise _fail(path, f"cannot read the {kind} layer ({err}); is it a GIS file GDAL can open?") from None
    if len(gdf) == 0:
        raise _fail(path, f"the {kind} layer has no features")
    if gdf.crs is None:
        raise _fail(
            path,
            f"the {kind} layer has no CRS; define it in your GIS (for a shapefile, the .prj file) "
            f"and save again, e.g. as {crs.to_string()}",
        )
    gdf = _rename_fields(gdf, kind, mapping or {}, path)
    id_col = {"parcels": "parcel_id", "districts": "district", "stations": "station", "parks": "park"}.get(kind)
    gdf = _check_geometry(gdf, kind, path, id_col, notes)
    if not CRS(gdf.crs).equals(crs):
        log.info("Projecting %s (%d features) from %s to %s", path.name, len(gdf), CRS(gdf.crs).to_string(), crs.to_string())
        gdf = gdf.to_crs(crs)
    return gdf.reset_index(drop=True)


def _validate_parcels(parcels: gpd.GeoDataFrame, path: Path, districts: gpd.GeoDataFrame, scenario: Scenario, notes: list[str]) -> gpd.GeoDataFrame:
    p = parcels
    p["parcel_id"] = p["parcel_id"].astype(str).str.strip()
    dup = p["parcel_id"].duplicated(keep=False)
    if dup.any():
        raise _fail(
            path,
            f"parcel_id must be unique, but {', '.join(sorted(set(p.loc[dup, 'parcel_id']))[:5])} "
            "occur more than once; give each parcel its own id",
        )
    p["far_max"] = _numeric(p, "far_max", path, "parcel_id")
    bad = (p["far_max"] <= 0) | (p["far_max"] > MAX_PLAUSIBLE_FAR)
    if bad.any():
        raise _fail(
            path,
            f"far_max (plot ratio) must be above 0 and at most {MAX_PLAUSIBLE_FAR:g}; "
            f"{_sample_ids(p.loc[bad], 'parcel_id')} have {sorted(set(p.loc[bad, 'far_max']))[:5]}",
        )
    p["far_upper"] = pd.to_numeric(p["far_upper"], errors="coerce").astype("float64")
    p["available_year"] = _numeric(p, "available_year", path, "parcel_id", integer=True)
    late = p["available_year"] > scenario.plan.last_year
    if late.any():
        notes.append(
            f"{path.name}: {int(late.sum())} parcel(s) become available after {scenario.plan.last_year} "
            f"and cannot be used in this plan ({_sample_ids(p.loc[late], 'parcel_id')})"
        )
    for col in ("district", "land_use", "status", "name"):
        p[col] = p[col].fillna("").astype(str).str.strip()
    p["metro_depot"] = p["metro_depot"].fillna(False).astype(bool)
    known = set(districts["district"])
    unknown = ~p["district"].isin(known)
    if unknown.any():
        names = sorted(set(p.loc[unknown, "district"]))
        hints = {n: difflib.get_close_matches(n, sorted(known), n=1) for n in names[:5]}
        hint_txt = "; ".join(f"{n!r} -> {h[0]!r}?" for n, h in hints.items() if h)
        raise _fail(
            path,
            f"{int(unknown.sum())} parcel(s) name districts that are not in the districts layer: "
            f"{names[:5]} ({_sample_ids(p.loc[unknown], 'parcel_id')}). "
            f"{('Perhaps: ' + hint_txt + '. ') if hint_txt else ''}Known districts: {', '.join(sorted(known))}",
        )
    zone_of = dict(zip(districts["district"], districts["zone"]))
    p["zone"] = p["district"].map(zone_of)
    return p


def read_layers(scenario: Scenario) -> Layers:
    """Read and validate every layer the scenario names.

    Parameters
    ----------
    scenario
        A loaded scenario (layer paths already absolute).

    Returns
    -------
    Layers
        Layers in ``scenario.plan.crs``, with a list of warnings.

    Raises
    ------
    LayerError
        For anything that cannot be repaired safely.
    """
    try:
        crs = CRS.from_user_input(scenario.plan.crs)
    except Exception:
        raise LayerError(f"[plan] crs = {scenario.plan.crs!r} is not a CRS pyproj knows; use e.g. 'EPSG:4549'") from None
    if not crs.is_projected:
        raise LayerError(
            f"[plan] crs = {scenario.plan.crs!r} is geographic; siteplan measures in metres, so "
            "choose a projected CRS such as CGCS2000 Gauss-Kruger (EPSG:4549 for 120E)"
        )
    notes: list[str] = []
    paths = scenario.layers
    maps = scenario.fields
    out: dict[str, gpd.GeoDataFrame] = {}
    sources: dict[str, Path] = {}
    for kind in SCHEMA:
        path = getattr(paths, kind)
        if path is None:
            out[kind] = _empty_layer(kind, crs)
            continue
        sources[kind] = Path(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[kind] = read_layer(Path(path), kind, mapping=getattr(maps, kind), crs=crs, notes=notes)
    d = out["districts"]
    d["district"] = d["district"].astype(str).str.strip()
    d["zone"] = d["zone"].fillna("").astype(str).str.strip()
    if d["district"].duplicated().any():
        raise _fail(Path(paths.districts), f"district names must be unique: {sorted(set(d.loc[d['district'].duplicated(), 'district']))}")
    unknown_zones = set(scenario.zones) - set(d["zone"])
    if unknown_zones:
        raise _fail(
            Path(paths.districts),
            f"[zones] in the scenario names {sorted(unknown_zones)}, which no district has as its zone; "
            f"zones in the layer: {sorted(set(d['zone']))}",
        )
    out["parcels"] = _validate_parcels(out["parcels"], Path(paths.parcels), d, scenario, notes)
    for kind, col in (("stations", "open_year"), ("lines", "open_year")):
        out[kind][col] = _numeric(out[kind], col, Path(getattr(paths, kind)), {"stations": "station"}.get(kind), integer=True)
    if paths.parks is not None:
        out["parks"]["workers"] = pd.to_numeric(out["parks"]["workers"], errors="coerce").fillna(0)
    if paths.services is not None:
        out["services"]["category"] = out["services"]["category"].astype(str).str.strip()
    if paths.population is not None and not Path(paths.population).exists():
        raise LayerError(f"{paths.population}: the population raster does not exist; check [layers] population")
    for msg in notes:
        log.warning(msg)
    log.info("Read %d parcels, %d districts, %d stations in %s", len(out["parcels"]), len(d), len(out["stations"]), crs.to_string())
    return Layers(crs=crs, population=paths.population, warnings=notes, sources=sources, **out)
