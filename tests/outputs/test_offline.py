"""Tests for siteplan.outputs.offline (with .assets and .remote_refs): the self-contained map.html that fetches nothing.

The last tests open the offline map in headless Chromium with networking
disabled, driven over the DevTools protocol on a pipe (tests/browser.py,
standard library only). They are skipped only when no Chromium is installed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import folium
import folium.plugins
import pytest

from siteplan.outputs import assets, offline, remote_refs
from siteplan.errors import SiteplanError
from siteplan.outputs.offline import OfflineError, inline_assets, make_offline, remote_references, save_offline
from tests.browser import open_offline

ASSETS = Path(offline.__file__).resolve().parents[1] / "assets"

# Two polygons and a line in a FeatureGroup, plus a CircleMarker: four SVG paths.
GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"parcel_id": "P1", "units": 120},
            "geometry": {"type": "Polygon", "coordinates": [[[116.30, 39.90], [116.32, 39.90], [116.32, 39.92], [116.30, 39.92], [116.30, 39.90]]]},
        },
        {
            "type": "Feature",
            "properties": {"parcel_id": "P2", "units": 80},
            "geometry": {"type": "Polygon", "coordinates": [[[116.34, 39.90], [116.36, 39.90], [116.36, 39.92], [116.34, 39.90]]]},
        },
        {
            "type": "Feature",
            "properties": {"parcel_id": "L1", "units": 0},
            "geometry": {"type": "LineString", "coordinates": [[116.30, 39.89], [116.36, 39.93]]},
        },
    ],
}
N_PATHS = 4


def demo_map(*, tiles=None, markers: bool = False) -> folium.Map:
    """A map with every element siteplan's map.html uses."""
    m = folium.Map(location=[39.91, 116.33], zoom_start=13, tiles=tiles)
    fg = folium.FeatureGroup(name="2026").add_to(m)
    folium.GeoJson(
        GEOJSON,
        name="parcels",
        style_function=lambda f: {"color": "#222", "fillColor": "#e66", "weight": 1},
        tooltip=folium.GeoJsonTooltip(["parcel_id", "units"], aliases=["Parcel", "Units"]),
        popup=folium.GeoJsonPopup(["parcel_id", "units"], localize=True),
    ).add_to(fg)
    folium.CircleMarker([39.91, 116.33], radius=6, fill=True, tooltip="station").add_to(fg)
    if markers:
        folium.Marker([39.905, 116.31]).add_to(m)  # Leaflet's default icon
        folium.Marker([39.915, 116.35], icon=folium.Icon(prefix="fa", icon="house", color="red")).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    folium.plugins.Fullscreen().add_to(m)
    folium.plugins.MeasureControl(primary_length_unit="meters", primary_area_unit="hectares").add_to(m)
    return m


def _tag_urls(html: str) -> list[str]:
    return re.findall(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"', html)


# ---------------------------------------------------------------------------
# inline_assets / save_offline
# ---------------------------------------------------------------------------


def test_saved_map_has_no_remote_reference(tmp_path):
    out = save_offline(demo_map(markers=True), tmp_path / "out" / "map.html")
    assert out == tmp_path / "out" / "map.html"
    html = out.read_text(encoding="utf-8")
    assert remote_references(html) == []
    # Independent of remote_references: no external script or stylesheet tag is left ...
    assert not re.search(r"<script[^>]*\ssrc=", html, re.I)
    assert not re.search(r"<link[^>]*stylesheet", html, re.I)
    # ... and every url() in the inlined CSS is a data: URI (or Leaflet's "#default#VML").
    for block in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S | re.I):
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]*)", block):
            assert ref.startswith(("data:", "#")), ref
    # Leaflet's default icon uses data: URIs instead of guessing an image folder.
    assert 'D.imagePath="";D.mergeOptions({iconUrl:"data:image/png;base64,' in html


