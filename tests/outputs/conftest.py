"""Fixtures shared by the output tests."""

from __future__ import annotations

import pytest

from siteplan.pipeline import run
from tests.cities import MINI_SCENARIO, write_mini_city

# Stricter transit rule: 60% of each year's units within 200 m (P0 by 甲站, P5 by 乙站 from 2017) instead of 50% within 800 m.
STRICT = MINI_SCENARIO.replace('name = "mini"', 'name = "mini-transit"').replace(
    "[rules.transit]\nshare = 0.5\nwithin_m = 800", "[rules.transit]\nshare = 0.6\nwithin_m = 200")


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory):
    """The mini city run twice, differing in [rules.transit] only: (out_a, out_b, their parent folder)."""
    assert STRICT != MINI_SCENARIO
    base = tmp_path_factory.mktemp("compare")
    a = write_mini_city(base / "city")
    b = a.parent / "strict.toml"
    b.write_text(STRICT, encoding="utf-8")
    run(a, out_dir=base / "mini")
    run(b, out_dir=base / "mini-transit")
    return base / "mini", base / "mini-transit", base
