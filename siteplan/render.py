"""The interactive map of a plan (Folium / Leaflet).

:func:`render_map` draws the used parcels coloured by their main housing
type, one layer per supply year, over districts, metro lines and stations,
industrial parks and the unused candidate parcels, with a legend and a
panel of targets against placed units. Every text that comes from a layer
or the scenario is HTML-escaped before it reaches the page.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
from folium.plugins import Fullscreen, MeasureControl

from .layers import Layers
from .result import Plan
from .scenario import Scenario

__all__ = ["TYPE_COLOURS", "render_map", "build_map"]

log = logging.getLogger(__name__)

#: Colour of each housing type on the map (colour-blind-safe where possible).
TYPE_COLOURS: dict[str, str] = {
    "public_rental": "#0072B2",
    "low_rent": "#56B4E9",
    "economy": "#009E73",
    "price_capped": "#E69F00",
    "talent_apartment": "#CC79A7",
    "resettlement": "#D55E00",
}
_FALLBACK = ["#999933", "#882255", "#44AA99", "#332288"]
_ZONE_FILLS = ["#f2efe9", "#e8eef4", "#eef4e8", "#f4ece8", "#efe8f4", "#f4f4e8"]
_LINE_COLOURS = ["#d7191c", "#2c7bb6", "#1a9641", "#fdae61", "#7b3294", "#008080", "#8c510a"]

_TEXT = {
    "zh": {
        "districts": "行政区", "lines": "地铁线路", "stations": "地铁站点", "parks": "产业园区",
        "candidates": "候选地块（未选用）", "year": "{y}年供地", "legend": "住房类型",
        "panel": "目标与落实（套）", "target": "目标", "placed": "落实", "type": "类型",
        "parcel": "地块编号", "name": "名称", "district": "行政区", "zone": "片区", "units": "套数",
        "floor": "建筑面积（m²）", "net": "净用地（公顷）", "gross": "毛用地（公顷）", "far": "容积率",
        "open": "开通年份", "line": "线路", "workers": "就业人数", "supply": "供地年份",
    },
    "en": {
        "districts": "Districts", "lines": "Metro lines", "stations": "Metro stations", "parks": "Industrial parks",
        "candidates": "Candidate parcels (unused)", "year": "Supplied {y}", "legend": "Housing type",
        "panel": "Targets and placed units", "target": "Target", "placed": "Placed", "type": "Type",
        "parcel": "Parcel", "name": "Name", "district": "District", "zone": "Zone", "units": "Units",
        "floor": "Floor area (m²)", "net": "Net land (ha)", "gross": "Gross land (ha)", "far": "Plot ratio",
        "open": "Opens", "line": "Line", "workers": "Workers", "supply": "Supply year",
    },
}


def _colours(types: list[str]) -> dict[str, str]:
    out, k = {}, 0
    for t in types:
        if t in TYPE_COLOURS:
            out[t] = TYPE_COLOURS[t]
        else:
            out[t] = _FALLBACK[k % len(_FALLBACK)]
            k += 1
    return out


def _escaped(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Copy with every text column HTML-escaped and geometry in WGS84."""
    out = gdf.to_crs("EPSG:4326")
    for col in out.columns:
        if col != out.geometry.name and (out[col].dtype == object or pd.api.types.is_string_dtype(out[col])):
            out[col] = out[col].astype(str).map(html.escape)
    return out


