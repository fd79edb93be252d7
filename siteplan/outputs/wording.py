"""The report's words: each rule, setting and rule result as a planner writes them, in Chinese with the English beside.

``report.html`` shows a plan's rules three times: the scenario's rule
settings (:func:`setting_text`, keyed by the ``[rules.*]`` section and
setting), each rule's description in the compliance table
(:func:`describe`, keyed by the rule's name, read from the rule the plan
was built with) and what each rule required and achieved
(:func:`result_text`, the English of ``compliance.csv`` put into Chinese).
Every wording is a pair ``(zh, en)``; the English says the same in a
planner's words, never Python (``upper_for = ['public_rental']``).

``label`` arguments turn a housing-type code into its display name (the
scenario's ``type_label``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

__all__ = ["RULE_TITLES", "SECTION_TITLES", "SETTING_WORDS", "ROLE_LABELS", "rule_title", "section_title", "describe",
           "setting_text", "result_text", "role_label", "status_label", "method_text", "STATUS_LABELS"]

Label = Callable[[str], str]

#: Each rule of the compliance table (``Rule.name``): (zh, en).
RULE_TITLES: dict[str, tuple[str, str]] = {
    "one_supply_year": ("一地一年", "One supply year per parcel"),
    "available_year": ("土地可供年份", "Land availability"),
    "plot_ratio": ("容积率", "Plot ratio"),
    "yearly_targets": ("年度目标", "Yearly targets"),
    "unit_sizes": ("套型面积", "Unit sizes"),
    "zone_targets": ("片区目标", "Zone targets"),
    "district_targets": ("行政区目标", "District targets"),
    "district_share": ("行政区占比", "District shares"),
    "project_size": ("项目规模", "Project size"),
    "radius_cap": ("集中度上限", "Concentration cap"),
    "max_projects": ("新增项目数上限", "New projects per district"),
    "transit_access": ("轨道交通站点覆盖", "Metro access"),
    "service_access": ("公共服务设施覆盖", "Service access"),
    "park_workers": ("产业园区职住平衡", "Housing near industrial parks"),
    "inclusionary": ("商品住房配建", "Inclusionary share"),
    "lock_out": ("禁用地块", "Parcels locked out"),
    "lock_in": ("必选地块", "Parcels locked in"),
    "budget": ("年度投资", "Yearly budget"),
}

#: Each ``[rules.*]`` section of a scenario: (zh, en).
SECTION_TITLES: dict[str, tuple[str, str]] = {
    "yearly_targets": ("年度目标", "Yearly targets"),
    "plot_ratio": ("容积率", "Plot ratio"),
    "zone_targets": ("片区、行政区目标", "Zone and district targets"),
    "district_share": ("行政区占比", "District shares"),
    "project_size": ("项目规模", "Project size"),
    "radius_cap": ("集中度上限", "Concentration cap"),
    "max_projects": ("新增项目数上限", "New projects per district"),
    "transit": ("轨道交通站点覆盖", "Metro access"),
    "services": ("公共服务设施覆盖", "Service access"),
    "parks": ("产业园区职住平衡", "Housing near industrial parks"),
    "inclusionary": ("商品住房配建", "Inclusionary share"),
    "lock_in": ("必选地块", "Parcels locked in"),
    "lock_out": ("禁用地块", "Parcels locked out"),
    "budget": ("年度投资", "Yearly budget"),
}

#: Each setting, ``(section, key)``: (zh, en) phrases with ``{}`` for its value as :func:`_value` writes it.
SETTING_WORDS: dict[tuple[str, str], tuple[str, str]] = {
    ("yearly_targets", "mode"): ("各类型各年度套数{}年度目标", "units per type and year {} the target"),
    ("plot_ratio", "upper_for"): ("{}可使用容积率上限", "{} may build up to the parcel's upper plot ratio"),
    ("zone_targets", "mode"): ("各片区、行政区套数{}目标", "units per zone and district {} the target"),
    ("district_share", "min_share"): ("每个行政区不少于{}", "each district at least {}"),
    ("district_share", "max_share"): ("不超过{}", "at most {}"),
    ("district_share", "per_type"): ("{}", "{}"),
    ("project_size", "min_units"): ("每个新增项目不少于{}套", "each new project at least {} units"),
    ("project_size", "max_units"): ("不超过{}套", "at most {} units"),
    ("radius_cap", "radius_m"): ("半径{}米的圆内", "in a disc of radius {} m"),
    ("radius_cap", "max_units"): ("不超过{}套", "at most {} units"),
    ("radius_cap", "centres"): ("{}", "{}"),
    ("max_projects", "per_district_year"): ("每个行政区每年新增项目不超过{}个", "at most {} new projects per district and year"),
    ("transit", "share"): ("每年不少于{}的套数", "at least {} of each year's units"),
    ("transit", "within_m"): ("位于供地当年已开通轨道站点{}米范围内", "within {} m of a station open in the supply year"),
    ("transit", "lead_years"): ("站点可提前{}年计入", "stations count {} years before they open"),
    ("transit", "share_by_type"): ("其中{}", "of which {}"),
    ("services", "share"): ("不少于{}的套数", "at least {} of units"),
    ("services", "within_m"): ("位于{}米范围内", "within {} m"),
    ("services", "groups"): ("须同时覆盖{}", "of a {}"),
    ("services", "per_year"): ("{}", "{}"),
    ("parks", "types"): ("{}", "{}"),
    ("parks", "share"): ("不少于{}的套数", "at least {} of units"),
    ("parks", "within_m"): ("位于产业园区{}米范围内", "within {} m of an industrial park"),
    ("parks", "proportional"): ("{}", "{}"),
    ("inclusionary", "status"): ("{}地块", "parcels of status {}"),
    ("inclusionary", "ratio"): ("配建住宅建筑面积的{}", "carry {} of their residential floor area"),
    ("inclusionary", "max_ratio"): ("至多{}", "at most {}"),
    ("inclusionary", "types"): ("作为{}", "as {}"),
    ("lock_in", "parcel_ids"): ("指定地块{}", "parcels {}"),
    ("lock_in", "metro_depot"): ("{}", "{}"),
    ("lock_in", "where"): ("{}", "{}"),
    ("lock_out", "parcel_ids"): ("指定地块{}", "parcels {}"),
    ("lock_out", "where"): ("{}", "{}"),
    ("lock_out", "constraint_kinds"): ("与{}重叠的地块不予使用", "parcels overlapping {} are not used"),
    ("lock_out", "min_overlap"): ("重叠超过地块面积{}时", "when the overlap exceeds {} of the parcel"),
    ("budget", "per_year_yi_yuan"): ("各年投资不超过{}", "investment per year at most {}"),
}

#: A parcel's role (``role`` in the exports): (zh, en).
ROLE_LABELS: dict[str, tuple[str, str]] = {"new": ("新增", "new land"), "inclusionary": ("配建", "inclusionary share")}

#: A parcel's status (``status`` of the parcels layer): (zh, en).
STATUS_LABELS: dict[str, tuple[str, str]] = {"reserve": ("储备用地", "reserve"), "commercial": ("商品住房用地", "commercial"),
                                             "committed": ("已安排用地", "committed"), "excluded": ("不可用地", "excluded")}
#: Fields a lock's ``where`` names: (zh, en).
_FIELDS = {"metro_depot": ("地铁上盖", "metro depot"), "land_use": ("用地性质", "land use"), "status": ("地块状态", "status"),
           "district": ("行政区", "district"), "zone": ("片区", "zone"), "parcel_id": ("地块编号", "parcel id")}
_MODE = {"exact": ("等于", "equal"), "at_least": ("不少于", "at least")}
_GROUPS = {"school": ("学校", "school"), "clinic": ("医疗卫生设施", "clinic"), "market": ("菜市场", "market"),
           "park": ("公园", "park"), "hospital": ("医院", "hospital"), "culture": ("文化设施", "cultural venue")}
_KINDS = {"ecological_redline": ("生态保护红线", "ecological red lines"), "flood_zone": ("洪涝风险区", "flood zones")}
_COLUMNS = {"district": ("行政区", "district"), "zone": ("片区", "zone")}
_METHODS = {"lp-dive": ("线性松弛下潜取整", "LP relaxation and dive"), "mip": ("混合整数规划", "mixed-integer programme"),
            "mip+least-shortfall": ("混合整数规划（最小缺口）", "mixed-integer programme (least shortfall)")}


def _zh(lang: str) -> bool:
    return lang != "en"


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if _zh(lang) else pair[1]


def _plain(label: Label | None) -> Label:
    return label if label is not None else str


def rule_title(name: str, lang: str = "zh") -> str:
    """A rule's name in the report's language (its code when unknown)."""
    return _pick(RULE_TITLES[name], lang) if name in RULE_TITLES else name


def section_title(section: str, lang: str = "zh") -> str:
    """A ``[rules.*]`` section's name in the report's language (its key when unknown)."""
    return _pick(SECTION_TITLES[section], lang) if section in SECTION_TITLES else section


def role_label(role: object, lang: str = "zh") -> str:
    """``new`` -> 新增, ``inclusionary`` -> 配建; comma-joined roles each; anything else as it is."""
    parts = [p.strip() for p in str(role).split(",") if p.strip()]
    return ("、" if _zh(lang) else ", ").join(_pick(ROLE_LABELS[p], lang) if p in ROLE_LABELS else p for p in parts)


def status_label(status: object, lang: str = "zh") -> str:
    """A parcel status in words, its code beside (储备用地（reserve）); an unknown status as it is."""
    s = str(status)
    if s not in STATUS_LABELS:
        return s
    return f"{STATUS_LABELS[s][0]}（{s}）" if _zh(lang) else s


def method_text(method: str, lang: str = "zh") -> str:
    """The solver's method in words."""
    return _pick(_METHODS[method], lang) if method in _METHODS else method


