"""The Data page (step 1): the bureau's folder, which file plays which part, and what the check finds in them.

The planner chooses the data folder (inside the folder the app was started
on), makes a first scenario from its files with ``siteplan init`` when there
is none, and corrects the guesses: which file each layer role points to
(``[layers]``), which column holds each of siteplan's fields
(``[fields.<role>]``) and which land-use codes are candidates
(``[plan] candidate_land_use``, ``inclusionary_land_use``). The scenario
file is the truth: the page shows what it says, and saving changes only the
keys whose value changed (:class:`~siteplan.app.scenario_doc.ScenarioDoc`
keeps the comments ``siteplan init`` wrote).

Beside the form, :func:`siteplan.check.check` reports every error and
warning per layer, in the checks' own words, and ``/data/map`` draws the
layers as the check read them, parcels outside every district in red. A
check of a large city takes a few seconds, so its report is kept per
scenario text and layer files' times (:func:`checked`): moving between
pages does not check again, and any change to a file does.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import os
import re
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ...errors import ScenarioError, SiteplanError, error_text
from ...init import ROLES, Found, land_use_counts, schema_fields, scan_vector, guess_fields, guess_roles, init_scenario, scan_folder
from ..security import PathRefused, child_path
from ..checks import LOCK, Checked, check_cached, file_stamp, remember
from ..server import RUNS_DIR, Workspace, lang_of, render

__all__ = ["router", "WORDS", "checked", "map_html"]

log = logging.getLogger(__name__)

router = APIRouter()

WORDS: dict[str, tuple[str, str]] = {
    "title": ("第一步：资料与检查", "Step 1: data and check"),
    "folder": ("资料文件夹", "Data folder"),
    "root": ("工作文件夹", "Working folder"),
    "folder_now": ("当前资料文件夹", "Current data folder"),
    "subfolders": ("子文件夹", "Subfolders"),
    "no_subfolders": ("（无子文件夹）", "(no subfolders)"),
    "parent": ("上一级", "Up one level"),
    "folder_path": ("或输入文件夹路径（相对于工作文件夹）", "Or type a folder path (relative to the working folder)"),
    "choose": ("选用此文件夹", "Use this folder"),
    "scenario_in_use": ("正在使用方案文件 {name}。", "The scenario file {name} is in use."),
    "no_scenario_here": ("此文件夹中还没有方案文件（scenario.toml）。", "This folder has no scenario file (scenario.toml) yet."),
    "make_scenario": ("根据文件生成方案", "Make a scenario from these files"),
    "make_hint": ("程序会识别各文件的用途和字段，写出带注释的方案文件，之后可在本页修改。",
                  "siteplan guesses what each file holds and writes a commented scenario file, which you can correct on this page."),
    "files": ("文件夹中的资料", "Files in the folder"),
    "no_files": ("此文件夹中没有可读取的图层或表格（.shp、.gpkg、.geojson、.tif、.xlsx、.csv）。",
                 "The folder holds no layer or table siteplan reads (.shp, .gpkg, .geojson, .tif, .xlsx, .csv)."),
    "file": ("文件", "File"),
    "kind": ("类型", "Kind"),
    "features": ("要素数", "Features"),
    "crs": ("坐标系", "CRS"),
    "encoding": ("编码", "Encoding"),
    "scenario_files": ("本文件夹的方案文件", "Scenario files in this folder"),
    "use_scenario": ("使用此方案", "Use this scenario"),
    "datum": ("经纬度来源", "Lon/lat from"),
    "datum_wgs84": ("GPS、天地图等（WGS84 / CGCS2000）", "GPS, Tianditu ... (WGS84 / CGCS2000)"),
    "datum_gcj02": ("高德、腾讯地图（GCJ-02，读入时纠偏约 500 米）", "Gaode or Tencent maps (GCJ-02, corrected by about 500 m on reading)"),
    "guess": ("识别为", "Guessed as"),
    "why": ("依据", "Why"),
    "kind_polygon": ("面", "polygons"),
    "kind_point": ("点", "points"),
    "kind_line": ("线", "lines"),
    "kind_raster": ("栅格", "raster"),
    "kind_table": ("表格", "table"),
    "kind_none": ("无法读取", "unreadable"),
    "roles": ("各图层对应的文件与字段", "The file and columns of each layer"),
    "roles_hint": ("以方案文件为准；修改后点“保存”。", "The scenario file decides; change what is wrong, then Save."),
    "role": ("图层", "Layer"),
    "role_file": ("文件", "File"),
    "fields": ("字段对应（siteplan 字段 ← 您的列）", "Columns (siteplan field ← your column)"),
    "none": ("（无）", "(none)"),
    "choose_file": ("（请选择文件）", "(choose a file)"),
    "outside_folder": ("（文件夹外）", "(outside the folder)"),
    "not_in_layer": ("（图层中没有此列）", "(not a column of the layer)"),
    "same_name": ("（同名）", "(same name)"),
    "required": ("必需", "required"),
    "optional": ("可选", "optional"),
    "needed": ("必填", "needed"),
    "no_columns": ("请先选择文件并保存，再对应字段。", "Choose the file and save first, then its columns."),
    "preview": ("前几行", "First rows"),
    "role_parcels": ("地块", "Parcels"),
    "role_districts": ("行政区", "Districts"),
    "role_stations": ("地铁站点", "Metro stations"),
    "role_lines": ("地铁线路", "Metro lines"),
    "role_services": ("公共服务设施", "Services"),
    "role_parks": ("产业园区", "Industrial parks"),
    "role_constraints": ("禁止建设区", "Locked-out areas"),
    "role_population": ("人口栅格", "Population raster"),
    "role_targets": ("指标表", "Targets table"),
    "field_parcel_id": ("地块编号", "parcel id"),
    "field_far_max": ("容积率（上限）", "plot ratio (cap)"),
    "field_available_year": ("可供地年份", "year available"),
    "field_area_m2": ("用地面积", "stated area"),
    "field_district": ("所属行政区", "district"),
    "field_name": ("名称", "name"),
    "field_land_use": ("用地性质", "land use"),
    "field_status": ("地块状态", "status"),
    "field_far_upper": ("规划容积率上限", "upper plot ratio"),
    "field_metro_depot": ("地铁车辆段上盖", "over a metro depot"),
    "field_zone": ("所属片区", "zone"),
    "field_station": ("站名", "station"),
    "field_open_year": ("开通年份", "opening year"),
    "field_line": ("线路", "line"),
    "field_category": ("设施类别", "category"),
    "field_park": ("园区名称", "park"),
    "field_workers": ("就业人数", "workers"),
    "field_kind": ("类型", "kind"),
    "land_use": ("用地性质", "Land use"),
    "land_use_hint": ("地块图层“{col}”列中的用地代码及地块数。候选用地与配建用地按代码前缀匹配（R2 包括 R21、R22），多个代码用逗号分隔。",
                      "The land-use codes in the parcels' column “{col}” and their parcels. Codes match by prefix (R2 covers R21, R22); separate several with commas."),
    "no_land_use": ("地块图层未对应“用地性质”字段，无法列出用地代码。", "The parcels have no land-use column mapped, so no codes can be listed."),
    "code": ("代码", "Code"),
    "class_name": ("名称", "Name"),
    "parcels_n": ("地块数", "Parcels"),
    "is_candidate": ("候选", "Candidate"),
    "is_inclusionary": ("配建", "Inclusionary"),
    "candidate_land_use": ("可安排保障房的用地代码（候选用地）", "Land uses that may receive housing (candidates)"),
    "inclusionary_land_use": ("可配建保障房的用地代码", "Land uses that may host an inclusionary share"),
    "empty_any": ("留空表示不限", "empty: any"),
    "check": ("检查结果", "Check"),
    "check_hint": ("与命令 siteplan check 相同的检查；修改文件或方案后自动重新检查。",
                   "The same checks as siteplan check; run again whenever a file or the scenario changes."),
    "check_clean": ("未发现问题。", "No problem found."),
    "check_summary": ("{e} 个错误，{w} 个警告", "{e} error(s), {w} warning(s)"),
    "check_errors_block": ("有错误时无法运行：请按提示修改数据或方案。", "A run stops on errors: correct the data or the scenario as each says."),
    "check_failed": ("检查未能完成：", "The check could not finish:"),
    "notes": ("说明（{n} 条）", "Notes ({n})"),
    "layer_table": ("读取到的图层", "Layers as read"),
    "scenario_layer": ("方案", "Scenario"),
    "level_error": ("错误", "error"),
    "level_repair": ("已修复", "repaired"),
    "level_warning": ("警告", "warning"),
    "level_note": ("说明", "note"),
    "map": ("图层示意图", "Map of the layers"),
    "outside": ("{n} 个地块不在任何行政区内", "{n} parcels lie in no district"),
    "outside_none": ("所有地块都在行政区内。", "Every parcel lies in a district."),
    "map_sample": ("地块较多，图中显示其中 {n} 个。", "Many parcels: the map shows {n} of them."),
    "map_none": ("尚无可显示的图层。", "No layer to show yet."),
    "map_no_scenario": ("尚无方案文件：请先生成方案。", "No scenario file yet: make one first."),
    "legend_districts": ("行政区边界", "District boundaries"),
    "legend_parcels": ("地块", "Parcels"),
    "legend_outside": ("不在行政区内的地块", "Parcels in no district"),
    "legend_stations": ("地铁站点", "Metro stations"),
    "done_saved": ("已保存到方案文件。", "Saved to the scenario file."),
    "done_made": ("已生成方案文件 {name}：请核对下方各项，标有 TODO 的须补充。",
                  "Wrote the scenario file {name}: review everything below and fill what is marked TODO."),
    "done_folder": ("已选用文件夹 {name}。", "Now using the folder {name}."),
    "refused_folder": ("“{name}”不在工作文件夹 {root} 之内，不能选用。请选择工作文件夹中的文件夹。",
                       "“{name}” is outside the working folder {root}, so it cannot be used. Choose a folder inside it."),
    "missing_folder": ("没有名为“{name}”的文件夹（在工作文件夹 {root} 中）。请检查拼写。",
                       "There is no folder “{name}” in the working folder {root}. Check the spelling."),
    "not_folder": ("“{name}”是文件，不是文件夹。请选择文件夹。", "“{name}” is a file, not a folder. Choose a folder."),
    "no_scenario_to_save": ("尚无方案文件，无法保存：请先生成方案。", "There is no scenario file to save to: make one first."),
    "bad_choice": ("“{value}”不是{what}的可选项；请重新打开本页后选择。",
                   "“{value}” is not one of the choices for {what}; reload the page and choose again."),
    "init_failed": ("无法生成方案：", "Could not make a scenario:"),
    "save_failed": ("无法保存：", "Could not save:"),
    "scenario_unreadable": ("方案文件无法读取：", "The scenario file cannot be read:"),
}

#: Roles whose file may be left out of ``[layers]``.
_REQUIRED = ("parcels", "districts", "stations", "lines")

#: Most parcels drawn on the map; the rest are sampled (those outside every district are always drawn).
MAP_PARCELS = 3000

#: Subfolders listed at most.
_MAX_SUBFOLDERS = 200

# Small caches (see siteplan.app.checks), by what decides their content: a folder's files (names, times, sizes)
# for its scan, a file's stamp for one layer's scan and its land-use counts.
_SCANS: OrderedDict[tuple, list[Found]] = OrderedDict()
_ONE_FILE: OrderedDict[tuple, Found | None] = OrderedDict()
_LAND_USE: OrderedDict[tuple, Counter] = OrderedDict()


# ---------------------------------------------------------------------------- files and stamps


def _folder_stamp(folder: Path) -> tuple:
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir() if p.is_file()))
    except OSError:
        return ()


def _fresh(found: list[Found]) -> list[Found]:
    """Copies without roles: :func:`guess_roles` sets them, and skips items that have one already."""
    return [dataclasses.replace(f, role=None, why="") for f in found]


def scan(folder: Path) -> list[Found]:
    """:func:`siteplan.init.scan_folder` of ``folder``, kept while its files stay the same (roles unset)."""
    key = (str(folder.resolve()), _folder_stamp(folder))
    with LOCK:
        if key in _SCANS:
            return _fresh(_SCANS[key])
    found = scan_folder(folder) if folder.is_dir() else []
    with LOCK:
        remember(_SCANS, key, found)
    return _fresh(found)


def _scan_one(path: Path, layer: str | None) -> Found | None:
    """One layer file outside the folder (the demo keeps its layers beside it), read as the folder's are."""
    import pyogrio

    key = (str(path), layer, file_stamp(path))
    with LOCK:
        if key in _ONE_FILE:
            return _ONE_FILE[key]
    found: Found | None = None
    try:
        layers = [(str(n), g) for n, g in pyogrio.list_layers(path)]
        pick = next(((n, g) for n, g in layers if n == layer), layers[0] if layers else None)
        if pick is not None:
            found = scan_vector(path, layer, pick[0], pick[1], 2000)
    except Exception:  # unreadable: the check says why, in its words
        found = None
    with LOCK:
        remember(_ONE_FILE, key, found)
    return found


