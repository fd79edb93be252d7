"""A MIP given a start solution returns its own plan, not the start (HiGHS 1.16 returned the start when presolve
solved the MIP outright, with the better objective reported beside it)."""

from __future__ import annotations

import dataclasses

import numpy as np

from siteplan import PlotRatio, ProjectSize, TransitAccess, YearlyTargets, problem
from siteplan.solve.backends import solve_model
from siteplan.solve.search import _integer_units
from tests.cities import grid_parcels

AREA = {"public_rental": 50.0, "talent_apartment": 80.0}
TARGETS = {("public_rental", 2016): 0, ("public_rental", 2017): 252,
           ("talent_apartment", 2016): 150, ("talent_apartment", 2017): 49}


def _city():
    # Only P2 scores, and only in 2016: the best plan puts the 150 talent apartments of 2016 there.
    p = grid_parcels(5, years=(2016, 2017), far=1.0, zone="E", score_2016=[0, 0, 1.0, 0, 0], score_2017=0.0,
                     station_m_2016=100.0, station_m_2017=100.0)
    p["far_max"] = [1.0, 1.0, 1.5, 1.5, 1.0]
    prob = (problem(p, AREA, (2016, 2017)).add_targets(TARGETS).add_rule(PlotRatio()).add_rule(YearlyTargets())
            .add_rule(ProjectSize(150, 600)).add_rule(TransitAccess(share=0.0, within_m=800)))
    return p, prob


def test_solution_from_a_start_is_the_solvers_own():
    _, prob = _city()
    whole = _integer_units(prob.compile())
    opts = dict(solver="highs", threads=None, seed=0)
    no_score = dataclasses.replace(whole, cost=np.concatenate([np.zeros(whole.n_core), np.ones(whole.n_cols - whole.n_core)]))
    start = solve_model(no_score, time_limit_s=30, gap=0.0, **opts)  # a plan that ignores the score
    got = solve_model(whole, time_limit_s=30, gap=0.0, start=start.x, **opts)
    assert got.has_solution
    assert float(whole.cost @ got.x) == got.objective  # the plan returned is the one whose objective is reported


def test_small_model_finds_the_scoring_parcel():
    p, prob = _city()
    plan = prob.solve(gap=0.0)
    u = plan.units
    on_p2 = int(u.loc[(u["parcel_id"] == "P2") & (u["year"] == 2016), "units"].sum())
    assert on_p2 == 150  # recomputed: P2 holds 1.5 x 10,000 m2 / 80 m2 = 187 talent apartments, the target is 150
    assert plan.status.code == "optimal"
    placed = u.groupby(["type", "year"])["units"].sum().to_dict()
    assert {k: v for k, v in placed.items() if v} == {k: v for k, v in TARGETS.items() if v}
