"""The radius cap as a planner checks it: no disc of radius R anywhere over N, checked on the delivered plan."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from siteplan import PlotRatio, RadiusCap, YearlyTargets, problem
from siteplan.solve import lazy
from tests.cities import grid_parcels

R, N = 1000.0, 400


def _city(xs, scores):
    """1-ha parcels (400 units each at plot ratio 2) with their west edges at ``xs``."""
    p = grid_parcels(len(xs), years=(2016,), score_2016=list(scores))
    p["geometry"] = [shapely.box(x, 0, x + 100, 100) for x in xs]
    p["area_m2"] = p.area
    return p


def _solve(p, target, centres):
    return (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): target})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(RadiusCap(R, N, centres=centres)).solve())


def _densest_by_hand(plan):
    """Most units in one disc of radius R: every pair of used centroids within 2R fits in one disc (two points)."""
    c = plan.problem.parcels.set_index("parcel_id").geometry.centroid
    tot = plan.units.groupby("parcel_id")["units"].sum()
    best = float(tot.max())
    for a in tot.index:
        for b in tot.index:
            if a < b and c[a].distance(c[b]) <= 2 * R:
                best = max(best, float(tot[a] + tot[b]))
    return best


def _cap_row(plan):
    return plan.compliance().set_index("rule").loc["radius_cap"]


def test_two_full_projects_just_over_r_apart_break_the_cap_only_the_old_rule_allows():
    # P0 and P1 1,050 m apart score best; P2 is 5 km away
    p = _city([0, 1050, 5000], [1.0, 1.0, 0.5])
    old = _solve(p, 800, "projects")
    assert set(old.units["parcel_id"]) == {"P0", "P1"}  # every used parcel's 1 km circle holds 400
    assert _densest_by_hand(old) == 800  # but one 1 km disc between them holds both
    row = _cap_row(old)
    assert "densest 1 km disc anywhere: 800 units" in row["achieved"]
    assert "around a used parcel: 400 units" in row["achieved"]
    new = _solve(p, 800, "anywhere")
    assert new.total_shortfall == 0 and new.status.targets_met
    assert _densest_by_hand(new) <= N
    assert set(new.units["parcel_id"]) in ({"P0", "P2"}, {"P1", "P2"})
    row = _cap_row(new)
    assert row["ok"] and row["shortfall"] == 0 and "densest 1 km disc anywhere: 400 units" in row["achieved"]


def test_a_plan_that_overfills_a_disc_is_a_shortfall_never_met(monkeypatch):
    # without its lazy rows the model lets the plan overfill; the check on the delivered plan still catches it
    monkeypatch.setattr(lazy, "lazy_rules", lambda model: [])
    plan = _solve(_city([0, 1050, 5000], [1.0, 1.0, 0.5]), 800, "anywhere")
    assert _densest_by_hand(plan) == 800
    row = _cap_row(plan)
    assert not row["ok"] and row["shortfall"] == 400
    assert plan.status.code == "shortfall" and ("radius_cap", "excess", 400) in plan.status.rules_short
    assert "radius_cap" in plan.status.text("en")


def _no_more_rounds(monkeypatch):
    """One round, no mending, and LP passes that (say they) found nothing: the plan ends its round overfilling a disc."""
    monkeypatch.setattr(lazy, "MAX_ROUNDS", 1)
    monkeypatch.setattr(lazy, "REPAIRS", 0)
    monkeypatch.setattr(lazy, "_lp_rows", lambda model, seconds, opts: (model, 0, 1, True))


def _no_widening(monkeypatch):
    """The refit keeps to the plan's own parcel-years: units its discs cannot hold are missing."""
    monkeypatch.setattr(lazy, "_widened", lambda base, model, plan, *a, **k: plan)


def test_a_plan_delivered_with_discs_still_overfilled_is_not_proven(monkeypatch):
    _no_more_rounds(monkeypatch)
    monkeypatch.setattr(lazy, "_trimmed", lambda *a, **k: None)  # and the last resort cannot trim it
    plan = _solve(_city([0, 1050, 5000], [1.0, 1.0, 0.5]), 800, "anywhere")
    assert _densest_by_hand(plan) == 800
    assert ("lazy_rows", "Rows left", False) in [(s.name, s.status, s.proven) for s in plan.report.stages]
    assert not plan.report.optimal and plan.report.status != "Optimal"
    assert plan.status.code == "shortfall" and not plan.status.proven and not plan.status.optimal