def _rel(path: Path, base: Path) -> str:
    """``path`` relative to ``base``, with forward slashes, as ``siteplan init`` writes ``[layers]``."""
    return Path(os.path.relpath(path, base)).as_posix()


def _value(found: Found, base: Path) -> str:
    """The choice naming a found layer: its path relative to the scenario's folder, and ``::layer`` in a multi-layer file."""
    rel = _rel(found.path, base)
    return f"{rel}::{found.layer}" if found.layer else rel


# ---------------------------------------------------------------------------- the check, kept


def checked(ws: Workspace) -> Checked | None:
    """The check of the workspace's scenario (see :func:`siteplan.app.checks.check_cached`); None without a scenario."""
    return check_cached(ws.scenario)


def _group_findings(result: Checked, base: Path) -> list[dict]:
    """Errors, repairs and warnings grouped by the layer they concern (notes apart), in the check's words."""
    report = result.report
    if report is None:
        return []
    files: dict[str, str] = {}
    if report.layers is not None:
        for kind, info in report.layers.info.items():
            files[str(info.path)] = kind
            files[str(Path(info.path).resolve())] = kind
    groups: dict[str, dict] = {}
    for d in report.diagnostics:
        role = files.get(d.file) or files.get(str(Path(d.file).resolve()) if d.file and not d.file.startswith("[") else "")
        if role:
            key, label_key, shown = role, f"role_{role}", ""
        elif d.file and not d.file.startswith("[") and d.file != str(report.scenario_path):
            key, label_key, shown = d.file, "", _rel(Path(d.file), base) if os.path.isabs(d.file) else d.file
        else:
            key, label_key, shown = "", "scenario_layer", ""
        g = groups.setdefault(key, {"key": key, "label_key": label_key, "shown": shown, "findings": [], "notes": []})
        (g["notes"] if d.level == "note" else g["findings"]).append(d)
    order = {r: i for i, r in enumerate(["", *ROLES])}
    return sorted(groups.values(), key=lambda g: order.get(g["key"], 99))


