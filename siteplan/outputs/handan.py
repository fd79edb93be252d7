"""The land tables as a bureau pastes them: the Handan layout, the parcel list (地块一览表) and the year sentence.

The Handan 12th five-year plan (``shared/seeds/003_...``, 第十四-十八条)
prints each year as a sentence and a table::

    2011年，中心城区保障性住房用地供应总面积54.48公顷。
    其中廉租住房用地5.70公顷；公共租赁房用地29.54公顷；……；政府保障性住房新增用地51.39公顷。

    2011年中心城区保障性住房用地规划表
    类型 | 套数 | 容积率 | 净用地面积（公顷） | 毛用地面积（公顷）

with one row per type (the plan's type order), a 合计 row, and the
普通商品房配建用地 and 保障性住房新增用地 rows giving land only.

- :func:`handan_year_table` turns a year table of
  :func:`siteplan.outputs.tables.year_table` into that layout: no 建筑面积
  column, 套数 blank on the 配建 and 新增 rows, and the plan's one planning
  plot ratio (``[outputs] planning_far``) on the type rows when the scenario
  gives one, else each row's effective average (floor area / net land);
  the sheet's note says which. The land figures are never recomputed: they
  are the year table's, so every file prints one value per figure.
- :func:`year_sentence` writes the seed's sentence from a year table's
  printed gross land (the total, each type with land, 配建 and 新增).
- :func:`parcel_table` is the 地块一览表: one row per used parcel, sorted by
  year, district and id, with a 合计 row that sums the printed rows.
- :func:`printed_tables` and :func:`write_plan_workbook` put them together
  for ``land_supply.xlsx`` and its CSV copies, as the scenario's
  ``[outputs]`` asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..inputs.landuse import land_use_class
from .figures import fig_float, ratio_text
from .tables import (
    INCLUSIONARY_LABEL,
    NEW_LAND_LABEL,
    TOTAL_LABEL,
    land_supply_tables,
    write_land_supply_xlsx,
)

__all__ = [
    "HANDAN_COLUMNS",
    "PARCEL_SHEET",
    "ROLE_LABELS",
    "handan_year_table",
    "year_sentence",
    "parcel_table",
    "printed_tables",
    "sentences",
    "year_notes",
    "year_titles",
    "write_plan_workbook",
]

#: The Handan year table's columns (第十四-十八条: no 建筑面积 column).
HANDAN_COLUMNS = ["类型", "套数（套）", "容积率", "净用地面积（公顷）", "毛用地面积（公顷）"]

#: The parcel list's sheet name.
PARCEL_SHEET = "地块一览表"

#: A parcel's role, as the tables name it.
ROLE_LABELS = {"new": "新增", "inclusionary": "配建"}

_GROSS = "毛用地面积（公顷）"


def _type_rows(table: pd.DataFrame) -> np.ndarray:
    """Positions of a year table's type rows (those above 合计)."""
    labels = table["类型"].astype(str).tolist()
    end = labels.index(TOTAL_LABEL) if TOTAL_LABEL in labels else len(labels)
    return np.arange(end)


def handan_year_table(table: pd.DataFrame, *, planning_far: float | None = None) -> pd.DataFrame:
    """A year table in the Handan layout.

    Parameters
    ----------
    table
        A year table as :func:`siteplan.outputs.tables.year_table` returns.
    planning_far
        The planning plot ratio printed on every type row (the Handan tables
        print 2.8); ``None`` keeps each row's effective average.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`HANDAN_COLUMNS`; the same rows and land figures, 套数
        and 容积率 blank (``None``) on the 合计 (容积率 only), 配建 and 新增
        rows.
    """
    out = table[HANDAN_COLUMNS].astype(object).copy()
    types = _type_rows(out)
    if planning_far is not None:
        out.iloc[types, out.columns.get_loc("容积率")] = float(planning_far)
    land_only = out["类型"].isin([INCLUSIONARY_LABEL, NEW_LAND_LABEL]).to_numpy()
    out.loc[land_only, ["套数（套）", "容积率"]] = None
    out.loc[out["类型"] == TOTAL_LABEL, "容积率"] = None
    return out.where(pd.notna(out), None)


def _ha(value: object) -> str:
    return f"{float(value or 0.0):.2f}"


