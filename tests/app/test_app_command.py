"""``siteplan app`` started as a person starts it: its address, 127.0.0.1 only, and a token when shared."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from tests.app.live import AppProcess
from tests.cities import write_mini_city


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def test_app_serves_this_computer_and_stops_on_ctrl_c(tmp_path):
    scenario = write_mini_city(tmp_path / "city")
    with AppProcess(tmp_path, "--scenario", str(scenario)) as app:
        assert app.url == f"http://127.0.0.1:{app.port}/"
        status, page = _get(app.url + "data")
        assert status == 200 and "数据" in page and "city/scenario.toml" in page
        status, _ = _get(app.url + "data?lang=en")
        assert status == 200
        out = app.stop()
    assert app.proc.returncode in (0, 130)
    assert "Traceback" not in out


def test_shared_app_prints_a_token_and_refuses_without_it(tmp_path):
    write_mini_city(tmp_path / "city")
    with AppProcess(tmp_path / "city", "--host", "0.0.0.0") as app:
        token = re.search(r"\?token=([\w-]+)", app.url)
        assert token, app.lines
        status, text = _get(f"http://127.0.0.1:{app.port}/data")
        assert status == 403 and "token" in text
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
        conn.request("GET", "/data?token=" + token.group(1))  # the printed address: the token becomes a cookie
        answer = conn.getresponse()
        assert answer.status == 303 and answer.getheader("location").endswith("/data")
        assert f"siteplan_token={token.group(1)}" in answer.getheader("set-cookie")
        conn.close()
        req = urllib.request.Request(f"http://127.0.0.1:{app.port}/data", headers={"Cookie": f"siteplan_token={token.group(1)}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200


def test_a_port_in_use_is_a_clear_error(tmp_path):
    import socket

    write_mini_city(tmp_path / "city")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as err:
            AppProcess(tmp_path / "city", port=port, timeout=30)
    text = str(err.value)
    assert "--port" in text and "Traceback" not in text


def _post(url: str, origin: str) -> int:
    req = urllib.request.Request(url, data=b"", method="POST", headers={"Origin": origin})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_quit_button_stops_the_app(tmp_path):
    write_mini_city(tmp_path / "city")
    with AppProcess(tmp_path / "city") as app:
        assert _post(app.url + "quit", "http://attacker.example") == 403  # another site's form
        assert app.proc.poll() is None
        assert _post(app.url + "quit", app.url.rstrip("/")) == 200
        app.proc.wait(timeout=20)
        assert app.proc.returncode == 0


def test_the_desktop_launcher_logs_its_address_and_quits(tmp_path):
    """siteplan-app (no console): the address goes to siteplan-runs/app.log, and the Quit button ends it."""
    import os
    import subprocess
    import sys
    import time

    write_mini_city(tmp_path / "city")
    env = {**os.environ, "BROWSER": "true"}  # the browser it opens: a command that does nothing
    proc = subprocess.Popen([sys.executable, "-m", "siteplan.app.launch", str(tmp_path / "city")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        log = tmp_path / "city" / "siteplan-runs" / "app.log"
        deadline = time.monotonic() + 60
        found = None
        while time.monotonic() < deadline and found is None:
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", log.read_text(encoding="utf-8")) if log.is_file() else None
            time.sleep(0.2)
        assert found, "no address in app.log"
        url = found.group(1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status, page = _get(url + "data")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200 and "退出" in page
        assert _post(url + "quit", url.rstrip("/")) == 200
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_run_goes_on_when_the_app_stops_and_is_found_when_it_starts_again(tmp_path):
    """Nothing lost: the solve is a process of its own; the app started again lists it, finished."""
    import json
    import time

    scenario = write_mini_city(tmp_path / "city")
    with AppProcess(tmp_path, "--scenario", str(scenario)) as app:
        req = urllib.request.Request(app.url + "run/start", data=b"kind=run&alternatives=1", method="POST",
                                     headers={"Origin": app.url.rstrip("/"), "Content-Type": "application/x-www-form-urlencoded"})
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(req, timeout=10)
        except urllib.error.HTTPError as err:
            assert err.code == 303, err.read()
            run_id = err.headers["location"].split("id=")[1]
        job = tmp_path / "siteplan-runs" / run_id / "job.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and json.loads(job.read_text(encoding="utf-8")).get("pid") is None:
            time.sleep(0.1)
        app.stop()  # the planner closes the app (Ctrl-C) while the run solves
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and json.loads(job.read_text(encoding="utf-8"))["state"] not in ("done", "failed"):
        time.sleep(0.2)
    record = json.loads(job.read_text(encoding="utf-8"))
    assert record["state"] == "done", record
    assert (job.parent / "out" / "allocation.csv").is_file()
    with AppProcess(tmp_path, "--scenario", str(scenario)) as again:
        status, page = _get(again.url + "run")
        assert status == 200 and run_id in page


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
