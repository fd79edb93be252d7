"""Street grids and the block pool: urban intensity, district grids and their blocks.

Each district gets a warped, rotated street grid; its blocks are the grid
cells shrunk by half the street widths, and the pool keeps those whose centre
falls in their own district.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import affine
import numpy as np
import shapely

from .geography import _HILL, _waves_2d

_MIN_AREA = 3_000.0  # m2 (0.3 ha)
_MAX_AREA = 80_000.0  # m2 (8 ha)


# ---------------------------------------------------------------------------
# urban intensity field
# ---------------------------------------------------------------------------


class _Field:
    """Urban intensity in [0, 1] as a function of base-km coordinates."""

    def __init__(self, rng: np.random.Generator, bumps: np.ndarray) -> None:
        self.bumps = bumps
        self.noise = _waves_2d(rng, 14, 0.5, 1.5, 9.0)
        self.fine = _waves_2d(rng, 10, 0.5, 0.4, 1.5)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        prod = np.ones(np.broadcast(x, y).shape)
        for bx, by, w, r in self.bumps:
            d2 = (x - bx) ** 2 + (y - by) ** 2
            prod *= 1.0 - w * np.exp(-d2 / (2.0 * r * r))
        u = 1.0 - prod
        u = u * (1.0 + 0.30 * self.noise(x, y) + 0.10 * self.fine(x, y))
        hx, hy, hr = _HILL
        dh = np.hypot(x - hx, y - hy) / hr
        u = u * (1.0 - 0.92 * np.exp(-(dh**6)))
        return np.clip(u, 0.0, 1.0)


# ---------------------------------------------------------------------------
# street grids and blocks
# ---------------------------------------------------------------------------


@dataclass
class _Grid:
    d: int
    ox: float
    oy: float
    cos: float
    sin: float
    u: np.ndarray  # column street positions in the frame (m)
    v: np.ndarray  # row street positions (m)
    hu: np.ndarray  # half street width per column street
    hv: np.ndarray  # half street width per row street
    warp: tuple[float, float, float, float, float, float]

    def nodes(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a1, l1, p1, a2, l2, p2 = self.warp
        uu = self.u[i]
        vv = self.v[j]
        uu = uu + a1 * np.sin(2.0 * np.pi * vv / l1 + p1)
        vv = vv + a2 * np.sin(2.0 * np.pi * uu / l2 + p2)
        return uu, vv

    def quads(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Shrunk block quadrilaterals (m, 4, 2) in world coordinates (CCW)."""
        q = np.empty((len(i), 4, 2))
        for k, (di, dj) in enumerate(((0, 0), (1, 0), (1, 1), (0, 1))):
            q[:, k, 0], q[:, k, 1] = self.nodes(i + di, j + dj)
        off = np.stack([self.hv[j], self.hu[i + 1], self.hv[j + 1], self.hu[i]], axis=1)
        q = _shrink(q, off)
        x = self.ox + q[..., 0] * self.cos - q[..., 1] * self.sin
        y = self.oy + q[..., 0] * self.sin + q[..., 1] * self.cos
        return np.stack([x, y], axis=-1)


