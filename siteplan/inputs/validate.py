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
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .fields import SCHEMA, _ID_COLUMN, _as_text, _parse_flags, _parse_numbers, _parse_years
from .findings import LayerInfo, _Findings, _ids, _sample, _values, _verb
from .read import _gdal_words, crs_label
from .scenario import Scenario

#: Plot ratios above this are taken as data errors, not ambition.
MAX_PLAUSIBLE_FAR = 20.0

#: Years outside this range are data errors (a typo, a code, a date in another calendar).
YEAR_RANGE = (1900, 2100)

#: Service categories the features count (see :data:`siteplan.model.features.SERVICE_GROUPS`).
SERVICE_CATEGORIES = ("school", "clinic", "hospital", "market", "park", "culture")


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
