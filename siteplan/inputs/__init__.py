"""Inputs: the scenario file and the GIS layers it names, read, mapped, validated, repaired and reprojected.

Nothing here knows about rules or solvers; everything above reads through it.
"""

from __future__ import annotations

from .layers import Layers, check_layers, read_layer, read_layers
from .scenario import Scenario, load_scenario, parse_scenario

__all__ = ["Layers", "Scenario", "check_layers", "load_scenario", "parse_scenario", "read_layer", "read_layers"]