def _table_html(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table class='sp-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def build_map(plan: Plan, layers: Layers, scenario: Scenario, *, lang: str = "zh", tiles: str | None = None) -> folium.Map:
    """Build the Folium map of a plan (see :func:`render_map`)."""
    tx = _TEXT["en" if lang == "en" else "zh"]
    types = list(plan.problem.types)
    colours = _colours(types)
    labels = {t: scenario.type_label(t, lang) for t in types}

    districts = _escaped(layers.districts[["district", "zone", "geometry"]])
    bounds = districts.total_bounds
    m = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        zoom_start=11,
        tiles=tiles,
        control_scale=True,
        prefer_canvas=True,
    )
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    zones = sorted(districts["zone"].unique())
    zone_fill = {z: _ZONE_FILLS[k % len(_ZONE_FILLS)] for k, z in enumerate(zones)}
    folium.GeoJson(
        districts,
        name=tx["districts"],
        style_function=lambda f: {"fillColor": zone_fill.get(f["properties"]["zone"], "#eee"), "color": "#777", "weight": 1.2, "fillOpacity": 0.6},
        tooltip=folium.GeoJsonTooltip(["district", "zone"], aliases=[tx["district"], tx["zone"]]),
    ).add_to(m)

    if len(layers.parks):
        parks = _escaped(layers.parks[["park", "workers", "geometry"]])
        folium.GeoJson(
            parks,
            name=tx["parks"],
            style_function=lambda f: {"fillColor": "#8e7cc3", "color": "#5b4a91", "weight": 1, "fillOpacity": 0.35, "dashArray": "4 3"},
            tooltip=folium.GeoJsonTooltip(["park", "workers"], aliases=[tx["parks"], tx["workers"]]),
        ).add_to(m)

    used_ids = set(plan.units["parcel_id"])
    cand = plan.problem.parcels
    unused = cand.loc[~cand["parcel_id"].isin(used_ids), ["parcel_id", "name", "far_max", "available_year", "geometry"]]
    if len(unused):
        unused = gpd.GeoDataFrame(unused, geometry="geometry", crs=cand.crs)
        unused["geometry"] = unused.geometry.simplify(2.0)
        folium.GeoJson(
            _escaped(unused),
            name=tx["candidates"],
            show=False,
            style_function=lambda f: {"fillColor": "#bbbbbb", "color": "#999999", "weight": 0.5, "fillOpacity": 0.4},
            tooltip=folium.GeoJsonTooltip(["parcel_id", "name", "far_max"], aliases=[tx["parcel"], tx["name"], tx["far"]]),
        ).add_to(m)

    if len(layers.lines):
        lines = _escaped(layers.lines[["line", "open_year", "geometry"]])
        line_colour = {n: _LINE_COLOURS[k % len(_LINE_COLOURS)] for k, n in enumerate(sorted(lines["line"].unique()))}
        folium.GeoJson(
            lines,
            name=tx["lines"],
            style_function=lambda f: {"color": line_colour.get(f["properties"]["line"], "#333"), "weight": 4, "opacity": 0.85},
            tooltip=folium.GeoJsonTooltip(["line", "open_year"], aliases=[tx["line"], tx["open"]]),
        ).add_to(m)
    if len(layers.stations):
        stations = _escaped(layers.stations[["station", "line", "open_year", "geometry"]])
        folium.GeoJson(
            stations,
            name=tx["stations"],
            marker=folium.CircleMarker(radius=4, color="#222", weight=1.5, fill=True, fill_color="#fff", fill_opacity=1),
            tooltip=folium.GeoJsonTooltip(["station", "line", "open_year"], aliases=[tx["stations"], tx["line"], tx["open"]]),
        ).add_to(m)

    alloc = plan.to_geodataframe(net_to_gross=scenario.plan.net_to_gross)
    unit_cols = [f"units_{t}" for t in types]
    alloc = alloc.round({"floor_area_m2": 0, "net_land_ha": 2, "gross_land_ha": 2})
    alloc["main_label"] = alloc["main_type"].map(labels)
    fields = ["parcel_id", "name", "district", "year", "main_label", "units", *unit_cols, "floor_area_m2", "net_land_ha", "gross_land_ha", "far_max"]
    aliases = [tx["parcel"], tx["name"], tx["district"], tx["supply"], tx["type"], tx["units"], *[labels[t] for t in types], tx["floor"], tx["net"], tx["gross"], tx["far"]]
    for year in plan.problem.years:
        part = alloc.loc[alloc["year"] == year]
        if not len(part):
            continue
        fg = folium.FeatureGroup(name=tx["year"].format(y=year), show=True)
        folium.GeoJson(
            _escaped(part[[*fields, "main_type", "geometry"]]),
            style_function=lambda f: {"fillColor": colours.get(f["properties"]["main_type"], "#444"), "color": "#222", "weight": 1, "fillOpacity": 0.85},
            highlight_function=lambda f: {"weight": 3, "color": "#000"},
            tooltip=folium.GeoJsonTooltip(["parcel_id", "main_label", "units"], aliases=[tx["parcel"], tx["type"], tx["units"]]),
            popup=folium.GeoJsonPopup(fields, aliases=aliases, localize=True),
        ).add_to(fg)
        fg.add_to(m)

    legend_rows = "".join(
        f"<div><span class='sp-swatch' style='background:{colours[t]}'></span>{html.escape(labels[t])}</div>" for t in types
    )
    summary = plan.summary()
    pivot = summary.pivot_table(index="year", columns="type", values=["target", "placed"], aggfunc="sum")
    rows = [
        [str(y)] + [f"{int(pivot.loc[y, ('placed', t)]):,} / {int(pivot.loc[y, ('target', t)]):,}" for t in types]
        for y in pivot.index
    ]
    panel = _table_html(rows, [""] + [labels[t] for t in types])
    title = html.escape(scenario.plan.title or scenario.plan.name)
    overlay = f"""
<style>
.sp-box {{position:absolute; z-index:9999; background:rgba(255,255,255,0.93); padding:6px 9px; border:1px solid #999;
  border-radius:4px; font:12px/1.35 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif;}}
.sp-swatch {{display:inline-block; width:12px; height:12px; margin-right:6px; vertical-align:middle; border:1px solid #333;}}
.sp-table td, .sp-table th {{padding:1px 5px; text-align:right;}}
.sp-table td:first-child {{text-align:left;}}
</style>
<div class="sp-box" id="sp-title" style="top:10px; left:55px; font-size:14px; font-weight:bold;">{title}</div>
<div class="sp-box" id="sp-legend" style="bottom:30px; left:10px;"><b>{html.escape(tx['legend'])}</b>{legend_rows}</div>
<div class="sp-box" id="sp-panel" style="bottom:30px; right:10px; max-width:60%;"><b>{html.escape(tx['panel'])}</b>{panel}</div>
"""
    m.get_root().html.add_child(folium.Element(overlay))
    Fullscreen().add_to(m)
    MeasureControl(primary_length_unit="meters", primary_area_unit="hectares").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def render_map(plan: Plan, layers: Layers, scenario: Scenario, path: str | Path, *, lang: str = "zh", tiles: str | None = None) -> Path:
    """Write ``map.html`` for a plan.

    Parameters
    ----------
    plan, layers, scenario
        The solved plan and what it was built from.
    path
        Where to write the HTML file.
    lang
        ``"zh"`` (default) or ``"en"`` for labels.
    tiles
        A Folium tile name (e.g. ``"OpenStreetMap"``) for a basemap, or
        ``None`` (default) for none: districts stand in as context, and the
        map needs no tile server.
    """
    path = Path(path)
    build_map(plan, layers, scenario, lang=lang, tiles=tiles).save(str(path))
    log.info("Wrote the map to %s", path)
    return path