# ---------------------------------------------------------------------------- the page's content


def _folder_part(ws: Workspace) -> dict:
    root = ws.root.resolve()
    folder = ws.folder.resolve()
    subs = []
    try:
        for p in sorted(folder.iterdir(), key=lambda p: p.name):
            if p.is_dir() and not p.name.startswith(".") and not (folder == root and p.name == RUNS_DIR):
                subs.append({"name": p.name, "value": _rel(p, root)})
                if len(subs) >= _MAX_SUBFOLDERS:
                    break
    except OSError:
        pass
    parent = _rel(folder.parent, root) if folder != root and folder.is_relative_to(root) else None
    shown = _rel(folder, root) if folder.is_relative_to(root) else str(folder)
    try:
        scenarios = sorted(p.name for p in folder.glob("*.toml") if p.is_file() and not p.name.startswith("."))
    except OSError:
        scenarios = []
    return {"folder_shown": shown, "root_shown": str(root), "subfolders": subs, "parent": parent,
            "scenario_files": scenarios, "scenario_current": ws.scenario.name if ws.scenario.parent.resolve() == folder else ""}


def _role_of(doc, role: str, base: Path, found: list[Found], lay_choice: str | None = None) -> dict:
    """One row of the roles form: the current file, the choices, and the layer's columns."""
    raw = doc.get(f"layers.{role}") if doc is not None else None
    raw = raw if isinstance(raw, str) else ""
    layer = doc.get(f"layers.layer.{role}") if doc is not None else None
    layer = layer if isinstance(layer, str) else None
    geometry = ROLES[role]
    options: list[tuple[str, str]] = []  # (value, shown)
    current_found: Found | None = None
    current = ""
    path = (base / raw).resolve() if raw and raw != "TODO" else None
    for f in found:
        if f.geometry != geometry or f.problem:
            continue
        value = _value(f, base)
        options.append((value, f.name))
        same_layer = f.layer == layer or (layer is None and current_found is None)  # no [layers.layer]: the first
        if path is not None and f.path.resolve() == path and same_layer:
            current_found, current = f, value
    kept = False
    if path is not None and current_found is None:
        kept = True
        # a file outside the folder (or one the scan could not read): keep it as a choice, as it stands
        current = f"{raw}::{layer}" if layer else raw
        options.insert(0, (current, raw + (f":{layer}" if layer else "")))
        if geometry != "raster" and path.is_file():
            current_found = _scan_one(path, layer)
    datum = doc.get(f"layers.datum.{role}") if doc is not None else None
    return {"role": role, "raw": raw, "current": current, "options": options, "required": role in _REQUIRED,
            "found": current_found, "kept": kept, "datum": datum if isinstance(datum, str) else "",
            "lonlat": bool(current_found is not None and current_found.lonlat) or bool(datum)}


