"""The app's server: the workspace, the pages' common frame, and starting it all.

Why FastAPI (on Starlette) and uvicorn: both are well kept and widely
used, serve every file from the package (no CDN, no telemetry, nothing
fetched), render plain HTML pages with Jinja2 (values escaped by default),
and the pages are ordinary HTML forms and a little JavaScript, which a real
browser drives in the tests (Selenium with Debian's chromium-driver).
"""

from __future__ import annotations

import socket
import threading
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from . import words as common_words
from .runs import RunQueue, read_json, write_json
from .scenario_doc import ScenarioDoc
from .security import Guard, PathRefused, child_path, is_loopback, new_token

__all__ = ["Workspace", "create_app", "serve", "render", "lang_of", "translator", "RUNS_DIR", "STEPS"]

HERE = Path(__file__).resolve().parent

#: The runs' folder inside the workspace.
RUNS_DIR = "siteplan-runs"

#: The five steps: (path, words key).
STEPS = (("/data", "step_data"), ("/targets", "step_targets"), ("/rules", "step_rules"), ("/run", "step_run"),
         ("/results", "step_results"))


@dataclass
class Workspace:
    """Where the app works.

    ``root`` is the folder the app was started on: every folder chosen on
    the Data page lies inside it. ``folder`` is the bureau's data folder now
    chosen and ``scenario`` its scenario file (``scenario.toml`` there, which
    the Data page writes with ``siteplan init`` when it is missing). The runs
    live in ``root/siteplan-runs``, whatever folder is chosen.
    """

    root: Path
    folder: Path
    scenario: Path
    runs: RunQueue
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.runs.runs_dir / "app.json"

    def choose(self, folder: Path, scenario: Path | None = None) -> None:
        """Work on ``folder`` (inside ``root``) and its scenario from now on; remembered across restarts."""
        self.folder = folder
        self.scenario = scenario or folder / "scenario.toml"
        write_json(self.state_file, {"folder": str(self.folder), "scenario": str(self.scenario)})

    def doc(self) -> ScenarioDoc | None:
        """The scenario file, open for editing; None when it does not exist yet."""
        return ScenarioDoc(self.scenario) if self.scenario.is_file() else None

    def inside(self, name: str, *, must_exist: bool = True) -> Path:
        """A folder or file named in a request, relative to ``root`` (checked: never outside it)."""
        return child_path(self.root, name, must_exist=must_exist) if name not in ("", ".") else self.root.resolve()

    @classmethod
    def open(cls, root: str | Path, scenario: str | Path | None = None, *, start_queue: bool = True) -> Workspace:
        root = Path(root).resolve()
        runs = RunQueue(root / RUNS_DIR, start=start_queue)
        folder, scen = root, root / "scenario.toml"
        if scenario is not None:
            scen = Path(scenario).resolve()
            folder = scen.parent if scen.parent.is_relative_to(root) else root
        else:
            saved = read_json(runs.runs_dir / "app.json")
            if saved.get("folder") and Path(saved["folder"]).is_dir() and Path(saved["folder"]).is_relative_to(root):
                folder, scen = Path(saved["folder"]), Path(saved.get("scenario") or Path(saved["folder"]) / "scenario.toml")
        return cls(root=root, folder=folder, scenario=scen, runs=runs)


# ---------------------------------------------------------------------------- pages' frame

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                         undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def lang_of(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("siteplan_lang") or request.app.state.lang
    return lang if lang in ("zh", "en") else "zh"


def translator(lang: str, *extra: dict[str, tuple[str, str]]) -> Callable[..., str]:
    """``t(key, **values)``: the words of ``key`` in ``lang`` (the key itself when there are none), formatted with ``values``."""
    table = {**common_words.WORDS}
    for more in extra:
        table.update(more)
    index = 0 if lang == "zh" else 1

    def t(key: str, **values: Any) -> str:
        pair = table.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t


def render(request: Request, template: str, *, words: dict[str, tuple[str, str]] | None = None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page in the app's frame: the five steps, the language switch, the scenario in use."""
    lang = lang_of(request)
    ws: Workspace = request.app.state.ws
    t = translator(lang, words or {})
    html = _env.get_template(template).render(
        request=request, t=t, lang=lang, steps=STEPS, path=request.url.path, ws=ws,
        scenario_shown=_shown(ws.scenario, ws.root), **context)
    response = HTMLResponse(html, status_code=status_code)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("siteplan_lang", lang, samesite="strict")
    return response


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def create_app(ws: Workspace, *, token: str | None = None, lang: str = "zh") -> FastAPI:
    """The app for workspace ``ws``; with ``token``, every request must carry it."""
    from .pages import data, results, rules, run, targets

    app = FastAPI(title="siteplan", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ws = ws
    app.state.lang = lang
    app.add_middleware(Guard, token=token)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.mount("/assets", StaticFiles(directory=str(HERE.parent / "assets")), name="assets")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/data" if not ws.scenario.is_file() else "/run", status_code=303)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)  # no icon, and no 404 in the browser's console

    @app.exception_handler(PathRefused)
    async def refused(request: Request, exc: PathRefused) -> HTMLResponse:
        return HTMLResponse("siteplan app: 路径不在允许的文件夹内 / the path is outside the folders the app serves",
                            status_code=403)

    @app.post("/quit", include_in_schema=False)
    def quit_app(request: Request) -> HTMLResponse:
        """Stop the web server (the 退出 button): runs still solving go on, and the app finds them when started again."""
        client = request.client.host if request.client else ""
        if not is_loopback(client):
            return HTMLResponse("siteplan app: 只能在运行它的电脑上关闭 / only the computer running the app can stop it",
                                status_code=403)
        server = getattr(app.state, "server", None)
        if server is not None:
            server.should_exit = True
        return render(request, "quit.html")

    for module in (data, targets, rules, run, results):
        app.include_router(module.router)
    return app


# ---------------------------------------------------------------------------- starting


def _socket(host: str, port: int | None) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port or 0))
    except OSError as err:
        sock.close()
        what = f"port {port} is in use or not allowed" if port else f"cannot listen on {host}"
        raise OSError(err.errno, f"{what} ({err.strerror}); choose another with --port, or leave it out for a free one") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def serve(folder: str | Path, *, scenario: str | Path | None = None, host: str = "127.0.0.1", port: int | None = None,
          open_browser: bool = True, lang: str = "zh", echo: Callable[[str], None] = print) -> None:
    """Start the app on ``host``:``port`` (a free port when None) and open the browser; blocks until Ctrl-C."""
    import uvicorn

    token = None if is_loopback(host) else new_token()
    sock = _socket(host, port)
    bound = sock.getsockname()[1]
    ws = Workspace.open(folder, scenario)
    app = create_app(ws, token=token, lang=lang)
    local = f"http://127.0.0.1:{bound}/" + (f"?token={token}" if token else "")
    echo(f"siteplan app: {local}")
    if token:
        echo(f"shared on {host}:{bound}; others open http://<this computer's address>:{bound}/?token={token}")
    echo("Ctrl-C stops the app; a run already solving goes on, and the app finds it when started again.")
    if open_browser:
        threading.Timer(0.8, lambda: webbrowser.open(local)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    app.state.server = server  # for the 退出 (quit) button
    try:
        server.run(sockets=[sock])
    finally:
        ws.runs.stop()
