"""The map's controls and print layout: year filter, view buttons, labels, north arrow, scale, localized plugins.

Each piece is a :class:`branca.element.MacroElement` (or a function adding
one) that :mod:`siteplan.outputs.webmap` composes, and that any other page
drawing a plan (:mod:`siteplan.outputs.compare`) can compose the same way:

- :class:`YearFilter`: a slider over the supply years with two modes,
  cumulative (累计至该年: parcels supplied up to the year) and single year
  (仅该年); station walking buffers and station markers follow the year
  (a station not yet open is grey and its buffer hidden);
- :class:`ParcelLabels`: each used parcel's id and units, shown from
  :data:`LABEL_ZOOM` on, only while the parcel's year layer is shown;
- :class:`ViewControl`: buttons to fit the plan's parcels (the opening
  view) or the whole city;
- :class:`MapChrome`: the zoom buttons, a metric scale bar, a north arrow,
  the layer control's title, the print layout's resize, all in the map's
  language; :func:`add_plugins` adds the fullscreen and measure plugins
  labelled in it;
- :data:`PRINT_CSS`: the print stylesheet (landscape A4 or A3, the paper
  the print dialog chooses): the title, legend, scale bar, north arrow and
  the year shown; zoom, layer, measure, fullscreen and view controls and the
  targets panel hidden.

Every text reaches the page as JSON data and is set with ``textContent``
(never as HTML), so a layer's names cannot inject markup.
"""

from __future__ import annotations

import folium
from branca.element import Element, MacroElement
from folium.plugins import Fullscreen, MeasureControl
from jinja2 import Template

__all__ = [
    "LABEL_ZOOM",
    "CONTROL_TEXT",
    "PRINT_CSS",
    "YearFilter",
    "ParcelLabels",
    "ViewControl",
    "MapChrome",
    "add_plugins",
    "add_print_css",
    "bounds_of",
]

#: The zoom level from which parcel labels (id, units) are shown.
LABEL_ZOOM = 15

#: The controls' texts, by language.
CONTROL_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "zoom_in": "放大", "zoom_out": "缩小", "layers": "图层", "north": "指北针", "north_letter": "N",
        "fullscreen": "全屏显示", "fullscreen_exit": "退出全屏", "plan_view": "规划地块", "city_view": "全市",
        "plan_view_title": "缩放到本规划的地块", "city_view_title": "显示全市范围",
        "cumulative": "累计至该年", "single": "仅该年", "all": "全部年份", "upto": "截至{y}年供地", "only": "{y}年供地",
        "year_title": "供地年份", "units": "{n}套",
    },
    "en": {
        "zoom_in": "Zoom in", "zoom_out": "Zoom out", "layers": "Layers", "north": "North arrow", "north_letter": "N",
        "fullscreen": "Full screen", "fullscreen_exit": "Exit full screen", "plan_view": "Plan", "city_view": "City",
        "plan_view_title": "Zoom to the plan's parcels", "city_view_title": "Show the whole city",
        "cumulative": "Up to the year", "single": "That year only", "all": "All years", "upto": "Supplied up to {y}",
        "only": "Supplied in {y}", "year_title": "Supply year", "units": "{n} units",
    },
}


def _text(lang: str) -> dict[str, str]:
    return CONTROL_TEXT["en" if lang == "en" else "zh"]


