"""Tests for the solve stages' records and status, small models solved whole, quiet solvers and Ctrl-C."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from siteplan import (Budget, DistrictShare, MaxProjects, ParkWorkers, PlotRatio, ProjectSize, RadiusCap, ServiceAccess,
                      TransitAccess, YearlyTargets, ZoneTargets, problem)
from tests.cities import grid_parcels

YEARS = (2016, 2017, 2018)
AREAS = {"public_rental": 50.0, "talent_apartment": 70.0}
COST = {"public_rental": 2500.0, "talent_apartment": 3000.0}
#: every type-year asks for 3,000 units; the city holds about a third of that
TARGET = 3000
PROJECT = (100, 450)
RADIUS = (700.0, 900)
MAX_PROJECTS = 4
BUDGET_YI = 3.0


def overbooked_city(n: int = 36, seed: int = 16, centres: str = "projects"):
    """A few dozen 1 ha parcels (plot ratio 2: 400 units of 50 m2 each), two
    districts and zones, targets far above their capacity, and every rule on
    that the parcels' columns allow. Returns the parcels and the problem.

    ``centres`` is the radius cap's (see :class:`~siteplan.RadiusCap`): the
    issue's case is ``"projects"``, whose circle rows carry a big-M and make
    the least-shortfall integer programme slow (the benchmark measures both)."""
    rng = np.random.default_rng(seed)
    cols = {f"score_{y}": rng.uniform(0.1, 1.0, n) for y in YEARS}
    cols.update({f"station_m_{y}": rng.uniform(0, 2000, n) for y in YEARS})
    p = grid_parcels(n, years=YEARS, **cols)
    p["district"] = np.where(np.arange(n) < n // 2, "东城区", "西城区")
    p["zone"] = np.where(np.arange(n) < n // 2, "东区", "西区")
    p["available_year"] = rng.choice(YEARS, n, p=[0.6, 0.25, 0.15])
    p["svc_school_m"] = rng.uniform(0, 2000, n)
    p["svc_clinic_m"] = rng.uniform(0, 2000, n)
    p["park_m"] = rng.uniform(0, 6000, n)
    targets = {(t, y): TARGET for t in AREAS for y in YEARS}
    prob = (problem(p, AREAS, YEARS).add_targets(targets)
            .add_rule(PlotRatio()).add_rule(YearlyTargets())
            .add_rule(ZoneTargets(targets={"东区": 9000, "西区": 9000}))
            .add_rule(DistrictShare(min_share=0.05, max_share=0.6))
            .add_rule(ProjectSize(min_units=PROJECT[0], max_units=PROJECT[1]))
            .add_rule(RadiusCap(radius_m=RADIUS[0], max_units=RADIUS[1], centres=centres))
            .add_rule(MaxProjects(per_district_year=MAX_PROJECTS))
            .add_rule(TransitAccess(share=0.5, within_m=800.0))
            .add_rule(ServiceAccess(share=0.5, within_m=1000.0))
            .add_rule(ParkWorkers(share=0.3, within_m=3000.0))
            .add_rule(Budget(cost_per_m2=COST, per_year=[BUDGET_YI * 1e8] * len(YEARS))))
    return p, prob


def _assert_hard_rules(p, units: pd.DataFrame) -> None:
    """The hard rules of :func:`overbooked_city`, recomputed from the parcels and the plan's
    (parcel_id, type, year, units) rows alone."""
    assert len(units) and (units["units"] > 0).all()
    assert np.array_equal(units["units"], np.round(units["units"])), "units must be whole"
    parcels = p.set_index("parcel_id")
    units = units.assign(floor=units["units"] * units["type"].map(AREAS))
    per = units.groupby("parcel_id").agg(years=("year", "nunique"), first=("year", "min"), units=("units", "sum"),
                                         floor=("floor", "sum"))
    assert (per["years"] == 1).all(), "a parcel supplied in more than one year"
    assert (per["first"] >= parcels.loc[per.index, "available_year"]).all(), "a parcel used before it is available"
    area = parcels.geometry.area
    assert (per["floor"] <= area[per.index] * parcels.loc[per.index, "far_max"] + 1e-6).all(), "plot ratio broken"
    assert per["units"].between(*PROJECT).all(), f"project sizes {per['units'].min()}-{per['units'].max()}"
    c = parcels.geometry.centroid
    for pid in per.index:
        near = c.index[(c.distance(c[pid]) <= RADIUS[0]).to_numpy()]
        assert per["units"].reindex(near).fillna(0).sum() <= RADIUS[1], f"radius cap broken around {pid}"
    first = units.drop_duplicates("parcel_id")
    counts = first.groupby([first["parcel_id"].map(parcels["district"]), "year"]).size()
    assert counts.max() <= MAX_PROJECTS
    spent = (units["floor"] * units["type"].map(COST)).groupby(units["year"]).sum()
    assert (spent <= BUDGET_YI * 1e8 + 1e-6).all(), "budget broken"


def test_small_overbooked_city_is_solved_whole_and_says_how_it_went():
    p, prob = overbooked_city()
    model = prob.compile()
    import siteplan.solve.search as S

    assert model.n_cols < S.SMALL_MODEL_COLUMNS
    plan = prob.solve(time_limit_s=120, gap=0.01, log_findings=False)
    r = plan.report
    assert [s.name for s in r.stages] == ["least_shortfall", "mip"]
    assert r.method == "mip+least-shortfall" and r.rounding_s == 0.0
    _assert_hard_rules(p, plan.units)
    # the status agrees with every stage and with the gap recomputed from the plan
    placed = plan.units.groupby(["type", "year"])["units"].sum()
    missing = sum(max(TARGET - int(placed.get((t, y), 0)), 0) for t in AREAS for y in YEARS)
    assert missing > 0  # the targets cannot be met
    assert r.time_limit_hit == any(s.time_limit_hit for s in r.stages)
    recomputed = abs(r.penalised_objective - r.bound) / abs(r.penalised_objective)
    assert r.gap == pytest.approx(recomputed)
    assert r.optimal == (all(s.proven for s in r.stages) and recomputed <= r.gap_limit + 1e-9 and not r.time_limit_hit)
    assert (r.status == "Optimal") == r.optimal
    d = json.loads(json.dumps(r.as_dict(), allow_nan=False))
    assert [s["name"] for s in d["stages"]] == ["least_shortfall", "mip"]


def test_whole_unit_step_at_its_limit_is_never_reported_optimal(monkeypatch):
    """The issue's case: the fixed re-solve for whole units stopped on its limit,
    while the search before it was proven. The report must say so."""
    import siteplan.solve.rounding as R
    import siteplan.solve.search as S

    monkeypatch.setattr(S, "SMALL_MODEL_COLUMNS", 0)  # the staged search
    monkeypatch.setattr(R, "round_units", lambda model, x, **kw: None)  # so the fixed re-solve runs
    real = S._solve_columns

    def stopped(model, cols, **kw):
        res = real(model, cols, **kw)
        if model.integrality[: model.ctx.n_u].all():  # the whole-unit step: integer units
            res = S.dataclasses.replace(res, status="Time limit reached", optimal=False, time_limit_hit=True)
        return res

    monkeypatch.setattr(S, "_solve_columns", stopped)
    p = grid_parcels(3, years=(2016,), score_2016=[0.9, 0.5, 0.1])
    plan = problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 500}) \
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).solve(gap=0.01)
    r = plan.report
    assert r.rounding_status == "Time limit reached"
    assert r.stages[-1].name == "whole_units" and r.stages[-1].time_limit_hit and not r.stages[-1].proven
    assert r.time_limit_hit and not r.optimal and r.status != "Optimal"
    assert r.as_dict()["stages"][-1]["time_limit_hit"] is True


def test_stage_records_are_json_safe_and_derive_one_status():
    from siteplan.solve.stages import StageRecord, derive_status

    ok = StageRecord("lp", "Optimal", 0.1, False, True, 0.0)
    late = StageRecord("whole_units", "Time limit reached", 93.0, True, False, float("nan"))
    assert late.as_dict()["gap"] is None
    assert derive_status([ok], within_gap=True) == ("Optimal", True, False)
    assert derive_status([ok, late], within_gap=True) == ("Time limit reached", False, True)
    assert derive_status([ok], within_gap=False) == ("Gap not proven", False, False)
    with pytest.raises(ValueError, match="unknown solve stage"):
        StageRecord("rounding", "x", 0.0, False, True, None)
    assert math.isnan(late.gap)


@pytest.mark.parametrize("verbose", [False, True])
def test_no_highs_banner_without_verbose(mini_city, tmp_path, verbose):
    """HiGHS prints its banner once per process, from C, at the first instance:
    only a fresh process shows whether it escapes."""
    import os
    import subprocess
    import sys

    args = [sys.executable, "-c", "from siteplan.cli import main; main()", "run", str(mini_city), "--out", str(tmp_path / "out")]
    res = subprocess.run(args + (["--verbose"] if verbose else []), capture_output=True, text=True, encoding="utf-8",
                         env=dict(os.environ, COLUMNS="200"), timeout=300)
    assert res.returncode in (0, 1), res.stdout + res.stderr
    assert "Running HiGHS" not in res.stdout + res.stderr
    if verbose:
        assert "Solved (mip" in res.stdout + res.stderr  # the run did solve, with siteplan's own log


def test_solver_log_only_at_debug(caplog):
    import logging

    from siteplan.solve.backends import _new_highs, solver_log

    with caplog.at_level(logging.INFO, logger="siteplan"):
        assert not solver_log()
        h = _new_highs()
        assert h.getOptionValue("output_flag")[1] is False and h.getOptionValue("log_to_console")[1] is False
    with caplog.at_level(logging.DEBUG, logger="siteplan"):
        assert solver_log()
        assert _new_highs().getOptionValue("output_flag")[1] is True


def test_small_model_falls_back_to_the_staged_search_and_says_so(monkeypatch):
    """When the whole model's least-shortfall step is not proven in its share, the
    staged search runs in the time left; the stage that stopped makes the status honest."""
    import siteplan.solve.search as S

    monkeypatch.setattr(S, "SMALL_WHOLE_SHARE", 1e-4)  # 12 ms of 120 s: the whole MIP cannot prove its floor
    p, prob = overbooked_city()
    plan = prob.solve(time_limit_s=120, gap=0.01, log_findings=False)
    r = plan.report
    names = [s.name for s in r.stages]
    assert names[0] == "least_shortfall" and r.stages[0].time_limit_hit and not r.stages[0].proven
    assert "lp" in names and names[-1] == "whole_units"  # the staged search ran after it
    assert r.time_limit_hit and not r.optimal and r.status == "Time limit reached"
    _assert_hard_rules(p, plan.units)
    # the gap is against the staged search's LP bound, recomputed from the plan's own objective
    assert r.gap == pytest.approx(abs(r.penalised_objective - r.bound) / abs(r.penalised_objective))
