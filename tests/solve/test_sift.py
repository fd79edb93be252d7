"""Tests for siteplan.solve.sift: the LP relaxation by sifting, its start set and its time share."""

from __future__ import annotations

import numpy as np
import pytest

from siteplan import PlotRatio, YearlyTargets, problem
from tests.cities import grid_parcels

PR = {"public_rental": 50.0}


def test_sifting_start_covers_every_elastic_lower_bound_with_its_best_parcels():
    from siteplan import ZoneTargets
    from siteplan.solve.sift import SIFT_COVER, _covering_z

    # 10 high-scoring parcels in zone E, 10 low-scoring ones in zone W; 400 units each
    zone = ["E"] * 10 + ["W"] * 10
    score = [0.9] * 10 + list(np.linspace(0.5, 0.1, 10))
    p = grid_parcels(20, years=(2016,), zone=zone, score_2016=score)
    prob = (problem(p, PR, [2016]).add_targets({("public_rental", 2016): 200}).add_rule(PlotRatio())
            .add_rule(YearlyTargets()).add_rule(ZoneTargets({"W": 100})))
    model = prob.compile()
    ctx = model.ctx
    best = np.full(ctx.n_z, -np.inf)
    np.maximum.at(best, ctx.u_z, -model.cost[: ctx.n_u])
    keep = _covering_z(model, best)
    chosen = set(ctx.parcels["parcel_id"].to_numpy()[ctx.z_parcel[keep]])
    # zone W needs 100 units: the cover holds SIFT_COVER x 100 units, so its
    # best parcels until that is reached, recomputed here from the raw scores
    w = [f"P{i}" for i in range(10, 20)]
    need_w = int(np.ceil(SIFT_COVER * 100 / 400))
    assert 0 < need_w < 10
    assert set(w[:need_w]) <= chosen and not set(w[need_w:]) & chosen
    # the yearly target (200 units, every parcel) is covered by the best parcels, all in E
    need_t = int(np.ceil(SIFT_COVER * 200 / 400))
    assert {f"P{i}" for i in range(min(need_t, 10))} <= chosen


def test_the_sifting_start_covers_the_targets_again_counting_the_radius_cap():
    """Best parcels packed in one square of side R x sqrt(2) can hold N units between them, whatever
    their plot ratio: the start set reaches past them to parcels elsewhere."""
    import shapely

    from siteplan import RadiusCap
    from siteplan.solve.sift import SIFT_CAP_COVER, SIFT_COVER, _covering_z

    R, N, target = 1000.0, 150, 100
    # 10 parcels of 400 units 110 m apart (one square), then 10 worse ones 3 km apart
    x0 = [110.0 * i for i in range(10)] + [5000.0 + 3000.0 * i for i in range(10)]
    score = list(np.linspace(0.95, 0.9, 10)) + list(np.linspace(0.5, 0.1, 10))
    p = grid_parcels(20, years=(2016,), score_2016=score)
    p = p.set_geometry([shapely.box(x, 0, x + 100, 100) for x in x0], crs=p.crs)
    assert np.unique(np.floor(p.centroid.x.to_numpy()[:10] / (R * np.sqrt(2)))).size == 1

    def chosen(with_cap: bool) -> set:
        prob = problem(p, PR, [2016]).add_targets({("public_rental", 2016): target}).add_rule(PlotRatio()).add_rule(YearlyTargets())
        model = (prob.add_rule(RadiusCap(R, N)) if with_cap else prob).compile()
        ctx = model.ctx
        best = np.full(ctx.n_z, -np.inf)
        np.maximum.at(best, ctx.u_z, -model.cost[: ctx.n_u])
        return set(ctx.parcels["parcel_id"].to_numpy()[ctx.z_parcel[_covering_z(model, best)]])

    # without the cap: SIFT_COVER x 100 units from the cluster's best parcels alone
    assert SIFT_COVER * target <= 10 * 400
    assert chosen(False) <= {f"P{i}" for i in range(10)}
    # with it: the cluster counts N, so SIFT_CAP_COVER x 100 needs that many more from the spread parcels
    # (each its own square, N apiece), the best first
    more = int(np.ceil((SIFT_CAP_COVER * target - N) / N))
    assert 0 < more < 10
    spread = {f"P{i}" for i in range(10, 20)}
    assert chosen(True) & spread == {f"P{i}" for i in range(10, 10 + more)}


def test_sifting_past_its_share_goes_on_while_few_parcel_years_price_in(monkeypatch):
    """Past its share of the time, sifting stops unproven, unless the
    parcel-years still pricing in are few (``SIFT_FEW``): then it goes on to
    the whole LP's optimum, checked against the LP solved in one piece."""
    import siteplan.solve.backends as B
    import siteplan.solve.sift as SI

    rng = np.random.default_rng(3)
    p = grid_parcels(60, years=(2016, 2017), score_2016=rng.uniform(0.2, 1.0, 60), score_2017=rng.uniform(0.2, 1.0, 60))
    model = (problem(p, PR, (2016, 2017)).add_targets({("public_rental", 2016): 3000, ("public_rental", 2017): 2500})
             .add_rule(PlotRatio()).add_rule(YearlyTargets())).compile()
    whole = B.solve_model(B._relaxed(model), time_limit_s=60, gap=0.0)
    monkeypatch.setattr(SI, "SIFT_START", 1)
    monkeypatch.setattr(SI, "SIFT_COVER", 0.05)  # a start far too small: the first LP prices many in
    monkeypatch.setattr(SI, "SIFT_SHARE", 0.0)  # every round is past the share
    left = lambda: 60.0  # noqa: E731
    monkeypatch.setattr(SI, "SIFT_FEW", 0.0)
    stopped = SI._sifted_lp(model, left=left, opts={"solver": "highs"})
    assert stopped is not None and not stopped.proven
    monkeypatch.setattr(SI, "SIFT_FEW", 1e9)
    sifted = SI._sifted_lp(model, left=left, opts={"solver": "highs"})
    assert sifted.proven
    assert sifted.res.objective == pytest.approx(whole.objective, rel=1e-7)