def test_with_no_time_for_another_round_the_units_move_to_the_plans_other_projects(monkeypatch):
    """The last round's plan overfills a disc: its units are fitted again on its own parcel-years, with the disc's
    row, and P1's units go to P2 (5 km away); every target met and the cap kept, but nothing proven."""
    _no_more_rounds(monkeypatch)
    p = _city([0, 1050, 5000], [1.0, 0.9, 0.5])
    plan = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(RadiusCap(R, N, centres="anywhere"))
            .solve(time_limit_s=30))
    assert _densest_by_hand(plan) <= N
    assert plan.status.targets_met and not plan.status.proven and plan.status.code == "feasible"
    assert ("trim", "Refitted on the plan's parcel-years") in [(s.name, s.status) for s in plan.report.stages]


# one host away from the full disc; two hosts in it, where the units given back overfill it
@pytest.mark.parametrize("hosts", [[9000], [300, 600]])
def test_the_refit_keeps_inclusionary_hosts_and_their_share_in_whole_units(monkeypatch, caplog, hosts):
    """The refit rounds units down and closes new projects below the minimum; a 配建 host is no new project
    (the minimum is not its rule) and must stay supplied with its share: rounded down to 20 units it would hold
    1,000 of the 1,020 m2 it owes, so it gets a unit back, and where that overfills a disc a unit comes off a
    new project in it. The refit succeeds (P1's units have nowhere to go among the plan's parcel-years, and are
    reported missing)."""
    import logging

    from siteplan import Inclusionary, ProjectSize

    _no_more_rounds(monkeypatch)
    _no_widening(monkeypatch)  # else P1's units go to P2 (the test below)
    p = _city([0, 1050, 5000, *hosts], [1.0, 0.9, 0.5] + [0.2] * len(hosts))
    p["role"] = ["new", "new", "new"] + ["inclusionary"] * len(hosts)
    floor = float(p.loc[3, "area_m2"]) * 2.0  # plot ratio 2, each host the same
    with caplog.at_level(logging.INFO, logger="siteplan.solve.trim"):
        plan = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
                .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=300))
                .add_rule(Inclusionary(ratio=0.051)).add_rule(RadiusCap(R, N, centres="anywhere"))
                .solve(time_limit_s=30))
    assert ("trim", "Refitted on the plan's parcel-years") in [(s.name, s.status) for s in plan.report.stages]
    tot = plan.units.groupby("parcel_id")["units"].sum()
    host_ids = [f"P{3 + k}" for k in range(len(hosts))]
    assert all(tot.get(h, 0) * 50.0 >= 0.051 * floor for h in host_ids)  # each host's share, whole units
    new = tot.drop(host_ids, errors="ignore")
    assert ((new == 0) | (new >= 300)).all()
    x = p.set_index("parcel_id").geometry.centroid.x[tot.index].to_numpy()  # on one line: a disc holds a 2R window
    assert max(tot[(x >= a - 1e-6) & (x <= a + 2 * R + 1e-6)].sum() for a in x) <= N
    assert plan.status.units_missing == 800 - int(tot.sum()) > 0
    assert ("Trimmed 1 units" in caplog.text) == (len(hosts) == 2)


def test_with_no_time_for_another_round_the_plan_is_trimmed_to_the_cap(monkeypatch):
    """When the units cannot be fitted again, they come off the densest disc (the project worth less) and are
    reported missing; the cap holds."""
    _no_more_rounds(monkeypatch)
    monkeypatch.setattr(lazy, "_refit", lambda *a, **k: None)
    plan = _solve(_city([0, 1050, 5000], [1.0, 0.9, 0.5]), 800, "anywhere")
    assert _densest_by_hand(plan) <= N
    tot = plan.units.groupby("parcel_id")["units"].sum()
    assert tot.get("P0", 0) == 400 and tot.get("P1", 0) == 0  # P1 scores less: its units go
    assert ("trim", "Trimmed to the radius cap", False) in [(s.name, s.status, s.proven) for s in plan.report.stages]
    assert plan.status.code == "shortfall" and plan.status.units_missing == 400 and not plan.status.proven
    assert "radius_cap" not in [r for r, _, _ in plan.status.rules_short]
    assert _cap_row(plan)["ok"]


