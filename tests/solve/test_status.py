"""Tests for siteplan.solve.status: one honest status from every stage and the delivered whole units.

Every figure is recomputed here from the parcel table and the targets, not
read from siteplan's own numbers.
"""

from __future__ import annotations

import dataclasses
import math


from siteplan import PlotRatio, ProjectSize, TransitAccess, YearlyTargets, problem
from siteplan.solve.plan import Plan
from siteplan.solve.stages import StageRecord
from siteplan.solve.status import FEASIBLE, OPTIMAL, SHORTFALL
from tests.cities import grid_parcels

PR = {"public_rental": 50.0}


def _relabel(plan: Plan, **report) -> Plan:
    """The same plan with a different solver report (as a stage that hit its limit would give)."""
    rep = dataclasses.replace(plan.report, **report)
    return Plan.from_solution(plan.problem, plan.model, plan.x, rep)


def test_a_plan_that_meets_every_target_and_proves_it_is_optimal():
    p = grid_parcels(3, years=(2016,), score_2016=[0.9, 0.5, 0.1])
    plan = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 500}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve(gap=0.0)
    st = plan.status
    assert int(plan.units["units"].sum()) == 500  # recomputed: the target, exactly
    assert st.code == OPTIMAL and st.optimal and st.proven and st.targets_met
    assert (st.units_missing, st.units_excess, st.rules_short) == (0, 0, ())
    assert st.text("en").startswith("Optimal") and st.text("zh").startswith("最优")
    assert plan.status is st  # derived once
    d = st.as_dict()
    assert d["code"] == "optimal" and d["optimal"] is True and d["rules_short"] == [] and "text_zh" in d


def test_a_stage_that_hit_its_limit_makes_the_plan_feasible_not_optimal():
    # The case: the whole-unit step stopped on the time limit while the
    # search said Optimal; the report's own flags said optimal, no limit hit.
    p = grid_parcels(3, years=(2016,), score_2016=[0.9, 0.5, 0.1])
    plan = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 500}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve(gap=0.0)
    stages = (StageRecord("lp", "Optimal", 0.1, False, True, None),
              StageRecord("whole_units", "Time limit reached", 93.0, True, False, None))
    lied = _relabel(plan, status="Optimal", optimal=True, time_limit_hit=False, stages=stages)
    st = lied.status
    assert st.code == FEASIBLE and not st.optimal and st.time_limit_hit and not st.proven
    assert st.stages_limited == ("whole_units",)
    assert "time limit" in st.text("en") and "whole_units" in st.text("en") and "达到时间限制" in st.text("zh")


def test_a_gap_above_its_limit_is_not_optimal():
    p = grid_parcels(3, years=(2016,), score_2016=[0.9, 0.5, 0.1])
    plan = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 500}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve(gap=0.0)
    st = _relabel(plan, gap=0.0277, gap_limit=0.01, within_gap=True, optimal=True).status  # the report's within_gap is not trusted
    assert st.code == FEASIBLE and not st.within_gap and not st.optimal
    assert "2.77%" in st.text("en") and "1.00%" in st.text("en")


def test_an_exact_target_exceeded_is_a_shortfall_never_met():
    # Target 90, but a project holds at least 100 units: the best plan places
    # 100 (10 over the exact target) rather than nothing (90 short).
    p = grid_parcels(2, years=(2016,))
    plan = (problem(p, PR, [2016]).add_targets({("public_rental", 2016): 90})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(100, 400)).solve())
    placed = int(plan.units["units"].sum())
    assert placed == 100
    st = plan.status
    assert st.code == SHORTFALL and not st.targets_met and not st.optimal
    assert (st.units_missing, st.units_excess) == (0, placed - 90)
    assert "10 units over exact targets" in st.text("en") and "超出 10 套" in st.text("zh")
    comp = plan.compliance().set_index("rule")
    row = comp.loc["yearly_targets"]
    assert not row["ok"] and row["shortfall"] == 10
    assert "0 of 1 type-years met" in row["achieved"]  # never "1 of 1 met" on a row that is not OK
    assert plan.shortfall_table()[["rule", "side", "units"]].values.tolist() == [["yearly_targets", "excess", 10]]


def test_at_least_targets_are_met_by_more_units():
    p = grid_parcels(2, years=(2016,))
    plan = (problem(p, PR, [2016]).add_targets({("public_rental", 2016): 90})
            .add_rule(PlotRatio()).add_rule(YearlyTargets(mode="at_least")).add_rule(ProjectSize(100, 400)).solve())
    st = plan.status
    assert int(plan.units["units"].sum()) >= 90
    assert st.targets_met and st.units_excess == 0 and st.code in (OPTIMAL, FEASIBLE)


def test_share_shortfall_is_whole_units_rounded_up_and_never_added_to_the_targets():
    # Two parcels of 400 units: P0 near a station, P1 far. 700 units, 60% near:
    # 420 near needed, 400 possible -> 20 near units missing. Every figure
    # recomputed from the parcel table.
    p = grid_parcels(2, years=(2016,), station_m_2016=[100.0, 5000.0])
    share = 0.6
    plan = (problem(p, PR, [2016]).add_targets({("public_rental", 2016): 701})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(TransitAccess(share=share, within_m=800)).solve())
    u = plan.units
    near = u["parcel_id"].map(p.set_index("parcel_id")["station_m_2016"] <= 800)
    total, near_units = int(u["units"].sum()), int(u.loc[near, "units"].sum())
    expected = math.ceil(share * total - near_units - 1e-9)
    assert expected > 0 and share * total - near_units != expected  # a fractional deficit, rounded up
    st = plan.status
    assert st.code == SHORTFALL and st.targets_met
    assert st.rules_short == (("transit_access", "short", expected),)
    short = plan.shortfall_table()
    assert short["units"].dtype.kind == "i" and int(short["units"].sum()) == expected
    assert plan.compliance().set_index("rule").loc["transit_access", "shortfall"] == expected


def test_plot_ratio_binds_at_the_last_whole_unit():
    # 1 ha at plot ratio 2 holds 20,000 m2: 285.7 units of 70 m2, so a full
    # parcel holds 285 and stops 0.7 units short of 100% of its cap.
    p = grid_parcels(2, years=(2016,))
    area = {"talent_apartment": 70.0}
    plan = problem(p, area, [2016]).add_targets({("talent_apartment", 2016): 600}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    parcels = p.set_index("parcel_id")
    u = plan.units.groupby("parcel_id")["units"].sum()
    cap = parcels.loc[u.index, "area_m2"] * parcels.loc[u.index, "far_max"]
    full = (u + 1) * 70.0 > cap  # recomputed: not one more unit fits
    assert full.all() and (u * 70.0 < cap).all() and len(u) == 2
    comp = plan.compliance().set_index("rule")
    assert comp.loc["plot_ratio", "binding"] and comp.loc["plot_ratio", "binding_rows"] == len(u)
    short = plan.shortfall_table()
    assert short["rule"].tolist() == ["yearly_targets"] and short["units"].tolist() == [600 - int(u.sum())]
    assert short["binding_rules"][0].split(", ")[0] == "plot_ratio"
    assert plan.status.units_missing == 600 - int(u.sum())
