"""Tests for siteplan.solve.search: the solver report, the stages and the whole-unit step (and rounding with repair)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from siteplan import PlotRatio, YearlyTargets, problem
from siteplan.solve.search import _rounding_abs_gap
from tests.cities import grid_parcels

PR = {"public_rental": 50.0}


def test_report_bound_is_on_the_objective_scale_and_runtime_covers_every_step():
    # three parcels of 400 units each with scores 0.9, 0.5, 0.1; 500 units to place
    p = grid_parcels(3, years=(2016,), score_2016=[0.9, 0.5, 0.1])
    plan = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 500}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve(gap=0.0)
    r = plan.report
    # hand optimum: 400 on the 0.9 parcel, 100 on the 0.5 parcel
    assert r.objective == pytest.approx(400 * 0.9 + 100 * 0.5)
    assert r.within_gap and r.gap == pytest.approx(0.0, abs=1e-9)
    assert r.objective_bound == pytest.approx(r.objective, rel=1e-9)
    assert r.runtime_s >= r.solve_s + r.rounding_s
    d = r.as_dict()
    assert set(("runtime_s", "within_gap", "objective_bound")) <= set(d)


def test_no_objective_bound_for_a_plan_with_shortfall():
    p = grid_parcels(1, years=(2016,))
    plan = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 500}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    assert plan.total_shortfall == pytest.approx(100)
    assert np.isnan(plan.report.objective_bound) and plan.report.as_dict()["objective_bound"] is None


def test_rounding_gap_stays_below_half_a_shortfall_unit():
    p = grid_parcels(2, years=(2016,))
    prob = problem(p, PR, [2016], penalty=1000.0).add_targets({("public_rental", 2016): 500}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    model = prob.compile()
    x = np.zeros(model.n_cols)
    x[: model.ctx.n_u] = 1e9  # a huge score: the relative part alone would allow far more than one unit
    assert _rounding_abs_gap(model, x) == pytest.approx(500.0)
    x[: model.ctx.n_u] = 1.0
    assert _rounding_abs_gap(model, x) == pytest.approx(1e-3 * abs(float(model.cost[: model.ctx.n_u].sum())))


def test_no_plan_in_the_limit_gets_one_more_search_and_says_so(monkeypatch):
    import siteplan.solve.search as S

    real = S._best_plan
    calls = []

    def first_finds_nothing(model, **kw):
        calls.append(kw.get("lp"))
        if len(calls) == 1:
            nothing = S.SolveResult(solver="highs", status="Time limit reached", has_solution=False, optimal=False,
                                    time_limit_hit=True, x=np.zeros(model.n_cols), objective=float("nan"),
                                    bound=float("nan"), gap=float("nan"), runtime_s=1.0)
            return nothing, float("-inf"), "full-mip"
        return real(model, **kw)

    monkeypatch.setattr(S, "_best_plan", first_finds_nothing)
    monkeypatch.setattr(S, "SMALL_MODEL_COLUMNS", 0)  # the staged search, not one MIP
    p = grid_parcels(3, years=(2016,), score_2016=[0.9, 0.5, 0.1])
    plan = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 500}).add_rule(PlotRatio()).add_rule(YearlyTargets()).solve()
    assert len(calls) == 2 and calls[0] is calls[1]  # the second search shares the first one's LP
    assert plan.report.time_limit_hit  # and the plan says the limit was hit
    assert int(plan.units["units"].sum()) == 500


AREAS = {"public_rental": 47.0, "talent_apartment": 61.0}
TARGETS = {("public_rental", 2016): 801, ("talent_apartment", 2016): 403, ("public_rental", 2017): 905, ("talent_apartment", 2017): 317}


def _dispersed_problem(n=16, seed=7):
    """Two types and two years with odd targets, unit areas that leave the
    plot ratio fractional capacities, projects of 100-450 units, and at most
    800 units within 700 m (the parcels are 300 m apart, so a circle holds a
    parcel and two either side)."""
    from siteplan import ProjectSize, RadiusCap

    years = (2016, 2017)
    rng = np.random.default_rng(seed)
    p = grid_parcels(n, years=years, score_2016=rng.uniform(0.2, 1.0, n), score_2017=rng.uniform(0.2, 1.0, n))
    prob = (problem(p, AREAS, years).add_targets(TARGETS)
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=100, max_units=450))
            .add_rule(RadiusCap(radius_m=700.0, max_units=800, centres="projects")))
    return p, prob


def _assert_dispersed_rules(p, units: pd.DataFrame):
    """The rules of :func:`_dispersed_problem`, recomputed from the parcels and
    a table of (parcel_id, year, type, units)."""
    assert np.allclose(units["units"], np.round(units["units"]))
    units = units.assign(floor_m2=units["units"] * units["type"].map(AREAS))
    totals = units.groupby(["type", "year"])["units"].sum().round()
    assert {k: int(v) for k, v in totals.items()} == TARGETS
    projects = units.groupby(["parcel_id", "year"])[["units", "floor_m2"]].sum()
    used = projects[projects["units"] > 0.5].reset_index()
    assert used["parcel_id"].is_unique  # one supply year per parcel
    assert used["units"].between(100, 450).all()
    area = p.set_index("parcel_id")["area_m2"]
    assert (used["floor_m2"] <= area[used["parcel_id"]].to_numpy() * 2.0 + 1e-6).all()
    per_parcel = used.set_index("parcel_id")["units"].reindex(p["parcel_id"]).fillna(0.0).to_numpy()
    c = p.geometry.centroid
    for i in np.nonzero(per_parcel > 0)[0]:
        assert per_parcel[(c.distance(c.iloc[i]) <= 700.0).to_numpy()].sum() <= 800 + 1e-6


def test_rounding_with_repair_gives_whole_units_that_keep_every_rule():
    import siteplan.solve.dive as D
    import siteplan.solve.sift as SI
    from siteplan.solve.rounding import round_units

    p, prob = _dispersed_problem()
    model = prob.compile()
    ctx = model.ctx
    left = lambda: 60.0  # noqa: E731
    dive = D._lp_dive(model, SI._sifted_lp(model, left=left, opts={"solver": "highs"}), left=left)
    u = model.slice_u(dive.x)
    # the continuous plan has fractional units, and rounding them down alone misses the targets
    assert np.abs(u - np.round(u)).max() > 0.01
    assert np.floor(u + 1e-6).sum() < sum(TARGETS.values())
    x = round_units(model, dive.x)
    assert x is not None
    ids = ctx.parcels["parcel_id"].to_numpy()
    _assert_dispersed_rules(p, pd.DataFrame({"parcel_id": ids[ctx.u_parcel], "year": np.asarray(ctx.years)[ctx.u_year],
                                             "type": np.asarray(ctx.types)[ctx.u_type], "units": model.slice_u(x)}))
    # the same parcel-years, and every row of the model holds (shortfall columns computed)
    assert np.array_equal(np.round(model.slice_z(x)), np.round(model.slice_z(dive.x)))
    act = model.A @ x
    assert np.all(act >= model.row_lower - 1e-6) and np.all(act <= model.row_upper + 1e-6)
    assert model.slice_s(x).sum() == pytest.approx(0.0, abs=1e-9)


def test_whole_unit_step_solves_for_integers_when_the_repair_fails(monkeypatch):
    import siteplan.solve.rounding as R
    import siteplan.solve.search as S

    p, prob = _dispersed_problem()
    monkeypatch.setattr(R, "round_units", lambda model, x, **kw: None)
    monkeypatch.setattr(S, "SMALL_MODEL_COLUMNS", 0)  # the staged search and its whole-unit step
    plan = prob.solve(gap=0.0)
    assert plan.report.rounding_status != "Rounded with repair"
    _assert_dispersed_rules(p, plan.units)
    monkeypatch.undo()
    monkeypatch.setattr(S, "SMALL_MODEL_COLUMNS", 0)
    repaired = prob.solve(gap=0.01)
    assert repaired.report.rounding_status == "Rounded with repair"
    _assert_dispersed_rules(p, repaired.units)
    # within the gap asked of the integer optimum
    assert repaired.report.objective >= plan.report.objective * (1 - 0.01) - 1e-6


def test_repair_chain_moves_a_unit_out_of_a_full_circle_to_meet_a_target():
    import scipy.sparse as sp

    from siteplan.solve.rounding import HARD_WEIGHT, _Search

    # two parcels in one circle of at most 10 units (hard), now full at 4 + 6;
    # parcel 1's type needs exactly 5 (one short), parcel 2's at least 5.
    # No single unit moved helps: +1 on parcel 1 breaks the circle, -1 on
    # parcel 2 only loses score. The chain +1, -1 meets both.
    B = sp.csc_matrix(np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    hard = HARD_WEIGHT * 1000
    search = _Search(B, lo=np.array([-np.inf, 5.0, 5.0]), hi=np.array([10.0, 5.0, np.inf]),
                     price_lo=np.array([hard, 1000.0, 1000.0]), price_hi=np.array([hard, 1000.0, hard]),
                     tol=np.full(3, 1e-7), cost=np.array([-1.0, -1.0]), upper=np.array([10.0, 10.0]), start=np.array([4.0, 6.0]))
    assert search.single_round() == 0
    search.run()
    assert search.u.tolist() == [5.0, 5.0]
    assert not search.broken(hard).any()


def test_repaired_plan_is_kept_within_the_gap_unless_it_trades_a_target():
    from siteplan.solve.search import _keep_rounded

    # P0 scores 1.0 and P1 0.2; 500 units are due; one shortfall unit costs 100
    p = grid_parcels(2, years=(2016,), score_2016=[1.0, 0.2])
    model = (problem(p, PR, [2016], penalty=100.0).add_targets({("public_rental", 2016): 500})
             .add_rule(PlotRatio()).add_rule(YearlyTargets())).compile()
    ctx = model.ctx
    on = {parcel: np.nonzero(ctx.u_parcel == parcel)[0][0] for parcel in (0, 1)}
    z_on = {parcel: ctx.n_u + np.nonzero(ctx.z_parcel == parcel)[0][0] for parcel in (0, 1)}
    short = model.n_core + np.nonzero(model.slack_sign > 0)[0][0]

    def plan(u0, u1):
        x = np.zeros(model.n_cols)
        x[on[0]], x[on[1]] = u0, u1
        x[[z_on[0], z_on[1]]] = 1.0
        x[short] = 500 - u0 - u1
        return x

    x = plan(400, 100)  # -420: the best plan, and the bound
    bound = float(model.cost @ x)
    moved = plan(300, 200)  # 80 of score given up (more than half a shortfall unit, 50), no target broken
    assert float(model.cost @ moved) - bound == pytest.approx(80)
    assert _keep_rounded(model, x, moved, bound=bound, gap=0.25)  # 80 / 340 (the gap of a plan scoring 340) = 23.5%
    assert not _keep_rounded(model, x, moved, bound=bound, gap=0.2)
    traded = plan(400, 99)  # one unit short: 100 of penalty for 0.2 of score
    assert not _keep_rounded(model, x, traded, bound=bound, gap=0.5)
    nudged = plan(399.5, 100.5)  # 0.4 given up: within the step's absolute gap, whatever the relative one
    assert _keep_rounded(model, x, nudged, bound=float("nan"), gap=0.0)
    # a plan the time limit left 30% off its bound: the repair may give up less than the gap of its score
    far = bound - 0.3 * abs(bound)
    assert _keep_rounded(model, x, moved, bound=far, gap=0.25)  # 80 of 420 is 19%
    assert not _keep_rounded(model, x, moved, bound=far, gap=0.15)
    assert not _keep_rounded(model, x, traded, bound=far, gap=0.5)
    assert _keep_rounded(model, x, moved, bound=float("nan"), gap=0.25)  # no bound known at all


def test_a_mip_stopped_short_never_replaces_a_better_plan_it_was_started_from(monkeypatch):
    import siteplan.solve.search as S

    p, prob = _dispersed_problem()
    model = prob.compile()
    # a plan that places nothing: every target short (feasible, since targets are elastic)
    bad = np.zeros(model.n_cols)
    act = model.A @ bad
    lower_side = model.slack_sign > 0
    bad[model.n_core + np.nonzero(lower_side)[0]] = np.maximum(model.row_lower[model.slack_rows[lower_side]] - act[model.slack_rows[lower_side]], 0)
    assert np.all(model.A @ bad >= model.row_lower - 1e-6) and np.all(model.A @ bad <= model.row_upper + 1e-6)

    def stopped_short(m, *args, **kw):
        x = bad if m.n_cols == model.n_cols else bad[args[0]] if args else bad
        return S.SolveResult(solver="highs", status="Time limit reached", has_solution=True, optimal=False, time_limit_hit=True,
                             x=x, objective=float(m.cost @ x), bound=float("nan"), gap=float("nan"), runtime_s=1.0)

    clock = {"after_restricted": 60.0}

    def restricted(m, cols, **kw):
        clock["now"] = clock["after_restricted"]
        return stopped_short(m)

    # _best_plan reads these three from search's namespace (imported there from
    # backends and dive), so they are patched on search
    monkeypatch.setattr(S, "_solve_columns", restricted)
    monkeypatch.setattr(S, "solve_model", lambda m, **kw: stopped_short(m))
    dives = []
    real_dive = S._lp_dive
    monkeypatch.setattr(S, "_lp_dive", lambda *a, **kw: dives.append(real_dive(*a, **kw)) or dives[-1])
    # gap -1: no plan is ever within it, so every step runs; after the
    # restricted MIP there is time for the full MIP, or none
    for after in (60.0, S.MIN_STEP_S):
        clock.update(now=60.0, after_restricted=after)
        res, bound, method = S._best_plan(model, gap=-1.0, left=lambda: clock["now"], opts={"solver": "highs"})
        assert res.time_limit_hit and method == "lp-guided"
        assert float(model.cost @ res.x) == pytest.approx(dives[-1].objective)
        assert dives[-1].objective < float(model.cost @ bad)


SMALL_AREAS = {"public_rental": 47.0, "talent_apartment": 61.0, "economy": 83.0}


def _small_city(seed: int):
    """A random grid of 9-25 parcels, three types over two years, projects of
    ``least`` to 3 x ``least`` units and a radius cap, and the dive's plan on it."""
    import siteplan.solve.dive as D
    import siteplan.solve.sift as SI
    from siteplan import ProjectSize, RadiusCap

    years = (2016, 2017)
    rng = np.random.default_rng(seed)
    n = int(rng.choice([9, 16, 25]))
    p = grid_parcels(n, years=years, **{f"score_{y}": rng.uniform(0.2, 1.0, n) for y in years})
    targets = {(t, y): int(rng.integers(150, 700)) for t in SMALL_AREAS for y in years}
    least = int(rng.integers(100, 300))
    cap = int(rng.integers(least * 2, least * 4))
    radius = float(rng.choice([400.0, 700.0]))
    model = (problem(p, SMALL_AREAS, years).add_targets(targets).add_rule(PlotRatio()).add_rule(YearlyTargets())
             .add_rule(ProjectSize(min_units=least, max_units=least * 3)).add_rule(RadiusCap(radius_m=radius, max_units=cap, centres="projects"))).compile()
    left = lambda: 60.0  # noqa: E731
    dive = D._lp_dive(model, SI._sifted_lp(model, left=left, opts={"solver": "highs"}), left=left)
    return p, model, dive, dict(targets=targets, least=least, cap=cap, radius=radius)


