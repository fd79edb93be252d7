"""WGS84 <-> GCJ-02 ("Mars coordinates"), for drawing over Gaode/AMap tiles.

Chinese web maps (Gaode/AMap, Tencent) publish tiles in GCJ-02, a datum
that shifts WGS84 positions by an obfuscated offset of a few hundred metres
inside China. A layer drawn in WGS84 over those tiles lands in the wrong
street. siteplan's map therefore shifts *the displayed geometry only* to
GCJ-02 when Gaode tiles are chosen; every exported file stays in the
scenario's CRS or in WGS84 (RFC 7946).

The forward formula is the widely published one (Krasovsky ellipsoid,
a = 6,378,245 m, e^2 = 0.00669342162296594323); outside China the offset is
zero. The inverse has no closed form and is solved by fixed-point iteration
to below 1e-9 degrees (about 0.1 mm). ``tests/inputs/test_gcj02.py`` checks both
against the published reference points of the eviltransform project.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike

__all__ = ["wgs84_to_gcj02", "gcj02_to_wgs84", "out_of_china", "geometry_to_gcj02"]

_A = 6378245.0
_EE = 0.00669342162296594323


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """True where a point lies outside the rough box in which GCJ-02 applies."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 longitude/latitude (degrees) to GCJ-02.

    >>> lon, lat = wgs84_to_gcj02(116.377817, 39.911954)   # Beijing
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.384047, 39.913345)
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-9, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees.
    tol_deg
        Stop when the forward shift of the estimate is this close to the
        input, in degrees.
    max_iter
        Upper bound on iterations (it converges in 3-5).
    """
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        ex, ey = flon - glon, flat - glat
        wlon, wlat = wlon - ex, wlat - ey
        if np.all(np.abs(ex) < tol_deg) and np.all(np.abs(ey) < tol_deg):
            break
    return wlon, wlat


def geometry_to_gcj02(geoms: ArrayLike) -> np.ndarray:
    """Shift an array of shapely geometries in WGS84 lon/lat to GCJ-02."""

    def shift(coords: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms), shift)