def _fields_of(doc, role: str, f: Found | None) -> list[dict]:
    """The field rows of a role: each siteplan field, the layer's columns, and the column now mapped."""
    if role == "population":
        return []
    needed, others = schema_fields(role)
    columns = list(f.columns) if f is not None else []
    rows = []
    for name in [*needed, *others]:
        explicit = doc.get(f"fields.{role}.{name}") if doc is not None else None
        explicit = str(explicit) if explicit is not None else None
        if explicit is not None:
            current = explicit
        elif name in columns:
            current = name
        else:
            current = ""
        options = [(c, c) for c in columns]
        if current and current not in columns:
            options.insert(0, (current, current))
        example = ""
        if f is not None and f.sample is not None and current in f.sample.columns:
            values = f.sample[current].dropna()
            example = str(values.iloc[0])[:40] if len(values) else ""
        rows.append({"name": name, "needed": name in needed, "current": current, "options": options,
                     "implicit": explicit is None and current == name, "missing": bool(current) and current not in columns
                     and f is not None, "example": example})
    return rows


def _preview(f: Found | None, rows: int = 3) -> dict | None:
    if f is None or f.sample is None or not len(f.columns):
        return None
    head = f.sample.head(rows)
    return {"columns": list(head.columns), "rows": [["" if v is None or v != v else str(v)[:40] for v in r]
                                                     for r in head.itertuples(index=False)]}


