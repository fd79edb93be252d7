"""Geography of the demo city: land, coast, bay, zones and districts, drawn in base km.

The map layout (origin, map box, bay centre, district seeds, metro line and
industrial park control points, hills) is given in *base kilometres* around
``_ORIGIN`` and scaled by ``L`` km per base unit; the smooth-noise helpers
used to draw it live here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely

# Map origin: roughly 120.0E 36.0N in EPSG:4549.  The base layout below is
# drawn in "base kilometres" around this origin and scaled by ``L`` km per
# base unit (L = 1 for the demo city, larger for benchmark cities).
_ORIGIN = (500_000.0, 3_985_500.0)
_BOX = (-38.0, -30.0, 38.0, 34.0)  # xmin, ymin, xmax, ymax in base km
_BAY_CENTRE = (-5.0, 5.0)
_THETA_EW = -65.0  # bay mouth / East-West bank divide, degrees
_THETA_NE = 30.0  # North-East divide
_THETA_NW = 165.0  # North-West divide
_CORE = (3.0, -5.0)  # old core (for distances)

# name, English, code, zone index, x, y (base km), size weight
_BASE_DISTRICTS: tuple[tuple[str, str, str, int, float, float, float], ...] = (
    ("滨海区", "Binhai", "BH", 0, 3.5, -5.0, 0.9),
    ("港城区", "Gangcheng", "GC", 0, 7.0, 3.5, 1.0),
    ("望海区", "Wanghai", "WH", 0, 16.0, 4.0, 1.2),
    ("金滩区", "Jintan", "JT", 1, -7.0, -8.5, 1.0),
    ("凤岛区", "Fengdao", "FD", 1, -17.0, -8.0, 1.2),
    ("北湾区", "Beiwan", "BW", 2, 3.0, 16.0, 1.0),
    ("临空区", "Linkong", "LK", 2, -12.0, 17.0, 1.1),
    ("松岭区", "Songling", "SL", 3, -4.0, 27.5, 1.0),
    ("岚湖区", "Lanhu", "LH", 3, 23.0, 19.0, 1.0),
    ("禾丰区", "Hefeng", "HF", 3, -29.0, 12.0, 1.0),
    ("青石区", "Qingshi", "QS", 3, -27.0, -13.5, 1.0),
)

# Extra fictional district names (name, English, code) used when the city
# grows for benchmarks.
_EXTRA_DISTRICTS: tuple[tuple[str, str, str], ...] = (
    ("柳湾区", "Liuwan", "LW"), ("鹤鸣区", "Heming", "HM"), ("桃溪区", "Taoxi", "TX"),
    ("杏坛区", "Xingtan", "XT"), ("云峰区", "Yunfeng", "YF"), ("翠湖区", "Cuihu", "CH"),
    ("明珠区", "Mingzhu", "MZ"), ("金港区", "Jingang", "JG"), ("银滩区", "Yintan", "YT"),
    ("石湾区", "Shiwan", "SW"), ("松涛区", "Songtao", "ST"), ("梅岭区", "Meiling", "ML"),
    ("兰亭区", "Lanting", "LT"), ("凤鸣区", "Fengming", "FM"), ("星湖区", "Xinghu", "XH"),
    ("月湾区", "Yuewan", "YW"), ("安澜区", "Anlan", "AL"), ("瑞丰区", "Ruifeng", "RF"),
    ("福湾区", "Fuwan", "FW"), ("望岳区", "Wangyue", "WY"), ("观澜区", "Guanlan", "GL"),
    ("鹿鸣区", "Luming", "LM"), ("鱼港区", "Yugang", "YG"), ("泉湾区", "Quanwan", "QW"),
    ("华岭区", "Hualing", "HL"), ("新湾区", "Xinwan", "XW"), ("东岚区", "Donglan", "DL"),
    ("西岭区", "Xiling", "XL"), ("北峰区", "Beifeng", "BF"), ("青岗区", "Qinggang", "QG"),
    ("枣林区", "Zaolin", "ZL"), ("梨园区", "Liyuan", "LY"), ("栗山区", "Lishan", "LS"),
    ("枫林区", "Fenglin", "FL"), ("桂湾区", "Guiwan", "GW"), ("芦荡区", "Ludang", "LD"),
    ("苇湾区", "Weiwan", "WW"), ("潮音区", "Chaoyin", "CY"), ("涛声区", "Taosheng", "TS"),
    ("霞光区", "Xiaguang", "XG"), ("晨曦区", "Chenxi", "CX"), ("银杏区", "Yinxing", "YX"),
    ("海棠区", "Haitang", "HT"), ("紫荆区", "Zijing", "ZJ"), ("玉兰区", "Yulan", "YL"),
)


# Metro lines: name, English, opening year, control points (base km).
_LINES: tuple[tuple[str, str, int, tuple[tuple[float, float], ...]], ...] = (
    ("1号线", "Line 1", 2020, (  # cross-bay: West bank - tunnel - old core - north
        (-19.0, -12.0), (-15.0, -10.8), (-11.0, -9.6), (-7.0, -8.3),
        (-3.5, -7.6), (-0.5, -7.0), (1.8, -5.8), (3.8, -4.2),
        (5.6, -1.6), (7.6, 1.2),
    )),
    ("2号线", "Line 2", 2015, (  # radial east along the coast
        (2.8, -6.4), (6.0, -4.6), (10.0, -2.4), (14.0, 0.4), (17.0, 2.6),
        (20.0, 3.8),
    )),
    ("3号线", "Line 3", 2012, (  # radial north along the East bank
        (2.0, -7.0), (3.8, -4.0), (4.8, 0.0), (6.2, 4.0), (7.8, 8.0),
        (7.0, 12.0), (4.5, 15.0), (1.5, 17.5),
    )),
    ("4号线", "Line 4", 2017, (  # North bank, round the head of the bay
        (9.0, 5.5), (7.5, 10.0), (5.0, 14.0), (1.0, 16.0), (-3.0, 17.3),
        (-8.0, 17.3), (-12.0, 16.2), (-16.0, 14.5), (-19.5, 13.0),
    )),
    ("5号线", "Line 5", 2022, (  # radial north-east to an outer town
        (4.5, -5.2), (8.0, -1.2), (11.0, 3.5), (12.5, 8.5), (15.5, 13.5),
        (19.5, 17.0), (23.0, 18.8),
    )),
    ("6号线", "Line 6", 2018, (  # West bank coastal line
        (-4.0, -10.0), (-8.0, -11.0), (-12.5, -12.2), (-17.5, -13.5),
        (-22.0, -14.2), (-26.0, -14.0),
    )),
)

# Industrial parks: type name, x, y, half-length, half-width (base km), angle.
_PARKS: tuple[tuple[str, float, float, float, float, float], ...] = (
    ("高新技术产业园", -9.0, 20.5, 2.0, 1.1, 10.0),
    ("空港综合保税区", -17.0, 17.5, 1.5, 1.0, -20.0),
    ("临港经济技术开发区", -11.5, -13.0, 2.2, 0.9, 15.0),
    ("海洋科技产业园", -22.0, -9.5, 1.8, 1.1, 30.0),
    ("汽车产业园", -30.0, 7.5, 1.6, 1.2, 5.0),
    ("智能制造产业园", 25.0, 16.0, 1.6, 1.0, -10.0),
    ("电子信息产业园", 6.0, 20.3, 1.5, 0.9, 25.0),
)

_HILL = (17.0, 9.5, 3.4)  # x, y, radius (base km) of the 望海山 hills


# ---------------------------------------------------------------------------
# noise and shape helpers
# ---------------------------------------------------------------------------


def _waves_1d(
    rng: np.random.Generator, n: int, rms: float, lam_min: float, lam_max: float
) -> Callable[[np.ndarray], np.ndarray]:
    """Smooth 1-D noise: a sum of ``n`` sine waves with the given RMS."""
    lam = np.exp(rng.uniform(np.log(lam_min), np.log(lam_max), n))
    phase = rng.uniform(0.0, 2.0 * np.pi, n)
    amp = (lam / lam_max) ** 0.8
    amp *= rms / np.sqrt(np.sum(amp**2) / 2.0)

    def f(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        out = np.zeros_like(t)
        for a, lm, p in zip(amp, lam, phase):
            out += a * np.sin(2.0 * np.pi * t / lm + p)
        return out

    return f


def _waves_2d(
    rng: np.random.Generator, n: int, rms: float, lam_min: float, lam_max: float
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Smooth 2-D noise: a sum of ``n`` plane waves with the given RMS."""
    lam = np.exp(rng.uniform(np.log(lam_min), np.log(lam_max), n))
    ang = rng.uniform(0.0, np.pi, n)
    phase = rng.uniform(0.0, 2.0 * np.pi, n)
    amp = (lam / lam_max) ** 0.6
    amp *= rms / np.sqrt(np.sum(amp**2) / 2.0)
    kx = 2.0 * np.pi * np.cos(ang) / lam
    ky = 2.0 * np.pi * np.sin(ang) / lam

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        out = np.zeros(np.broadcast(x, y).shape)
        for a, u, v, p in zip(amp, kx, ky, phase):
            out += a * np.sin(u * x + v * y + p)
        return out

    return f


