"""A plan's one status (optimal, feasible or shortfall), derived once from every solve stage and the delivered whole units.

Every output that states how a plan went (``run.json``, the console
summary, ``compliance.csv``, ``report.html``, ``sweep.csv`` and
``batch.csv``) reads the :class:`PlanStatus` of :attr:`Plan.status
<siteplan.solve.plan.Plan.status>`, so they can never disagree.

The status is recomputed from the delivered plan in whole units, never
taken from a solver's word or from the relaxation's shortfall columns:

``optimal``
    every yearly type target met (an exact target exactly), every other
    rule kept, and every solve stage proved its part within the gap limit;
``feasible``
    every target and rule met, but not proven within the gap (a stage hit
    its time limit, or the gap is above its limit);
``shortfall``
    a target missed (or an exact target exceeded) or a share, zone or
    district rule broken; the plan is the best found, and ``proven`` says
    whether it is proven the best possible within the gap.

Shortfall is counted per rule row as the whole units the delivered plan
lacks (or has too many) against the row's bound, rounded up: a row that
needs 1.4 more near units misses 2. Figures of different rules are never
added together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..model.rules import target_table as rules_target_table
from .backends import GAP_TOL

if TYPE_CHECKING:
    from ..model.builder import CompiledModel
    from .plan import Plan, SolverReport

__all__ = ["PlanStatus", "plan_status", "broken_rows", "STATUS_CODES", "OPTIMAL", "FEASIBLE", "SHORTFALL"]

OPTIMAL, FEASIBLE, SHORTFALL = "optimal", "feasible", "shortfall"
#: The status codes, best first.
STATUS_CODES = (OPTIMAL, FEASIBLE, SHORTFALL)

#: Tolerance on a row's bound, relative to the bound (floating sums of whole units).
_TOL = 1e-6


def delivered_x(model: CompiledModel, x: np.ndarray) -> np.ndarray:
    """The solution vector with units and parcel-year choices made whole, as the plan reads them."""
    out = np.asarray(x, dtype=float).copy()
    ctx = model.ctx
    out[: ctx.n_u] = np.round(out[: ctx.n_u])
    out[ctx.n_u: ctx.n_u + ctx.n_z] = np.round(out[ctx.n_u: ctx.n_u + ctx.n_z])
    return out


def broken_rows(model: CompiledModel, x: np.ndarray) -> pd.DataFrame:
    """Every elastic rule row the delivered plan breaks, in whole units.

    Computed from the plan's own units (the model's core columns), not the
    shortfall columns. Columns: ``row`` (model row), ``sign`` (+1 short of
    the lower bound, -1 above the upper), ``side`` (``"short"`` or
    ``"excess"``), ``deficit`` (in the row's units, unrounded) and
    ``units`` (``deficit`` rounded up to whole units).
    """
    n_core = model.n_core
    xd = delivered_x(model, x)
    activity = model.A[:, :n_core] @ xd[:n_core]
    rows = np.asarray(model.slack_rows, dtype=int)
    sign = np.asarray(model.slack_sign, dtype=float)
    lower, upper = model.row_lower[rows], model.row_upper[rows]
    deficit = np.where(sign > 0, lower - activity[rows], activity[rows] - upper)
    deficit = np.where(np.isfinite(deficit), deficit, 0.0)
    bound = np.where(sign > 0, lower, upper)
    tol = _TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(bound), bound, 0.0)))
    hit = deficit > tol
    units = np.ceil(deficit[hit] - tol[hit]).astype("int64")
    return pd.DataFrame({
        "row": rows[hit],
        "sign": sign[hit],
        "side": np.where(sign[hit] > 0, "short", "excess"),
        "deficit": deficit[hit],
        "units": np.maximum(units, 1),
    })


def _stages(report: SolverReport) -> tuple:
    return tuple(getattr(report, "stages", ()) or ())


def _limit_in(text: str) -> bool:
    return "time limit" in str(text).lower()


@dataclass(frozen=True)
class PlanStatus:
    """How a plan went, in one object (see the module docstring).

    Attributes
    ----------
    code
        ``"optimal"``, ``"feasible"`` or ``"shortfall"``.
    optimal
        Every stage proven within the gap and every target and rule met.
    proven
        Every stage proved its part and the delivered plan is within the
        gap limit of the bound (for a shortfall plan: the bound of the
        objective with each unit of shortfall penalised).
    time_limit_hit
        Any stage stopped on its time limit.
    gap, gap_limit, within_gap
        The delivered plan's relative gap, its limit, and whether it is within.
    targets_met
        Every yearly type target met by the delivered whole units (an exact
        target exactly: placing more is not meeting it).
    units_missing, units_excess
        Units below the yearly type targets, and above the exact ones.
    target_units, placed_units
        The targets' total and the delivered plan's.
    rules_short
        ``(rule, side, units)`` per broken rule and side (``"short"`` or
        ``"excess"``), the whole units its rows miss, summed within a rule
        only. The yearly targets appear as ``units_missing`` and ``units_excess``.
    stages_limited, stages_unproven
        Names of the solve stages that hit their time limit, or did not
        prove their part.
    """

    code: str
    optimal: bool
    proven: bool
    time_limit_hit: bool
    gap: float
    gap_limit: float
    within_gap: bool
    targets_met: bool
    units_missing: int
    units_excess: int
    target_units: int
    placed_units: int
    rules_short: tuple[tuple[str, str, int], ...] = ()
    stages_limited: tuple[str, ...] = ()
    stages_unproven: tuple[str, ...] = ()

    @property
    def rules_kept(self) -> bool:
        """No rule broken (other than the yearly targets, see ``targets_met``)."""
        return not self.rules_short

    def label(self, lang: str = "en") -> str:
        """The status in one or two words: Optimal, Feasible (not proven), Shortfall."""
        zh = {OPTIMAL: "最优", FEASIBLE: "可行（未证明最优）", SHORTFALL: "未达标"}
        en = {OPTIMAL: "Optimal", FEASIBLE: "Feasible (not proven optimal)", SHORTFALL: "Shortfall"}
        return (zh if lang == "zh" else en)[self.code]

    def shortfall_parts(self, lang: str = "en") -> list[str]:
        """What the plan misses, one phrase per rule and side, never summed across rules."""
        zh = lang == "zh"
        parts = []
        if self.units_missing or self.units_excess:
            bits = []
            if self.units_missing:
                bits.append(f"缺 {self.units_missing:,} 套" if zh else f"{self.units_missing:,} units missing")
            if self.units_excess:
                bits.append(f"超出 {self.units_excess:,} 套" if zh else f"{self.units_excess:,} units over exact targets")
            parts.append(("年度目标" if zh else "yearly targets: ") + ("、" if zh else ", ").join(bits))
        for rule, side, units in self.rules_short:
            if zh:
                parts.append(f"{rule} {'缺' if side == 'short' else '超出'} {units:,} 套")
            else:
                parts.append(f"{rule}: {units:,} units {'short' if side == 'short' else 'over'}")
        return parts

    def _why_unproven(self, zh: bool) -> str:
        bits = []
        if self.time_limit_hit:
            where = f"（{', '.join(self.stages_limited)}）" if zh and self.stages_limited else (
                f" ({', '.join(self.stages_limited)})" if self.stages_limited else "")
            bits.append(f"达到时间限制{where}" if zh else f"time limit hit{where}")
        if np.isfinite(self.gap) and not self.within_gap:
            bits.append(f"间隙 {self.gap:.2%} 超过上限 {self.gap_limit:.2%}" if zh
                        else f"gap {self.gap:.2%} above the {self.gap_limit:.2%} limit")
        elif not np.isfinite(self.gap):
            bits.append("无最优界" if zh else "no bound")
        if not bits and self.stages_unproven:
            bits.append(f"未证明：{', '.join(self.stages_unproven)}" if zh else f"not proven: {', '.join(self.stages_unproven)}")
        return ("；" if zh else "; ").join(bits) or ("未证明" if zh else "not proven")

    def text(self, lang: str = "en") -> str:
        """One line saying the status, with its reason, in ``"zh"`` or ``"en"``."""
        zh = lang == "zh"
        if self.code == OPTIMAL:
            return (f"最优：全部目标与规则均已满足，已证明在 {self.gap_limit:.2%} 间隙内（间隙 {self.gap:.2%}）" if zh
                    else f"Optimal: every target and rule met, proven within the {self.gap_limit:.2%} gap (gap {self.gap:.2%})")
        if self.code == FEASIBLE:
            return (f"可行，未证明最优：全部目标与规则均已满足；{self._why_unproven(True)}" if zh
                    else f"Feasible, not proven optimal: every target and rule met; {self._why_unproven(False)}")
        parts = ("；" if zh else "; ").join(self.shortfall_parts(lang))
        if self.proven:
            proof = (f"已证明为 {self.gap_limit:.2%} 间隙内的最佳方案（缺口按罚分计）" if zh
                     else f"the best plan, shortfall penalised, proven within the {self.gap_limit:.2%} gap")
        else:
            proof = f"未证明缺口最小（{self._why_unproven(True)}）" if zh else f"not proven the least shortfall ({self._why_unproven(False)})"
        return f"未达标：{parts}；{proof}" if zh else f"Shortfall: {parts}; {proof}"

    def as_dict(self) -> dict:
        """Plain JSON-ready data, with both wordings (non-finite numbers as ``None``)."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("rules_short", "stages_limited", "stages_unproven")}
        for k, v in out.items():
            if isinstance(v, float) and not math.isfinite(v):
                out[k] = None
        out["rules_short"] = [{"rule": r, "side": s, "units": int(u)} for r, s, u in self.rules_short]
        out["stages_limited"] = list(self.stages_limited)
        out["stages_unproven"] = list(self.stages_unproven)
        out["text_zh"] = self.text("zh")
        out["text_en"] = self.text("en")
        return out


def target_table(plan: Plan) -> pd.DataFrame:
    """Per type and year of the delivered plan: target, placed, missing, excess, met
    (:func:`siteplan.model.rules.target_table`; at-least targets when the problem has no
    ``yearly_targets`` rule)."""
    rule = plan.problem.rule("yearly_targets")
    model = plan.model
    u = model.slice_u(delivered_x(model, plan.x))
    return rules_target_table(model.ctx, u, exact=getattr(rule, "mode", "at_least") == "exact")


def plan_status(plan: Plan) -> PlanStatus:
    """Derive a plan's status from its report (every stage) and its delivered whole units."""
    rep = plan.report
    stages = _stages(rep)
    limited = tuple(str(getattr(s, "name", "?")) for s in stages if getattr(s, "time_limit_hit", False))
    unproven = tuple(str(getattr(s, "name", "?")) for s in stages if not getattr(s, "proven", True))
    time_limit_hit = bool(rep.time_limit_hit or limited or _limit_in(rep.rounding_status) or _limit_in(rep.status))
    gap, gap_limit = float(rep.gap), float(rep.gap_limit)
    within_gap = bool(np.isfinite(gap) and gap <= gap_limit + GAP_TOL)
    if stages:
        proven = not unproven
    else:  # a report without stage records: the search's word
        proven = bool(rep.optimal)
    proven = bool(proven and within_gap and not time_limit_hit)

    targets = target_table(plan)
    missing, excess = int(targets["missing"].sum()), int(targets["excess"].sum())
    broken = broken_rows(plan.model, plan.x)
    rule_of = plan.model.rows["rule"].to_numpy()
    broken["rule"] = rule_of[broken["row"].to_numpy()] if len(broken) else pd.Series(dtype=object)
    others = broken.loc[broken["rule"] != "yearly_targets"]
    per_rule = others.groupby(["rule", "side"], sort=True)["units"].sum()
    rules_short = tuple((str(r), str(s), int(u)) for (r, s), u in per_rule.items())
    # rules checked on the delivered plan apart from their rows (the radius cap's densest disc)
    focal = getattr(plan, "focal_checks", None) or {}
    rules_short += tuple((str(r), "excess", int(over)) for r, (_, over) in focal.items() if over > 0)

    targets_met = bool(targets["met"].all())
    code = SHORTFALL if (not targets_met or rules_short) else (OPTIMAL if proven else FEASIBLE)
    return PlanStatus(
        code=code,
        optimal=code == OPTIMAL,
        proven=proven,
        time_limit_hit=time_limit_hit,
        gap=gap,
        gap_limit=gap_limit,
        within_gap=within_gap,
        targets_met=targets_met,
        units_missing=missing,
        units_excess=excess,
        target_units=int(round(targets["target"].sum())),
        placed_units=int(plan.units["units"].sum()),
        rules_short=rules_short,
        stages_limited=limited,
        stages_unproven=unproven,
    )
