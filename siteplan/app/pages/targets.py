"""The Targets page (step 2): units per housing type and year, per zone and per district.

The page shows ``[types.<code>].targets`` as a type x year table, and
``[zones]`` and ``[districts]`` as name rows, all of which take a block
pasted from Excel (``targets.js``). The planner may type yearly values or
running totals (累计); the file always stores yearly values, so that
``siteplan run`` reads the same numbers whatever the page showed.

Under the table, the totals per year stand against the capacity of the
candidate parcels (:func:`siteplan.check.check`), which is cached per
scenario and layer file times: reading the layers takes a while and the
page is opened often.

When the scenario reads its targets from a file (``[targets] file = ...``),
the page shows the values read from it; saving writes them into the
scenario and removes the file key, so that one source holds each number.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from ...errors import SiteplanError, error_text
from ...housing import CATALOGUE
from ...inputs.targets import TYPE_ALIASES
from ..checks import check_cached
from ..scenario_doc import ScenarioDoc
from ..server import lang_of, render, translator

router = APIRouter()

WORDS: dict[str, tuple[str, str]] = {
    "targets_title": ("指标：各类型、各年度的保障性住房套数", "Targets: units by housing type and year"),
    "targets_hint": ("可直接从 Excel 复制一块单元格，粘贴到任一格中（向右、向下填充）；也可粘贴到下方文本框。数字可带千分位逗号或全角数字。",
                     "Copy a block of cells in Excel and paste it into any cell (it fills rightwards and downwards), "
                     "or into the box below. Numbers may carry thousands separators or full-width digits."),
    "mode_label": ("填写方式", "Entry"),
    "mode_yearly": ("逐年（当年新增套数）", "yearly (each year's own units)"),
    "mode_cumulative": ("累计（截至当年的累计套数）", "cumulative (running totals, 累计)"),
    "mode_note": ("方案文件中始终保存逐年套数；累计数保存时换算为逐年增量。",
                  "The scenario file always keeps yearly units; running totals are turned into yearly increments on saving."),
    "type": ("住房类型", "Housing type"),
    "unit_area": ("套均建筑面积（平方米）", "Average unit floor area (m²)"),
    "year": ("{year}年", "{year}"),
    "total_row": ("合计", "Total"),
    "cumulative_row": ("累计合计", "Running total"),
    "capacity_row": ("可用地容量（累计）", "Capacity of candidate land (cumulative)"),
    "capacity_note": ("可用地容量 = 候选地块面积 × 容积率上限 ÷ 按指标加权的套均面积（{area} 平方米），按地块可供年份累计；红色表示累计指标超过可用地容量。",
                      "Capacity = candidate parcel area × maximum plot ratio ÷ the target-weighted average unit size "
                      "({area} m²), counted from each parcel's available year; red marks a year whose running total exceeds it."),
    "capacity_missing": ("暂时无法计算可用地容量：", "The capacity of the candidate land cannot be computed now:"),
    "capacity_by_district": ("各行政区可用地容量（累计套数）", "Capacity by district (cumulative units)"),
    "district": ("行政区", "District"),
    "zone": ("片区", "Zone"),
    "district_target": ("行政区指标（规划期合计）", "District target (whole plan)"),
    "zone_capacity": ("片区可用地容量（规划期末）", "Zone capacity (end of plan)"),
    "zone_target": ("片区指标", "Zone target"),
    "paste_title": ("粘贴表格", "Paste a table"),
    "paste_hint": ("从 Excel 复制类型 × 年度的表格（可含首行年份、首列类型名称），粘贴到此处后点“填入表格”。",
                   "Copy the type × year table from Excel (a first row of years and a first column of type names are "
                   "recognised), paste it here and press Fill the table."),
    "paste_apply": ("填入表格", "Fill the table"),
    "zones_title": ("片区指标", "Zone targets"),
    "districts_title": ("行政区指标", "District targets"),
    "areas_hint": ("填“规划期合计”，或逐年填写（逐年填写时合计可留空）。", "Give the whole-plan total, or one value per year (then the total may be left empty)."),
    "name": ("名称", "Name"),
    "plan_total": ("规划期合计", "Whole plan"),
    "add_row": ("添加一行", "Add a row"),
    "remove_row": ("删除", "Remove"),
    "from_file": ("当前指标读自文件 {file}。在此保存会把指标写入方案文件，此后不再读取该文件。",
                  "The targets are read from {file} now. Saving here writes them into the scenario file, which then "
                  "no longer reads that file."),
    "from_file_area": ("{what}读自文件 {file}；若在此修改并保存，将写入方案文件并不再读取该文件，未修改则继续读取。",
                       "{what} are read from {file}; if you change them here and save, they are written into the "
                       "scenario file and the file is no longer read; unchanged, it is still read."),
    "saved_problem": ("已保存，但方案文件目前无法运行：", "Saved, but the scenario cannot run as it stands:"),
    "not_saved": ("未保存：", "Not saved:"),
    "bad_cell": ("{what} {year}年：“{value}”不是 0 或以上的整数，请填写整数套数（没有则填 0）。",
                 "{what}, {year}: “{value}” is not a whole number of 0 or more; write whole units (0 if none)."),
    "empty_cell": ("{what} {year}年：未填写，请填写整数套数（没有则填 0）。", "{what}, {year}: empty; write whole units (0 if none)."),
    "bad_total": ("{what}：规划期合计“{value}”不是 0 或以上的整数。", "{what}: the whole-plan total “{value}” is not a whole number of 0 or more."),
    "bad_decrease": ("{what} {year}年：累计数 {value} 小于上一年的 {before}，累计数不能减少；请检查该年数值。",
                     "{what}, {year}: the running total {value} is below the year before ({before}); a running total cannot decrease."),
    "bad_area": ("{what}：套均面积“{value}”不是大于 0 的数字。", "{what}: the unit floor area “{value}” is not a number above 0."),
    "area_total_mismatch": ("{what}：逐年合计 {sum} 与规划期合计 {total} 不一致；请只填其一，或使二者一致。",
                            "{what}: the yearly values add up to {sum}, not the whole-plan total {total}; give one of them, or make them agree."),
    "area_no_name": ("{table}第 {row} 行有数字但没有名称，请填写名称或删除该行。", "{table}, row {row}: numbers without a name; name it or remove the row."),
    "area_duplicate": ("{table}：名称“{name}”出现了两次，请合并为一行。", "{table}: “{name}” appears twice; keep one row."),
    "area_partial": ("{what}：逐年数值只填了一部分，请每年都填写（没有则填 0），或只填规划期合计。",
                     "{what}: only some years are filled; fill every year (0 if none), or give the whole-plan total only."),
    "no_years": ("方案文件缺少有效的 [plan] first_year / last_year，无法列出年度：请先在“数据”页修正。",
                 "The scenario lacks a valid [plan] first_year / last_year, so the years cannot be listed; correct it on the Data page."),
    "no_types": ("方案文件尚未定义住房类型（[types]）。", "The scenario defines no housing type ([types]) yet."),
    "js_bad": ("请先改正标红的格子：", "Correct the cells marked red first:"),
    "paste_unknown": ("未识别的类型：", "Unknown housing type:"),
}


# ---------------------------------------------------------------------------- numbers


def _norm(text: str) -> str:
    """A cell as typed or pasted: full-width digits to ASCII (NFKC), thousands separators and spaces removed."""
    return re.sub(r"[,，\s]", "", unicodedata.normalize("NFKC", str(text)))


def whole(text: str) -> int | None:
    """A whole number of 0 or more from a cell ("1,200", "１２００", "1200.0"), else None (empty counts as None too)."""
    s = _norm(text)
    if not re.fullmatch(r"\d+(\.0*)?", s):
        return None
    return int(float(s))


def _positive(text: str) -> float | int | None:
    s = _norm(text)
    try:
        x = float(s)
    except ValueError:
        return None
    if not math.isfinite(x) or x <= 0:
        return None
    return int(x) if x.is_integer() else x


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------- what the file holds


@dataclass
class Area:
    """One row of the zones or districts table: a whole-plan total, or one value per year (as text, as shown)."""

    name: str
    total: str = ""
    yearly: list[str] = field(default_factory=list)


@dataclass
class Sheet:
    """What the page shows: the years, each type's row, the zones and districts, as text cells."""

    years: list[int]
    codes: list[str]
    labels: dict[str, str]
    cells: dict[str, list[str]]  # code -> one text per year (yearly or cumulative, as ``mode`` says)
    areas: dict[str, str]  # code -> unit floor area as text
    zones: list[Area]
    districts: list[Area]
    mode: str = "yearly"


