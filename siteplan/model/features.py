"""Per-parcel features: capacity, distances, access and zonal statistics.

Every feature function is pure and vectorised: a GeoDataFrame (or GeoSeries)
in, a pandas Series aligned to its index out. Distances are measured in the
layers' projected CRS, in metres, from the parcel's polygon (its nearest
edge), so a station on the parcel's boundary is at distance 0.

:func:`compute_features` assembles them into the parcel table that the
problem is built from, including the suitability score::

    score(parcel, year) = sum_k w_k * c_k / sum_k w_k

with components ``c_k`` in [0, 1]:

- ``transit``: ``max(0, 1 - d / transit_reach_m)``, ``d`` the distance to the
  nearest station open by that year;
- ``services``: the mean over the four service groups (school, clinic or
  hospital, market, park or culture) of ``min(n, 3) / 3``, ``n`` the number
  of that group's services within ``walk_m``;
- ``population``: the parcel's mean population density divided by the 95th
  percentile over all parcels, capped at 1;
- ``parks``: ``max(0, 1 - d / park_reach_m)``, ``d`` the distance to the
  nearest industrial park.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.transform
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from ..inputs.landuse import candidate_mask
from ..inputs.layers import Layers
from ..inputs.scenario import Scenario

__all__ = [
    "SERVICE_GROUPS",
    "area_m2",
    "floor_capacity_m2",
    "unit_capacity",
    "nearest_distance",
    "station_distance",
    "count_within",
    "service_counts",
    "service_distances",
    "nearest_index",
    "zonal_mean",
    "suitability",
    "compute_features",
]

log = logging.getLogger(__name__)

#: Service groups of a "15-minute life circle" and the categories in each.
SERVICE_GROUPS: dict[str, tuple[str, ...]] = {
    "school": ("school",),
    "clinic": ("clinic", "hospital"),
    "market": ("market",),
    "park": ("park", "culture"),
}


def area_m2(parcels: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
    """Planar area of each parcel in m2."""
    geom = parcels.geometry if isinstance(parcels, gpd.GeoDataFrame) else parcels
    return pd.Series(geom.area.to_numpy(), index=geom.index, name="area_m2")


def floor_capacity_m2(parcels: gpd.GeoDataFrame, *, far: str = "far_max") -> pd.Series:
    """Floor-area capacity: parcel area x plot-ratio cap (m2)."""
    return (area_m2(parcels) * parcels[far].astype(float)).rename("floor_cap_m2")


def unit_capacity(floor_capacity: pd.Series, unit_area_m2: float) -> pd.Series:
    """Whole units of ``unit_area_m2`` that fit in the floor capacity."""
    return np.floor(floor_capacity / unit_area_m2 + 1e-9).astype("int64").rename("unit_cap")


def nearest_distance(parcels: gpd.GeoDataFrame | gpd.GeoSeries, targets: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
    """Distance from each parcel to the nearest target geometry (m).

    ``inf`` where there are no targets.
    """
    geom = parcels.geometry if isinstance(parcels, gpd.GeoDataFrame) else parcels
    out = np.full(len(geom), np.inf)
    tgeom = targets.geometry if isinstance(targets, gpd.GeoDataFrame) else targets
    if len(tgeom) and len(geom):
        idx, dist = tgeom.sindex.nearest(geom.values, return_all=False, return_distance=True)
        out[idx[0]] = dist
    return pd.Series(out, index=geom.index, name="distance_m")


def station_distance(parcels: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, *, open_by: int) -> pd.Series:
    """Distance to the nearest station whose ``open_year`` is at most ``open_by`` (m)."""
    open_ = stations.loc[stations["open_year"] <= open_by]
    return nearest_distance(parcels, open_).rename(f"station_m_{open_by}")


#: Points measured exactly per parcel by :func:`nearest_point_distances` before it falls back to the index.
NEAREST_CANDIDATES = 3


def nearest_point_distances(parcels: gpd.GeoDataFrame | gpd.GeoSeries, points: gpd.GeoDataFrame | gpd.GeoSeries,
                            masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """Distance from each parcel to the nearest point of each subset (m): one column per mask.

    ``masks`` maps a column name to a boolean array over ``points`` (which
    points count for it). The distances are exact (parcel edge to point,
    0 inside), as :func:`nearest_distance` gives, but mostly without the
    spatial index: for each subset, the :data:`NEAREST_CANDIDATES` of its
    points nearest each parcel's centroid (a k-d tree) are measured exactly,
    and the nearest of them is taken. That is proven the nearest when even
    the farthest candidate, less the parcel's radius (centroid to farthest
    vertex), is no nearer; the parcels where it is not are measured against
    the whole subset with the spatial index. ``inf`` where a subset is empty.
    """
    geom = (parcels.geometry if isinstance(parcels, gpd.GeoDataFrame) else parcels).values
    index = parcels.index
    out = pd.DataFrame({name: np.full(len(geom), np.inf) for name in masks}, index=index)
    pts = (points.geometry if isinstance(points, gpd.GeoDataFrame) else points).values
    if not len(geom) or not len(pts):
        return out
    centre = shapely.get_coordinates(shapely.centroid(geom))
    coords, which = shapely.get_coordinates(geom, return_index=True)
    radius = np.zeros(len(geom))
    np.maximum.at(radius, which, np.hypot(*(coords - centre[which]).T))
    xy = shapely.get_coordinates(pts)
    for name, mask in masks.items():
        mask = np.asarray(mask, dtype=bool)
        sub = pts[mask]
        if not len(sub):
            continue
        k = min(NEAREST_CANDIDATES, len(sub))
        near_d, near_i = cKDTree(xy[mask]).query(centre, k=k)
        near_d, near_i = near_d.reshape(len(geom), k), near_i.reshape(len(geom), k)
        best = shapely.distance(np.repeat(geom, k), sub[near_i.ravel()]).reshape(len(geom), k).min(axis=1)
        proven = (k == len(sub)) | (near_d[:, -1] - radius >= best)
        if not proven.all():
            rest = np.nonzero(~proven)[0]
            best[rest] = nearest_distance(gpd.GeoSeries(geom[rest]), gpd.GeoSeries(sub)).to_numpy()
        out[name] = best
    return out


def station_distances(parcels: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, years: Iterable[int]) -> pd.DataFrame:
    """:func:`station_distance` for several years at once: columns ``station_m_<year>``."""
    opened = stations["open_year"].to_numpy()
    return nearest_point_distances(parcels, stations, {f"station_m_{y}": opened <= y for y in years})


def count_within(parcels: gpd.GeoDataFrame, points: gpd.GeoDataFrame, *, within_m: float) -> pd.Series:
    """Number of ``points`` within ``within_m`` of each parcel."""
    geom = parcels.geometry
    counts = np.zeros(len(geom), dtype="int64")
    if len(points) and len(geom):
        hits = points.sindex.query(geom.values, predicate="dwithin", distance=within_m)
        counts = np.bincount(hits[0], minlength=len(geom)).astype("int64")
    return pd.Series(counts, index=geom.index, name="count")


def service_counts(parcels: gpd.GeoDataFrame, services: gpd.GeoDataFrame, *, within_m: float) -> pd.DataFrame:
    """Services of each group of :data:`SERVICE_GROUPS` within ``within_m``.

    Returns one column ``svc_<group>`` per group.
    """
    cols = {}
    for group, cats in SERVICE_GROUPS.items():
        pts = services.loc[services["category"].isin(cats)] if len(services) else services
        cols[f"svc_{group}"] = count_within(parcels, pts, within_m=within_m)
    return pd.DataFrame(cols, index=parcels.index)


def service_distances(parcels: gpd.GeoDataFrame, services: gpd.GeoDataFrame) -> pd.DataFrame:
    """Distance to the nearest service of each group: columns ``svc_<group>_m``."""
    category = services["category"].to_numpy() if len(services) else np.array([], dtype=object)
    masks = {f"svc_{group}_m": np.isin(category, list(cats)) for group, cats in SERVICE_GROUPS.items()}
    return nearest_point_distances(parcels, services, masks)


def nearest_index(parcels: gpd.GeoDataFrame, targets: gpd.GeoDataFrame) -> pd.Series:
    """Position (0-based, in ``targets``) of each parcel's nearest target; -1 if none."""
    out = np.full(len(parcels), -1, dtype="int64")
    if len(targets) and len(parcels):
        idx = targets.geometry.sindex.nearest(parcels.geometry.values, return_all=False)
        out[idx[0]] = idx[1]
    return pd.Series(out, index=parcels.index, name="nearest")


