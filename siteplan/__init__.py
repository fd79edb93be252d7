"""siteplan: place affordable-housing targets onto real land parcels.

One package per stage, the data flowing one way::

    inputs (scenario, layers) -> model (features, problem, rules)
           -> solve (plan in whole units) -> outputs (map, exports, tables, report)

with :mod:`siteplan.pipeline` and the command line (:mod:`siteplan.cli`) on
top. The names a user types are re-exported here.

>>> import siteplan
>>> siteplan.problem            # doctest: +ELLIPSIS
<function problem at ...>
"""

from __future__ import annotations

from .errors import LayerError, ScenarioError, SiteplanError, SolverError, SpecificationError
from .inputs import Layers, Scenario, load_scenario, read_layers
from .model import (
    Budget,
    CompiledModel,
    DistrictShare,
    Inclusionary,
    LockIn,
    LockOut,
    MaxProjects,
    ParkWorkers,
    PlotRatio,
    Problem,
    ProjectSize,
    RadiusCap,
    ServiceAccess,
    TransitAccess,
    UnitSizes,
    YearlyTargets,
    ZoneTargets,
    compute_features,
)
from .model.problem import problem
from .solve import Plan, land_supply  # importing the solve stage registers the solver behind Problem.solve

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