def year_sentence(table: pd.DataFrame, year: int, *, area: str = "") -> str:
    """The sentence the seed prints above each year table, from the table's printed gross land.

    >>> t = pd.DataFrame({"类型": ["廉租住房", "公共租赁住房", "合计", INCLUSIONARY_LABEL, NEW_LAND_LABEL],
    ...                   "毛用地面积（公顷）": [5.70, 48.78, 54.48, 3.09, 51.39]})
    >>> year_sentence(t, 2011, area="中心城区")
    '2011年，中心城区保障性住房用地供应总面积54.48公顷。其中廉租住房用地5.70公顷；公共租赁住房用地48.78公顷；普通商品房配建用地3.09公顷；保障性住房新增用地51.39公顷。'
    """
    labels = table["类型"].astype(str).tolist()
    gross = dict(zip(labels, table[_GROSS].tolist()))
    head = f"{year}年，{area}保障性住房用地供应总面积{_ha(gross.get(TOTAL_LABEL))}公顷。"
    if not float(gross.get(TOTAL_LABEL) or 0.0):
        return head
    parts = [f"{labels[i]}用地{_ha(gross[labels[i]])}公顷" for i in _type_rows(table) if float(gross[labels[i]] or 0.0)]
    if float(gross.get(INCLUSIONARY_LABEL) or 0.0):
        parts.append(f"{INCLUSIONARY_LABEL}{_ha(gross[INCLUSIONARY_LABEL])}公顷")
    parts.append(f"{NEW_LAND_LABEL}{_ha(gross.get(NEW_LAND_LABEL))}公顷")
    return head + "其中" + "；".join(parts) + "。"


def _land_use_text(values: pd.Series) -> list[str]:
    """Each land use as written, with its class name when the code tables know it: ``R2（二类居住用地）``."""
    try:
        cls = land_use_class(values)
    except Exception:  # an unreadable code keeps its text  # noqa: BLE001
        cls = None
    out = []
    for k, v in enumerate(values.tolist()):
        text = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        name = None if cls is None else cls["name"].iloc[k]
        out.append(f"{text}（{name}）" if name and text and name != text else text)
    return out


