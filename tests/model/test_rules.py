"""Each rule on a tiny instance whose optimum is known by hand: the rule
binds, and the answer changes as expected when it is switched off."""

from __future__ import annotations

import numpy as np
import pytest

from siteplan import PlotRatio, ProjectSize, TransitAccess, YearlyTargets, ZoneTargets, problem
from siteplan.errors import SpecificationError
from tests.cities import grid_parcels

PR = {"public_rental": 50.0}


def placed(plan, **where):
    u = plan.units
    for k, v in where.items():
        u = u.loc[u[k] == v]
    return int(u["units"].sum())


def test_plot_ratio_caps_floor_area_and_shortfall_is_reported():
    # 1 ha x plot ratio 2 = 20,000 m2 = 400 units of 50 m2; the target is 500.
    p = grid_parcels(1, years=(2016,))
    plan = (
        problem(p, PR, [2016]).add_targets({("public_rental", 2016): 500})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    )
    assert placed(plan) == 400
    assert plan.total_shortfall == pytest.approx(100)
    assert set(plan.shortfall["rule"]) == {"yearly_targets"}


def test_plot_ratio_upper_bound_for_flagged_types():
    p = grid_parcels(1, years=(2016,), far_upper=[2.5])
    base = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 500}).add_rule(YearlyTargets())
    plain = base.add_rule(PlotRatio()).solve()
    uplift = base.add_rule(PlotRatio(upper_for=("public_rental",))).solve()
    assert placed(plain) == 400
    assert placed(uplift) == 500 and uplift.total_shortfall == 0


def test_targets_are_met_exactly_and_whole():
    p = grid_parcels(3, score_2016=[0.9, 0.5, 0.1], score_2017=[0.9, 0.5, 0.1])
    targets = {("public_rental", 2016): 333, ("public_rental", 2017): 251}
    plan = problem(p, PR, [2016, 2017]).add_targets(targets).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    assert placed(plan, year=2016) == 333 and placed(plan, year=2017) == 251
    assert plan.units["units"].dtype.kind == "i"


def test_one_supply_year_per_parcel():
    # The best parcel holds 400 units; 200 are due in each year. Without the
    # one-year rule it would take both years; with it the second year moves.
    p = grid_parcels(2, score_2016=[1.0, 0.2], score_2017=[1.0, 0.2])
    targets = {("public_rental", 2016): 200, ("public_rental", 2017): 200}
    plan = problem(p, PR, [2016, 2017]).add_targets(targets).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    years_per_parcel = plan.units.groupby("parcel_id")["year"].nunique()
    assert (years_per_parcel == 1).all()
    assert set(plan.units["parcel_id"]) == {"P0", "P1"}


def test_available_year_is_respected():
    p = grid_parcels(2, available_year=[2017, 2016], score_2016=[1.0, 0.1], score_2017=[1.0, 0.1])
    plan = (
        problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2016): 100})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    )
    assert plan.units["parcel_id"].tolist() == ["P1"]


def test_zone_targets_bind_and_switch_off():
    p = grid_parcels(2, zone=["E", "W"], score_2016=[1.0, 0.5], years=(2016,))
    base = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 300}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    off = base.solve()
    on = base.add_rule(ZoneTargets({"W": 300})).solve()
    assert off.units["parcel_id"].tolist() == ["P0"]
    assert on.units["parcel_id"].tolist() == ["P1"]
    assert on.total_shortfall == 0


def test_project_size_bounds():
    p = grid_parcels(3, score_2016=[1.0, 0.8, 0.6], years=(2016,))
    base = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 400}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    off = base.solve()
    on = base.add_rule(ProjectSize(min_units=150, max_units=200)).solve()
    assert off.units["units"].tolist() == [400]
    assert sorted(on.units["units"].tolist()) == [200, 200]
    assert set(on.units["parcel_id"]) == {"P0", "P1"}


