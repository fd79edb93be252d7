"""The Rules page (step 3): each rule of ``[rules]`` with its switch, its parameters and one sentence.

The parameters are read from the rule models of
:mod:`siteplan.inputs.settings` (their types and defaults), so a setting the
models know shows here with the input it needs: a number, a choice, a list
or a yes/no. Shares are shown as percentages and stored as fractions, as
the file writes them. The sentence is the report's own wording
(:func:`siteplan.outputs.wording.setting_text`), so the page and the report
say the same thing.

Saving writes only what changed, then reads the scenario back as ``siteplan
run`` would: a setting the reader refuses (a minimum share above the
maximum, say) is not saved, and the reader's message is shown beside the
planner's inputs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from ...errors import SiteplanError, error_text
from ...housing import CATALOGUE
from ...inputs.settings import Rules
from ...outputs.wording import section_title, setting_text
from ..scenario_doc import ScenarioDoc
from ..server import lang_of, render, translator

router = APIRouter()

WORDS: dict[str, tuple[str, str]] = {
    "rules_title": ("规则：布局须遵守的规划要求", "Rules: what the plan must respect"),
    "rules_hint": ("每条规则可开关；修改参数后点“保存”，下方的说明随之更新。比例按百分数填写。",
                   "Each rule can be switched on or off; change its settings and save, and its sentence follows. "
                   "Shares are given in per cent."),
    "on": ("启用", "on"),
    "off_tag": ("（未启用）", "(off) "),
    "always": ("始终适用", "always applies"),
    "in_file": ("在方案文件中修改", "edit in the scenario file"),
    "unit_sizes": ("套型面积", "Unit sizes"),
    "unit_sizes_note": ("各类型的套均建筑面积在“指标”页填写；政策上限：", "Each type's average unit floor area is set on the Targets page; policy caps:"),
    "unit_size_row": ("{label}：{area} 平方米（上限 {cap}）", "{label}: {area} m² (cap {cap})"),
    "no_cap": ("无上限", "none"),
    "to_targets": ("去“指标”页", "Go to Targets"),
    "not_saved": ("未保存：方案文件按此设置无法读取，请按提示修改：", "Not saved: the scenario would not read with these settings; correct as said:"),
    "bad_number": ("{rule}：{param}“{value}”不是数字，请填写数字。", "{rule}: {param} “{value}” is not a number; write a number."),
    "bad_whole": ("{rule}：{param}“{value}”不是整数，请填写整数。", "{rule}: {param} “{value}” is not a whole number; write a whole number."),
    "bad_list": ("{rule}：{param}中“{value}”不是数字。", "{rule}: {param} holds “{value}”, not a number."),
    "empty_needed": ("{rule}：{param}不能为空。", "{rule}: {param} cannot be empty."),
    "list_hint": ("多个值用逗号分隔", "separate values with commas"),
    "empty_default": ("留空表示不限", "leave empty for no limit"),
    "plot_ratio_none": ("各类型均按地块容积率建设，不使用容积率上限", "every type builds at the parcel's plot ratio, none at its upper bound"),
    "budget_none": ("尚未填写各年投资上限", "no yearly investment limit given yet"),
    "lock_in_none": ("无必选地块", "no parcel must be supplied"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    # the settings, by name (a rule's own wording first: "<rule>.<param>")
    "p.mode": ("约束方式", "Binding"),
    "p.upper_for": ("可使用容积率上限的类型", "Types that may use the upper plot ratio"),
    "p.min_share": ("每个行政区最低占比（%）", "Least share of each district (%)"),
    "p.max_share": ("每个行政区最高占比（%）", "Largest share of a district (%)"),
    "p.per_type": ("按各类型分别计算", "Per housing type"),
    "p.min_units": ("每个项目最少套数", "Least units per project"),
    "p.max_units": ("每个项目最多套数", "Most units per project"),
    "p.radius_m": ("半径（米）", "Radius (m)"),
    "radius_cap.max_units": ("圆内最多套数", "Most units in the disc"),
    "p.centres": ("圆心位置", "Disc centres"),
    "p.per_district_year": ("每个行政区每年新增项目上限", "New projects per district and year, at most"),
    "p.share": ("套数占比不低于（%）", "Share of units at least (%)"),
    "p.within_m": ("距离（米）", "Distance (m)"),
    "transit.within_m": ("距已开通地铁站距离（米）", "Distance to an open metro station (m)"),
    "services.within_m": ("距公共服务设施距离（米）", "Distance to services (m)"),
    "parks.within_m": ("距产业园区距离（米）", "Distance to an industrial park (m)"),
    "p.lead_years": ("站点提前计入年数", "Years a station counts before it opens"),
    "p.share_by_type": ("分类型占比", "Share by type"),
    "p.groups": ("须同时覆盖的设施", "Services required together"),
    "p.per_year": ("逐年计算", "Each year"),
    "p.types": ("适用的住房类型", "Housing types"),
    "inclusionary.types": ("配建的住房类型", "Types carried by commercial projects"),
    "p.proportional": ("各园区按就业人数分配", "In proportion to each park's workers"),
    "p.status": ("配建地块的状态", "Status of the parcels that carry it"),
    "p.ratio": ("配建比例（%）", "Inclusionary share (%)"),
    "p.max_ratio": ("配建比例上限（%）", "Inclusionary share at most (%)"),
    "p.parcel_ids": ("地块编号", "Parcel ids"),
    "p.metro_depot": ("地铁上盖地块必须供应", "Metro depot parcels must be supplied"),
    "p.where": ("按地块字段条件", "By parcel fields"),
    "p.constraint_kinds": ("限制区类型", "Constraint kinds"),
    "p.min_overlap": ("重叠超过地块面积的比例（%）", "Overlap above this share of the parcel (%)"),
    "p.per_year_yi_yuan": ("各年投资上限（亿元，逐年，用逗号分隔）", "Yearly investment limit (100 million yuan, one per year, comma-separated)"),
    # choices
    "c.exact": ("等于目标", "exactly the target"),
    "c.at_least": ("不少于目标", "at least the target"),
    "c.anywhere": ("任意位置", "anywhere"),
    "c.projects": ("选用地块周边（较弱）", "around used parcels (weaker)"),
    "c.school": ("学校", "school"),
    "c.clinic": ("医疗卫生设施", "clinic"),
    "c.market": ("菜市场", "market"),
    "c.park": ("公园", "park"),
}

#: Rules absent from the default scenario: switching one on creates its table.
OPTIONAL = ("district_share", "radius_cap", "max_projects", "services", "parks", "inclusionary", "budget")

#: The seed plans' values, where a rule switched on should start from them rather than the settings' defaults.
#: They agree with the defaults today (配建 5%, metro 800 m); kept here so that a change to either is seen.
SEED_DEFAULTS: dict[str, dict[str, Any]] = {"inclusionary": {"ratio": 0.05}, "transit": {"within_m": 800}}

_SHARES = ("share", "min_share", "max_share", "ratio", "max_ratio", "min_overlap")


def _strip(ann: Any) -> Any:
    while get_origin(ann) is Annotated:
        ann = get_args(ann)[0]
    return ann


@dataclass
class Param:
    """One setting of a rule and the input it takes."""

    rule: str
    name: str
    kind: str  # share, int, float, bool, choice, choices, typelist, list, numbers, text, fixed
    default: Any
    optional: bool  # empty means "not set" (None)
    choices: tuple = ()

    @property
    def field(self) -> str:
        return f"r.{self.rule}.{self.name}"


def _param(rule: str, name: str, info) -> Param:
    ann = _strip(info.annotation)
    optional = False
    if get_origin(ann) in (Union, UnionType) and type(None) in get_args(ann):
        optional = True
        ann = _strip(next(a for a in get_args(ann) if a is not type(None)))
    default = None if info.is_required() else info.get_default()
    origin = get_origin(ann)
    if name in _SHARES:
        kind, choices = "share", ()
    elif ann is bool:
        kind, choices = "bool", ()
    elif origin is Literal:
        kind, choices = "choice", get_args(ann)
    elif origin is list:
        inner = _strip(get_args(ann)[0])
        if get_origin(inner) is Literal:
            kind, choices = "choices", get_args(inner)
        elif name in ("upper_for", "types"):
            kind, choices = "typelist", ()
        elif inner in (int, float):
            kind, choices = "numbers", ()
        else:
            kind, choices = "list", ()
    elif origin is dict:
        kind, choices = "fixed", ()
    elif ann is int:
        kind, choices = "int", ()
    elif ann is float:
        kind, choices = "float", ()
    else:
        kind, choices = "text", ()
    return Param(rule, name, kind, default, optional, choices)


def _model(name: str) -> type[BaseModel]:
    ann = Rules.model_fields[name].annotation
    if get_origin(ann) in (Union, UnionType):
        ann = next(a for a in get_args(ann) if a is not type(None))
    return ann


#: Every rule, in the file's order: (name, its model, its settings other than ``enabled``).
RULES: list[tuple[str, type[BaseModel], list[Param]]] = [
    (name, _model(name), [_param(name, p, info) for p, info in _model(name).model_fields.items() if p != "enabled"])
    for name in Rules.model_fields
]


def _default(param: Param, codes: list[str]) -> Any:
    """A setting's starting value: the seed plans' where they differ, type lists cut to the scenario's types."""
    value = SEED_DEFAULTS.get(param.rule, {}).get(param.name, param.default)
    if param.kind == "typelist" and isinstance(value, list):
        value = [c for c in value if c in codes]
    return value


