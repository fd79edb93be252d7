"""A one-page report of a run: ``report.html``, self-contained and offline.

:func:`write_report` writes one HTML page with no script and no external
reference: the scenario's settings, charts of placed units against targets
by year and type and of units by district (matplotlib PNGs embedded as
``data:`` URIs), the land supplied each year (the figures
``land_supply.xlsx`` prints), the compliance table (one row per rule), the solver's
status and gap, and a thumbnail of the map. Every text from the scenario or
the layers is HTML-escaped.

The page speaks one language: rules, their settings and results are worded
by :mod:`siteplan.outputs.wording` (a planner's Chinese, or English).
Chinese chart labels need a CJK font, found by file and registered with
matplotlib (:mod:`siteplan.outputs.fonts`); when there is none (e.g. a bare
Linux server), the charts are labelled in English, districts by their
``district_en`` names (or pinyin, or numbers with a key under the chart) so
that no label is drawn as empty boxes, and the page says so.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..housing import CATALOGUE
from ..inputs.layers import Layers
from ..solve.plan import Plan
from ..inputs.scenario import Scenario
from . import wording
from .fonts import cjk_font

__all__ = ["write_report", "report_html", "chart_units_by_year", "chart_units_by_district", "map_thumbnail", "cjk_font",
           "land_table", "district_names"]

log = logging.getLogger(__name__)

_TEXT = {
    "zh": {
        "title": "规划方案报告", "settings": "情景设置", "charts": "落实情况", "compliance": "规则核验", "solver": "求解",
        "thumb": "方案示意图", "period": "规划期", "crs": "工作坐标系", "ntg": "净毛比", "status": "候选地块状态",
        "type": "类型", "unit_area": "套均面积（m²）", "targets": "年度目标（套）", "cost": "单方造价（元/m²）",
        "zones": "片区目标（套）", "rules": "规则参数", "rule": "规则", "description": "说明", "required": "要求",
        "achieved": "实现", "binding": "起约束", "shortfall": "缺口（套）", "ok": "满足", "yes": "是", "no": "否",
        "solver_name": "求解器", "method": "方法", "solver_status": "状态", "gap": "相对间隙", "bound": "最优界",
        "objective": "目标值", "time_limit": "达到时限", "placed": "落实", "target": "目标",
        "year": "年份", "units": "套数", "district": "行政区", "scenario": "情景", "file": "情景文件",
        "no_cjk": "本机未找到中文字体，图表标注使用英文（行政区按英文名称）。", "total": "合计", "placed_units": "落实套数",
        "shortfall_units": "缺口（按规则，不跨规则相加）",
        "land": "用地供应", "floor_10k": "建筑面积（万m²）", "net_ha": "净用地面积（公顷）", "gross_ha": "毛用地面积（公顷）",
        "land_note": "与 land_supply.xlsx 各年度表合计相同；", "key": "图中编号：", "code": "代码",
    },
    "en": {
        "title": "Plan report", "settings": "Scenario settings", "charts": "Placed units", "compliance": "Compliance",
        "solver": "Solver", "thumb": "Map thumbnail", "period": "Plan period", "crs": "Working CRS",
        "ntg": "Net-to-gross ratio", "status": "Candidate status", "type": "Type", "unit_area": "Unit area (m²)",
        "targets": "Yearly targets (units)", "cost": "Cost (yuan/m²)", "zones": "Zone targets (units)",
        "rules": "Rule settings", "rule": "Rule", "description": "Description", "required": "Required",
        "achieved": "Achieved", "binding": "Binding", "shortfall": "Shortfall (units)", "ok": "Kept", "yes": "yes",
        "no": "no", "solver_name": "Solver", "method": "Method", "solver_status": "Status", "gap": "Relative gap",
        "bound": "Bound", "objective": "Objective", "time_limit": "Time limit hit",
        "placed": "Placed", "target": "Target", "year": "Year", "units": "Units", "district": "District",
        "scenario": "Scenario", "file": "Scenario file", "no_cjk": "", "total": "Total", "placed_units": "Units placed",
        "shortfall_units": "Shortfall (by rule, never added across rules)",
        "land": "Land supply", "floor_10k": "Floor area (10,000 m²)", "net_ha": "Net land (ha)", "gross_ha": "Gross land (ha)",
        "land_note": "As the year sheets' totals of land_supply.xlsx; ", "key": "Numbers in the chart: ", "code": "code",
    },
}


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _setup(lang: str) -> str:
    """Configure matplotlib for a chart; return the language the chart can be labelled in."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    font = cjk_font()
    if font:
        matplotlib.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return lang if (lang == "en" or font) else "en"


