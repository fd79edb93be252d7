"""Parcel selection and attributes, place and station names, and public services.

Chooses the candidate parcels among the built-up blocks, gives them land
uses, plot ratios, years, statuses, ids and names, and scatters the public
services over the population raster.
"""

from __future__ import annotations

from collections.abc import Callable

import affine
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .blocks import _MAX_AREA, _MIN_AREA, _Grid, _Pool, _quad_area, _subquad
from .geography import _Geo
from .schema import CRS, LAND_USES, SERVICE_CATEGORIES, STATUSES

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


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------


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
# parcels and services
# ---------------------------------------------------------------------------


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
