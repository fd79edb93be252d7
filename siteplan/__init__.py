"""siteplan: place affordable-housing targets onto real land parcels.

The stages, each a module with a small public face::

    scenario -> layers -> features -> problem/rules -> solve -> result -> render/export

>>> import siteplan
>>> siteplan.problem            # doctest: +ELLIPSIS
<function problem at ...>
"""

from __future__ import annotations

from .errors import LayerError, ScenarioError, SiteplanError, SolverError, SpecificationError
from .features import compute_features
from .layers import Layers, read_layers
from .problem import CompiledModel, Problem, problem
from .result import Plan, land_supply
from .access import ParkWorkers, ServiceAccess, TransitAccess
from .dispersion import DistrictShare, MaxProjects, ProjectSize, RadiusCap
from .rules import Budget, Inclusionary, LockIn, LockOut, PlotRatio, UnitSizes, YearlyTargets, ZoneTargets
from .scenario import Scenario, load_scenario

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "DistrictShare",
    "Inclusionary",
    "LockIn",
    "LockOut",
    "MaxProjects",
    "ParkWorkers",
    "RadiusCap",
    "ServiceAccess",
    "UnitSizes",
    "CompiledModel",
    "LayerError",
    "Layers",
    "Plan",
    "PlotRatio",
    "Problem",
    "ProjectSize",
    "Scenario",
    "ScenarioError",
    "SiteplanError",
    "SolverError",
    "SpecificationError",
    "TransitAccess",
    "YearlyTargets",
    "ZoneTargets",
    "compute_features",
    "land_supply",
    "load_scenario",
    "problem",
    "read_layers",
]