def test_lazy_rows_on_a_row_of_parcels_keep_every_disc():
    # twelve parcels 300 m apart (3.3 km): two 2 km windows cover them, so at most 2 x 250 units fit
    p = grid_parcels(12, years=(2016,), score_2016=list(np.linspace(1.0, 0.5, 12)), far=0.5)  # 100 units each
    plan = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 500})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(RadiusCap(1000.0, 250)).solve())
    assert plan.status.targets_met
    c = p.set_index("parcel_id").geometry.centroid.x
    tot = plan.units.groupby("parcel_id")["units"].sum()
    x = c[tot.index].to_numpy()
    # on a line, the densest disc of radius R covers a window of length 2R
    worst = max(tot[(x >= a - 1e-6) & (x <= a + 2 * 1000.0 + 1e-6)].sum() for a in x)
    assert worst <= 250
    assert _cap_row(plan)["ok"]


def test_centres_must_be_anywhere_or_projects():
    from siteplan.errors import SpecificationError

    with pytest.raises(SpecificationError, match="anywhere"):
        RadiusCap(1000, 400, centres="parcels")


def test_a_large_city_is_warned_before_the_exact_rule(monkeypatch):
    from siteplan.model import dispersion

    p = _city([0, 1050, 5000], [1.0, 1.0, 0.5])
    prob = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()))
    ctx = prob.add_rule(RadiusCap(R, N)).compile().ctx
    assert RadiusCap(R, N).check(ctx) == []  # three parcels: no warning
    monkeypatch.setattr(dispersion, "LARGE_CITY_PARCELS", 3)
    (found,) = RadiusCap(R, N).check(ctx)
    assert found.level == "warning" and "3 usable parcels" in found.message and 'centres = "projects"' in found.message
    assert RadiusCap(R, N, centres="projects").check(ctx) == []


def _trimmed_plan(monkeypatch, cap):
    """P0 and P1 (400 units each, 1,050 m apart) take the 800 units; one round, no refit: the plan is trimmed to a
    disc cap of ``cap``, with a project minimum of 300. The plan and its units per parcel."""
    from siteplan import ProjectSize

    _no_more_rounds(monkeypatch)
    monkeypatch.setattr(lazy, "_refit", lambda *a, **k: None)
    p = _city([0, 1050, 5000], [1.0, 0.9, 0.5])
    plan = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=300))
            .add_rule(RadiusCap(R, cap, centres="anywhere")).solve())
    return plan, plan.units.groupby("parcel_id")["units"].sum()


def test_a_trimmed_project_below_the_minimum_is_closed_not_left_small(monkeypatch):
    plan, tot = _trimmed_plan(monkeypatch, 500)
    assert "trim" in [s.name for s in plan.report.stages]
    assert ((tot == 0) | (tot >= 300)).all()  # a project is at its minimum or gone, never in between
    assert tot.get("P1", 0) == 0  # 100 units would have been left: the project is closed instead
    assert _densest_by_hand(plan) <= 500
    assert plan.status.units_missing == 800 - int(tot.sum())


def test_the_trim_takes_units_above_the_minimum_before_it_closes_a_project(monkeypatch):
    """P0 and P1 (400 units each) share a disc of 650: 150 too many. Each holds 100 above the minimum of 300, so
    the trim takes 100 off P1 (the less valuable) and 50 off P0, and closes neither (closing P1 would lose 400)."""
    plan, tot = _trimmed_plan(monkeypatch, 650)
    assert "trim" in [s.name for s in plan.report.stages]
    assert tot.to_dict() == {"P0": 350, "P1": 300}
    assert _densest_by_hand(plan) <= 650
    assert plan.status.units_missing == 800 - 650


