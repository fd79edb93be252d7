"""The interactive map of a plan: one self-contained ``map.html``.

:func:`render_map` draws, over the district and zone boundaries:

- the used parcels coloured by their main housing type, new land
  (保障性住房新增用地) as a solid fill and commercial projects carrying an
  inclusionary share (配建) as a thick outline with a faint fill
  (:func:`~siteplan.outputs.styles.parcel_style`), one layer per supply
  year, with a year filter (a slider: parcels supplied up to the chosen
  year, or in that year only), labels (id, units) from zoom 15 on, and
  popups with each parcel's numbers (as every file prints them,
  :mod:`siteplan.outputs.printed`) and the plot ratio it was built at;
- metro lines and stations, labelled with their opening year, and the
  stations' walking buffer (the transit rule's distance), both following
  the year filter (a station not yet open is grey and has no buffer);
- services by category, industrial parks, the locked-out areas of the
  ``constraints`` layer and the unused candidate parcels;
- a categorical legend (types, and how new land and 配建 are drawn), a
  panel of targets against placed units per year and type, the plan's
  title, a collapsed layer control, zoom, fullscreen and measure controls,
  a metric scale bar and a north arrow, all in the map's language, and
  buttons to show the plan's parcels (the opening view) or the whole city
  (:mod:`siteplan.outputs.mapcontrols`);
- a print layout (landscape A4 or A3: title, legend, scale, north arrow);
- with alternative plans, every parcel any of them uses, coloured by how
  many plans use it (a layer off at first, with its own legend rows).

The page makes no network request: :func:`siteplan.outputs.offline.make_offline`
inlines every script, stylesheet, font and icon, and refuses to write a map
that would still fetch anything. By default there are no tiles (district
boundaries stand in). Optional basemaps for online use
(:mod:`siteplan.outputs.tiles`) are OpenStreetMap, Tianditu (天地图, needs a
user key) and Gaode/AMap; Gaode's tiles are in the GCJ-02 datum, so over them
every *displayed* geometry is shifted to GCJ-02 (:mod:`siteplan.inputs.gcj02`);
exports never are. Colours and :func:`~siteplan.outputs.styles.display_frame`
come from :mod:`siteplan.outputs.styles`.

Every text that comes from a layer or the scenario is HTML-escaped before it
reaches the page, whether in a popup, a tooltip, the layer control, the
legend, the panel or the title.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
import shapely

from ..inputs.layers import Layers
from .figures import ratio_text
from .mapcontrols import MapChrome, ParcelLabels, ViewControl, YearFilter, add_plugins, add_print_css, bounds_of
from .offline import make_offline
from .printed import parcel_features
from .stamp import numbered_html
from ..solve.plan import Plan
from ..inputs.scenario import Scenario
from .styles import (KEEP_DEFAULTS, LINE_COLOURS, ROLE_FILL_OPACITY, SERVICE_COLOURS, ZONE_FILLS, display_frame, esc, geo_json,
                     frequency_colours, parcel_role, parcel_style, type_colours)
from .tiles import TileChoice, add_tiles, tile_choice

# TileChoice and tile_choice (from .tiles) are part of build_map's and render_map's signature.
__all__ = [
    "TileChoice",
    "tile_choice",
    "build_map",
    "render_map",
]

log = logging.getLogger(__name__)

_COORD_DECIMALS = 6  # about 0.1 m, for the used parcels

_TEXT = {
    "zh": {
        "districts": "行政区与片区", "lines": "地铁线路", "stations": "地铁站点", "buffers": "站点步行范围（{m} m）",
        "parks": "产业园区", "constraints": "禁止建设区", "candidates": "候选地块（未选用）", "services": "服务设施：{c}",
        "year": "{y}年供地", "legend": "图例", "types": "住房类型", "panel": "目标与落实（套）", "parcel": "地块编号",
        "name": "名称", "district": "行政区", "zone": "片区",
        "units": "套数", "floor": "保障性住房建筑面积（m²）", "net": "净用地（公顷）", "gross": "毛用地（公顷）",
        "far": "容积率上限", "far_used": "采用容积率", "far_upper_types": "采用规划上限容积率的类型",
        "open": "开通年份", "line": "线路", "workers": "就业人数", "supply": "供地年份",
        "type": "主要类型", "role": "用地类型", "new": "保障性住房新增用地", "inclusionary": "普通商品房配建",
        "area": "地块面积（公顷）", "kind": "类型", "opens": "{y}年开通", "not_open": "所示年份尚未开通的站点（无步行范围）",
        "total": "合计", "station": "站点",
        "placed_of": "落实 / 目标", "available": "可供年份",
        "freq": "备选方案选用次数（共{k}个方案）", "freq_n": "{n}个方案选用", "plans": "选用方案",
        "selected_in": "选用次数", "roles": "用地",
        "new_fill": "实心：保障性住房新增用地", "incl_outline": "勾边：普通商品房配建（地块为商品房项目，仅部分建筑面积为保障性住房）",
        "kinds": {"ecological_redline": "生态保护红线", "flood_zone": "洪涝风险区"},
        "categories": {"school": "学校", "clinic": "社区卫生", "hospital": "医院", "market": "菜市场",
                       "park": "公园", "culture": "文化设施"},
    },
    "en": {
        "districts": "Districts and zones", "lines": "Metro lines", "stations": "Metro stations",
        "buffers": "Station walking range ({m} m)", "parks": "Industrial parks", "constraints": "Locked-out areas",
        "candidates": "Candidate parcels (unused)", "services": "Services: {c}", "year": "Supplied {y}",
        "legend": "Legend", "types": "Housing type", "panel": "Targets and placed units", "parcel": "Parcel", "name": "Name",
        "district": "District", "zone": "Zone",
        "units": "Units", "floor": "Affordable floor area (m²)", "net": "Net land (ha)", "gross": "Gross land (ha)",
        "far": "Plot ratio cap", "far_used": "Plot ratio used", "far_upper_types": "Types at the upper plot ratio",
        "open": "Opens", "line": "Line", "workers": "Workers", "supply": "Supply year",
        "type": "Main type", "role": "Land", "new": "New land", "inclusionary": "Inclusionary share",
        "area": "Parcel area (ha)", "kind": "Kind", "opens": "opens {y}",
        "not_open": "Station not open in the year shown (no walking range)", "total": "Total", "station": "Station",
        "placed_of": "placed / target", "available": "Available",
        "freq": "Selected in how many of {k} alternative plans", "freq_n": "in {n} plans", "plans": "Plans",
        "selected_in": "Selected in", "roles": "Land",
        "new_fill": "Solid: new land for affordable housing",
        "incl_outline": "Outline: commercial project carrying an inclusionary share (only part of its floor area is affordable)",
        "kinds": {"ecological_redline": "Ecological red line", "flood_zone": "Flood zone"},
        "categories": {"school": "Schools", "clinic": "Clinics", "hospital": "Hospitals", "market": "Markets",
                       "park": "Parks", "culture": "Culture"},
    },
}


def _district_labels(districts: gpd.GeoDataFrame, lang: str) -> gpd.GeoDataFrame:
    """``districts`` with a ``label`` column: ``district_en`` in English where
    the layer has one (not blank), else the ``district`` name."""
    label = districts["district"]
    if lang == "en" and "district_en" in districts.columns:
        en = districts["district_en"].astype("string").str.strip()
        label = en.where(en.notna() & (en != ""), label.astype("string"))
    return districts.assign(label=label.astype(object))


def _table_html(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table class='sp-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _locked_kinds(scenario: Scenario) -> list[str] | None:
    lock_out = getattr(getattr(scenario, "rules", None), "lock_out", None)
    kinds = getattr(lock_out, "constraint_kinds", None)
    return list(kinds) if kinds is not None else None


def _transit_m(scenario: Scenario) -> float:
    transit = getattr(getattr(scenario, "rules", None), "transit", None)
    return float(getattr(transit, "within_m", 800.0) or 800.0)


# ---------------------------------------------------------------------------
# The map
# ---------------------------------------------------------------------------


def build_map(
    plan: Plan,
    layers: Layers,
    scenario: Scenario,
    *,
    lang: str = "zh",
    tiles: str | TileChoice | None = None,
    frequency: pd.DataFrame | None = None,
) -> tuple[folium.Map, list[str]]:
    """Build the Folium map of a plan (see the module docstring).

    Parameters
    ----------
    plan, layers, scenario
        The solved plan and what it was built from.
    lang
        ``"zh"`` (default) or ``"en"`` for every label.
    tiles
        A :class:`TileChoice`, a tile name, or ``None`` for the scenario's
        ``[map]`` choice (no tiles by default).
    frequency
        With alternative plans, :func:`siteplan.solve.alternatives.selection_frequency`
        of them: adds a layer (off at first) of every parcel any plan uses,
        coloured by how many plans use it, and its legend.

    Returns
    -------
    (folium.Map, list of str)
        The map, and the URL prefixes of its tile server (empty without
        tiles), which the offline check allows.
    """
    tx = _TEXT["en" if lang == "en" else "zh"]
    choice = tiles if isinstance(tiles, TileChoice) else tile_choice(scenario, tiles=tiles)
    gcj = choice.gcj02
    types = list(plan.problem.types)
    colours = type_colours(types)
    labels = {t: scenario.type_label(t, lang) for t in types}
    years = list(plan.problem.years)

    districts = display_frame(_district_labels(layers.districts, lang)[["district", "label", "zone", "geometry"]],
                              gcj02=gcj, simplify_m=5.0)
    west, south, east, north = districts.total_bounds
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=11, tiles=None,
                   control_scale=False, zoom_control=False, prefer_canvas=False, zoom_snap=0.25, zoom_delta=0.5)
    m.default_js = [(n, u) for n, u in m.default_js if n in KEEP_DEFAULTS]
    m.default_css = [(n, u) for n, u in m.default_css if n in KEEP_DEFAULTS]
    allow = add_tiles(m, choice, lang)

    # Districts filled by zone, zone outlines, district names.
    zones = sorted(districts["zone"].dropna().unique())
    zone_fill = {z: ZONE_FILLS[k % len(ZONE_FILLS)] for k, z in enumerate(zones)}
    fg = folium.FeatureGroup(name=esc(tx["districts"]), show=True)
    geo_json(
        districts,
        style_function=lambda f: {"fillColor": zone_fill.get(f["properties"]["zone"], "#eeeeee"), "color": "#8a8a8a",
                                  "weight": 1, "fillOpacity": 0.0 if choice.name != "none" else 0.7},
        tooltip=folium.GeoJsonTooltip(["label", "zone"], aliases=[esc(tx["district"]), esc(tx["zone"])]),
    ).add_to(fg)
    zone_geo = layers.districts[["zone", "geometry"]].dissolve(by="zone").reset_index()
    geo_json(
        display_frame(zone_geo, gcj02=gcj, simplify_m=5.0),
        style_function=lambda f: {"color": "#555555", "weight": 2.5, "fill": False, "dashArray": "6 4"},
        interactive=False,
    ).add_to(fg)
    for _, row in districts.iterrows():
        c = row.geometry.representative_point()
        folium.Marker(
            [c.y, c.x],
            # display_frame has escaped the label already.
            icon=folium.DivIcon(html=f"<div class='sp-district-label'>{row['label']}</div>", icon_size=(120, 18), icon_anchor=(60, 9)),
            interactive=False,
        ).add_to(fg)
    fg.add_to(m)

    # Locked-out areas.
    if len(layers.constraints):
        kinds = _locked_kinds(scenario)
        cons = layers.constraints[["kind", "name", "geometry"]].copy()
        cons["locked"] = cons["kind"].isin(kinds) if kinds is not None else True
        cons["kind_label"] = cons["kind"].map(lambda k: tx["kinds"].get(k, k))
        geo_json(
            display_frame(cons, gcj02=gcj, simplify_m=5.0),
            name=esc(tx["constraints"]),
            style_function=lambda f: ({"fillColor": "#d7301f", "color": "#b30000", "weight": 1, "fillOpacity": 0.25, "dashArray": "3 3"}
                                      if f["properties"]["locked"] else
                                      {"fillColor": "#fdbb84", "color": "#e34a33", "weight": 1, "fillOpacity": 0.12}),
            tooltip=folium.GeoJsonTooltip(["kind_label", "name"], aliases=[esc(tx["kind"]), esc(tx["name"])]),
        ).add_to(m)

    # Industrial parks.
    if len(layers.parks):
        geo_json(
            display_frame(layers.parks[["park", "workers", "geometry"]], gcj02=gcj, simplify_m=5.0),
            name=esc(tx["parks"]),
            style_function=lambda f: {"fillColor": "#8e7cc3", "color": "#5b4a91", "weight": 1.2, "fillOpacity": 0.3, "dashArray": "5 3"},
            tooltip=folium.GeoJsonTooltip(["park", "workers"], aliases=[esc(tx["parks"]), esc(tx["workers"])], localize=True),
        ).add_to(m)

    # Unused candidate parcels (off by default: context on demand).
    used_ids = set(plan.units["parcel_id"])
    cand = plan.problem.parcels
    unused = cand.loc[~cand["parcel_id"].isin(used_ids), ["parcel_id", "name", "far_max", "available_year", "geometry"]]
    if len(unused):
        geo_json(
            display_frame(gpd.GeoDataFrame(unused, geometry="geometry", crs=cand.crs), gcj02=gcj, simplify_m=2.0),
            name=esc(tx["candidates"]),
            show=False,
            style_function=lambda f: {"fillColor": "#bdbdbd", "color": "#969696", "weight": 0.5, "fillOpacity": 0.45},
            tooltip=folium.GeoJsonTooltip(["parcel_id", "name", "far_max", "available_year"],
                                          aliases=[esc(tx["parcel"]), esc(tx["name"]), esc(tx["far"]), esc(tx["available"])]),
        ).add_to(m)

    # Services by category (off by default).
    if len(layers.services):
        svc = layers.services[["category", "name", "geometry"]]
        svc = svc.assign(name=svc["name"].fillna("").astype(str))
        for cat in sorted(svc["category"].astype(str).unique(), key=lambda c: list(SERVICE_COLOURS).index(c) if c in SERVICE_COLOURS else 99):
            part = display_frame(svc.loc[svc["category"].astype(str) == cat, ["name", "geometry"]], gcj02=gcj)
            colour = SERVICE_COLOURS.get(cat, "#636363")
            fgs = folium.FeatureGroup(name=esc(tx["services"].format(c=tx["categories"].get(cat, cat))), show=False)
            geo_json(
                part,
                marker=folium.CircleMarker(radius=3, color=colour, weight=1, fill=True, fill_color=colour, fill_opacity=0.8),
                tooltip=folium.GeoJsonTooltip(["name"], labels=False),
            ).add_to(fgs)
            fgs.add_to(m)

    # Metro: walking buffers, lines, stations.
    within = _transit_m(scenario)
    buffer_layer = station_layer = None
    if len(layers.stations):
        buf = _station_buffers(layers.stations, years, within, _transit_lead(scenario))
        buffer_layer = geo_json(
            display_frame(buf, gcj02=gcj, simplify_m=2.0),
            name=esc(tx["buffers"].format(m=f"{within:,.0f}")),
            style_function=lambda f: {"fillColor": "#41b6c4", "color": "#2c7fb8", "weight": 0.6, "opacity": 1.0, "fillOpacity": 0.08,
                                      "className": f"sp-buffer sp-buffer-{f['properties']['year']}"},
            interactive=False,
        )
        buffer_layer.add_to(m)
    if len(layers.lines):
        lines = display_frame(layers.lines[["line", "open_year", "geometry"]], gcj02=gcj, simplify_m=2.0)
        line_colour = {n: LINE_COLOURS[k % len(LINE_COLOURS)] for k, n in enumerate(sorted(lines["line"].dropna().unique()))}
        geo_json(
            lines,
            name=esc(tx["lines"]),
            style_function=lambda f: {"color": line_colour.get(f["properties"]["line"], "#333333"), "weight": 4, "opacity": 0.9},
            tooltip=folium.GeoJsonTooltip(["line", "open_year"], aliases=[esc(tx["line"]), esc(tx["open"])]),
        ).add_to(m)
    if len(layers.stations):
        st = layers.stations[["station", "line", "open_year", "geometry"]].copy()
        st["label"] = [f"{s} · {tx['opens'].format(y=int(y))}" if pd.notna(y) else str(s) for s, y in zip(st["station"], st["open_year"])]
        st["future"] = st["open_year"] > years[0]
        st["open_year"] = st["open_year"].astype("Int64")
        stations = display_frame(st, gcj02=gcj)
        fgst = folium.FeatureGroup(name=esc(tx["stations"]), show=True)
        station_layer = geo_json(
            stations,
            marker=folium.CircleMarker(radius=3, color="#222222", weight=1.2, fill=True, fill_color="#ffffff", fill_opacity=1),
            style_function=lambda f: {"fillColor": "#ffffff" if not f["properties"]["future"] else "#bdbdbd", "color": "#222222"},
            tooltip=folium.GeoJsonTooltip(["label", "line"], aliases=[esc(tx["station"]), esc(tx["line"])]),
        )
        station_layer.add_to(fgst)
        fgst.add_to(m)

    # Used parcels, one layer per supply year.
    # The figures as every file prints them (rounded once), with the plot ratio used and,
    # as text, the types built at the upper plot ratio: a popup's floor area never exceeds
    # parcel area x the ratio it shows.
    alloc = parcel_features(plan, net_to_gross=scenario.plan.net_to_gross)
    alloc["role_label"] = alloc["role"].map(lambda r: "、".join(tx.get(x, x) for x in str(r).split(",")))
    alloc["role_drawn"] = alloc["role"].map(parcel_role)
    unit_cols = [f"units_{t}" for t in types]
    alloc["main_label"] = alloc["main_type"].map(labels)
    alloc["far_used_text"] = alloc["far_used"].map(ratio_text)
    alloc["far_max_text"] = alloc["far_max"].map(ratio_text)
    alloc["far_upper_label"] = alloc["far_upper_types"].map(
        lambda v: "、".join(labels.get(t, t) for t in str(v).split(",") if t) or "-")
    fields = ["parcel_id", "name", "district", "zone", "year", "role_label", "main_label", "units", *unit_cols,
              "floor_area_m2", "net_land_ha", "gross_land_ha", "far_used_text", "far_upper_label", "far_max_text", "area_ha"]
    aliases = [tx["parcel"], tx["name"], tx["district"], tx["zone"], tx["supply"], tx["role"], tx["type"], tx["units"],
               *[labels[t] for t in types], tx["floor"], tx["net"], tx["gross"], tx["far_used"], tx["far_upper_types"],
               tx["far"], tx["area"]]
    aliases = [esc(a) for a in aliases]
    year_layers: list[tuple[int, str]] = []
    for year in years:
        part = alloc.loc[alloc["year"] == year]
        if not len(part):
            continue
        fgy = folium.FeatureGroup(name=esc(tx["year"].format(y=year)), show=True)
        geo_json(
            # The year as text, so that the popup's number formatting does not print "2,017".
            display_frame(part[[*fields, "main_type", "role_drawn", "geometry"]].assign(year=part["year"].astype(str)),
                          gcj02=gcj, decimals=_COORD_DECIMALS),
            # New land filled, a 配建 host outlined (styles.parcel_style).
            style_function=lambda f: parcel_style(colours.get(html.unescape(f["properties"]["main_type"]), "#444444"),
                                                  f["properties"]["role_drawn"],
                                                  class_name=f"sp-parcel sp-y{f['properties']['year']}"),
            highlight_function=lambda f: {"weight": 4, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(["parcel_id", "role_label", "main_label", "units"],
                                          aliases=[aliases[0], aliases[5], aliases[6], aliases[7]], localize=True),
            popup=folium.GeoJsonPopup(fields, aliases=aliases, localize=True),
        ).add_to(fgy)
        fgy.add_to(m)
        year_layers.append((year, fgy.get_name()))
    ParcelLabels(_label_points(alloc, gcj), year_layers, lang=lang).add_to(m)

    freq_legend = ""
    if frequency is not None and len(frequency):
        freq_legend = _add_frequency_layer(m, frequency, layers.parcels, tx, gcj)

    m.get_root().html.add_child(folium.Element(_overlay_html(plan, scenario, tx, types, labels, colours, within, lang,
                                                             extra_legend=freq_legend)))
    plan_view = display_frame(alloc[["parcel_id", "geometry"]], gcj02=gcj) if len(alloc) else None
    ViewControl(bounds_of(plan_view.total_bounds) if plan_view is not None else None,
                [[south, west], [north, east]], lang=lang).add_to(m)
    add_plugins(m, lang=lang)
    YearFilter(year_layers, years, lang=lang, buffers=buffer_layer.get_name() if buffer_layer is not None else None,
               stations=station_layer.get_name() if station_layer is not None else None).add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    MapChrome(lang=lang).add_to(m)
    add_print_css(m)
    return m, allow


def _transit_lead(scenario: Scenario) -> int:
    transit = getattr(getattr(scenario, "rules", None), "transit", None)
    return int(getattr(transit, "lead_years", 0) or 0)


def _station_buffers(stations: gpd.GeoDataFrame, years: list[int], within: float, lead: int) -> gpd.GeoDataFrame:
    """One feature per supply year: the walking range of the stations open by that year (+ the transit rule's lead).

    A station without an opening year counts as open. Years with the same
    open stations share one geometry object (the union is computed once).
    """
    opens = pd.to_numeric(stations["open_year"], errors="coerce") if "open_year" in stations.columns else pd.Series(
        float("nan"), index=stations.index)
    circles = stations.geometry.buffer(within, 12).to_numpy()
    rows, cache = [], {}
    for y in years:
        mask = (opens.isna() | (opens <= y + lead)).to_numpy()
        key = mask.tobytes()
        if key not in cache:
            cache[key] = shapely.union_all(circles[mask]) if mask.any() else shapely.Polygon()
        rows.append((int(y), within, cache[key]))
    return gpd.GeoDataFrame({"year": [r[0] for r in rows], "within_m": [r[1] for r in rows]},
                            geometry=[r[2] for r in rows], crs=stations.crs)


def _label_points(alloc: gpd.GeoDataFrame, gcj: bool) -> list[dict]:
    """A point inside each used parcel with its id, units and year, for :class:`ParcelLabels` (text left raw: set as text)."""
    pts = gpd.GeoDataFrame({"parcel_id": alloc["parcel_id"].astype(str).to_numpy()},
                           geometry=alloc.geometry.representative_point().to_numpy(), crs=alloc.crs)
    shown = display_frame(pts[["geometry"]], gcj02=gcj, decimals=_COORD_DECIMALS)
    return [{"lat": float(g.y), "lon": float(g.x), "id": pid, "units": int(u), "year": int(y)}
            for g, pid, u, y in zip(shown.geometry, pts["parcel_id"], alloc["units"], alloc["year"])]


def _add_frequency_layer(m: folium.Map, frequency: pd.DataFrame, parcels: gpd.GeoDataFrame, tx: dict, gcj: bool) -> str:
    """Add the layer of parcels coloured by how many alternative plans use them; return its legend rows."""
    k = int(round(float((frequency["selected_in"] / frequency["frequency"]).max())))
    colours = frequency_colours(k)
    geo = parcels.drop_duplicates("parcel_id").set_index("parcel_id")
    freq = frequency.loc[frequency["parcel_id"].isin(geo.index)]
    geo = geo.loc[freq["parcel_id"]]
    gdf = gpd.GeoDataFrame({
        "parcel_id": freq["parcel_id"].to_numpy(),
        "name": geo["name"].to_numpy() if "name" in geo.columns else "",
        "district": geo["district"].to_numpy(),
        "selected_in": freq["selected_in"].astype(int).to_numpy(),
        "share": [f"{n} / {k}" for n in freq["selected_in"]],
        "plans": freq["plans"].astype(str).to_numpy(),
    }, geometry=geo.geometry.to_numpy(), crs=parcels.crs)
    title = tx["freq"].format(k=k)
    geo_json(
        display_frame(gdf, gcj02=gcj, decimals=_COORD_DECIMALS),
        name=esc(title),
        show=False,
        style_function=lambda f: {"fillColor": colours.get(int(f["properties"]["selected_in"]), "#444444"), "color": "#636363",
                                  "weight": 1, "fillOpacity": 0.9, "className": f"sp-freq sp-freq-{int(f['properties']['selected_in'])}"},
        tooltip=folium.GeoJsonTooltip(["parcel_id", "name", "district", "share", "plans"],
                                      aliases=[esc(tx["parcel"]), esc(tx["name"]), esc(tx["district"]),
                                               esc(tx["selected_in"]), esc(tx["plans"])]),
    ).add_to(m)
    rows = "".join(
        f"<div><span class='sp-swatch' style='background:{c}'></span>{esc(tx['freq_n'].format(n=n))}</div>"
        for n, c in sorted(colours.items(), reverse=True)
    )
    return f'<div id="sp-freq-legend"><hr style="margin:4px 0"><b>{esc(title)}</b>{rows}</div>'


def _overlay_html(plan: Plan, scenario: Scenario, tx: dict, types: list[str], labels: Mapping[str, str],
                  colours: Mapping[str, str], within: float, lang: str, *, extra_legend: str = "") -> str:
    """Title, legend (``extra_legend``, already escaped HTML, at its end) and the targets panel, every text escaped."""
    legend_types = "".join(
        f"<div><span class='sp-swatch' style='background:{colours[t]}'></span>{esc(labels[t])}</div>" for t in types
    )
    # How the two roles are drawn (styles.parcel_style), in a neutral grey.
    legend_roles = (
        f"<div class='sp-legend-role sp-legend-new'><span class='sp-swatch' style='background:rgba(80,80,80,{ROLE_FILL_OPACITY['new']});"
        f"border:2px solid #505050'></span>{esc(tx['new_fill'])}</div>"
        f"<div class='sp-legend-role sp-legend-inclusionary'><span class='sp-swatch' style='background:rgba(80,80,80,"
        f"{ROLE_FILL_OPACITY['inclusionary']});border:3px solid #505050'></span>{esc(tx['incl_outline'])}</div>"
    )
    others = [
        ("<span class='sp-swatch' style='background:#f2efe9;border-color:#8a8a8a'></span>", tx["districts"]),
        ("<span class='sp-swatch' style='background:rgba(215,48,31,0.35);border:1px dashed #b30000'></span>", tx["constraints"]),
        ("<span class='sp-swatch' style='background:rgba(142,124,195,0.4);border:1px dashed #5b4a91'></span>", tx["parks"]),
        ("<span class='sp-dot' style='background:#fff'></span>", tx["stations"]),
        ("<span class='sp-dot' style='background:#bdbdbd'></span>", tx["not_open"]),
        ("<span class='sp-swatch' style='background:rgba(65,182,196,0.2);border-color:#2c7fb8;border-radius:50%'></span>",
         tx["buffers"].format(m=f"{within:,.0f}")),
    ]
    legend_others = "".join(f"<div>{sym}{esc(text)}</div>" for sym, text in others)
    summary = plan.summary()
    rows = []
    for y, part in summary.groupby("year"):
        by_type = part.set_index("type")
        cells = [str(y)]
        for t in types:
            if t in by_type.index:
                r = by_type.loc[t]
                cells.append(f"{int(r['placed']):,} / {int(r['target']):,}")
            else:
                cells.append("-")
        cells.append(f"{int(part['placed'].sum()):,} / {int(part['target'].sum()):,}")
        rows.append(cells)
    rows.append([tx["total"], *[f"{int(summary.loc[summary['type'] == t, 'placed'].sum()):,} / {int(summary.loc[summary['type'] == t, 'target'].sum()):,}" for t in types],
                 f"{int(summary['placed'].sum()):,} / {int(summary['target'].sum()):,}"])
    panel = _table_html(rows, [""] + [labels[t] for t in types] + [tx["total"]])
    title = esc(scenario.plan.title or scenario.plan.name)
    return f"""
<style>
.sp-box {{position:absolute; z-index:1000; background:rgba(255,255,255,0.94); padding:6px 9px; border:1px solid #999;
  border-radius:4px; font:12px/1.4 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;}}
.sp-year-control {{position:relative; min-width:150px;}}
.sp-year-slider {{width:150px;}}
.sp-swatch {{display:inline-block; width:13px; height:13px; margin-right:6px; vertical-align:middle; border:1px solid #333;
  box-sizing:border-box;}}
#sp-legend {{max-width:300px;}}
.sp-dot {{display:inline-block; width:9px; height:9px; margin:0 8px 0 2px; vertical-align:middle; border:1.5px solid #222; border-radius:50%;}}
.sp-table td, .sp-table th {{padding:1px 5px; text-align:right; white-space:nowrap;}}
.sp-table td:first-child {{text-align:left;}}
.sp-district-label {{font:bold 12px "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;
  color:#555; text-align:center; text-shadow:0 0 3px #fff, 0 0 3px #fff; white-space:nowrap; pointer-events:none;}}
.leaflet-popup-content table th {{text-align:left; padding-right:8px; font-weight:normal; color:#555;}}
</style>
<div class="sp-box" id="sp-title" style="top:10px; left:50%; transform:translateX(-50%); font-size:15px; font-weight:bold;" lang="{'en' if lang == 'en' else 'zh-CN'}">{title}</div>
<div class="sp-box" id="sp-legend" style="bottom:50px; left:10px;"><b>{esc(tx['types'])}</b>{legend_types}<hr style="margin:4px 0"><b>{esc(tx['roles'])}</b>{legend_roles}<hr style="margin:4px 0">{legend_others}{extra_legend}</div>
<div class="sp-box" id="sp-panel" style="bottom:30px; right:10px; max-width:60%;"><b>{esc(tx['panel'])}</b>
<span style="color:#666"> ({esc(tx['placed_of'])})</span>{panel}</div>
"""


def render_map(
    plan: Plan,
    layers: Layers,
    scenario: Scenario,
    path: str | Path,
    *,
    lang: str = "zh",
    tiles: str | TileChoice | None = None,
    frequency: pd.DataFrame | None = None,
) -> Path:
    """Write the self-contained ``map.html`` of a plan.

    Parameters
    ----------
    plan, layers, scenario
        The solved plan and what it was built from.
    path
        Where to write the HTML file.
    lang
        ``"zh"`` (default) or ``"en"`` for labels.
    tiles
        ``None`` (default: the scenario's ``[map] tiles``, else none),
        ``"none"``, ``"osm"``, ``"tianditu"`` or ``"gaode"``. Without tiles
        the page makes no network request; with tiles it fetches only from
        that tile server.
    frequency
        The selection frequency of alternative plans (see :func:`build_map`).

    Raises
    ------
    siteplan.outputs.offline.OfflineError
        If the page would fetch anything else (nothing is written then).
    """
    path = Path(path)
    m, allow = build_map(plan, layers, scenario, lang=lang, tiles=tiles, frequency=frequency)
    # What save_offline does, but rendered with the elements numbered rather than given random ids,
    # so that two runs write the same page (the controls hold layer names taken while the map was built).
    page = make_offline(numbered_html(m.get_root()), allow=allow)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    log.info("Wrote the map to %s (%.1f MB, offline%s)", path.name, path.stat().st_size / 1e6, "" if not allow else " except tiles")
    return path
