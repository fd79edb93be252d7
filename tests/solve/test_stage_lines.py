"""Each solve stage logs one INFO line when it starts, and the live display names it as running."""

from __future__ import annotations

import logging

import pytest

from siteplan import PlotRatio, RadiusCap, YearlyTargets, problem
from siteplan.progress import stage_of
from siteplan.solve import search as S
from tests.cities import grid_parcels


@pytest.mark.parametrize("staged", [False, True])
def test_each_stage_logs_its_start(monkeypatch, caplog, staged):
    if staged:
        monkeypatch.setattr(S, "SMALL_MODEL_COLUMNS", 0)
    p = grid_parcels(6, years=(2016,), far=0.5)
    prob = (problem(p, {"public_rental": 50.0}, [2016]).add_targets({("public_rental", 2016): 300})
            .add_rule(PlotRatio()).add_rule(YearlyTargets()).add_rule(RadiusCap(700.0, 150)))
    with caplog.at_level(logging.INFO, logger="siteplan"):
        prob.solve()
    starts = [r for r in caplog.records if str(r.msg).startswith("Stage: ")]
    names = [r.getMessage() for r in starts]
    assert all(r.name.startswith("siteplan.solve") and r.levelno == logging.INFO for r in starts)
    assert "Stage: lazy disc rows, round 1" in names
    if staged:
        assert {"Stage: LP by sifting", "Stage: whole units"} <= set(names)
    else:
        assert "Stage: integer programme (small model)" in names
    shown = [stage_of(r) for r in starts]
    assert all(s is not None and s.kind == "start" and s.label == s.next for s in shown)
    assert "LP dive" in [s.label for s in shown] or not staged or "Stage: dive" not in names
