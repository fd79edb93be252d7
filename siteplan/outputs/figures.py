"""The one rounding rule of every deliverable: how many decimals each quantity prints with, and how.

Every file siteplan writes for people (``land_supply.xlsx`` and its CSV
copies, ``land_supply.csv``, ``allocation.csv``, ``allocation.geojson``,
``plan.gpkg``, the map's popups, ``report.html``, ``differences.xlsx``)
rounds through this module, so that one figure has one value in all of them:

1. compute in full precision, round **once**, where the figure is written,
   half to even at the decimals of :data:`DECIMALS` (:func:`fig`);
2. gross land is computed from the **printed** net land:
   ``fig(printed net / net_to_gross)`` (:func:`gross_from_net`), so a
   reader who divides the printed net by the ratio finds the printed gross;
3. a total or subtotal is the **sum of the printed rows** it closes, as in
   the seed Handan tables (their 合计 add up their printed rows);
4. a table whose rows cut the plan another way than the year tables (the
   分区 sheet: by district over the whole period) is apportioned
   (:func:`apportion`, largest remainders) so that its 合计 equals the year
   tables' grand total: each row differs from its own rounding by at most
   0.01 and the plan's total has one value everywhere.

The plot ratio a parcel was built at is an input (``far_max`` or
``far_upper``), not a computed figure: it is printed as given
(:func:`ratio_text`), never rounded below its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd

__all__ = ["DECIMALS", "RULE_NOTE", "fig", "fig_float", "gross_from_net", "apportion", "round_columns", "ratio_text"]

#: Decimals per quantity.
DECIMALS: dict[str, int] = {
    "units": 0,            # 套
    "floor_area_m2": 0,    # m²
    "floor_area_10k_m2": 2,  # 万m²
    "ha": 2,               # 公顷 (net, gross land, parcel area)
    "plot_ratio": 2,       # computed plot ratio (floor area / net land)
    "investment": 2,       # 亿元
    "share": 4,            # a fraction 0-1
}

#: The rule, as the sheets' notes state it.
RULE_NOTE = ("数值按全精度计算，写出时四舍六入五成双一次取整；毛用地面积 = 所列净用地面积 ÷ 净毛比；"
             "合计、小计为所列各行之和（同邯郸规划表）；各文件中同一数值相同。")


def fig(x: float | Decimal | None, quantity: str = "ha") -> Decimal | None:
    """Round ``x`` at the decimals of ``quantity``, half to even, after removing binary noise.

    The value is first written with 9 decimals, so that 18.724999999999998
    (52.43 / 2.8 in binary) counts as the tie 18.725 it stands for.

    >>> fig(18.725), fig(18.735), fig(4.5643), fig(45449.5, "floor_area_m2")
    (Decimal('18.72'), Decimal('18.74'), Decimal('4.56'), Decimal('45450'))
    """
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return None
    places = Decimal(1).scaleb(-DECIMALS[quantity])
    return Decimal(f"{float(x):.9f}").quantize(places, rounding=ROUND_HALF_EVEN)


def fig_float(x: float | Decimal | None, quantity: str = "ha") -> float | None:
    """:func:`fig` as a float (``None`` stays ``None``), for frames and JSON."""
    d = fig(x, quantity)
    return None if d is None else float(d)


def gross_from_net(net: Decimal | None, net_to_gross: float | Decimal) -> Decimal | None:
    """Gross land from the printed net land: ``fig(net / net_to_gross)``.

    >>> gross_from_net(Decimal("13.69"), 0.8)
    Decimal('17.11')
    """
    if net is None:
        return None
    return fig(Decimal(net) / Decimal(str(net_to_gross)), "ha")


def apportion(exact: Sequence[float], total: Decimal, quantity: str = "ha") -> list[Decimal]:
    """Round ``exact`` so that the rounded values add up to ``total`` (largest remainders).

    Each value starts at its own rounding (:func:`fig`); the difference to
    ``total`` is then spread one step (0.01 for ha) at a time over the values
    whose rounding moved them most the other way. A zero stays zero, no
    value turns negative.

    >>> apportion([1.004, 1.004, 1.004], Decimal("3.02"))
    [Decimal('1.01'), Decimal('1.01'), Decimal('1.00')]
    """
    step = Decimal(1).scaleb(-DECIMALS[quantity])
    vals = np.asarray([float(x) for x in exact], dtype=float)
    out = [fig(x, quantity) or Decimal(0) * step for x in vals]
    steps = int(((Decimal(total) - sum(out, Decimal(0) * step)) / step).to_integral_value())
    live = np.flatnonzero(vals > 0)
    while steps != 0 and len(live):
        sign = 1 if steps > 0 else -1
        # how far each value's printed form sits below (sign +1) or above (sign -1) its exact value
        lag = np.array([sign * (vals[i] - float(out[i])) for i in live])
        order = [live[k] for k in np.argsort(-lag, kind="stable")]
        if sign < 0:
            order = [i for i in order if out[i] >= step]
            if not order:
                break
        for i in order[: abs(steps)]:
            out[i] += sign * step
        steps -= sign * min(abs(steps), len(order))
    return out


def round_columns(df: pd.DataFrame, quantities: dict[str, str]) -> pd.DataFrame:
    """A copy of ``df`` with each column in ``quantities`` rounded by :func:`fig` (as floats)."""
    out = df.copy()
    for col, q in quantities.items():
        if col in out.columns:
            out[col] = [fig_float(v, q) if v is not None and not pd.isna(v) else None for v in out[col]]
            out[col] = out[col].astype(float)
    return out


def ratio_text(x: float | None) -> str:
    """A plot ratio as given (input precision, at most 4 decimals, no trailing zeros); ``""`` for none.

    >>> ratio_text(3.8), ratio_text(2.0), ratio_text(2.345), ratio_text(2.34561)
    ('3.8', '2', '2.345', '2.3457')
    """
    if x is None or not np.isfinite(float(x)):
        return ""
    # rounded up at the 4th decimal, so the printed ratio is never below the one used
    d = Decimal(f"{float(x):.9f}").quantize(Decimal("0.0001"), rounding=ROUND_CEILING)
    text = f"{d:f}".rstrip("0").rstrip(".")
    return text or "0"
