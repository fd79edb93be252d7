"""Make a Folium map one self-contained HTML file that fetches nothing.

A plain Folium map loads Leaflet, jQuery, Bootstrap, Font Awesome and plugin
files from public CDNs; on an intranet without internet it shows a blank page.
This module swaps each ``<script src=...>`` and stylesheet ``<link>`` that
folium emits for an inline ``<script>``/``<style>`` block holding the same file
from ``siteplan/assets`` (listed with source, licence and sha256 in
``assets/manifest.json``). Images and fonts that the CSS names become
``data:`` URIs, and Leaflet's default marker icon is set to ``data:`` URIs so
that it never guesses an image path.

:func:`remote_references` (from :mod:`siteplan.outputs.remote_refs`) then
lists every http(s) or protocol-relative reference a browser could fetch from
the result, and :func:`make_offline` refuses (:class:`OfflineError`) while any
is left, e.g. a tile layer. The bundled files are read and checked against
their sha256 by :mod:`siteplan.outputs.assets`.

The HTML is read with regular expressions written for the tag shapes folium
and branca emit (``<script src="URL"></script>``,
``<link rel="stylesheet" href="URL"/>``), not with a general HTML parser;
``tests/outputs/test_offline.py`` exercises them.
"""

from __future__ import annotations

import html as _html
import json
import posixpath
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .assets import OfflineError, asset_bytes, data_uri, index, load_manifest
from .remote_refs import HTML_TOKEN, JS_TYPES, attr_dict, is_remote, remote_references

if TYPE_CHECKING:  # pragma: no cover
    import folium

__all__ = [
    "OfflineError",
    "inline_assets",
    "remote_references",
    "make_offline",
    "save_offline",
    "load_manifest",
]


# --------------------------------------------------------------------------
# inline_assets
# --------------------------------------------------------------------------

_SCRIPT_OK_ATTRS = {"src", "type", "charset", "crossorigin", "integrity", "referrerpolicy"}
_LINK_OK_ATTRS = {"rel", "href", "type", "media", "crossorigin", "integrity", "referrerpolicy"}

_SOURCE_MAP_JS = re.compile(r"^[ \t]*//[#@][ \t]*sourceMappingURL=[^\r\n]*$", re.M)
_SOURCE_MAP_CSS = re.compile(r"/\*[#@][ \t]*sourceMappingURL=[^*]*\*/")
_CLOSE_SCRIPT = re.compile(r"</(script)", re.I)
_CLOSE_STYLE = re.compile(r"</(style)", re.I)

_LEAFLET_JS = "leaflet/leaflet.js"
_LEAFLET_ICONS = {
    "iconUrl": "leaflet/images/marker-icon.png",
    "iconRetinaUrl": "leaflet/images/marker-icon-2x.png",
    "shadowUrl": "leaflet/images/marker-shadow.png",
}


@lru_cache(maxsize=None)
def _js_block(path: str) -> str:
    text = asset_bytes(path).decode("utf-8")
    text = _SOURCE_MAP_JS.sub("", text)
    # "</script" inside a string or regex would end the element early; "<\/" means the same in JS.
    text = _CLOSE_SCRIPT.sub(r"<\\/\1", text)
    if "<!--" in text and re.search(r"<script", text, re.I):
        raise OfflineError(f"siteplan asset {path!r} holds '<!--' and '<script', which cannot be inlined safely.")
    if path == _LEAFLET_JS:
        # L.Icon.Default guesses its image folder from leaflet.css or the page URL, which
        # would request marker-icon.png next to map.html. Give it data: URIs instead.
        opts = ",".join(f"{k}:{json.dumps(data_uri(v))}" for k, v in _LEAFLET_ICONS.items())
        text += (
            "\n;(function(){var D=L.Icon.Default;D.imagePath=\"\";"
            f"D.mergeOptions({{{opts}}});}})();\n"
        )
    return text