def _share(v: float) -> str:
    return f"{100 * float(v):.4g}%"


def _num(v: float) -> str:
    return f"{float(v):,.0f}" if float(v) == round(float(v)) else f"{float(v):,.4g}"


def _list(values: Iterable[str], lang: str, *, last: str | None = None) -> str:
    values = list(values)
    if _zh(lang):
        return "、".join(values)
    if last and len(values) > 1:
        return ", ".join(values[:-1]) + f" {last} " + values[-1]
    return ", ".join(values)


def _where(where: Mapping[str, Iterable], lang: str) -> str:
    """``{"metro_depot": [True]}`` as 地块字段 metro_depot 为 是."""
    parts = []
    for k, vals in where.items():
        field = _pick(_FIELDS.get(k, (k, k)), lang)
        if list(vals) == [True]:
            parts.append(f"{field}地块" if _zh(lang) else f"{field} parcels")
            continue
        shown = _list((_yes(v, lang) if isinstance(v, bool) else status_label(v, lang) if k == "status" else str(v)
                       for v in vals), lang, last="or")
        parts.append(f"{field}为{shown}的地块" if _zh(lang) else f"parcels whose {field} is {shown}")
    return ("；" if _zh(lang) else "; ").join(parts)


def _yes(v: bool, lang: str) -> str:
    return ("是" if v else "否") if _zh(lang) else ("yes" if v else "no")