def _land_use_part(doc, parcels: Found | None, parcel_fields: list[dict]) -> dict:
    from ...inputs.landuse import land_use_class, matches

    import pandas as pd

    cand = doc.get("plan.candidate_land_use", []) if doc is not None else []
    incl = doc.get("plan.inclusionary_land_use", []) if doc is not None else []
    cand = [str(c) for c in cand] if isinstance(cand, list) else []
    incl = [str(c) for c in incl] if isinstance(incl, list) else []
    col = next((r["current"] for r in parcel_fields if r["name"] == "land_use"), "")
    out = {"column": col, "rows": [], "candidate": ", ".join(cand), "inclusionary": ", ".join(incl)}
    if parcels is None or not col or col not in parcels.columns:
        return out
    key = (str(parcels.path), parcels.layer, col, file_stamp(parcels.path))
    with LOCK:
        counts = _LAND_USE.get(key)
    if counts is None:
        counts = land_use_counts(parcels, col)
        with LOCK:
            remember(_LAND_USE, key, counts)
    if not counts:
        return out
    values = pd.Series(list(counts))
    names = land_use_class(values)["name"].tolist()
    in_cand = matches(values, cand) if cand else [False] * len(values)
    in_incl = matches(values, incl) if incl else [False] * len(values)
    rows = [{"code": v, "name": n if isinstance(n, str) and n != v else "", "count": counts[v], "candidate": bool(c),
             "inclusionary": bool(i)} for v, n, c, i in zip(values, names, in_cand, in_incl)]
    out["rows"] = sorted(rows, key=lambda r: (-r["count"], r["code"]))
    return out


def _context(ws: Workspace) -> dict:
    """Everything the page shows, from the folder, the scenario file and the check."""
    ctx: dict[str, Any] = {"problems": [], **_folder_part(ws)}
    has_scenario = ws.scenario.is_file()
    ctx["has_scenario"] = has_scenario
    ctx["scenario_name"] = ws.scenario.name
    try:
        found = scan(ws.folder)
    except OSError as err:
        found = []
        ctx["problems"].append(error_text(err))
    guesses = guess_roles([f for f in found])
    ctx["files"] = found
    ctx["guessed"] = {r: f.name for r, f in guesses.items()}
    doc = None
    if has_scenario:
        try:
            doc = ws.doc()
        except (ScenarioError, OSError) as err:
            ctx["problems"].append(error_text(err))
    ctx["doc_ok"] = doc is not None
    base = ws.scenario.parent.resolve()
    roles = []
    if doc is not None:
        for role in ROLES:
            row = _role_of(doc, role, base, found)
            row["fields"] = _fields_of(doc, role, row["found"])
            row["preview"] = _preview(row["found"])
            roles.append(row)
    ctx["roles"] = roles
    parcels = next((r for r in roles if r["role"] == "parcels"), None)
    ctx["land_use"] = _land_use_part(doc, parcels["found"] if parcels else None, parcels["fields"] if parcels else [])
    result = checked(ws) if doc is not None else None
    ctx["check"] = result
    ctx["groups"] = _group_findings(result, base) if result is not None else []
    if result is not None and result.report is not None:
        report = result.report
        ctx["n_errors"] = len(report.of_level("error"))
        ctx["n_warnings"] = len(report.of_level("repair", "warning"))
        ctx["layer_info"] = [{"kind": k, "file": _rel(Path(i.path), base), "encoding": i.encoding, "crs": i.crs.split(" (")[0],
                              "features": i.features, "types": ", ".join(i.geometry_types)}
                             for k, i in (report.layers.info.items() if report.layers is not None else [])]
    else:
        ctx["n_errors"] = ctx["n_warnings"] = 0
        ctx["layer_info"] = []
    return ctx


