"""The sifting LP's choice of serial or parallel dual simplex (siteplan.solve.backends.ParallelSimplex)."""

from __future__ import annotations

import numpy as np
import pytest

from siteplan.solve import backends as B


class _Options:
    def __init__(self):
        self.set: list[tuple[str, object]] = []

    def setOptionValue(self, name, value):  # noqa: N802 - HiGHS's name
        self.set.append((name, value))


def _meter(monkeypatch, readings, threads=None, cores=2):
    monkeypatch.setattr(B, "_usable_cores", lambda: cores)
    it = iter(readings)
    monkeypatch.setattr(B.ParallelSimplex, "_read", staticmethod(lambda: next(it)))
    return B.ParallelSimplex(threads)


def test_parallel_only_while_other_processes_leave_a_core_idle(monkeypatch):
    # (machine busy seconds, this process's CPU seconds, wall clock)
    readings = [(0.0, 0.0, 0.0),
                (1.0, 1.0, 1.0),   # only this solve ran: one core spare -> parallel
                (3.0, 2.9, 2.0),   # parallel, this process used 1.9 cores: others none -> stays
                (5.0, 3.9, 3.0),   # the machine was full, this process got 1 core: others 1 -> serial
                (6.6, 4.9, 4.0)]   # others 0.6 of a core: 0.4 spare, less than SPARE_CORE -> stays serial
    meter, h = _meter(monkeypatch, readings), _Options()
    seen = []
    for _ in range(4):
        meter.choose(h)
        seen.append(meter.parallel)
    assert seen == [True, True, False, False]
    assert h.set == [("simplex_strategy", 2), ("simplex_strategy", 1)]


def test_serial_with_one_thread_or_without_a_reading(monkeypatch):
    h = _Options()
    one = _meter(monkeypatch, [(0.0, 0.0, 0.0), (1.0, 1.0, 1.0)], threads=1)  # a batch worker's share
    one.choose(h)
    unknown = _meter(monkeypatch, [None, None])  # not Linux
    unknown.choose(h)
    soon = _meter(monkeypatch, [(0.0, 0.0, 0.0), (0.01, 0.01, 0.01)])  # too short to tell
    soon.choose(h)
    assert h.set == [] and not (one.parallel or unknown.parallel or soon.parallel)


def test_the_reading_is_the_machines_busy_time_and_this_process_cpu_time():
    first = B.ParallelSimplex._read()
    if first is None:
        pytest.skip("no /proc/stat here")
    t = first[1]
    while B.time.process_time() - t < 0.2:  # keep one core busy
        np.linalg.svd(np.ones((60, 60)))
    second = B.ParallelSimplex._read()
    busy, own, wall = (b - a for a, b in zip(first, second))
    assert own >= 0.2 and wall >= own * 0.5
    assert busy >= 0.5 * own  # this process's time is part of the machine's busy time


@pytest.mark.parametrize("parallel", [False, True])
def test_the_sifting_lp_and_the_dive_reach_the_same_plan_either_way(monkeypatch, parallel):
    from siteplan.solve import lazy
    from siteplan.solve.dive import _dive_rows, _lp_dive
    from siteplan.solve.sift import _sifted_lp
    from tests.solve.test_separation import N, _densest_on_line, _line_city, _problem, _units

    p = _line_city(80, seed=1)
    model = _problem(p, minimum=60).compile()

    def run():
        pool = lazy.CutPool(model, lazy.lazy_rules(model))
        sifted = _sifted_lp(model, left=lambda: 60.0, opts={}, pool=pool)
        return sifted, _lp_dive(model, sifted, left=lambda: 60.0, rows=_dive_rows(model), pool=pool)

    monkeypatch.setattr(B, "_usable_cores", lambda: 2)
    monkeypatch.setattr(B.ParallelSimplex, "spare", lambda self: -1.0)
    serial = run()
    monkeypatch.setattr(B.ParallelSimplex, "spare", lambda self: 1.0 if parallel else -1.0)
    sifted, dive = run()
    assert sifted.highs.getOptions().simplex_strategy == (2 if parallel else 1)  # 1: HiGHS's default, serial dual
    assert sifted.simplex.parallel is parallel
    assert sifted.res.objective == pytest.approx(serial[0].res.objective, rel=1e-9)
    assert dive.objective == pytest.approx(serial[1].objective, rel=1e-6)
    assert _densest_on_line(p, _units(model, dive.x)) <= N + lazy.LP_EPS
    assert model.slice_s(dive.x).sum() < 1e-6