def _plan_years(doc: ScenarioDoc) -> list[int]:
    first, last = doc.get("plan.first_year"), doc.get("plan.last_year")
    if isinstance(first, int) and isinstance(last, int) and first <= last <= first + 30:
        return list(range(first, last + 1))
    return []


def _type_label(code: str, raw: Any, lang: str) -> str:
    if isinstance(raw, dict) and raw.get("label"):
        return str(raw["label"])
    known = CATALOGUE.get(code)
    if known is None:
        return code
    return known.label_zh if lang == "zh" else known.label_en


def _areas_of(values: Any, n_years: int) -> list[Area]:
    out = []
    if isinstance(values, dict):
        for name, v in values.items():
            if isinstance(v, list):
                out.append(Area(str(name), "", [_shown(x) for x in v][:n_years] + [""] * max(0, n_years - len(v))))
            else:
                out.append(Area(str(name), _shown(v), [""] * n_years))
    return out


def read_sheet(doc: ScenarioDoc, lang: str) -> tuple[Sheet, str | None]:
    """The page's tables from the scenario as ``siteplan run`` reads it (targets files included); else from the raw file.

    Returns the sheet and the reader's message when the scenario does not read.
    """
    problem = None
    try:
        scenario = doc.scenario()
    except SiteplanError as err:
        problem = error_text(err)
        scenario = None
    if scenario is not None:
        years = scenario.years
        types = {code: {"label": t.label, "targets": list(t.targets), "unit_area_m2": t.unit_area_m2}
                 for code, t in scenario.types.items()}
        zones, districts = dict(scenario.zones), dict(scenario.districts)
    else:
        years = _plan_years(doc)
        raw = doc.get("types", {})
        types = raw if isinstance(raw, dict) else {}
        zones, districts = doc.get("zones", {}), doc.get("districts", {})
    n = len(years)
    codes = [c for c, t in types.items() if isinstance(t, dict)]
    cells, areas = {}, {}
    for code in codes:
        t = types[code]
        values = t.get("targets") if isinstance(t.get("targets"), list) else []
        cells[code] = ([_shown(v) for v in values] + [""] * n)[:n]
        areas[code] = _shown(t.get("unit_area_m2"))
    labels = {code: _type_label(code, types[code], lang) for code in codes}
    sheet = Sheet(years=years, codes=codes, labels=labels, cells=cells, areas=areas,
                  zones=_areas_of(zones, n), districts=_areas_of(districts, n))
    return sheet, problem