def _assert_small_city_plan(p, model, dive, x, city: dict) -> None:
    """Every row of the model holds, on the dive's parcel-years; the rules
    recomputed from the parcels; no more target shortfall than the dive's."""
    act = model.A @ x
    assert np.all(act >= model.row_lower - 1e-6) and np.all(act <= model.row_upper + 1e-6)
    assert np.array_equal(np.round(model.slice_z(x)), np.round(model.slice_z(dive.x)))
    ctx = model.ctx
    ids = ctx.parcels["parcel_id"].to_numpy()
    units = pd.DataFrame({"parcel_id": ids[ctx.u_parcel], "year": np.asarray(ctx.years)[ctx.u_year],
                          "type": np.asarray(ctx.types)[ctx.u_type], "units": model.slice_u(x)})
    assert np.allclose(units["units"], np.round(units["units"]))
    units["floor_m2"] = units["units"] * units["type"].map(SMALL_AREAS)
    projects = units.groupby(["parcel_id", "year"])[["units", "floor_m2"]].sum()
    used = projects[projects["units"] > 0.5].reset_index()
    assert used["parcel_id"].is_unique
    assert used["units"].between(city["least"], city["least"] * 3).all()
    area = p.set_index("parcel_id")["area_m2"]
    assert (used["floor_m2"] <= area[used["parcel_id"]].to_numpy() * 2.0 + 1e-6).all()
    per_parcel = used.set_index("parcel_id")["units"].reindex(p["parcel_id"]).fillna(0.0).to_numpy()
    c = p.geometry.centroid
    for i in np.nonzero(per_parcel > 0)[0]:
        assert per_parcel[(c.distance(c.iloc[i]) <= city["radius"]).to_numpy()].sum() <= city["cap"]
    placed = units.groupby(["type", "year"])["units"].sum()
    short = sum(max(0.0, v - placed.get(k, 0.0)) for k, v in city["targets"].items())
    assert short <= model.slice_s(dive.x).sum() + 1e-6  # no target given up for whole units


