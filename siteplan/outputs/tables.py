"""The official land-supply tables (土地供应计划表), in the shape bureaus publish them.

:func:`land_supply_tables` turns a plan into the tables of a housing-security
plan's land-supply chapter, modelled on the Handan 12th five-year plan
(``shared/seeds/003_...``, 第三章 中心城区保障性住房用地供应年度计划):

- one table per supply year (``2016年`` ...): per housing type 套数, 建筑面积
  (万m²), 容积率, 净用地面积 and 毛用地面积 (公顷), a 合计 row, and the split
  of the total into 普通商品房配建用地 (the affordable share built inside
  commercial projects, allocation rows with ``role == "inclusionary"``) and
  保障性住房新增用地 (land newly supplied for affordable housing);
- a plan-period table (``规划期``): per type units, floor area and investment
  for the whole period and for each year;
- a table by zone and district (``分区``).

:func:`write_land_supply_xlsx` writes them as one workbook (title row,
units in the headers, two decimals, frozen header, A4 landscape) and
:func:`write_land_supply_csvs` as ``utf-8-sig`` CSV copies.

How the printed numbers are rounded
-----------------------------------
Every printed number is computed from the printed numbers it depends on, as
a reader checks a table with a calculator, and rounded half to even at 0.01
by the one helper every output uses (:mod:`siteplan.outputs.figures`):

1. 建筑面积 (万m²) = floor area / 10,000;
2. 净用地 (ha) = the row's exact net land (floor area / plot ratio, summed
   over its parcels);
3. 毛用地 (ha) = the *printed* 净用地 / net-to-gross ratio, so that printed
   net / 0.8 gives the printed gross;
4. 合计 = the sum of the printed rows above it (the column adds up as
   printed; the seed's county table even sums its plot-ratio column to
   "19.6"; here 合计's plot ratio is left blank, as in the seed's centre-city
   tables);
5. 普通商品房配建用地 is computed like a type row from the inclusionary
   parcels; 保障性住房新增用地 = 合计 - 配建 in every column, so the two
   rows add up to the total as printed (the seed does this in all five
   years, e.g. 2014: 22.76 - 3.98 = 18.78 ha and 28.45 - 4.98 = 23.47 ha,
   where 18.78 / 0.8 would print 23.48);
6. the 分区 sheet cuts the plan by district over the whole period: its
   floor area, net and gross land are apportioned (largest remainders) so
   that its 合计 equals the sum of the year sheets' 合计 (and the 规划期
   sheet's), each district within 0.01 of its own rounding. The plan's
   total thus has one value in every sheet, CSV, ``land_supply.csv``,
   ``report.html`` and ``differences.xlsx``.

The seed was checked against every combination of: floor area as printed or
recomputed from units, rounding half up / half to even / down, gross from
the exact or the printed net, totals summed or rounded. No rule reproduces
every printed digit, because the seed itself is not consistent: the same
inputs print differently (经济适用房, 3,200 units, 20.80万m², plot ratio
2.8: 7.42 / 9.28 ha in 2011 but 7.43 / 9.29 ha in 2012), the 2012 廉租房 and
限价房 rows (6.95 and 8.19 ha) do not follow from their 12.78 and 22.32万m²
(4.56 and 7.97 ha), 2011's 配建 gross land 3.09 ha is not 2.50 / 0.8, and
2013's 合计 套数 13,640 is not the sum 12,134. The rule above is the one
that reproduces every other number of the seed's land tables to 0.01 ha
(the net and gross land of the 27 type rows of the county table and the
centre-city tables of 2011-2015, 50 numbers, 33 of them to the digit; every
total not built on a misprinted row; the 配建 and 新增 rows), and the
structure of every table exactly (合计 = sum of rows, 新增 = 合计 - 配建). Half to even rather than half up because
the seed rounds its ties that way five times out of six (18.425 -> 18.42,
5.325 -> 5.32, 9.275 -> 9.28, ...). ``tests/outputs/test_tables.py`` holds the
seed's numbers and checks all of this.
"""

from __future__ import annotations

import copy
import io
import logging
import re
import zipfile
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from .figures import RULE_NOTE, apportion, fig, gross_from_net
from .stamp import stamp_utc, write_zip