def test_project_size_min_prunes_small_parcels():
    # 0.25 ha x 2 = 5,000 m2 = 100 units < min 150: never offered.
    p = grid_parcels(2, years=(2016,))
    p.loc[0, "area_m2"] = 2_500.0
    prob = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 150}).add_rule(PlotRatio()).add_rule(ProjectSize(150, 400))
    ctx = prob.context()
    assert set(ctx.z_parcel.tolist()) == {1}


def test_transit_share_binds_and_switches_off():
    p = grid_parcels(2, score_2016=[1.0, 0.3], station_m_2016=[5000.0, 100.0], years=(2016,))
    base = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 300}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    off = base.solve()
    on = base.add_rule(ProjectSize(0, 400)).add_rule(TransitAccess(share=0.5, within_m=800)).solve()
    assert placed(off, parcel_id="P0") == 300
    near = placed(on, parcel_id="P1")
    assert near >= 150 and near == 150  # exactly the share: the rest stays on the better parcel


def test_transit_uses_station_opening_year_with_lead():
    p = grid_parcels(2, score_2016=[1.0, 0.3], station_m_2016=[5000.0, 5000.0], station_m_2018=[5000.0, 100.0], years=(2016,))
    base = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 300}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    now = base.add_rule(TransitAccess(share=1.0, within_m=800)).solve()
    lead = base.add_rule(TransitAccess(share=1.0, within_m=800, lead_years=2)).solve()
    assert set(now.shortfall["rule"]) == {"transit_access"}  # no station open: the rule cannot hold
    assert placed(lead, parcel_id="P1") == 300 and lead.total_shortfall == 0


def test_checks_before_solving_quote_numbers():
    p = grid_parcels(1, years=(2016,))
    prob = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 1000}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    msgs = [f.message for f in prob.check()]
    assert any("50,000 m2" in m and "20,000 m2" in m for m in msgs)


def test_compile_without_solving_exposes_rows_per_rule():
    p = grid_parcels(3)
    prob = (
        problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2016): 10})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(1, 400)).add_rule(TransitAccess())
    )
    m = prob.compile()
    assert m.rule_names() == ["one_supply_year", "plot_ratio", "yearly_targets", "project_size", "transit_access"]
    assert len(m.rows_of("plot_ratio")) == 6  # 3 parcels x 2 years
    assert len(m.rows_of("yearly_targets")) == 2
    assert m.integrality[m.ctx.n_u:m.ctx.n_u + m.ctx.n_z].all()
    assert not m.integrality[: m.ctx.n_u].any()
    # The targets row for 2016 sums every u of that year with coefficient 1.
    row = m.A[m.rows.index[m.rows["rule"] == "yearly_targets"][0]].toarray().ravel()
    assert np.array_equal(np.nonzero(row[: m.ctx.n_u])[0], np.nonzero(m.ctx.u_year == 0)[0])
    assert sorted(row[m.ctx.n_u + m.ctx.n_z :][row[m.ctx.n_u + m.ctx.n_z :] != 0]) == [-1.0, 1.0]  # shortfall and excess


def test_add_rule_returns_new_problem_and_replacing_warns():
    p = grid_parcels(1)
    a = problem(p, PR, [2016, 2017])
    b = a.add_rule(PlotRatio())
    assert a.rules == () and len(b.rules) == 1
    with pytest.warns(UserWarning, match="replaces"):
        b.add_rule(PlotRatio(upper_for=("public_rental",)))


def test_plot_ratio_rule_is_required():
    p = grid_parcels(1)
    with pytest.raises(SpecificationError, match="plot-ratio"):
        problem(p, PR, [2016, 2017]).compile()


def test_cbc_gives_the_same_optimum_as_highs():
    p = grid_parcels(4, score_2016=[0.9, 0.7, 0.4, 0.2], score_2017=[0.8, 0.6, 0.5, 0.1], zone=["E", "E", "W", "W"])
    prob = (
        problem(p, PR, [2016, 2017])
        .add_targets({("public_rental", 2016): 350, ("public_rental", 2017): 420})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(100, 400)).add_rule(ZoneTargets({"W": 300}))
    )
    h = prob.solve(solver="highs", gap=0.0)
    c = prob.solve(solver="cbc", gap=0.0)
    assert h.report.objective == pytest.approx(c.report.objective, rel=1e-6)


