"""Access rules (transit by type, services, parks) on tiny instances."""

from __future__ import annotations

import numpy as np
import pytest

from siteplan import ParkWorkers, PlotRatio, ServiceAccess, TransitAccess, YearlyTargets, problem
from siteplan.errors import SpecificationError
from tests.cities import grid_parcels

TWO = {"public_rental": 50.0, "talent_apartment": 50.0}


def two_types(p, pr, ta):
    return (
        problem(p, TWO, [2016])
        .add_targets({("public_rental", 2016): pr, ("talent_apartment", 2016): ta})
        .add_rule(PlotRatio()).add_rule(YearlyTargets())
    )


def units(plan, **where):
    u = plan.units
    for k, v in where.items():
        u = u.loc[u[k] == v]
    return int(u["units"].sum())


def test_transit_share_by_type():
    # P1 is near a station but scores lower. Overall share 0: nothing moves;
    # public rental must be 100% near: all 200 public-rental units go to P1.
    p = grid_parcels(2, score_2016=[1.0, 0.2], station_m_2016=[5000.0, 100.0], years=(2016,))
    plan = two_types(p, 200, 200).add_rule(TransitAccess(share=0.0, share_by_type={"public_rental": 1.0})).solve()
    assert units(plan, parcel_id="P1", type="public_rental") == 200
    assert units(plan, parcel_id="P0", type="talent_apartment") == 200


def test_transit_check_quotes_units_per_type_and_year():
    p = grid_parcels(1, station_m_2016=[5000.0], years=(2016,))
    prob = two_types(p, 200, 0).add_rule(TransitAccess(share=0.0, within_m=800, share_by_type={"public_rental": 0.6}))
    msgs = [f.message for f in prob.check()]
    assert any(m.startswith("2016 public_rental: target 200 units, 60% of them within 800 m") and m.endswith("hold 0") for m in msgs)


def test_service_access_binds_and_switches_off():
    p = grid_parcels(2, score_2016=[1.0, 0.2], years=(2016,),
                     svc_school_m=[2000.0, 300.0], svc_clinic_m=[100.0, 600.0])
    off = two_types(p, 300, 0).solve()
    on = two_types(p, 300, 0).add_rule(ServiceAccess(share=0.5, within_m=800, groups=("school", "clinic"))).solve()
    assert units(off, parcel_id="P0") == 300
    assert units(on, parcel_id="P1") == 150 and units(on, parcel_id="P0") == 150


def test_service_groups_must_be_known():
    with pytest.raises(SpecificationError, match="unknown service groups"):
        ServiceAccess(groups=("school", "zoo"))


def test_park_workers_share_counts_only_worker_types():
    p = grid_parcels(2, score_2016=[1.0, 0.2], park_m=[9000.0, 500.0], park_index=[0, 0], years=(2016,))
    rule = ParkWorkers(types=("talent_apartment",), share=1.0, within_m=3000)
    plan = two_types(p, 200, 100).add_rule(rule).solve()
    assert units(plan, parcel_id="P1", type="talent_apartment") == 100
    assert units(plan, parcel_id="P0", type="public_rental") == 200


def test_park_workers_proportional_to_workers():
    # Two parks with 3:1 workers; P1 is nearest park 0, P2 nearest park 1.
    p = grid_parcels(3, score_2016=[1.0, 0.3, 0.2], park_m=[9000.0, 500.0, 500.0], park_index=[0, 0, 1], years=(2016,))
    rule = ParkWorkers(types=("public_rental",), share=0.8, within_m=3000, proportional=True, workers=(30000, 10000), park_names=("A", "B"))
    plan = two_types(p, 400, 0).add_rule(rule).solve()
    assert units(plan, parcel_id="P1") >= 240 and units(plan, parcel_id="P2") >= 80
    assert plan.total_shortfall == 0


# -- checks before solving: combined limits -----------------------------------

from siteplan import Inclusionary, PlotRatio, ProjectSize, YearlyTargets, problem  # noqa: E402
from siteplan.model.dispersion import MaxProjects  # noqa: E402

PR = {"public_rental": 50.0}


def _near_city(**rules):
    # P0-P2 lie near a station and hold 400 units each (60,000 m2 of floor
    # area); P3 is far. 90% of 1,000 units is 900 near units.
    p = grid_parcels(4, years=(2016,), station_m_2016=[100.0, 100.0, 100.0, 5000.0])
    prob = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 1000}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    for rule in rules.values():
        prob = prob.add_rule(rule)
    return prob.add_rule(TransitAccess(share=0.9, within_m=800))


def test_transit_check_bounds_by_project_size():
    assert _near_city().check() == []  # floor area alone: 45,000 m2 needed, 60,000 m2 near
    prob = _near_city(size=ProjectSize(0, 250))
    msgs = [f.message for f in prob.check()]
    assert msgs == ["2016: target 1,000 units, 90% of them (900) within 800 m of an open station, but parcels available in 2016 "
                    "within 800 m of an open station hold at most 750 at 250 units per project"]
    assert prob.solve().total_shortfall == pytest.approx(150)  # the solve agrees: 900 - 750 near units short


def test_transit_check_bounds_by_projects_per_district_year():
    msgs = [f.message for f in _near_city(most=MaxProjects(2)).check()]
    assert len(msgs) == 1 and "hold at most 800 at 2 new projects per district and year" in msgs[0]
    assert _near_city(most=MaxProjects(3)).check() == []


def test_transit_check_bounds_by_parcels_supplied_once():
    # Two near parcels of 400 units serve both years: 900 near units needed.
    p = grid_parcels(3, station_m_2016=[100.0, 100.0, 5000.0], station_m_2017=[100.0, 100.0, 5000.0])
    prob = (
        problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2016): 500, ("public_rental", 2017): 500})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(0, 400)).add_rule(TransitAccess(share=0.9))
    )
    msgs = [f.message for f in prob.check()]
    assert msgs == ["2016-2017: targets 1,000 units, 90% of them (900) within 800 m of an open station, but the 2 parcels available "
                    "by 2017 within 800 m of an open station hold at most 800 at 400 units per project, each supplied once"]


def test_transit_check_counts_commercial_projects_far_from_stations():
    # P0 is a far commercial project of 20,000 m2: 10% = 40 units of 50 m2
    # must go there, so at most 60 of the 100 units can be near (70% asked).
    p = grid_parcels(2, years=(2016,), role=["inclusionary", "new"], station_m_2016=[5000.0, 100.0])
    prob = (
        problem(p, PR, [2016]).add_targets({("public_rental", 2016): 100}).add_rule(PlotRatio()).add_rule(YearlyTargets())
        .add_rule(Inclusionary(ratio=0.1)).add_rule(TransitAccess(share=0.7))
    )
    msgs = [f.message for f in prob.check()]
    assert msgs == ["2016: 70% of the year's 100 units (70) must lie within 800 m of an open station, but the 1 commercial project "
                    "supplied in 2016 farther away must carry at least 40 affordable units (10% of their floor area), which leaves "
                    "at most 60 (60.0%) near"]
    assert prob.solve().total_shortfall == pytest.approx(10)


def test_top_sum_adds_each_groups_largest_values():
    from siteplan.model.access import _top_sum

    rng = np.random.default_rng(3)
    for _ in range(100):
        n = int(rng.integers(0, 25))
        values = rng.integers(0, 50, n).astype(float)
        groups = rng.choice(["东岸", "西岸", "北岸"], n)
        k = int(rng.integers(1, 5))
        expected = sum(sum(sorted(values[groups == g], reverse=True)[:k]) for g in set(groups))
        assert _top_sum(values, groups, k) == pytest.approx(expected)
