"""Read and verify the files bundled in ``siteplan/assets`` for the offline map.

``assets/manifest.json`` lists each file with its source, licence, sha256 and
the CDN URLs it replaces, the URLs folium emits that are deliberately not
bundled, and files left out. :func:`index` reads it once; :func:`asset_bytes`
returns a file's bytes only when they match the manifest's sha256, and
:func:`data_uri` the file as a base64 ``data:`` URI. Every failure is an
:class:`OfflineError` that says how to repair the installation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import SiteplanError

__all__ = ["OfflineError", "load_manifest", "index", "asset_bytes", "data_uri"]


class OfflineError(SiteplanError, ValueError):
    """The map would fetch something over the network, or an asset is broken."""


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
def index() -> tuple[dict[str, _Entry], dict[str, _Entry], dict[str, dict], frozenset[str]]:
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
def asset_bytes(path: str) -> bytes:
    """The bytes of the bundled file ``path``, checked against its sha256 in the manifest."""
    _, by_path, _, _ = index()
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
def data_uri(path: str) -> str:
    """The bundled file ``path`` as a base64 ``data:`` URI."""
    ext = posixpath.splitext(path)[1].lower()
    mime = _MIME.get(ext)
    if mime is None:
        raise OfflineError(f"siteplan asset {path!r} has no known MIME type; add its extension to assets._MIME.")
    return f"data:{mime};base64,{base64.b64encode(asset_bytes(path)).decode('ascii')}"