def test_inlined_blocks_keep_the_order_of_the_tags():
    html = demo_map().get_root().render()
    urls = _tag_urls(html)
    by_url, _, omitted, _ = assets.index()
    expected = [by_url[u].path for u in urls if u not in omitted]
    out = inline_assets(html)
    seen = re.findall(r"<(?:script|style)>/\* (\S+) \(siteplan/assets\) \*/", out)
    assert seen == expected
    assert "jquery/jquery.min.js" in seen and seen.index("leaflet/leaflet.js") < seen.index("leaflet-measure/leaflet-measure.min.js")
    # The map's own code is untouched.
    body = html[html.index("<body>"):]
    assert body in out


def test_glyphicons_link_is_removed_and_glyphicon_icons_are_refused():
    html = demo_map().get_root().render()
    assert "bootstrap-glyphicons.css" in html
    assert "bootstrap-glyphicons.css" not in inline_assets(html)

    m = demo_map()
    folium.Marker([39.91, 116.33], icon=folium.Icon()).add_to(m)  # folium's default: prefix="glyphicon"
    with pytest.raises(OfflineError, match=r"(?s)glyphicon.*prefix='fa'"):
        make_offline(m.get_root().render())


def test_dualmap_with_leaflet_sync_is_self_contained(tmp_path):
    dm = folium.plugins.DualMap(location=[39.91, 116.33], zoom_start=13, tiles=None)
    folium.GeoJson(GEOJSON).add_to(dm.m1)
    folium.GeoJson(GEOJSON).add_to(dm.m2)
    html = dm.get_root().render()
    assert any("L.Map.Sync" in u for u in _tag_urls(html))
    out = save_offline(dm, tmp_path / "dual.html").read_text(encoding="utf-8")
    assert remote_references(out) == []
    assert "/* leaflet.sync/L.Map.Sync.js (siteplan/assets) */" in out


def test_every_folium_url_is_bundled_or_deliberately_omitted():
    """Fails first when a folium upgrade changes a library URL."""
    by_url, _, omitted, _ = assets.index()
    dm = folium.plugins.DualMap(tiles=None)
    urls = set(_tag_urls(demo_map(markers=True).get_root().render())) | set(_tag_urls(dm.get_root().render()))
    missing = sorted(u for u in urls if u not in by_url and u not in omitted)
    assert not missing, f"not in siteplan/assets/manifest.json: {missing}"


# ---------------------------------------------------------------------------
# make_offline refusals
# ---------------------------------------------------------------------------


def test_tile_layer_is_rejected_with_the_tile_url(tmp_path):
    m = demo_map(tiles="OpenStreetMap")
    with pytest.raises(OfflineError) as info:
        make_offline(m.get_root().render())
    msg = str(info.value)
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in msg
    assert "tiles=None" in msg
    assert isinstance(info.value, SiteplanError) and isinstance(info.value, ValueError)
    # The OSM attribution link (an <a href> in a JS string) is not a fetch.
    assert "openstreetmap.org/copyright" not in msg
    # save_offline writes nothing when it fails.
    with pytest.raises(OfflineError):
        save_offline(m, tmp_path / "map.html")
    assert not (tmp_path / "map.html").exists()


def test_allowed_prefix_passes():
    m = demo_map()
    folium.TileLayer("http://tiles.intranet.local/{z}/{x}/{y}.png", attr="Planning bureau").add_to(m)
    with pytest.raises(OfflineError, match=r"tiles\.intranet\.local"):
        make_offline(m.get_root().render())
    assert make_offline(m.get_root().render(), allow=["http://tiles.intranet.local/"])


def test_unbundled_plugin_is_rejected_with_advice():
    m = demo_map()
    folium.plugins.Draw().add_to(m)
    with pytest.raises(OfflineError) as info:
        make_offline(m.get_root().render())
    msg = str(info.value)
    assert "https://cdnjs.cloudflare.com/ajax/libs/leaflet.draw/1.0.2/leaflet.draw.js" in msg
    assert "siteplan/assets" in msg