def _types(codes: Iterable[str], lang: str, label: Label) -> str:
    return _list((label(c) for c in codes), lang, last="and")


#: (zh, en) of the settings that are switches and say something only when on.
_FLAG_WORDS: dict[str, tuple[str, str]] = {
    "per_year": ("逐年计算", "each year"),
    "proportional": ("各园区按就业人数分配", "each park in proportion to its workers"),
    "metro_depot": ("地铁上盖地块必须供应", "metro depot parcels must be supplied"),
}


def _value(section: str, key: str, value: object, lang: str, label: Label) -> str | None:
    """One setting's value in words, or ``None`` when it says nothing (an empty list, a default off)."""
    zh = _zh(lang)
    if key == "mode":
        return _pick(_MODE.get(str(value), (str(value), str(value))), lang)
    if key == "min_overlap" and not value:
        return None
    if key in ("share", "min_share", "max_share", "ratio", "max_ratio", "min_overlap"):
        return _share(value)  # type: ignore[arg-type]
    if key in ("within_m", "radius_m", "min_units", "max_units", "per_district_year", "lead_years"):
        return None if (key == "lead_years" and not value) else _num(value)  # type: ignore[arg-type]
    if key in ("upper_for", "types"):
        if not value:
            return None
        return _types(value, lang, label)  # type: ignore[arg-type]
    if key == "groups":
        return _list((_pick(_GROUPS.get(g, (g, g)), lang) for g in value), lang, last="and a")  # type: ignore[union-attr]
    if key == "constraint_kinds":
        return _list((_pick(_KINDS.get(k, (k, k)), lang) for k in value), lang, last="or") if value else None  # type: ignore[union-attr]
    if key == "share_by_type":
        if not value:
            return None
        return _list((f"{label(t)}不少于{_share(v)}" if zh else f"at least {_share(v)} of {label(t)}"
                      for t, v in value.items()), lang)  # type: ignore[union-attr]
    if key == "centres":  # the radius cap's discs: anywhere (the focal sum a planner runs), or around used parcels
        if value == "projects":
            return "圆心为选用地块（较弱的规则）" if zh else "the disc centred on a used parcel (the weaker rule)"
        return "圆心可在任意位置" if zh else "the disc anywhere"
    if key == "per_type":
        return ("按各类型分别计算" if value else "按全部套数计算") if zh else ("of each type's units" if value else "of the plan's units")
    if key in _FLAG_WORDS:  # a switch that says something only when on
        return _pick(_FLAG_WORDS[key], lang) if value else None
    if key == "parcel_ids":
        if not value:
            return None
        ids = list(value)  # type: ignore[call-overload]
        shown = _list(ids[:5], lang) + ("等" if zh else ", ...") * (len(ids) > 5)
        return f"{shown}（{len(ids)} 块）" if zh else f"{shown} ({len(ids)})"
    if key == "where":
        return _where(value, lang) if value else None  # type: ignore[arg-type]
    if key == "per_year_yi_yuan":
        return " / ".join(f"{float(v):,.2f}" for v in value) + (" 亿元" if zh else " × 100 million yuan")  # type: ignore[union-attr]
    if key == "status":
        return status_label(value, lang)
    if isinstance(value, bool):
        return _yes(value, lang)
    if value in (None, [], {}):
        return None
    return str(value)


