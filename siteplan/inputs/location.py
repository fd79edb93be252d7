"""Locate parcels in the district polygons: fill missing districts, flag disagreements, at-sea and oversized parcels.

A parcel's district is read from its ``district`` field when it has one,
and checked against where it lies: every parcel is intersected with the
district polygons (one STRtree query and one vectorised intersection, about
0.1 s for 3,000 parcels), and

- a parcel with no district value gets the district it overlaps most
  (counted in a note);
- a parcel lying less than :data:`NAMED_SHARE` of its area in the district
  it names, and more in another, is named in one warning (the count and the
  worst cases); the named district is kept, since the bureau's attribute may
  be the administrative truth;
- a parcel overlapping no district at all is an error naming it, with the
  nearest district and its distance (parcels moved out to sea, a wrong CRS);
- a parcel lying mostly (more than half) outside every district is a warning.

Parcels larger than ``[plan] max_parcel_ha`` are named in a warning: they
are probably land-use zones, not parcels.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .findings import _Findings, _ids, _sample

#: A parcel lying less than this share of its area in the district it names (and more in another) is reported.
NAMED_SHARE = 0.5

#: A parcel lying less than this share of its area in any district is reported as mostly outside.
INSIDE_SHARE = 0.5

#: How many parcels an error or warning names.
SHOWN = 10


def _can_locate(p: pd.DataFrame, districts: pd.DataFrame) -> bool:
    """Whether both layers have geometry in the same CRS (not so for a layer that failed to read)."""
    return (isinstance(p, gpd.GeoDataFrame) and isinstance(districts, gpd.GeoDataFrame)
            and p.crs is not None and districts.crs is not None and p.crs.equals(districts.crs)
            and "geometry" in districts.columns)


def _overlaps(parcels: np.ndarray, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(parcel index, polygon index, overlap area)`` of every pair that overlaps by a positive area."""
    # a layer that failed to read is still located from its attribute table, whose geometry is not yet repaired
    parcels = np.where(shapely.is_valid(parcels), parcels, shapely.make_valid(parcels))
    polygons = np.where(shapely.is_valid(polygons), polygons, shapely.make_valid(polygons))
    tree = shapely.STRtree(polygons)
    pi, di = tree.query(parcels, predicate="intersects")
    with np.errstate(all="ignore"):
        area = shapely.area(shapely.intersection(parcels[pi], polygons[di]))
    keep = area > 0
    return pi[keep], di[keep], area[keep]