# ---------------------------------------------------------------------------
# remote_references
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<script src="https://x.org/a.js"></script>', ["https://x.org/a.js"]),
        ("<SCRIPT SRC = ' https://x.org/u.js '></SCRIPT>", ["https://x.org/u.js"]),
        ("<img src=//cdn.x.org/i.png alt=x>", ["//cdn.x.org/i.png"]),
        ('<link rel="stylesheet" href="https://x.org/s.css"/>', ["https://x.org/s.css"]),
        ('<link rel="preconnect" href="//fonts.x.org">', ["//fonts.x.org"]),
        ('<img srcset="a.png 1x, https://x.org/b.png 2x">', ["https://x.org/b.png"]),
        ('<iframe src="http://x.org/frame"></iframe>', ["http://x.org/frame"]),
        ('<img src="https&#58;//x.org/entity.png">', ["https://x.org/entity.png"]),
        ('<style>.a{background:url("https://x.org/b.png")}</style>', ["https://x.org/b.png"]),
        ("<style>.a{background:url(//x.org/c.png) no-repeat}</style>", ["//x.org/c.png"]),
        ("<style>.a{background:url( 'http://x.org/d.png' )}</style>", ["http://x.org/d.png"]),
        ('<style>@import "https://x.org/e.css";</style>', ["https://x.org/e.css"]),
        ("<style>@import url(//x.org/f.css) screen;</style>", ["//x.org/f.css"]),
        ("<style>@font-face{src:url(https://x.org/g.woff2)/*x*/}</style>", ["https://x.org/g.woff2"]),
        ('<div style="background-image:url(https://x.org/h.png)"></div>', ["https://x.org/h.png"]),
        ('<script>L.tileLayer("https://{s}.tile.x.org/{z}/{x}/{y}.png").addTo(m);</script>', ["https://{s}.tile.x.org/{z}/{x}/{y}.png"]),
        ("<script>L.tileLayer('//{s}.tiles.x.org/{z}/{x}/{y}.png')</script>", ["//{s}.tiles.x.org/{z}/{x}/{y}.png"]),
        ('<script>var t = {"url": "https:\\/\\/x.org\\/t\\/{z}\\/{x}\\/{y}.png"};</script>', ["https://x.org/t/{z}/{x}/{y}.png"]),
        ("<script>var u = 'http\\x3a//x.org/esc.js';</script>", ["http://x.org/esc.js"]),
        ("<script>var base = 'https://' + host + '/tiles';</script>", ["https://"]),
        ("<script>fetch(`https://x.org/${z}/a.png`)</script>", ["https://x.org/${z}/a.png"]),
        ("<script>el.innerHTML = '<img src=\"https://x.org/i.png\">';</script>", ["https://x.org/i.png"]),
        ("<script>el.innerHTML = '<img src=\"https&#x3A;&#x2F;&#x2F;x.org&#x2F;e.png\">';</script>", ["https://x.org/e.png"]),
        ("<script>el.innerHTML = '<div style=\"background:url(//x.org/j.png)\"></div>';</script>", ["//x.org/j.png"]),
        ("<script>s.textContent = '.k{background:url(https://x.org/k.png)}';</script>", ["https://x.org/k.png"]),
        ('<body onload="fetch(\'https://x.org/ping\')">', ["https://x.org/ping"]),
        ('<iframe srcdoc="&lt;img src=&quot;https://x.org/inner.png&quot;&gt;"></iframe>', ["https://x.org/inner.png"]),
        ('<meta http-equiv="refresh" content="0; url=https://x.org/next">', ["https://x.org/next"]),
        # A regex literal with quotes and slashes must not derail the string scan.
        ("<script>var r = /[\"'`]\\/\\//g; var v = \"https://x.org/after-regex.js\";</script>", ["https://x.org/after-regex.js"]),
        ("<script>var q = a / b; var w = c / d; var v = 'https://x.org/after-division.js';</script>", ["https://x.org/after-division.js"]),
        # Strict when the script does not lex: the URL in the would-be comment counts.
        ('<script>var s = "unterminated; // https://x.org/in-broken-js.js\n</script>', ["https://x.org/in-broken-js.js"]),
        # Repeats are reported once, in document order.
        ('<script src="https://x.org/1.js"></script><img src="https://x.org/2.png"><script src="https://x.org/1.js"></script>', ["https://x.org/1.js", "https://x.org/2.png"]),
    ],
)
def test_remote_references_finds(html, expected):
    assert remote_references(html) == expected


