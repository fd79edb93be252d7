"""Colours and display preparation shared by the map, the comparison, the exports and the report.

- :data:`TYPE_COLOURS` and :func:`type_colours`: the colour of each housing
  type (Okabe-Ito, colour-blind-safe, with fallbacks for other types);
- :data:`ZONE_FILLS`, :data:`LINE_COLOURS`, :data:`SERVICE_COLOURS`: the
  fills of zones, the colours of metro lines and of service categories;
- :func:`frequency_colours`: the ramp of the selection-frequency layer;
- :func:`parcel_role` and :func:`parcel_style`: how a used parcel is drawn,
  new land (保障性住房新增用地) as a solid fill in its type's colour, a
  commercial project carrying an inclusionary share (配建) as a thick
  outline in that colour over a faint fill, so that a 配建 host's whole
  area never reads as affordable land;
- :data:`KEEP_DEFAULTS`: the folium default scripts and stylesheets a map
  keeps (Leaflet only);
- :func:`display_frame`: a layer made ready for a web page, its text
  HTML-escaped (:func:`esc`) and its geometry in WGS84 (or GCJ-02), rounded.

:mod:`siteplan.outputs.webmap`, :mod:`siteplan.outputs.compare`,
:mod:`siteplan.outputs.export` (QGIS styles) and
:mod:`siteplan.outputs.report` (charts) read them, so that every output of a
run uses the same colours.
"""

from __future__ import annotations

import html
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..inputs.gcj02 import geometry_to_gcj02

__all__ = [
    "TYPE_COLOURS",
    "ZONE_FILLS",
    "LINE_COLOURS",
    "SERVICE_COLOURS",
    "KEEP_DEFAULTS",
    "esc",
    "type_colours",
    "display_frame",
    "geojson_data",
    "geo_json",
    "frequency_colours",
    "ROLE_FILL_OPACITY",
    "parcel_role",
    "parcel_style",
]

#: Colour of each housing type on the map (Okabe-Ito, colour-blind-safe).
TYPE_COLOURS: dict[str, str] = {
    "public_rental": "#0072B2",
    "low_rent": "#56B4E9",
    "economy": "#009E73",
    "price_capped": "#E69F00",
    "talent_apartment": "#CC79A7",
    "resettlement": "#D55E00",
}
_FALLBACK = ["#999933", "#882255", "#44AA99", "#332288", "#AA4499", "#117733"]
ZONE_FILLS = ["#f2efe9", "#e6eef6", "#ebf3e6", "#f6ebe6", "#eee8f6", "#f4f4e4"]
LINE_COLOURS = ["#d7191c", "#2c7bb6", "#1a9641", "#fdae61", "#7b3294", "#008080", "#8c510a"]
SERVICE_COLOURS = {
    "school": "#1f78b4", "clinic": "#e31a1c", "hospital": "#b2182b", "market": "#ff7f00",
    "park": "#33a02c", "culture": "#6a3d9a",
}
_CONTEXT_DECIMALS = 5  # about 1 m, for context layers
#: folium's default scripts and stylesheets that this map needs: Leaflet only.
#: (jQuery, Bootstrap, Font Awesome and awesome-markers serve folium's icon
#: markers, which this map does not use; leaving them out halves the file.)
KEEP_DEFAULTS = {"leaflet", "leaflet_css"}


def esc(value: object) -> str:
    """``value`` as text, HTML-escaped (quotes too)."""
    return html.escape(str(value), quote=True)


def type_colours(types: list[str]) -> dict[str, str]:
    """The colour of each of ``types``: :data:`TYPE_COLOURS`, else the next fallback colour."""
    out, k = {}, 0
    for t in types:
        if t in TYPE_COLOURS:
            out[t] = TYPE_COLOURS[t]
        else:
            out[t] = _FALLBACK[k % len(_FALLBACK)]
            k += 1
    return out


def display_frame(gdf: gpd.GeoDataFrame, *, gcj02: bool = False, simplify_m: float = 0.0,
                  decimals: int = _CONTEXT_DECIMALS) -> gpd.GeoDataFrame:
    """A copy for display: text HTML-escaped, geometry in WGS84 (or GCJ-02).

    Parameters
    ----------
    gdf
        A layer in a projected CRS (or WGS84).
    gcj02
        Shift the WGS84 geometry to GCJ-02 (for Gaode tiles only).
    simplify_m
        Simplify tolerance in the layer's own units (metres), 0 for none.
    decimals
        Decimals kept of each coordinate (5: about 1 m).

    Every text column is escaped with :func:`html.escape`, numbers and
    booleans are kept, missing values become ``None``.
    """
    out = gdf.copy()
    if simplify_m > 0 and out.crs is not None and out.crs.is_projected:
        out["geometry"] = out.geometry.simplify(simplify_m)
    out = out.to_crs("EPSG:4326")
    geoms = out.geometry.to_numpy()
    if gcj02:
        geoms = geometry_to_gcj02(geoms)
    geoms = shapely.transform(geoms, lambda c: np.round(c, decimals))
    out = gpd.GeoDataFrame(out.drop(columns=out.geometry.name), geometry=geoms, crs="EPSG:4326")
    for col in out.columns:
        if col == "geometry":
            continue
        s = out[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out[col] = s.astype(object).where(s.notna(), None)
        else:
            out[col] = s.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else esc(v))
    return out


