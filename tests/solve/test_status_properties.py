"""Property test: on random small cities and time limits, the reported status, gap and compliance tell the truth.

Each city is solved, then every figure the status and the compliance table
report is recomputed in the test from the parcel table, the targets and the
plan's units alone: targets met exactly or not, units missing and over,
each share and zone rule's whole units short, and whether the status may
say optimal.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from siteplan import PlotRatio, ProjectSize, TransitAccess, YearlyTargets, ZoneTargets, problem
from siteplan.errors import SolverError
from siteplan.solve.plan import Plan
from siteplan.solve.stages import StageRecord
from tests.cities import grid_parcels

YEARS = (2016, 2017)
AREA = {"public_rental": 50.0, "talent_apartment": 80.0}


@st.composite
def cities(draw):
    n = draw(st.sampled_from([2, 3, 5, 40]))
    p = grid_parcels(
        n,
        years=YEARS,
        zone=draw(st.lists(st.sampled_from(["E", "W"]), min_size=n, max_size=n)),
        available_year=draw(st.lists(st.sampled_from(YEARS), min_size=n, max_size=n)),
        score_2016=draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)),
        score_2017=draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)),
        station_m_2016=draw(st.lists(st.sampled_from([100.0, 5000.0]), min_size=n, max_size=n)),
        station_m_2017=draw(st.lists(st.sampled_from([100.0, 5000.0]), min_size=n, max_size=n)),
    )
    p["far_max"] = draw(st.lists(st.sampled_from([0.7, 1.3, 2.0, 2.9]), min_size=n, max_size=n))
    # up to ~2.5x what the land holds: many cities cannot meet their targets
    targets = {(t, y): draw(st.integers(0, 700)) for t in AREA for y in YEARS}
    share = draw(st.sampled_from([0.0, 0.35, 0.8]))
    zone_w = draw(st.integers(0, 600))
    min_units = draw(st.sampled_from([0, 60, 130]))
    mode = draw(st.sampled_from(["exact", "exact", "at_least"]))
    prob = (
        problem(p, AREA, YEARS).add_targets(targets)
        .add_rule(PlotRatio()).add_rule(YearlyTargets(mode=mode)).add_rule(ProjectSize(min_units, 900))
        .add_rule(ZoneTargets({"W": zone_w})).add_rule(TransitAccess(share=share, within_m=800))
    )
    limit = draw(st.sampled_from([0.001, 0.02, 2.0, 20.0]))
    # tiny models rarely hit even a tiny limit: sometimes add a stage that did,
    # as a large model's whole-unit step would (the case)
    stopped = draw(st.sampled_from([None, None, "whole_units", "restricted_mip"]))
    return prob, p, targets, share, zone_w, mode, limit, stopped


def recompute(plan, parcels, targets, share, zone_w, mode) -> dict:
    """Every status figure from the parcel table, the targets and the plan's units (no siteplan figure)."""
    u = plan.units
    p = parcels.set_index("parcel_id")
    placed = u.groupby(["type", "year"])["units"].sum()
    missing = excess = 0
    for key, target in targets.items():
        got = int(placed.get(key, 0))
        missing += max(0, target - got)
        excess += max(0, got - target) if mode == "exact" else 0
    short: dict[str, int] = {}
    in_w = int(u.loc[u["parcel_id"].map(p["zone"]) == "W", "units"].sum())
    if in_w < zone_w:
        short["zone_targets"] = zone_w - in_w
    transit, exact_deficit = 0, 0.0
    for y in YEARS:
        uy = u.loc[u["year"] == y]
        near = uy["parcel_id"].map(p[f"station_m_{y}"] <= 800)
        deficit = share * uy["units"].sum() - uy.loc[near, "units"].sum()
        transit += math.ceil(deficit - 1e-6) if deficit > 1e-6 else 0
        exact_deficit += max(0.0, deficit)
    if transit:
        short["transit_access"] = transit
    score = sum(p.loc[r.parcel_id, f"score_{r.year}"] * r.units for r in u.itertuples())
    # the minimised quantity: -score plus the penalty (1000) per unit of every broken row
    penalised = -score + 1000.0 * (missing + excess + short.get("zone_targets", 0) + exact_deficit)
    return {"missing": missing, "excess": excess, "short": short, "objective": score, "penalised": penalised}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(cities())
def test_status_gap_and_compliance_agree_with_the_plan_recomputed(city):
    prob, parcels, targets, share, zone_w, mode, limit, stopped = city
    try:
        plan = prob.solve(time_limit_s=limit, gap=0.01)
    except SolverError:
        event("no plan")
        return  # no plan at all: it raises, and there is no status to check
    if stopped:
        record = StageRecord(stopped, "Time limit reached", limit, True, False, None)
        report = dataclasses.replace(plan.report, stages=(*plan.report.stages, record))
        plan = Plan.from_solution(plan.problem, plan.model, plan.x, report)
    st = plan.status
    event(f"status {st.code}{', time limit' if st.time_limit_hit else ''}")
    truth = recompute(plan, parcels, targets, share, zone_w, mode)

    # targets: met exactly (or at least), missing and over, from the units
    assert (st.units_missing, st.units_excess) == (truth["missing"], truth["excess"])
    assert st.targets_met == (truth["missing"] == 0 and truth["excess"] == 0)
    # every other rule by rule, never summed together
    assert {r: n for r, side, n in st.rules_short} == truth["short"]
    broken = bool(truth["short"]) or not st.targets_met
    assert (st.code == "shortfall") == broken
    # the gap: the delivered plan's objective recomputed, against the report's bound
    rep = plan.report
    assert rep.objective == pytest.approx(truth["objective"], abs=1e-6)
    # (the solver's shortfall columns carry its 1e-6 tolerance, times the penalty)
    assert rep.penalised_objective == pytest.approx(truth["penalised"], rel=1e-7, abs=1e-2)
    if np.isfinite(rep.bound):
        gap = abs(truth["penalised"] - rep.bound) / max(abs(truth["penalised"]), 1e-9)
        assert st.gap == pytest.approx(gap, abs=1e-6)
    assert st.within_gap == bool(np.isfinite(st.gap) and st.gap <= st.gap_limit + 1e-9)
    stages = getattr(rep, "stages", ())
    assert st.time_limit_hit == (rep.time_limit_hit or any(s.time_limit_hit for s in stages))
    if stopped:
        assert st.time_limit_hit and not st.optimal and stopped in st.stages_limited
    if st.optimal:
        assert st.code == "optimal" and not broken and st.within_gap and not st.time_limit_hit
        assert all(s.proven for s in stages)
    if st.code == "feasible":
        assert not broken and not st.proven

    # compliance.csv's rows say the same
    comp = plan.compliance().set_index("rule")
    assert bool(comp.loc["yearly_targets", "ok"]) == st.targets_met
    assert int(comp.loc["yearly_targets", "shortfall"]) == truth["missing"] + truth["excess"]
    for rule in ("zone_targets", "transit_access"):
        assert int(comp.loc[rule, "shortfall"]) == truth["short"].get(rule, 0)
        assert bool(comp.loc[rule, "ok"]) == (rule not in truth["short"])
    # and shortfall.csv, in whole units, adds up to the same per rule
    table = plan.shortfall_table()
    assert table["units"].dtype.kind == "i" if len(table) else True
    by_rule = table.groupby("rule")["units"].sum().to_dict() if len(table) else {}
    assert by_rule.get("yearly_targets", 0) == truth["missing"] + truth["excess"]
    for rule in ("zone_targets", "transit_access"):
        assert by_rule.get(rule, 0) == truth["short"].get(rule, 0)
