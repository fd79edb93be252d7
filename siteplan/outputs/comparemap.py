"""compare.html: two synchronised map panes of two runs, opening on the parcels that differ.

Drawn from what :func:`siteplan.outputs.compare.load_run` read of each run
(nothing is solved again): parcels filled by main type and outlined by how
they differ (:data:`CHANGE_STYLES`), the rule layers whose settings differ
(:func:`differing_rule_layers`) at each run's own distance, districts and
metro lines coloured per line as in ``map.html`` (:func:`line_colours`), one
language throughout. Every text from the runs is escaped.
"""

from __future__ import annotations

import html
import json
import re

import folium
import geopandas as gpd
import pandas as pd
from folium.plugins import DualMap

from .compare import _VALUES, RunOutputs, _esc, _parcel_table
from .stamp import number_elements
from .styles import KEEP_DEFAULTS, LINE_COLOURS, display_frame, geo_json, type_colours

__all__ = ["compare_map", "line_colours", "differing_rule_layers", "CHANGE_STYLES", "RULE_LAYERS"]


#: How each kind of difference is drawn: the outline (colour, weight, dash) over the type's fill.
CHANGE_STYLES: dict[str, dict] = {
    "added": {"color": "#1a9641", "weight": 4, "fillOpacity": 0.9},
    "removed": {"color": "#d7191c", "weight": 3.5, "dashArray": "8 5", "fillOpacity": 0.3},
    "changed": {"color": "#6a3d9a", "weight": 4, "dashArray": "2 6", "fillOpacity": 0.9},
    "same": {"color": "#9a9a9a", "weight": 1, "fillOpacity": 0.3},
}

_MAP_TEXT = {
    "zh": {"added": "新增（仅B选用）", "removed": "减少（仅A选用）", "changed": "变化（A、B均选用，年份、套数、用地或容积率不同）",
           "same": "未变化", "moved": "新增与减少", "diff": "全部差异", "city": "全市", "counts": "仅A {a} 块 · 仅B {b} 块 · 共同 {both} 块（其中变化 {changed} 块）",
           "fields": ["地块编号", "名称", "行政区", "供地年份", "主要类型", "套数", "变化"], "line": "线路",
           "transit": "轨道站点 {m} 米范围", "services": "公共服务设施 {m} 米范围", "parks": "产业园区 {m} 米范围",
           "no_rule": "（本方案未启用）", "sep": "、"},
    "en": {"added": "Added (only in B)", "removed": "Removed (only in A)",
           "changed": "Changed (in both; year, units, land or plot ratio differ)", "same": "Unchanged", "moved": "Added and removed", "diff": "All differences",
           "city": "Whole city", "counts": "only A {a} · only B {b} · both {both} ({changed} changed)",
           "fields": ["Parcel", "Name", "District", "Supply year", "Main type", "Units", "Change"], "line": "Line",
           "transit": "within {m} m of a station", "services": "within {m} m of services", "parks": "within {m} m of a park",
           "no_rule": " (rule off in this plan)", "sep": ", "},
}
_CHANGE_EN = {"year": "year", "units": "units", "types": "types", "floor": "floor area", "net": "net land", "gross": "gross land",
              "role": "role", "far": "plot ratio"}
#: Rule sections with a layer to draw when the two runs set them differently: (section, context layer, name field).
RULE_LAYERS = (("transit", "stations", "station"), ("services", "services", "name"), ("parks", "parks", "park"))
_BUFFER_COLOURS = {"transit": "#2c7bb6", "services": "#33a02c", "parks": "#8c510a"}


def line_colours(lines: gpd.GeoDataFrame | None) -> dict[str, str]:
    """The colour of each metro line: its ``colour`` field when it holds ``#rrggbb``, else the palette by name, as in map.html."""
    if lines is None or "line" not in lines.columns:
        return {}
    names = sorted(lines["line"].dropna().astype(str).unique())
    out = {n: LINE_COLOURS[k % len(LINE_COLOURS)] for k, n in enumerate(names)}
    for col in ("colour", "color"):
        if col in lines.columns:
            for n, c in zip(lines["line"].astype(str), lines[col]):
                if isinstance(c, str) and re.fullmatch(r"#[0-9A-Fa-f]{6}", c.strip()):
                    out[n] = c.strip()
    return out