def setting_text(section: str, settings: Mapping[str, object], lang: str = "zh", label: Label | None = None) -> str:
    """One ``[rules.*]`` section's settings as a planner writes them.

    >>> setting_text("plot_ratio", {"upper_for": ["public_rental"]}, "zh", {"public_rental": "公共租赁住房"}.get)
    '公共租赁住房可使用容积率上限'
    >>> setting_text("district_share", {"min_share": 0.03, "max_share": 0.2, "per_type": False}, "zh")
    '每个行政区不少于3%，不超过20%，按全部套数计算'
    """
    label = _plain(label)
    phrases = []
    for key, value in settings.items():
        if key == "enabled":
            continue
        text = _value(section, key, value, lang, label)
        if text is None:
            continue
        words = SETTING_WORDS.get((section, key))
        phrases.append(_pick(words, lang).format(text) if words else f"{key}: {text}")
    if not phrases:
        return "按默认设置" if _zh(lang) else "as by default"
    return ("，" if _zh(lang) else "; ").join(phrases)


def describe(rule: object, lang: str = "zh", label: Label | None = None) -> str | None:
    """What a rule of the plan requires, in the report's language, from the rule itself.

    ``rule`` is one of ``plan.problem.rules`` (a name and its parameters);
    ``None`` when the rule is unknown here (the caller shows the rule's own
    ``describe()``).
    """
    label = _plain(label)
    name = getattr(rule, "name", rule)
    zh = _zh(lang)
    g = lambda attr, default=None: getattr(rule, attr, default)  # noqa: E731
    col = _pick(_COLUMNS.get(str(g("column", "district")), (str(g("column")),) * 2), lang)
    if name == "one_supply_year":
        return "每块地至多在一个年份供应" if zh else "each parcel is supplied in one year at most"
    if name == "available_year":
        return "地块不早于其可供年份使用" if zh else "no parcel is used before its land is available"
    if name == "plot_ratio":
        upper = g("upper_for", ())
        base = "建筑面积不超过地块面积 × 容积率" if zh else "floor area at most parcel area × plot ratio"
        if upper:
            base += ("；" + setting_text("plot_ratio", {"upper_for": upper}, lang, label)) if zh else \
                f"; {setting_text('plot_ratio', {'upper_for': upper}, lang, label)}"
        return base
    if name == "yearly_targets":
        return setting_text("yearly_targets", {"mode": g("mode", "exact")}, lang)
    if name in ("zone_targets", "district_targets"):
        op = _pick(_MODE.get(str(g("mode", "at_least")), ("", "")), lang)
        return f"各{col}套数{op}目标" if zh else f"units per {col} {op} the target"
    if name == "unit_sizes":
        caps = g("caps", {}) or {}
        shown = _list((f"{label(t)}不超过{c:g}平方米" if zh else f"{label(t)} at most {c:g} m²" for t, c in caps.items()), lang)
        per = g("min_m2_per_person", 5.0)
        if zh:
            return f"套均建筑面积符合政策上限（{shown or '无上限'}）；宿舍型每人不少于{per:g}平方米"
        return f"average unit floor area within the policy caps ({shown or 'none'}); dormitories at least {per:g} m² per person"
    if name == "budget":
        return "各年投资不超过年度预算" if zh else "investment each year within the budget"
    if name in ("lock_out", "lock_in"):
        parts = []
        ids = g("parcel_ids", ()) or ()
        if ids:
            parts.append(f"指定地块 {len(ids)} 块" if zh else f"{len(ids)} named parcels")
        if g("where"):
            parts.append(_where(g("where"), lang))
        if g("polygons") is not None:
            parts.append(f"限制区 {len(g('polygons'))} 处" if zh else f"{len(g('polygons'))} constraint areas")
        what = "; ".join(parts) if not zh else "；".join(parts)
        if name == "lock_out":
            return f"不予使用：{what or '无'}" if zh else f"not used: {what or 'none'}"
        return f"必须供应：{what or '无'}" if zh else f"must be supplied: {what or 'none'}"
    if name == "inclusionary":
        lo, hi = g("ratio", 0.05), g("upper", g("ratio", 0.05))
        span = _share(lo) if hi == lo else f"{_share(lo)}-{_share(hi)}"
        types = _types(g("types", ()), lang, label) or ("任一保障类型" if zh else "any type")
        return (f"商品住房项目按住宅建筑面积的{span}配建{types}" if zh
                else f"commercial projects carry {span} of their residential floor area as {types}")
    if name == "project_size":
        hi = g("max_units")
        if zh:
            return f"每个新增项目{_num(g('min_units', 0))}套至{_num(hi) + '套' if hi is not None else '不限'}"
        return f"units per new project between {_num(g('min_units', 0))} and {_num(hi) if hi is not None else 'no limit'}"
    if name == "district_share":
        of = _value("district_share", "per_type", g("per_type", False), lang, label)
        lo, hi = _share(g("min_share", 0.0)), _share(g("max_share", 1.0))
        return f"每个{col}占{lo}至{hi}（{of}）" if zh else f"every {col} gets {lo}-{hi} {of}"
    if name == "radius_cap":
        r, n = _num(g("radius_m", 1000.0)), _num(g("max_units", 4000))
        if g("centres", "anywhere") == "projects":
            return f"任一选用地块周边{r}米范围内不超过{n}套" if zh else f"at most {n} units within {r} m of any used parcel"
        return f"任意位置半径{r}米的圆内不超过{n}套" if zh else f"at most {n} units in any disc of radius {r} m, anywhere"
    if name == "max_projects":
        n = g("per_district_year", 3)
        return f"每个{col}每年新增项目不超过{n}个" if zh else f"at most {n} new projects per {col} and year"
    if name == "transit_access":
        s = {"share": g("share", 0.5), "within_m": g("within_m", 800.0), "lead_years": g("lead_years", 0),
             "share_by_type": dict(g("share_by_type", {}) or {})}
        return setting_text("transit", s, lang, label)
    if name == "service_access":
        s = {"share": g("share", 0.5), "within_m": g("within_m", 1000.0), "groups": list(g("groups", ()))}
        return setting_text("services", s, lang, label)
    if name == "park_workers":
        types = _types(g("types", ()), lang, label)
        share, within = _share(g("share", 0.3)), _num(g("within_m", 3000.0))
        prop = _value("parks", "proportional", g("proportional", False), lang, label)
        if zh:
            return f"{types}不少于{share}的套数位于产业园区{within}米范围内" + (f"，{prop}" if prop else "")
        return f"at least {share} of {types} units within {within} m of an industrial park" + (f", {prop}" if prop else "")
    return None