def geojson_data(gdf: gpd.GeoDataFrame) -> dict:
    """The GeoJSON of a layer, as ``folium.GeoJson(gdf)`` would embed it, made at once.

    folium reads a GeoDataFrame through ``__geo_interface__``, a Python
    dict per feature and per coordinate, and then copies that through
    ``json.dumps`` and ``json.loads``. This gives the same dict (the
    features' ids, their properties with missing values as null, each
    feature's and the layer's bounding box, and the geometry in WGS84), with
    every geometry written by GEOS in one call (:func:`shapely.to_geojson`):
    the parcel layer of the demo takes 0.07 s instead of 0.3 s.
    ``tests/outputs/test_styles.py`` holds it to folium's own result.
    """
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")  # as folium does
    name = gdf.geometry.name
    geoms = gdf.geometry.to_numpy()
    shown = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))  # the others are a feature with no geometry
    written = shapely.to_geojson(np.where(shown, geoms, None))
    geometry = json.loads("[" + ",".join(w if k else "null" for w, k in zip(written, shown)) + "]")
    bbox = shapely.bounds(geoms).tolist()
    cols = gdf.columns.drop(name)
    if len(cols):
        values = gdf[cols].astype(object)  # Python scalars
        values[pd.isna(gdf[cols]).to_numpy()] = None
        properties = [dict(zip(cols, row)) for row in values.to_numpy()]
    else:
        properties = [{} for _ in range(len(gdf))]
    features = [{"id": str(i), "type": "Feature", "properties": p, "geometry": g, "bbox": b if k else None}
                for i, p, g, b, k in zip(np.asarray(gdf.index), properties, geometry, bbox, shown)]
    return {"type": "FeatureCollection", "features": features, "bbox": gdf.total_bounds.tolist()}


def geo_json(data: gpd.GeoDataFrame, **kwargs):
    """``folium.GeoJson`` of a layer (a :func:`display_frame`), its GeoJSON made by :func:`geojson_data`."""
    import folium

    return folium.GeoJson(geojson_data(data), **kwargs)


#: Colours of the selection-frequency layer, from one plan (light) to all plans (dark).
_FREQ_COLOURS = ("#fee391", "#fd8d3c", "#bd0026")


def frequency_colours(n_plans: int) -> dict[int, str]:
    """The colour of "used by ``n`` plans", for ``n`` = 1 .. ``n_plans``."""
    from branca.colormap import LinearColormap

    ramp = LinearColormap(list(_FREQ_COLOURS), vmin=1, vmax=max(n_plans, 2))
    return {n: (ramp.rgb_hex_str(n) if n_plans > 1 else _FREQ_COLOURS[-1]) for n in range(1, n_plans + 1)}


#: Fill opacity of a used parcel on the map, by role: solid for new land, faint for a 配建 host.
ROLE_FILL_OPACITY: dict[str, float] = {"new": 0.85, "inclusionary": 0.08}


def parcel_role(role: object) -> str:
    """``"inclusionary"`` for a parcel whose roles (comma-separated) are only 配建, else ``"new"``."""
    roles = {r.strip() for r in str(role or "").split(",") if r.strip()}
    return "inclusionary" if roles == {"inclusionary"} else "new"


def parcel_style(colour: str, role: object, *, class_name: str = "sp-parcel") -> dict:
    """The Leaflet path style of a used parcel of ``role`` in its type's ``colour``.

    New land: a solid fill, outlined in the same colour (so that a 1-ha
    parcel stays visible at city scale). A 配建 host: a thick outline in the
    colour over a faint fill (:data:`ROLE_FILL_OPACITY`). The path gets the
    classes ``class_name`` and ``sp-role-<role>``.
    """
    r = parcel_role(role)
    if r == "inclusionary":
        return {"fillColor": colour, "color": colour, "weight": 3.5, "opacity": 1.0,
                "fillOpacity": ROLE_FILL_OPACITY[r], "className": f"{class_name} sp-role-{r}"}
    return {"fillColor": colour, "color": colour, "weight": 2.5, "opacity": 0.95,
            "fillOpacity": ROLE_FILL_OPACITY[r], "className": f"{class_name} sp-role-{r}"}