# -- land rules ---------------------------------------------------------------

from siteplan import Budget, Inclusionary, LockIn, LockOut, UnitSizes  # noqa: E402


def test_inclusionary_project_carries_its_share_in_its_year():
    # P0 is a commercial project ready in 2017 with 20,000 m2 of floor area;
    # 10% = 2,000 m2 = 40 units of 50 m2 must go there, in 2017.
    p = grid_parcels(3, role=["inclusionary", "new", "new"], available_year=[2017, 2016, 2016],
                     score_2016=[0.1, 0.5, 0.5], score_2017=[0.1, 0.5, 0.5])
    plan = (
        problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2016): 100, ("public_rental", 2017): 100})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(Inclusionary(ratio=0.10)).solve()
    )
    inc = plan.units.loc[plan.units["parcel_id"] == "P0"]
    assert inc["year"].tolist() == [2017] and inc["units"].tolist() == [40]
    assert plan.total_shortfall == 0
    assert plan.allocation().query("parcel_id == 'P0'")["role"].tolist() == ["inclusionary"]


def test_inclusionary_types_are_limited():
    p = grid_parcels(2, role=["inclusionary", "new"], years=(2016,))
    prob = (
        problem(p, {"public_rental": 50.0, "price_capped": 80.0}, [2016])
        .add_targets({("public_rental", 2016): 100, ("price_capped", 2016): 100})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(Inclusionary(ratio=0.1, types=("public_rental",)))
    )
    plan = prob.solve()
    assert set(plan.units.loc[plan.units["parcel_id"] == "P0", "type"]) == {"public_rental"}


def test_lock_out_by_id_and_polygon():
    import geopandas as gpd
    import shapely

    p = grid_parcels(3, score_2016=[1.0, 0.9, 0.1], years=(2016,))
    redline = gpd.GeoSeries([shapely.box(250, 0, 450, 50)], crs=p.crs)  # covers part of P1
    plan = (
        problem(p, PR, [2016]).add_targets({("public_rental", 2016): 100})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(LockOut(parcel_ids=("P0",), polygons=redline)).solve()
    )
    assert plan.units["parcel_id"].tolist() == ["P2"]


def test_lock_in_forces_a_parcel_and_reports_one_it_cannot_use():
    p = grid_parcels(3, score_2016=[1.0, 0.9, 0.1], metro_depot=[False, False, True], available_year=[2016, 2016, 2016], years=(2016,))
    p.loc[1, "available_year"] = 2030
    prob = (
        problem(p, PR, [2016]).add_targets({("public_rental", 2016): 100})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(LockIn(parcel_ids=("P1",), where={"metro_depot": [True]}))
    )
    plan = prob.solve()
    assert "P2" in set(plan.units["parcel_id"])
    assert any("P1 cannot be used" in f.message and "2030" in f.message for f in plan.findings)


def test_budget_limits_investment_and_shows_as_shortfall():
    # 200 units x 50 m2 x 1,000 yuan = 10 million yuan; the budget is 6 million.
    p = grid_parcels(2, years=(2016,))
    plan = (
        problem(p, PR, [2016]).add_targets({("public_rental", 2016): 200})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(Budget({"public_rental": 1000.0}, [6e6])).solve()
    )
    assert placed(plan) == 120
    short = plan.shortfall_table()
    assert short["rule"].tolist() == ["yearly_targets"] and "budget" in short["binding_rules"][0]


def test_unit_sizes_check_caps_and_dormitories():
    p = grid_parcels(1, years=(2016,))
    prob = (
        problem(p, {"public_rental": 65.0, "dorm": 20.0}, [2016])
        .add_rule(PlotRatio()).add_rule(UnitSizes(caps={"public_rental": 60.0}, persons_per_unit={"dorm": 5}))
    )
    msgs = [f.message for f in prob.check()]
    assert any("65 m2 per unit is above the policy cap of 60 m2" in m for m in msgs)
    assert any("4.0 m2 each, below 5 m2 per person" in m for m in msgs)