class YearFilter(MacroElement):
    """A slider over the supply years, cumulative or single-year, that buffers and stations follow.

    Parameters
    ----------
    layers
        ``(year, JS name of the year's layer)`` per supply year with parcels.
    years
        The plan's supply years, ascending.
    lang
        ``"zh"`` or ``"en"``.
    buffers
        JS name of a GeoJSON layer with one feature per supply year (its
        ``year`` property: the stations' walking range that year), or ``None``.
    stations
        JS name of a GeoJSON layer of station markers with an ``open_year``
        property, or ``None``.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var layers = { {% for y, name in this.layers %}{{ y|tojson }}: {{ name }}{% if not loop.last %}, {% endif %}{% endfor %} };
  var years = {{ this.years|tojson }};
  var text = {{ this.text|tojson }};
  var buffers = {{ this.buffers or "null" }};
  var stations = {{ this.stations or "null" }};
  var state = {k: years.length, only: false};
  var ctl = L.control({position: "topleft"});
  ctl.onAdd = function () {
    var div = L.DomUtil.create("div", "sp-box sp-year-control leaflet-control");
    var label = L.DomUtil.create("div", "sp-year-label", div);
    var input = L.DomUtil.create("input", "sp-year-slider", div);
    input.type = "range"; input.min = 0; input.max = years.length; input.step = 1; input.value = years.length;
    input.setAttribute("aria-label", text.year_title);
    var modes = L.DomUtil.create("div", "sp-year-modes", div);
    var group = "sp-year-mode-" + L.Util.stamp(div);
    [["cumulative", false], ["single", true]].forEach(function (m) {
      var lab = L.DomUtil.create("label", "", modes);
      var radio = L.DomUtil.create("input", "sp-year-mode", lab);
      radio.type = "radio"; radio.name = group; radio.value = m[0]; radio.checked = m[1] === state.only;
      lab.appendChild(document.createTextNode(text[m[0]]));
      L.DomEvent.on(radio, "change", function () { if (radio.checked) { state.only = m[1]; apply(); } });
    });
    function apply() {
      var upto = state.k >= years.length ? null : years[state.k];
      var ref = upto === null ? years[years.length - 1] : upto;
      label.textContent = upto === null ? text.all : (state.only ? text.only : text.upto).replace("{y}", String(upto));
      years.forEach(function (y) {
        var layer = layers[y];
        if (!layer) { return; }
        var show = upto === null || (state.only ? y === upto : y <= upto);
        if (show) { map.addLayer(layer); } else { map.removeLayer(layer); }
      });
      if (buffers) {
        buffers.eachLayer(function (l) {
          if (l.feature.properties.year === ref) { buffers.resetStyle(l); } else { l.setStyle({opacity: 0, fillOpacity: 0}); }
        });
      }
      if (stations) {
        stations.eachLayer(function (l) {
          var o = l.feature.properties.open_year;
          var open = o === null || o === undefined || o <= ref;
          l.setStyle({fillColor: open ? "#ffffff" : "#bdbdbd"});
          if (l.getElement && l.getElement()) { l.getElement().classList.toggle("sp-station-future", !open); }
        });
      }
      map.fire("sp:years", {upto: upto, only: state.only});
    }
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    L.DomEvent.on(input, "input change", function () { state.k = parseInt(input.value, 10); apply(); });
    map.whenReady(apply);
    return div;
  };
  ctl.addTo(map);
})();
{% endmacro %}
""")

    def __init__(self, layers: list[tuple[int, str]], years: list[int], *, lang: str = "zh",
                 buffers: str | None = None, stations: str | None = None):
        super().__init__()
        self._name = "YearFilter"
        self.layers = layers
        self.years = years
        self.text = _text(lang)
        self.buffers = buffers
        self.stations = stations


class ParcelLabels(MacroElement):
    """Labels (id, units) of the used parcels from :data:`LABEL_ZOOM` on, while their year's layer is shown.

    Parameters
    ----------
    labels
        ``{"lat", "lon", "id", "units", "year"}`` per parcel (a point inside it).
    layers
        ``(year, JS name of the year's layer)``.
    lang
        ``"zh"`` or ``"en"`` (the units' wording).
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var layers = { {% for y, name in this.layers %}{{ y|tojson }}: {{ name }}{% if not loop.last %}, {% endif %}{% endfor %} };
  var labels = {{ this.labels|tojson }};
  var unitsText = {{ this.units_text|tojson }};
  var minZoom = {{ this.min_zoom|tojson }};
  var group = L.layerGroup().addTo(map);
  var markers = labels.map(function (p) {
    var el = document.createElement("div");
    el.className = "sp-parcel-label-text";
    var id = document.createElement("b"); id.textContent = p.id; el.appendChild(id);
    el.appendChild(document.createElement("br"));
    el.appendChild(document.createTextNode(unitsText.replace("{n}", p.units.toLocaleString())));
    var icon = L.divIcon({className: "sp-parcel-label", html: el, iconSize: null});
    return {year: p.year, marker: L.marker([p.lat, p.lon], {icon: icon, interactive: false, keyboard: false})};
  });
  function update() {
    var on = map.getZoom() >= minZoom;
    markers.forEach(function (m) {
      var show = on && layers[m.year] && map.hasLayer(layers[m.year]);
      if (show && !group.hasLayer(m.marker)) { group.addLayer(m.marker); }
      if (!show && group.hasLayer(m.marker)) { group.removeLayer(m.marker); }
    });
  }
  map.on("zoomend sp:years overlayadd overlayremove", update);
  map.whenReady(update);
})();
{% endmacro %}
""")

    def __init__(self, labels: list[dict], layers: list[tuple[int, str]], *, lang: str = "zh", min_zoom: int = LABEL_ZOOM):
        super().__init__()
        self._name = "ParcelLabels"
        self.labels = labels
        self.layers = layers
        self.units_text = _text(lang)["units"]
        self.min_zoom = min_zoom