def _page(request: Request, *, status_code: int = 200, message: str = "", message_class: str = "ok") -> HTMLResponse:
    ws: Workspace = request.app.state.ws
    ctx = _context(ws)
    if not message:
        done = request.query_params.get("done")
        t = WORDS
        index = 0 if lang_of(request) == "zh" else 1
        if done == "saved":
            message = t["done_saved"][index]
        elif done == "made":
            message = t["done_made"][index].format(name=ws.scenario.name)
        elif done == "folder":
            message = t["done_folder"][index].format(name=ctx["folder_shown"])
    return render(request, "data.html", words=WORDS, status_code=status_code, message=message,
                  message_class=message_class, **ctx)


def _say(request: Request, key: str, **values: Any) -> str:
    return WORDS[key][0 if lang_of(request) == "zh" else 1].format(**values)


# ---------------------------------------------------------------------------- routes


@router.get("/data")
def page(request: Request):
    return _page(request)


@router.post("/data/folder")
async def choose_folder(request: Request):
    """Work on another folder inside the working folder; anything outside it is refused and nothing changes."""
    ws: Workspace = request.app.state.ws
    form = await request.form()
    name = str(form.get("folder") or "").strip()
    root = str(ws.root)
    try:
        folder = ws.inside(name or ".")
    except PathRefused:
        return _page(request, status_code=403, message=_say(request, "refused_folder", name=name, root=root), message_class="bad")
    except FileNotFoundError:
        return _page(request, status_code=404, message=_say(request, "missing_folder", name=name, root=root), message_class="bad")
    if not folder.is_dir():
        return _page(request, status_code=400, message=_say(request, "not_folder", name=name), message_class="bad")
    try:
        ws.choose(folder)
    except OSError as err:
        return _page(request, status_code=500, message=error_text(err), message_class="bad")
    return RedirectResponse("/data?done=folder", status_code=303)


@router.post("/data/scenario")
async def choose_scenario(request: Request):
    """Work on another scenario file of the chosen folder (a folder may hold several, one per scenario compared)."""
    ws: Workspace = request.app.state.ws
    name = str((await request.form()).get("scenario") or "").strip()
    try:
        if "/" in name or not name.endswith(".toml"):
            raise PathRefused(name)
        path = child_path(ws.folder, name)
    except PathRefused:
        return _page(request, status_code=403, message=_say(request, "refused_folder", name=name, root=str(ws.folder)),
                     message_class="bad")
    except FileNotFoundError:
        return _page(request, status_code=404, message=_say(request, "missing_folder", name=name, root=str(ws.folder)),
                     message_class="bad")
    ws.choose(ws.folder, path)
    return RedirectResponse("/data?done=folder", status_code=303)


@router.post("/data/init")
def make_scenario(request: Request):
    """``siteplan init`` on the chosen folder: a commented first scenario, never over an existing one."""
    ws: Workspace = request.app.state.ws
    try:
        init_scenario(ws.folder, ws.scenario)
    except (ScenarioError, OSError) as err:
        return _page(request, status_code=400, message=_say(request, "init_failed") + " " + error_text(err),
                     message_class="bad")
    return RedirectResponse("/data?done=made", status_code=303)


def _codes(text: str) -> list[str]:
    """Land-use codes typed as a list: commas (also Chinese ones), 、, semicolons or spaces between them."""
    return list(dict.fromkeys(c.strip() for c in re.split(r"[,，、;；\s]+", text or "") if c.strip()))


