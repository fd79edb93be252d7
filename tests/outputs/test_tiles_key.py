"""The Tianditu key error names where the key came from: the environment variable or the scenario's ``[map]``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from siteplan.errors import ScenarioError
from siteplan.outputs.tiles import tile_choice

GOOD = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def no_env_key(monkeypatch):
    for var in ("SITEPLAN_TIANDITU_KEY", "TIANDITU_KEY"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize("var", ["SITEPLAN_TIANDITU_KEY", "TIANDITU_KEY"])
def test_a_bad_key_from_the_environment_names_the_variable(no_env_key, var):
    no_env_key.setenv(var, "not a key!")
    with pytest.raises(ScenarioError) as raised:
        tile_choice(None, tiles="tianditu")
    msg = str(raised.value)
    assert f"the Tianditu key in the environment variable {var} must be 8-64 letters and digits" in msg
    assert "[map]" not in msg and "not a key" not in msg  # not the scenario, and the key is not echoed


def test_a_bad_key_from_the_scenario_names_the_scenario_key_and_file(no_env_key):
    no_env_key.setenv("SITEPLAN_TIANDITU_KEY", GOOD)  # the scenario's key comes first
    scenario = SimpleNamespace(map=SimpleNamespace(tiles="tianditu", tianditu_key="abc-123"), source=Path("city.toml"))
    with pytest.raises(ScenarioError) as raised:
        tile_choice(scenario)
    msg = str(raised.value)
    assert "the Tianditu key in [map] tianditu_key of city.toml must be 8-64 letters and digits" in msg
    assert "SITEPLAN_TIANDITU_KEY" not in msg


def test_good_keys_from_either_source_are_used(no_env_key):
    scenario = SimpleNamespace(map=SimpleNamespace(tiles="tianditu", tianditu_key=GOOD[::-1]), source=None)
    assert tile_choice(scenario).key == GOOD[::-1]
    no_env_key.setenv("TIANDITU_KEY", GOOD)
    assert tile_choice(None, tiles="tianditu").key == GOOD
