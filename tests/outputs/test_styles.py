"""Tests for siteplan.outputs.styles: the map's GeoJSON, made at once, is what folium makes of a layer."""

from __future__ import annotations

import json
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from siteplan.inputs import load_scenario, read_layers
from siteplan.outputs.styles import display_frame, geo_json, geojson_data

ROOT = Path(__file__).resolve().parents[2]


def _folium_data(gdf: gpd.GeoDataFrame) -> dict:
    """What folium.GeoJson embeds for a GeoDataFrame, by folium's own reading of it."""
    return folium.GeoJson(gdf).data


def _messy_layer(crs: str = "EPSG:4547") -> gpd.GeoDataFrame:
    """Parcels as a bureau's layer comes: Chinese text, codes as text, missing values, a multipart parcel,
    a line and a point among them, an empty geometry and a missing one, and an index that is not 0..n."""
    x0, y0 = 500_000.0, 4_000_000.0
    geoms = [
        box(x0, y0, x0 + 120.3, y0 + 80.7),
        MultiPolygon([box(x0 + 300, y0, x0 + 350, y0 + 40), box(x0 + 360, y0, x0 + 400.25, y0 + 45)]),
        Polygon([(x0 + 500, y0), (x0 + 560, y0), (x0 + 530, y0 + 70.123456)], [[(x0 + 520, y0 + 10), (x0 + 540, y0 + 10), (x0 + 530, y0 + 30)]]),
        LineString([(x0, y0 + 200), (x0 + 800, y0 + 230.5)]),
        Point(x0 + 50.5, y0 + 400.25),
        Polygon(),
        None,
    ]
    return gpd.GeoDataFrame({
        "地块编号": ["DT-01", "DT-02", "DT-03", "L1", "P1", "空", "无"],
        "name": ["洞头区 <北岙> 地块", None, "A&B", "1号线", "学校", "x", "y"],
        "far_max": [2.8, np.nan, 3.57, 1.0, 0.0, 2.0, 1.5],
        "units": np.array([120, 0, 35, 0, 0, 1, 2], dtype="int64"),
        "open": [True, False, True, False, True, False, True],
        "code": pd.array([1, None, 3, 4, 5, 6, 7], dtype="Int64"),
    }, geometry=geoms, crs=crs, index=[10, 11, 12, 20, 30, 40, 41])


@pytest.mark.parametrize("crs", ["EPSG:4547", "EPSG:4326"])
def test_geojson_data_is_what_folium_makes_of_the_layer(crs):
    layer = _messy_layer()
    if crs == "EPSG:4326":
        layer = layer.to_crs(crs)
    shown = display_frame(layer)
    made = geojson_data(shown)
    assert made == _folium_data(shown)
    # the same text in the page: key order and every number as folium writes them
    assert json.dumps(made, sort_keys=False) == json.dumps(_folium_data(shown), sort_keys=False)
    # a layer not in WGS84 is reprojected, as folium does
    assert geojson_data(layer) == _folium_data(layer)


def test_geojson_data_of_a_layer_with_no_other_column_and_of_the_demo_parcels():
    only = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), Point(3, 4)], crs="EPSG:4326")
    assert geojson_data(only) == _folium_data(only)
    layers = read_layers(load_scenario(ROOT / "scenarios" / "demo-2016-2020.toml"))
    parcels = display_frame(layers.parcels, simplify_m=2.0)
    assert geojson_data(parcels) == _folium_data(parcels)


def test_geo_json_embeds_the_layer_with_its_tooltip_fields():
    shown = display_frame(_messy_layer())
    layer = geo_json(shown, tooltip=folium.GeoJsonTooltip(["地块编号", "name"]))
    m = folium.Map(location=[36.1, 121.1], tiles=None)
    layer.add_to(m)
    page = m.get_root().render()  # the tooltip checks its fields against the layer's properties here
    assert "DT-01" in page and layer.get_name() in page
    assert layer.data == _folium_data(shown)