@router.post("/data/save")
async def save(request: Request):
    """Write the layer files, the columns and the land-use codes to the scenario; only changed keys change."""
    ws: Workspace = request.app.state.ws
    if not ws.scenario.is_file():
        return _page(request, status_code=409, message=_say(request, "no_scenario_to_save"), message_class="bad")
    form = await request.form()
    try:
        doc = ws.doc()
    except (ScenarioError, OSError) as err:
        return _page(request, status_code=400, message=_say(request, "save_failed") + " " + error_text(err),
                     message_class="bad")
    base = ws.scenario.parent.resolve()
    found = scan(ws.folder)
    lang = lang_of(request)
    idx = 0 if lang == "zh" else 1

    def refuse(value: str, what: str) -> HTMLResponse:
        return _page(request, status_code=400, message=_say(request, "bad_choice", value=value, what=what), message_class="bad")

    for role in ROLES:
        row = _role_of(doc, role, base, found)
        allowed = {v for v, _ in row["options"]}
        role_label = WORDS[f"role_{role}"][idx]
        changed_to: Found | None = None
        key = f"layer.{role}"
        if key in form:
            value = str(form.get(key) or "")
            if value == "":
                if role not in _REQUIRED:
                    doc.delete(f"layers.{role}")
                    for table in ("layer", "encoding", "crs", "datum"):
                        doc.delete(f"layers.{table}.{role}")
            elif value != row["current"]:
                if value not in allowed:
                    return refuse(value, role_label)
                path, _, layer = value.partition("::")
                doc.set(f"layers.{role}", path)
                changed_to = next((f for f in found if _value(f, base) == value), None)
                if layer:
                    doc.set(f"layers.layer.{role}", layer)
                else:
                    doc.delete(f"layers.layer.{role}")
                if changed_to is not None:
                    # the new file's own encoding, as init would write it; another file's setting no longer applies
                    if changed_to.encoding.startswith("GBK") and "detected" in changed_to.encoding:
                        doc.set(f"layers.encoding.{role}", "GBK")
                    else:
                        doc.delete(f"layers.encoding.{role}")
        if changed_to is not None and role != "population":
            # another file: its columns are guessed afresh, as siteplan init guesses them
            guessed = guess_fields(changed_to, role)
            needed, others = schema_fields(role)
            for name in [*needed, *others]:
                if name in guessed:
                    doc.set(f"fields.{role}.{name}", guessed[name][0])
                else:
                    doc.delete(f"fields.{role}.{name}")
            continue
        dkey = f"datum.{role}"
        if dkey in form and changed_to is None:
            datum = str(form.get(dkey) or "")
            if datum not in ("", "gcj02"):
                return refuse(datum, role_label)
            if datum != row["datum"]:
                if datum:
                    doc.set(f"layers.datum.{role}", datum)
                else:
                    doc.delete(f"layers.datum.{role}")
        fields = _fields_of(doc, role, row["found"])
        for frow in fields:
            fkey = f"f.{role}.{frow['name']}"
            if fkey not in form:
                continue
            value = str(form.get(fkey) or "")
            if value == frow["current"]:
                continue
            if value == "":
                doc.delete(f"fields.{role}.{frow['name']}")
            elif value not in {v for v, _ in frow["options"]}:
                return refuse(value, f"{role_label} · {frow['name']}")
            elif value == frow["name"] and doc.get(f"fields.{role}.{frow['name']}") is None:
                continue  # the column carries siteplan's name: nothing to map
            else:
                doc.set(f"fields.{role}.{frow['name']}", value)
    for name in ("candidate_land_use", "inclusionary_land_use"):
        key = f"plan.{name}"
        if key not in form:
            continue
        codes = _codes(str(form.get(key) or ""))
        if codes:
            doc.set(key, codes)
        else:
            doc.delete(key)
    # drop tables left empty by the deletions ([layers.encoding] with nothing in it reads the same, but says nothing)
    for table in ("layers.layer", "layers.encoding"):
        if doc.get(table) == {}:
            doc.delete(table)
    try:
        doc.save()
    except OSError as err:
        return _page(request, status_code=500, message=_say(request, "save_failed") + " " + error_text(err),
                     message_class="bad")
    return RedirectResponse("/data?done=saved", status_code=303)


# ---------------------------------------------------------------------------- the map


def _message_page(text: str) -> str:
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif;"
            f"color:#61707d;padding:16px\"><p id=\"map-message\">{html.escape(text)}</p></body></html>")


