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
OVER = ROOT / "scenarios" / "demo-2016-2020-overconstrained.toml"


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
    expected = {"one_supply_year", "available_year", "plot_ratio", "yearly_targets", "unit_sizes", "zone_targets", "district_targets",
                "district_share", "project_size", "radius_cap", "max_projects", "transit_access", "service_access", "park_workers",
                "inclusionary", "lock_out", "lock_in", "budget"}
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

    d = tomllib.loads(OVER.read_text(encoding="utf-8"))
    assert d["rules"]["transit"]["share"] == 0.9  # far more than the land near open stations can take
    out = tmp_path / "over"
    result = run(OVER, out_dir=out)
    plan = result.plan
    short = pd.read_csv(out / "shortfall.csv", encoding="utf-8-sig")
    assert len(plan.units) and plan.units["units"].sum() > 40_000
    assert "transit_access" in set(short["rule"])
    assert short["units"].sum() == pytest.approx(plan.total_shortfall, rel=1e-6)
    transit = short.loc[short["rule"] == "transit_access"]
    # Split by district x type x year, each part a group whose own share falls short.
    assert transit["district"].notna().all() and transit["type"].notna().all() and transit["year"].notna().all()
    assert transit["district"].nunique() > 1 and not transit.duplicated(["district", "type", "year"]).any()
    # Every row names rules of the model, and different rows name different ones.
    hard = set(plan.model.rows.loc[plan.model.rows["elastic"] == "", "rule"])
    elastic = set(plan.model.rows.loc[plan.model.rows["elastic"] != "", "rule"])
    for names in short["binding_rules"]:
        for name in names.split(", "):
            assert name in hard or name.removesuffix(" (elastic)") in elastic, name
    assert transit["binding_rules"].nunique() > 1
    assert transit["binding_rules"].str.split(", ").explode().isin(hard).any()
    placed = plan.units.groupby("year")["units"].sum()
    assert (placed == pd.Series(result.scenario.targets_table()).groupby(level=1).sum()).all()  # targets still met
