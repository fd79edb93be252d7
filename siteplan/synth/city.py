"""Demo-city assembly: the City layers, make_city, write_city and the command line.

:func:`_generate` seeds one random stream per stage and runs them in a fixed
order: geography, urban field, population, metro, parks, constraints,
districts, street grids and blocks, parcels, services.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
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

from .attributes import _parcel_attributes, _select_parcels, _services, _unique_station_names
from .blocks import _block_pool, _Field, _make_grid
from .geography import (
    _BAY_CENTRE,
    _BOX,
    _CORE,
    _HILL,
    _LINES,
    _ORIGIN,
    _PARKS,
    _chaikin,
    _geography,
    _largest_part,
    _meander,
    _periodic,
    _star,
)
from .schema import CRS, LAYERS, ZONES

_UNIT_FLOOR_AREA = 55.0  # m2 per dwelling, used only for the scale heuristics
_DEMO_BLOCKS = 10_000  # built-up blocks in the demo-size city


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
# size
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


def existing_files(folder: str | Path) -> list[Path]:
    """The files :func:`write_city` would replace in ``folder``: its layers and population raster already there."""
    folder = Path(folder)
    return [p for p in (*(folder / f"{name}.gpkg" for name in LAYERS), folder / "population.tif") if p.exists()]


def refusal(folder: str | Path, found: list[Path]) -> str:
    """Why a command line will not write a city into ``folder`` holding ``found``, and the fix."""
    names = ", ".join(p.name for p in found)
    return (f"{folder} already holds a city's layers ({names}); they would be overwritten. "
            "Choose another folder with --out, or add --force to overwrite them")


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
        Exit status: 0 on success, 2 when ``--out`` already holds layers
        and ``--force`` is not given.
    """
    ap = argparse.ArgumentParser(
        prog="python -m siteplan.synth",
        description="Generate the fictional demo city (示范市) used by siteplan.",
    )
    ap.add_argument("--out", default="layers", help="output folder (default: layers)")
    ap.add_argument("--seed", type=int, default=2016, help="random seed (default: 2016)")
    ap.add_argument("--parcels", type=int, default=3000, help="number of candidate parcels")
    ap.add_argument("--force", action="store_true", help="overwrite layers already in the output folder")
    args = ap.parse_args(argv)
    found = existing_files(args.out)
    if found and not args.force:
        print(f"error: {refusal(args.out, found)}", file=sys.stderr)
        return 2
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