def target_files(doc: ScenarioDoc) -> dict[str, str]:
    """The files ``[targets]`` names: ``{"file": ..., "zones": ..., "districts": ...}`` (those given)."""
    spec = doc.get("targets")
    if isinstance(spec, str):
        return {"file": spec}
    if isinstance(spec, dict):
        return {k: str(spec[k]) for k in ("file", "zones", "districts") if spec.get(k)}
    return {}


# ---------------------------------------------------------------------------- capacity


def capacity(doc: ScenarioDoc) -> tuple[dict | None, str | None]:
    """Capacity of the candidate parcels by year and district, for the page; ``(None, message)`` when it cannot be computed.

    From the check the Data page shows too (:func:`siteplan.app.checks.check_cached`): run once per state of
    the scenario and the files it reads.
    """
    try:
        doc.scenario()
    except SiteplanError as err:
        return None, error_text(err)
    result = check_cached(doc.path)
    if result is None or result.report is None:
        return None, (result.error if result is not None else None) or "?"
    table = result.report.capacity
    if table is None:
        errors = [d.message for d in result.report.diagnostics if d.level == "error"]
        return None, "\n".join(errors[:5]) or "?"
    by = table.by_district
    years = list(table.years)
    return {
        "years": years,
        "unit_area_m2": round(float(table.unit_area_m2), 1),
        "total": [int(math.floor(float(by[y].sum()) + 1e-6)) for y in years],
        "districts": [{"name": str(name), "zone": "" if row["zone"] is None else str(row["zone"]),
                       "cap": [int(math.floor(float(row[y]) + 1e-6)) for y in years]}
                      for name, row in by.iterrows()],
    }, None