def _chaikin(pts: np.ndarray, n_iter: int = 4) -> np.ndarray:
    """Chaikin corner cutting, keeping the end points."""
    p = np.asarray(pts, dtype=float)
    for _ in range(n_iter):
        q = 0.75 * p[:-1] + 0.25 * p[1:]
        r = 0.25 * p[:-1] + 0.75 * p[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2] = q
        mid[1::2] = r
        p = np.vstack([p[:1], mid[1:-1], p[-1:]])
    return p


def _star(
    cx: float, cy: float, rx: float, ry: float, noise: Callable[[np.ndarray], np.ndarray],
    n: int = 720,
) -> shapely.Polygon:
    """Star-shaped polygon: an ellipse with radial noise (always valid)."""
    th = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    r = 1.0 / np.sqrt((np.cos(th) / rx) ** 2 + (np.sin(th) / ry) ** 2)
    r = r * (1.0 + noise(th))
    return shapely.Polygon(np.c_[cx + r * np.cos(th), cy + r * np.sin(th)])


def _periodic(rng: np.random.Generator, kmax: int, rms: float) -> Callable[[np.ndarray], np.ndarray]:
    """Smooth periodic noise on the circle (harmonics 2..kmax)."""
    k = np.arange(2, kmax + 1)
    amp = 1.0 / k**1.2
    amp *= rms / np.sqrt(np.sum(amp**2) / 2.0)
    phase = rng.uniform(0.0, 2.0 * np.pi, len(k))

    def f(th: np.ndarray) -> np.ndarray:
        return np.sum(amp * np.cos(np.outer(th, k) + phase), axis=1)

    return f


