"""The densest disc anywhere (siteplan.model.focal) against a brute-force scan and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from siteplan.model.focal import densest_disc, overfull_discs


def _brute(xy, w, centres, radius):
    d = np.hypot(centres[:, None, 0] - xy[None, :, 0], centres[:, None, 1] - xy[None, :, 1])
    return (d <= radius)[:, :] @ w


def test_two_points_only_a_disc_between_them_holds_both():
    # 1.9 R apart: no disc centred at a point holds both, one between them does
    xy = np.array([[0.0, 0.0], [1900.0, 0.0]])
    d = densest_disc(xy, np.array([5.0, 7.0]), 1000.0)
    assert d.units == 12
    assert np.hypot(d.x - 0, d.y) <= 1000.001 and np.hypot(d.x - 1900, d.y) <= 1000.001
    # just over 2 R apart: no disc holds both
    assert densest_disc(np.array([[0.0, 0.0], [2000.5, 0.0]]), np.array([5.0, 7.0]), 1000.0).units == 7


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_focal_sum_matches_a_brute_force_grid_scan(seed):
    rng = np.random.default_rng(seed)
    n, side, radius, step = 40, 3000.0, 500.0, 10.0
    xy = rng.uniform(0, side, size=(n, 2))
    w = rng.integers(1, 100, size=n).astype(float)
    d = densest_disc(xy, w, radius)
    g = np.arange(-radius, side + radius + step, step)
    grid = np.column_stack([a.ravel() for a in np.meshgrid(g, g)])
    on_grid = _brute(xy, w, grid, radius).max()
    # every grid disc is a disc: none beats the exact maximum ...
    assert on_grid <= d.units + 1e-9
    # ... and a grid disc a little wider covers the densest disc (its centre within step/sqrt 2 of a node)
    assert _brute(xy, w, grid, radius + step / np.sqrt(2)).max() >= d.units - 1e-9
    # the disc reported holds what it says
    assert _brute(xy, w, np.array([[d.x, d.y]]), radius + 1e-3)[0] == pytest.approx(d.units)


def test_overfull_discs_are_exactly_those_over_the_cap():
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 2000, size=(30, 2))
    w = rng.integers(1, 50, size=30).astype(float)
    best = densest_disc(xy, w, 400.0).units
    centres, sums = overfull_discs(xy, w, 400.0, best - 1)
    assert len(sums) and sums[0] == pytest.approx(best) and (sums > best - 1).all()
    assert (np.abs(_brute(xy, w, centres, 400.0 + 1e-3) - sums) < 1e-9).all()
    assert len(overfull_discs(xy, w, 400.0, best)[1]) == 0