# ---------------------------------------------------------------------------- the page


def _page(request: Request, doc: ScenarioDoc | None, sheet: Sheet | None, *, problem: str | None = None,
          errors: list[str] | None = None, saved: bool = False, status_code: int = 200):
    cap, cap_message = (None, None)
    files: dict[str, str] = {}
    if doc is not None:
        cap, cap_message = capacity(doc)
        files = target_files(doc)
    names = {"zones": [], "districts": []}
    if sheet is not None:
        zones = [a.name for a in sheet.zones]
        districts = [a.name for a in sheet.districts]
        if cap is not None:
            zones += [d["zone"] for d in cap["districts"] if d["zone"]]
            districts += [d["name"] for d in cap["districts"]]
        names = {"zones": sorted(set(zones)), "districts": sorted(set(districts))}
    types_data = []
    if sheet is not None:
        for code in sheet.codes:
            aliases = [code, sheet.labels[code], *TYPE_ALIASES.get(code, ())]
            if code in CATALOGUE:
                aliases += [CATALOGUE[code].label_zh, CATALOGUE[code].label_en]
            types_data.append({"code": code, "names": aliases})
    return render(request, "targets.html", words=WORDS, status_code=status_code, doc=doc, sheet=sheet,
                  problem=problem, errors=errors or [], saved=saved, capacity=cap, capacity_message=cap_message,
                  files=files, names=names, page_data={"years": sheet.years if sheet else [], "types": types_data,
                                                       "capacity": cap})


@router.get("/targets")
def page(request: Request):
    ws = request.app.state.ws
    try:
        doc = ws.doc()
    except SiteplanError as err:
        return _page(request, None, None, problem=error_text(err))
    if doc is None:
        return _page(request, None, None)
    sheet, problem = read_sheet(doc, lang_of(request))
    return _page(request, doc, sheet, problem=problem, saved=request.query_params.get("saved") == "1")


def _posted_areas(form, prefix: str, years: list[int]) -> list[Area]:
    """The rows of an area table as posted: ``<prefix>.name.<i>``, ``<prefix>.total.<i>``, ``<prefix>.<i>.<year>``."""
    rows = []
    indexes = sorted({int(m.group(1)) for k in form.keys() if (m := re.fullmatch(rf"{prefix}\.name\.(\d+)", k))})
    for i in indexes:
        rows.append(Area(str(form.get(f"{prefix}.name.{i}", "")).strip(), str(form.get(f"{prefix}.total.{i}", "")).strip(),
                         [str(form.get(f"{prefix}.{i}.{y}", "")).strip() for y in years]))
    return rows


def _yearly(values: list[int | None], mode: str, what: str, years: list[int], t, errors: list[str]) -> list[int]:
    """Yearly values from the cells as entered: the differences of running totals in cumulative mode.

    ``None`` is a cell already refused; it counts as 0 and is not compared with its neighbours.
    """
    if mode != "cumulative":
        return [v or 0 for v in values]
    out, before = [], 0
    for year, value in zip(years, values):
        if value is None:
            out.append(0)
            continue
        if value < before:
            errors.append(t("bad_decrease", what=what, year=year, value=value, before=before))
        out.append(value - before)
        before = value
    return out


def _area_values(rows: list[Area], table: str, years: list[int], mode: str, t, errors: list[str]) -> dict[str, Any]:
    """``{name: total | [yearly...]}`` from the posted rows; problems appended to ``errors``."""
    out: dict[str, Any] = {}
    for i, row in enumerate(rows, start=1):
        filled = [c for c in row.yearly if c != ""]
        if not row.name:
            if row.total or filled:
                errors.append(t("area_no_name", table=table, row=i))
            continue
        what = f"{table} {row.name}"
        if row.name in out:
            errors.append(t("area_duplicate", table=table, name=row.name))
            continue
        total = None
        if row.total:
            total = whole(row.total)
            if total is None:
                errors.append(t("bad_total", what=what, value=row.total))
                continue
        if not filled:
            out[row.name] = total if total is not None else 0
            continue
        if len(filled) != len(years):
            errors.append(t("area_partial", what=what))
            continue
        values = []
        for year, cell in zip(years, row.yearly):
            v = whole(cell)
            if v is None:
                errors.append(t("bad_cell", what=what, year=year, value=cell))
            values.append(v)
        values = _yearly(values, mode, what, years, t, errors)
        if total is not None and sum(values) != total:
            errors.append(t("area_total_mismatch", what=what, sum=sum(values), total=total))
        out[row.name] = values
    return out