def _labels(plan: Plan, scenario: Scenario, lang: str) -> dict[str, str]:
    out = {}
    for t in plan.problem.types:
        label = scenario.type_label(t, lang)
        if lang == "en" and not label.isascii():
            label = t
        out[t] = label
    return out


def chart_units_by_year(plan: Plan, scenario: Scenario, *, lang: str = "zh") -> str:
    """Placed units by year and type (bars) against the targets (black ticks), as a PNG data URI."""
    import matplotlib.pyplot as plt

    from .styles import type_colours

    lang = _setup(lang)
    tx = _TEXT[lang]
    types = list(plan.problem.types)
    labels, colours = _labels(plan, scenario, lang), type_colours(types)
    s = plan.summary()
    years = sorted(s["year"].unique())
    width = 0.8 / max(len(types), 1)
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for k, t in enumerate(types):
        part = s.loc[s["type"] == t].set_index("year").reindex(years, fill_value=0)
        x = np.arange(len(years)) + (k - (len(types) - 1) / 2) * width
        ax.bar(x, part["placed"], width=width * 0.92, color=colours[t], label=labels[t])
        ax.hlines(part["target"], x - width / 2, x + width / 2, colors="black", linewidth=1.6,
                  label=tx["target"] if k == 0 else None)
    ax.set_xticks(np.arange(len(years)), [str(y) for y in years])
    ax.set_ylabel(tx["units"])
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(ncol=min(len(types) + 1, 5), fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(0, 1.18))
    return _png(fig)


def _pinyin(text: str) -> str | None:
    """``text`` in pinyin when pypinyin is installed (an optional extra), else ``None``."""
    try:
        from pypinyin import lazy_pinyin
    except ImportError:
        return None
    out = "".join(w.capitalize() for w in lazy_pinyin(text))
    return out if out.isascii() else None


