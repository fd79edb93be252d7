"""The Results page (step 5): a finished run's map, tables and files, and two runs compared.

The page reads the run's ``out/`` folder as ``siteplan run`` wrote it: the
offline ``map.html`` in a frame, the parcels and units placed (from
``allocation.csv``), the compliance and shortfall tables, the parcels' list
and every file as a download (the shapefile folder as one zip). A sweep
shows ``sweep.csv`` and each variant's map and report.

Files are served only from a run's own ``out/`` folder (or a comparison's
folder), through :func:`siteplan.app.security.child_path`: a name that
would leave it is refused. HTML outputs are served in a sandbox (their own
origin), so nothing in a written page can act on the app. Tables are
rendered by Jinja, every value escaped.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from ...errors import SiteplanError, error_text
from ..runs import RUN_ID, Job, read_json, write_json
from ..security import child_path
from ..server import Workspace, lang_of, render, translator
from .run import run_view

__all__ = ["router", "WORDS", "read_table", "placed_parcels", "COMPARE_NAME"]

router = APIRouter()

WORDS: dict[str, tuple[str, str]] = {
    "title": ("成果", "Results"),
    "choose_run": ("选择已完成的运行", "Choose a finished run"),
    "show": ("显示", "Show"),
    "no_done": ("还没有完成的运行：请先在“运行”页运行方案。", "No finished run yet: run the scenario on the Run page first."),
    "to_run": ("去运行", "Go to the Run page"),
    "unknown_run": ("没有这个已完成的运行：{id}", "No finished run {id}"),
    "map_title": ("布局图", "Map"),
    "open_map": ("在新窗口打开布局图", "Open the map in a new window"),
    "open_report": ("打开报告", "Open the report"),
    "no_map": ("该运行没有 map.html。", "This run has no map.html."),
    "parcels_placed": ("已落实地块 {n} 个，共 {units} 套", "{n} parcels used, {units} units in all"),
    "compliance_title": ("规则落实情况", "Rules"),
    "shortfall_title": ("缺口", "Shortfall"),
    "no_shortfall": ("无缺口", "no shortfall"),
    "parcels_title": ("地块清单", "Parcels"),
    "downloads_title": ("下载", "Downloads"),
    "shapefile_zip": ("Shapefile 图层（zip 压缩包）", "Shapefile layers (zip)"),
    "sweep_title": ("参数比选结果", "Sweep results"),
    "variant_files": ("各变体成果", "Each variant's outputs"),
    "variant_map": ("布局图", "map"),
    "variant_report": ("报告", "report"),
    "compare_title": ("比较两次运行", "Compare two runs"),
    "compare_a": ("方案 A", "Plan A"),
    "compare_b": ("方案 B", "Plan B"),
    "compare_go": ("比较", "Compare"),
    "compare_need_two": ("请选择两次不同的、已完成的单方案运行。", "Choose two different finished runs (not sweeps)."),
    "compare_summary": ("仅在 A 中的地块 {a} 个；仅在 B 中 {b} 个；两者都有 {both} 个，其中有变化 {changed} 个。",
                        "Parcels only in A: {a}; only in B: {b}; in both: {both}, of which changed: {changed}."),
    "compare_files": ("比较成果", "Comparison files"),
    "read_error": ("无法读取：", "Cannot read: "),
    "col_rule": ("规则", "rule"),
    "col_description": ("说明", "description"),
    "col_required": ("要求", "required"),
    "col_achieved": ("实际", "achieved"),
    "col_rows": ("约束数", "rows"),
    "col_binding_rows": ("起作用的约束数", "binding rows"),
    "col_binding": ("起作用", "binding"),
    "col_shortfall": ("缺口", "shortfall"),
    "col_ok": ("满足", "met"),
    "col_side": ("方向", "side"),
    "col_zone": ("片区", "zone"),
    "col_district": ("行政区", "district"),
    "col_park": ("产业园", "park"),
    "col_type": ("类型", "type"),
    "col_year": ("年份", "year"),
    "col_units": ("套数", "units"),
    "col_binding_rules": ("相关规则", "binding rules"),
}

#: A comparison's folder name inside the runs' folder.
COMPARE_NAME = re.compile(r"^compare-(\d{8}-\d{6}-\d{2})-vs-(\d{8}-\d{6}-\d{2})$")

#: Outputs a browser should save rather than show.
_ATTACHMENT = (".xlsx", ".docx", ".gpkg", ".zip", ".shp", ".shx", ".dbf", ".prj", ".cpg", ".tif")
#: Media types the standard table may not know.
_MEDIA = {".geojson": "application/geo+json", ".gpkg": "application/geopackage+sqlite3", ".csv": "text/csv; charset=utf-8",
          ".json": "application/json", ".html": "text/html; charset=utf-8"}


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """A CSV written by siteplan (utf-8-sig) as (header, rows) of strings, exactly as in the file."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return (rows[0], rows[1:]) if rows else ([], [])