def _same_areas(new: dict[str, Any], old: list[Area]) -> bool:
    """Whether the posted areas say what the file read says (whole-plan and yearly forms compared as read)."""
    was = {}
    for a in old:
        was[a.name] = [whole(x) for x in a.yearly] if any(x != "" for x in a.yearly) else whole(a.total)
    return new == was


@router.post("/targets/save")
async def save(request: Request):
    ws = request.app.state.ws
    lang = lang_of(request)
    t = translator(lang, WORDS)
    try:
        doc = ws.doc()
    except SiteplanError as err:
        return _page(request, None, None, problem=error_text(err), status_code=400)
    if doc is None:
        return _page(request, None, None, status_code=400)
    form = await request.form()
    was, problem = read_sheet(doc, lang)
    years = was.years
    mode = "cumulative" if form.get("mode") == "cumulative" else "yearly"
    # what the planner typed, kept as typed for the page if it is refused
    posted = Sheet(years=years, codes=was.codes, labels=was.labels, mode=mode,
                   cells={c: [str(form.get(f"t.{c}.{y}", "")).strip() for y in years] for c in was.codes},
                   areas={c: str(form.get(f"u.{c}", was.areas.get(c, ""))).strip() for c in was.codes},
                   zones=_posted_areas(form, "zone", years), districts=_posted_areas(form, "district", years))
    errors: list[str] = []
    if not years:
        errors.append(t("no_years"))
    targets: dict[str, list[int]] = {}
    unit_areas: dict[str, float | int] = {}
    for code in was.codes:
        label = was.labels[code]
        values = []
        for year, cell in zip(years, posted.cells[code]):
            v = whole(cell)
            if v is None:
                errors.append(t("empty_cell", what=label, year=year) if cell == "" else
                              t("bad_cell", what=label, year=year, value=cell))
            values.append(v)
        targets[code] = _yearly(values, mode, label, years, t, errors)
        area = _positive(posted.areas[code])
        if area is None:
            errors.append(t("bad_area", what=label, value=posted.areas[code]))
        else:
            unit_areas[code] = area
    zones = _area_values(posted.zones, t("zones_title"), years, mode, t, errors)
    districts = _area_values(posted.districts, t("districts_title"), years, mode, t, errors)
    if errors:
        return _page(request, doc, posted, problem=problem, errors=errors, status_code=400)

    files = target_files(doc)
    for code, values in targets.items():
        doc.set(f"types.{code}.targets", values)
        doc.set(f"types.{code}.unit_area_m2", unit_areas[code])
    for what, values, old in (("zones", zones, was.zones), ("districts", districts, was.districts)):
        if what in files and _same_areas(values, old):
            continue  # still read from its file, unchanged
        if values:
            doc.set_table(what, values)
        else:
            doc.delete(what)
        if what in files:
            _drop_target_file(doc, what)
    if "file" in files:
        _drop_target_file(doc, "file")
    try:
        doc.save()
    except OSError as err:
        return _page(request, doc, posted, errors=[error_text(err)], status_code=400)
    return RedirectResponse("/targets?saved=1", status_code=303)


def _drop_target_file(doc: ScenarioDoc, key: str) -> None:
    """Stop reading ``[targets] <key>``; the whole ``[targets]`` table goes once it names no file."""
    spec = doc.get("targets")
    if isinstance(spec, str):
        if key == "file":
            doc.delete("targets")
        return
    doc.delete(f"targets.{key}")
    if key == "file":
        doc.delete("targets.sheet")  # the sheet belongs to the type file
    rest = doc.get("targets") or {}
    if not any(rest.get(k) for k in ("file", "zones", "districts")):
        doc.delete("targets")
