"""The app's guards: paths from requests stay in their folder, the token when shared, this computer's Host, our own forms."""

from __future__ import annotations

import os

import pytest

from siteplan.app.security import TOKEN_COOKIE, PathRefused, child_path
from tests.app.conftest import make_client


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "runs" / "a" / "out").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "out" / "map.html").write_text("map", encoding="utf-8")
    (tmp_path / "runs" / "a" / "job.json").write_text("{}", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name", [
    "../job.json", "../../secret.txt", "a/../../job.json", "/etc/passwd", "//etc/passwd", "C:/Windows/win.ini",
    "C:\\Windows\\win.ini", "..\\job.json", "\\\\server\\share\\x", "", ".", "a/./../..", "x\x00.html",
])
def test_child_path_refuses_every_way_out(folder, name):
    out = folder / "runs" / "a" / "out"
    with pytest.raises((PathRefused, FileNotFoundError)):
        got = child_path(out, name)
        # "." names the folder itself: refused as a file name only if it resolves outside, which it must not
        assert got == out.resolve() and name == "."
        raise PathRefused(name)


def test_child_path_refuses_a_link_that_leads_out(folder):
    out = folder / "runs" / "a" / "out"
    os.symlink(folder / "secret.txt", out / "link.txt")
    with pytest.raises(PathRefused):
        child_path(out, "link.txt")


def test_child_path_joins_a_name_inside(folder):
    out = folder / "runs" / "a" / "out"
    assert child_path(out, "map.html") == (out / "map.html").resolve()
    with pytest.raises(FileNotFoundError):
        child_path(out, "missing.html")
    assert child_path(out, "new.html", must_exist=False) == (out / "new.html").resolve()


def test_a_shared_app_needs_the_token(mini_ws):
    c = make_client(mini_ws, token="s3cret-token-value")
    refused = c.get("/data")
    assert refused.status_code == 403 and "token" in refused.text and "s3cret" not in refused.text
    wrong = c.get("/data?token=guess")
    assert wrong.status_code == 403
    given = c.get("/data?token=s3cret-token-value")
    assert given.status_code == 303 and "token" not in given.headers["location"]  # the token leaves the address bar
    assert given.cookies.get(TOKEN_COOKIE) == "s3cret-token-value"
    assert c.get("/data").status_code == 200  # the cookie carries it from now on
    other = make_client(mini_ws, token="s3cret-token-value")
    other.cookies.set(TOKEN_COOKIE, "another")
    assert other.get("/data").status_code == 403


def test_on_this_computer_a_foreign_host_is_refused(mini_ws):
    c = make_client(mini_ws)
    assert c.get("/data").status_code == 200
    assert c.get("/data", headers={"host": "localhost:8000"}).status_code == 200
    # a page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) sends its own Host
    assert c.get("/data", headers={"host": "attacker.example:8000"}).status_code == 403


def test_a_form_from_another_site_is_refused(mini_ws):
    before = mini_ws.scenario.read_bytes()
    c = make_client(mini_ws)
    r = c.post("/rules/save", data={"r.transit.within_m": "100"}, headers={"origin": "http://attacker.example"})
    assert r.status_code == 403
    assert mini_ws.scenario.read_bytes() == before


def test_runs_and_compare_files_refuse_traversal(mini_ws):
    c = make_client(mini_ws)
    for url in ("/runs/x/files/map.html", "/runs/../../etc/files/passwd", "/runs/20260101-000000-01/files/%2e%2e/%2e%2e/etc/passwd",
                "/runs/20260101-000000-01/files/..%2f..%2fapp.json"):
        r = c.get(url)
        assert 400 <= r.status_code < 500, url
        assert "root:" not in r.text
