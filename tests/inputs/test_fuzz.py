"""Property-based fuzzing: no input to the scenario loader or the layer reader gives a traceback.

Whatever the input, the only exceptions that may escape are
:class:`siteplan.errors.SiteplanError` subclasses, whose messages the
command line prints as they are; and siteplan's last-resort "unexpected
problem" message must never be needed.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from siteplan.errors import SiteplanError
from siteplan.inputs.layers import LayerCheckError, read_layers
from siteplan.inputs.scenario import load_scenario, parse_scenario
from tests.badinputs import mini_city_copy, set_layer_path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo-2016-2020.toml"
DEMO_TEXT = DEMO.read_text(encoding="utf-8")
DEMO_DICT = tomllib.loads(DEMO_TEXT)

# SITEPLAN_FUZZ_EXAMPLES=500 fuzzes deeper than the quick default.
FUZZ = settings(max_examples=int(os.environ.get("SITEPLAN_FUZZ_EXAMPLES", "30")), deadline=None, suppress_health_check=list(HealthCheck))

scalars = (
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12) | st.sampled_from(["", "EPSG:4549", "public_rental", "东区", "../x", "\x00", "GBK", "-1"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _paths(d, prefix=()):
    yield prefix
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield from _paths(v, (*prefix, i))


DEMO_PATHS = [p for p in _paths(DEMO_DICT) if p]


@st.composite
def mutated_scenarios(draw):
    """The demo scenario with a few keys replaced, deleted or added."""
    d = copy.deepcopy(DEMO_DICT)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(DEMO_PATHS))
        parent = d
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return d


@FUZZ
@given(mutated_scenarios())
def test_scenario_loader_gives_only_validation_messages(tmp_path_factory, data):
    base = tmp_path_factory.mktemp("fuzz-scenario") / "scenarios"
    try:
        parse_scenario(data, base_dir=base, where="fuzz.toml")
    except SiteplanError as err:
        assert str(err).strip()


@FUZZ
@given(st.data())
def test_scenario_files_give_only_validation_messages(tmp_path_factory, data):
    """Random bytes, and the demo's text with random edits, as scenario files."""
    if data.draw(st.booleans()):
        raw = data.draw(st.binary(max_size=300))
    else:
        text = DEMO_TEXT
        for _ in range(data.draw(st.integers(1, 5))):
            at = data.draw(st.integers(0, len(text)))
            cut = data.draw(st.integers(0, 40))
            text = text[:at] + data.draw(st.text(max_size=8)) + text[at + cut:]
        raw = text.encode("utf-8", "surrogatepass")
    path = tmp_path_factory.mktemp("fuzz-file") / "s.toml"
    path.write_bytes(raw)
    try:
        load_scenario(path)
    except SiteplanError as err:
        assert str(err).strip()


# -- the layer reader -------------------------------------------------------------

X0, Y0 = 500_000.0, 3_990_000.0
coord = st.floats(-100, 2400, allow_nan=False)


@st.composite
def geometries(draw):
    kind = draw(st.sampled_from(["box"] * 12 + ["bowtie", "point", "line", "empty", "none", "multi", "z", "holeshell", "nan", "far", "flat"]))
    x, y = draw(coord), draw(coord)
    w, h = draw(st.floats(30, 300)), draw(st.floats(30, 300))
    if kind == "none":
        return None
    if kind == "flat":
        return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y)
    if kind == "far":
        return shapely.box(*draw(st.sampled_from([(1e12, 0, 1e12 + 5, 5), (-1e9, Y0, -1e9 + 50, Y0 + 50)])))
    if kind == "nan":
        return shapely.Point(float("nan"), float("nan"))
    if kind == "empty":
        return shapely.Polygon()
    if kind == "point":
        return shapely.Point(X0 + x, Y0 + y)
    if kind == "line":
        return shapely.LineString([(X0 + x, Y0 + y), (X0 + x + w, Y0 + y + h)])
    b = shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)
    if kind == "bowtie":
        return shapely.Polygon([(X0 + x, Y0 + y), (X0 + x + w, Y0 + y + h), (X0 + x + w, Y0 + y), (X0 + x, Y0 + y + h)])
    if kind == "multi":
        return shapely.MultiPolygon([b, shapely.affinity.translate(b, w + 10, 0)])
    if kind == "z":
        return shapely.force_3d(b, draw(st.floats(-100, 100)))
    if kind == "holeshell":
        return shapely.Polygon(b.exterior.coords, [list(b.exterior.coords)[::-1]])
    return b