def locate_parcels(p: gpd.GeoDataFrame, path: Path, districts: gpd.GeoDataFrame, found: _Findings) -> gpd.GeoDataFrame:
    """Fill and check each parcel's ``district`` from where it lies.

    Parameters
    ----------
    p
        Parcels in the working CRS; ``district`` holds the matched names of
        the districts layer, or None where empty or unknown (``named_ok``
        marks the names that matched).
    path
        The parcels file, for the findings.
    districts
        District polygons in the working CRS, with unique names.
    found
        Receives the findings.

    Returns
    -------
    GeoDataFrame
        ``p`` with empty districts filled; its ``attrs["location"]`` counts
        parcels by how their district was found.
    """
    names = districts["district"].to_numpy(dtype=object)
    geoms = districts.geometry.to_numpy()
    valid = np.array([isinstance(n, str) for n in names]) & ~shapely.is_empty(geoms) & ~pd.isna(geoms)
    names, geoms = names[valid], geoms[valid]
    pg = p.geometry.to_numpy()
    n = len(p)
    area = shapely.area(pg)
    pi, di, ov = _overlaps(pg, geoms)
    total = np.bincount(pi, weights=ov, minlength=n)
    order = np.argsort(ov, kind="stable")  # the largest overlap is written last, and wins
    best = np.full(n, -1)
    best[pi[order]] = di[order]
    best_area = np.zeros(n)
    best_area[pi[order]] = ov[order]
    index_of = {name: i for i, name in enumerate(names)}
    named = np.array([index_of.get(v, -1) if isinstance(v, str) else -1 for v in p["district"]])
    in_named = np.bincount(pi, weights=ov * (di == named[pi]), minlength=n)
    with np.errstate(all="ignore"):
        share_named = np.where(area > 0, in_named / area, 0.0)
        share_any = np.where(area > 0, total / area, 0.0)
    empty = p["district"].isna().to_numpy()
    outside = (total <= 0) & ~shapely.is_missing(pg) & ~shapely.is_empty(pg)  # no geometry: reported already
    filled = empty & (best >= 0)
    disagree = (named >= 0) & (best >= 0) & (share_named < NAMED_SHARE) & (best != named)
    mostly_out = (best >= 0) & (share_any < INSIDE_SHARE)
    out = p.copy()
    if filled.any():
        out.loc[filled, "district"] = names[best[filled]]
        found.note(path, f"{int(filled.sum()):,} parcel(s) had no district value and were given the district they "
                         f"overlap most ({_ids(p, filled, 'parcel_id')})")
    if outside.any():
        found.error(path, f"{int(outside.sum()):,} parcel(s) lie outside every district polygon: "
                          f"{_far_away(p, outside, geoms, names)}. They are probably misplaced (moved out to sea, "
                          "digitised in another CRS or zone); correct their coordinates, extend the districts layer "
                          "to cover them, or delete them from the parcels layer")
    if disagree.any():
        worst = np.flatnonzero(disagree)[np.argsort(share_named[disagree], kind="stable")]
        shown = [f"{_pid(p, i)} names {names[named[i]]} but lies {share_named[i]:.0%} in it and "
                 f"{best_area[i] / area[i]:.0%} in {names[best[i]]}" for i in worst[:SHOWN]]
        found.warn(path, f"{int(disagree.sum()):,} parcel(s) lie mostly in another district than field 'district' "
                         f"names (less than {NAMED_SHARE:.0%} of their area inside it): {_sample(shown, SHOWN)}. "
                         "Their named district was kept; correct field 'district' (or empty it, to take the "
                         "district from the location) if the location is right")
    if mostly_out.any():
        found.warn(path, f"{int(mostly_out.sum()):,} parcel(s) lie mostly outside every district polygon (less "
                         f"than {INSIDE_SHARE:.0%} of their area inside one): {_ids(p, mostly_out, 'parcel_id', SHOWN)}. "
                         "Check their outlines and the districts layer's coast and borders")
    out.attrs["location"] = {
        "as named": int(((named >= 0) & (best >= 0) & ~disagree).sum()),
        "filled from location": int(filled.sum()),
        "named otherwise than located": int(disagree.sum()),
        "outside every district": int(outside.sum()),
    }
    return out


def _pid(p: pd.DataFrame, i: int) -> str:
    v = p["parcel_id"].iloc[i] if "parcel_id" in p.columns else None
    return v if isinstance(v, str) and v else f"(fid {p.index[i]})"


def _far_away(p: gpd.GeoDataFrame, mask: np.ndarray, geoms: np.ndarray, names: np.ndarray) -> str:
    """'parcel_id P1 (12.3 km from 滨海区), ...' for the first :data:`SHOWN` parcels of ``mask``."""
    rows = np.flatnonzero(mask)
    if not len(geoms):
        return _ids(p, mask, "parcel_id", SHOWN)
    shown = rows[:SHOWN]
    tree = shapely.STRtree(geoms)
    (src, dst), dist = tree.query_nearest(p.geometry.to_numpy()[shown], return_distance=True, all_matches=False)
    near = dict(zip(src, zip(dst, dist)))
    parts = [f"{_pid(p, i)} ({_distance(near[k][1])} from {names[near[k][0]]})" if k in near else _pid(p, i)
             for k, i in enumerate(shown)]
    more = f" and {len(rows) - SHOWN:,} more" if len(rows) > SHOWN else ""
    return "parcel_id " + ", ".join(parts) + more


def _distance(metres: float) -> str:
    return f"{metres:,.0f} m" if metres < 1000 else f"{metres / 1000:,.1f} km"


def implausible_parcels(p: gpd.GeoDataFrame, path: Path, max_ha: float, found: _Findings) -> None:
    """Warn about parcels larger than ``max_ha`` hectares: probably land-use zones, not parcels."""
    if not isinstance(p, gpd.GeoDataFrame) or p.crs is None or not p.crs.is_projected or not len(p):
        return
    ha = shapely.area(p.geometry.to_numpy()) / 10_000
    big = ha > max_ha
    if not big.any():
        return
    worst = np.flatnonzero(big)[np.argsort(-ha[big], kind="stable")]
    shown = [f"{_pid(p, i)} {ha[i]:,.1f} ha" for i in worst]
    found.warn(path, f"{int(big.sum()):,} parcel(s) are larger than [plan] max_parcel_ha = {max_ha:g} ha: "
                     f"{_sample(shown, SHOWN)}. Parcels that large are probably land-use zones, not parcels; split "
                     "them into the regulatory plan's parcels, or raise [plan] max_parcel_ha if they are real")