def _kind(change: str, pane: str) -> str:
    """``added``/``removed``/``changed``/``same`` of a parcel in pane ``"A"`` or ``"B"``."""
    if change in ("A only", "B only"):
        return "removed" if pane == "A" else "added"
    return "same" if change == "same" else "changed"


def _change_text(change: str, lang: str) -> str:
    if change in ("A only", "B only", "same"):
        return _VALUES["change"][change] if lang != "en" else {"A only": "only in A", "B only": "only in B", "same": "unchanged"}[change]
    words = _VALUES["change"] if lang != "en" else _CHANGE_EN
    return ("、" if lang != "en" else ", ").join(words.get(c, c) for c in change.split(", "))


def _rule_on(rules: dict | None, section: str) -> dict | None:
    s = (rules or {}).get(section)
    return s if isinstance(s, dict) and s.get("enabled", True) is not False else None


def differing_rule_layers(a: RunOutputs, b: RunOutputs) -> list[tuple[str, str, str]]:
    """The rule layers to draw: ``(section, layer, name field)`` of :data:`RULE_LAYERS` whose settings differ between the runs."""
    if a.rules is None or b.rules is None:
        return []
    out = []
    for section, layer, field in RULE_LAYERS:
        if a.rules.get(section) == b.rules.get(section):
            continue
        if any(_rule_on(r.rules, section) and layer in (r.context or {}) for r in (a, b)):
            out.append((section, layer, field))
    return out


def _buffer(run: RunOutputs, layer: str, within_m: float) -> gpd.GeoDataFrame | None:
    """One feature: the union of ``within_m`` around the run's layer (stations open by the plan's last year)."""
    pts = (run.context or {}).get(layer)
    if pts is None or not len(pts) or pts.crs is None or not pts.crs.is_projected:
        return None
    if "open_year" in pts.columns and len(run.allocation):
        pts = pts.loc[pd.to_numeric(pts["open_year"], errors="coerce").fillna(0) <= int(run.allocation["year"].max())]
    if not len(pts):
        return None
    shape = pts.geometry.buffer(float(within_m), 24).union_all()
    return gpd.GeoDataFrame({"within_m": [float(within_m)]}, geometry=[shape], crs=pts.crs)


def _bounds(frames: list[gpd.GeoDataFrame]) -> list[list[float]] | None:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return None
    west, south, east, north = gpd.GeoSeries(pd.concat([f.geometry.to_crs("EPSG:4326") for f in frames]),
                                             crs="EPSG:4326").total_bounds
    return [[float(south), float(west)], [float(north), float(east)]]