def _largest_part(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    if len(parts) == 0:
        return shapely.Polygon()
    return parts[int(np.argmax(shapely.area(parts)))]


# ---------------------------------------------------------------------------
# geography
# ---------------------------------------------------------------------------


@dataclass
class _Geo:
    """Geography in *base km* coordinates (converted to metres later)."""

    box: shapely.Polygon
    land: shapely.Geometry
    sea: shapely.Geometry
    bay: shapely.Geometry
    zones: list[shapely.Geometry]
    district_names: list[tuple[str, str, str, int]]  # name, en, code, zone
    district_seeds: np.ndarray  # (k, 2)
    district_geoms: list[shapely.Geometry]
    bumps: np.ndarray  # (nb, 4) x, y, weight, radius


def _coast(rng: np.random.Generator) -> shapely.Polygon:
    """Sea polygon south/east of a noisy coastline (a graph y = c(x))."""
    kx = np.array([-60, -40, -30, -22, -15, -9, -4.5, -1.2, 1.2, 3.2, 6, 10, 14, 18, 22, 26, 30, 40, 60.0])
    ky = np.array([-23, -21, -19.5, -17.6, -16.0, -14.6, -12.6, -10.6, -9.8, -8.9, -7.6, -6.0, -4.2,
                   -1.8, 1.4, 4.4, 7.6, 13.0, 24.0])
    x = np.arange(-60.0, 60.0001, 0.1)
    big = _waves_1d(rng, 12, 0.75, 2.5, 24.0)
    small = _waves_1d(rng, 12, 0.14, 0.3, 2.0)
    y = np.interp(x, kx, ky) + big(x) + small(x)
    ring = np.vstack([np.c_[x, y], [[60.0, -80.0], [-60.0, -80.0]]])
    return shapely.Polygon(ring)


def _channel(rng: np.random.Generator) -> shapely.Polygon:
    """Bay mouth: a strait along the East/West divide with a narrow waist."""
    th = np.deg2rad(_THETA_EW)
    d = np.array([math.cos(th), math.sin(th)])
    n = np.array([-d[1], d[0]])
    r = np.arange(4.0, 20.0001, 0.1)
    w = 1.05 + 2.2 * np.exp(-(((r - 6.0) / 1.8) ** 2)) + 3.0 * np.exp(-(((r - 19.0) / 2.2) ** 2))
    left = w + _waves_1d(rng, 6, 0.12, 0.6, 4.0)(r)
    right = w + _waves_1d(rng, 6, 0.12, 0.6, 4.0)(r)
    c = np.array(_BAY_CENTRE) + r[:, None] * d
    ring = np.vstack([c + left[:, None] * n, (c - right[:, None] * n)[::-1]])
    return shapely.make_valid(shapely.Polygon(ring))


def _meander(rng: np.random.Generator, pts: np.ndarray, amp: float) -> np.ndarray:
    """Densify a smoothed polyline and let it meander sideways."""
    p = _chaikin(np.asarray(pts, dtype=float), 4)
    seg = np.hypot(*np.diff(p, axis=0).T)
    t = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.arange(0.0, t[-1], 0.05)
    x = np.interp(s, t, p[:, 0])
    y = np.interp(s, t, p[:, 1])
    dx, dy = np.gradient(x), np.gradient(y)
    ln = np.hypot(dx, dy)
    off = _waves_1d(rng, 8, amp, 1.5, 9.0)(s)
    off *= np.clip(s / 2.0, 0.0, 1.0) * np.clip((s[-1] - s) / 1.0, 0.0, 1.0)
    return np.c_[x - off * dy / ln, y + off * dx / ln]


def _onto(zone: shapely.Geometry, land: shapely.Geometry, x: float, y: float) -> tuple[float, float]:
    """``(x, y)`` if it lies on land in ``zone``, else a nearby point that does."""
    zl = shapely.intersection(zone, land)
    p = shapely.Point(x, y)
    if shapely.contains(zl, p):
        return (x, y)
    dist = shapely.distance(zl, p)
    q = shapely.point_on_surface(_largest_part(shapely.intersection(zl, shapely.buffer(p, dist + 2.0))))
    return (float(q.x), float(q.y))


def _ray(theta0: float, noise: Callable[[np.ndarray], np.ndarray], r0: float, rmax: float) -> np.ndarray:
    """A noisy ray out of the bay centre (angle noise ramps in after r0)."""
    r = np.concatenate([np.linspace(0.0, 40.0, 801)[:-1], np.linspace(40.0, rmax, 200)])
    ramp = np.clip((r - r0) / 4.0, 0.0, 1.0)
    th = np.deg2rad(theta0) + noise(r) * ramp
    return np.c_[_BAY_CENTRE[0] + r * np.cos(th), _BAY_CENTRE[1] + r * np.sin(th)]


def _sector(ray_a: np.ndarray, ray_b: np.ndarray) -> shapely.Polygon:
    """Polygon between two rays, counter-clockwise from ``ray_a`` to ``ray_b``."""
    cx, cy = _BAY_CENTRE
    ta = math.atan2(ray_a[-1, 1] - cy, ray_a[-1, 0] - cx)
    tb = math.atan2(ray_b[-1, 1] - cy, ray_b[-1, 0] - cx)
    while tb <= ta:
        tb += 2.0 * np.pi
    rmax = float(np.hypot(ray_a[-1, 0] - cx, ray_a[-1, 1] - cy))
    th = np.linspace(ta, tb, 181)[1:-1]
    arc = np.c_[cx + rmax * np.cos(th), cy + rmax * np.sin(th)]
    ring = np.vstack([ray_a, arc, ray_b[::-1][:-1]])
    return shapely.make_valid(shapely.Polygon(ring))


def _clean_districts(geoms: list[shapely.Geometry], tol: float) -> list[shapely.Geometry]:
    """Make every district a single polygon.

    Stray parts are merged into the neighbour sharing the longest boundary;
    parts touching no other district (islets) are dropped.  Loops run over a
    handful of districts and parts only.
    """
    geoms = list(geoms)
    for _ in range(8):
        changed = False
        for i in range(len(geoms)):
            parts = shapely.get_parts(geoms[i])
            if len(parts) <= 1:
                continue
            order = np.argsort(-shapely.area(parts), kind="stable")
            geoms[i] = parts[order[0]]
            for p in parts[order[1:]]:
                best, best_len = -1, 0.0
                for k, h in enumerate(geoms):
                    if k == i:
                        continue
                    ln = shapely.length(shapely.intersection(shapely.boundary(p), shapely.buffer(h, tol)))
                    if ln > best_len:
                        best, best_len = k, ln
                if best >= 0:
                    geoms[best] = shapely.union(geoms[best], p)
                    changed = True
        if not changed:
            break
    out = []
    for g in geoms:
        g = _largest_part(shapely.make_valid(g))
        out.append(g)
    return out


def _geography(rng: np.random.Generator, L: float) -> _Geo:
    box = shapely.box(*_BOX)
    # municipal boundary: an irregular outline inside the map box
    city_big = _periodic(rng, 24, 0.05)
    city_small = _periodic(rng, 120, 0.012)

    def city_noise(th: np.ndarray) -> np.ndarray:
        return city_big(th) + city_small(th)

    city = shapely.intersection(_star(-2.0, 2.0, 34.0, 30.0, city_noise, n=1440), box)
    # --- water: sea, bay and the bay mouth -----------------------------------
    sea = _coast(rng)
    bay_noise = _periodic(rng, 28, 0.11)
    lobe_noise = _periodic(rng, 14, 0.10)
    bay = shapely.union_all([
        _star(_BAY_CENTRE[0], _BAY_CENTRE[1], 7.6, 8.6,
              lambda th: bay_noise(th) + 0.06 * np.sin(th) - 0.05 * np.cos(2 * th)
              + 0.04 * np.sin(3 * th + 0.7)),
        _star(-11.0, 9.0, 5.0, 3.2, lobe_noise),
        _star(-1.5, 12.0, 2.2, 2.8, _periodic(rng, 10, 0.10)),
    ])
    channel = _channel(rng)
    water = shapely.union_all([sea, bay, channel])
    land = _largest_part(shapely.difference(city, water))

    # --- zones -----------------------------------------------------------------
    rmax = 400.0
    rays = {
        "ew": _ray(_THETA_EW, _waves_1d(rng, 6, 0.06, 3.0, 15.0), 20.0, rmax),
        "ne": _ray(_THETA_NE, _waves_1d(rng, 6, 0.07, 2.0, 12.0), 11.5, rmax),
        "nw": _ray(_THETA_NW, _waves_1d(rng, 6, 0.07, 2.0, 12.0), 11.5, rmax),
    }
    inner_big = _periodic(rng, 14, 0.04)
    inner_small = _periodic(rng, 90, 0.012)

    def inner_noise(th: np.ndarray) -> np.ndarray:
        return inner_big(th) + inner_small(th)

    inner = _star(-3.0, 1.0, 26.0, 22.0, inner_noise)
    zones = [
        shapely.intersection(shapely.intersection(_sector(rays["ew"], rays["ne"]), inner), box),
        shapely.intersection(shapely.intersection(_sector(rays["nw"], rays["ew"]), inner), box),
        shapely.intersection(shapely.intersection(_sector(rays["ne"], rays["nw"]), inner), box),
        shapely.difference(box, inner),
    ]

    # --- district seeds ---------------------------------------------------------
    names = [(n, e, c, z) for (n, e, c, z, _, _, _) in _BASE_DISTRICTS]
    seeds = [_onto(zones[z], land, x, y) for (_, _, _, z, x, y, _) in _BASE_DISTRICTS]
    weights = [w for (*_, w) in _BASE_DISTRICTS]
    n_extra_inner = int(round(1.0 * (L - 1.0)))
    n_extra_outer = int(round(2.5 * (L - 1.0)))
    extra_pool = list(_EXTRA_DISTRICTS)
    shapely.prepare(land)
    for z, n_extra in ((0, n_extra_inner), (1, n_extra_inner), (2, n_extra_inner), (3, n_extra_outer)):
        if n_extra <= 0:
            continue
        zland = shapely.intersection(zones[z], land)
        shapely.prepare(zland)
        n_here = sum(1 for nm in names if nm[3] == z) + n_extra
        min_d = 0.75 * math.sqrt(shapely.area(zland) / n_here)
        xmin, ymin, xmax, ymax = shapely.bounds(zland)
        added, tries = 0, 0
        while added < n_extra and tries < 20_000 and extra_pool:
            tries += 1
            p = rng.uniform([xmin, ymin], [xmax, ymax])
            if not shapely.contains_xy(zland, p[0], p[1]):
                continue
            dist = np.hypot(*(np.asarray(seeds) - p).T)
            if dist.min() < min_d:
                continue
            nm, en, code = extra_pool.pop(0)
            names.append((nm, en, code, z))
            seeds.append((float(p[0]), float(p[1])))
            weights.append(float(rng.uniform(0.85, 1.15)))
            added += 1
    # district codes (pinyin initials) prefix the parcel ids: make them unique
    used: set[str] = set()
    fixed = []
    for nm, en, code, z in names:
        base_code, k = code, 2
        while code in used:
            code = f"{base_code}{k}"
            k += 1
        used.add(code)
        fixed.append((nm, en, code, z))
    names = fixed
    seeds_a = np.asarray(seeds, dtype=float)
    weights_a = np.asarray(weights, dtype=float)

    # --- districts: noisy weighted Voronoi over small seed cells ------------------
    n_cells = int(2600 * L**0.6)
    pts = rng.uniform([_BOX[0], _BOX[1]], [_BOX[2], _BOX[3]], (n_cells, 2))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box, ordered=True)
    )
    cells = shapely.intersection(cells, box)
    noise_d = [_waves_2d(rng, 5, 0.12, 4.0, 14.0) for _ in range(len(names))]
    zone_of = np.array([z for (_, _, _, z) in names])
    pieces_by_d: list[list[shapely.Geometry]] = [[] for _ in names]
    for z in range(4):
        ids = np.flatnonzero(zone_of == z)
        inter = shapely.intersection(cells, zones[z])
        keep = ~shapely.is_empty(inter) & (shapely.area(inter) > 0)
        inter = inter[keep]
        rp = shapely.get_coordinates(shapely.point_on_surface(inter))
        score = np.empty((len(ids), len(inter)))
        for row, k in enumerate(ids):
            dist = np.hypot(rp[:, 0] - seeds_a[k, 0], rp[:, 1] - seeds_a[k, 1])
            score[row] = dist / weights_a[k] * (1.0 + noise_d[k](rp[:, 0], rp[:, 1]))
        own = ids[np.argmin(score, axis=0)]
        for k in ids:
            pieces_by_d[k].extend(inter[own == k])
    geoms = []
    for k in range(len(names)):
        region = shapely.union_all(pieces_by_d[k]) if pieces_by_d[k] else shapely.Polygon()
        geoms.append(shapely.intersection(region, land))
    geoms = _clean_districts(geoms, 1e-6)
    keep = [k for k, g in enumerate(geoms) if not g.is_empty and g.area > 1.0]
    names = [names[k] for k in keep]
    seeds_a = seeds_a[keep]
    geoms = [geoms[k] for k in keep]
    land = shapely.union_all(geoms)

    # --- urban intensity bumps (x, y, weight, radius) -----------------------------
    bumps = [
        (3.0, -5.5, 1.00, 3.6), (5.5, 0.5, 0.95, 3.4), (8.5, 6.5, 0.80, 3.2),
        (14.5, 2.5, 0.85, 3.0), (19.5, 4.0, 0.50, 2.4), (1.0, -1.5, 0.6, 2.0),
        (-7.0, -8.8, 0.85, 3.2), (-13.5, -10.8, 0.75, 3.0), (-19.0, -12.5, 0.55, 2.6),
        (-9.5, -4.0, 0.55, 2.4), (-17.0, -6.0, 0.6, 2.6),
        (3.0, 15.5, 0.80, 3.2), (-4.0, 17.5, 0.65, 2.8), (-11.5, 16.5, 0.70, 3.0),
        (7.0, 11.5, 0.65, 2.6),
    ]
    base_names = {row[0] for row in _BASE_DISTRICTS}
    for k, (nm, en, code, z) in enumerate(names):
        if z == 3 or nm not in base_names:
            bumps.append((float(seeds_a[k, 0]), float(seeds_a[k, 1]), float(rng.uniform(0.6, 0.72)),
                          float(rng.uniform(2.2, 2.9))))
    return _Geo(
        box=box, land=land, sea=sea, bay=shapely.union(bay, channel), zones=zones,
        district_names=names, district_seeds=seeds_a, district_geoms=geoms,
        bumps=np.asarray(bumps, dtype=float),
    )
