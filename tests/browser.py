"""Open a page in headless Chromium with networking disabled and run a script in it.

:class:`DevTools` speaks the Chrome DevTools Protocol over a pipe;
:func:`open_offline` adds a caller-supplied page script and records
JavaScript dialogs (``alert``), so a test can see an injected script run.
Skips only when Chromium is not installed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest



def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


class DevTools:
    """Chrome DevTools Protocol over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out)."""

    def __init__(self, chromium: str, profile: Path):
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        args = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--no-first-run",
            "--no-default-browser-check", "--mute-audio", "--window-size=1200,800",
            # Networking off: no name resolves, and the page is emulated offline (below).
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank",
        ]
        # Chromium reads fd 3 and writes fd 4. A tiny Python launcher moves the pipe ends
        # there (both are first moved to fds >= 10 so that neither is 3 or 4).
        fds = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_r, from_w)]
        os.close(to_r)
        os.close(from_w)
        launcher = "import os,sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", launcher, str(fds[0]), str(fds[1]), *args],
            pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        for fd in fds:
            os.close(fd)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read(self, timeout: float) -> list[dict]:
        ready, _, _ = select.select([self._from_r], [], [], max(timeout, 0))
        if not ready:
            return []
        chunk = os.read(self._from_r, 1 << 20)
        if not chunk:
            raise RuntimeError("Chromium closed the DevTools pipe")
        self._buf += chunk
        msgs = []
        while b"\0" in self._buf:
            raw, self._buf = self._buf.split(b"\0", 1)
            msgs.append(json.loads(raw))
        return msgs

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msgs = self._read(end - time.monotonic())
            for i, m in enumerate(msgs):
                if m.get("id") == self._id:
                    self.events.extend(msgs[i + 1:])  # events that came in the same read as the reply
                    if "error" in m:
                        raise RuntimeError(f"{method}: {m['error']}")
                    return m["result"]
                self.events.append(m)
        raise TimeoutError(method)

    def wait_for(self, method: str, timeout: float, *, since: int = 0) -> bool:
        """Whether event ``method`` arrives within ``timeout`` s, or already came (among the events from index ``since``)."""
        if any(m.get("method") == method for m in self.events[since:]):
            return True
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msgs = self._read(end - time.monotonic())
            self.events.extend(msgs)
            if any(m.get("method") == method for m in msgs):
                return True
        return False

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.events.extend(self._read(end - time.monotonic()))

    def close(self) -> None:
        try:
            self._id += 1
            os.write(self._to_w, json.dumps({"id": self._id, "method": "Browser.close"}).encode() + b"\0")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the browser's own process group
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        finally:
            os.close(self._to_w)
            os.close(self._from_r)


_CATCH_DIALOGS = """
window.__spDialogs = [];
['alert', 'confirm', 'prompt'].forEach(function (name) {
  window[name] = function (msg) { window.__spDialogs.push(name + ':' + String(msg)); };
});
"""


def open_offline(page: Path, profile: Path, script: str, *, settle_s: float = 1.0,
                 viewport: tuple[int, int] | None = None, screenshot: Path | None = None,
                 pdf: Path | None = None, pdf_options: dict | None = None, media: str | None = None) -> dict:
    """Load ``page`` offline, evaluate ``script`` (an async IIFE) and report.

    With ``viewport`` (width, height) the page is laid out at that size;
    ``media`` (e.g. ``"print"``) emulates a CSS media type; after the script,
    ``screenshot`` is written as a PNG of the viewport and ``pdf`` as the
    page printed with ``Page.printToPDF`` (``pdf_options`` passed on, e.g.
    ``{"paperWidth": 16.54, "paperHeight": 11.69}`` for A3 landscape).

    Returns
    -------
    dict
        ``loaded`` (the load event fired), ``requests`` (every URL the page
        asked for, other than itself and data:/blob:/about: URLs), ``errors``
        (exceptions, console errors, log errors), ``dialogs`` (messages of
        alert/confirm/prompt dialogs) and ``value`` (what the script returned).
    """
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (CI installs it with apt-get install chromium)")
    url = page.resolve().as_uri()
    dt = DevTools(chromium, profile)
    dialogs: list[str] = []
    try:
        target = dt.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Runtime", "Log", "Page"):
            dt.call(f"{domain}.enable", session=session)
        # alert() would block the page; record it instead, so an injected script shows up.
        dt.call("Page.addScriptToEvaluateOnNewDocument", {"source": _CATCH_DIALOGS}, session=session)
        if viewport:
            dt.call("Emulation.setDeviceMetricsOverride", {"width": viewport[0], "height": viewport[1],
                                                           "deviceScaleFactor": 1, "mobile": False}, session=session)
        if media:
            dt.call("Emulation.setEmulatedMedia", {"media": media}, session=session)
        dt.call("Network.emulateNetworkConditions",
                {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}, session=session)
        mark = len(dt.events)
        dt.call("Page.navigate", {"url": url}, session=session)
        # a small page may fire its load event before navigate's reply arrives
        loaded = dt.wait_for("Page.loadEventFired", timeout=60, since=mark)
        state = dt.call("Runtime.evaluate", {"expression": script, "awaitPromise": True, "returnByValue": True},
                        session=session, timeout=60)
        dt.pump(settle_s)
        caught = dt.call("Runtime.evaluate", {"expression": "JSON.stringify(window.__spDialogs || [])", "returnByValue": True},
                         session=session)
        dialogs.extend(json.loads(caught["result"]["value"]))
        if screenshot is not None:
            shot = dt.call("Page.captureScreenshot", {"format": "png"}, session=session, timeout=60)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        if pdf is not None:
            printed = dt.call("Page.printToPDF", {"printBackground": True, **(pdf_options or {})}, session=session, timeout=120)
            Path(pdf).write_bytes(base64.b64decode(printed["data"]))
    finally:
        dt.close()
    requests, errors = [], []
    for ev in dt.events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Network.requestWillBeSent":
            req = params["request"]["url"]
            if req != url and not req.startswith(("data:", "blob:", "about:")):
                requests.append(req)
        elif method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}".strip())
        elif method == "Page.javascriptDialogOpening":
            dialogs.append(params.get("message", ""))
    result = state.get("result", {})
    if "exceptionDetails" in state:
        errors.append(f"page script: {state['exceptionDetails'].get('exception', {}).get('description')}")
    return {"loaded": loaded, "requests": requests, "errors": errors, "dialogs": dialogs, "value": result.get("value")}