def _number_out(x: float) -> int | float:
    """A number as the file writes it: an int when it is whole."""
    return int(x) if float(x).is_integer() else float(x)


def _pct(value: Any) -> str:
    return "" if value is None else f"{float(value) * 100:.6g}"


def _display(param: Param, value: Any) -> Any:
    """A value as its input shows it."""
    if param.kind == "share":
        return _pct(value)
    if param.kind == "bool":
        return "true" if value else "false"
    if param.kind in ("typelist", "choices"):
        return list(value or [])
    if param.kind in ("list", "numbers"):
        return ", ".join(str(_number_out(v)) if isinstance(v, float) else str(v) for v in (value or []))
    if param.kind in ("int", "float"):
        return "" if value is None else str(_number_out(value))
    return "" if value is None else value


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


def _split(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,，、;；\s]+", _norm(text)) if p.strip()]


class Refused(ValueError):
    """A setting as typed that cannot be a value (the message names the rule and setting)."""


def _parse(param: Param, form, t, lang: str) -> Any:
    """The value of a setting from the form, as the file writes it; :class:`Refused` when it is not one."""
    words = dict(rule=section_title(param.rule, lang), param=_param_label(param, t))
    if param.kind in ("typelist", "choices"):
        return [v for v in form.getlist(param.field) if v]
    raw = _norm(form.get(param.field, ""))
    if param.kind == "bool":
        return raw == "true"
    if param.kind in ("choice", "text"):
        return raw
    if param.kind == "list":
        return _split(raw)
    if param.kind == "numbers":
        out = []
        for part in _split(raw):
            try:
                out.append(_number_out(float(part.replace(",", ""))))
            except ValueError:
                raise Refused(t("bad_list", value=part, **words)) from None
        return out
    text = raw.removesuffix("%").replace(",", "").strip()
    if text == "":
        if param.optional:
            return None
        raise Refused(t("empty_needed", **words))
    try:
        x = float(text)
    except ValueError:
        raise Refused(t("bad_number", value=raw, **words)) from None
    if param.kind == "share":
        return _number_out(round(x / 100, 10))
    if param.kind == "int":
        if not x.is_integer():
            raise Refused(t("bad_whole", value=raw, **words))
        return int(x)
    return _number_out(x)