@pytest.mark.parametrize("seed", [369, 527, 812])
def test_rounding_tries_other_starts_when_the_floor_leaves_a_hard_row_broken(monkeypatch, seed):
    """Three small cities where the search from the rounded-down units ends
    with a hard row broken: from a start that gives each parcel-year back its
    whole total it keeps every rule, recomputed from the parcels, and gives
    up no target."""
    import siteplan.solve.rounding as R

    p, model, dive, city = _small_city(seed)
    monkeypatch.setattr(R, "STARTS", ("floor",))
    assert R.round_units(model, dive.x) is None
    monkeypatch.undo()
    assert R.round_units(model, dive.x, deadline=0.0) is None  # past the deadline: no second start
    x = R.round_units(model, dive.x)
    assert x is not None
    _assert_small_city_plan(p, model, dive, x, city)


@pytest.mark.parametrize("seed", [23, 235, 361])
def test_rounding_tries_other_starts_when_the_floor_gives_up_a_target(monkeypatch, seed):
    """Three small cities where the search from the rounded-down units keeps
    every hard row but ends a unit short of a target: another start meets it."""
    import siteplan.solve.rounding as R

    p, model, dive, city = _small_city(seed)
    monkeypatch.setattr(R, "STARTS", ("floor",))
    floor = R.round_units(model, dive.x)
    assert floor is not None and model.slice_s(floor).sum() > model.slice_s(dive.x).sum() + 0.5
    monkeypatch.undo()
    x = R.round_units(model, dive.x)
    assert x is not None
    _assert_small_city_plan(p, model, dive, x, city)


