from __future__ import annotations

import math

import pytest

from siteplan import PlotRatio, ProjectSize, YearlyTargets, problem
from siteplan.alternatives import alternatives, selection_frequency
from siteplan.errors import SpecificationError
from tests.conftest import grid_parcels

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