def _param_label(param: Param, t) -> str:
    key = f"{param.rule}.{param.name}"
    return t(key) if key in WORDS else t(f"p.{param.name}")


# ---------------------------------------------------------------------------- the page


def _label_of(doc: ScenarioDoc, lang: str):
    types = doc.get("types", {}) or {}

    def label(code: str) -> str:
        t = types.get(code) if isinstance(types, dict) else None
        if isinstance(t, dict) and t.get("label"):
            return str(t["label"])
        known = CATALOGUE.get(code)
        return code if known is None else (known.label_zh if lang == "zh" else known.label_en)

    return label


def _boxes(doc: ScenarioDoc, lang: str, t, posted: dict | None = None) -> list[dict]:
    """Each rule as the page shows it: switch, settings (from the file, or as posted) and its sentence (from the file)."""
    types = doc.get("types", {}) or {}
    codes = [c for c in types] if isinstance(types, dict) else []
    label = _label_of(doc, lang)
    boxes = []
    for name, model, params in RULES:
        table = doc.get(f"rules.{name}")
        present = isinstance(table, dict)
        table = table if present else {}
        switch = "enabled" in model.model_fields
        on = bool(table.get("enabled", True)) if present else name not in OPTIONAL
        settings = {p.name: table.get(p.name, _default(p, codes)) for p in params}
        sentence = _sentence(name, settings, lang, label, t)
        fields = []
        for p in params:
            value = posted["values"][p.field] if posted and p.field in posted["values"] else _display(p, settings[p.name])
            choices = p.choices
            if p.kind == "typelist":
                choices = tuple(dict.fromkeys([*codes, *value]))
            fields.append({"param": p, "label": _param_label(p, t), "value": value, "choices": choices,
                           "fixed_text": setting_text(name, {p.name: settings[p.name]}, lang, label)
                           if p.kind == "fixed" and settings[p.name] else ""})
        if posted and switch:
            on = posted["on"].get(name, on)
        boxes.append({"name": name, "title": section_title(name, lang), "switch": switch, "on": on,
                      "saved_on": bool(table.get("enabled", True)) if present else name not in OPTIONAL,
                      "sentence": sentence, "fields": fields, "label": label})
    return boxes


