"""Access rules (transit by type, services, parks) on tiny instances."""

from __future__ import annotations

import pytest

from siteplan import ParkWorkers, PlotRatio, ServiceAccess, TransitAccess, YearlyTargets, problem
from siteplan.errors import SpecificationError
from tests.conftest import grid_parcels

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
