"""Make a Folium map one self-contained HTML file that fetches nothing.

A plain Folium map loads Leaflet, jQuery, Bootstrap, Font Awesome and plugin
files from public CDNs; on an intranet without internet it shows a blank page.
This module swaps each ``<script src=...>`` and stylesheet ``<link>`` that
folium emits for an inline ``<script>``/``<style>`` block holding the same file
from ``siteplan/assets`` (listed with source, licence and sha256 in
``assets/manifest.json``). Images and fonts that the CSS names become
``data:`` URIs, and Leaflet's default marker icon is set to ``data:`` URIs so
that it never guesses an image path.

:func:`remote_references` then lists every http(s) or protocol-relative
reference a browser could fetch from the result, and :func:`make_offline`
refuses (:class:`OfflineError`) while any is left, e.g. a tile layer.

The HTML is read with regular expressions written for the tag shapes folium
and branca emit (``<script src="URL"></script>``,
``<link rel="stylesheet" href="URL"/>``), not with a general HTML parser;
``tests/outputs/test_offline.py`` exercises them.
"""

from __future__ import annotations

import base64
import hashlib
import html as _html
import json
import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..errors import SiteplanError

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


class OfflineError(SiteplanError, ValueError):
    """The map would fetch something over the network, or an asset is broken."""


# --------------------------------------------------------------------------
# Assets and manifest
# --------------------------------------------------------------------------

_MIME = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".css": "text/css",
    ".js": "text/javascript",
}


def _assets_root():
    return resources.files("siteplan").joinpath("assets")


@lru_cache(maxsize=1)
def load_manifest() -> dict:
    """The parsed ``assets/manifest.json``."""
    try:
        text = _assets_root().joinpath("manifest.json").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise OfflineError(
            "siteplan/assets/manifest.json is missing: the offline map assets were not installed "
            "with siteplan; reinstall siteplan (the wheel must include siteplan/assets)."
        ) from exc
    return json.loads(text)


@dataclass(frozen=True)
class _Entry:
    path: str
    kind: str
    sha256: str


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, _Entry], dict[str, _Entry], dict[str, dict], frozenset[str]]:
    """(url -> entry, path -> entry, omitted url -> record, omitted file paths)."""
    man = load_manifest()
    by_url: dict[str, _Entry] = {}
    by_path: dict[str, _Entry] = {}
    for rec in man["files"]:
        e = _Entry(rec["path"], rec["kind"], rec["sha256"])
        by_path[e.path] = e
        for url in rec.get("replaces", ()):
            by_url[url] = e
    omitted = {rec["url"]: rec for rec in man.get("omitted_urls", ())}
    omitted_files = frozenset(rec["path"] for rec in man.get("omitted_files", ()))
    return by_url, by_path, omitted, omitted_files