@pytest.mark.parametrize(
    "html",
    [
        '<!-- <script src="https://x.org/a.js"></script> -->',
        "<script>\n// Workaround for using this plugin with Leaflet>=1.8.0\n// https://github.com/ljagis/leaflet-measure/issues/171\nvar a = 1;</script>",
        "<script>/*! licence https://x.org/LICENSE */ var a = 1; /* see //x.org/docs */</script>",
        "<style>/* https://x.org/a.png url(https://x.org/b.png) @import 'https://x.org/c.css'; */ .a{color:red}</style>",
        '<a href="https://x.org/">a link</a><area href="https://x.org/area">',
        "<p>Data: https://x.org/source and //x.org/other</p>",
        '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0"/></svg>',
        "<script>document.createElementNS('http://www.w3.org/2000/svg', 'svg');</script>",
        """<style>.b{background:url("data:image/svg+xml,%3csvg xmlns='http://www.w3.org/2000/svg'%3e%3c/svg%3e")}</style>""",
        "<script>if (/https?:\\/\\/x\\.org/.test(s)) { n = a / 2; } // http://x.org/after</script>",
        '<script>throw new TypeError("Bootstrap\'s tooltips require Popper (https://popper.js.org)");</script>',
        "<script>var attribution = '&copy; <a href=\"https://www.openstreetmap.org/copyright\">OSM</a>';</script>",
        "<script>var s = 'a // b'; var t = \"//\";</script>",
        '<img src="data:image/png;base64,AAAA"><img src="images/local.png">',
    ],
)
def test_remote_references_ignores(html):
    assert remote_references(html) == []


# ---------------------------------------------------------------------------
# The asset folder and its manifest
# ---------------------------------------------------------------------------


