"""Synthetic demo city for siteplan.

This module generates *Demo City* (示范市), a fictional but plausible Chinese
coastal city laid out around a bay, in the spirit of Qingdao: an old core on
the East bank (东岸城区), a newer West bank (西岸城区) across a narrow bay mouth,
a North bank (北岸城区) wrapping round the head of the bay and a ring of outer
towns (外围组团).  Every layer is made up; no real place is described.

The generator is seeded and deterministic: the same ``seed`` and ``n_parcels``
give identical layers.  It is vectorised (numpy and shapely 2 array functions,
no Python loop over parcels) so that it can also produce benchmark cities with
up to about a million candidate parcels; the city area and the number of towns
grow with ``n_parcels``.

All vector layers use CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549),
eastings around 500 000 m and northings around 3 985 000 m.

Examples
--------
>>> from siteplan.synth import make_city, write_city
>>> city = make_city(seed=2016, n_parcels=3000)            # doctest: +SKIP
>>> paths = write_city(city, "layers")                     # doctest: +SKIP

or from the shell::

    python -m siteplan.synth --out layers --seed 2016 --parcels 3000
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import affine
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from rasterio.features import rasterize
from scipy.spatial import cKDTree

__all__ = [
    "CRS",
    "LAND_USES",
    "LAYERS",
    "SERVICE_CATEGORIES",
    "STATUSES",
    "ZONES",
    "City",
    "main",
    "make_city",
    "write_city",
]

#: Coordinate reference system of every layer.
CRS = "EPSG:4549"
#: Zones, in their canonical order.
ZONES: tuple[str, ...] = ("东岸城区", "西岸城区", "北岸城区", "外围组团")
#: Allowed ``parcels.land_use`` values.
LAND_USES: tuple[str, ...] = (
    "residential",
    "commercial_residential",
    "industrial_conversion",
    "village_renewal",
)
#: Allowed ``parcels.status`` values.
STATUSES: tuple[str, ...] = ("reserve", "commercial", "committed", "excluded")
#: Allowed ``services.category`` values.
SERVICE_CATEGORIES: tuple[str, ...] = (
    "school",
    "clinic",
    "hospital",
    "market",
    "park",
    "culture",
)
#: Vector layers written by :func:`write_city` (one GeoPackage each).
LAYERS: tuple[str, ...] = (
    "districts",
    "lines",
    "stations",
    "services",
    "parks",
    "parcels",
    "constraints",
)

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

_UNIT_FLOOR_AREA = 55.0  # m2 per dwelling, used only for the scale heuristics
_DEMO_BLOCKS = 10_000  # built-up blocks in the demo-size city
_MIN_AREA = 3_000.0  # m2 (0.3 ha)
_MAX_AREA = 80_000.0  # m2 (8 ha)

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

_CHARS_A = np.array(list(
    "海山泉湾港城新华金银石松柳桃杏枣梅兰竹凤龙云月星明安康宁和平兴隆福丰乐清"
    "青绿翠白红紫东西南北中上大长望观鹤鹿沙岛峰岭林田"
))
_CHARS_B = np.array(list("阳安平兴华泉山海湖河桥岗坡台湾洲口门庄屯店营埠亭林园溪峪岭沟涧"))
_STATION_SUFFIX = np.array(
    ["路", "广场", "公园", "村", "桥", "", "", "", "大道", "街", "北", "东", "南", "西"]
)
_SERVICE_SUFFIX: dict[str, tuple[str, ...]] = {
    "school": ("小学", "中学", "实验学校", "幼儿园", "第一小学", "第二中学"),
    "clinic": ("社区卫生服务中心", "社区卫生服务站", "卫生院", "诊所"),
    "hospital": ("人民医院", "中心医院", "中医医院", "妇幼保健院"),
    "market": ("农贸市场", "菜市场", "生鲜市场", "综合市场"),
    "park": ("公园", "广场", "绿地", "街心公园"),
    "culture": ("文化馆", "图书馆", "文化活动中心", "社区书屋"),
}
# relative number of points per category and population exponent
_SERVICE_MIX: dict[str, tuple[float, float]] = {
    "school": (0.30, 1.0),
    "clinic": (0.22, 1.0),
    "hospital": (0.03, 1.5),
    "market": (0.20, 1.1),
    "park": (0.15, 0.9),
    "culture": (0.10, 1.3),
}


@dataclass(frozen=True)
class City:
    """All layers of one synthetic city.

    Attributes
    ----------
    districts : geopandas.GeoDataFrame
        Polygons with ``district`` (str), ``zone`` (str, one of :data:`ZONES`)
        and ``district_en`` (str).  They tile the land area.
    lines : geopandas.GeoDataFrame
        Metro lines (LineString) with ``line``, ``line_en`` and ``open_year``.
    stations : geopandas.GeoDataFrame
        Metro stations (Point) with ``station`` (unique), ``line`` and
        ``open_year``.
    services : geopandas.GeoDataFrame
        Public services (Point) with ``category`` and ``name``.
    parks : geopandas.GeoDataFrame
        Industrial parks (Polygon) with ``park`` and ``workers``.
    parcels : geopandas.GeoDataFrame
        Candidate land parcels (Polygon) with ``parcel_id``, ``name``,
        ``district``, ``land_use``, ``far_max``, ``far_upper``,
        ``available_year``, ``status`` and ``metro_depot``.
    constraints : geopandas.GeoDataFrame
        Ecological red lines and flood zones (Polygon) with ``kind`` and
        ``name``.
    population : numpy.ndarray
        2-D float32 population density (persons per km2); ``-1`` over water.
    transform : affine.Affine
        Raster transform of ``population``.
    crs : str
        ``"EPSG:4549"``.
    """

    districts: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    services: gpd.GeoDataFrame
    parks: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    constraints: gpd.GeoDataFrame
    population: np.ndarray
    transform: affine.Affine
    crs: str = CRS

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Return the vector layers keyed by layer name.

        Returns
        -------
        dict of str to geopandas.GeoDataFrame
            In the order of :data:`LAYERS`.
        """
        return {name: getattr(self, name) for name in LAYERS}


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    """Size parameters derived from ``n_parcels``."""

    L: float  # km per base unit
    frac: float  # share of built-up blocks that are candidate parcels
    bfac: float  # block size factor
    n_blocks: int  # number of built-up blocks to draw parcels from