@lru_cache(maxsize=None)
def _asset_bytes(path: str) -> bytes:
    _, by_path, _, _ = _index()
    entry = by_path[path]
    try:
        data = _assets_root().joinpath(*path.split("/")).read_bytes()
    except (FileNotFoundError, OSError) as exc:
        raise OfflineError(
            f"siteplan asset {path!r} is missing; reinstall siteplan (the wheel must include siteplan/assets)."
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise OfflineError(
            f"siteplan asset {path!r} does not match assets/manifest.json (sha256 {digest}, "
            f"expected {entry.sha256}); restore it from the source named in assets/README.md."
        )
    return data


@lru_cache(maxsize=None)
def _data_uri(path: str) -> str:
    ext = posixpath.splitext(path)[1].lower()
    mime = _MIME.get(ext)
    if mime is None:
        raise OfflineError(f"siteplan asset {path!r} has no known MIME type; add its extension to offline._MIME.")
    return f"data:{mime};base64,{base64.b64encode(_asset_bytes(path)).decode('ascii')}"


# --------------------------------------------------------------------------
# HTML tokenising (for the tag shapes folium emits)
# --------------------------------------------------------------------------

_HTML_TOKEN = re.compile(
    r"""
    (?P<comment><!--.*?(?:-->|\Z))
  | (?P<script><script\b(?P<sattrs>(?:[^>"']|"[^"]*"|'[^']*')*)>(?P<sbody>.*?)(?:</script\s*>|\Z))
  | (?P<style><style\b(?P<cattrs>(?:[^>"']|"[^"]*"|'[^']*')*)>(?P<cbody>.*?)(?:</style\s*>|\Z))
  | (?P<tag><(?P<name>[A-Za-z][^\s/>]*)(?P<attrs>(?:[^>"']|"[^"]*"|'[^']*')*)>)
    """,
    re.I | re.S | re.X,
)

_ATTR = re.compile(
    r"""(?P<name>[^\s"'>/=]+)(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<uq>[^\s"'=<>`]+)))?""",
    re.S,
)


def _attrs(text: str) -> list[tuple[str, str | None]]:
    out = []
    for m in _ATTR.finditer(text):
        raw = m.group("dq")
        if raw is None:
            raw = m.group("sq")
        if raw is None:
            raw = m.group("uq")
        out.append((m.group("name").lower(), None if raw is None else _html.unescape(raw)))
    return out


def _attr_dict(text: str) -> dict[str, str | None]:
    d: dict[str, str | None] = {}
    for k, v in _attrs(text):
        d.setdefault(k, v)  # the first occurrence wins, as in browsers
    return d


# --------------------------------------------------------------------------
# inline_assets
# --------------------------------------------------------------------------

_SCRIPT_OK_ATTRS = {"src", "type", "charset", "crossorigin", "integrity", "referrerpolicy"}
_LINK_OK_ATTRS = {"rel", "href", "type", "media", "crossorigin", "integrity", "referrerpolicy"}
_JS_TYPES = {"", "text/javascript", "application/javascript"}

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
    text = _asset_bytes(path).decode("utf-8")
    text = _SOURCE_MAP_JS.sub("", text)
    # "</script" inside a string or regex would end the element early; "<\/" means the same in JS.
    text = _CLOSE_SCRIPT.sub(r"<\\/\1", text)
    if "<!--" in text and re.search(r"<script", text, re.I):
        raise OfflineError(f"siteplan asset {path!r} holds '<!--' and '<script', which cannot be inlined safely.")
    if path == _LEAFLET_JS:
        # L.Icon.Default guesses its image folder from leaflet.css or the page URL, which
        # would request marker-icon.png next to map.html. Give it data: URIs instead.
        opts = ",".join(f"{k}:{json.dumps(_data_uri(v))}" for k, v in _LEAFLET_ICONS.items())
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
    return not (r == "" or r.startswith(("data:", "#", "blob:")) or _is_remote(r) or re.match(r"^[a-z][a-z0-9+.-]*:", r))


@lru_cache(maxsize=None)
def _css_block(path: str) -> str:
    _, by_path, _, omitted_files = _index()
    text = _asset_bytes(path).decode("utf-8")
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
        return f'url("{_data_uri(target)}{frag}")'

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
    by_url, _, omitted, _ = _index()
    out: list[str] = []
    pos = 0
    for m in _HTML_TOKEN.finditer(html):
        replacement = None
        if m.group("script") is not None:
            a = _attr_dict(m.group("sattrs"))
            src = (a.get("src") or "").strip()
            if (
                src in by_url
                and by_url[src].kind == "js"
                and not m.group("sbody").strip()
                and set(a) <= _SCRIPT_OK_ATTRS
                and (a.get("type") or "").strip().lower() in _JS_TYPES
            ):
                replacement = f"<script>/* {by_url[src].path} (siteplan/assets) */\n{_js_block(by_url[src].path)}\n</script>"
        elif m.group("tag") is not None and m.group("name").lower() == "link":
            a = _attr_dict(m.group("attrs"))
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
# remote_references
# --------------------------------------------------------------------------

# Namespace names are identifiers, never fetched (createElementNS, xmlns=...).
_NAMESPACES = {
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/xml/1998/namespace",
    "http://www.w3.org/2000/xmlns",
    "http://www.w3.org/1998/math/mathml",
}  # lower case, no trailing slash

_URL_ATTRS = {"src", "poster", "background", "data", "manifest", "lowsrc", "dynsrc", "codebase", "xlink:href", "archive"}
_SRCSET_ATTRS = {"srcset", "imagesrcset"}
_LINK_ONLY_TAGS = {"a", "area"}  # <a href> is followed on a click, never fetched by itself


_C0_AND_SPACE = "".join(chr(i) for i in range(0x21))


def _clean_url(value: str) -> str:
    # As the URL parser does: drop tabs and newlines anywhere, C0 controls and spaces at the ends.
    return re.sub(r"[\t\n\r]", "", value).strip(_C0_AND_SPACE)


_REMOTE_START = re.compile(r"^(?:https?:)?[/\\]{2}", re.I)


def _is_remote(value: str) -> bool:
    v = _clean_url(value)
    if not _REMOTE_START.match(v):
        return False
    return v.lower().rstrip("/") not in _NAMESPACES


def _add(out: list[str], value: str) -> None:
    if _is_remote(value):
        out.append(_clean_url(value))


def _scan_html(text: str, out: list[str]) -> None:
    for m in _HTML_TOKEN.finditer(text):
        if m.group("comment") is not None:
            continue
        if m.group("script") is not None:
            a = _scan_attrs("script", m.group("sattrs"), out)
            body = m.group("sbody")
            typ = (a.get("type") or "").strip().lower()
            if typ in _JS_TYPES or typ in {"module", "application/json", "application/ld+json", "text/ecmascript"}:
                _scan_js(body, out)
            elif body.strip():
                _scan_raw(body, out)  # unknown type (e.g. a template): every absolute URL counts
        elif m.group("style") is not None:
            _scan_attrs("style", m.group("cattrs"), out)
            _scan_css(m.group("cbody"), out)
        else:
            _scan_attrs(m.group("name").lower(), m.group("attrs"), out)


def _scan_attrs(tag: str, text: str, out: list[str]) -> dict[str, str | None]:
    pairs = _attrs(text)
    a: dict[str, str | None] = {}
    for k, v in pairs:
        a.setdefault(k, v)
    for name, value in pairs:
        if value is None:
            continue
        if name in _URL_ATTRS:
            _add(out, value)
        elif name == "href":
            if tag not in _LINK_ONLY_TAGS:
                _add(out, value)
        elif name in _SRCSET_ATTRS:
            for cand in value.split(","):
                parts = cand.split()
                if parts:
                    _add(out, parts[0])
        elif name == "style":
            _scan_css(value, out)
        elif name == "srcdoc":
            _scan_html(value, out)
        elif name.startswith("on"):
            _scan_js(value, out)
        elif name == "content" and tag == "meta" and (a.get("http-equiv") or "").strip().lower() == "refresh":
            mm = re.search(r"url\s*=\s*['\"]?([^'\"]+)", value, re.I)
            if mm:
                _add(out, mm.group(1))
    return a


_ABS_START = re.compile(r"https?:[/\\]{2}", re.I)
_ABS_URL = re.compile(r"(?:https?:)[/\\]{2}[^\s\"'<>`]+", re.I)
_PROTO_REL_STRING = re.compile(
    r"^\s*[/\\]{2}(?:[\w-]|\{[^{}/]*\})+(?:\.(?:[\w-]|\{[^{}/]*\})+)+(?::\d+)?(?:[/?#]|\s*$)|^\s*[/\\]{2}localhost(?::\d+)?(?:[/?#]|\s*$)",
    re.I,
)


def _scan_raw(text: str, out: list[str]) -> None:
    """Every absolute http(s) URL in ``text`` (used where the syntax is unknown)."""
    for m in _ABS_URL.finditer(text):
        _add(out, m.group(0).rstrip(".,;)"))


# ---- CSS -----------------------------------------------------------------

_CSS_TOKEN = re.compile(
    r"""(?P<url>(?<![\w-])url\(\s*(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'|(?P<uq>[^)"'\s]*))\s*\))"""
    r"""|(?P<comment>/\*.*?(?:\*/|\Z))"""
    r"""|(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""",
    re.I | re.S,
)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})\s?|(.))", re.S)