class ViewControl(MacroElement):
    """Two buttons: fit the plan's parcels (``plan_bounds``, the opening view) or the whole city (``city_bounds``).

    Bounds are ``[[south, west], [north, east]]``; the map opens at
    ``plan_bounds`` (the city's when there are no parcels).
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var plan = {{ this.plan_bounds|tojson }};
  var city = {{ this.city_bounds|tojson }};
  var text = {{ this.text|tojson }};
  var fit = function (b, animate) { map.fitBounds(b, {padding: [30, 30], maxZoom: 17, animate: animate}); };
  var ctl = L.control({position: "topleft"});
  ctl.onAdd = function () {
    var div = L.DomUtil.create("div", "leaflet-bar sp-view-control leaflet-control");
    [["plan_view", plan || city], ["city_view", city]].forEach(function (b) {
      var a = L.DomUtil.create("a", "sp-view-" + b[0].replace("_view", ""), div);
      a.href = "#"; a.setAttribute("role", "button");
      a.textContent = text[b[0]]; a.title = text[b[0] + "_title"]; a.setAttribute("aria-label", text[b[0] + "_title"]);
      L.DomEvent.on(a, "click", function (e) { L.DomEvent.preventDefault(e); fit(b[1], true); });
    });
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  ctl.addTo(map);
  fit(plan || city, false);  // the opening view, at once (an animation would swallow a view set right after load)
  // In a frame (the app's Results page) the map may have no size yet when this runs, and the view above
  // lands at the closest zoom: fit again once the page has its size, unless the reader has moved the map.
  var touched = false;
  ["mousedown", "touchstart", "wheel", "keydown"].forEach(function (ev) {
    map.getContainer().addEventListener(ev, function () { touched = true; }, {passive: true});
  });
  var refit = function () {
    var box = map.getContainer();
    if (touched || !box.clientWidth || !box.clientHeight) { return; }
    map.invalidateSize({animate: false, pan: false});
    fit(plan || city, false);
  };
  window.addEventListener("load", refit);
  // the frame may get its size after its page has loaded (the Results page lays out its frame late under load):
  // fit again whenever the map's box changes size, until the reader moves the map
  if (window.ResizeObserver) { new ResizeObserver(refit).observe(map.getContainer()); }
})();
{% endmacro %}
""")

    def __init__(self, plan_bounds: list[list[float]] | None, city_bounds: list[list[float]], *, lang: str = "zh"):
        super().__init__()
        self._name = "ViewControl"
        self.plan_bounds = plan_bounds
        self.city_bounds = city_bounds
        self.text = _text(lang)


_NORTH_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 56" width="32" height="45" aria-hidden="true">'
    '<text x="20" y="13" text-anchor="middle" font-family="Arial,sans-serif" font-size="13" font-weight="bold" '
    'fill="#222">{letter}</text>'
    '<polygon points="20,16 31,52 20,44" fill="#222"/><polygon points="20,16 9,52 20,44" fill="#fff" '
    'stroke="#222" stroke-width="1.5" stroke-linejoin="round"/></svg>'
)


