"""Fixtures of the app's tests: a workspace on the mini city or the messy bureau kit, and a client for it.

``client`` talks to the app in this process (no socket, no browser), from
127.0.0.1 as a planner's browser does; the run queue is started only where a
test runs plans (``live_ws``).
"""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # starlette's note on httpx; httpx2 is in the test extra
    from fastapi.testclient import TestClient

from siteplan.app.server import Workspace, create_app
from tests.bureau_kit import write_bureau_kit
from tests.cities import write_mini_city

LOCAL = "http://127.0.0.1:8000"


def make_client(ws: Workspace, **kwargs) -> TestClient:
    return TestClient(create_app(ws, **kwargs), base_url=LOCAL, follow_redirects=False)


@pytest.fixture
def mini_ws(tmp_path):
    """A workspace whose folder holds the mini city and its scenario (queue not started)."""
    scenario = write_mini_city(tmp_path / "city")
    ws = Workspace.open(tmp_path, scenario, start_queue=False)
    yield ws
    ws.runs.stop()


@pytest.fixture
def kit_ws(tmp_path):
    """A workspace on the messy bureau folder (GBK shapefile, Chinese fields, GCJ-02 stations), no scenario yet."""
    folder = write_bureau_kit(tmp_path / "规划数据")
    ws = Workspace.open(tmp_path, start_queue=False)
    ws.choose(folder)
    yield ws
    ws.runs.stop()


@pytest.fixture
def client(mini_ws):
    return make_client(mini_ws)