def test_a_later_round_that_finds_no_plan_delivers_the_last_rounds_plan_trimmed(monkeypatch):
    """Round 2 (with more rows) runs out of time without a plan: the run does not fail; round 1's plan goes out
    trimmed to the cap, its time limit said."""
    from siteplan.errors import SolverError
    from siteplan.solve import search as search_mod

    monkeypatch.setattr(lazy, "REPAIRS", 0)
    monkeypatch.setattr(lazy, "_lp_rows", lambda model, seconds, opts: (model, 0, 1, True))
    real = search_mod._solve_small
    calls = []

    def once_then_nothing(*a, **k):
        calls.append(k.get("extend"))
        if len(calls) > 1:
            raise SolverError("highs found no plan (status: Time limit reached)")
        return real(*a, **k)

    monkeypatch.setattr(search_mod, "_solve_small", once_then_nothing)
    monkeypatch.setattr(lazy, "_refit", lambda *a, **k: None)
    plan = _solve(_city([0, 1050, 5000], [1.0, 0.9, 0.5]), 800, "anywhere")
    assert calls == [True, False]  # round 2 may not search past the limit for a plan: round 1's is in hand
    assert _densest_by_hand(plan) <= N
    assert plan.status.time_limit_hit and not plan.status.proven and plan.status.code == "shortfall"
    assert plan.status.units_missing == 800 - int(plan.units["units"].sum())


@pytest.mark.parametrize("extend, searches", [(True, 2), (False, 1)])
def test_a_search_with_no_plan_at_the_limit_searches_as_long_again_only_when_told(monkeypatch, extend, searches):
    """With no plan at the limit the staged search gets as long again (a plan late beats none), but not in a
    later round of disc rows (``extend=False``), which has the last round's plan to deliver: it raises at once."""
    import time

    from siteplan.errors import SolverError
    from siteplan.solve import search as search_mod
    from siteplan.solve.backends import SolveResult

    p = _city([0, 1050, 5000], [1.0, 0.9, 0.5])
    model = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
             .add_rule(PlotRatio()).add_rule(YearlyTargets())).compile()
    nothing = SolveResult("highs", "Time limit reached", False, False, True, np.zeros(model.n_cols), float("nan"),
                          float("nan"), float("nan"), 1.0)
    called = []
    monkeypatch.setattr(search_mod, "_best_plan", lambda *a, **k: called.append(1) or (nothing, float("-inf"), "lp-dive"))
    with pytest.raises(SolverError, match="found no plan"):
        search_mod._staged(model, model, gap=0.01, time_limit_s=5.0, opts={"solver": "highs"}, stages=[],
                           t0=time.perf_counter(), extend=extend)
    assert len(called) == searches


@pytest.mark.parametrize("last_step_s, repairs", [(0.0, 1), (1000.0, 0)])
def test_units_are_made_whole_again_only_while_the_last_time_fits_in_the_time_left(last_step_s, repairs):
    """The search's whole-unit plan overfills a disc its own plan keeps: its units are made whole again with the
    new row, unless the last whole-unit step took longer than the time left (it would end past the limit); then
    the plan is fitted again or trimmed at once. Either way the delivered plan keeps the cap."""
    import time

    from siteplan.solve.backends import SolveResult
    from siteplan.solve.rounding import complete
    from siteplan.solve.stages import StageRecord

    p = _city([0, 1050, 5000], [1.0, 0.9, 0.5])
    prob = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(RadiusCap(R, N, centres="anywhere")))
    model = prob.compile()
    ctx = model.ctx

    def plan(units_by_parcel):
        x = np.zeros(model.n_cols)
        for i, units in enumerate(units_by_parcel):
            x[np.nonzero(ctx.u_parcel == i)[0][0]] = units
            x[ctx.n_u + np.nonzero(ctx.z_parcel == i)[0][0]] = float(units > 0)
        x = complete(model, x)
        return SolveResult("highs", "Optimal", True, True, False, x, float(model.cost @ x), float(model.cost @ x),
                           0.0, 0.0)

    first, overfilled, kept = plan([400, 0, 400]), plan([400, 400, 0]), plan([400, 0, 400])
    calls = []

    def search(model, base, *, gap, time_limit_s, opts, stages, t0, **kw):
        stages.append(StageRecord("whole_units", "Rounded with repair", last_step_s, False, True, None))
        return first, first.objective, "test", 0.0, overfilled

    def whole_units(base, x, bound):
        calls.append(1)
        return kept, StageRecord("whole_units", "Rounded with repair", 0.0, False, True, None)

    stages: list = []
    out = lazy.solve_lazily(search, model, model, gap=0.01, time_limit_s=60.0, opts={"solver": "highs"},
                            stages=stages, t0=time.perf_counter(), whole_units=whole_units)
    assert len(calls) == repairs
    second = out[4]
    tot = np.bincount(ctx.u_parcel, weights=second.x[: ctx.n_u], minlength=len(p))
    x = p.geometry.centroid.x.to_numpy()
    assert max(tot[(x >= a - 1e-6) & (x <= a + 2 * R + 1e-6)].sum() for a in x) <= N