_CSS_URL = re.compile(
    r"""url\(\s*(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'|(?P<uq>[^)"'\s]*))\s*\)""",
    re.I | re.S,
)
_FONT_FACE = re.compile(r"@font-face\s*\{[^{}]*\}", re.I)
_FONT_SRC = re.compile(r"(?P<head>(?<![\w-])src\s*:\s*)(?P<value>[^;{}]*)", re.I)


def _split_top_level(value: str) -> list[str]:
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(value):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return parts


def _resolve(css_path: str, ref: str) -> str:
    ref = ref.split("#", 1)[0].split("?", 1)[0]
    return posixpath.normpath(posixpath.join(posixpath.dirname(css_path), ref))


def _is_local_ref(ref: str) -> bool:
    r = ref.strip().lower()
    return not (r == "" or r.startswith(("data:", "#", "blob:")) or is_remote(r) or re.match(r"^[a-z][a-z0-9+.-]*:", r))


@lru_cache(maxsize=None)
def _css_block(path: str) -> str:
    _, by_path, _, omitted_files = index()
    text = asset_bytes(path).decode("utf-8")
    text = _SOURCE_MAP_CSS.sub("", text)

    def url_of(m: re.Match) -> str:
        return next(g for g in (m.group("dq"), m.group("sq"), m.group("uq")) if g is not None)

    def drop_omitted(face: re.Match) -> str:
        def fix_src(sm: re.Match) -> str:
            items = _split_top_level(sm.group("value"))
            kept = []
            for item in items:
                um = _CSS_URL.search(item)
                if um and _is_local_ref(url_of(um)) and _resolve(path, url_of(um)) in omitted_files:
                    continue
                kept.append(item.strip())
            if not kept:
                raise OfflineError(f"every font source of an @font-face rule in siteplan asset {path!r} is omitted.")
            return sm.group("head") + ",".join(kept)

        return _FONT_SRC.sub(fix_src, face.group(0))

    text = _FONT_FACE.sub(drop_omitted, text)

    def to_data(m: re.Match) -> str:
        ref = url_of(m)
        if not _is_local_ref(ref):
            return m.group(0)
        target = _resolve(path, ref)
        if target not in by_path:
            raise OfflineError(
                f"siteplan asset {path!r} names {ref!r}, which is not bundled in siteplan/assets; "
                "add it with its manifest entry (see assets/README.md)."
            )
        frag = "#" + ref.split("#", 1)[1] if "#" in ref else ""
        return f'url("{data_uri(target)}{frag}")'

    text = _CSS_URL.sub(to_data, text)
    return _CLOSE_STYLE.sub(r"<\\/\1", text)


def _rels(value: str | None) -> set[str]:
    return set((value or "").lower().split())


def inline_assets(html: str) -> str:
    """Replace the CDN ``<script>`` and stylesheet ``<link>`` tags with inline copies.

    Every ``<script src="URL"></script>`` and ``<link rel="stylesheet" href="URL"/>``
    whose URL is listed in ``assets/manifest.json`` becomes an inline
    ``<script>``/``<style>`` block at the same place (so the order of scripts and
    of the CSS cascade is kept). Inside inlined CSS, ``url(...)`` references to
    bundled images and fonts become base64 ``data:`` URIs. Leaflet's default
    marker icon is set to ``data:`` URIs. Links the manifest lists as omitted
    (Bootstrap 3 glyphicons) are removed. Every other tag is left untouched.
    """
    by_url, _, omitted, _ = index()
    out: list[str] = []
    pos = 0
    for m in HTML_TOKEN.finditer(html):
        replacement = None
        if m.group("script") is not None:
            a = attr_dict(m.group("sattrs"))
            src = (a.get("src") or "").strip()
            if (
                src in by_url
                and by_url[src].kind == "js"
                and not m.group("sbody").strip()
                and set(a) <= _SCRIPT_OK_ATTRS
                and (a.get("type") or "").strip().lower() in JS_TYPES
            ):
                replacement = f"<script>/* {by_url[src].path} (siteplan/assets) */\n{_js_block(by_url[src].path)}\n</script>"
        elif m.group("tag") is not None and m.group("name").lower() == "link":
            a = attr_dict(m.group("attrs"))
            href = (a.get("href") or "").strip()
            if "stylesheet" in _rels(a.get("rel")) and set(a) <= _LINK_OK_ATTRS:
                if href in by_url and by_url[href].kind == "css":
                    media = a.get("media")
                    media_attr = f' media="{_html.escape(media, quote=True)}"' if media else ""
                    replacement = (
                        f"<style{media_attr}>/* {by_url[href].path} (siteplan/assets) */\n"
                        f"{_css_block(by_url[href].path)}\n</style>"
                    )
                elif href in omitted and omitted[href].get("action") == "remove":
                    rec = omitted[href]
                    replacement = f"<!-- siteplan: {rec['library']} {rec['version']} stylesheet not bundled (see siteplan/assets/README.md) -->"
        if replacement is not None:
            out.append(html[pos : m.start()])
            out.append(replacement)
            pos = m.end()
    out.append(html[pos:])
    return "".join(out)