def test_shortfall_is_zero_when_the_targets_can_be_met_and_least_when_not():
    # Capacity 400 + 400 units; target 1,000 forces a shortfall of exactly 200.
    p = grid_parcels(2, years=(2016,))
    prob = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 1000}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    plan = prob.solve(gap=0.05)
    assert plan.total_shortfall == pytest.approx(200)
    assert "least-shortfall" in plan.report.method
    ok = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 800}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    assert ok.total_shortfall == 0


# -- shortfall: what binds, row by row ----------------------------------------

from siteplan.model.dispersion import RadiusCap  # noqa: E402


def test_shortfall_names_radius_cap_and_not_project_size():
    # Three parcels of 2,000 units each lie within 1 km of one another; the
    # circle cap of 500 units is all that stops the 800-unit target.
    p = grid_parcels(3, far=10.0, years=(2016,))
    plan = (
        problem(p, PR, [2016]).add_targets({("public_rental", 2016): 800}).add_rule(PlotRatio()).add_rule(YearlyTargets())
        .add_rule(ProjectSize(0, 1000)).add_rule(RadiusCap(radius_m=1000, max_units=500)).solve()
    )
    short = plan.shortfall_table()
    assert placed(plan) == 500
    assert short["binding_rules"].tolist() == ["radius_cap"]


def test_shortfall_names_the_rule_of_its_own_year():
    # 2016: only P0 is ready and it holds 400 of 500 units (plot ratio).
    # 2017: P1 and P2 hold plenty, but the budget pays for 200 of 300 units.
    p = grid_parcels(3, available_year=[2016, 2017, 2017])
    plan = (
        problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2016): 500, ("public_rental", 2017): 300})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(Budget({"public_rental": 1000.0}, [1e8, 1e7])).solve()
    )
    short = plan.shortfall_table().set_index("year")
    assert short.loc[2016, "units"] == pytest.approx(100) and short.loc[2017, "units"] == pytest.approx(100)
    assert short.loc[2016, "binding_rules"] == "plot_ratio"
    assert "budget" in short.loc[2017, "binding_rules"] and "plot_ratio" not in short.loc[2017, "binding_rules"]


def test_share_shortfall_is_split_by_district_and_type():
    # Only P0 (district A, 400 units) is near a station; 80% of 900 units
    # must be near, so 320 near units are missing.
    p = grid_parcels(4, years=(2016,), district=["A", "A", "B", "B"], station_m_2016=[100.0, 5000.0, 5000.0, 5000.0])
    plan = (
        problem(p, {"public_rental": 50.0, "talent": 80.0}, [2016])
        .add_targets({("public_rental", 2016): 600, ("talent", 2016): 300})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(TransitAccess(share=0.8)).solve()
    )
    short = plan.shortfall_table()
    assert set(short["rule"]) == {"transit_access"}
    assert short["units"].sum() == pytest.approx(plan.total_shortfall) == pytest.approx(320)
    assert short["district"].notna().all() and short["type"].notna().all()
    u = plan.units.assign(district=plan.units["parcel_id"].map(p.set_index("parcel_id")["district"]))
    near = u["parcel_id"] == "P0"
    for row in short.itertuples():
        g = u.loc[(u["district"] == row.district) & (u["type"] == row.type)]
        deficit = 0.8 * g["units"].sum() - g.loc[g["parcel_id"] == "P0", "units"].sum()
        assert deficit > 0
    # The near parcel P0 is full: plot ratio binds for district A's groups,
    # which could move units onto it. District B has no near land: its units
    # could only leave its far parcels by missing the exact targets.
    assert near.any()
    for row in short.itertuples():
        assert row.binding_rules == ("plot_ratio" if row.district == "A" else "yearly_targets (elastic)")


# -- compliance rows for land availability, one supply year, district targets --


