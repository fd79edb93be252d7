"""What keeps the app to its owner and its folders.

- **Where it listens.** 127.0.0.1 unless ``siteplan app --host`` names
  another address; then every request needs the token printed at start (in
  the address as ``?token=...`` once, then a cookie).
- **Who may call it.** On 127.0.0.1 the ``Host`` header must name this
  computer (a web page elsewhere cannot reach the app by a DNS trick), and a
  form sent from another site's page is refused (its ``Origin`` is not ours).
- **Which files.** :func:`child_path` joins a name from a request to a folder
  only when the result stays inside that folder: ``..``, absolute paths,
  drive letters and links that lead out are refused.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path, PurePosixPath, PureWindowsPath

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

__all__ = ["PathRefused", "child_path", "new_token", "Guard", "TOKEN_COOKIE", "is_loopback"]

TOKEN_COOKIE = "siteplan_token"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class PathRefused(ValueError):
    """A path from a request that would leave its folder."""


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


def new_token() -> str:
    """A fresh access token: 32 url-safe characters."""
    return secrets.token_urlsafe(24)


def child_path(base: str | Path, name: str, *, must_exist: bool = True) -> Path:
    """``base / name`` when it stays inside ``base``; else :class:`PathRefused`.

    ``name`` comes from a request: it may hold ``/`` between parts, never
    ``..``, a leading ``/`` or ``\\``, a drive (``C:``) or a NUL. The joined
    path is resolved (links followed) and must still lie under ``base``.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise PathRefused("empty path")
    if "\\" in name or PurePosixPath(name).is_absolute() or PureWindowsPath(name).drive or PureWindowsPath(name).is_absolute():
        raise PathRefused(f"{name!r}: an absolute path")
    parts = PurePosixPath(name).parts
    if any(p in ("..", "") for p in parts):
        raise PathRefused(f"{name!r}: leaves the folder")
    root = Path(base).resolve()
    target = (root / Path(*parts)).resolve()
    if target != root and not target.is_relative_to(root):
        raise PathRefused(f"{name!r}: leads out of the folder")
    if must_exist and not target.exists():
        raise FileNotFoundError(name)
    return target


_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Guard(BaseHTTPMiddleware):
    """Refuse requests without the token (when one is set), from a foreign ``Host`` (on 127.0.0.1), or forms from a foreign ``Origin``."""

    def __init__(self, app, *, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    def _host_ok(self, request: Request) -> bool:
        if self.token is not None:
            return True  # shared on an intranet: the token decides
        host = request.headers.get("host", "")
        name = re.sub(r":\d+$", "", host)
        return is_loopback(name)

    async def dispatch(self, request: Request, call_next) -> Response:
        if not self._host_ok(request):
            return PlainTextResponse("siteplan app: this address is served to this computer only (127.0.0.1)", status_code=403)
        given = request.query_params.get("token")
        if self.token is not None:
            held = request.cookies.get(TOKEN_COOKIE, "")
            if given is not None and secrets.compare_digest(given, self.token):
                # the token leaves the address bar (and the history) at once; a cookie carries it from now on
                url = request.url.remove_query_params("token")
                response = RedirectResponse(str(url), status_code=303)
                response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
                return response
            if not (held and secrets.compare_digest(held, self.token)):
                return PlainTextResponse(
                    "siteplan app: 需要访问令牌。请打开启动 siteplan app 时打印的完整地址（含 ?token=）。\n"
                    "siteplan app: a token is needed; open the full address printed when siteplan app started (with ?token=).",
                    status_code=403)
        if request.method not in _SAFE_METHODS:
            origin = request.headers.get("origin")
            if origin is not None and origin != "null":
                ours = f"{request.url.scheme}://{request.headers.get('host', '')}"
                if origin != ours:
                    return PlainTextResponse("siteplan app: a form from another site was refused", status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response
