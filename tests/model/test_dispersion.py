"""大分散、小集中 rules on tiny instances whose optimum is known by hand."""

from __future__ import annotations

import pytest

from siteplan import DistrictShare, MaxProjects, PlotRatio, RadiusCap, YearlyTargets, problem
from siteplan.errors import SpecificationError
from tests.cities import grid_parcels

PR = {"public_rental": 50.0}


def base(p, target, years=(2016,)):
    return problem(p, PR, list(years)).add_targets({("public_rental", years[0]): target}).add_rule(PlotRatio()).add_rule(YearlyTargets())


def by(plan, col):
    p = plan.problem.parcels.set_index("parcel_id")[col]
    return plan.units.groupby(plan.units["parcel_id"].map(p))["units"].sum().to_dict()


def test_district_min_share_spreads_units():
    # District A's parcels score higher; without the rule all 400 go to A.
    p = grid_parcels(4, district=["A", "A", "B", "B"], score_2016=[1.0, 0.9, 0.2, 0.1], years=(2016,))
    off = base(p, 400).solve()
    on = base(p, 400).add_rule(DistrictShare(min_share=0.25, max_share=1.0)).solve()
    assert by(off, "district") == {"A": 400}
    assert by(on, "district") == {"A": 300, "B": 100}
    assert on.total_shortfall == 0


def test_district_max_share_caps_units():
    p = grid_parcels(4, district=["A", "A", "B", "B"], score_2016=[1.0, 0.9, 0.2, 0.1], years=(2016,))
    on = base(p, 400).add_rule(DistrictShare(min_share=0.0, max_share=0.6)).solve()
    assert by(on, "district") == {"A": 240, "B": 160}


def test_district_share_that_cannot_hold_is_a_shortfall_not_a_failure():
    # District C has no parcel: its minimum share cannot be met.
    p = grid_parcels(2, district=["A", "B"], years=(2016,))
    plan = base(p, 200).add_rule(DistrictShare(min_share=0.2, districts=("A", "B", "C"))).solve()
    short = plan.shortfall_table()
    assert short["rule"].tolist() == ["district_share"] and short["district"].tolist() == ["C"]
    assert short["units"].tolist() == [pytest.approx(40)]
    assert any("district C" in f.message for f in plan.findings)


def test_radius_cap_pushes_the_second_project_away():
    # P0 and P1 are 300 m apart (boxes every 300 m); P3 is 900 m from P0.
    p = grid_parcels(4, score_2016=[1.0, 0.9, 0.5, 0.4], years=(2016,))
    off = base(p, 600).solve()
    on = base(p, 600).add_rule(RadiusCap(radius_m=400, max_units=400)).solve()
    assert set(off.units["parcel_id"]) == {"P0", "P1"}
    used = set(on.units["parcel_id"])
    assert "P1" not in used and "P2" not in used.intersection({"P1"})
    # every used parcel's 400 m circle holds at most 400 units
    cent = p.set_index("parcel_id").geometry.centroid
    tot = on.units.groupby("parcel_id")["units"].sum()
    for pid in tot.index:
        near = [q for q in tot.index if cent[q].distance(cent[pid]) <= 400]
        assert tot[near].sum() <= 400


def test_radius_cap_adds_rows_only_where_a_circle_can_overflow():
    p = grid_parcels(4, years=(2016,))
    m = base(p, 100).add_rule(RadiusCap(radius_m=400, max_units=10_000)).compile()
    assert "radius_cap" not in m.rule_names()


def test_max_projects_per_district_and_year():
    p = grid_parcels(3, score_2016=[1.0, 0.9, 0.8], years=(2016,))
    off = base(p, 600).solve()
    on = base(p, 600).add_rule(MaxProjects(per_district_year=1)).solve()
    assert off.units["parcel_id"].nunique() == 2
    assert on.units["parcel_id"].nunique() == 1
    assert on.total_shortfall == pytest.approx(200)  # one parcel holds 400


def test_invalid_shares_are_rejected():
    with pytest.raises(SpecificationError, match="min_share <= max_share"):
        DistrictShare(min_share=0.5, max_share=0.2)