def test_the_refit_gives_the_units_of_a_project_it_closes_to_the_projects_left_open():
    """The refit's LP relaxes the binaries: P2 (score 0.95) takes the 50 units left in P1's disc, far below the
    minimum of 300, rather than P4 (score 0.2); rounding closes P2. The second fit, P2 closed and the others held
    to the minimum, puts those 50 units in P4, so every target is met."""
    import time
    from types import SimpleNamespace

    from siteplan import ProjectSize

    p = _city([0, 1500, 9000, 20000], [1.0, 0.95, 0.3, 0.2])
    p.loc[0, "geometry"] = shapely.box(0, 0, 87.5, 100)  # 350 units
    p["area_m2"] = p.area
    prob = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 1100})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=300))
            .add_rule(RadiusCap(R, N, centres="anywhere")))
    model = prob.compile()
    ctx = model.ctx
    x = np.zeros(model.n_cols)
    x[ctx.n_u: ctx.n_u + ctx.n_z] = 1.0  # the plan uses all four
    rules = lazy.lazy_rules(model)
    whole = lazy._refit(model, SimpleNamespace(x=x), rules, rules[0], deadline=time.perf_counter() + 30, opts={})
    assert whole is not None
    units = np.bincount(ctx.u_parcel, weights=whole[: ctx.n_u], minlength=len(p))
    assert np.all(units == np.round(units))
    assert units.tolist()[1] == 0 and units.sum() == 1100  # P2 closed, its units elsewhere
    assert all(u == 0 or u >= 300 for u in units)
    cap = (p.area.to_numpy() * 2.0 / 50.0).round()
    assert np.all(units <= cap)
    xs = p.geometry.centroid.x.to_numpy()
    assert max(units[(xs >= a - 1e-6) & (xs <= a + 2 * R + 1e-6)].sum() for a in xs) <= N


def test_the_fit_adds_disc_rows_pass_by_pass_and_ends_at_the_lp_optimum_with_all_of_them(monkeypatch):
    """The fit keeps one HiGHS instance and re-solves it from the last basis as rows are added: its last LP
    must be the optimum of the LP with every row it added, solved afresh, and keep every disc (by hand)."""
    import time

    from siteplan.solve.backends import _columns_of, _relaxed, _solve_columns

    xs = [300.0 * k for k in range(20)]
    p = _city(xs, [1.0 - 0.01 * k for k in range(20)])
    prob = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 1600})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(RadiusCap(R, N, centres="anywhere")))
    model = prob.compile()
    rules = lazy.lazy_rules(model)
    passes = []
    cuts_of = lazy.lazy_cuts
    monkeypatch.setattr(lazy, "lazy_cuts", lambda *a, **k: passes.append(1) or cuts_of(*a, **k))
    open_z = np.ones(model.ctx.n_z, dtype=bool)
    fitted = lazy._fit_lp(model, open_z, rules, deadline=time.perf_counter() + 30, opts={})
    assert fitted is not None
    with_rows, x = fitted
    assert len(passes) >= 3 and with_rows.n_rows > model.n_rows  # rows added on more than one pass
    ctx = model.ctx
    units = np.bincount(ctx.u_parcel, weights=x[: ctx.n_u], minlength=len(p))
    centre = p.geometry.centroid.x.to_numpy()
    assert max(units[(centre >= a - 1e-6) & (centre <= a + 2 * R + 1e-6)].sum() for a in centre) <= N + 1e-6
    fresh = _solve_columns(_relaxed(with_rows), _columns_of(with_rows, open_z), time_limit_s=30, gap=0.0, solver="highs")
    assert fresh.has_solution
    assert float(with_rows.cost @ x) == pytest.approx(fresh.objective, rel=1e-9, abs=1e-6)


def _widening_city(xs=(0, 1050, 5000, 9000), districts=None, max_projects=None):
    """P0 and P1 (1,050 m apart) score best and take the 800 units, overfilling the disc between them; P2 and P3,
    5 and 9 km away, are no parcels of that plan. One round, so the plan is fitted to the disc, not searched again."""
    from siteplan import MaxProjects, ProjectSize

    p = _city(list(xs), [1.0, 0.9, 0.5, 0.4][: len(xs)])
    p["district"] = districts or ["D1"] * len(xs)
    prob = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=300))
            .add_rule(RadiusCap(R, N, centres="anywhere")))
    if max_projects is not None:
        prob = prob.add_rule(MaxProjects(per_district_year=max_projects))
    return p, prob


