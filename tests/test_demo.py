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


def _used(out):
    import pandas as pd

    return pd.read_csv(out / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})


def _unused_candidate(out) -> str:
    """A large reserve parcel, ready in 2016, outside every constraint polygon, that the plan leaves unused."""
    import geopandas as gpd

    parcels = gpd.read_file(ROOT / "layers" / "parcels.gpkg")
    polys = gpd.read_file(ROOT / "layers" / "constraints.gpkg").geometry.union_all()
    free = parcels.loc[(parcels["status"] == "reserve") & (parcels["available_year"] <= 2016)
                       & ~parcels["parcel_id"].isin(_used(out)["parcel_id"]) & ~parcels.intersects(polys)]
    return free.assign(a=free.geometry.area).sort_values("a", ascending=False)["parcel_id"].iloc[0]


@pytest.mark.parametrize("case", ["lock_in", "lock_out_id", "lock_out_where", "district_year", "zone_year", "dormitory",
                                  "services_per_year", "district_share_per_type"])
def test_plancheck_catches_each_rule(demo_run, case):
    """The independent checks can fail: each change of the rules makes the demo plan break one."""
    import copy
    import tomllib

    out, _ = demo_run
    alloc = _used(out)
    used = alloc["parcel_id"].iloc[0]
    (d_name, year), units = next(iter(alloc.groupby(["district", "year"])["units"].sum().items()))
    d = copy.deepcopy(tomllib.loads(DEMO.read_text(encoding="utf-8")))
    r = d["rules"]
    if case == "lock_in":
        r["lock_in"]["parcel_ids"], message = [_unused_candidate(out)], "locked-in parcels not used"
    elif case == "lock_out_id":
        r["lock_out"]["parcel_ids"], message = [used], "locked-out parcels used"
    elif case == "lock_out_where":
        r["lock_out"]["where"], message = {"name": [alloc_name(used)]}, "locked-out parcels used"
    elif case == "district_year":
        d["districts"] = {d_name: [int(units) + 1 if y == year else 0 for y in range(2016, 2021)]}
        message = f"districts {d_name} {year}"
    elif case == "zone_year":
        d["zones"]["外围组团"], message = [0, 0, 0, 0, 8001], "zones 外围组团 2020"
    elif case == "dormitory":
        d["types"]["talent_apartment"]["persons_per_unit"], message = 15, "talent_apartment: 4.7 m2 per person"
    elif case == "services_per_year":
        overall = check_plan(DEMO, out)["service_share"]  # some year falls below the plan's overall share
        r["services"].update(per_year=True, share=float(overall) - 1e-12)
        message = r"^\d{4}: service share"
    else:
        r["district_share"]["per_type"] = True  # 3%-20% of each type's units, not of all units
        message = "district .* (below min|above max) share"
    check_plan(DEMO, out)  # the plan keeps the rules as written
    with pytest.raises(AssertionError, match=message):
        check_plan(DEMO, out, scenario=d)


def alloc_name(parcel_id: str) -> str:
    import geopandas as gpd

    parcels = gpd.read_file(ROOT / "layers" / "parcels.gpkg").set_index("parcel_id")
    return parcels.loc[parcel_id, "name"]


@pytest.mark.e2e
def test_the_demo_map_opens_on_its_parcels_in_the_apps_results_page(demo_run, tmp_path):
    """The 3 MB demo map in the Results page's frame opens fitted to the plan's parcels (it once opened at the
    closest zoom, the frame having no size yet when the map set its view)."""
    import shutil
    import time

    from selenium.webdriver.common.by import By

    from siteplan.app.runs import write_json
    from tests.app.live import AppProcess
    from tests.app.selenium_kit import chrome, wait_until

    out, _ = demo_run
    run_dir = tmp_path / "work" / "siteplan-runs" / "20260101-000000-01"
    shutil.copytree(out, run_dir / "out")
    write_json(run_dir / "job.json", {"kind": "run", "scenario": str(DEMO), "state": "done", "asked": "2026-01-01T00:00:00",
                                      "status": "optimal", "status_zh": "最优", "status_en": "optimal"})
    driver = chrome(tmp_path / "profile", tmp_path / "downloads")
    try:
        with AppProcess(tmp_path / "work", "--scenario", str(DEMO)) as app:
            driver.get(app.url + "results?id=20260101-000000-01")
            driver.switch_to.frame(wait_until(lambda: driver.find_element(By.ID, "results-map"), 30, what="the map frame"))
            script = ("const k = Object.keys(window).filter(k => k.startsWith('map_') && window[k] && window[k].getBounds)[0];"
                      "if (!k || document.readyState !== 'complete') return null;"
                      "const m = window[k], view = m.getBounds(); let used = 0, shown = 0;"
                      "m.eachLayer(function visit(l) { if (l.feature && l.feature.properties && l.feature.properties.units > 0 && l.getBounds) {"
                      "  used += 1; if (view.contains(l.getBounds())) shown += 1; } if (l.eachLayer) l.eachLayer(visit); });"
                      "return [m.getZoom(), used, shown];")
            zoom, used, shown = wait_until(lambda: driver.execute_script(script), 60, what="the map loaded")
            time.sleep(0.5)
            zoom, used, shown = driver.execute_script(script)
    finally:
        driver.quit()
    assert used >= 400 and shown == used, (zoom, used, shown)
