from __future__ import annotations

import math

import pytest

from siteplan import PlotRatio, ProjectSize, YearlyTargets, problem
from siteplan.solve.alternatives import alternatives, selection_frequency
from siteplan.errors import SpecificationError
from tests.cities import grid_parcels

PR = {"public_rental": 50.0}


def six_parcels():
    p = grid_parcels(6, score_2016=[1.0, 0.99, 0.98, 0.97, 0.96, 0.95], years=(2016,))
    return (
        problem(p, PR, [2016]).add_targets({("public_rental", 2016): 800})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(100, 400))
    )


def test_alternatives_differ_and_stay_near_the_best():
    plans = alternatives(six_parcels(), 3, within=0.05, differ=0.5, gap=0.0)
    assert len(plans) == 3
    best = plans[0].report.objective
    sets = [set(p.units["parcel_id"]) for p in plans]
    for j, later in enumerate(plans[1:], start=1):
        assert later.report.objective >= best * (1 - 0.05) - 1e-6
        for i in range(j):
            assert len(sets[j] & sets[i]) <= math.floor(0.5 * len(sets[i]))
    for p in plans:
        assert p.units["units"].sum() == 800 and p.total_shortfall == 0


def test_selection_frequency_counts_plans():
    plans = alternatives(six_parcels(), 2, within=0.05, differ=0.5, gap=0.0)
    freq = selection_frequency(plans).set_index("parcel_id")
    for pid, row in freq.iterrows():
        in_plans = [n for n, p in enumerate(plans, start=1) if pid in set(p.units["parcel_id"])]
        assert row["selected_in"] == len(in_plans) and row["plans"] == ",".join(map(str, in_plans))
    assert freq["frequency"].max() <= 1.0


def test_stops_when_no_further_plan_qualifies():
    p = grid_parcels(2, years=(2016,))
    prob = problem(p, PR, [2016]).add_targets({("public_rental", 2016): 800}).add_rule(PlotRatio()).add_rule(YearlyTargets())
    plans = alternatives(prob, 3, within=0.01, differ=0.5)
    assert len(plans) == 1  # both parcels are needed: no different plan exists


def test_bad_arguments():
    with pytest.raises(SpecificationError):
        alternatives(six_parcels(), 0)


def test_every_pair_differs_over_movable_parcels_recomputed_from_allocations():
    # P0 is a commercial project (its share is forced), P1 is locked in; they
    # are in every plan and do not count. P2-P9 are new projects that can move.
    from siteplan import Inclusionary, LockIn
    from siteplan.solve.alternatives import difference_table

    n = 10
    p = grid_parcels(n, years=(2016,), role=["inclusionary"] + ["new"] * (n - 1), score_2016=[1.0 - 0.01 * i for i in range(n)])
    prob = (
        problem(p, PR, [2016]).add_targets({("public_rental", 2016): 1000})
        .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(ProjectSize(100, 400))
        .add_rule(Inclusionary(ratio=0.05)).add_rule(LockIn(parcel_ids=("P1",)))
    )
    differ = 0.5
    plans = alternatives(prob, 3, within=0.1, differ=differ, gap=0.0)
    assert len(plans) == 3
    tables = [plan.allocation() for plan in plans]
    for t in tables:
        assert {"P0", "P1"} <= set(t["parcel_id"])  # fixed by rule in every plan
    movable = [set(t.loc[(t["role"] == "new") & (t["parcel_id"] != "P1"), "parcel_id"]) for t in tables]
    diff = difference_table(plans, differ=differ).set_index(["plan_a", "plan_b"])
    assert len(diff) == 3
    for a in range(3):
        for b in range(a + 1, 3):
            only_a, only_b = movable[a] - movable[b], movable[b] - movable[a]
            assert len(only_a) >= differ * len(movable[a]) and len(only_b) >= differ * len(movable[b]), (a, b, movable)
            row = diff.loc[(a + 1, b + 1)]
            assert row["parcels_differ_a"] == pytest.approx(len(only_a) / len(movable[a]))
            assert row["parcels_differ_b"] == pytest.approx(len(only_b) / len(movable[b]))
            units_a = tables[a].loc[tables[a]["parcel_id"].isin(movable[a])]
            assert row["units_differ_a"] == pytest.approx(units_a.loc[units_a["parcel_id"].isin(only_a), "units"].sum() / units_a["units"].sum())
            assert row["met"]
    # Over all parcels (P0 and P1 included) the plans would look more alike.
    everything = [set(t["parcel_id"]) for t in tables]
    assert len(everything[0] & everything[1]) > len(movable[0] & movable[1])


def test_run_writes_the_pairwise_difference(tmp_path):
    import pandas as pd

    from siteplan.pipeline import run
    from tests.cities import write_mini_city

    out = tmp_path / "out"
    result = run(write_mini_city(tmp_path / "city"), out_dir=out, alternatives=3)
    k = len(result.alternatives)
    assert k >= 2
    alloc = pd.read_csv(out / "alternatives.csv", encoding="utf-8-sig")
    assert alloc["movable"].all()  # the mini city has only new projects, none locked in
    diff = pd.read_csv(out / "alternatives_difference.csv", encoding="utf-8-sig")
    assert len(diff) == k * (k - 1) // 2
    differ = result.scenario.alternatives.differ
    used = {n: set(g["parcel_id"]) for n, g in alloc.groupby("plan")}
    for row in diff.itertuples():
        a, b = used[row.plan_a], used[row.plan_b]
        assert row.parcels_differ_a == pytest.approx(len(a - b) / len(a), abs=1e-4) and len(a - b) >= differ * len(a) - 1e-9
        assert row.parcels_differ_b == pytest.approx(len(b - a) / len(b), abs=1e-4) and len(b - a) >= differ * len(b) - 1e-9
        assert row.met