__all__ = [
    "INCLUSIONARY_LABEL",
    "NEW_LAND_LABEL",
    "TOTAL_LABEL",
    "round2",
    "year_table",
    "period_table",
    "district_table",
    "land_supply_tables",
    "write_land_supply_xlsx",
    "write_land_supply_csvs",
    "write_table_csv",
    "csv_file_name",
]

log = logging.getLogger(__name__)

TOTAL_LABEL = "合计"
SUBTOTAL_LABEL = "小计"
INCLUSIONARY_LABEL = "普通商品房配建用地"
NEW_LAND_LABEL = "保障性住房新增用地"

_UNITS, _AREA, _INVEST = "套数（套）", "面积（万m²）", "投资（亿元）"
_PERIOD_SUB = (_UNITS, _AREA, _INVEST)

#: Column headers of a year table, with their units.
YEAR_COLUMNS = ["类型", "套数（套）", "建筑面积（万m²）", "容积率", "净用地面积（公顷）", "毛用地面积（公顷）"]

def round2(x: float | Decimal | None) -> Decimal | None:
    """Round to 0.01, half to even, after removing binary noise (:func:`siteplan.outputs.figures.fig`).

    >>> round2(18.725), round2(18.735), round2(4.5643)
    (Decimal('18.72'), Decimal('18.74'), Decimal('4.56'))
    """
    return fig(x, "ha")