def compare_map(a: RunOutputs, b: RunOutputs, parcels: pd.DataFrame | None = None, *, lang: str = "zh") -> DualMap:
    """Two synchronised panes, plan A left and plan B right, opening on the parcels that differ.

    Parcels are filled by main type and outlined by :data:`CHANGE_STYLES`
    (``added``, ``removed``, ``changed``, ``same``; each path has the class
    ``sp-<kind>``); rule layers whose settings differ
    (:func:`differing_rule_layers`) are drawn in both panes, each at its own
    distance; districts and metro lines (coloured per line, :func:`line_colours`)
    give context; there are no tiles. ``lang`` is ``"zh"`` or ``"en"`` for
    every label and the legend.
    """
    lang = "en" if lang == "en" else "zh"
    tx = _MAP_TEXT[lang]
    types = sorted(set(a.parcels["main_type"]) | set(b.parcels["main_type"]))
    colours = type_colours(types)
    labels = {**b.type_labels, **a.type_labels}
    if lang == "en":
        from ..housing import CATALOGUE

        labels = {t: CATALOGUE[t].label_en if t in CATALOGUE else t for t in types}
    change = (parcels if parcels is not None else _parcel_table(a, b)).set_index("parcel_id")["change"]
    context = a.districts if a.districts is not None else b.districts
    ka = a.parcels.assign(kind=[_kind(c, "A") for c in a.parcels["parcel_id"].map(change).fillna("same")])
    kb = b.parcels.assign(kind=[_kind(c, "B") for c in b.parcels["parcel_id"].map(change).fillna("same")])
    diff = _bounds([ka.loc[ka["kind"] != "same"], kb.loc[kb["kind"] != "same"]]) or _bounds([a.parcels, b.parcels])
    moved = _bounds([ka.loc[ka["kind"] == "removed"], kb.loc[kb["kind"] == "added"]])
    city = _bounds([context]) if context is not None else _bounds([a.parcels, b.parcels])
    # Open on the parcels one plan uses and the other does not (few, and invisible at city scale), else on all differences.
    view = moved or diff or city or [[0.0, 0.0], [0.0, 0.0]]
    dm = DualMap(location=[(view[0][0] + view[1][0]) / 2, (view[0][1] + view[1][1]) / 2], zoom_start=11, tiles=None,
                 layout="horizontal")
    for m in (dm.m1, dm.m2):
        m.default_js = [(n, u) for n, u in m.default_js if n in KEEP_DEFAULTS]
        m.default_css = [(n, u) for n, u in m.default_css if n in KEEP_DEFAULTS]
    dm.default_js = [(n, u) for n, u in dm.default_js if n in KEEP_DEFAULTS or n == "Leaflet.Sync"]
    dm.default_css = [(n, u) for n, u in dm.default_css if n in KEEP_DEFAULTS]
    dm.m1.fit_bounds(view, padding=(30, 30), max_zoom=16)
    dm.m2.fit_bounds(view, padding=(30, 30), max_zoom=16)
    rule_layers = differing_rule_layers(a, b)
    captions: dict[str, list[str]] = {"A": [], "B": []}
    line_colour = line_colours(pd.concat([r.lines for r in (a, b) if r.lines is not None]) if any(
        r.lines is not None for r in (a, b)) else None)
    for m, run, feats, pane in ((dm.m1, a, ka, "A"), (dm.m2, b, kb, "B")):
        if context is not None:
            geo_json(display_frame(context[["district", "zone", "geometry"]], simplify_m=5.0),
                     style_function=lambda f: {"fillColor": "#f2efe9", "color": "#8a8a8a", "weight": 1, "fillOpacity": 0.7},
                     tooltip=folium.GeoJsonTooltip(["district", "zone"], labels=False)).add_to(m)
        for section, layer, _ in rule_layers:
            on = _rule_on(run.rules, section)
            if on is None:
                captions[pane].append(tx[section].format(m="-") + tx["no_rule"])
                continue
            within = float(on.get("within_m", 0) or 0)
            shape = _buffer(run, layer, within)
            captions[pane].append(tx[section].format(m=f"{within:,.0f}"))
            if shape is None:
                continue
            colour = _BUFFER_COLOURS[section]
            geo_json(display_frame(shape.assign(rule=tx[section].format(m=f"{within:,.0f}")), simplify_m=2.0),
                     style_function=lambda f, c=colour, s=section: {
                         "color": c, "weight": 1.5, "dashArray": "5 4", "fillColor": c, "fillOpacity": 0.12,
                         "className": f"sp-buffer sp-buffer-{s}"},
                     tooltip=folium.GeoJsonTooltip(["rule"], labels=False)).add_to(m)
        if run.lines is not None and len(run.lines):
            geo_json(display_frame(run.lines[["line", "geometry"]], simplify_m=2.0),
                     style_function=lambda f: {"color": line_colour.get(html.unescape(str(f["properties"]["line"])), "#333333"),
                                               "weight": 4, "opacity": 0.9, "className": "sp-line"},
                     tooltip=folium.GeoJsonTooltip(["line"], aliases=[tx["line"]])).add_to(m)
        p = feats.copy()
        p["type_label"] = p["main_type"].map(lambda t: labels.get(t, t))
        p["change"] = [_change_text(c, lang) for c in p["parcel_id"].map(change).fillna("same")]
        p["_order"] = (p["kind"] != "same").astype(int)  # differences drawn last, on top
        keep = ["parcel_id", "name", "district", "year", "type_label", "units", "change", "kind", "main_type", "geometry"]
        shown = p.sort_values("_order", kind="stable")[[c for c in keep if c in p.columns]]
        fields = [c for c in ("parcel_id", "name", "district", "year", "type_label", "units", "change") if c in shown.columns]
        aliases = dict(zip(("parcel_id", "name", "district", "year", "type_label", "units", "change"), tx["fields"]))
        geo_json(
            display_frame(shown, decimals=6),
            style_function=lambda f: _parcel_style(f["properties"], colours),
            tooltip=folium.GeoJsonTooltip(fields, aliases=[aliases[c] for c in fields], localize=True),
        ).add_to(m)
    views = {"moved": moved, "diff": diff, "city": city}
    # compare.html is rendered by save_offline: number the elements (rather than keep branca's random ids)
    # before the overlay takes the left pane's name, so that two comparisons write the same page.
    number_elements(dm.get_root())
    dm.get_root().html.add_child(folium.Element(_overlay(a, b, ka, kb, tx, types, labels, colours, captions, views,
                                                         dm.m1.get_name())))
    return dm