def _shrink(q: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Offset every edge of CCW quads ``q`` inwards by ``off`` (m, 4)."""
    e = np.roll(q, -1, axis=1) - q
    ln = np.hypot(e[..., 0], e[..., 1])
    ln = np.where(ln > 0, ln, 1.0)
    nx = -e[..., 1] / ln
    ny = e[..., 0] / ln
    c = nx * q[..., 0] + ny * q[..., 1] + off
    pnx, pny, pc = np.roll(nx, 1, axis=1), np.roll(ny, 1, axis=1), np.roll(c, 1, axis=1)
    det = pnx * ny - pny * nx
    det = np.where(np.abs(det) > 1e-12, det, 1e-12)
    x = (pc * ny - c * pny) / det
    y = (pnx * c - nx * pc) / det
    return np.stack([x, y], axis=-1)


def _quad_area(q: np.ndarray) -> np.ndarray:
    x, y = q[..., 0], q[..., 1]
    return 0.5 * np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1)


def _subquad(q: np.ndarray, s0, s1, t0, t1) -> np.ndarray:
    """Bilinear sub-quadrilateral [s0, s1] x [t0, t1] of quads ``q``."""
    v0, v1, v2, v3 = q[:, 0], q[:, 1], q[:, 2], q[:, 3]

    def p(s, t):
        s = s[:, None]
        t = t[:, None]
        return (1 - s) * (1 - t) * v0 + s * (1 - t) * v1 + s * t * v2 + (1 - s) * t * v3

    return np.stack([p(s0, t0), p(s1, t0), p(s1, t1), p(s0, t1)], axis=1)


def _make_grid(rng: np.random.Generator, k: int, geom: shapely.Geometry, spacing: float) -> _Grid:
    rp = shapely.get_coordinates(shapely.point_on_surface(geom))[0]
    ang = rng.uniform(0.0, 0.5 * np.pi)
    c, s = math.cos(ang), math.sin(ang)
    xy = shapely.get_coordinates(geom) - rp
    fu = xy[:, 0] * c + xy[:, 1] * s
    fv = -xy[:, 0] * s + xy[:, 1] * c
    pad = 600.0
    aspect = rng.uniform(1.0, 1.45)
    su, sv = spacing * aspect**0.5, spacing / aspect**0.5
    if rng.random() < 0.5:
        su, sv = sv, su

    def lines(lo: float, hi: float, med: float) -> tuple[np.ndarray, np.ndarray]:
        n = int((hi - lo) / (med * 0.7)) + 8
        gaps = np.clip(med * np.exp(rng.normal(0.0, 0.28, n)), 0.6 * med, 2.0 * med)
        pos = lo - pad + np.concatenate([[0.0], np.cumsum(gaps)])
        pos = pos[pos <= hi + pad + med]
        # streets: mostly 20-30 m local roads, some 34-40 m arterials
        width = np.where(rng.random(len(pos)) < 0.22, rng.uniform(34.0, 40.0, len(pos)),
                         rng.uniform(20.0, 30.0, len(pos)))
        return pos, 0.5 * width

    u, hu = lines(fu.min(), fu.max(), su)
    v, hv = lines(fv.min(), fv.max(), sv)
    lam1, lam2 = rng.uniform(2500.0, 7000.0, 2)
    warp = (
        float(rng.uniform(0.01, 0.035) * lam1), float(lam1), float(rng.uniform(0, 2 * np.pi)),
        float(rng.uniform(0.01, 0.035) * lam2), float(lam2), float(rng.uniform(0, 2 * np.pi)),
    )
    return _Grid(d=k, ox=float(rp[0]), oy=float(rp[1]), cos=c, sin=s, u=u, v=v, hu=hu, hv=hv, warp=warp)


@dataclass
class _Pool:
    d: np.ndarray
    i: np.ndarray
    j: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    area: np.ndarray


def _block_pool(grids: list[_Grid], id_raster: np.ndarray, id_tf: affine.Affine) -> _Pool:
    """All blocks whose centre falls in their own district (by raster lookup)."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("d", "i", "j", "cx", "cy", "area")}
    inv_res = 1.0 / id_tf.a
    x0, y0 = id_tf.c, id_tf.f
    nrow, ncol = id_raster.shape
    for g in grids:
        nu, nv = len(g.u) - 1, len(g.v) - 1
        jj_all = np.arange(nv)
        step = max(1, 400_000 // max(nu, 1))
        for j0 in range(0, nv, step):
            jj, ii = np.meshgrid(jj_all[j0:j0 + step], np.arange(nu), indexing="ij")
            ii = ii.ravel()
            jj = jj.ravel()
            q = g.quads(ii, jj)
            cx = q[..., 0].mean(axis=1)
            cy = q[..., 1].mean(axis=1)
            col = np.floor((cx - x0) * inv_res).astype(np.int64)
            row = np.floor((y0 - cy) * inv_res).astype(np.int64)
            ok = (col >= 0) & (col < ncol) & (row >= 0) & (row < nrow)
            ok[ok] = id_raster[row[ok], col[ok]] == g.d + 1
            area = _quad_area(q)
            ok &= area >= _MIN_AREA
            out["d"].append(np.full(ok.sum(), g.d, dtype=np.int32))
            out["i"].append(ii[ok].astype(np.int32))
            out["j"].append(jj[ok].astype(np.int32))
            out["cx"].append(cx[ok])
            out["cy"].append(cy[ok])
            out["area"].append(area[ok])
    return _Pool(**{k: np.concatenate(v) for k, v in out.items()})
