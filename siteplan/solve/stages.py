"""What each stage of a solve did: one :class:`StageRecord` per stage run, and the one status derived from them all.

The search (:mod:`siteplan.solve.search`) records every stage it runs, in
order, and derives the plan's ``status``, ``optimal`` and
``time_limit_hit`` from the records once, with :func:`derive_status`, so no
stage that hit its limit or left its part unproven can be hidden by a
later one that did not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backends import SolveResult

__all__ = ["StageRecord", "STAGE_NAMES", "derive_status", "record_of"]

#: The stages a solve can run: the LP relaxation, the LP dive, the MIP over
#: the parcels those use, the full MIP, the search for the least shortfall,
#: the whole-unit step (rounding with repair or the fixed re-solve), and
#: ``mip``, the one integer programme of a small model (solved whole), and
#: ``lazy_rows``, the LP passes that add the rows of lazy rules (:mod:`siteplan.solve.lazy`), and ``trim``, units
#: taken off a plan to keep the radius cap when no time is left for another round (:mod:`siteplan.solve.trim`).
STAGE_NAMES = ("lp", "dive", "restricted_mip", "full_mip", "least_shortfall", "whole_units", "mip", "lazy_rows", "trim")

#: The status words of the plan as a whole (the solver's own wording where it has one).
OPTIMAL = "Optimal"
TIME_LIMIT = "Time limit reached"
GAP_NOT_PROVEN = "Gap not proven"


@dataclass(frozen=True)
class StageRecord:
    """One stage of a solve.

    Attributes
    ----------
    name
        One of :data:`STAGE_NAMES`.
    status
        The solver's own words for how the stage ended (``"Optimal"``,
        ``"Time limit reached"``, ``"Rounded with repair"``, ...).
    seconds
        Wall time of the stage.
    time_limit_hit
        The stage stopped because its time ran out, before it finished.
    proven
        The stage proved its part within its gap, or its part needs no
        proof (an LP solved to optimality; a dive, whose plan the next stage
        checks). Never True for a stage that hit its time limit.
    gap
        The stage's own relative gap when the solver gives one, else None.
    """

    name: str
    status: str
    seconds: float
    time_limit_hit: bool
    proven: bool
    gap: float | None

    def __post_init__(self) -> None:
        if self.name not in STAGE_NAMES:
            raise ValueError(f"unknown solve stage {self.name!r}; use one of {STAGE_NAMES}")

    def as_dict(self) -> dict:
        """The record as JSON-safe values (a gap that is not a finite number is None)."""
        gap = self.gap if self.gap is not None and math.isfinite(self.gap) else None
        seconds = self.seconds if math.isfinite(self.seconds) else None
        return {"name": self.name, "status": self.status, "seconds": seconds, "time_limit_hit": bool(self.time_limit_hit),
                "proven": bool(self.proven), "gap": gap}


def record_of(name: str, res: SolveResult, *, proven: bool | None = None, seconds: float | None = None) -> StageRecord:
    """The record of a stage from its solver result.

    ``proven`` defaults to the solver's own ``optimal``; either way a stage
    that hit its time limit is not proven.
    """
    gap = float(res.gap) if res.gap is not None and math.isfinite(res.gap) else None
    ok = res.optimal if proven is None else proven
    return StageRecord(name=name, status=res.status, seconds=float(res.runtime_s if seconds is None else seconds),
                       time_limit_hit=bool(res.time_limit_hit), proven=bool(ok and not res.time_limit_hit), gap=gap)


def derive_status(stages: tuple[StageRecord, ...] | list[StageRecord], *, within_gap: bool) -> tuple[str, bool, bool]:
    """The plan's ``(status, optimal, time_limit_hit)``, derived once from every stage.

    ``time_limit_hit`` is True when any stage hit its limit; ``optimal``
    when every stage proved its part and the delivered plan is within the
    gap limit of the best bound (``within_gap``). ``status`` is
    ``"Optimal"`` only then; ``"Time limit reached"`` when a stage hit its
    limit; ``"Gap not proven"`` otherwise (the delivered plan is further
    from the bound than the gap limit, or no bound is known).
    """
    time_limit_hit = any(s.time_limit_hit for s in stages)
    optimal = bool(stages) and all(s.proven for s in stages) and bool(within_gap) and not time_limit_hit
    status = TIME_LIMIT if time_limit_hit else OPTIMAL if optimal else GAP_NOT_PROVEN
    return status, optimal, time_limit_hit
