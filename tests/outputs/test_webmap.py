"""The map: tile choice, escaping, the GCJ-02 display shift, and the offline browser test.

The browser tests open map.html in headless Chromium with the network
disabled (the DevTools harness of tests/browser.py)
and pass only if no request leaves the page, there is no console error, the
used parcels are drawn (counted in the DOM against allocation.csv) and a
parcel named ``<img src=x onerror=alert(1)>`` stays text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from siteplan.errors import ScenarioError
from siteplan.inputs.gcj02 import wgs84_to_gcj02
from siteplan.outputs.offline import remote_references
from siteplan.pipeline import run
from siteplan.outputs.webmap import TileChoice, build_map, render_map, tile_choice
from tests.browser import open_offline
from tests.cities import write_mini_city

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo-2016-2020.toml"

XSS = "<img src=x onerror=alert(1)>"


# ---------------------------------------------------------------------------
# Tile choice
# ---------------------------------------------------------------------------


def test_tile_choice(monkeypatch):
    for var in ("SITEPLAN_TIANDITU_KEY", "TIANDITU_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert tile_choice(None) == TileChoice("none")
    assert tile_choice(None, tiles="gaode").gcj02 and not tile_choice(None, tiles="osm").gcj02
    with pytest.raises(ScenarioError, match=r"\[map\] tianditu_key.*SITEPLAN_TIANDITU_KEY"):
        tile_choice(None, tiles="tianditu")
    monkeypatch.setenv("SITEPLAN_TIANDITU_KEY", "0123456789abcdef0123456789abcdef")
    assert tile_choice(None, tiles="tianditu").key == "0123456789abcdef0123456789abcdef"
    with pytest.raises(ScenarioError, match="letters and digits"):
        tile_choice(None, tiles="tianditu", key="abc';alert(1);//")
    with pytest.raises(ScenarioError, match="unknown map tiles 'google'"):
        tile_choice(None, tiles="google")


# ---------------------------------------------------------------------------
# The mini city's map (fast) with hostile names
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """The mini city with a script in every parcel name and a station name; solved and written."""
    folder = tmp_path_factory.mktemp("hostile")
    scenario = write_mini_city(folder / "city")
    parcels = gpd.read_file(folder / "city" / "parcels.gpkg")
    parcels["name"] = [XSS.replace("1", str(i + 1)) for i in range(len(parcels))]
    parcels.to_file(folder / "city" / "parcels.gpkg", engine="pyogrio")
    stations = gpd.read_file(folder / "city" / "stations.gpkg")
    stations.loc[0, "station"] = "</script><script>alert('st')</script>"
    stations.to_file(folder / "city" / "stations.gpkg", engine="pyogrio")
    out = folder / "out"
    result = run(scenario, out_dir=out)
    return out, result


def test_map_is_one_file_without_remote_references(hostile_run):
    out, _ = hostile_run
    text = (out / "map.html").read_text(encoding="utf-8")
    assert remote_references(text) == []
    assert not re.search(r"<(script|link)[^>]*\s(src|href)=", text, re.I)
    # Hostile text never appears raw: not in a popup's data, not in a script.
    assert "<img src=x" not in text and "alert('st')</script>" not in text
    hits = [m.start() for m in re.finditer(r"img src=x onerror=alert\(1\)", text)]
    assert hits and all(text[i - 3:i] == "lt;" for i in hits)  # "&lt;" (inside JSON: "\u0026lt;")


def test_english_labels(hostile_run, tmp_path):
    _, result = hostile_run
    page = render_map(result.plan, result.layers, result.scenario, tmp_path / "en.html", lang="en")
    text = page.read_text(encoding="utf-8")
    assert "Supplied 2016" in text and "Targets and placed units" in text and "Housing type" in text
    assert "供地" not in text.split("<body>")[1].split("<script>")[0]


def district_labels(page: str) -> list[str]:
    """The district names drawn on a map page (its DivIcons' HTML, JSON strings in the script)."""
    icons = [json.loads(f'"{s}"') for s in re.findall(r'"(\\u003cdiv class=\\u0027sp-district-label(?:[^"\\\n]|\\.)*)"', page)]
    return sorted(re.fullmatch(r"<div class='sp-district-label'>(.*)</div>", h).group(1) for h in icons)


def test_english_district_labels_use_district_en(hostile_run, tmp_path):
    _, result = hostile_run
    zh = render_map(result.plan, result.layers, result.scenario, tmp_path / "zh.html").read_text(encoding="utf-8")
    # Without a district_en column, English falls back to the layer's names.
    en_plain = render_map(result.plan, result.layers, result.scenario, tmp_path / "en0.html", lang="en").read_text(encoding="utf-8")
    assert district_labels(zh) == district_labels(en_plain) == ["东城区", "西城区"]
    layers = result.layers
    districts = layers.districts.assign(district_en=["Dongcheng", None])
    layers = type(layers)(**{**layers.__dict__, "districts": districts})
    en = render_map(result.plan, layers, result.scenario, tmp_path / "en.html", lang="en").read_text(encoding="utf-8")
    assert district_labels(en) == ["Dongcheng", "西城区"]  # a missing English name keeps the Chinese one
    zh2 = render_map(result.plan, layers, result.scenario, tmp_path / "zh2.html").read_text(encoding="utf-8")
    assert district_labels(zh2) == ["东城区", "西城区"]


def test_gaode_shifts_only_the_displayed_geometry(hostile_run, tmp_path):
    out, result = hostile_run
    before = (out / "allocation.geojson").read_bytes()
    m, allow = build_map(result.plan, result.layers, result.scenario, tiles="gaode")
    assert allow and allow[0].startswith("https://webrd0")
    plain, _ = build_map(result.plan, result.layers, result.scenario, tiles=None)
    get = lambda mm: [c for c in mm._children.values() if type(c).__name__ == "FeatureGroup" and "2016" in c.layer_name]  # noqa: E731
    shifted = get(m)[0]
    unshifted = get(plain)[0]
    gj_s = next(iter(shifted._children.values())).data["features"][0]["geometry"]["coordinates"][0][0]
    gj_p = next(iter(unshifted._children.values())).data["features"][0]["geometry"]["coordinates"][0][0]
    lon, lat = wgs84_to_gcj02(gj_p[0], gj_p[1])
    assert gj_s == pytest.approx([float(lon), float(lat)], abs=2e-6)
    assert abs(gj_s[0] - gj_p[0]) > 1e-3  # hundreds of metres, not rounding
    # The exports are untouched: WGS84 in allocation.geojson.
    assert (out / "allocation.geojson").read_bytes() == before
    path = render_map(result.plan, result.layers, result.scenario, tmp_path / "gaode.html", tiles="gaode")
    refs = remote_references(path.read_text(encoding="utf-8"))
    assert refs and all(r.startswith("https://webrd0{s}.is.autonavi.com/") for r in refs)


def test_hostile_names_stay_text_in_the_browser(hostile_run, tmp_path):
    out, _ = hostile_run
    used = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")["parcel_id"].nunique()
    script = """
(async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const paths = [...document.querySelectorAll('path.sp-parcel')];
  const texts = [];
  for (const p of paths) {
    p.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    p.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: 10, clientY: 10}));
    await new Promise(r => setTimeout(r, 30));
    const pop = document.querySelector('.leaflet-popup-content');
    if (pop) texts.push(pop.textContent);
  }
  for (const c of document.querySelectorAll('path.leaflet-interactive')) {
    c.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
  }
  await new Promise(r => setTimeout(r, 100));
  return {
    parcels: paths.length,
    popups: texts,
    injectedImages: document.querySelectorAll('.leaflet-pane img[src="x"], .leaflet-popup img, .leaflet-tooltip img').length,
    injectedScripts: [...document.scripts].filter(s => s.textContent.includes("alert('st')") && !s.textContent.includes('_add(')).length,
  };
})()
"""
    res = open_offline(out / "map.html", tmp_path / "profile", script)
    assert res["loaded"]
    assert res["requests"] == [], "requests left the page"
    assert res["errors"] == [], res["errors"]
    assert res["dialogs"] == [], "an injected script ran"
    v = res["value"]
    assert v["parcels"] == used
    assert v["popups"] and all("<img src=x onerror=alert(" in t for t in v["popups"])  # shown as text
    assert v["injectedImages"] == 0 and v["injectedScripts"] == 0


# ---------------------------------------------------------------------------
# The demo's map in the browser
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_map(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-map") / "demo"
    result = run(DEMO, out_dir=out)
    return out, result


def test_demo_map_offline_in_headless_chromium(demo_map, tmp_path):
    out, _ = demo_map
    page = out / "map.html"
    assert page.stat().st_size < 4_000_000
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")
    used = alloc["parcel_id"].nunique()
    first_year = int(alloc["year"].min())
    in_first_year = alloc.loc[alloc["year"] == first_year, "parcel_id"].nunique()
    script = """
(async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const count = () => document.querySelectorAll('path.sp-parcel').length;
  const all = count();
  const slider = document.querySelector('input.sp-year-slider');
  slider.value = 0; slider.dispatchEvent(new Event('input'));
  await new Promise(r => requestAnimationFrame(r));
  const first = count();
  const label = document.querySelector('.sp-year-label').textContent;
  slider.value = slider.max; slider.dispatchEvent(new Event('input'));
  return {
    all, first, label, again: count(),
    controls: {
      layers: !!document.querySelector('.leaflet-control-layers'),
      fullscreen: !!document.querySelector('.leaflet-control-zoom-fullscreen'),
      measure: !!document.querySelector('.leaflet-control-measure'),
      legend: !!document.getElementById('sp-legend'),
      panel: document.querySelectorAll('#sp-panel tbody tr').length,
    },
    overlays: [...document.querySelectorAll('.leaflet-control-layers-overlays span')].map(s => s.textContent.trim()),
  };
})()
"""
    res = open_offline(page, tmp_path / "profile", script)
    assert res["loaded"]
    assert res["requests"] == [], "requests left the page"
    assert res["errors"] == [], res["errors"]
    v = res["value"]
    assert v["all"] == used and v["again"] == used
    assert v["first"] == in_first_year and f"{first_year}" in v["label"]
    assert v["controls"] == {"layers": True, "fullscreen": True, "measure": True, "legend": True, "panel": 6}
    for name in ("地铁线路", "地铁站点", "站点步行范围（800 m）", "产业园区", "禁止建设区", "行政区与片区", "服务设施：学校"):
        assert name in v["overlays"], v["overlays"]


def test_a_map_that_gets_its_size_late_fits_the_plan_when_it_does(demo_map, tmp_path):
    """In the app's Results frame the map may have no height when its page loads (under load, the frame is laid
    out late), and its opening view lands at the closest zoom. Here the map's box is emptied, the view thrown to
    zoom 17 elsewhere (as a fit with no size leaves it), and the box given its height back: the map must fit the
    plan's parcels again by itself, every used parcel in view."""
    out, _ = demo_map
    script = """
(async () => {
  const k = Object.keys(window).filter(k => k.startsWith('map_') && window[k] && window[k].getBounds)[0];
  const m = window[k], box = m.getContainer(), height = box.style.height;
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  box.style.height = '0px';
  await frame();
  m.setView([0, 0], 17, {animate: false});
  box.style.height = height;
  await frame();
  await new Promise(r => setTimeout(r, 300));
  const view = m.getBounds(); let used = 0, shown = 0;
  m.eachLayer(function visit(l) {
    if (l.feature && l.feature.properties && l.feature.properties.units > 0 && l.getBounds) {
      used += 1; if (view.contains(l.getBounds())) { shown += 1; } }
    if (l.eachLayer) { l.eachLayer(visit); } });
  return [m.getZoom(), used, shown];
})()
"""
    res = open_offline(out / "map.html", tmp_path / "profile", script, viewport=(1200, 800))
    assert res["errors"] == [], res["errors"]
    zoom, used, shown = res["value"]
    assert used >= 400 and shown == used and zoom < 17, (zoom, used, shown)


@pytest.mark.parametrize(("tiles", "prefix"), [("osm", "https://tile.openstreetmap.org/"), ("tianditu", "https://t{s}.tianditu.gov.cn/")])
def test_online_tiles_fetch_only_from_their_server(hostile_run, tmp_path, monkeypatch, tiles, prefix):
    _, result = hostile_run
    monkeypatch.setenv("SITEPLAN_TIANDITU_KEY", "0123456789abcdef0123456789abcdef")
    path = render_map(result.plan, result.layers, result.scenario, tmp_path / f"{tiles}.html", tiles=tiles)
    refs = remote_references(path.read_text(encoding="utf-8"))
    assert refs and all(r.startswith(prefix) for r in refs), refs


def test_popup_year_is_not_formatted_as_a_number(hostile_run):
    out, _ = hostile_run
    text = (out / "map.html").read_text(encoding="utf-8")
    assert re.search(r'"year": "20\d\d"', text)