def _scale(n_parcels: int) -> _Scale:
    r = math.log(max(n_parcels, 3000) / 3000.0) / math.log(1_000_000 / 3000.0)
    r = min(max(r, 0.0), 1.2)
    frac = 0.3 + 0.45 * r
    bfac = 1.0 - 0.25 * r
    n_blocks = max(_DEMO_BLOCKS, math.ceil(n_parcels / frac))
    share = 1.0 / (1.0 + 1.5 * r)
    L = math.sqrt(max(1.0, n_blocks / _DEMO_BLOCKS * bfac**2 * share))
    return _Scale(L=L, frac=frac, bfac=bfac, n_blocks=n_blocks)


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


def _letters(k: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA ..."""
    s = ""
    k += 1
    while k > 0:
        k, r = divmod(k - 1, 26)
        s = chr(65 + r) + s
    return s


def _place_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` two-character place names (not unique)."""
    a = _CHARS_A[rng.integers(0, len(_CHARS_A), n)]
    ib = rng.integers(0, len(_CHARS_B), n)
    ib = np.where(_CHARS_B[ib] == a, (ib + 1) % len(_CHARS_B), ib)  # no "海海"
    return np.char.add(a, _CHARS_B[ib])


def _unique_station_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unique station names."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        m = 2 * (n - len(out)) + 16
        cand = np.char.add(_place_names(rng, m), _STATION_SUFFIX[rng.integers(0, len(_STATION_SUFFIX), m)])
        for c in cand.tolist():
            if c not in seen:
                seen.add(c)
                out.append(c)
                if len(out) == n:
                    break
    return np.array(out, dtype=object)


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


# ---------------------------------------------------------------------------
# urban field and population
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


# ---------------------------------------------------------------------------
# main generator
# ---------------------------------------------------------------------------


def make_city(*, seed: int = 2016, n_parcels: int = 3000) -> City:
    """Generate a synthetic coastal city.

    Parameters
    ----------
    seed : int, default 2016
        Seed of the random generator; equal seeds give equal cities.
    n_parcels : int, default 3000
        Number of candidate parcels.  Between 500 and about 1 000 000; above
        3 000 the city grows (larger area, more outer towns and districts,
        slightly smaller blocks).

    Returns
    -------
    City
        All layers, in EPSG:4549.

    Raises
    ------
    ValueError
        If ``n_parcels`` is smaller than 50 or larger than 2 000 000.
    """
    if not 50 <= int(n_parcels) <= 2_000_000:
        raise ValueError("n_parcels must be between 50 and 2,000,000")
    return _generate(int(seed), int(n_parcels))[0]


def _generate(seed: int, n_parcels: int, debug: bool = False) -> tuple[City, dict]:
    """Body of :func:`make_city`; with ``debug`` also returns built-up blocks."""
    sc = _scale(n_parcels)
    L = sc.L
    ss = np.random.SeedSequence(int(seed))
    (r_geo, r_field, r_lines, r_grid, r_pick, r_attr, r_serv, r_pop, r_misc) = [
        np.random.default_rng(s) for s in ss.spawn(9)
    ]

    geo = _geography(r_geo, L)
    field = _Field(r_field, geo.bumps)
    s = L * 1000.0
    ox, oy = _ORIGIN

    def to_world(g):
        return shapely.transform(g, lambda c: c * s + np.array([ox, oy]))

    def to_base(x, y):
        return (np.asarray(x) - ox) / s, (np.asarray(y) - oy) / s

    def urban(x, y):
        bx, by = to_base(x, y)
        return field(bx, by)

    land = to_world(geo.land)
    shapely.prepare(land)
    dgeoms = np.array([to_world(g) for g in geo.district_geoms], dtype=object)
    shapely.prepare(dgeoms)
    zone_of_d = np.array([z for (_, _, _, z) in geo.district_names])
    nd = len(dgeoms)

    # --- population raster -----------------------------------------------------------
    res = 100.0 if L <= 1.25 else float(max(100, int(round(100.0 * L / 50.0)) * 50))
    bx0, by0, bx1, by1 = (v * s for v in _BOX)
    x0, y1 = ox + bx0, oy + by1
    ncol = int(math.ceil((bx1 - bx0) / res))
    nrow = int(math.ceil((by1 - by0) / res))
    transform = affine.Affine(res, 0.0, x0, 0.0, -res, y1)
    xc = x0 + (np.arange(ncol) + 0.5) * res
    yc = y1 - (np.arange(nrow) + 0.5) * res
    gx, gy = np.meshgrid(xc, yc)
    on_land = shapely.contains_xy(land, gx, gy)
    u_grid = urban(gx, gy)
    rural = 90.0 * np.exp(r_pop.normal(0.0, 0.35, gx.shape))
    pop = 30_000.0 * u_grid**2.1 * np.exp(r_pop.normal(0.0, 0.12, gx.shape)) + rural
    pop = np.where(on_land, np.round(pop), -1.0).astype(np.float32)

    # --- lines and stations ----------------------------------------------------------
    lines_rows, line_geoms = [], []
    st_line, st_year, st_geom = [], [], []
    infill_lines = [k for k, ln in enumerate(_LINES) if ln[2] <= 2015]
    for k, (name, name_en, year, pts) in enumerate(_LINES):
        ctrl = np.asarray(pts, dtype=float)
        ctrl[1:-1] += r_lines.normal(0.0, 0.15, (len(ctrl) - 2, 2))  # seeded wiggle
        base = _chaikin(ctrl, 5)
        geom = to_world(shapely.LineString(base))
        lines_rows.append((name, name_en, year))
        line_geoms.append(geom)
        length = geom.length
        gaps = r_lines.uniform(1000.0, 1500.0, int(length / 900.0) + 4)
        dist = np.concatenate([[0.0], np.cumsum(gaps)])
        dist = dist[dist < length - 600.0]
        dist = np.append(dist, length)
        p = shapely.line_interpolate_point(geom, dist)
        ok = shapely.contains(land, p)
        p = p[ok]
        years = np.full(len(p), year, dtype=np.int64)
        if k in infill_lines and len(p) > 4:
            m = int(r_lines.integers(1, len(p) - 1))
            years[m] = year + int(r_lines.integers(3, 6))
        st_line += [name] * len(p)
        st_year.append(years)
        st_geom.append(p)
    lines = gpd.GeoDataFrame(
        pd.DataFrame(lines_rows, columns=["line", "line_en", "open_year"]).astype({"open_year": "int64"}),
        geometry=line_geoms, crs=CRS,
    )
    st_geom_a = np.concatenate(st_geom)
    st_year_a = np.concatenate(st_year)
    stations = gpd.GeoDataFrame(
        {
            "station": _unique_station_names(r_lines, len(st_geom_a)).astype(str),
            "line": np.array(st_line, dtype=object).astype(str),
            "open_year": st_year_a.astype(np.int64),
        },
        geometry=st_geom_a, crs=CRS,
    )
    st_xy = shapely.get_coordinates(st_geom_a)
    st_tree = cKDTree(st_xy)

    # --- industrial parks ------------------------------------------------------------
    park_rows, park_geoms = [], []
    for kind, px, py, hl, hw, ang in _PARKS:
        rect = shapely.box(-hl, -hw, hl, hw)
        sx, sy = r_misc.choice([-1.0, 1.0], 2)
        ext_w, ext_h = hl * r_misc.uniform(0.35, 0.6), hw * r_misc.uniform(0.5, 0.9)
        cx_, cy_ = sx * (hl - ext_w * r_misc.uniform(0.6, 1.0)), sy * (hw + ext_h * 0.45)
        rect = shapely.union(rect, shapely.box(cx_ - ext_w, cy_ - ext_h / 2, cx_ + ext_w, cy_ + ext_h / 2))
        rect = shapely.affinity.rotate(rect, ang + float(r_misc.uniform(-5, 5)), origin=(0, 0))
        rect = shapely.affinity.scale(rect, L**-0.5, L**-0.5, origin=(0, 0))
        rect = shapely.affinity.translate(rect, px, py)
        g = _largest_part(shapely.intersection(to_world(rect), land))
        if g.is_empty:
            continue
        dk = int(np.argmax(shapely.area(shapely.intersection(dgeoms, g))))
        short = geo.district_names[dk][0].removesuffix("区")
        workers = int(np.clip(g.area / 1e6 * 5200.0 * r_misc.uniform(0.7, 1.3), 8000, 80000) // 100 * 100)
        park_rows.append((short + kind, workers))
        park_geoms.append(g)
    parks = gpd.GeoDataFrame(
        pd.DataFrame(park_rows, columns=["park", "workers"]).astype({"workers": "int64"}),
        geometry=park_geoms, crs=CRS,
    )
    parks_union = shapely.union_all(park_geoms)
    shapely.prepare(parks_union)

    # --- constraints -------------------------------------------------------------------
    cons_rows, cons_geoms = [], []

    def add_constraint(kind: str, name: str, g: shapely.Geometry) -> None:
        g = shapely.intersection(g, land)
        for part in shapely.get_parts(g):
            if part.geom_type == "Polygon" and part.area > 20_000.0:
                cons_rows.append((kind, name))
                cons_geoms.append(part)

    bay_w = to_world(geo.bay)
    bcx, bcy = _BAY_CENTRE
    wedge = shapely.Polygon([(bcx, bcy)] + [
        (bcx + 40.0 * math.cos(math.radians(a)), bcy + 40.0 * math.sin(math.radians(a)))
        for a in (92.0, 135.0, 178.0)
    ])
    add_constraint("ecological_redline", "北湾湿地生态保护红线",
                   shapely.intersection(shapely.buffer(bay_w, 1300.0 * L**0.5), to_world(wedge)))
    hx, hy, hr = _HILL
    hill = _star(hx, hy, hr * 0.95, hr * 0.85, _periodic(r_misc, 10, 0.06))
    add_constraint("ecological_redline", "望海山森林生态保护红线", to_world(hill))
    sea_w = to_world(geo.sea)
    add_constraint("ecological_redline", "凤岛滨海湿地生态保护红线",
                   shapely.intersection(shapely.buffer(sea_w, 1100.0 * L**0.5),
                                        to_world(shapely.Point(-22.0, -16.0).buffer(4.5))))
    rivers = (
        ("银溪河洪泛区", ((-1.5, 35.0), (-2.0, 28.0), (-3.2, 23.0), (-4.0, 19.0), (-4.8, 15.0),
                      (-5.0, 11.0)), 350.0, 0.25),
        ("禾源河洪泛区", ((-42.0, 28.0), (-31.0, 21.5), (-24.0, 16.5), (-19.0, 12.5), (-15.5, 10.0),
                      (-11.0, 9.0)), 600.0, 0.45),
    )
    for nm, pts, w, amp in rivers:
        ln = shapely.LineString(_meander(r_misc, np.asarray(pts), amp))
        add_constraint("flood_zone", nm, shapely.buffer(to_world(ln), w * L**0.5))
    constraints = gpd.GeoDataFrame(
        pd.DataFrame(cons_rows, columns=["kind", "name"]), geometry=cons_geoms, crs=CRS
    )

    # --- districts layer ------------------------------------------------------------------
    districts = gpd.GeoDataFrame(
        {
            "district": [n for (n, _, _, _) in geo.district_names],
            "zone": [ZONES[z] for (_, _, _, z) in geo.district_names],
            "district_en": [e for (_, e, _, _) in geo.district_names],
        },
        geometry=list(dgeoms), crs=CRS,
    )

    # --- street grids, block pool ----------------------------------------------------------
    id_res = 50.0 * L
    id_tf = affine.Affine(id_res, 0.0, x0, 0.0, -id_res, y1)
    id_shape = (int(math.ceil((by1 - by0) / id_res)), int(math.ceil((bx1 - bx0) / id_res)))
    id_raster = rasterize(
        ((g, k + 1) for k, g in enumerate(dgeoms)), out_shape=id_shape, transform=id_tf,
        fill=0, dtype="int32",
    )
    core_w = np.array(_CORE) * s + np.array(_ORIGIN)
    grids = []
    for k, g in enumerate(dgeoms):
        rp = shapely.get_coordinates(shapely.point_on_surface(g))[0]
        dist_core = math.hypot(*(rp - core_w)) / s
        spacing = (118.0 + 105.0 * min(dist_core / 24.0, 1.0)) * sc.bfac
        grids.append(_make_grid(r_grid, k, g, spacing))
    pool = _block_pool(grids, id_raster, id_tf)
    pool_u = urban(pool.cx, pool.cy)

    # built-up blocks: the most urban ones (with noise so the edge is ragged)
    score = pool_u + r_pick.normal(0.0, 0.07, len(pool_u))
    n_built = min(sc.n_blocks, len(score))
    built = np.sort(np.argpartition(-score, n_built - 1)[:n_built])

    d_st, _ = st_tree.query(np.c_[pool.cx[built], pool.cy[built]])
    cells, quads, is_depot = _select_parcels(
        r_pick, n_parcels, pool, built, grids, dgeoms, zone_of_d, line_geoms, core_w, d_st,
        shapely.union_all(cons_geoms) if cons_geoms else None,
    )

    parcels = _parcel_attributes(
        r_attr, cells, quads, is_depot, pool, geo, zone_of_d, urban, st_tree, parks_union, L,
    )

    # --- services ----------------------------------------------------------------------------
    n_serv = int(round(3000 * L**2))
    services = _services(r_serv, n_serv, pop, transform, land, res)

    extra: dict = {}
    if debug:
        bq = np.concatenate([
            grids[k].quads(pool.i[built[pool.d[built] == k]], pool.j[built[pool.d[built] == k]])
            for k in range(nd)
        ])
        extra["built"] = shapely.polygons(np.concatenate([bq, bq[:, :1]], axis=1))
        extra["scale"] = sc
        extra["water"] = to_world(shapely.union(geo.sea, geo.bay))
    city = City(
        districts=districts,
        lines=lines,
        stations=stations,
        services=services,
        parks=parks,
        parcels=parcels,
        constraints=constraints,
        population=pop,
        transform=transform,
        crs=CRS,
    )
    return city, extra


def _select_parcels(
    rng: np.random.Generator, n_parcels: int, pool: _Pool, built: np.ndarray,
    grids: list[_Grid], dgeoms: np.ndarray, zone_of_d: np.ndarray,
    line_geoms: list[shapely.Geometry], core: np.ndarray, d_station: np.ndarray,
    no_depot: shapely.Geometry | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choose candidate parcels among the built-up blocks.

    Depot parcels come first (the block nearest each line's outer end); the
    rest is a zone-stratified weighted sample without replacement
    (Efraimidis-Spirakis keys, station proximity weighs up to 4x).  Invalid
    parcels (outside their district, area out of range) are replaced by the
    next candidates, so exactly ``n_parcels`` come back unless the city has
    too few blocks.

    Returns
    -------
    cells, quads, is_depot : numpy.ndarray
        Pool indices, (n, 4, 2) parcel corners and the depot flag.
    """
    # depot parcels near the outer end of every line
    depot: list[int] = []
    for geom in line_geoms:
        ends = shapely.get_coordinates(shapely.boundary(geom))
        end = ends[int(np.argmax(np.hypot(*(ends - core).T)))]  # farther from the core
        dist = np.hypot(pool.cx - end[0], pool.cy - end[1])
        dist[depot] = np.inf
        near = np.argpartition(dist, min(12, len(dist) - 1))[:12]
        near = near[np.argsort(dist[near], kind="stable")]
        near = near[(dist[near] < 2500.0) & (pool.area[near] > 15_000.0)]
        if len(near):
            depot.append(int(near[0]))
    depot_a = np.array(depot, dtype=np.int64)
    cells: list[np.ndarray] = []
    quads: list[np.ndarray] = []
    if len(depot_a):
        q, ok = _build_parcels(grids, pool, depot_a, dgeoms, rng, split=False)
        cells.append(depot_a[ok])
        quads.append(q[ok])
    n_depot = int(sum(len(c) for c in cells))

    # zone allocation (shares, capped by what each zone offers)
    keep = ~np.isin(built, depot_a)
    built = built[keep]
    d_station = d_station[keep]
    bz = zone_of_d[pool.d[built]]
    n_rest = n_parcels - n_depot
    shares = np.array([0.32, 0.23, 0.25, 0.20])
    avail = np.array([np.sum(bz == z) for z in range(4)], dtype=float) * 0.8
    alloc = np.minimum(shares * n_rest, avail)
    for _ in range(4):
        spare = avail - alloc
        missing = n_rest - alloc.sum()
        if missing <= 1e-9 or spare.sum() <= 0:
            break
        alloc += np.minimum(spare, missing * spare / spare.sum())
    alloc_i = np.floor(alloc).astype(int)
    order = np.argsort(-(alloc - alloc_i), kind="stable")
    alloc_i[order[: max(n_rest - int(alloc_i.sum()), 0)]] += 1

    # weighted sampling without replacement, then validation in batches
    w = 1.0 + 3.0 * np.exp(-((d_station / 900.0) ** 2))
    key = np.log(rng.random(len(built))) / w

    def take(cand: np.ndarray, want: int) -> tuple[int, np.ndarray]:
        n_got, pos = 0, 0
        while n_got < want and pos < len(cand):
            batch = cand[pos: pos + int((want - n_got) * 1.08) + 16]
            pos += len(batch)
            q, ok = _build_parcels(grids, pool, batch, dgeoms, rng, split=True)
            idx = np.flatnonzero(ok)[: want - n_got]
            cells.append(batch[idx])
            quads.append(q[idx])
            n_got += len(idx)
        return n_got, cand[pos:]

    leftovers = []
    short = 0
    for z in range(4):
        cand = built[bz == z]
        cand = cand[np.argsort(-key[bz == z], kind="stable")]
        got, rest = take(cand, int(alloc_i[z]))
        short += int(alloc_i[z]) - got
        leftovers.append(rest)
    if short > 0:  # rare: fill from any zone, best keys first
        rest = np.concatenate(leftovers)
        kpos = np.searchsorted(built, rest)
        take(rest[np.argsort(-key[kpos], kind="stable")], short)
    cells_a = np.concatenate(cells)
    quads_a = np.concatenate(quads)
    is_depot = np.zeros(len(cells_a), dtype=bool)
    is_depot[:n_depot] = True
    if no_depot is not None and n_depot:
        # a block touching a red line or flood zone keeps its parcel but is no depot
        # site: a depot must never be both locked in and locked out
        polys = shapely.polygons(quads_a[:n_depot])
        is_depot[:n_depot] = ~shapely.intersects(polys, no_depot)
    return cells_a, quads_a, is_depot


def _build_parcels(
    grids: list[_Grid], pool: _Pool, cells: np.ndarray, dgeoms: np.ndarray,
    rng: np.random.Generator, *, split: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Quads for ``cells`` (optionally a random part of the block) and a validity mask."""
    m = len(cells)
    q = np.empty((m, 4, 2))
    d = pool.d[cells]
    for k in np.unique(d):
        sel = np.flatnonzero(d == k)
        q[sel] = grids[k].quads(pool.i[cells[sel]], pool.j[cells[sel]])
    area = _quad_area(q)
    s0, s1 = np.zeros(m), np.ones(m)
    t0, t1 = np.zeros(m), np.ones(m)
    lu = 0.5 * (np.hypot(*(q[:, 1] - q[:, 0]).T) + np.hypot(*(q[:, 2] - q[:, 3]).T))
    lv = 0.5 * (np.hypot(*(q[:, 3] - q[:, 0]).T) + np.hypot(*(q[:, 2] - q[:, 1]).T))
    r_split = rng.random(m)
    f = rng.uniform(0.35, 0.65, m)
    side = rng.random(m) < 0.5
    shrink = rng.uniform(0.8, 1.0, m)
    if split:
        p_split = 0.25 + 0.4 * np.clip((area - 15_000.0) / 30_000.0, 0.0, 1.0)
        do = r_split < p_split
        along_u = lu >= lv
        lo = np.where(side, 0.0, f)
        hi = np.where(side, f, 1.0)
        new_area = area * (hi - lo)
        do &= new_area >= _MIN_AREA * 1.05
        s0 = np.where(do & along_u, lo, s0)
        s1 = np.where(do & along_u, hi, s1)
        t0 = np.where(do & ~along_u, lo, t0)
        t1 = np.where(do & ~along_u, hi, t1)
    approx = area * (s1 - s0) * (t1 - t0)
    big = approx > _MAX_AREA * 0.97
    g = np.where(big, np.sqrt(_MAX_AREA * 0.95 / np.maximum(approx, 1.0)) * shrink, 1.0)
    s1 = s0 + (s1 - s0) * g
    t1 = t0 + (t1 - t0) * g
    q = _subquad(q, s0, s1, t0, t1)
    area = _quad_area(q)
    ok = (area >= _MIN_AREA) & (area <= _MAX_AREA)
    polys = shapely.polygons(np.concatenate([q, q[:, :1]], axis=1))
    idx = np.flatnonzero(ok)
    ok[idx] = shapely.within(polys[idx], dgeoms[d[idx]])
    return q, ok


def _parcel_attributes(
    rng: np.random.Generator, cells: np.ndarray, quads: np.ndarray, is_depot: np.ndarray,
    pool: _Pool, geo: _Geo, zone_of_d: np.ndarray, urban: Callable, st_tree: cKDTree,
    parks_union: shapely.Geometry, L: float,
) -> gpd.GeoDataFrame:
    """Land use, plot ratios, years, status, ids and names of the chosen parcels."""
    m = len(cells)
    d = pool.d[cells]
    zone = zone_of_d[d]
    cx = quads[..., 0].mean(axis=1)
    cy = quads[..., 1].mean(axis=1)
    u = urban(cx, cy)
    d_st, _ = st_tree.query(np.c_[cx, cy])
    d_park = shapely.distance(parks_union, shapely.points(cx, cy))

    # land use
    p = np.empty((m, 4))
    hi = u > 0.65
    mid = (u > 0.35) & ~hi
    p[:] = (0.45, 0.06, 0.14, 0.35)
    p[mid] = (0.50, 0.15, 0.12, 0.23)
    p[hi] = (0.45, 0.33, 0.08, 0.14)
    near_park = d_park < 1500.0 * L**0.5
    p[near_park] = (0.25, 0.08, 0.55, 0.12)
    near_st = d_st < 500.0
    p[near_st, 1] += 0.15
    p[near_st, 0] = np.maximum(p[near_st, 0] - 0.15, 0.05)
    p /= p.sum(axis=1, keepdims=True)
    lu = (rng.random(m)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    lu = np.minimum(lu, 3)

    # plot ratio
    un = np.clip((u - 0.2) / 0.75, 0.0, 1.0)
    sp = np.exp(-d_st / 900.0)
    far = 1.2 + 2.8 * (0.55 * un + 0.45 * sp) + rng.normal(0.0, 0.22, m)
    far += np.select([lu == 1, lu == 2, lu == 3], [0.2, -0.25, 0.1], 0.0)
    far = np.round(np.clip(far, 1.2, 4.0), 1)
    up = far + rng.integers(2, 9, m) / 10.0
    up = np.where(rng.random(m) < 0.5, np.round(up, 1), np.nan)

    # availability year
    years = np.arange(2014, 2021)
    py = np.array([0.05, 0.17, 0.22, 0.22, 0.17, 0.11, 0.06])
    year = years[np.minimum(np.searchsorted(np.cumsum(py), rng.random(m)), len(years) - 1)]
    later = (zone == 3) & (rng.random(m) < 0.25)
    year = np.where(later, np.minimum(year + 1, 2020), year)

    # status
    ps = np.cumsum([0.70, 0.15, 0.05, 0.10])
    st = np.minimum(np.searchsorted(ps, rng.random(m)), 3)
    st = np.where(is_depot, 0, st)

    names = geo.district_names
    dname = np.array([n for (n, _, _, _) in names], dtype=object)[d]
    dcode = np.array([c for (_, _, c, _) in names], dtype=object)[d]
    df = pd.DataFrame({
        "d": d, "dname": dname, "dcode": dcode, "year": year, "cx": cx, "cy": cy,
    })
    # planning units (3 km cells) -> letters, serials
    unit = 3000.0 * max(1.0, L / 2.0)
    df["ux"] = np.floor(cx / unit).astype(np.int64)
    df["uy"] = -np.floor(cy / unit).astype(np.int64)
    df = df.sort_values(["d", "uy", "ux", "cy", "cx"], ascending=[True, True, True, False, True],
                        kind="stable")
    ukey = df["uy"].to_numpy() * 1_000_003 + df["ux"].to_numpy()
    first = np.r_[True, (df["d"].to_numpy()[1:] != df["d"].to_numpy()[:-1])
                  | (ukey[1:] != ukey[:-1])]
    newd = np.r_[True, df["d"].to_numpy()[1:] != df["d"].to_numpy()[:-1]]
    cnt = np.cumsum(first)
    start = np.maximum.accumulate(np.where(newd, cnt, 0))
    unit_rank = cnt - start
    labels = np.array([_letters(k) for k in range(int(unit_rank.max()) + 1)], dtype=object)
    df["letter"] = labels[unit_rank]
    df["userial"] = df.groupby(["d", "letter"], sort=False).cumcount() + 1
    w3 = max(3, len(str(int(df["userial"].max()))))
    df["name"] = (df["dname"].astype(str) + df["letter"].astype(str) + "-"
                  + df["userial"].astype(str).str.zfill(w3) + "地块")
    df = df.sort_values(["d", "year", "cy", "cx"], ascending=[True, True, False, True], kind="stable")
    df["serial"] = df.groupby(["d", "year"], sort=False).cumcount() + 1
    w4 = max(4, len(str(int(df["serial"].max()))))
    df["parcel_id"] = (df["dcode"].astype(str) + "-" + df["year"].astype(str) + "-"
                       + df["serial"].astype(str).str.zfill(w4))
    df = df.sort_index()

    ring = np.concatenate([quads, quads[:, :1]], axis=1)
    out = gpd.GeoDataFrame(
        {
            "parcel_id": df["parcel_id"].to_numpy().astype(str),
            "name": df["name"].to_numpy().astype(str),
            "district": dname.astype(str),
            "land_use": np.array(LAND_USES, dtype=object)[lu].astype(str),
            "far_max": far.astype(np.float64),
            "far_upper": up.astype(np.float64),
            "available_year": year.astype(np.int64),
            "status": np.array(STATUSES, dtype=object)[st].astype(str),
            "metro_depot": is_depot.astype(bool),
        },
        geometry=shapely.polygons(ring), crs=CRS,
    )
    out = out.sort_values("parcel_id", kind="stable").reset_index(drop=True)
    return out


def _services(
    rng: np.random.Generator, n: int, pop: np.ndarray, transform: affine.Affine,
    land: shapely.Geometry, res: float,
) -> gpd.GeoDataFrame:
    flat = np.where(pop > 0, pop, 0.0).astype(np.float64).ravel()
    cats, xs, ys, names = [], [], [], []
    for cat in SERVICE_CATEGORIES:
        share, gamma = _SERVICE_MIX[cat]
        k = int(round(n * share))
        w = flat**gamma
        w /= w.sum()
        idx = rng.choice(len(flat), size=k, p=w)
        row, col = np.divmod(idx, pop.shape[1])
        x = transform.c + (col + rng.random(k)) * res
        y = transform.f - (row + rng.random(k)) * res
        ok = shapely.contains_xy(land, x, y)
        x, y = x[ok], y[ok]
        suffix = np.array(_SERVICE_SUFFIX[cat])[rng.integers(0, len(_SERVICE_SUFFIX[cat]), len(x))]
        nm = np.char.add(_place_names(rng, len(x)), suffix)
        cats.append(np.full(len(x), cat, dtype=object))
        xs.append(x)
        ys.append(y)
        names.append(nm.astype(object))
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    cat = np.concatenate(cats)
    nm = np.concatenate(names)
    cat_idx = np.concatenate([np.full(len(v), k) for k, v in enumerate(xs)])
    order = np.lexsort((x, -y, cat_idx))
    return gpd.GeoDataFrame(
        {"category": cat[order].astype(str), "name": nm[order].astype(str)},
        geometry=shapely.points(x[order], y[order]), crs=CRS,
    )


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def write_city(city: City, folder: str | Path) -> dict[str, Path]:
    """Write every layer of ``city`` into ``folder``.

    Each vector layer goes to ``<folder>/<layer>.gpkg`` (one GeoPackage per
    layer, the layer named like the file stem), written with pyogrio; the
    population raster goes to ``<folder>/population.tif`` (float32, LZW,
    nodata -1).  Existing files are replaced.  The GeoPackage timestamp is
    pinned so that equal cities give byte-identical files.

    Parameters
    ----------
    city : City
        The city to write.
    folder : str or pathlib.Path
        Output folder; created if missing.

    Returns
    -------
    dict of str to pathlib.Path
        Layer name (and ``"population"``) to the written file.
    """
    import pyogrio
    import rasterio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2016-01-01T00:00:00.000Z"})
    try:
        for name, gdf in city.layers().items():
            path = folder / f"{name}.gpkg"
            if path.exists():
                path.unlink()
            gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
            paths[name] = path
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})
    path = folder / "population.tif"
    if path.exists():
        path.unlink()
    pop = city.population
    with rasterio.open(
        path, "w", driver="GTiff", height=pop.shape[0], width=pop.shape[1], count=1,
        dtype="float32", crs=city.crs, transform=city.transform, nodata=-1.0,
        compress="lzw", predictor=3, tiled=True, blockxsize=256, blockysize=256,
    ) as dst:
        dst.write(pop.astype(np.float32), 1)
        dst.update_tags(1, units="persons per km2")
    paths["population"] = path
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line entry point.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``), e.g.
        ``["--out", "layers", "--seed", "2016", "--parcels", "3000"]``.

    Returns
    -------
    int
        Exit status (0 on success).
    """
    ap = argparse.ArgumentParser(
        prog="python -m siteplan.synth",
        description="Generate the fictional demo city (示范市) used by siteplan.",
    )
    ap.add_argument("--out", default="layers", help="output folder (default: layers)")
    ap.add_argument("--seed", type=int, default=2016, help="random seed (default: 2016)")
    ap.add_argument("--parcels", type=int, default=3000, help="number of candidate parcels")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    city = make_city(seed=args.seed, n_parcels=args.parcels)
    t1 = time.perf_counter()
    paths = write_city(city, args.out)
    t2 = time.perf_counter()
    for name, gdf in city.layers().items():
        print(f"{name:12s} {len(gdf):8d} rows  -> {paths[name]}")
    print(f"{'population':12s} {city.population.shape[0]}x{city.population.shape[1]} cells -> "
          f"{paths['population']}")
    print(f"generated in {t1 - t0:.1f} s, written in {t2 - t1:.1f} s")
    return 0