#: (pattern, zh) of the English :meth:`Rule.report` writes for ``required`` and ``achieved``; tried in order, whole text.
_RESULTS: list[tuple[str, str]] = [
    (r"<= 1 supply year per parcel", "每块地至多一个供地年份"),
    (r"(?P<n>[\d,]+) parcels used; most supply years for one parcel: (?P<k>\d+)", r"选用地块 \g<n> 块；单块地最多 \g<k> 个供地年份"),
    (r"supply year >= available_year", "供地年份不早于可供年份"),
    (r"(?P<n>[\d,]+) parcels used early; (?P<k>[\d,]+) new projects supplied in the year their land becomes available",
     r"提前使用地块 \g<n> 块；\g<k> 个新增项目在土地可供当年供应"),
    (r"net land <= parcel area", "净用地不超过地块面积"),
    (r"fullest parcel uses (?P<p>[\d.]+%) of its land", r"用地最满的地块使用其面积的 \g<p>"),
    (r"(?P<n>[\d,]+) units in (?P<k>\d+) type-years", r"\g<k> 个类型年度共 \g<n> 套"),
    (r"(?P<n>[\d,]+) units; (?P<m>\d+) of (?P<k>\d+) type-years met; (?P<miss>[\d,]+) units missing, (?P<over>[\d,]+) over exact targets",
     r"落实 \g<n> 套；\g<k> 个类型年度中 \g<m> 个达标；缺 \g<miss> 套，超出目标 \g<over> 套"),
    (r"(?P<n>[\d,]+) units; (?P<m>\d+) of (?P<k>\d+) type-years met", r"落实 \g<n> 套；\g<k> 个类型年度中 \g<m> 个达标"),
    (r"no caps", "无上限"),
    (r"(?P<a>[\d,]+)-(?P<b>[\d,]+|any) units per project", r"每个项目 \g<a>-\g<b> 套"),
    (r"(?P<a>[\d,]+)-(?P<b>[\d,]+) units in (?P<n>[\d,]+) projects", r"\g<n> 个项目，每个 \g<a>-\g<b> 套"),
    (r"no projects", "无项目"),
    (r"<= (?P<n>[\d,]+) units within (?P<r>[\d,]+) m", r"任一地块 \g<r> 米范围内不超过 \g<n> 套"),
    (r"densest circle (?P<n>[\d,]+) units", r"最密集处 \g<n> 套"),
    (r"<= (?P<n>[\d,]+) units in any (?P<r>[\d,]+) m disc", r"任意位置半径 \g<r> 米的圆内不超过 \g<n> 套"),
    (r"densest (?P<r>[\d.,]+ k?m) disc anywhere: (?P<n>[\d,]+) units at \((?P<x>[\d,.-]+), (?P<y>[\d,.-]+)\); "
     r"around a used parcel: (?P<w>[\d,]+) units",
     r"任意位置半径 \g<r> 的圆内最多 \g<n> 套（圆心 \g<x>, \g<y>）；选用地块周边最多 \g<w> 套"),
    (r"densest (?P<r>[\d.,]+ k?m) disc anywhere: (?P<n>[\d,]+) units at \((?P<x>[\d,.-]+), (?P<y>[\d,.-]+)\)",
     r"任意位置半径 \g<r> 的圆内最多 \g<n> 套（圆心 \g<x>, \g<y>）"),
    (r"densest (?P<r>[\d.,]+ k?m) disc anywhere: 0 units; around a used parcel: (?P<w>[\d,]+) units",
     r"任意位置半径 \g<r> 的圆内最多 0 套；选用地块周边最多 \g<w> 套"),
    (r"densest (?P<r>[\d.,]+ k?m) disc anywhere: 0 units", r"任意位置半径 \g<r> 的圆内最多 0 套"),
    (r"<= (?P<n>\d+) per (?P<col>\w+) and year", r"每个\g<col>每年不超过 \g<n> 个"),
    (r"most (?P<n>\d+)", r"最多 \g<n> 个"),
    (r">= (?P<p>[\d.]+%) of each year's units within (?P<r>[\d,]+) m", r"每年不少于 \g<p> 的套数位于站点 \g<r> 米内"),
    (r"lowest (?P<p>[\d.]+%) \((?P<y>\d{4})\)", r"最低 \g<p>（\g<y>年）"),
    (r"lowest (?P<p>[\d.]+%)", r"最低 \g<p>"),
    (r"(?P<span>[\d.%-]+) of their residential floor area as (?P<types>.+)", r"住宅建筑面积的 \g<span> 配建\g<types>"),
    (r"(?P<span>[\d.%-]+) in (?P<n>[\d,]+) projects", r"\g<n> 个项目配建 \g<span>"),
    (r"no commercial projects", "无商品住房项目"),
    (r"(?P<n>[\d,]+) parcels unused", r"\g<n> 块地不予使用"),
    (r"(?P<n>[\d,]+) locked-out parcels used", r"使用禁用地块 \g<n> 块"),
    (r"(?P<n>[\d,]+) parcels supplied", r"须供应 \g<n> 块地"),
    (r"(?P<n>[\d,]+) supplied; (?P<k>[\d,]+) could not be used", r"已供应 \g<n> 块；\g<k> 块无法使用"),
    (r"<= (?P<span>.+) per year", r"每年不超过 \g<span>"),
    (r"highest use (?P<p>[\d.]+%) of the budget \((?P<y>\d{4})\)", r"最高使用预算的 \g<p>（\g<y>年）"),
]