def _overlay(a: RunOutputs, b: RunOutputs, ka: gpd.GeoDataFrame, kb: gpd.GeoDataFrame, tx: dict, types: list[str],
             labels: dict[str, str], colours: dict[str, str], captions: dict[str, list[str]], views: dict, map_name: str) -> str:
    """The titles of both panes (with their rule layers), the legend and the view buttons."""
    legend = "".join(f"<div><span class='sp-swatch' style='background:{colours[t]}'></span>{_esc(labels.get(t, t))}</div>" for t in types)
    for kind in ("added", "removed", "changed", "same"):
        st = CHANGE_STYLES[kind]
        dash = "dashed" if st.get("dashArray", "").startswith("8") else "dotted" if st.get("dashArray") else "solid"
        legend += (f"<div><span class='sp-swatch' style='background:#ddd; opacity:{0.5 + st['fillOpacity'] / 2:.2f}; "
                   f"border:{min(st['weight'], 3):g}px {dash} {st['color']}'></span>{_esc(tx[kind])}</div>")
    counts = tx["counts"].format(a=int((ka["kind"] == "removed").sum()), b=int((kb["kind"] == "added").sum()),
                                 both=int((ka["kind"] != "removed").sum()), changed=int((ka["kind"] == "changed").sum()))

    def fit(bounds) -> str:
        return "" if bounds is None else f"{map_name}.fitBounds({json.dumps(bounds)}, {{padding: [30, 30], maxZoom: 16}})"

    def title(pane: str, run: RunOutputs) -> str:
        rule = "".join(f"<div class='sp-rule'>{_esc(c)}</div>" for c in captions[pane])
        return f"<b>{pane}</b> · {_esc(run.title)} <span style='color:#666'>({_esc(run.name)})</span>{rule}"

    return f"""
<style>
.sp-box {{position:absolute; z-index:1000; background:rgba(255,255,255,0.94); padding:5px 9px; border:1px solid #999;
  border-radius:4px; font:12px/1.4 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;}}
.sp-swatch {{display:inline-block; width:12px; height:12px; margin-right:6px; vertical-align:middle; border:1px solid #333;
  box-sizing:border-box;}}
.sp-rule {{color:#2c5f8a;}}
.sp-box button {{font:inherit; margin-right:4px; cursor:pointer;}}
</style>
<div class="sp-box" style="top:8px; left:25%; transform:translateX(-50%);">{title("A", a)}</div>
<div class="sp-box" style="top:8px; left:75%; transform:translateX(-50%);">{title("B", b)}</div>
<div class="sp-box" style="bottom:20px; left:10px;">{legend}<hr style="margin:4px 0"><div>{_esc(counts)}</div></div>
<div class="sp-box" style="bottom:20px; left:50%; transform:translateX(-50%);">
{"".join(f"<button type='button' class='sp-view-{k}' onclick='{fit(v)}'>{_esc(tx[k])}</button>" for k, v in views.items() if v)}</div>
"""


def _parcel_style(props: dict, colours: dict[str, str]) -> dict:
    fill = colours.get(html.unescape(str(props["main_type"])), "#444444")
    kind = html.unescape(str(props["kind"]))
    style = {"fillColor": fill, **CHANGE_STYLES.get(kind, CHANGE_STYLES["same"])}
    only = " sp-only" if kind in ("added", "removed") else ""
    return {**style, "className": f"sp-parcel sp-{kind}{only}"}