def map_html(result: Checked | None, lang: str) -> str:
    """The layers as the check read them, on one self-contained page: districts, parcels (red outside every district), stations."""
    import folium
    import geopandas as gpd
    import pandas as pd

    from ...outputs.offline import make_offline
    from ...outputs.styles import KEEP_DEFAULTS, display_frame

    idx = 0 if lang == "zh" else 1
    say = lambda key, **v: WORDS[key][idx].format(**v)  # noqa: E731
    if result is None:
        return _message_page(say("map_no_scenario"))
    frames = {k: v for k, v in result.frames.items() if v is not None and len(v)}
    if not any(k in frames for k in ("districts", "parcels", "stations")):
        return _message_page(f"{result.error} — {say('map_none')}" if result.error else say("map_none"))
    districts = frames.get("districts")
    parcels = frames.get("parcels")
    stations = frames.get("stations")
    shown = {}
    if districts is not None:
        cols = [c for c in ("district", "zone") if c in districts.columns]
        shown["districts"] = display_frame(districts[[*cols, "geometry"]], simplify_m=5.0)
    sampled = 0
    if parcels is not None:
        outside = result.outside if result.outside is not None else pd.Series(False, index=parcels.index)
        p = parcels.assign(_outside=outside.to_numpy())
        if len(p) > MAP_PARCELS:
            away = p.loc[p["_outside"]]
            rest = p.loc[~p["_outside"]]
            keep = max(MAP_PARCELS - len(away), 0)
            p = pd.concat([rest.sample(n=min(keep, len(rest)), random_state=0), away])
            p = gpd.GeoDataFrame(p, geometry=parcels.geometry.name, crs=parcels.crs)
            sampled = len(p)
        cols = [c for c in ("parcel_id", "name", "land_use", "district") if c in p.columns]
        shown["parcels"] = display_frame(p[[*cols, "_outside", "geometry"]], simplify_m=1.0)
    if stations is not None:
        cols = [c for c in ("station", "line") if c in stations.columns]
        shown["stations"] = display_frame(stations[[*cols, "geometry"]])
    bounds = [f.total_bounds for k, f in shown.items() if k in ("districts", "parcels") and len(f)] or \
             [f.total_bounds for f in shown.values() if len(f)]
    west, south = min(b[0] for b in bounds), min(b[1] for b in bounds)
    east, north = max(b[2] for b in bounds), max(b[3] for b in bounds)
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=11, tiles=None, control_scale=True)
    m.default_js = [(n, u) for n, u in m.default_js if n in KEEP_DEFAULTS]
    m.default_css = [(n, u) for n, u in m.default_css if n in KEEP_DEFAULTS]
    if "districts" in shown:
        d = shown["districts"]
        folium.GeoJson(d, name=html.escape(say("legend_districts")),
                       style_function=lambda f: {"color": "#555555", "weight": 2, "fillColor": "#f3f5f7", "fillOpacity": 0.4},
                       tooltip=folium.GeoJsonTooltip([c for c in ("district", "zone") if c in d.columns], labels=False)
                       if len(d.columns) > 1 else None).add_to(m)
    if "parcels" in shown:
        pp = shown["parcels"]
        tip = [c for c in ("parcel_id", "name", "land_use") if c in pp.columns]
        folium.GeoJson(pp, name=html.escape(say("legend_parcels")),
                       style_function=lambda f: ({"color": "#b3261e", "weight": 3, "fillColor": "#e53935", "fillOpacity": 0.8}
                                                 if f["properties"].get("_outside") else
                                                 {"color": "#1d5fa7", "weight": 0.6, "fillColor": "#6fa8dc", "fillOpacity": 0.5}),
                       tooltip=folium.GeoJsonTooltip(tip, labels=False) if tip else None).add_to(m)
    if "stations" in shown:
        s = shown["stations"]
        tip = [c for c in ("station", "line") if c in s.columns]
        folium.GeoJson(s, name=html.escape(say("legend_stations")),
                       marker=folium.CircleMarker(radius=4, color="#222222", weight=1.2, fill=True, fill_color="#ffffff",
                                                  fill_opacity=1),
                       tooltip=folium.GeoJsonTooltip(tip, labels=False) if tip else None).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    count = result.outside_count
    lines = []
    if count:
        lines.append(f"<div id=\"sp-outside\" style=\"color:#b3261e;font-weight:bold\">{html.escape(say('outside', n=count))}</div>")
    if sampled:
        lines.append(f"<div>{html.escape(say('map_sample', n=sampled))}</div>")
    legend = "".join(
        f"<div><span style=\"display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle;"
        f"border:2px solid {border};background:{fill}\"></span>{html.escape(say(key))}</div>"
        for key, border, fill in (("legend_districts", "#555555", "#f3f5f7"), ("legend_parcels", "#1d5fa7", "#6fa8dc"),
                                  ("legend_outside", "#b3261e", "#e53935"), ("legend_stations", "#222222", "#ffffff")))
    m.get_root().html.add_child(folium.Element(
        "<div style=\"position:fixed;z-index:1000;top:8px;right:8px;background:rgba(255,255,255,.92);padding:6px 9px;"
        "border:1px solid #d5dbe1;border-radius:4px;font:12px 'Noto Sans CJK SC','Microsoft YaHei',sans-serif\">"
        + "".join(lines) + legend + "</div>"))
    return make_offline(m.get_root().render())


@router.get("/data/map")
def layers_map(request: Request):
    ws: Workspace = request.app.state.ws
    lang = lang_of(request)
    result = checked(ws)
    try:
        if result is None:
            text = map_html(None, lang)
        else:
            with LOCK:
                text = result.maps.get(lang)
            if text is None:
                text = map_html(result, lang)
                with LOCK:
                    result.maps[lang] = text
    except (SiteplanError, OSError) as err:
        text = _message_page(error_text(err))
    return HTMLResponse(text, headers={"Cache-Control": "no-store"})