def parcel_table(
    features: pd.DataFrame,
    *,
    types: Sequence[str],
    labels: Mapping[str, str],
    land_use: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """The 地块一览表: one row per used parcel, sorted by year, district and id, and a 合计 row.

    Parameters
    ----------
    features
        One row per used parcel with ``parcel_id``, ``name``, ``district``,
        ``zone``, ``year``, ``units_<type>``, ``role``, ``floor_area_m2``,
        ``far_used`` and ``area_ha``, figures as printed
        (:func:`siteplan.outputs.printed.parcel_features`).
    types, labels
        Type codes in the plan's order and their display names.
    land_use
        Parcel id -> land use as written in the parcels layer.

    Returns
    -------
    pandas.DataFrame
        Columns 地块编号, 地块名称, 行政区, 片区, 用地性质, 地块面积（公顷）,
        容积率 (as used, as text), 供应年度, one ``<label>（套）`` per type,
        合计（套）, 类别 (新增/配建), 保障房建筑面积（m²）. The 合计 row sums
        the printed area, units and floor area.
    """
    f = pd.DataFrame(features).copy()
    f = f.assign(_d=f["district"].astype(str), _i=f["parcel_id"].astype(str))
    f = f.sort_values(["year", "_d", "_i"], kind="stable").reset_index(drop=True)
    lu = pd.Series([(land_use or {}).get(p) for p in f["parcel_id"]], dtype=object)
    type_cols = [f"{labels.get(t, t)}（套）" for t in types]
    units = {t: [int(v) for v in f.get(f"units_{t}", pd.Series(0, index=f.index)).fillna(0)] for t in types}
    area = [fig_float(v, "ha") or 0.0 for v in f["area_ha"]]
    floor = [int(round(float(v))) for v in f["floor_area_m2"]]
    roles = ["、".join(ROLE_LABELS.get(r, r) for r in str(v).split(",") if r) for v in f["role"].fillna("new")]
    lu_text = _land_use_text(lu) if land_use else [""] * len(f)
    rows = []
    for k in range(len(f)):
        per_type = [units[t][k] for t in types]
        rows.append([str(f["parcel_id"].iloc[k]), str(f["name"].iloc[k] if pd.notna(f["name"].iloc[k]) else ""),
                     f["_d"].iloc[k], str(f["zone"].iloc[k]), lu_text[k],
                     area[k], ratio_text(f["far_used"].iloc[k]), int(f["year"].iloc[k]),
                     *per_type, sum(per_type), roles[k], floor[k]])
    total_types = [sum(units[t]) for t in types]
    total = [TOTAL_LABEL, "", "", "", "", fig_float(sum(area), "ha") or 0.0, "", None,
             *total_types, sum(total_types), "", sum(floor)]
    cols = ["地块编号", "地块名称", "行政区", "片区", "用地性质", "地块面积（公顷）", "容积率", "供应年度",
            *type_cols, "合计（套）", "类别", "保障房建筑面积（m²）"]
    return pd.DataFrame([*rows, total], columns=cols, dtype=object)  # object: years stay whole beside the blank 合计


def _effective_far(alloc: pd.DataFrame, year: int, types: Sequence[str]) -> float | None:
    a = alloc.loc[(alloc["year"] == year) & alloc["type"].isin(list(types))]
    net = float(a["net_land_ha"].sum())
    return float(a["floor_area_m2"].sum()) / (net * 10_000.0) if net > 0 else None


def year_notes(scenario, alloc: pd.DataFrame, types: Sequence[str]) -> dict[str, str]:
    """The note under each Handan-layout year table: which plot ratio it prints, and how the land adds up."""
    o = scenario.outputs
    ntg = scenario.plan.net_to_gross
    out = {}
    for y in scenario.years:
        avg = _effective_far(alloc, y, types)
        avg_text = f"{avg:.2f}" if avg is not None else "—"
        if o.planning_far is not None:
            far = (f"容积率栏为规划容积率{o.planning_far:g}（情景文件 [outputs] planning_far）；净用地面积按落实地块"
                   f"实际采用的容积率计算（本年平均{avg_text}）")
        else:
            far = ("容积率为各类型落实地块的平均容积率（建筑面积 ÷ 净用地面积；情景文件 [outputs] planning_far "
                   f"可改列规划容积率；本年平均{avg_text}）")
        out[f"{y}年"] = (f"{far}；毛用地面积 = 净用地面积 ÷ {ntg:g}；普通商品房配建用地、保障性住房新增用地只列用地；"
                        "保障性住房新增用地 = 合计 − 普通商品房配建用地。")
    return out


def year_titles(scenario) -> dict[str, str]:
    """The Handan layout's table titles: ``2016年中心城区保障性住房用地规划表``."""
    area = scenario.outputs.area
    return {f"{y}年": f"{y}年{area}保障性住房用地规划表" for y in scenario.years}


def printed_tables(plan, scenario) -> dict[str, pd.DataFrame]:
    """The sheets of ``land_supply.xlsx`` as the scenario's ``[outputs]`` lays them out.

    The tables of :func:`siteplan.outputs.tables.land_supply_tables`, the
    year sheets in the Handan layout when ``land_table = "handan"``, then
    the 地块一览表 (:data:`PARCEL_SHEET`). Made once per plan and scenario
    (:meth:`~siteplan.solve.plan.Plan.memo`); each call gets its own copies.
    """
    made = plan.memo(("printed_tables",), lambda: _printed_tables(plan, scenario), of=(scenario,))
    return {name: table.copy() for name, table in made.items()}


def _printed_tables(plan, scenario) -> dict[str, pd.DataFrame]:
    from .printed import parcel_features

    o = scenario.outputs
    out = dict(land_supply_tables(plan, scenario))
    if o.land_table == "handan":
        for y in scenario.years:
            out[f"{y}年"] = handan_year_table(out[f"{y}年"], planning_far=o.planning_far)
    types = list(plan.problem.types)
    labels = {t: scenario.type_label(t, "zh") for t in types}
    feats = parcel_features(plan, net_to_gross=scenario.plan.net_to_gross)
    parcels = plan.problem.parcels
    land_use = dict(zip(parcels["parcel_id"], parcels["land_use"])) if "land_use" in parcels.columns else None
    out[PARCEL_SHEET] = parcel_table(feats, types=types, labels=labels, land_use=land_use)
    return out


def sentences(tables: Mapping[str, pd.DataFrame], scenario) -> dict[str, str]:
    """Each year sheet's sentence (:func:`year_sentence`)."""
    return {f"{y}年": year_sentence(tables[f"{y}年"], y, area=scenario.outputs.area) for y in scenario.years}


def write_plan_workbook(tables: Mapping[str, pd.DataFrame], path: str | Path, plan, scenario) -> Path:
    """``land_supply.xlsx``: :func:`printed_tables` with each year's sentence above its table."""
    notes: dict[str, str] = {}
    titles: dict[str, str] = {}
    if scenario.outputs.land_table == "handan":
        types = list(plan.problem.types)
        notes = year_notes(scenario, plan.allocation(net_to_gross=scenario.plan.net_to_gross), types)
        titles = year_titles(scenario)
    years = list(scenario.years)
    head = f"{scenario.plan.title} " if scenario.plan.title else ""
    titles[PARCEL_SHEET] = f"{head}{years[0]}-{years[-1]}年保障性住房用地落实地块一览表"
    notes[PARCEL_SHEET] = ("按供应年度、行政区、地块编号排序；容积率为地块采用的容积率；类别：新增 = 保障性住房新增用地，"
                           "配建 = 普通商品房配建；保障房建筑面积为地块上保障性住房的建筑面积；合计为所列各行之和。")
    return write_land_supply_xlsx(tables, path, title=scenario.plan.title, years=years,
                                  net_to_gross=scenario.plan.net_to_gross, sheet_titles=titles, notes=notes,
                                  sentences=sentences(tables, scenario))