def _plan_units(plan, p):
    return plan.units.groupby("parcel_id")["units"].sum().reindex(p["parcel_id"], fill_value=0)


def test_the_refit_opens_a_new_project_for_the_units_its_own_parcels_cannot_hold(monkeypatch, caplog):
    """The fit on P0 and P1 keeps one of them (400 units in one disc); the widened fit opens P2, where the discs
    leave room, for the other 400: every target met, checked by hand."""
    import logging

    _no_more_rounds(monkeypatch)
    p, prob = _widening_city()
    with caplog.at_level(logging.DEBUG, logger="siteplan.solve.lazy"):
        plan = prob.solve(time_limit_s=30)
    assert "Refit widened" in caplog.text
    tot = _plan_units(plan, p)
    assert np.all(tot.to_numpy() == np.round(tot.to_numpy())) and tot.sum() == 800
    assert tot["P2"] == 400 and ((tot == 0) | (tot >= 300)).all()
    assert _densest_by_hand(plan) <= N
    assert plan.status.targets_met and plan.status.units_missing == 0
    assert ("trim", "Refitted on the plan's parcel-years") in [(s.name, s.status) for s in plan.report.stages]


def test_the_widened_refit_opens_projects_only_where_the_district_has_room_for_one(monkeypatch):
    """One new project per district and year: P0 (D1) keeps its 400 units, so P2 (D1) cannot open; P1 (D2) is
    closed by the fit, so P3 (D2) can, though it scores below P2."""
    _no_more_rounds(monkeypatch)
    p, prob = _widening_city(districts=["D1", "D2", "D1", "D2"], max_projects=1)
    plan = prob.solve(time_limit_s=30)
    tot = _plan_units(plan, p)
    assert tot.to_dict() == {"P0": 400, "P1": 0, "P2": 0, "P3": 400}
    assert plan.status.targets_met and _densest_by_hand(plan) <= N


def test_with_no_district_room_the_widened_refit_leaves_the_units_missing(monkeypatch):
    _no_more_rounds(monkeypatch)
    p, prob = _widening_city(xs=(0, 1050, 5000), districts=["D1", "D2", "D1"], max_projects=1)
    plan = prob.solve(time_limit_s=30)
    tot = _plan_units(plan, p)
    assert tot["P2"] == 0 and (tot > 0).sum() == 1 and ((tot == 0) | (tot >= 300)).all()
    assert _densest_by_hand(plan) <= N
    assert plan.status.units_missing == 800 - int(tot.sum()) == 400
    assert plan.status.code == "shortfall"


def test_the_rows_over_binaries_alone_are_the_projects_per_district_and_year():
    """What the widened refit counts room in: the projects per district and year and the one supply year per
    parcel, and no row with units in it."""
    p, prob = _widening_city(districts=["D1", "D2", "D1", "D2"], max_projects=1)
    model = prob.compile()
    rows = lazy._z_only_rows(model)
    kinds = model.rows["rule"].to_numpy()
    assert set(kinds[rows]) == {"max_projects", "one_supply_year"}
    assert len(rows) == np.isin(kinds, ["max_projects", "one_supply_year"]).sum()
    assert (model.rows["rule"] == "max_projects").sum() == 2
    assert model.A[rows][:, : model.ctx.n_u].nnz == 0


@pytest.mark.parametrize("target, expected", [(1000, [334, 332, 334]), (999, [334, 332, 333])])
def test_rounding_a_fit_gives_units_back_where_a_target_is_short_and_every_hard_row_has_room(target, expected):
    """The fit's LP units, rounded down, leave the target short. A unit goes back to P0 (largest remainder, first),
    none to P1 (P0 and P1 share a circle of 666, full again), and one to P2 only while the target is short (the
    yearly target is exact: a unit past it costs more than it scores). The circle is kept."""
    p = _city([0, 500, 5000], [1.0, 1.0, 1.0])
    model = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): target})
             .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(RadiusCap(R, 666, centres="projects"))).compile()
    ctx = model.ctx
    x_u = np.zeros(ctx.n_u)
    want = {0: 333.5, 1: 332.5, 2: 333.5}
    for c in range(ctx.n_u):
        x_u[c] = want[int(ctx.u_parcel[c])]
    u = lazy._give_back(model, x_u, np.floor(x_u), np.ones(ctx.n_z, dtype=bool))
    per_parcel = np.bincount(ctx.u_parcel, weights=u, minlength=3)
    assert per_parcel.tolist() == expected
    assert np.all(u <= np.ceil(x_u)) and per_parcel[0] + per_parcel[1] <= 666