def _sentence(name: str, settings: dict, lang: str, label, t) -> str:
    settings = {k: v for k, v in settings.items() if v is not None}
    try:
        return _words(name, settings, lang, label, t)
    except (TypeError, ValueError, AttributeError):  # a value of the wrong kind in the file: its problem is shown above
        return "; ".join(f"{k} = {v}" for k, v in settings.items())


def _words(name: str, settings: dict, lang: str, label, t) -> str:
    if name == "plot_ratio" and not settings.get("upper_for"):
        return t("plot_ratio_none")
    if name == "budget" and not settings.get("per_year_yi_yuan"):
        return t("budget_none")
    if name == "lock_in" and not (settings.get("parcel_ids") or settings.get("metro_depot") or settings.get("where")):
        return t("lock_in_none")
    return setting_text(name, settings, lang, label)


def _unit_sizes(doc: ScenarioDoc, lang: str, t) -> list[str]:
    types = doc.get("types", {}) or {}
    label = _label_of(doc, lang)
    rows = []
    for code, ty in (types.items() if isinstance(types, dict) else []):
        if not isinstance(ty, dict):
            continue
        known = CATALOGUE.get(code)
        cap = f"{known.max_unit_area_m2:g}" if known and known.max_unit_area_m2 else t("no_cap")
        area = ty.get("unit_area_m2")
        rows.append(t("unit_size_row", label=label(code), area=f"{area:g}" if isinstance(area, (int, float)) else "?", cap=cap))
    return rows


