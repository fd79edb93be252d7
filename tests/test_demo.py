"""The bundled demo, end to end: the plan keeps every rule when each is
recomputed from the raw layers and allocation.csv (tests/plancheck.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from siteplan.pipeline import run
from tests.plancheck import check_plan

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "demo-2016-2020.toml"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-2016-2020"
    result = run(DEMO, out_dir=out)
    return out, result


def test_demo_plan_keeps_every_rule(demo_run):
    out, _ = demo_run
    figures = check_plan(DEMO, out)
    assert figures["units"] == 50_000
    assert figures["projects"] >= 10
    assert figures["inclusionary_projects"] > 0  # the demo exercises every rule


def test_demo_turns_every_rule_on(demo_run):
    out, _ = demo_run
    import pandas as pd

    comp = pd.read_csv(out / "compliance.csv", encoding="utf-8-sig")
    expected = {"plot_ratio", "yearly_targets", "unit_sizes", "zone_targets", "district_share", "project_size", "radius_cap",
                "max_projects", "transit_access", "service_access", "park_workers", "inclusionary", "lock_out", "lock_in", "budget"}
    assert expected == set(comp["rule"])
    assert comp["ok"].all() and (comp["shortfall"] == 0).all()


def test_demo_places_units_in_every_zone(demo_run):
    _, result = demo_run
    used = result.plan.by_column("zone")
    assert set(used.index) == set(result.layers.districts["zone"])


def test_demo_run_record(demo_run):
    out, _ = demo_run
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert rec["shortfall_units"] == 0
    assert rec["solver"]["gap"] <= rec["solver"]["gap_limit"]
    assert not rec["solver"]["time_limit_hit"]


def test_over_constrained_demo_returns_a_plan_and_names_what_binds(tmp_path):
    import tomllib

    import pandas as pd

    from siteplan.pipeline import plan_from_scenario
    from siteplan.scenario import parse_scenario

    d = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    d["rules"]["transit"]["share"] = 0.9  # far more than the land near open stations can take
    scenario = parse_scenario(d, base_dir=DEMO.parent)
    plan, _ = plan_from_scenario(scenario)
    short = plan.shortfall_table()
    assert len(plan.units) and plan.units["units"].sum() > 40_000
    assert "transit_access" in set(short["rule"])
    assert (short["binding_rules"].str.len() > 1).all()
    placed = plan.units.groupby("year")["units"].sum()
    assert (placed == pd.Series(scenario.targets_table()).groupby(level=1).sum()).all()  # targets still met
