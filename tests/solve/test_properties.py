"""Property-based tests on random small cities.

- every hard rule holds, recomputed from the parcel table in the test;
- shortfall appears only when the instance is truly infeasible: the same
  model with every shortfall column fixed at zero (solved directly with
  HiGHS, whole units) must then be infeasible;
- alternatives differ as promised.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siteplan import PlotRatio, ProjectSize, TransitAccess, YearlyTargets, ZoneTargets, problem
from siteplan.solve.alternatives import alternatives
from siteplan.solve.backends import solve_model
from tests.cities import grid_parcels

YEARS = (2016, 2017)
AREA = {"public_rental": 50.0, "talent_apartment": 80.0}
PROFILE = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cities(draw):
    n = draw(st.integers(3, 7))
    fl = lambda: st.floats(0.0, 1.0, allow_nan=False)  # noqa: E731
    p = grid_parcels(
        n,
        years=YEARS,
        far=1.0,
        zone=draw(st.lists(st.sampled_from(["E", "W"]), min_size=n, max_size=n)),
        available_year=draw(st.lists(st.sampled_from(YEARS), min_size=n, max_size=n)),
        score_2016=draw(st.lists(fl(), min_size=n, max_size=n)),
        score_2017=draw(st.lists(fl(), min_size=n, max_size=n)),
        station_m_2016=draw(st.lists(st.sampled_from([100.0, 5000.0]), min_size=n, max_size=n)),
        station_m_2017=draw(st.lists(st.sampled_from([100.0, 5000.0]), min_size=n, max_size=n)),
    )
    p["far_max"] = draw(st.lists(st.sampled_from([1.0, 1.5, 2.0, 3.0]), min_size=n, max_size=n))
    targets = {(t, y): draw(st.integers(0, 300)) for t in AREA for y in YEARS}
    min_units = draw(st.sampled_from([0, 50, 150]))
    share = draw(st.sampled_from([0.0, 0.3, 0.7]))
    zone_w = draw(st.integers(0, 300))
    prob = (
        problem(p, AREA, YEARS).add_targets(targets)
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units, 600))
        .add_rule(ZoneTargets({"W": zone_w})).add_rule(TransitAccess(share=share, within_m=800))
    )
    return prob, p, min_units


def assert_hard_rules(plan, parcels, min_units):
    u = plan.units
    p = parcels.set_index("parcel_id")
    assert (u.groupby("parcel_id")["year"].nunique() == 1).all()
    assert (u["year"].to_numpy() >= p.loc[u["parcel_id"], "available_year"].to_numpy()).all()
    floor = (u["units"] * u["type"].map(AREA)).groupby(u["parcel_id"]).sum()
    assert (floor <= p.loc[floor.index, "area_m2"] * p.loc[floor.index, "far_max"] + 1e-6).all()
    size = u.groupby("parcel_id")["units"].sum()
    assert (size >= min_units).all() and (size <= 600).all()
    assert (u["units"] > 0).all()


def hard_version_feasible(prob) -> bool:
    """Solve the model with every shortfall column fixed at 0, whole units."""
    m = prob.compile(integral_units=True)
    upper = m.col_upper.copy()
    upper[m.n_core:] = 0.0
    res = solve_model(dataclasses.replace(m, col_upper=upper), gap=0.0, time_limit_s=30)
    return res.has_solution


@PROFILE
@given(cities())
def test_hard_rules_hold_and_shortfall_only_when_infeasible(city):
    prob, parcels, min_units = city
    plan = prob.solve(gap=0.0)
    assert_hard_rules(plan, parcels, min_units)
    feasible = hard_version_feasible(prob)
    if feasible:
        assert plan.total_shortfall < 1e-6, plan.shortfall
    else:
        assert plan.total_shortfall > 0


@PROFILE
@given(cities(), st.sampled_from([0.3, 0.5, 1.0]))
def test_alternatives_differ_as_promised(city, differ):
    prob, parcels, min_units = city
    plans = alternatives(prob, 3, within=0.2, differ=differ, gap=0.0)
    for plan in plans:
        assert_hard_rules(plan, parcels, min_units)
    # Every parcel is a new project here, so every parcel can move.
    used = [set(plan.units["parcel_id"]) for plan in plans]
    for a in range(len(plans)):
        for b in range(a + 1, len(plans)):
            assert len(used[a] & used[b]) <= math.floor((1 - differ) * len(used[a])), (a, b, used)
            assert len(used[a] & used[b]) <= (1 - differ) * len(used[b]) + 1e-9, (a, b, used)
    best = plans[0].report.penalised_objective
    for plan in plans[1:]:
        assert plan.report.penalised_objective <= best + 0.2 * abs(best) + 1.0 + 1e-6 * abs(best)


def reference_optimum(parcels, prob) -> float | None:
    """The same city as a straightforward MIP written here with pulp: x[parcel, type, year]
    whole units and a binary per parcel-year, every rule as its plain inequality.
    Returns the best suitability-weighted units, or None when no plan keeps every rule."""
    import pulp

    share = prob.rule("transit_access").share
    zone_targets = prob.rule("zone_targets").targets
    p = parcels.reset_index(drop=True)
    m = pulp.LpProblem("reference", pulp.LpMaximize)
    z = {(i, y): m.add_variable(f"z_{i}_{y}", cat="Binary") for i in p.index for y in YEARS if y >= p.at[i, "available_year"]}
    u = {(i, t, y): m.add_variable(f"u_{i}_{t}_{y}", lowBound=0, cat="Integer") for (i, y) in z for t in AREA}
    m += pulp.lpSum(p.at[i, f"score_{y}"] * v for (i, t, y), v in u.items())
    for i in p.index:
        m += pulp.lpSum(z[i, y] for y in YEARS if (i, y) in z) <= 1
    for (i, y), zy in z.items():
        units = pulp.lpSum(u[i, t, y] for t in AREA)
        m += pulp.lpSum(AREA[t] * u[i, t, y] for t in AREA) <= p.at[i, "area_m2"] * p.at[i, "far_max"] * zy
        m += units >= prob.rule("project_size").min_units * zy
        m += units <= 600 * zy
    for (t, y), target in prob.targets.items():
        m += pulp.lpSum(u[i, tt, yy] for (i, tt, yy) in u if (tt, yy) == (t, y)) == target
    for y in YEARS:
        year_units = [v for (i, t, yy), v in u.items() if yy == y]
        near = [v for (i, t, yy), v in u.items() if yy == y and p.at[i, f"station_m_{y}"] <= 800]
        m += pulp.lpSum(near) >= share * pulp.lpSum(year_units)
    for zone, target in zone_targets.items():
        m += pulp.lpSum(v for (i, t, y), v in u.items() if p.at[i, "zone"] == zone) >= target
    m.solve(pulp.HiGHS(msg=False, gapRel=0.0))
    if pulp.LpStatus[m.status] != "Optimal":
        return None
    return float(pulp.value(m.objective) or 0.0)


@PROFILE
@given(cities())
def test_same_optimum_as_a_reference_model(city):
    # siteplan's solve (sifted LP bound, restricted MIP, whole-unit step) against the
    # plain model solved to optimality: the same best plan, within the whole-unit tolerance
    prob, parcels, _ = city
    best = reference_optimum(parcels, prob)
    plan = prob.solve(gap=0.0)
    if best is None:
        assert plan.total_shortfall > 0  # no plan keeps every rule: siteplan says so
        return
    assert plan.total_shortfall < 1e-6
    got = plan.report.objective
    assert got <= best + 1e-6 * max(1.0, best)  # it cannot beat the optimum
    assert got >= best * (1 - 2e-3) - 1e-6  # and loses at most the whole-unit step's tolerance