def _over_constrained_city():
    """16 parcels, targets far beyond what they hold: the dive's plan gives up targets."""
    import siteplan.solve.dive as D
    import siteplan.solve.sift as SI
    from siteplan import ProjectSize

    years = (2016, 2017)
    rng = np.random.default_rng(7)
    p = grid_parcels(16, years=years, **{f"score_{y}": rng.uniform(0.2, 1.0, 16) for y in years})
    targets = {(t, y): 2500 for t in SMALL_AREAS for y in years}
    model = (problem(p, SMALL_AREAS, years).add_targets(targets).add_rule(PlotRatio()).add_rule(YearlyTargets())
             .add_rule(ProjectSize(min_units=120, max_units=600))).compile()
    left = lambda: 60.0  # noqa: E731
    return model, D._lp_dive(model, SI._sifted_lp(model, left=left, opts={"solver": "highs"}), left=left)


def _hard_rows_kept(model, x) -> bool:
    act = model.A @ x
    hard = (model.rows["elastic"] == "").to_numpy()
    return bool(np.all(act[hard] >= model.row_lower[hard] - 1e-6) and np.all(act[hard] <= model.row_upper[hard] + 1e-6))


def test_with_no_time_left_the_repaired_plan_goes_out_without_the_integer_step(monkeypatch):
    """Past the deadline, a repaired plan that keeps every hard row is delivered as it is (no integer
    programme past the limit), and its record says the step hit the limit and proved nothing."""
    import time

    import siteplan.solve.search as S
    from siteplan.solve.search import _whole_units

    model, dive = _over_constrained_city()
    calls = []
    monkeypatch.setattr(S, "_solve_columns", lambda *a, **k: calls.append(1))
    res, record = _whole_units(model, dive.x, bound=float(dive.objective), gap=0.01, deadline=time.perf_counter() - 1, opts={})
    assert not calls
    assert res.time_limit_hit and record.time_limit_hit and not record.proven
    assert _hard_rows_kept(model, res.x)
    assert np.allclose(res.x[: model.ctx.n_u], np.round(res.x[: model.ctx.n_u]))
    # with time left, the same plan goes to the integer step (it gives up more than the gap allows)

    class Reached(Exception):
        pass

    def integer_step(*a, **k):
        raise Reached

    monkeypatch.setattr(S, "_solve_columns", integer_step)
    with pytest.raises(Reached):
        _whole_units(model, dive.x, bound=float(dive.objective), gap=0.01, deadline=time.perf_counter() + 60, opts={})