def district_names(districts: list[str], layers: Layers | None, lang: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Chart labels of ``districts`` in ``lang``, and the key of any label that stands for a name.

    Chinese labels are the names; English ones are the district layer's
    ``district_en`` where it has one, else the name in pinyin (with
    pypinyin), else a number, and only numbers come with a key
    ``[(number, name)]`` printed under the chart.
    """
    if lang != "en":
        return [str(d) for d in districts], []
    en: dict[str, str] = {}
    d = getattr(layers, "districts", None)
    if d is not None and "district_en" in d.columns:
        for name, value in zip(d["district"].astype(str), d["district_en"]):
            if isinstance(value, str) and value.strip() and value.strip().isascii():
                en.setdefault(name, value.strip())
    names, key = [], []
    for k, name in enumerate(map(str, districts)):
        label = name if name.isascii() else en.get(name) or _pinyin(name)
        if label is None:
            label = str(k + 1)
            key.append((label, name))
        names.append(label)
    return names, key


def chart_units_by_district(plan: Plan, scenario: Scenario, *, lang: str = "zh", layers: Layers | None = None) -> str:
    """Placed units by district, stacked by type, grouped by zone, as a PNG data URI.

    In English (or with no Chinese font) districts are labelled as
    :func:`district_names` says, by ``district_en`` from ``layers`` when given.
    """
    import matplotlib.pyplot as plt

    from .styles import type_colours

    lang = _setup(lang)
    tx = _TEXT[lang]
    types = list(plan.problem.types)
    labels, colours = _labels(plan, scenario, lang), type_colours(types)
    wide = _district_units(plan, scenario)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * max(len(wide), 3) + 0.8))
    left = np.zeros(len(wide))
    names, _ = district_names([d for _, d in wide.index], layers, lang)
    y = np.arange(len(wide))[::-1]
    for t in types:
        ax.barh(y, wide[t], left=left, color=colours[t], label=labels[t], height=0.75)
        left += wide[t].to_numpy()
    for yy, total in zip(y, left):
        ax.text(total, yy, f" {total:,.0f}", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlabel(tx["units"])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def _district_units(plan: Plan, scenario: Scenario):
    """Units per (zone, district) and type, the rows of the district chart in its order."""
    a = plan.allocation(net_to_gross=scenario.plan.net_to_gross)
    wide = a.pivot_table(index=["zone", "district"], columns="type", values="units", aggfunc="sum", fill_value=0)
    return wide.reindex(columns=list(plan.problem.types), fill_value=0).sort_index()


def map_thumbnail(plan: Plan, layers: Layers, scenario: Scenario, *, lang: str = "zh") -> str:
    """A small static map: districts by zone, metro lines, used parcels by type, as a PNG data URI.

    Drawn once per plan, layers, scenario and language (the report and
    ``plan.docx`` show the same one; :meth:`Plan.memo`).
    """
    return plan.memo(("map_thumbnail", lang), lambda: _map_thumbnail(plan, layers, scenario, lang), of=(layers, scenario))


def _map_thumbnail(plan: Plan, layers: Layers, scenario: Scenario, lang: str) -> str:
    import matplotlib.pyplot as plt

    from .styles import LINE_COLOURS, ZONE_FILLS, type_colours

    _setup(lang)
    types = list(plan.problem.types)
    colours = type_colours(types)
    fig, ax = plt.subplots(figsize=(6, 5))
    d = layers.districts
    zones = sorted(d["zone"].dropna().unique())
    fills = {z: ZONE_FILLS[k % len(ZONE_FILLS)] for k, z in enumerate(zones)}
    d.plot(ax=ax, color=[fills.get(z, "#eeeeee") for z in d["zone"]], edgecolor="#8a8a8a", linewidth=0.5)
    d.dissolve(by="zone").boundary.plot(ax=ax, color="#555555", linewidth=1.0, linestyle="--")
    if len(layers.lines):
        from .comparemap import line_colours

        per_line = line_colours(layers.lines)  # one colour per line, as in map.html and compare.html
        for k, (_, row) in enumerate(layers.lines.iterrows()):
            ax.plot(*np.asarray(row.geometry.coords if row.geometry.geom_type == "LineString" else
                                max(row.geometry.geoms, key=lambda g: g.length).coords).T,
                    color=per_line.get(str(row.get("line")), LINE_COLOURS[k % len(LINE_COLOURS)]), linewidth=1.4)
    g = plan.to_geodataframe(net_to_gross=scenario.plan.net_to_gross)
    if len(g):
        c = g.geometry.centroid
        ax.scatter(c.x, c.y, s=np.clip(g["units"].to_numpy() / 40.0, 4, 60), c=[colours.get(t, "#444444") for t in g["main_type"]],
                   edgecolors="#222222", linewidths=0.3, zorder=3)
    ax.set_axis_off()
    ax.set_aspect("equal")
    return _png(fig)


def _table(header: list[str], rows: list[list[object]], *, numeric: tuple[int, ...] = ()) -> str:
    """An HTML table; every cell escaped; columns in ``numeric`` right-aligned; a ``(name, code)`` cell shows the code under the name."""
    def cell(v: object) -> str:
        if isinstance(v, tuple):
            return f"{_esc(v[0])}<div class='code'>{_esc(v[1])}</div>"
        return _esc(v)

    head = "" if not any(header) else "<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr></thead>"
    body = "".join(
        "<tr>" + "".join(f"<td class='{'num' if j in numeric else ''}'>{cell(v)}</td>" for j, v in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def land_table(plan: Plan, scenario: Scenario, *, lang: str = "zh") -> str:
    """Each year's units, floor area, net and gross land, and the plan's total, as an HTML table.

    The figures are the 合计 rows of :func:`siteplan.outputs.tables.land_supply_tables`
    (the values ``land_supply.xlsx`` prints), the total their sum.
    """
    from .figures import RULE_NOTE
    from .tables import TOTAL_LABEL, land_supply_tables

    tx = _TEXT["en" if lang == "en" else "zh"]
    tables = land_supply_tables(plan, scenario)
    rows, sums = [], [0, 0.0, 0.0, 0.0]
    for y in scenario.years:
        t = tables[f"{y}年"]
        r = t.loc[t["类型"] == TOTAL_LABEL].iloc[0]
        vals = [int(r["套数（套）"]), float(r["建筑面积（万m²）"]), float(r["净用地面积（公顷）"]), float(r["毛用地面积（公顷）"])]
        sums = [a + b for a, b in zip(sums, vals)]
        rows.append([str(y), f"{vals[0]:,}", *(f"{v:,.2f}" for v in vals[1:])])
    rows.append([tx["total"], f"{sums[0]:,}", *(f"{v:,.2f}" for v in sums[1:])])
    head = [tx["year"], tx["units"], tx["floor_10k"], tx["net_ha"], tx["gross_ha"]]
    note = tx["land_note"] + (RULE_NOTE if lang != "en" else "rounded once, half to even; totals are sums of the printed rows.")
    return _table(head, rows, numeric=(1, 2, 3, 4)) + f"<p class='sub'>{_esc(note)}</p>"


def _type_namer(scenario: Scenario, lang: str):
    """Code -> display name of a housing type: the scenario's label, else the catalogue's, else the code."""
    def name(code: str) -> str:
        if code in scenario.types:
            label = scenario.type_label(code, lang)
            return code if lang == "en" and not label.isascii() else label
        known = CATALOGUE.get(code)
        return code if known is None else known.label_zh if lang != "en" else known.label_en
    return name


def _rule_settings(scenario: Scenario, lang: str = "zh") -> list[list[str]]:
    """One row per enabled ``[rules.*]`` section: its name and its settings, in a planner's words."""
    rows = []
    rules = scenario.rules.model_dump(exclude_none=True) if hasattr(scenario.rules, "model_dump") else {}
    namer = _type_namer(scenario, lang)
    for name, settings in rules.items():
        if isinstance(settings, Mapping):
            if settings.get("enabled") is False:
                continue
            text = wording.setting_text(name, settings, lang, namer)
        else:
            text = str(settings)
        rows.append([wording.section_title(name, lang), text or "-"])
    return rows


def _compliance_rows(plan: Plan, scenario: Scenario, lang: str, tx: Mapping[str, str]) -> list[list[object]]:
    """The compliance table's rows in the report's language: each rule's name, description, required and achieved."""
    namer = _type_namer(scenario, lang)
    rules = {getattr(r, "name", ""): r for r in plan.problem.rules}
    types = list(plan.problem.types)
    rows = []
    for _, r in plan.compliance().iterrows():
        name = str(r["rule"])
        said = wording.describe(rules.get(name, name), lang, namer)
        description = said or wording.result_text(r["description"], lang, namer, types=types)

        def words(v: object) -> str:
            return wording.result_text(v, lang, namer, types=types) if isinstance(v, str) else _fmt(v)

        rows.append([(wording.rule_title(name, lang), name), description, words(r["required"]), words(r["achieved"]),
                     tx["yes"] if r["binding"] else tx["no"], _fmt(r["shortfall"]), tx["yes"] if r["ok"] else tx["no"]])
    return rows


def report_html(plan: Plan, layers: Layers, scenario: Scenario, *, lang: str = "zh") -> str:
    """The report page as a string (see :func:`write_report`)."""
    tx = _TEXT["en" if lang == "en" else "zh"]
    chart_lang = _setup(lang)
    types = list(plan.problem.types)
    title = scenario.plan.title or scenario.plan.name
    years = scenario.years

    settings_rows = [
        [tx["scenario"], scenario.plan.name],
        [tx["file"], f"{scenario.source.name if scenario.source else '-'} (SHA-256 {scenario.sha256[:12] or '-'})"],
        [tx["period"], f"{years[0]}-{years[-1]}"],
        [tx["crs"], scenario.plan.crs],
        [tx["ntg"], f"{scenario.plan.net_to_gross:g}"],
        [tx["status"], ("、" if lang != "en" else ", ").join(wording.status_label(v, lang) for v in scenario.plan.candidate_status)],
    ]
    type_rows = []
    for t in types:
        ts = scenario.types[t]
        cost = getattr(ts, "cost_yuan_per_m2", None)
        type_rows.append([scenario.type_label(t, lang), f"{ts.unit_area_m2:g}", " / ".join(f"{v:,}" for v in ts.targets),
                          f"{cost:,.0f}" if cost is not None else "-"])
    zone_rows = [[z, " / ".join(f"{x:,}" for x in v) if isinstance(v, list) else f"{v:,}"] for z, v in scenario.zones.items()]

    comp_rows = _compliance_rows(plan, scenario, lang, tx)
    rep = plan.report
    solver_rows = [
        [tx["solver_name"], rep.solver.upper() if rep.solver in ("highs", "cbc") else rep.solver],
        [tx["method"], wording.method_text(rep.method, lang)], [tx["solver_status"], plan.status.text(lang)],
        [tx["gap"], f"{100 * plan.status.gap:.2f}% (≤ {100 * plan.status.gap_limit:.2f}%)" if np.isfinite(plan.status.gap) else "-"],
        [tx["objective"], _fmt(rep.objective)],
        # No solve time: it differs from run to run, and two runs of a scenario write the same report
        # (run.json keeps the times).
        [tx["time_limit"], tx["yes"] if plan.status.time_limit_hit else tx["no"]],
        [tx["placed_units"], f"{int(plan.units['units'].sum()):,}"],
        [tx["shortfall_units"], ("；" if lang != "en" else "; ").join(plan.status.shortfall_parts("en" if lang == "en" else "zh")) or "0"],
    ]
    note = f"<p class='note'>{_esc(tx['no_cjk'])}</p>" if chart_lang != lang else ""
    districts = [d for _, d in _district_units(plan, scenario).index]
    _, key = district_names(districts, layers, chart_lang)
    key_html = (f"<p class='sub'>{_esc(tx['key'])}" + "；".join(f"{n} {_esc(d)}" for n, d in key) + "</p>") if key else ""
    css = """
body{font:14px/1.5 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;border-bottom:2px solid #0072B2;padding-bottom:2px;margin-top:26px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px} th,td{border:1px solid #bbb;padding:3px 8px;vertical-align:top}
th{background:#e8eef6;text-align:left} td.num{text-align:right;white-space:nowrap}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px;align-items:start} img{max-width:100%}
.note{color:#a05000;font-size:12px} .sub{color:#666} .code{color:#888;font:11px monospace}
@media print{body{max-width:none;margin:0} h2{break-after:avoid} .grid{break-inside:avoid}}
"""
    body = f"""
<h1>{_esc(title)}</h1>
<div class="sub">{_esc(tx['title'])} · {_esc(scenario.plan.name)}</div>
<h2>{_esc(tx['settings'])}</h2>
<div class="grid"><div>{_table(['', ''], settings_rows)}
{_table([tx['type'], tx['unit_area'], tx['targets'], tx['cost']], type_rows, numeric=(1, 2, 3))}
{_table([tx['zones'].split('（')[0].split(' (')[0], tx['units']], zone_rows, numeric=(1,)) if zone_rows else ''}</div>
<div>{_table([tx['rule'], tx['rules']], _rule_settings(scenario, lang))}
{_table([tx['solver'], ''], solver_rows)}</div></div>
<h2>{_esc(tx['charts'])}</h2>{note}
<div class="grid"><div><img alt="{_esc(tx['placed'])}" src="{chart_units_by_year(plan, scenario, lang=lang)}"></div>
<div><img alt="{_esc(tx['district'])}" src="{chart_units_by_district(plan, scenario, lang=lang, layers=layers)}">{key_html}</div></div>
<h2>{_esc(tx['land'])}</h2>
{land_table(plan, scenario, lang=lang)}
<h2>{_esc(tx['compliance'])}</h2>
{_table([tx['rule'], tx['description'], tx['required'], tx['achieved'], tx['binding'], tx['shortfall'], tx['ok']], comp_rows, numeric=(5,))}
<h2>{_esc(tx['thumb'])}</h2>
<img alt="{_esc(tx['thumb'])}" style="max-width:520px" src="{map_thumbnail(plan, layers, scenario, lang=lang)}">
"""
    lang_attr = "en" if lang == "en" else "zh-CN"
    return (f"<!DOCTYPE html>\n<html lang=\"{lang_attr}\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_esc(title)}</title>"
            f"<style>{css}</style></head><body>{body}</body></html>\n")


def write_report(plan: Plan, layers: Layers, scenario: Scenario, path: str | Path, *, lang: str = "zh") -> Path:
    """Write ``report.html``: settings, charts, compliance, solver status and a map thumbnail.

    Parameters
    ----------
    plan, layers, scenario
        The solved plan and what it was built from.
    path
        The HTML file to write.
    lang
        ``"zh"`` (default) or ``"en"``.
    """
    path = Path(path)
    path.write_text(report_html(plan, layers, scenario, lang=lang), encoding="utf-8")
    log.info("Wrote the report to %s", path.name)  # not the staging folder
    return path
