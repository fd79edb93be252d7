"""GCJ-02 ("Mars coordinates"): the conversion both ways against published points, and on geometries."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from siteplan.inputs.gcj02 import gcj02_to_wgs84, geometry_to_gcj02, out_of_china, wgs84_to_gcj02

# Published reference points of the eviltransform project (wgs lat, lng, gcj lat, lng).
GCJ_REFERENCE = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), GCJ_REFERENCE)
def test_wgs84_to_gcj02_matches_published_points(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert float(lon) == pytest.approx(glon, abs=1e-9) and float(lat) == pytest.approx(glat, abs=1e-9)
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    assert float(back_lon) == pytest.approx(wlon, abs=1e-8) and float(back_lat) == pytest.approx(wlat, abs=1e-8)


def test_gcj02_offset_size_and_outside_china():
    # Inside China the shift is a few hundred metres; outside it is zero.
    lon, lat = wgs84_to_gcj02(120.0, 36.0)
    shift_m = np.hypot((lon - 120.0) * 111_320 * np.cos(np.radians(36)), (lat - 36.0) * 110_574)
    assert 100 < shift_m < 1000
    assert out_of_china(2.35, 48.85) and not out_of_china(120.0, 36.0)
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    rng = np.random.default_rng(1)
    lons, lats = rng.uniform(100, 125, 200), rng.uniform(20, 45, 200)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lons, lats))
    assert np.abs(back[0] - lons).max() < 1e-8 and np.abs(back[1] - lats).max() < 1e-8


def test_geometry_shift_moves_every_vertex():
    poly = shapely.box(120.0, 36.0, 120.01, 36.01)
    [moved] = geometry_to_gcj02([poly])
    expected = np.column_stack(wgs84_to_gcj02(*np.asarray(poly.exterior.coords).T))
    assert np.allclose(np.asarray(moved.exterior.coords), expected)


