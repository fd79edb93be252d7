"""Tests for siteplan.solve.dive: the LP dive from the sifted LP and the rows it counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from siteplan import PlotRatio, YearlyTargets, problem
from tests.cities import grid_parcels

PR = {"public_rental": 50.0}
#: Two types with unit areas that leave the plot ratio fractional capacities.
AREAS = {"public_rental": 47.0, "talent_apartment": 61.0}


def test_lp_dive_gives_whole_parcel_years_that_keep_the_binary_rows_and_leaves_the_lp_as_it_was():
    import siteplan.solve.dive as D
    import siteplan.solve.sift as SI
    from siteplan import MaxProjects, ProjectSize

    years = (2016, 2017)
    rng = np.random.default_rng(7)
    n = 16
    p = grid_parcels(n, years=years, district=["A"] * 8 + ["B"] * 8,
                     score_2016=rng.uniform(0.2, 1.0, n), score_2017=rng.uniform(0.2, 1.0, n))
    prob = (problem(p, PR, years).add_targets({("public_rental", 2016): 1000, ("public_rental", 2017): 1100})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=100, max_units=300))
            .add_rule(MaxProjects(per_district_year=2)))
    model = prob.compile()
    ctx = model.ctx
    left = lambda: 60.0  # noqa: E731
    sifted = SI._sifted_lp(model, left=left, opts={"solver": "highs"})
    assert sifted is not None and sifted.proven
    dive = D._lp_dive(model, sifted, left=left)
    assert dive is not None
    z = model.slice_z(dive.x)
    assert np.allclose(z, np.round(z), atol=1e-6)
    # recomputed from the parcels: one year per parcel, at most 2 projects per district and year
    used = np.round(z) == 1
    assert np.bincount(ctx.z_parcel[used], minlength=n).max() <= 1
    district = ctx.parcels["district"].to_numpy()[ctx.z_parcel[used]]
    year = np.asarray(years)[ctx.z_year[used]]
    counts = pd.Series(1, index=pd.MultiIndex.from_arrays([district, year])).groupby(level=[0, 1]).sum()
    assert counts.max() <= 2
    # units only on the used parcel-years, each project within 100-300
    units = np.bincount(ctx.u_z, weights=model.slice_u(dive.x), minlength=ctx.n_z)
    assert np.all(units[~used] < 1e-6) and np.all((units[used] > 100 - 1e-6) & (units[used] < 300 + 1e-6))
    # a plan is never better than the LP bound; the LP itself is left as it was
    assert dive.objective >= sifted.res.objective - 1e-6
    sifted.highs.run()
    assert sifted.highs.getInfo().objective_function_value == pytest.approx(sifted.res.objective, rel=1e-9)


def test_dive_counts_the_project_minimum_in_the_radius_cap_circles():
    from siteplan import ProjectSize, RadiusCap
    from siteplan.solve.dive import _dive_rows

    # parcels 300 m apart; a circle of 400 m holds a parcel and its next
    # neighbours. Projects hold at least 300 units, circles at most 500, so
    # two neighbours can never both be used; parcels 600 m apart can.
    p = grid_parcels(3, years=(2016,))
    prob = (problem(p, PR, [2016]).add_targets({("public_rental", 2016): 600}).add_rule(PlotRatio())
            .add_rule(YearlyTargets()).add_rule(ProjectSize(min_units=300, max_units=400))
            .add_rule(RadiusCap(radius_m=400.0, max_units=500, centres="projects")))
    model = prob.compile()
    W, room = _dive_rows(model)[:2]
    ctx = model.ctx
    z_of = {ctx.parcels["parcel_id"].iloc[ctx.z_parcel[j]]: j for j in range(ctx.n_z)}

    def fits(*ids):
        act = np.asarray(W[:, [z_of[i] for i in ids]].sum(axis=1)).ravel()
        return bool(np.all(act <= room + 1e-9))

    assert fits("P0") and fits("P1") and fits("P0", "P2")
    assert not fits("P0", "P1") and not fits("P1", "P2")


def _crowded_problem(seed: int, radius_m: float):
    """25 parcels 300 m apart, two types over three years with random targets,
    projects of 100-450 units and at most 900 units within ``radius_m``: a
    dive on it takes three or four LP rounds."""
    from siteplan import ProjectSize, RadiusCap

    years = (2016, 2017, 2018)
    rng = np.random.default_rng(seed)
    p = grid_parcels(25, years=years, **{f"score_{y}": rng.uniform(0.2, 1.0, 25) for y in years})
    targets = {(t, y): int(rng.integers(300, 900)) for t in AREAS for y in years}
    prob = (problem(p, AREAS, years).add_targets(targets).add_rule(PlotRatio()).add_rule(YearlyTargets())
            .add_rule(ProjectSize(min_units=100, max_units=450)).add_rule(RadiusCap(radius_m=radius_m, max_units=900, centres="projects")))
    return p, prob.compile(), targets


def _dive_counting_rounds(monkeypatch, model):
    """The LP dive on ``model`` and how many LPs it solved (``_run_for`` is
    patched in :mod:`siteplan.solve.dive`, where the dive reads it)."""
    import siteplan.solve.dive as D
    import siteplan.solve.sift as SI

    left = lambda: 60.0  # noqa: E731
    sifted = SI._sifted_lp(model, left=left, opts={"solver": "highs"})
    runs = []
    real = D._run_for
    monkeypatch.setattr(D, "_run_for", lambda h, seconds: (runs.append(seconds), real(h, seconds))[1])
    dive = D._lp_dive(model, sifted, left=left)
    return dive, len(runs)


def _assert_crowded_rules(p, model, x, radius_m: float, targets: dict | None):
    """One supply year per parcel, projects of 100-450 units, the plot ratio and
    the radius cap recomputed from the parcels; the targets too when given."""
    ctx = model.ctx
    z = model.slice_z(x)
    assert np.allclose(z, np.round(z), atol=1e-6)
    ids = ctx.parcels["parcel_id"].to_numpy()
    units = pd.DataFrame({"parcel_id": ids[ctx.u_parcel], "year": np.asarray(ctx.years)[ctx.u_year],
                          "type": np.asarray(ctx.types)[ctx.u_type], "units": model.slice_u(x)})
    units["floor_m2"] = units["units"] * units["type"].map(AREAS)
    projects = units.groupby(["parcel_id", "year"])[["units", "floor_m2"]].sum()
    used = projects[projects["units"] > 1e-6].reset_index()
    assert used["parcel_id"].is_unique
    assert used["units"].between(100 - 1e-6, 450 + 1e-6).all()
    area = p.set_index("parcel_id")["area_m2"]
    assert (used["floor_m2"] <= area[used["parcel_id"]].to_numpy() * 2.0 + 1e-6).all()
    per_parcel = used.set_index("parcel_id")["units"].reindex(p["parcel_id"]).fillna(0.0).to_numpy()
    c = p.geometry.centroid
    for i in np.nonzero(per_parcel > 0)[0]:
        assert per_parcel[(c.distance(c.iloc[i]) <= radius_m).to_numpy()].sum() <= 900 + 1e-6
    if targets is not None:
        totals = units.groupby(["type", "year"])["units"].sum()
        assert {k: round(v, 6) for k, v in totals.items()} == {k: float(v) for k, v in targets.items()}


def test_dive_ends_with_a_last_round_that_closes_what_the_lp_barely_uses(monkeypatch):
    """After DIVE_MAX_ROUNDS the dive fixes the parcel-years at z >= 0.5 and
    closes the rest: here the plan comes in 2 LPs instead of 4, meets every
    target and keeps every rule."""
    import siteplan.solve.dive as D

    p, model, targets = _crowded_problem(8, 1000.0)
    monkeypatch.setattr(D, "DIVE_MAX_ROUNDS", 10**6)
    slow, slow_lps = _dive_counting_rounds(monkeypatch, model)
    monkeypatch.setattr(D, "DIVE_MAX_ROUNDS", 1)
    fast, fast_lps = _dive_counting_rounds(monkeypatch, model)
    assert (slow_lps, fast_lps) == (4, 2)
    assert model.slice_s(fast.x).sum() == pytest.approx(0.0, abs=1e-6)
    _assert_crowded_rules(p, model, fast.x, 1000.0, targets)


def test_a_last_round_that_costs_a_target_is_undone(monkeypatch):
    """Closing the rest would leave this plan 144 units short (as a dive out of
    time does, below): the dive reopens them and goes on to a plan that meets
    every target."""
    import siteplan.solve.dive as D

    p, model, targets = _crowded_problem(4, 1000.0)
    monkeypatch.setattr(D, "DIVE_MAX_ROUNDS", 1)
    dive, lps = _dive_counting_rounds(monkeypatch, model)
    assert lps > 2
    assert model.slice_s(dive.x).sum() == pytest.approx(0.0, abs=1e-6)
    _assert_crowded_rules(p, model, dive.x, 1000.0, targets)


@pytest.mark.parametrize("seed, radius_m", [(4, 1000.0), (7, 700.0)])
def test_a_dive_short_of_time_still_ends_with_a_plan(monkeypatch, seed, radius_m):
    """When the time left is less than the next round would take, that round is
    the last, whatever it costs: a plan (here short of a target, never
    breaking a hard rule) rather than none for the MIP to start from."""
    import siteplan.solve.dive as D

    p, model, _ = _crowded_problem(seed, radius_m)
    monkeypatch.setattr(D, "DIVE_FINISH_ROUNDS", 1e12)  # every round after the first is "late"
    dive, lps = _dive_counting_rounds(monkeypatch, model)
    assert dive is not None and lps == 2
    assert model.slice_s(dive.x).sum() > 100
    _assert_crowded_rules(p, model, dive.x, radius_m, None)
    act = model.A @ dive.x
    assert np.all(act >= model.row_lower - 1e-6) and np.all(act <= model.row_upper + 1e-6)