class MapChrome(MacroElement):
    """Zoom buttons, a metric scale bar and a north arrow in the map's language; titles for the layer control.

    Add it after :class:`folium.LayerControl` (it titles that control's
    button). The map must be built with ``zoom_control=False`` and
    ``control_scale=False``. It also keeps the view when the page is
    printed (Leaflet redraws for the paper's size, then for the screen's).
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var text = {{ this.text|tojson }};
  var zoom = L.control.zoom({position: "topleft", zoomInTitle: text.zoom_in, zoomOutTitle: text.zoom_out}).addTo(map);
  var corner = zoom.getContainer().parentNode;
  corner.insertBefore(zoom.getContainer(), corner.firstChild);  // the zoom buttons first, as usual
  L.control.scale({position: "bottomleft", metric: true, imperial: false, maxWidth: 160}).addTo(map);
  var north = L.control({position: "topright"});
  north.onAdd = function () {
    var div = L.DomUtil.create("div", "sp-north-arrow leaflet-control");
    div.innerHTML = {{ this.svg|tojson }};
    div.title = text.north; div.setAttribute("role", "img"); div.setAttribute("aria-label", text.north);
    return div;
  };
  north.addTo(map);
  var toggle = map.getContainer().querySelector(".leaflet-control-layers-toggle");
  if (toggle) { toggle.title = text.layers; toggle.setAttribute("aria-label", text.layers); }
  // Printing lays the page out again at the paper's size: show there what the screen showed.
  var saved = null;
  function before() {
    if (!saved) { saved = map.getBounds(); }
    map.invalidateSize({animate: false, pan: false});
    map.fitBounds(saved, {animate: false});
  }
  function after() {
    if (!saved) { return; }
    var b = saved; saved = null;
    map.invalidateSize({animate: false, pan: false});
    map.fitBounds(b, {animate: false});
  }
  window.addEventListener("beforeprint", before);
  window.addEventListener("afterprint", after);
  if (window.matchMedia) {
    var mq = window.matchMedia("print");
    var onChange = function (e) { if (e.matches) { before(); } else { after(); } };
    if (mq.addEventListener) { mq.addEventListener("change", onChange); } else if (mq.addListener) { mq.addListener(onChange); }
  }
})();
{% endmacro %}
""")

    def __init__(self, *, lang: str = "zh"):
        super().__init__()
        self._name = "MapChrome"
        self.text = _text(lang)
        self.svg = _NORTH_SVG.format(letter=self.text["north_letter"])


def add_plugins(m: folium.Map, *, lang: str = "zh") -> None:
    """Add the fullscreen and measure controls (top left), labelled in ``lang``, metric only."""
    tx = _text(lang)
    Fullscreen(position="topleft", title=tx["fullscreen"], title_cancel=tx["fullscreen_exit"]).add_to(m)
    MeasureControl(position="topleft", primary_length_unit="meters", secondary_length_unit="kilometers",
                   primary_area_unit="hectares", secondary_area_unit="sqmeters",
                   localization="en" if lang == "en" else "cn").add_to(m)


#: The screen and print styles of the controls above (the print layout: landscape, title, legend, scale, north arrow).
PRINT_CSS = """
<style>
.sp-year-modes {margin-top:2px;}
.sp-year-modes label {margin-right:8px; white-space:nowrap; cursor:pointer;}
.sp-year-modes input {margin:0 3px 0 0; vertical-align:-2px;}
.sp-view-control a {width:auto !important; min-width:30px; padding:0 6px; font:bold 12px/30px "Microsoft YaHei","PingFang SC",
  "Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif; white-space:nowrap; color:#333;}
.sp-north-arrow {background:rgba(255,255,255,0.85); border-radius:4px; padding:2px 4px 0; line-height:0;
  box-shadow:0 1px 4px rgba(0,0,0,0.3);}
.sp-parcel-label {pointer-events:none;}
.sp-parcel-label-text {position:absolute; transform:translate(-50%,-50%); white-space:nowrap; text-align:center;
  font:11px/1.15 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif; color:#222;
  text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff;}
.leaflet-control-scale-line {font-size:12px; border-width:2px; background:rgba(255,255,255,0.85);}
@media print {
  @page {size: landscape; margin: 8mm;}
  html, body {width:100%; height:100%; margin:0; overflow:hidden;
    -webkit-print-color-adjust:exact; print-color-adjust:exact;}
  .leaflet-control-zoom, .leaflet-control-layers, .leaflet-control-measure, .leaflet-control-zoom-fullscreen,
  .leaflet-control-fullscreen, .sp-view-control, .sp-year-slider, .sp-year-modes, #sp-panel,
  .leaflet-popup-pane, .leaflet-tooltip-pane {display:none !important;}
  .sp-year-control {border:none; background:transparent; padding:0; min-width:0; font-weight:bold;}
  #sp-title {font-size:18px !important;}
  .sp-box, .sp-north-arrow, .leaflet-control-scale-line {box-shadow:none;}
}
</style>
"""


def add_print_css(m: folium.Map) -> None:
    """Add :data:`PRINT_CSS` to the page of ``m``."""
    m.get_root().html.add_child(Element(PRINT_CSS))


def bounds_of(total_bounds) -> list[list[float]]:
    """``[[south, west], [north, east]]`` of a WGS84 layer's ``total_bounds`` (west, south, east, north)."""
    west, south, east, north = (float(v) for v in total_bounds)
    return [[south, west], [north, east]]

