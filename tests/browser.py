"""Open a page in headless Chromium with networking disabled and run a script in it.

Reuses the DevTools-over-a-pipe harness of ``tests/test_offline.py``
(``_DevTools``); this adds a caller-supplied page script and records
JavaScript dialogs (``alert``), so a test can see an injected script run.
Skips only when Chromium is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_offline import _DevTools, _find_chromium


_CATCH_DIALOGS = """
window.__spDialogs = [];
['alert', 'confirm', 'prompt'].forEach(function (name) {
  window[name] = function (msg) { window.__spDialogs.push(name + ':' + String(msg)); };
});
"""


def open_offline(page: Path, profile: Path, script: str, *, settle_s: float = 1.0) -> dict:
    """Load ``page`` offline, evaluate ``script`` (an async IIFE) and report.

    Returns
    -------
    dict
        ``loaded`` (the load event fired), ``requests`` (every URL the page
        asked for, other than itself and data:/blob:/about: URLs), ``errors``
        (exceptions, console errors, log errors), ``dialogs`` (messages of
        alert/confirm/prompt dialogs) and ``value`` (what the script returned).
    """
    chromium = _find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (CI installs it with apt-get install chromium)")
    url = page.resolve().as_uri()
    dt = _DevTools(chromium, profile)
    dialogs: list[str] = []
    try:
        target = dt.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Runtime", "Log", "Page"):
            dt.call(f"{domain}.enable", session=session)
        # alert() would block the page; record it instead, so an injected script shows up.
        dt.call("Page.addScriptToEvaluateOnNewDocument", {"source": _CATCH_DIALOGS}, session=session)
        dt.call("Network.emulateNetworkConditions",
                {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}, session=session)
        dt.call("Page.navigate", {"url": url}, session=session)
        loaded = dt.wait_for("Page.loadEventFired", timeout=60)
        state = dt.call("Runtime.evaluate", {"expression": script, "awaitPromise": True, "returnByValue": True},
                        session=session, timeout=60)
        dt.pump(settle_s)
        caught = dt.call("Runtime.evaluate", {"expression": "JSON.stringify(window.__spDialogs || [])", "returnByValue": True},
                         session=session)
        dialogs.extend(json.loads(caught["result"]["value"]))
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