def _css_unescape(s: str) -> str:
    def rep(m: re.Match) -> str:
        if m.group(1):
            try:
                return chr(int(m.group(1), 16))
            except (ValueError, OverflowError):
                return "\ufffd"
        return "" if m.group(2) == "\n" else m.group(2)

    return _CSS_ESCAPE.sub(rep, s)


def _scan_css(text: str, out: list[str]) -> None:
    # One pass, so that "/*" inside url(...) or a string is not taken for a comment.
    for m in _CSS_TOKEN.finditer(text):
        if m.group("url") is not None:
            raw = next(g for g in (m.group("dq"), m.group("sq"), m.group("uq")) if g is not None)
            _add(out, _css_unescape(raw))
        elif m.group("str") is not None:
            # A string that is itself a remote URL: @import "...", image-set("..."), ...
            _add(out, _css_unescape(m.group("str")[1:-1]))


# ---- JavaScript ------------------------------------------------------------

_JS_KEYWORDS_BEFORE_EXPR = {
    "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
    "case", "do", "else", "yield", "await", "extends",
}
_JS_RUN = re.compile(r"[^\"'`/{}()]+")
_JS_STRING = {
    '"': re.compile(r'"(?:[^"\\\n\r]|\\.)*"', re.S),
    "'": re.compile(r"'(?:[^'\\\n\r]|\\.)*'", re.S),
}
_JS_LINE_COMMENT = re.compile(r"//[^\n\r\u2028\u2029]*")
_JS_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_JS_TEMPLATE_CHUNK = re.compile(r"(?:[^`\\$]|\\.|\$(?!\{))*", re.S)
_JS_TRAILING_WORD = re.compile(r"([\w$]+)\s*$")


