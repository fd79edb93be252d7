"""The model: parcel features, the problem and its planning rules, one small class per rule.

A :class:`~siteplan.model.problem.Problem` compiles to matrices without
solving; the solve stage above turns the compiled model into a plan.
"""

from __future__ import annotations

from .access import ParkWorkers, ServiceAccess, TransitAccess
from .build import build_problem
from .dispersion import DistrictShare, MaxProjects, ProjectSize, RadiusCap
from .features import compute_features
from .builder import CompiledModel
from .problem import Problem
from .rules import Budget, Inclusionary, LockIn, LockOut, PlotRatio, UnitSizes, YearlyTargets, ZoneTargets

__all__ = [
    "Budget", "CompiledModel", "DistrictShare", "Inclusionary", "LockIn", "LockOut", "MaxProjects", "ParkWorkers",
    "PlotRatio", "Problem", "ProjectSize", "RadiusCap", "ServiceAccess", "TransitAccess", "UnitSizes", "YearlyTargets",
    "ZoneTargets", "build_problem", "compute_features",
]

# ``problem()`` is re-exported by ``siteplan`` itself: here the name stays the module's.