def _page(request: Request, doc: ScenarioDoc | None, *, posted: dict | None = None, refused: str | None = None,
          errors: list[str] | None = None, problem: str | None = None, saved: bool = False, status_code: int = 200):
    lang = lang_of(request)
    t = translator(lang, WORDS)
    boxes = _boxes(doc, lang, t, posted) if doc is not None else []
    sizes = _unit_sizes(doc, lang, t) if doc is not None else []
    return render(request, "rules.html", words=WORDS, status_code=status_code, doc=doc, boxes=boxes, sizes=sizes,
                  refused=refused, errors=errors or [], problem=problem, saved=saved)


@router.get("/rules")
def page(request: Request):
    ws = request.app.state.ws
    try:
        doc = ws.doc()
    except SiteplanError as err:
        return _page(request, None, problem=error_text(err))
    problem = doc.problem() if doc is not None else None
    return _page(request, doc, problem=problem, saved=request.query_params.get("saved") == "1")


def _lines(problem: str | None) -> set[str]:
    """The reader's problems, one a line, without the heading that counts them."""
    if not problem:
        return set()
    return {line.strip() for line in problem.splitlines()[1:] if line.strip()} or {problem.strip()}


@router.post("/rules/save")
async def save(request: Request):
    ws = request.app.state.ws
    lang = lang_of(request)
    t = translator(lang, WORDS)
    try:
        doc = ws.doc()
    except SiteplanError as err:
        return _page(request, None, problem=error_text(err), status_code=400)
    if doc is None:
        return _page(request, None, status_code=400)
    form = await request.form()
    before = doc.problem()
    codes = list(doc.get("types", {}) or {})
    # what the planner typed, kept to show again if the file refuses it
    posted = {"values": {}, "on": {}}
    for name, model, params in RULES:
        if "enabled" in model.model_fields:
            posted["on"][name] = form.get(f"on.{name}") == "on"
        for p in params:
            if p.kind == "fixed":
                continue
            posted["values"][p.field] = ([v for v in form.getlist(p.field) if v] if p.kind in ("typelist", "choices")
                                         else str(form.get(p.field, "")))
    errors: list[str] = []
    for name, model, params in RULES:
        table = doc.get(f"rules.{name}")
        present = isinstance(table, dict)
        table = table if present else {}
        switch = "enabled" in model.model_fields
        on = posted["on"].get(name, True)
        if switch and not present and name in OPTIONAL and not on:
            continue  # off and absent: nothing to write
        creating = switch and not present and name in OPTIONAL  # switched on: its table, with every setting written
        values = {}
        for p in params:
            if p.kind == "fixed":
                continue
            try:
                values[p.name] = (p, _parse(p, form, t, lang))
            except Refused as err:
                errors.append(str(err))
        if errors:
            continue
        for p, value in values.values():
            key = f"rules.{name}.{p.name}"
            if p.name in table:
                if value is None:
                    doc.delete(key)
                else:
                    doc.set(key, value)  # unchanged: the line stays as it was
            elif creating:
                if value is not None and value != [] and value != "":
                    doc.set(key, value)
            elif value != _default(p, codes) and value is not None:
                doc.set(key, value)
        if creating:
            doc.space_after(f"rules.{name}")
        if switch and not creating:
            was_on = bool(table.get("enabled", True)) if present else True
            if on != was_on or "enabled" in table:
                doc.set(f"rules.{name}.enabled", on)
    if errors:
        return _page(request, ws.doc(), posted=posted, errors=errors, status_code=400)
    after = doc.problem()
    if after is not None and not _lines(after) <= _lines(before):
        fresh = ws.doc()  # the file as it is: the sentences say what still holds
        return _page(request, fresh, posted=posted, refused=after, status_code=400)
    try:
        doc.save()
    except OSError as err:
        return _page(request, doc, posted=posted, errors=[error_text(err)], status_code=400)
    return RedirectResponse("/rules?saved=1", status_code=303)