def _f(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _land_row(label: str, part: pd.DataFrame, net_to_gross: Decimal) -> dict:
    """One printed row from allocation rows (steps 1-3 of the module docstring)."""
    units = int(part["units"].sum())
    floor = float(part["floor_area_m2"].sum())
    net_exact = float(part["net_land_ha"].sum())
    net = fig(net_exact, "ha")
    far = fig(floor / (net_exact * 10_000.0), "plot_ratio") if net_exact > 0 else None
    return {
        "label": label,
        "units": units,
        "floor": fig(floor / 10_000.0, "floor_area_10k_m2"),
        "far": far,
        "net": net,
        "gross": gross_from_net(net, net_to_gross),
        "floor_m2": fig(floor, "floor_area_m2"),
        "far_exact": floor / (net_exact * 10_000.0) if net_exact > 0 else None,
    }


def _frame(rows: list[dict], columns: list[str], keys: list[str]) -> pd.DataFrame:
    out = pd.DataFrame([[_f(r[k]) if isinstance(r[k], Decimal) else r[k] for k in keys] for r in rows], columns=columns)
    return out


def _check_allocation(allocation: pd.DataFrame, needed: Sequence[str]) -> None:
    missing = [c for c in needed if c not in allocation.columns]
    if missing:
        raise ValueError(f"the allocation table lacks column(s) {missing}; pass Plan.allocation(net_to_gross=...)")


def year_table(
    allocation: pd.DataFrame,
    year: int,
    *,
    types: Sequence[str],
    labels: Mapping[str, str],
    net_to_gross: float,
) -> pd.DataFrame:
    """The land-supply table of one year, as printed.

    Parameters
    ----------
    allocation
        One row per parcel x type x year with ``type``, ``year``, ``units``,
        ``floor_area_m2``, ``net_land_ha`` and optionally ``role``
        (``"new"`` or ``"inclusionary"``; missing means new), as
        :meth:`siteplan.solve.plan.Plan.allocation` returns.
    year
        The supply year.
    types
        Housing type codes, in row order (a type without units gets a row of
        zeros).
    labels
        Display name of each type code.
    net_to_gross
        Gross land = net land / this.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`YEAR_COLUMNS`; rows: one per type, 合计,
        普通商品房配建用地, 保障性住房新增用地. Numbers are floats rounded
        to 0.01 (units are whole); an empty cell is ``None``.
    """
    _check_allocation(allocation, ["type", "year", "units", "floor_area_m2", "net_land_ha"])
    ntg = Decimal(str(net_to_gross))
    ay = allocation.loc[allocation["year"] == year]
    rows = [_land_row(labels.get(t, t), ay.loc[ay["type"] == t], ntg) for t in types]
    total = {
        "label": TOTAL_LABEL,
        "units": sum(r["units"] for r in rows),
        "floor": sum((r["floor"] for r in rows), Decimal(0)),
        "far": None,
        "net": sum((r["net"] or Decimal(0) for r in rows), Decimal(0)),
        "gross": sum((r["gross"] or Decimal(0) for r in rows), Decimal(0)),
    }
    role = ay["role"] if "role" in ay.columns else pd.Series("new", index=ay.index)
    incl = _land_row(INCLUSIONARY_LABEL, ay.loc[(role == "inclusionary") & ay["type"].isin(types)], ntg)
    incl["far"] = None
    for k in ("net", "gross"):
        incl[k] = incl[k] or Decimal("0.00")
    new = {
        "label": NEW_LAND_LABEL,
        "units": total["units"] - incl["units"],
        "floor": total["floor"] - incl["floor"],
        "far": None,
        "net": total["net"] - incl["net"],
        "gross": total["gross"] - incl["gross"],
    }
    return _frame([*rows, total, incl, new], YEAR_COLUMNS, ["label", "units", "floor", "far", "net", "gross"])


def period_table(
    allocation: pd.DataFrame,
    *,
    types: Sequence[str],
    labels: Mapping[str, str],
    years: Sequence[int],
    cost_yuan_per_m2: Mapping[str, float | None] | None = None,
) -> pd.DataFrame:
    """Units, floor area and investment per type, for the plan period and each year.

    The Handan plan's 保障性住房规划表: the period columns are the sums of the
    printed yearly numbers. Investment (亿元) = floor area x the type's
    ``cost_yuan_per_m2`` / 10^8, blank for a type without a cost.

    Returns
    -------
    pandas.DataFrame
        Columns ``项目`` and, for the period (``"2016-2020"``) and each year,
        ``<period or year>|套数（套）``, ``|面积（万m²）``, ``|投资（亿元）``;
        one row per type and a 合计 row.
    """
    _check_allocation(allocation, ["type", "year", "units", "floor_area_m2"])
    costs = dict(cost_yuan_per_m2 or {})
    period = f"{years[0]}-{years[-1]}"
    cols = ["项目"] + [f"{p}|{k}" for p in [period, *map(str, years)] for k in _PERIOD_SUB]
    grid: dict[str, dict[str, object]] = {}
    for t in types:
        at = allocation.loc[allocation["type"] == t]
        row: dict[str, object] = {"项目": labels.get(t, t)}
        cost = costs.get(t)
        for y in years:
            part = at.loc[at["year"] == y]
            floor = float(part["floor_area_m2"].sum())
            row[f"{y}|{_UNITS}"] = int(part["units"].sum())
            row[f"{y}|{_AREA}"] = fig(floor / 10_000.0, "floor_area_10k_m2")
            row[f"{y}|{_INVEST}"] = fig(floor * cost / 1e8, "investment") if cost is not None else None
        row[f"{period}|{_UNITS}"] = sum(row[f"{y}|{_UNITS}"] for y in years)
        row[f"{period}|{_AREA}"] = sum((row[f"{y}|{_AREA}"] for y in years), Decimal(0))
        row[f"{period}|{_INVEST}"] = sum((row[f"{y}|{_INVEST}"] for y in years), Decimal(0)) if cost is not None else None
        grid[t] = row
    total: dict[str, object] = {"项目": TOTAL_LABEL}
    for c in cols[1:]:
        vals = [grid[t][c] for t in types]
        if c.endswith(_INVEST) and any(v is None for v in vals):
            total[c] = None  # a sum over types with unknown cost would mislead
        elif c.endswith(_UNITS):
            total[c] = sum(vals)
        else:
            total[c] = sum(vals, Decimal(0))
    rows = [*grid.values(), total]
    return pd.DataFrame([[_f(r[c]) if isinstance(r[c], Decimal) else r[c] for c in cols] for r in rows], columns=cols)


def district_table(
    allocation: pd.DataFrame,
    *,
    types: Sequence[str],
    labels: Mapping[str, str],
    net_to_gross: float,
    districts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Units per type, floor area and land per zone and district over the plan.

    Parameters
    ----------
    allocation
        As for :func:`year_table`, with ``district`` and ``zone``.
    districts
        Optional table with ``district`` and ``zone`` columns: districts
        without units then get a row of zeros, in this order.

    Returns
    -------
    pandas.DataFrame
        Columns ``片区``, ``行政区``, one ``<label>（套）`` per type,
        ``合计（套）``, ``建筑面积（万m²）``, ``净用地面积（公顷）``,
        ``毛用地面积（公顷）``; a 小计 row closes each zone and a 合计 row the
        table (both sums of the printed rows).
    """
    _check_allocation(allocation, ["type", "units", "floor_area_m2", "net_land_ha", "district", "zone"])
    ntg = Decimal(str(net_to_gross))
    if districts is not None and len(districts):
        order = districts[["zone", "district"]].astype(str).drop_duplicates()
        extra = allocation[["zone", "district"]].astype(str).drop_duplicates()
        order = pd.concat([order, extra]).drop_duplicates().sort_values(["zone", "district"], kind="stable")
    else:
        order = allocation[["zone", "district"]].astype(str).drop_duplicates().sort_values(["zone", "district"])
    type_cols = [f"{labels.get(t, t)}（套）" for t in types]
    cols = ["片区", "行政区", *type_cols, "合计（套）", "建筑面积（万m²）", "净用地面积（公顷）", "毛用地面积（公顷）"]
    keys = ["zone", "district", *types, "units", "floor", "net", "gross"]

    a = allocation.loc[allocation["type"].isin(list(types))]
    a = a.assign(zone=a["zone"].astype(str), district=a["district"].astype(str))
    keys_order = [(str(z), str(d)) for z, d in order[["zone", "district"]].itertuples(index=False)]
    grp = a.groupby(["zone", "district"], sort=False)
    floor_d = grp["floor_area_m2"].sum()
    net_d = grp["net_land_ha"].sum()
    exact = {
        "floor": [float(floor_d.get(k, 0.0)) / 10_000.0 for k in keys_order],
        "net": [float(net_d.get(k, 0.0)) for k in keys_order],
    }
    # Rounded so that the 合计 is the year tables' grand total (rule 6 of the module docstring);
    # gross starts from the printed net / net-to-gross, as in every other table.
    totals = _grand_totals(allocation, types, ntg)
    printed = {k: apportion(exact[k], totals[k], "floor_area_10k_m2" if k == "floor" else "ha") for k in exact}
    printed["gross"] = apportion([float(n / ntg) for n in printed["net"]], totals["gross"], "ha")

    def add(rows: list[dict], zone: str, district: str) -> dict:
        out = {"zone": zone, "district": district}
        for k in keys[2:]:
            out[k] = sum((r[k] for r in rows), Decimal(0) if k in ("floor", "net", "gross") else 0)
        return out

    rows: list[dict] = []
    grand: list[dict] = []
    k = 0
    for zone, zone_rows in order.groupby("zone", sort=False):
        mine = []
        for district in zone_rows["district"]:
            part = a.loc[(a["zone"] == zone) & (a["district"] == district)]
            r = {"zone": zone, "district": district, "units": int(part["units"].sum()),
                 "floor": printed["floor"][k], "net": printed["net"][k], "gross": printed["gross"][k]}
            for t in types:
                r[t] = int(part.loc[part["type"] == t, "units"].sum())
            mine.append(r)
            k += 1
        rows.extend(mine)
        rows.append(add(mine, zone, SUBTOTAL_LABEL))
        grand.extend(mine)
    rows.append(add(grand, TOTAL_LABEL, ""))
    return pd.DataFrame([[_f(r[k]) if isinstance(r[k], Decimal) else r[k] for k in keys] for r in rows], columns=cols)


def _grand_totals(allocation: pd.DataFrame, types: Sequence[str], ntg: Decimal) -> dict[str, Decimal]:
    """The plan's total floor area (万m²), net and gross land (ha): the sums of the year tables' printed type rows."""
    out = {"floor": Decimal("0.00"), "net": Decimal("0.00"), "gross": Decimal("0.00")}
    a = allocation.loc[allocation["type"].isin(list(types))]
    for _, part in a.groupby(["year", "type"] if "year" in a.columns else ["type"], sort=True):
        r = _land_row("", part, ntg)
        for k in out:
            out[k] += r[k] or Decimal(0)
    return out


def land_supply_rows(allocation: pd.DataFrame, *, types: Sequence[str], years: Sequence[int], net_to_gross: float) -> pd.DataFrame:
    """``land_supply.csv``: per year, one row per type code and a 合计 row, figures as in the year sheets.

    Columns ``year``, ``type``, ``units``, ``floor_area_m2``,
    ``floor_area_10k_m2``, ``plot_ratio``, ``net_land_ha``,
    ``gross_land_ha``. Type rows are the year tables' rows; 合计 is the sum
    of the printed type rows, its plot ratio the year's floor area over its
    net land.
    """
    _check_allocation(allocation, ["type", "year", "units", "floor_area_m2", "net_land_ha"])
    ntg = Decimal(str(net_to_gross))
    out = []
    for y in years:
        ay = allocation.loc[allocation["year"] == y]
        rows = [_land_row(t, ay.loc[ay["type"] == t], ntg) for t in types]
        whole = _land_row(TOTAL_LABEL, ay.loc[ay["type"].isin(list(types))], ntg)
        total = {"label": TOTAL_LABEL, "units": sum(r["units"] for r in rows), "far": whole["far"]}
        for k in ("floor_m2", "floor", "net", "gross"):
            total[k] = sum((r[k] or Decimal(0) for r in rows), Decimal(0))
        for r in [*rows, total]:
            out.append([y, r["label"], r["units"], _f(r["floor_m2"]), _f(r["floor"]), _f(r["far"]),
                        _f(r["net"] or Decimal(0)), _f(r["gross"] or Decimal(0))])
    return pd.DataFrame(out, columns=["year", "type", "units", "floor_area_m2", "floor_area_10k_m2", "plot_ratio",
                                      "net_land_ha", "gross_land_ha"])


def land_supply_tables(plan, scenario) -> dict[str, pd.DataFrame]:
    """Every table of a plan: ``"2016年"``... per year, ``"规划期"``, ``"分区"``.

    Parameters
    ----------
    plan
        A solved :class:`~siteplan.solve.plan.Plan`.
    scenario
        Its :class:`~siteplan.inputs.scenario.Scenario` (labels, years, net-to-gross
        ratio and the types' ``cost_yuan_per_m2`` when given).
    """
    ntg = scenario.plan.net_to_gross
    alloc = plan.allocation(net_to_gross=ntg)
    types = list(plan.problem.types)
    labels = {t: scenario.type_label(t, "zh") for t in types}
    years = list(scenario.years)
    costs = {t: getattr(scenario.types[t], "cost_yuan_per_m2", None) for t in types}
    out = {f"{y}年": year_table(alloc, y, types=types, labels=labels, net_to_gross=ntg) for y in years}
    out["规划期"] = period_table(alloc, types=types, labels=labels, years=years, cost_yuan_per_m2=costs)
    out["分区"] = district_table(alloc, types=types, labels=labels, net_to_gross=ntg)
    return out


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(value: object) -> object:
    """Text that a spreadsheet will not run as a formula (for CSV)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _titles(scenario_title: str, years: Sequence[int]) -> dict[str, str]:
    head = f"{scenario_title} " if scenario_title else ""
    out = {f"{y}年": f"{head}{y}年保障性住房用地供应计划表" for y in years}
    out["规划期"] = f"{head}{years[0]}-{years[-1]}年保障性住房建设规划表（套、万m²、亿元）"
    out["分区"] = f"{head}{years[0]}-{years[-1]}年保障性住房分区落实表"
    return out


def write_land_supply_xlsx(
    tables: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    title: str = "",
    years: Sequence[int] | None = None,
    net_to_gross: float | None = None,
    sheet_titles: Mapping[str, str] | None = None,
    notes: Mapping[str, str] | None = None,
    sentences: Mapping[str, str] | None = None,
) -> Path:
    """Write the tables as one Excel workbook, one sheet each.

    Each sheet has a merged title row, a header row with units (two for the
    plan-period sheet, whose year groups are merged cells), numbers with two
    decimals (units without), bold 合计/小计 rows, the header frozen, and a
    page set up for A4 landscape, one page wide, header repeated on every
    page. Totals are values computed in Python, never formulas; text that
    starts like a formula is stored as text.

    Parameters
    ----------
    tables
        Sheet name -> table, as :func:`land_supply_tables` returns.
    path
        The ``.xlsx`` file to write.
    title
        The plan's title, put before each sheet's own title.
    years
        The plan years (for the titles); default from the sheet names.
    net_to_gross
        Shown in the note under each year table.
    sheet_titles
        Sheet name -> title row, for sheets other than the land-supply
        tables (e.g. the comparison's); default the land-supply titles,
        else the sheet name.
    notes
        Sheet name -> note under the table, for sheets other than the
        land-supply tables; every note ends with the rounding rule
        (:data:`siteplan.outputs.figures.RULE_NOTE`).
    sentences
        Sheet name -> a sentence put between the title and the table (the
        year sentence of :func:`siteplan.outputs.handan.year_sentence`).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    if years is None:
        years = [int(name[:-1]) for name in tables if name.endswith("年") and name[:-1].isdigit()]
    titles = {**_titles(title, list(years) or [0]), **(sheet_titles or {})}
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    head_fill = PatternFill("solid", fgColor="DDE5F0")
    bold = Font(bold=True, name="宋体")
    normal = Font(name="宋体")
    wb = Workbook()
    wb.remove(wb.active)
    # Each body cell's style, by kind of value and total row or not. Setting a font or a border looks the
    # style up in the workbook's lists (hashing it each time): most of the workbook's time, where a copy
    # of the first cell's style indices (openpyxl's own way of copying a style) is the same style.
    body_styles: dict[tuple[str | None, bool], object] = {}
    for name, table in tables.items():
        ws = wb.create_sheet(title=name[:31])
        ncol = len(table.columns)
        ws.cell(row=1, column=1, value=titles.get(name, name)).font = Font(bold=True, size=14, name="黑体")
        ws.cell(row=1, column=1).alignment = Alignment(horizontal="center", vertical="center")
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
        ws.row_dimensions[1].height = 28
        sentence = (sentences or {}).get(name)
        top = 3 if sentence else 2  # the header's first row
        if sentence:
            ws.cell(row=2, column=1, value=sentence).font = Font(size=11, name="宋体")
            ws.cell(row=2, column=1).alignment = Alignment(wrap_text=True, vertical="center")
            ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncol)
        split = any("|" in str(c) for c in table.columns)
        header_rows = 2 if split else 1
        if split:
            col = 1
            groups: list[tuple[str, int, int]] = []
            for c in table.columns:
                if "|" in str(c):
                    g, sub = str(c).split("|", 1)
                    if groups and groups[-1][0] == g:
                        groups[-1] = (g, groups[-1][1], col)
                    else:
                        groups.append((g, col, col))
                    ws.cell(row=top + 1, column=col, value=sub)
                else:
                    ws.cell(row=top, column=col, value=str(c))
                    ws.merge_cells(start_row=top, start_column=col, end_row=top + 1, end_column=col)
                col += 1
            for g, c0, c1 in groups:
                ws.cell(row=top, column=c0, value=f"{g}年")
                if c1 > c0:
                    ws.merge_cells(start_row=top, start_column=c0, end_row=top, end_column=c1)
        else:
            for j, c in enumerate(table.columns, start=1):
                ws.cell(row=top, column=j, value=str(c))
        for r in range(top, top + header_rows):
            for j in range(1, ncol + 1):
                cell = ws.cell(row=r, column=j)
                cell.font, cell.fill, cell.border = bold, head_fill, border
                cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        first = top + header_rows
        for i, row in enumerate(table.itertuples(index=False), start=first):
            is_total = any(str(v) in (TOTAL_LABEL, SUBTOTAL_LABEL) for v in row[:2])
            for j, (col_name, value) in enumerate(zip(table.columns, row), start=1):
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    value = None
                elif isinstance(value, (np.integer,)):
                    value = int(value)
                elif isinstance(value, (np.floating,)):
                    value = float(value)
                cell = ws.cell(row=i, column=j, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # never a formula, whatever the text
                    kind = "text"
                elif isinstance(value, int) and not isinstance(value, bool):
                    kind = "#,##0"
                elif isinstance(value, float):  # a plot ratio as the plan gives it: 2.8, 3.57
                    kind = "0.0#" if col_name == "容积率" else "#,##0.00"
                else:
                    kind = None
                key = (kind, is_total)
                if key in body_styles:  # a copy of the cell styled so before: the same style, without its lookups
                    cell._style = copy.copy(body_styles[key])
                    continue
                if kind == "text":
                    cell.alignment = Alignment(horizontal="left", vertical="center")
                elif kind is not None:
                    cell.number_format = kind
                cell.border = border
                cell.font = bold if is_total else normal
                body_styles[key] = copy.copy(cell._style)
        last = first + len(table) - 1
        note_row = last + 2
        note = _sheet_note(name, net_to_gross, (notes or {}).get(name))
        if note:
            ws.cell(row=note_row, column=1, value=note).font = Font(size=9, name="宋体")
        widths = []
        for j, c in enumerate(table.columns, start=1):
            text = str(c).split("|")[-1]
            width = max([len(text) * 2 + 2] + [len(str(v)) * (2 if isinstance(v, str) else 1) + 3 for v in table.iloc[:, j - 1] if v is not None])
            widths.append(min(max(width, 9), 30))
            ws.column_dimensions[get_column_letter(j)].width = widths[-1]
        if sentence:  # tall enough for the wrapped sentence (a Chinese character is two width units)
            ws.row_dimensions[2].height = 16 * (1 + len(sentence) * 2 // max(sum(widths), 1))
        ws.freeze_panes = ws.cell(row=first, column=2 if split or name in ("分区", "地块一览表") else 1)
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = f"1:{first - 1}"
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.5
    # The file records stamp() (the day of the run, or SOURCE_DATE_EPOCH) instead of the time of saving, so
    # that two runs write the same bytes: Workbook.save would set properties.modified to now, so the
    # workbook goes through openpyxl's writer directly, and write_zip dates every zip entry.
    from openpyxl.writer.excel import ExcelWriter

    wb.properties.created = wb.properties.modified = stamp_utc()
    buffer = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()  # save() closes the zip
    return write_zip(buffer.getvalue(), path)


def _sheet_note(name: str, net_to_gross: float | None, note: str | None) -> str:
    """The note under a sheet: what its columns mean, then the rounding rule."""
    if note is None and name.endswith("年") and net_to_gross is not None:
        note = (f"净用地面积 = 建筑面积 ÷ 容积率；毛用地面积 = 净用地面积 ÷ {net_to_gross:g}；"
                "保障性住房新增用地 = 合计 − 普通商品房配建用地。")
    elif note is None and name == "规划期":
        note = "投资 = 建筑面积 × 各类型单方造价；未设造价的类型投资栏空白；规划期各栏为各年所列数值之和。"
    elif note is None and name == "分区":
        note = "各区建筑面积、用地按最大余数法取整，使合计等于各年度表合计之和。"
    return f"注：{note or ''}{RULE_NOTE}"


def csv_file_name(sheet: str, *, prefix: str = "land_supply_") -> str:
    """The ASCII CSV file name of a sheet.

    ``2016年`` -> ``land_supply_2016.csv``, ``规划期`` -> ``land_supply_period.csv``,
    ``分区`` -> ``land_supply_districts.csv``, ``地块一览表`` -> ``land_supply_parcels.csv``.
    """
    stem = {"规划期": "period", "分区": "districts", "地块一览表": "parcels"}.get(sheet)
    if stem is None and sheet.endswith("年") and sheet[:-1].isdigit():
        stem = sheet[:-1]
    if stem is None:
        raise ValueError(f"no CSV file name for sheet {sheet!r}; name sheets '<year>年', '规划期' or '分区'")
    return f"{prefix}{stem}.csv"


#: Columns of counts and years, written as whole numbers even when some rows leave them blank.
_COUNT_COLUMN = re.compile(r"套|年度|年份|units|year")


def write_table_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """One table as CSV: ``utf-8-sig``, two decimals, formula-like text made inert.

    Text that starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``)
    gets a leading apostrophe, so Excel shows it instead of running it.
    """
    out = table.rename(columns=lambda c: str(c).replace("|", "年"))  # "2016|套数（套）" -> "2016年套数（套）"
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(_safe_text)
        elif _COUNT_COLUMN.search(str(c)) and pd.api.types.is_float_dtype(out[c]):
            whole = out[c].dropna()
            if (whole == whole.round()).all():  # units and years left blank on some rows: whole numbers, not 2016.00
                out[c] = out[c].astype("Int64")
    out.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.2f", lineterminator="\n")
    return Path(path)


def write_land_supply_csvs(tables: Mapping[str, pd.DataFrame], folder: str | Path, *, prefix: str = "land_supply_") -> list[Path]:
    """Write each table as a CSV copy (see :func:`csv_file_name`, :func:`write_table_csv`)."""
    folder = Path(folder)
    return [write_table_csv(table, folder / csv_file_name(sheet, prefix=prefix)) for sheet, table in tables.items()]
