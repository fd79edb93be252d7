"""List every remote reference a browser could fetch from an HTML page.

:func:`remote_references` reads the HTML, the CSS in ``<style>`` blocks and
``style`` attributes, and the string literals of scripts (with a small JS
lexer), and returns each http(s) or protocol-relative URL that the page could
request. The HTML tokeniser here (:data:`HTML_TOKEN`, :func:`attr_dict`) is
also what :mod:`siteplan.outputs.offline` uses to find the tags it inlines.

The HTML is read with regular expressions written for the tag shapes folium
and branca emit (``<script src="URL"></script>``,
``<link rel="stylesheet" href="URL"/>``), not with a general HTML parser;
``tests/outputs/test_offline.py`` exercises them.
"""

from __future__ import annotations

import html as _html
import re

__all__ = ["remote_references", "HTML_TOKEN", "attr_dict", "JS_TYPES", "is_remote"]


# --------------------------------------------------------------------------
# HTML tokenising (for the tag shapes folium emits)
# --------------------------------------------------------------------------

HTML_TOKEN = re.compile(
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


def attr_dict(text: str) -> dict[str, str | None]:
    """The attributes of a tag (the text after its name), lower-case names, values unescaped."""
    d: dict[str, str | None] = {}
    for k, v in _attrs(text):
        d.setdefault(k, v)  # the first occurrence wins, as in browsers
    return d


#: ``type`` values of a ``<script>`` that holds JavaScript.
JS_TYPES = {"", "text/javascript", "application/javascript"}


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


def is_remote(value: str) -> bool:
    """Whether ``value`` is an http(s) or protocol-relative URL (XML namespace names excepted)."""
    v = _clean_url(value)
    if not _REMOTE_START.match(v):
        return False
    return v.lower().rstrip("/") not in _NAMESPACES


def _add(out: list[str], value: str) -> None:
    if is_remote(value):
        out.append(_clean_url(value))


def _scan_html(text: str, out: list[str]) -> None:
    for m in HTML_TOKEN.finditer(text):
        if m.group("comment") is not None:
            continue
        if m.group("script") is not None:
            a = _scan_attrs("script", m.group("sattrs"), out)
            body = m.group("sbody")
            typ = (a.get("type") or "").strip().lower()
            if typ in JS_TYPES or typ in {"module", "application/json", "application/ld+json", "text/ecmascript"}:
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