# --------------------------------------------------------------------------
# make_offline / save_offline
# --------------------------------------------------------------------------

_TILE_TEMPLATE = re.compile(r"\{[xyzs]\}|\{-y\}|\{r\}", re.I)
_GLYPHICON_USE = re.compile(r"""["']prefix["']\s*:\s*["']glyphicon["']|class\s*=\s*["'][^"']*\bglyphicon-""", re.I)


def _advice(url: str) -> str:
    by_url, _, omitted, _ = index()
    if _TILE_TEMPLATE.search(url):
        return ("a tile layer: build the map with tiles=None (siteplan's map draws its own layers), "
                "or pass the intranet tile server's URL prefix in allow=")
    if re.search(r"cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|unpkg\.com|code\.jquery\.com|bootstrapcdn\.com", url, re.I):
        return ("a JS/CSS library that siteplan does not bundle (a folium plugin or version not in "
                "siteplan/assets/manifest.json): add the file to siteplan/assets with its manifest "
                "entry (see assets/README.md), or drop the plugin")
    return "embed it (e.g. as a data: URI) or remove it; or pass an intranet URL prefix in allow="


def make_offline(html: str, *, allow: Iterable[str] = ()) -> str:
    """Inline the bundled assets, then check that nothing is left to fetch.

    Parameters
    ----------
    html
        A rendered Folium page (``m.get_root().render()``).
    allow
        URL prefixes that may stay, e.g. an intranet tile server
        (``"http://tiles.intranet/"``). Empty by default: the result must make
        no network request at all.

    Raises
    ------
    OfflineError
        If a remote reference remains (each is named with how to fix it), or
        the map uses Bootstrap 3 glyphicon icons, which are not bundled.
    """
    out = inline_assets(html)
    allowed = tuple(a for a in allow if a)
    problems = [u for u in remote_references(out) if not (allowed and u.startswith(allowed))]
    lines = [f"  - {u}\n    {_advice(u)}" for u in problems]
    if _GLYPHICON_USE.search(html):  # the map's own code, not the inlined libraries
        lines.append(
            "  - Bootstrap 3 glyphicon icons (folium.Icon's default prefix='glyphicon')\n"
            "    their font is not bundled: use folium.Icon(prefix='fa', icon=...) with a Font Awesome icon"
        )
    if lines:
        raise OfflineError(
            f"the map is not self-contained ({len(lines)} problem(s)); on an intranet without "
            "internet it would miss:\n" + "\n".join(lines)
        )
    return out


def save_offline(m: "folium.Map", path: str | Path, *, allow: Iterable[str] = ()) -> Path:
    """Render a Folium map, make it self-contained and write it as UTF-8.

    The file is written only when :func:`make_offline` succeeds, so a failed
    call leaves no half-online ``map.html`` behind. Returns the path written.
    """
    html = make_offline(m.get_root().render(), allow=allow)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