def _manifest() -> dict:
    return json.loads((ASSETS / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_sha256_match_the_files():
    man = _manifest()
    assert man["files"]
    for rec in man["files"]:
        data = (ASSETS / rec["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rec["sha256"], rec["path"]
        assert len(data) == rec["bytes"], rec["path"]
        assert rec["replaces"] and all(u.startswith("https://") for u in rec["replaces"]), rec["path"]
        for key in ("library", "version", "source", "license"):
            assert rec[key], (rec["path"], key)


def test_installed_and_pinned_folium_match_the_manifest():
    import tomllib

    wanted = _manifest()["folium_version"]
    assert folium.__version__ == wanted, f"folium {folium.__version__} is installed; the assets are for {wanted}"
    pyproject = tomllib.loads((ASSETS.parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [d for d in pyproject["project"]["dependencies"] if re.match(r"folium\b", d)]
    assert pins == [f"folium=={wanted}"], pins


def test_every_manifest_file_has_a_licence_file():
    man = _manifest()
    libs = man["libraries"]
    for rec in man["files"]:
        lib = libs[rec["library"]]
        assert rec["license_file"] == lib["license_file"]
        lic = ASSETS / rec["license_file"]
        assert lic.is_file() and lic.stat().st_size > 200, rec["path"]
        assert lic.parent == ASSETS / Path(rec["path"]).parts[0], rec["path"]  # beside the library's files
        assert hashlib.sha256(lic.read_bytes()).hexdigest() == lib["license_sha256"]


def test_asset_folder_holds_only_listed_files_and_stays_small():
    man = _manifest()
    listed = {rec["path"] for rec in man["files"]} | {lib["license_file"] for lib in man["libraries"].values()}
    listed |= {"manifest.json", "README.md"}
    present = {p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert present == listed
    assert sum((ASSETS / p).stat().st_size for p in present) < 3_000_000
    assert not any(p.endswith((".ttf", ".eot", ".woff", ".map")) for p in present)


def test_vendored_scripts_lex_and_can_be_inlined():
    """The JS lexer must read every bundled library (else it falls back to counting URLs in comments)."""
    for rec in _manifest()["files"]:
        if rec["kind"] != "js":
            continue
        text = (ASSETS / rec["path"]).read_text(encoding="utf-8")
        remote_refs._js_literals(text)  # raises on a lexing failure
        assert "</script" not in text.lower() and "<!--" not in text, rec["path"]
        assert remote_references(f"<script>{text}</script>") == [], rec["path"]


def test_corrupted_asset_is_refused(monkeypatch):
    entry = assets.index()[1]["leaflet/leaflet.js"]
    monkeypatch.setitem(assets.index()[1], "leaflet/leaflet.js", assets._Entry(entry.path, entry.kind, "0" * 64))
    assets.asset_bytes.cache_clear()
    try:
        with pytest.raises(OfflineError, match="does not match assets/manifest.json"):
            assets.asset_bytes("leaflet/leaflet.js")
    finally:
        monkeypatch.undo()
        assets.asset_bytes.cache_clear()


# ---------------------------------------------------------------------------
# Real browser: headless Chromium, networking disabled, DevTools over a pipe
# ---------------------------------------------------------------------------


_PAGE_STATE = """
(async () => {
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const icon = document.querySelector('img.leaflet-marker-icon');
  return {
    paths: document.querySelectorAll('path.leaflet-interactive').length,
    leaflet: typeof L === 'object' ? L.version : null,
    controls: {
      layers: !!document.querySelector('.leaflet-control-layers'),
      fullscreen: !!document.querySelector('.leaflet-control-zoom-fullscreen.fullscreen-icon'),
      measure: !!document.querySelector('.leaflet-control-measure'),
    },
    markerIcon: icon ? icon.src.slice(0, 22) : null,
    fontsLoaded: [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family),
  };
})()
"""


def open_in_chromium(page: Path, profile: Path) -> dict:
    """Load ``page`` offline; return the requests it made, console errors and DOM state."""
    res = open_offline(page, profile, _PAGE_STATE)
    return {**res, "state": res["value"]}


def test_offline_map_in_headless_chromium(tmp_path):
    page = save_offline(demo_map(markers=True), tmp_path / "map.html")
    res = open_in_chromium(page, tmp_path / "profile")
    assert res["loaded"]
    assert res["requests"] == [], "requests left the page"
    assert res["errors"] == [], "console errors"
    state = res["state"]
    assert state["leaflet"] == "1.9.3"
    assert state["paths"] == N_PATHS  # the GeoJSON features and the CircleMarker are drawn
    assert state["controls"] == {"layers": True, "fullscreen": True, "measure": True}
    assert state["markerIcon"] == "data:image/png;base64,"
    assert "Font Awesome 6 Free" in state["fontsLoaded"]  # the awesome-marker's icon font, from a data: URI


def test_dualmap_in_headless_chromium(tmp_path):
    dm = folium.plugins.DualMap(location=[39.91, 116.33], zoom_start=13, tiles=None)
    folium.GeoJson(GEOJSON).add_to(dm.m1)
    folium.GeoJson(GEOJSON).add_to(dm.m2)
    res = open_in_chromium(save_offline(dm, tmp_path / "dual.html"), tmp_path / "profile")
    assert res["loaded"]
    assert res["requests"] == [], "requests left the page"
    assert res["errors"] == [], "console errors"
    assert res["state"]["paths"] == 2 * len(GEOJSON["features"])


def test_browser_check_catches_a_cdn_map(tmp_path):
    """The same check on a plain Folium map (CDN links) must see the requests and errors."""
    page = tmp_path / "cdn_map.html"
    page.write_text(demo_map().get_root().render(), encoding="utf-8")
    res = open_in_chromium(page, tmp_path / "profile")
    assert any("cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in r for r in res["requests"])
    assert any("ERR_INTERNET_DISCONNECTED" in e or "ERR_NAME_NOT_RESOLVED" in e for e in res["errors"])
    assert res["state"]["paths"] == 0