def zonal_mean(parcels: gpd.GeoDataFrame, raster: str | Path) -> pd.Series:
    """Mean of the raster's first band over each parcel.

    Cells are assigned to a parcel when their centre lies inside it; a parcel
    too small to hold a cell centre takes the value of the cell under its
    representative point. Nodata cells are ignored; a parcel with no valid
    cell gets NaN.
    """
    with rasterio.open(raster) as src:
        band = src.read(1, masked=True)
        transform = src.transform
        rcrs = CRS(src.crs) if src.crs else None
    geom = parcels.geometry
    if rcrs is not None and parcels.crs is not None and not rcrs.equals(CRS(parcels.crs)):
        geom = geom.to_crs(rcrs)
    values = np.ma.filled(band.astype("float64"), np.nan)
    n = len(geom)
    # centres of the valid cells inside the parcels' extent, each matched to
    # every parcel that contains it (a vectorised point-in-polygon join)
    x0, y0, x1, y1 = geom.total_bounds if n else (0.0, 0.0, 0.0, 0.0)
    rows, cols = np.nonzero(np.isfinite(values))
    cx, cy = rasterio.transform.xy(transform, rows, cols, offset="center")
    cx, cy = np.asarray(cx, dtype=float), np.asarray(cy, dtype=float)
    keep = (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)
    cells = values[rows[keep], cols[keep]]
    pt_i, parcel_i = shapely.STRtree(geom.values).query(shapely.points(cx[keep], cy[keep]), predicate="within")
    sums = np.bincount(parcel_i, weights=cells[pt_i], minlength=n)
    cnts = np.bincount(parcel_i, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / cnts
    empty = cnts == 0
    if empty.any():
        pts = geom.values[empty]
        pts = gpd.GeoSeries(pts).representative_point()
        rows, cols = rasterio.transform.rowcol(transform, pts.x.to_numpy(), pts.y.to_numpy())
        rows, cols = np.asarray(rows), np.asarray(cols)
        inside = (rows >= 0) & (rows < values.shape[0]) & (cols >= 0) & (cols < values.shape[1])
        sampled = np.full(len(rows), np.nan)
        sampled[inside] = values[rows[inside], cols[inside]]
        mean[empty] = sampled
    return pd.Series(mean, index=parcels.index, name="zonal_mean")


def suitability(
    features: pd.DataFrame,
    *,
    year: int,
    weights: dict[str, float],
    transit_reach_m: float,
    park_reach_m: float,
) -> pd.Series:
    """The documented suitability score of each parcel for one supply year.

    ``features`` needs ``station_m_<year>``, the ``svc_*`` columns,
    ``pop_density`` and ``park_m``. See the module docstring for the formula.
    """
    comp = {
        "transit": (1.0 - features[f"station_m_{year}"] / transit_reach_m).clip(0.0, 1.0),
        "services": sum(
            (features[f"svc_{g}"].clip(upper=3) / 3.0) for g in SERVICE_GROUPS
        ) / len(SERVICE_GROUPS),
        "parks": (1.0 - features["park_m"] / park_reach_m).clip(0.0, 1.0),
    }
    pop = features["pop_density"].fillna(0.0)
    p95 = float(np.nanpercentile(pop, 95)) if len(pop) else 0.0
    comp["population"] = (pop / p95).clip(0.0, 1.0) if p95 > 0 else pop * 0.0
    total = sum(weights.values())
    score = sum(w * comp[k] for k, w in weights.items()) / total
    return score.fillna(0.0).rename(f"score_{year}")


def compute_features(layers: Layers, scenario: Scenario) -> gpd.GeoDataFrame:
    """All features of every parcel, as one GeoDataFrame.

    Columns added to the parcel layer: ``area_m2``, ``floor_cap_m2``,
    ``floor_cap_upper_m2`` (with ``far_upper`` where given, else as
    ``floor_cap_m2``), ``units_cap_<type>`` per housing type,
    ``station_m_<year>`` per plan year (and lead years of the transit rule),
    ``svc_<group>`` (count within ``walk_m``), ``svc_<group>_m`` (distance
    to the nearest), ``park_m`` and ``park_index`` (nearest industrial
    park), ``pop_density``, ``score_<year>`` per plan
    year, and ``candidate`` (:func:`~siteplan.inputs.landuse.candidate_mask`
    and the land is ready within the plan).
    """
    p = layers.parcels.copy()
    p["area_m2"] = area_m2(p)
    p["floor_cap_m2"] = floor_capacity_m2(p).fillna(0.0)  # non-candidates may have no plot ratio
    upper = p["far_upper"].where(p["far_upper"] > p["far_max"], p["far_max"])
    p["floor_cap_upper_m2"] = (p["area_m2"] * upper).fillna(0.0)
    for code, t in scenario.types.items():
        p[f"units_cap_{code}"] = unit_capacity(p["floor_cap_m2"], t.unit_area_m2)
    years = scenario.years
    lead = scenario.rules.transit.lead_years if scenario.rules.transit.enabled else 0
    p = p.join(station_distances(p, layers.stations, range(years[0], years[-1] + lead + 1)))
    p = p.join(service_counts(p, layers.services, within_m=scenario.suitability.walk_m))
    p = p.join(service_distances(p, layers.services))
    p["park_m"] = nearest_distance(p, layers.parks)
    p["park_index"] = nearest_index(p, layers.parks)
    if layers.population is not None:
        p["pop_density"] = zonal_mean(p, layers.population)
    else:
        p["pop_density"] = np.nan
    s = scenario.suitability
    for year in years:
        p[f"score_{year}"] = suitability(
            p, year=year, weights=s.weights, transit_reach_m=s.transit_reach_m, park_reach_m=s.park_reach_m
        )
    p["candidate"] = candidate_mask(p, scenario) & (p["available_year"] <= years[-1]).to_numpy()
    log.info("Computed features of %d parcels (%d candidates)", len(p), int(p["candidate"].sum()))
    return p