def test_rounding_a_plan_that_gives_up_targets_tries_one_start(monkeypatch):
    """Over-constrained (targets beyond what the parcels hold): the LP's plan is short, the first start
    ends more than MANY_SHORT units shorter still, and rounding tries no other start (the integer step
    after it does the rest). Its plan keeps every hard row."""
    import siteplan.solve.rounding as R

    model, dive = _over_constrained_city()
    assert model.slice_s(dive.x).sum() > 100  # the plan gives up targets
    starts = []
    real = R._start
    monkeypatch.setattr(R, "_start", lambda *a: starts.append(a[-1]) or real(*a))
    x = R.round_units(model, dive.x)
    assert starts == ["floor"]
    assert x is not None and model.slice_s(x).sum() > model.slice_s(dive.x).sum() + R.MANY_SHORT
    assert _hard_rows_kept(model, x)
    assert np.allclose(x[: model.ctx.n_u], np.round(x[: model.ctx.n_u]))


def test_a_plan_at_its_bound_up_to_float_noise_is_within_a_gap_of_zero():
    """The least-shortfall search asks for gap 0: a restricted MIP's optimum one float step from the
    LP bound must end that search, not send it on to a full MIP."""
    from siteplan.solve.backends import _within_gap

    bound = 7874.957405163034
    assert _within_gap(np.nextafter(bound, 0.0), bound, 0.0)
    assert _within_gap(bound, bound, 0.0)
    assert not _within_gap(7875.0, 7874.0, 0.0)  # a unit above the bound is not
    assert not _within_gap(101.0, 100.0, 0.005) and _within_gap(100.4, 100.0, 0.005)