def result_text(text: object, lang: str = "zh", label: Label | None = None, *, types: Iterable[str] = ()) -> str:
    """A rule's ``required`` or ``achieved`` text (as in ``compliance.csv``) in the report's language.

    English stays as it is, with type codes shown by their labels; Chinese
    is matched against the phrases each rule writes, and within any text
    ``>=``/``<=`` become ≥/≤, ``m2`` m², and every type code its label.

    >>> result_text("lowest 50.0% (2017)")
    '最低 50.0%（2017年）'
    """
    label = _plain(label)
    s = str(text)
    codes = sorted(set(types), key=len, reverse=True)
    if _zh(lang):
        for pattern, zh in _RESULTS:
            m = re.fullmatch(pattern, s)
            if m:
                s = m.expand(zh)
                for key, (col_zh, _) in _COLUMNS.items():
                    s = s.replace(f"每个{key}", f"每个{col_zh}")
                break
    for code in codes:
        s = re.sub(rf"(?<![A-Za-z_]){re.escape(code)}(?![A-Za-z_])", label(code), s)
    s = s.replace(">=", "≥").replace("<=", "≤").replace(" m2", " m²")
    if _zh(lang):
        s = re.sub(r"(\d) m²", r"\1平方米", s)
        s = re.sub(r"(\d) km(?![²\w])", r"\1公里", s)
        s = re.sub(r"(\d) m(?![²\w])", r"\1米", s)
        s = re.sub(r", (?=[^\d\s])", "、", s)  # a list of names (not 1,000)
        s = s.replace("; ", "；")
    return s
