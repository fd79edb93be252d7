r"""The densest disc anywhere: an exact focal sum of weighted points (units at parcel centroids).

A planner checks 大分散、小集中 with a focal sum: the units within
:math:`R` of *any* point. For point masses that maximum is attained on a
finite set of discs. Take a closed disc of radius :math:`R` and the points
:math:`S` it holds. The centres of the discs of radius :math:`R` that hold
all of :math:`S` form :math:`\bigcap_{p \in S} B(p, R)`, a non-empty closed
convex set. With one distinct point, :math:`p` itself is such a centre;
with two or more, the set is bounded by arcs of the circles
:math:`\partial B(p, R)` and has a corner where two of them meet: a centre
at distance exactly :math:`R` from two points :math:`p, q` of :math:`S`
with :math:`|p - q| \le 2R`. So the discs centred at each point and at the
two centres through each pair of points closer than :math:`2R`
(:func:`candidate_centres`) contain a densest disc, and the maximum over
them is exact. A disc through :math:`p` lies within :math:`2R` of
:math:`p`, so a pair whose points have less than the target weight within
:math:`2R` cannot beat it and is skipped.

Distances are compared with a tolerance of :data:`TOL_M` (closed discs,
and a point on a candidate disc's boundary stays inside despite rounding):
the check is exact for discs of radius :math:`R` and at most
:data:`TOL_M` conservative. Everything is computed with
:class:`scipy.spatial.cKDTree`, apart from the model's rows: the rule's
lazy rows (:meth:`siteplan.model.dispersion.RadiusCap.lazy_rows`) use it to
find the discs a solution overfills, and the plan's check uses it on the
delivered whole units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["Disc", "TOL_M", "candidate_centres", "centroids_xy", "densest_disc", "disc_sums", "overfull_discs"]

#: Distance tolerance (m): a point this far outside a disc still counts as in it.
TOL_M = 1e-3
#: Candidate centres evaluated per batch (bounds the memory of the sparse distance matrix).
_BATCH = 20_000


@dataclass(frozen=True)
class Disc:
    """A disc of radius ``radius`` centred at ``(x, y)`` holding ``units``."""

    units: float
    x: float
    y: float
    radius: float

    def text(self) -> str:
        """``3,998 units at (512,340, 3,401,220)``."""
        return f"{self.units:,.0f} units at ({self.x:,.0f}, {self.y:,.0f})"


def centroids_xy(parcels) -> np.ndarray:
    """Parcel centroids as an ``(n, 2)`` array of projected coordinates (m)."""
    import geopandas as gpd

    c = gpd.GeoSeries(parcels.geometry.values, crs=getattr(parcels, "crs", None)).centroid
    return np.column_stack([c.x.to_numpy(), c.y.to_numpy()])


def _merge(xy: np.ndarray, w: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Points with weight above ``eps``, coincident ones merged (their weights summed)."""
    keep = w > eps
    xy, w = np.asarray(xy, dtype=float)[keep], np.asarray(w, dtype=float)[keep]
    if not len(w):
        return xy.reshape(0, 2), w
    key, inv = np.unique(np.round(xy, 6), axis=0, return_inverse=True)
    return key, np.bincount(inv.reshape(-1), weights=w, minlength=len(key))


def _pair_centres(xy: np.ndarray, pairs: np.ndarray, radius: float) -> np.ndarray:
    """The two centres of the circles of radius ``radius`` through each pair of points."""
    if not len(pairs):
        return np.zeros((0, 2))
    p, q = xy[pairs[:, 0]], xy[pairs[:, 1]]
    mid, d = (p + q) / 2, q - p
    dist = np.hypot(d[:, 0], d[:, 1])
    h = np.sqrt(np.maximum(radius**2 - (dist / 2) ** 2, 0.0))
    n = np.column_stack([-d[:, 1], d[:, 0]]) / np.maximum(dist, 1e-12)[:, None]
    return np.vstack([mid + h[:, None] * n, mid - h[:, None] * n])


def disc_sums(xy: np.ndarray, w: np.ndarray, centres: np.ndarray, radius: float) -> np.ndarray:
    """Weight within ``radius`` (+ :data:`TOL_M`) of each centre."""
    out = np.zeros(len(centres))
    if not len(centres) or not len(w):
        return out
    tree = cKDTree(xy)
    for lo in range(0, len(centres), _BATCH):
        chunk = cKDTree(centres[lo: lo + _BATCH])
        m = chunk.sparse_distance_matrix(tree, radius + TOL_M, output_type="coo_matrix")
        out[lo: lo + _BATCH] = np.bincount(m.row, weights=w[m.col], minlength=chunk.n)
    return out


def candidate_centres(xy: np.ndarray, w: np.ndarray, radius: float, *, least: float = 0.0) -> np.ndarray:
    """Centres of discs that contain a densest disc's points (see the module docstring).

    Every point, and the two centres through each pair closer than
    ``2 radius`` whose points both have more than ``least`` weight within
    ``2 radius`` (a pair below it cannot give a disc heavier than ``least``).
    """
    if not len(w):
        return np.zeros((0, 2))
    within2 = disc_sums(xy, w, xy, 2 * radius)
    heavy = np.nonzero(within2 > least)[0]
    sub = cKDTree(xy[heavy]) if len(heavy) else None
    pairs = sub.query_pairs(2 * radius + TOL_M, output_type="ndarray") if sub is not None else np.zeros((0, 2), int)
    return np.vstack([xy, _pair_centres(xy[heavy], pairs, radius)])


def densest_disc(xy: np.ndarray, w: np.ndarray, radius: float) -> Disc:
    """The disc of radius ``radius`` anywhere that holds the most weight (exact; see the module docstring)."""
    pts, wt = _merge(xy, w, 0.0)
    if not len(wt):
        return Disc(0.0, float("nan"), float("nan"), radius)
    at_points = disc_sums(pts, wt, pts, radius)
    best = int(np.argmax(at_points))
    centres = candidate_centres(pts, wt, radius, least=float(at_points[best]))[len(pts):]
    if len(centres):
        sums = disc_sums(pts, wt, centres, radius)
        k = int(np.argmax(sums))
        if sums[k] > at_points[best]:
            return Disc(float(sums[k]), float(centres[k, 0]), float(centres[k, 1]), radius)
    return Disc(float(at_points[best]), float(pts[best, 0]), float(pts[best, 1]), radius)


def overfull_discs(xy: np.ndarray, w: np.ndarray, radius: float, cap: float, *, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Candidate discs holding more than ``cap`` (plus ``eps``): their centres ``(k, 2)`` and weights, heaviest first.

    Empty when no disc of radius ``radius`` anywhere holds more than ``cap``
    (exact, see the module docstring).
    """
    pts, wt = _merge(xy, w, 1e-9)
    if not len(wt) or wt.sum() <= cap + eps:
        return np.zeros((0, 2)), np.zeros(0)
    centres = candidate_centres(pts, wt, radius, least=cap + eps)
    sums = disc_sums(pts, wt, centres, radius)
    over = np.nonzero(sums > cap + eps)[0]
    order = over[np.argsort(-sums[over], kind="stable")]
    return centres[order], sums[order]