@pytest.mark.parametrize("swap", [True, False])
def test_a_widening_may_close_a_small_project_for_a_larger_one_when_the_district_is_full(monkeypatch, swap):
    """Two projects per district. The plan holds P0 (room for 350 units by its plot ratio) and P1 (400): 50 of
    the 800 units short, and the district has no place for a third project, so a widening that only opens
    projects finds nothing. One that may close the plan's own projects closes P0 and opens P2 (400): every
    unit placed, recomputed here from the parcels' areas. Without closing the plan stays as it was."""
    import time

    from siteplan import MaxProjects, ProjectSize
    from siteplan.solve.rounding import complete

    monkeypatch.setattr(lazy, "WIDEN_SWAP", swap)
    p = _city([0, 5000, 10000], [1.0, 0.9, 0.8])
    p.loc[0, "geometry"] = shapely.box(0, 0, 87.5, 100)  # 350 units at plot ratio 2
    p["area_m2"] = p.area
    model = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
             .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=300))
             .add_rule(MaxProjects(per_district_year=2)).add_rule(RadiusCap(R, N, centres="anywhere"))).compile()
    ctx = model.ctx
    x = np.zeros(model.n_cols)
    for c in range(ctx.n_u):
        x[c] = {0: 350.0, 1: 400.0, 2: 0.0}[int(ctx.u_parcel[c])]
    x[ctx.n_u + np.array([j for j in range(ctx.n_z) if ctx.z_parcel[j] in (0, 1)])] = 1.0
    plan = complete(model, x)
    assert model.slice_s(plan).sum() == pytest.approx(50.0)
    rules = lazy.lazy_rules(model)
    out = lazy._widened(model, model, plan, rules, rules[0], deadline=time.perf_counter() + 30, opts={})
    units = np.bincount(ctx.u_parcel, weights=out[: ctx.n_u], minlength=3)
    if not swap:
        assert units.tolist() == [350, 400, 0] and model.slice_s(out).sum() == pytest.approx(50.0)
        return
    assert units.tolist() == [0, 400, 400]
    cap = np.floor(p.area.to_numpy() * 2.0 / 50.0 + 1e-9)  # floor area at plot ratio 2, in 50 m2 units
    assert np.all(units <= cap) and ((units == 0) | (units >= 300)).all() and (units > 0).sum() <= 2
    assert units.sum() == 800 and model.slice_s(out).sum() == pytest.approx(0.0)


def test_the_refits_widenings_may_go_on_until_the_margin_before_the_limit_its_fit_until_the_trims_reserve(monkeypatch):
    """The fit must leave the trim its reserve (a fit that fails needs it); the widenings only improve a plan in
    hand, so they may go on until WIDEN_MARGIN_S before the limit."""
    import time
    from types import SimpleNamespace

    seen = {}

    def fake_refit(base, second, rules, rule, *, deadline, opts, widen_until=None):
        seen.update(deadline=deadline, widen_until=widen_until)
        return None

    monkeypatch.setattr(lazy, "_refit", fake_refit)
    monkeypatch.setattr("siteplan.solve.trim.trim_to_cap", lambda *a, **k: None)
    p = _city([0, 1050, 5000], [1.0, 1.0, 0.5])
    model = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 800})
             .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(RadiusCap(R, N, centres="anywhere"))).compile()
    limit = time.perf_counter() + 100.0
    lazy._trimmed(model, SimpleNamespace(x=np.zeros(model.n_cols)), lazy.lazy_rules(model), time_limit_s=120.0,
                  opts={}, deadline=limit)
    assert seen["deadline"] == pytest.approx(limit - lazy.TRIM_LEAST_S)
    assert seen["widen_until"] == pytest.approx(limit - lazy.WIDEN_MARGIN_S)
    assert lazy.WIDEN_MARGIN_S < lazy.TRIM_LEAST_S
