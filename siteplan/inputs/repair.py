"""Repair coordinates and geometries where a repair is safe: zone prefixes, invalid polygons, slivers.

Gauss-Kruger eastings with a zone prefix (40500000) under a CRS without one
(500000), or the reverse, are corrected when the prefix names the CRS's own
zone; coordinates that cannot lie in the layer's CRS are errors. Null and
empty geometries are dropped, Z values dropped, invalid polygons repaired
with ``make_valid``, parcels under :data:`MIN_PARCEL_AREA_M2` dropped, and
parcels overlapping by more than :data:`OVERLAP_TOLERANCE` named in a
warning. Every repair is counted in a finding.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from .fields import SCHEMA
from .findings import _Findings, _ids, _sample
from .read import crs_label

_GEOM_TYPES = {
    "polygon": {"Polygon", "MultiPolygon"},
    "point": {"Point", "MultiPoint"},
    "line": {"LineString", "MultiLineString"},
}

#: Parcels smaller than this (m2) are slivers left by digitising; they are dropped.
MIN_PARCEL_AREA_M2 = 100.0

#: Two parcels overlapping by more than this share of the smaller one are named in a warning.
OVERLAP_TOLERANCE = 0.01


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