def test_a_binary_that_prices_in_alone_does_not_bring_its_parcel_year_when_its_minimum_row_prices_it_out(monkeypatch):
    """A row that rewards opening parcel-years (as an alternative's "use parcels outside the best
    plan's" row does) makes every binary outside the LP price in alone. With its own project-minimum
    row's dual it does not: sifting keeps fewer parcel-years, and its LP optimum is still the whole
    LP's, solved here in one piece."""
    import siteplan.solve.backends as B
    import siteplan.solve.sift as SI
    from siteplan import ProjectSize

    rng = np.random.default_rng(11)
    n = 80
    p = grid_parcels(n, years=(2016, 2017), score_2016=rng.uniform(0.2, 1.0, n), score_2017=rng.uniform(0.2, 1.0, n))
    model = (problem(p, PR, (2016, 2017)).add_targets({("public_rental", 2016): 3000, ("public_rental", 2017): 2500})
             .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=100))).compile()
    ctx = model.ctx
    # as many parcel-years open among the last 40 parcels as among the first 40 (an alternative's
    # "differ" row with a share of 1/2): sum_head z - sum_tail z <= 0, met by opening nothing
    zs = np.arange(ctx.n_z)
    model = B._with_row(model, ctx.z_col(zs), np.where(ctx.z_parcel < n // 2, 1.0, -1.0), -np.inf, 0.0, rule="open_some")
    whole = B.solve_model(B._relaxed(model), time_limit_s=60, gap=0.0)
    monkeypatch.setattr(SI, "SIFT_START", 1)
    monkeypatch.setattr(SI, "SIFT_COVER", 1.0)
    monkeypatch.setattr(SI, "SIFT_ADD", 1)
    sifted = SI._sifted_lp(model, left=lambda: 60.0, opts={"solver": "highs"})
    assert sifted.proven and sifted.res.objective == pytest.approx(whole.objective, rel=1e-9, abs=1e-6)
    monkeypatch.setattr(SI, "_bundle_room", lambda local, reduced, n_z: np.zeros(n_z))
    plain = SI._sifted_lp(model, left=lambda: 60.0, opts={"solver": "highs"})
    assert plain.proven and plain.res.objective == pytest.approx(whole.objective, rel=1e-9, abs=1e-6)
    n_cols = lambda s: int(np.isin(np.arange(ctx.n_u), s.cols).sum())  # noqa: E731
    assert n_cols(sifted) < n_cols(plain)


def test_local_rows_are_the_project_minimum_rows_one_per_parcel_year():
    from siteplan import ProjectSize
    from siteplan.solve.sift import _local_rows

    p = grid_parcels(6, years=(2016, 2017))
    model = (problem(p, {"public_rental": 50.0, "talent_apartment": 60.0}, (2016, 2017))
             .add_targets({("public_rental", 2016): 300}).add_rule(PlotRatio()).add_rule(YearlyTargets())
             .add_rule(ProjectSize(min_units=40))).compile()
    ctx = model.ctx
    j, a, r_u, c_u, b = _local_rows(model)
    assert sorted(j.tolist()) == list(range(ctx.n_z))  # one row per parcel-year
    assert np.all(a == 40) and np.all(b == 1)
    # each row's units are its own parcel-year's, both types
    assert np.array_equal(ctx.u_z[c_u], j[r_u])
    assert np.all(np.bincount(r_u, minlength=len(j)) == 2)


@pytest.mark.parametrize("seed", range(6))
def test_bundle_room_prices_a_parcel_year_as_its_cheapest_whole_bundle(seed):
    """A parcel-year outside the LP with a local row sum_t b_t u_t - a z >= 0 prices in exactly when
    some bundle (z = 1 and units meeting the row) has a negative reduced cost: the least of
    rc_z z + sum_t rc_t u_t over that cone, solved here as an LP with scipy, against _bundle_room."""
    from scipy.optimize import linprog

    from siteplan.solve.sift import _bundle_room

    rng = np.random.default_rng(seed)
    n_types, a = 3, float(rng.integers(20, 200))
    b = rng.uniform(0.5, 2.0, n_types)
    for _ in range(20):
        rc_u = rng.uniform(0.0, 0.05, n_types)
        rc_z = float(rng.uniform(-5.0, 1.0))
        reduced = np.concatenate([rc_u, [rc_z]])
        local = (np.array([0]), np.array([a]), np.zeros(n_types, int), np.arange(n_types), b)
        room = _bundle_room(local, reduced, 1)[0]
        # min rc_z z + rc_u u  s.t.  a z - b u <= 0, 0 <= z <= 1, 0 <= u <= 1e4
        res = linprog(np.concatenate([rc_u, [rc_z]]), A_ub=[np.concatenate([-b, [a]])], b_ub=[0.0],
                      bounds=[(0, 1e4)] * n_types + [(0, 1)], method="highs")
        prices_in = res.fun < -1e-9
        assert prices_in == (rc_z + room < -1e-9)
        if prices_in:
            assert res.fun == pytest.approx(rc_z + room, abs=1e-9)