class _JSSyntax(Exception):
    pass


def _js_literals(src: str) -> list[str]:
    """Raw text of every string and template literal in ``src``, comments skipped.

    A small lexer: it tells a regular expression from a division by the token
    before the slash, as JS minifiers' output allows. Raises ``_JSSyntax`` when
    the text does not lex (an unterminated string, comment or template).
    """
    out: list[str] = []
    n = len(src)
    pos = 0
    prev = ""  # "word:<w>", "value", "punct:<c>", "close-paren-kw", "" (start)
    braces: list[tuple[str, int]] = []  # ("brace", 0) or ("tpl", start of template)
    parens: list[str] = []
    while pos < n:
        ch = src[pos]
        if ch in "\"'":
            m = _JS_STRING[ch].match(src, pos)
            if not m:
                raise _JSSyntax(f"unterminated string at {pos}")
            out.append(src[pos + 1 : m.end() - 1])
            pos = m.end()
            prev = "value"
        elif ch == "`" or (ch == "}" and braces and braces[-1][0] == "tpl"):
            if ch == "`":
                start = pos
                pos += 1
            else:
                start = braces.pop()[1]
                pos += 1
            pos = _JS_TEMPLATE_CHUNK.match(src, pos).end()
            if src.startswith("`", pos):
                pos += 1
                out.append(src[start + 1 : pos - 1])
                prev = "value"
            elif src.startswith("${", pos):
                braces.append(("tpl", start))
                pos += 2
                prev = "punct:{"
            else:
                raise _JSSyntax("unterminated template literal")
        elif ch == "/":
            nxt = src[pos + 1] if pos + 1 < n else ""
            if nxt == "/":
                pos = _JS_LINE_COMMENT.match(src, pos).end()
            elif nxt == "*":
                m = _JS_BLOCK_COMMENT.match(src, pos)
                if not m:
                    raise _JSSyntax("unterminated comment")
                pos = m.end()
            elif _regex_allowed(prev):
                end = _regex_end(src, pos)
                if end is None:
                    pos += 1
                    prev = "punct:/"
                else:
                    pos = end
                    prev = "value"
            else:
                pos += 1
                prev = "punct:/"
        elif ch == "{":
            braces.append(("brace", 0))
            pos += 1
            prev = "punct:{"
        elif ch == "}":
            if braces:
                braces.pop()
            pos += 1
            prev = "punct:}"
        elif ch == "(":
            parens.append(prev)
            pos += 1
            prev = "punct:("
        elif ch == ")":
            before = parens.pop() if parens else ""
            pos += 1
            prev = "close-paren-kw" if before in ("word:if", "word:while", "word:for", "word:with") else "value"
        else:
            m = _JS_RUN.match(src, pos)
            run = m.group(0)
            pos = m.end()
            stripped = run.rstrip()
            if not stripped:
                continue
            last = stripped[-1]
            if last.isalnum() or last in "_$" or ord(last) > 127:
                w = _JS_TRAILING_WORD.search(stripped)
                word = w.group(1) if w else last
                prev = "value" if word[0].isdigit() or word[0] == "." else f"word:{word}"
            elif last == "]" or stripped.endswith(("++", "--")):
                prev = "value"
            else:
                prev = f"punct:{last}"
    if any(kind == "tpl" for kind, _ in braces):
        raise _JSSyntax("unterminated template literal")
    return out