def placed_parcels(out: Path) -> tuple[int, int]:
    """(parcels with units, units in all) from ``allocation.csv``, summed per parcel."""
    per: dict[str, int] = {}
    with open(out / "allocation.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                units = int(float(row.get("units") or 0))
            except ValueError:
                continue
            per[row["parcel_id"]] = per.get(row["parcel_id"], 0) + units
    placed = {k: v for k, v in per.items() if v > 0}
    return len(placed), sum(placed.values())


def _job(ws: Workspace, run_id: str) -> Job | None:
    return ws.runs.job(run_id) if isinstance(run_id, str) and RUN_ID.match(run_id) else None


def _downloads(out: Path) -> list[str]:
    """Every file in ``out`` (and its sub-folders but the shapefile ones), as paths relative to it."""
    found = []
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if path.is_file() and "shapefile" not in rel.parts[:-1] and not rel.name.startswith("."):
            found.append(rel.as_posix())
    return found


def _table(out: Path, name: str, t) -> dict | None:
    path = out / name
    if not path.is_file():
        return None
    try:
        head, rows = read_table(path)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        return {"error": f"{path}: {err}", "head": [], "rows": []}
    return {"head": [t(f"col_{h}") if f"col_{h}" in WORDS else h for h in head], "rows": rows, "error": ""}


def _compare_summary(folder: Path) -> dict | None:
    summary = read_json(folder / "summary.json")
    return summary or None


@router.get("/results")
def page(request: Request):
    error = WORDS["compare_need_two"][0 if lang_of(request) == "zh" else 1] if request.query_params.get("compare_error") else ""
    return _page(request, request.query_params.get("id") or "", compare_error=error,
                 compare=request.query_params.get("compare") or "")


def _page(request: Request, wanted: str, *, compare_error: str = "", compare: str = "", status_code: int | None = None):
    ws: Workspace = request.app.state.ws
    lang = lang_of(request)
    t = translator(lang, WORDS)
    done = [j for j in ws.runs.jobs() if j.state == "done"]
    job = next((j for j in done if j.id == wanted), None)
    missing = bool(wanted) and job is None
    if job is None and not missing and done:
        job = done[0]
    context: dict = {"done": done, "job": job, "missing": missing, "wanted": wanted, "view": None, "files": [],
                     "map": False, "report": False, "parcels": None, "compliance": None, "shortfall": None,
                     "parcel_list": None, "sweep": None, "variants": [], "has_shapefile": False, "read_error": "",
                     "compare": None, "compare_error": compare_error,
                     "runs_to_compare": [j for j in done if j.record.get("kind") != "sweep"]}
    if job is not None:
        out = job.out
        context["view"] = run_view(ws, job, lang, events=False)
        context["files"] = _downloads(out) if out.is_dir() else []
        context["map"] = (out / "map.html").is_file()
        context["report"] = (out / "report.html").is_file()
        context["has_shapefile"] = (out / "shapefile").is_dir()
        try:
            if (out / "allocation.csv").is_file():
                context["parcels"] = placed_parcels(out)
            context["compliance"] = _table(out, "compliance.csv", t)
            context["shortfall"] = _table(out, "shortfall.csv", t)
            context["parcel_list"] = _table(out, "land_supply_parcels.csv", t)
            context["sweep"] = _table(out, "sweep.csv", t)
            if context["sweep"] is not None:
                context["variants"] = [p.name for p in sorted(out.iterdir()) if p.is_dir() and re.fullmatch(r"v\d+", p.name)]
        except (OSError, UnicodeDecodeError, csv.Error, KeyError, ValueError) as err:
            context["read_error"] = error_text(err) if isinstance(err, OSError) else str(err)
    name = compare
    if COMPARE_NAME.match(name) and (ws.runs.runs_dir / name / "compare.html").is_file():
        context["compare"] = {"name": name, "summary": _compare_summary(ws.runs.runs_dir / name),
                              "files": sorted(p.name for p in (ws.runs.runs_dir / name).iterdir()
                                              if p.is_file() and p.name != "summary.json")}
    return render(request, "results.html", words=WORDS, status_code=status_code or (404 if missing else 200), **context)


def _serve(base: Path, name: str) -> Response:
    path = child_path(base, name)  # PathRefused -> 403 (the app's handler); missing -> FileNotFoundError
    if not path.is_file():
        raise FileNotFoundError(name)
    suffix = path.suffix.lower()
    media = _MEDIA.get(suffix)
    if suffix in _ATTACHMENT:
        response: Response = FileResponse(path, media_type=media, filename=path.name)
    else:
        response = FileResponse(path, media_type=media)
    if suffix in (".html", ".htm"):
        # a written page runs in its own origin: whatever it holds cannot act on the app
        response.headers["Content-Security-Policy"] = "sandbox allow-scripts allow-popups allow-modals allow-downloads"
    return response


def _not_found(what: str) -> Response:
    return Response(f"siteplan app: 没有这个文件 / no such file: {what}", status_code=404, media_type="text/plain; charset=utf-8")


@router.get("/runs/{run_id}/files/{name:path}")
def run_file(request: Request, run_id: str, name: str):
    job = _job(request.app.state.ws, run_id)
    if job is None:
        return _not_found(run_id)
    try:
        return _serve(job.out, name)
    except FileNotFoundError:
        return _not_found(name)


@router.get("/runs/{run_id}/zip/{folder:path}")
def run_zip(request: Request, run_id: str, folder: str):
    """A shapefile folder of the run's outputs (``shapefile`` or a variant's ``v01/shapefile``) as one zip."""
    job = _job(request.app.state.ws, run_id)
    if job is None or PurePosixPath(folder).name != "shapefile":
        return _not_found(folder)
    try:
        base = child_path(job.out, folder)
    except FileNotFoundError:
        return _not_found(folder)
    if not base.is_dir():
        return _not_found(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(base.iterdir()):
            real = path.resolve()
            if path.is_file() and real.is_relative_to(base):  # a link that leads out is left out
                zf.write(real, arcname=f"shapefile/{path.name}")
    stem = folder.replace("/", "-")
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{run_id}-{stem}.zip"'})


@router.post("/results/compare")
def compare(request: Request, compare_a: str = Form(""), compare_b: str = Form("")):
    ws: Workspace = request.app.state.ws
    lang = lang_of(request)
    a, b = _job(ws, compare_a), _job(ws, compare_b)
    if a is None or b is None or a.id == b.id or a.state != "done" or b.state != "done" or "sweep" in (
            a.record.get("kind"), b.record.get("kind")):
        return RedirectResponse(f"/results?id={a.id if a else ''}&compare_error=1", status_code=303)
    from ...outputs.compare import compare_runs, write_comparison

    name = f"compare-{a.id}-vs-{b.id}"
    out = ws.runs.runs_dir / name
    try:
        ra, rb, tables = compare_runs(a.out, b.out)
        write_comparison(a.out, b.out, out, runs=(ra, rb, tables), lang=lang)
    except (SiteplanError, OSError) as err:
        return _page(request, a.id, compare_error=error_text(err), status_code=400)
    parcels = tables["parcels"]
    counts = parcels["change"].value_counts()
    only_a, only_b = int(counts.get("A only", 0)), int(counts.get("B only", 0))
    write_json(out / "summary.json", {
        "a": a.id, "b": b.id, "only_a": only_a, "only_b": only_b, "both": int(len(parcels) - only_a - only_b),
        "changed": int(counts.drop(["A only", "B only", "same"], errors="ignore").sum())})
    return RedirectResponse(f"/results?id={a.id}&compare={name}", status_code=303)


@router.get("/compare/{name}/{path:path}")
def compare_file(request: Request, name: str, path: str):
    ws: Workspace = request.app.state.ws
    if not COMPARE_NAME.match(name):
        return _not_found(name)
    try:
        folder = child_path(ws.runs.runs_dir, name)
        return _serve(folder, path)
    except FileNotFoundError:
        return _not_found(path)