def test_compliance_reports_supply_year_and_land_availability():
    # P0 scores best but its land is ready only in 2017, when the target falls.
    p = grid_parcels(2, available_year=[2017, 2016], score_2016=[1.0, 0.1], score_2017=[1.0, 0.1])
    plan = (
        problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2017): 100})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    )
    comp = plan.compliance().set_index("rule")
    assert plan.units["parcel_id"].tolist() == ["P0"] and plan.units["year"].tolist() == [2017]
    assert comp.loc["available_year", "ok"] and comp.loc["available_year", "binding"]
    assert comp.loc["available_year", "achieved"] == "0 parcels used early; 1 new projects supplied in the year their land becomes available"
    assert comp.loc["one_supply_year", "ok"] and comp.loc["one_supply_year", "binding"]
    assert comp.loc["one_supply_year", "rows"] == 2 and comp.loc["one_supply_year", "binding_rows"] >= 1
    # Ready in 2016 instead: supplied in the first plan year, availability does not bind.
    p2 = p.assign(available_year=2016)
    plan2 = problem(p2, PR, [2016, 2017]).add_targets({("public_rental", 2017): 100}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    assert not plan2.compliance().set_index("rule").loc["available_year", "binding"]


def test_compliance_reports_district_targets_per_year():
    p = grid_parcels(3, district=["A", "B", "B"], score_2016=[1.0, 0.5, 0.4], score_2017=[1.0, 0.5, 0.4])
    plan = (
        problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2017): 300})
        .add_rule(PlotRatio()).add_rule(YearlyTargets())
        .add_rule(ZoneTargets({"B": [0, 250]}, column="district", name="district_targets")).solve()
    )
    u = plan.units.assign(district=plan.units["parcel_id"].map(p.set_index("parcel_id")["district"]))
    b_2017 = int(u.loc[(u["district"] == "B") & (u["year"] == 2017), "units"].sum())
    b_2016 = int(u.loc[(u["district"] == "B") & (u["year"] == 2016), "units"].sum())
    assert b_2017 >= 250
    row = plan.compliance().set_index("rule").loc["district_targets"]
    assert row["required"] == "B 2016 >= 0; B 2017 >= 250"
    assert row["achieved"] == f"B 2016 {b_2016:,}; B 2017 {b_2017:,}"
    assert row["ok"] and row["binding"] == (b_2017 == 250)
    off = problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2017): 300}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    assert "district_targets" not in set(off.compliance()["rule"])
    assert off.units.loc[off.units["year"] == 2017, "parcel_id"].tolist() == ["P0"]  # without the target, 2017 stays in A


# -- each rule on and off ------------------------------------------------------

from siteplan import ParkWorkers  # noqa: E402


def _base(p, targets, years=(2016,), area=None):
    return problem(p, area or PR, list(years)).add_targets(targets).add_rule(PlotRatio()).add_rule(YearlyTargets())


def test_park_workers_on_and_off():
    # P0 scores best but lies 5 km from the park; P1 lies 1 km from it.
    p = grid_parcels(2, years=(2016,), score_2016=[1.0, 0.2], park_m=[5000.0, 1000.0])
    base = _base(p, {("public_rental", 2016): 300})
    off = base.solve()
    on = base.add_rule(ParkWorkers(types=("public_rental",), share=0.5, within_m=3000)).solve()
    assert placed(off, parcel_id="P0") == 300
    assert placed(on, parcel_id="P1") == 150 and placed(on, parcel_id="P0") == 150 and on.total_shortfall == 0


def test_park_workers_in_proportion_to_each_park():
    # Two parks with 3,000 and 1,000 workers; 80% of 400 units near parks,
    # split 3:1: 240 units near park 0 (P1) and 80 near park 1 (P2).
    p = grid_parcels(3, years=(2016,), score_2016=[1.0, 0.2, 0.3], park_m=[5000.0, 500.0, 500.0], park_index=[0, 0, 1])
    base = _base(p, {("public_rental", 2016): 400})
    plain = base.add_rule(ParkWorkers(types=("public_rental",), share=0.8)).solve()
    prop = base.add_rule(ParkWorkers(types=("public_rental",), share=0.8, proportional=True, workers=(3000, 1000), park_names=("甲", "乙"))).solve()
    assert placed(plain, parcel_id="P1") == 0 and placed(plain, parcel_id="P2") == 320  # the better-scored park parcel
    assert placed(prop, parcel_id="P1") == 240 and placed(prop, parcel_id="P2") == 80 and placed(prop, parcel_id="P0") == 80


