"""Check the layers' attributes: districts, parcels, opening years, the other layers and the population raster.

Each check reports every offending feature by id, with its value and the
fix, and converts the values it checked (plot ratios, years, flags) for the
later stages. Values that cannot be read are errors; doubtful ones are
warnings.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS

from .fields import _ID_COLUMN, _as_text, _parse_numbers, _parse_years
from .findings import LayerInfo, _Findings, _ids, _sample, _values, _verb
from . import parcel_values
from .parcel_values import YEAR_RANGE, _whole_years, read_parcel_values
from .location import _can_locate, implausible_parcels, locate_parcels
from .read import _gdal_words, crs_label
from .scenario import Scenario

#: Plot ratios above this are taken as data errors, not ambition (defined with the parcels' values).
MAX_PLAUSIBLE_FAR = parcel_values.MAX_PLAUSIBLE_FAR
# YEAR_RANGE: years outside it are data errors (defined in .parcel_values).

#: Service categories the features count (see :data:`siteplan.model.features.SERVICE_GROUPS`).
SERVICE_CATEGORIES = ("school", "clinic", "hospital", "market", "park", "culture")


def _validate_districts(d: gpd.GeoDataFrame, path: Path, scenario: Scenario, found: _Findings) -> gpd.GeoDataFrame:
    """Check the district names, give each district its zone, and check the scenario's zone and district targets.

    A district's zone comes from the layer's ``zone`` field or from the
    scenario's ``[zone_districts]`` (which wins when both are given). A
    district in no zone forms a zone of its own, named after it; zone
    targets (``[zones]``) may name only real zones.
    """
    d["zone"] = _as_text(d["zone"]) if "zone" in d.columns else None
    no_name = d["district"].isna()
    if no_name.any():
        found.error(path, f"{int(no_name.sum())} district polygon(s) have no name in field 'district' "
                          f"({_ids(d, no_name, None)}); give each district its name")
    dup = d["district"].duplicated(keep=False) & ~no_name
    if dup.any():
        names = sorted(set(d.loc[dup, 'district']))
        found.error(path, f"district names must be unique, but {_sample(names)} {_verb(len(names), 'occurs', 'occur')} "
                          "more than once; merge the polygons of one district (Dissolve in QGIS) or rename them")
    known = sorted(set(d.loc[~no_name, "district"]))
    where = scenario.source or path
    if scenario.zone_districts:
        zone_of = {name: zone for zone, names in scenario.zone_districts.items() for name in names}
        missing = sorted(set(zone_of) - set(known))
        if missing:
            found.error(where, f"[zone_districts] names {_sample(missing, 10)}, which the districts layer does not "
                               f"have. {_did_you_mean(missing, known)}The districts are: {', '.join(known)}")
        if d["zone"].notna().any():
            found.note(path, "zones taken from the scenario's [zone_districts], not from the layer's field 'zone'")
        d["zone"] = d["district"].map(zone_of)
        unzoned = d["zone"].isna() & ~no_name
        if unzoned.any():
            found.warn(where, f"[zone_districts] puts {_sample(sorted(d.loc[unzoned, 'district']), 10)} in no zone; "
                              "each forms a zone of its own, named after it. Add them to a zone if they belong to one")
        zones = set(scenario.zone_districts)
    elif d["zone"].notna().any():
        no_zone = d["zone"].isna() & ~no_name
        if no_zone.any():
            found.error(path, f"field 'zone' is empty for {_ids(d, no_zone, 'district')}; give each district its "
                              "zone, or list the zones in the scenario's [zone_districts]")
        zones = set(d["zone"].dropna())
    else:
        zones = set()
        if scenario.zones:
            found.error(where, f"[zones] sets targets for {_sample(sorted(scenario.zones))}, but the districts have "
                               "no zones: the districts layer has no zone field. Map the layer's zone column "
                               "([fields.districts] zone = \"PQ\"), or list each zone's districts in the scenario: "
                               "[zone_districts] \"东岸城区\" = [\"望海区\", \"滨海区\"]")
    d["zone"] = d["zone"].where(d["zone"].notna(), d["district"])  # a district in no zone is a zone of its own
    unknown_zones = sorted(set(scenario.zones) - zones)
    if unknown_zones and zones:
        found.error(where, f"[zones] names {unknown_zones}, which is not a zone of the districts. "
                           f"{_did_you_mean(unknown_zones, sorted(zones))}The zones are: {', '.join(sorted(zones))}. "
                           "Correct the names in [zones] (or the districts' zones)")
    unknown_districts = sorted(set(scenario.districts) - set(known))
    if unknown_districts and known:
        found.error(where, f"[districts] names {unknown_districts}, which the districts layer does not have. "
                           f"{_did_you_mean(unknown_districts, known)}The districts are: {', '.join(known)}. "
                           "Correct the names in [districts]")
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
    p = read_parcel_values(p, path, scenario, found)  # land use, status, candidacy, plot ratios, years, areas
    implausible_parcels(p, path, scenario.plan.max_parcel_ha, found)
    p["district"] = _as_text(p["district"]) if "district" in has else None
    p["zone"] = None
    if districts is not None:
        p = _match_districts(p, path, districts, found)
    return p


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


def _match_districts(p: gpd.GeoDataFrame, path: Path, districts: gpd.GeoDataFrame, found: _Findings) -> gpd.GeoDataFrame:
    """Match the parcels' district names to the districts layer, then fill and check them by location."""
    known = sorted(str(x) for x in districts["district"].dropna())
    canonical = {_norm(k): k for k in known}
    no_d = p["district"].isna().to_numpy()
    matched = p["district"].map(lambda v: v if v in known else canonical.get(_norm(v)) if isinstance(v, str) else None)
    respelt = matched.notna() & (matched != p["district"])
    if respelt.any():
        found.note(path, f"{int(respelt.sum())} parcel district name(s) differ from the districts layer only in "
                         f"spaces or full-width characters ({_values(p['district'], respelt)}); matched")
    unknown = matched.isna().to_numpy() & ~no_d
    if unknown.any():
        names = sorted(set(p.loc[unknown, "district"]))
        found.error(path, f"{int(unknown.sum())} parcel(s) name districts that are not in the districts layer: "
                          f"{names[:5]} ({_ids(p, unknown, 'parcel_id')}). {_did_you_mean(names, known)}Correct "
                          f"field 'district'; known districts: {', '.join(known)} (or empty it, to take the district "
                          "from where the parcel lies)")
    p["district"] = matched.where(matched.notna(), p["district"])
    if _can_locate(p, districts):
        p = locate_parcels(p, path, districts, found)
    elif no_d.any() and isinstance(p, gpd.GeoDataFrame) and p.crs is not None:
        found.error(path, f"field 'district' is empty for {_ids(p, no_d, 'parcel_id')}, and they cannot be located "
                          "until the districts layer reads; fix the districts layer, or name each parcel's district")
    zone_of = dict(zip(districts["district"], districts["zone"]))
    p["zone"] = p["district"].map(zone_of)
    return p


def _did_you_mean(names: list[str], known: list[str]) -> str:
    """'Did you mean: '临空区' -> '临港区'? ' for the names that resemble a known one, else ''."""
    hints = {n: difflib.get_close_matches(n, known, n=1, cutoff=0.5) for n in names[:5]}
    text = "; ".join(f"{n!r} -> {h[0]!r}" for n, h in hints.items() if h)
    return f"Did you mean {text}? " if text else ""


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