def _regex_allowed(prev: str) -> bool:
    if prev == "" or prev == "close-paren-kw":
        return True
    if prev.startswith("word:"):
        return prev[5:] in _JS_KEYWORDS_BEFORE_EXPR
    if prev.startswith("punct:"):
        return True  # after an operator, "(", ",", "{", "}", ";" ... a slash starts a regex
    return False  # after a value: division


def _regex_end(src: str, pos: int) -> int | None:
    i, n, in_class = pos + 1, len(src), False
    while i < n:
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c in "\n\r":
            return None
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
        elif c == "/":
            i += 1
            while i < n and (src[i].isalnum() or src[i] in "_$"):
                i += 1
            return i
        i += 1
    return None


_JS_ESCAPE = re.compile(r"\\(?:u\{([0-9a-fA-F]+)\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(\r\n|[\s\S]))")
_JS_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _js_unescape(s: str) -> str:
    def rep(m: re.Match) -> str:
        hexa = m.group(1) or m.group(2) or m.group(3)
        if hexa:
            try:
                return chr(int(hexa, 16))
            except (ValueError, OverflowError):
                return "\ufffd"
        c = m.group(4)
        if c in ("\n", "\r", "\r\n", "\u2028", "\u2029"):
            return ""
        return _JS_SIMPLE.get(c, c)

    return _JS_ESCAPE.sub(rep, s)


def _scan_js(src: str, out: list[str]) -> None:
    try:
        literals = _js_literals(src)
    except _JSSyntax:
        _scan_raw(src, out)  # cannot tell comments apart: count every URL
        return
    for raw in literals:
        if "/" not in raw and "\\" not in raw and "&" not in raw:
            continue  # fast path: no URL without a slash, an escape or an entity
        _scan_js_string(_js_unescape(raw), out)


_HTML_FRAGMENT = re.compile(r"<[A-Za-z!/]")


def _scan_js_string(s: str, out: list[str]) -> None:
    if _HTML_FRAGMENT.search(s):
        # Markup: what a browser fetches from it once inserted (src, href, style url() ...).
        _scan_html(s, out)
        return
    if re.search(r"url\(|@import", s, re.I):
        _scan_css(s, out)
        return
    # A literal that is a URL (or begins one: "https://" + host + ...) is one the
    # page may fetch; prose that mentions a URL ("requires Popper (https://...)") is not.
    v = _clean_url(s)
    if _ABS_START.match(v) or _PROTO_REL_STRING.match(v):
        _add(out, v.split()[0])


def remote_references(html: str) -> list[str]:
    """Every http(s):// or protocol-relative reference a browser could fetch from ``html``.

    Looked at: ``src``/``href``/``srcset``/``poster``/``data`` (and similar)
    attributes, except ``<a>``/``<area>`` ``href`` (links, followed only on a
    click); CSS ``url()``, ``@import`` and other URL strings in ``<style>``
    blocks and ``style`` attributes; and string and template literals in
    ``<script>`` blocks and ``on*`` handlers: a literal that holds markup is
    read as HTML, one that holds ``url(``/``@import`` as CSS, any other
    literal counts when it is (or begins) an http(s) URL or starts with
    ``//host`` -- tile URL templates, ``fetch``/``import`` targets, and also a
    URL that is the value of a GeoJSON property. Exempt are only HTML, CSS and
    JS comments, page text (including prose inside a JS literal, e.g. an error
    message that mentions a web page) and XML namespace names. A script that
    does not lex is searched for URLs whole, comments included.

    Returns the URLs in document order without repeats.
    """
    out: list[str] = []
    _scan_html(html, out)
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------
# make_offline / save_offline
# --------------------------------------------------------------------------

_TILE_TEMPLATE = re.compile(r"\{[xyzs]\}|\{-y\}|\{r\}", re.I)
_GLYPHICON_USE = re.compile(r"""["']prefix["']\s*:\s*["']glyphicon["']|class\s*=\s*["'][^"']*\bglyphicon-""", re.I)


def _advice(url: str) -> str:
    by_url, _, omitted, _ = _index()
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