def test_inclusionary_on_and_off():
    # P0 is a commercial project scoring low: only the rule puts units there.
    p = grid_parcels(2, years=(2016,), role=["inclusionary", "new"], score_2016=[0.1, 1.0])
    base = _base(p, {("public_rental", 2016): 200})
    off = base.solve()
    on = base.add_rule(Inclusionary(ratio=0.10)).solve()
    assert placed(off, parcel_id="P0") == 0 and placed(off, parcel_id="P1") == 200
    assert placed(on, parcel_id="P0") == 40 and placed(on, parcel_id="P1") == 160  # 10% of 20,000 m2 = 40 units of 50 m2


def test_lock_in_on_and_off():
    p = grid_parcels(3, years=(2016,), score_2016=[1.0, 0.9, 0.1], metro_depot=[False, False, True])
    base = _base(p, {("public_rental", 2016): 300}).add_rule(ProjectSize(100, 400))
    off = base.solve()
    on = base.add_rule(LockIn(where={"metro_depot": [True]})).solve()
    assert set(off.units["parcel_id"]) == {"P0"}
    assert "P2" in set(on.units["parcel_id"]) and placed(on, parcel_id="P2") == 100  # the least a project may hold
    assert placed(on) == 300


def test_lock_out_on_and_off_by_id_attribute_and_polygon():
    import geopandas as gpd
    import shapely

    p = grid_parcels(4, years=(2016,), score_2016=[1.0, 0.9, 0.8, 0.1], status=["reserve", "committed", "reserve", "reserve"])
    base = _base(p, {("public_rental", 2016): 100}).add_rule(ProjectSize(0, 400))
    assert set(base.solve().units["parcel_id"]) == {"P0"}
    assert set(base.add_rule(LockOut(parcel_ids=("P0",))).solve().units["parcel_id"]) == {"P1"}
    assert set(base.add_rule(LockOut(parcel_ids=("P0",), where={"status": ["committed"]})).solve().units["parcel_id"]) == {"P2"}
    flood = gpd.GeoSeries([shapely.box(600, 0, 700, 10)], crs=p.crs)  # touches 10% of P2
    assert set(base.add_rule(LockOut(parcel_ids=("P0",), where={"status": ["committed"]}, polygons=flood)).solve().units["parcel_id"]) == {"P3"}
    # Below the overlap threshold the polygon does not lock P2 out.
    kept = base.add_rule(LockOut(parcel_ids=("P0",), where={"status": ["committed"]}, polygons=flood, min_overlap=0.2)).solve()
    assert set(kept.units["parcel_id"]) == {"P2"}


def test_budget_on_and_off():
    # 200 units x 50 m2 x 1,000 yuan = 10 million yuan; the budget is 6 million.
    p = grid_parcels(2, years=(2016,))
    base = _base(p, {("public_rental", 2016): 200})
    assert placed(base.solve()) == 200
    on = base.add_rule(Budget({"public_rental": 1000.0}, [6e6])).solve()
    assert placed(on) == 120 and on.total_shortfall == pytest.approx(80)


def test_far_upper_only_for_flagged_types():
    # far_upper 2.5 on a 1 ha parcel: 25,000 m2 instead of 20,000 m2, for public rental only.
    p = grid_parcels(1, years=(2016,), far_upper=[2.5])
    two = {"public_rental": 50.0, "talent": 50.0}
    targets = {("public_rental", 2016): 500, ("talent", 2016): 0}
    plain = problem(p, two, [2016]).add_targets(targets).add_rule(YearlyTargets()).add_rule(PlotRatio()).solve()
    flagged = problem(p, two, [2016]).add_targets(targets).add_rule(YearlyTargets()).add_rule(PlotRatio(upper_for=("public_rental",))).solve()
    other = problem(p, two, [2016]).add_targets(targets).add_rule(YearlyTargets()).add_rule(PlotRatio(upper_for=("talent",))).solve()
    assert placed(plain) == 400 and placed(flagged) == 500 and placed(other) == 400
    assert flagged.units["far"].tolist() == [2.5]


