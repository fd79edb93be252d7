"""The solve: a compiled model to a plan in whole units (HiGHS, or CBC through pulp), and alternatives.

Importing this package registers :func:`~siteplan.solve.search.solve_problem`
as the solver behind :meth:`siteplan.model.problem.Problem.solve`, so the
model never imports the stage above it.
"""

from __future__ import annotations

from ..model.problem import register_solver
from .plan import Plan, SolverReport, land_supply
from .backends import SolveResult, solve_model, to_pulp
from .search import solve_compiled, solve_problem

register_solver(solve_problem)

__all__ = ["Plan", "SolveResult", "SolverReport", "land_supply", "solve_compiled", "solve_model", "solve_problem", "to_pulp"]
