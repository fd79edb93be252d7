"""Shared test fixtures, built from the tiny cities of :mod:`tests.cities`."""

from __future__ import annotations

import pytest

from tests.cities import grid_parcels, write_mini_city


@pytest.fixture
def parcels_factory():
    return grid_parcels


@pytest.fixture
def mini_city(tmp_path):
    return write_mini_city(tmp_path / "city")