def test_unit_sizes_on_and_off_dormitory_and_cap():
    p = grid_parcels(1, years=(2016,))

    def findings(area, rule=None):
        prob = problem(p, area, [2016]).add_rule(PlotRatio())
        return [f.message for f in (prob.add_rule(rule) if rule else prob).check()]

    dorm = UnitSizes(caps={"public_rental": 60.0}, persons_per_unit={"dorm": 4})
    assert findings({"dorm": 19.0}, dorm) == ["dorm: 19 m2 for 4 persons is 4.8 m2 each, below 5 m2 per person"]
    assert findings({"dorm": 20.0}, dorm) == []  # exactly 5 m2 each
    assert findings({"dorm": 19.0}) == []  # rule off
    assert findings({"public_rental": 61.0}, dorm) == ["public_rental: 61 m2 per unit is above the policy cap of 60 m2"]
    assert findings({"public_rental": 61.0}, UnitSizes(caps={"public_rental": 60.0}, allow_oversize=("public_rental",))) == []
    assert findings({"public_rental": 61.0}) == []


def test_zone_target_check_counts_parcels_available_by_each_year():
    # Zone W: P0 (from 2016) and P1 (from 2017), 400 units each at 50 m2;
    # P2 in zone E. By 2016 W holds 400, by 2017 800, over the plan 800.
    p = grid_parcels(3, zone=["W", "W", "E"], available_year=[2016, 2017, 2016])
    cap = (p["area_m2"] * p["far_max"] / PR["public_rental"]).groupby([p["zone"], p["available_year"]]).sum()
    assert cap[("W", 2016)] == pytest.approx(400) and cap[("W", 2017)] == pytest.approx(400)
    base = problem(p, PR, [2016, 2017]).add_targets({("public_rental", 2016): 600, ("public_rental", 2017): 900}).add_rule(PlotRatio()).add_rule(YearlyTargets())

    def errors(targets):
        return [f.message for f in base.add_rule(ZoneTargets(targets)).check() if f.rule == "zone_targets"]

    assert errors({"W": [400, 800]}) == []
    assert errors({"W": [401, 800]}) == ["zone W: target 401 units by 2016, but its usable parcels by 2016 hold at most 400"]
    assert errors({"W": [0, 801]}) == ["zone W: target 801 units by 2017, but its usable parcels by 2017 hold at most 800"]
    assert errors({"W": 801, "E": 401}) == [
        "zone W: target 801 units, but its usable parcels hold at most 800",
        "zone E: target 401 units, but its usable parcels hold at most 400",
    ]


def test_lock_out_polygons_count_the_share_of_each_parcel_they_cover():
    import geopandas as gpd
    import shapely

    # P0 at x 0-100, P1 at 300-400, P2 at 600-700 (100 m squares). A red line
    # covers all of P0 and 30% of P1; a flood zone 60% of P2 (both detailed
    # polygons, as real layers are).
    p = grid_parcels(3, years=(2016,))
    redline = shapely.segmentize(shapely.box(-10, -10, 330, 110), 5.0)
    flood = shapely.segmentize(shapely.box(640, -10, 710, 110), 5.0)
    polys = gpd.GeoSeries([redline, flood], crs=p.crs)
    share = [shapely.area(shapely.intersection(g, shapely.union(redline, flood))) / g.area for g in p.geometry]
    assert share == pytest.approx([1.0, 0.3, 0.6])
    assert LockOut(polygons=polys, min_overlap=0.5).locked(p).tolist() == [True, False, True]
    assert LockOut(polygons=polys, min_overlap=0.65).locked(p).tolist() == [True, False, False]
    assert LockOut(polygons=polys).locked(p).tolist() == [True, True, True]
    assert LockOut(polygons=polys, min_overlap=0.999).locked(p).tolist() == [True, False, False]