cell = (
    st.none() | st.integers(-5, 30000) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6)
    | st.sampled_from(["东城区", "西城区", "2.5", "２．５", "2017年", "是", "否", "reserve", "P1", "", " "])
)
REQUIRED = ["parcel_id", "district", "far_max", "available_year"]
OPTIONAL = ["status", "name", "far_upper", "metro_depot", "land_use", "DKBH", "RJL"]
PLAUSIBLE = {
    "parcel_id": st.sampled_from(["P1", "P2", "P3", "P4"]) | st.integers(1, 4),
    "district": st.sampled_from(["东城区", "西城区", " 西城区 "]),
    "far_max": st.floats(0.5, 5) | st.sampled_from(["2.5", "２．５", 3]),
    "available_year": st.integers(2014, 2019) | st.sampled_from(["2017年", "2016-05-01", 2016.0]),
    "status": st.sampled_from(["reserve", "commercial", None]),
    "metro_depot": st.sampled_from([True, False, "是", "否", 1, 0, None]),
    "far_upper": st.floats(0.5, 6) | st.none(),
}


@st.composite
def parcel_tables(draw):
    """Mostly plausible parcel tables with some junk: deep enough to reach every check."""
    n = draw(st.integers(1, 6) | st.just(0))
    cols = [c for c in REQUIRED if draw(st.integers(0, 9)) > 0]
    cols += draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=4))
    junk = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))  # share of junk cells; half the tables are clean
    rows = []
    for i in range(n):
        row = {}
        for c in cols:
            if draw(st.floats(0, 1)) < junk:
                row[c] = draw(cell)
            elif c == "parcel_id" and junk == 0.0:
                row[c] = f"P{i}"
            else:
                row[c] = draw(PLAUSIBLE.get(c, cell))
        rows.append(row)
    geoms = [draw(geometries()) for _ in range(n)]
    return rows, geoms


def _write_geojson(path: Path, rows, geoms, crs: str) -> None:
    feats = []
    for props, g in zip(rows, geoms):
        geom = json.loads(shapely.to_geojson(g)) if g is not None else None
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": crs}}, "features": feats}
    path.write_text(json.dumps(doc, ensure_ascii=False, allow_nan=True), encoding="utf-8")


def _assert_only_validation_messages(scenario_path: Path) -> None:
    try:
        read_layers(load_scenario(scenario_path))
    except LayerCheckError as err:
        for d in err.problems:
            assert "unexpected problem" not in d.message, d.message
    except SiteplanError as err:
        assert str(err).strip()


@pytest.fixture(scope="module")
def fuzz_city(tmp_path_factory) -> Path:
    """The mini city without its optional layers, so that each example reads fast."""
    scen = mini_city_copy(tmp_path_factory.mktemp("fuzz-layers") / "city", tmp_path_factory.getbasetemp())
    lines = scen.read_text(encoding="utf-8").splitlines()
    keep = [ln for ln in lines if not ln.startswith(("services =", "parks =", "population ="))]
    scen.write_text("\n".join(keep) + "\n", encoding="utf-8")
    return scen


@FUZZ
@given(table=parcel_tables(), crs=st.sampled_from(["EPSG:4549", "EPSG:4549", "EPSG:4549", "EPSG:4326", "EPSG:4528", "EPSG:3857"]))
def test_layer_reader_on_random_geojson(fuzz_city, table, crs):
    """Random attribute tables (mixed types in a column) and geometries, as GeoJSON."""
    rows, geoms = table
    path = fuzz_city.parent / "parcels.geojson"
    _write_geojson(path, rows, geoms, f"urn:ogc:def:crs:{crs.replace(':', '::')}")
    set_layer_path(fuzz_city, "parcels", "parcels.geojson")
    _assert_only_validation_messages(fuzz_city)


@FUZZ
@given(table=parcel_tables(), driver=st.sampled_from(["GPKG", "ESRI Shapefile"]), encoding=st.sampled_from([None, "GBK"]))
def test_layer_reader_on_random_typed_files(fuzz_city, table, driver, encoding):
    """Random typed tables and geometries, as GeoPackage or (GBK) shapefile."""
    rows, geoms = table
    assume(rows)
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4549")
    for col in frame.columns.drop("geometry"):
        frame[col] = [None if v is None else str(v) for v in frame[col]]
    suffix = ".gpkg" if driver == "GPKG" else ".shp"
    name = f"fuzz{suffix}"
    target = fuzz_city.parent / name
    for old in fuzz_city.parent.glob("fuzz.*"):
        old.unlink()
    try:
        frame.to_file(target, driver=driver, engine="pyogrio", **({"encoding": encoding} if driver != "GPKG" and encoding else {}))
    except Exception:  # noqa: BLE001 - some random tables cannot be written at all; not the reader's concern
        assume(False)
    set_layer_path(fuzz_city, "parcels", name)
    _assert_only_validation_messages(fuzz_city)
