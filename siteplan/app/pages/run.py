"""The Run page (step 4): start a plan, K alternative plans or a sweep, and follow the runs as they go.

Runs are asked of the workspace's :class:`siteplan.app.runs.RunQueue`, which
solves one at a time in a process of its own: nothing here is tied to the
page, so closing the browser changes nothing. The page shows the runs on
disk and the chosen one; ``run.js`` asks ``/api/runs/<id>`` every second
and redraws the chosen run from it, as text only.

:func:`run_view` turns a run's ``job.json`` and ``progress.jsonl`` into
what a planner reads (state, status sentence, gap, units, steps with their
times, findings, the command line), in the page's language; the page, the
JSON API and the Results page all show that one view.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import time
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse

from ...errors import ScenarioError, SiteplanError, error_text
from ..runs import FINAL_STATES, RUN_ID, Job
from ..server import Workspace, lang_of, render

__all__ = ["router", "WORDS", "run_view", "SWEEP_KEYS", "STEP_ZH", "STAGE_ZH"]

router = APIRouter()

WORDS: dict[str, tuple[str, str]] = {
    "title": ("运行方案", "Run the scenario"),
    "hint": ("运行在本机后台进行，一次一个；关闭浏览器不影响运行。",
             "Runs go on in the background on this computer, one at a time; closing the browser does not stop them."),
    "scenario_ok": ("方案文件可以运行。", "The scenario reads and can run."),
    "fix_at": ("去修改", "Fix it on the page"),
    "start_title": ("开始运行", "Start"),
    "alternatives": ("备选方案数（1–20）", "Alternative plans (1–20)"),
    "alternatives_hint": ("填 1 求一个最优方案；大于 1 时另求若干个差别明显的备选方案。",
                          "1 solves the best plan; more than 1 also finds alternative plans that differ."),
    "run_start": ("运行", "Run"),
    "sweep_title": ("参数比选（多方案批量运行）", "Sweep (one run per setting)"),
    "sweep_key": ("调整项", "Setting"),
    "sweep_values": ("取值（用逗号分隔）", "Values (comma-separated)"),
    "sweep_hint": ("例如 公交规则比例 rules.transit.share 取 0.5,0.6,0.7；targets 取 0.9,1.0,1.1 表示全部指标按比例缩放。",
                   "e.g. rules.transit.share with 0.5,0.6,0.7; targets with 0.9,1.0,1.1 scales every target."),
    "sweep_start": ("批量运行", "Run the sweep"),
    "key_transit_share": ("公交覆盖比例", "transit share"),
    "key_transit_within": ("公交覆盖距离（米）", "transit distance (m)"),
    "key_radius_cap": ("半径内套数上限", "units within the radius, at most"),
    "key_project_max": ("单个项目套数上限", "units of one project, at most"),
    "key_targets": ("全部指标缩放系数", "scale every target"),
    "bad_alternatives": ("备选方案数应为 1 到 20 之间的整数。", "Alternative plans: write a whole number from 1 to 20."),
    "runs_title": ("运行记录", "Runs"),
    "no_runs": ("还没有运行记录。", "No runs yet."),
    "col_id": ("编号", "Run"),
    "col_asked": ("提交时间", "Asked"),
    "col_kind": ("类型", "Kind"),
    "col_state": ("状态", "State"),
    "col_status": ("结果", "Result"),
    "detail_title": ("运行详情", "The run"),
    "progress_title": ("进度", "Progress"),
    "findings_title": ("检查发现", "Findings"),
    "command_title": ("等效命令行", "The same run from a terminal"),
    "cancel": ("取消运行", "Cancel the run"),
    "to_results": ("查看成果", "See the results"),
}

#: Settings a sweep commonly varies: (dotted key, words key).
SWEEP_KEYS = (
    ("rules.transit.share", "key_transit_share"),
    ("rules.transit.within_m", "key_transit_within"),
    ("rules.radius_cap.max_units", "key_radius_cap"),
    ("rules.project_size.max_units", "key_project_max"),
    ("targets", "key_targets"),
)

#: The worker's step messages in Chinese (:func:`siteplan.pipeline.run`, :func:`siteplan.sweep.run_sweep`).
STEP_ZH = {
    "Checking the scenario and layers": "检查方案与图层",
    "Reading layers": "读取图层",
    "Computing parcel features": "计算地块特征",
    "Building the model": "建立模型",
    "Solving": "求解",
    "Writing outputs": "写出成果",
}
_STEP_ZH_RE = (
    (re.compile(r"^Solving for (\d+) alternative plans$"), "求解 {0} 个备选方案"),
    (re.compile(r"^(\d+) variant\(s\) of (.+)$"), "{1} 的 {0} 个变体"),
    (re.compile(r"^Solving on Dask \((.*)\)$"), "用 Dask 并行求解（{0}）"),
)

#: Solve stage kinds (:class:`siteplan.progress.Stage`) in Chinese.
STAGE_ZH = {
    "model": "模型建成", "sift": "线性松弛", "lp": "线性松弛", "dive": "LP下潜", "restricted_mip": "限定整数规划",
    "least_shortfall": "最小缺口", "rounding": "取整", "whole_units": "整套", "solved": "求解完成", "alternative": "备选方案",
}

#: Words of the run's states, kinds and the view's sentences: key -> (中文, English).
VIEW_WORDS: dict[str, tuple[str, str]] = {
    "state_queued": ("排队中", "queued"),
    "state_running": ("运行中", "running"),
    "state_done": ("完成", "done"),
    "state_failed": ("失败", "failed"),
    "state_cancelled": ("已取消", "cancelled"),
    "state_interrupted": ("已中断", "interrupted"),
    "queued_ahead": ("排队中：前面还有 {n} 个运行", "queued: {n} run(s) ahead"),
    "queued_next": ("排队中：下一个运行", "queued: next to run"),
    "cancelling": ("正在取消…", "cancelling…"),
    "kind_run": ("单一方案", "one plan"),
    "kind_alternatives": ("{k} 个备选方案", "{k} alternative plans"),
    "kind_sweep": ("参数比选", "sweep"),
    "gap": ("间隙 {gap}（上限 {limit}）", "gap {gap} (limit {limit})"),
    "gap_only": ("间隙 {gap}", "gap {gap}"),
    "no_bound": ("无下界", "no bound"),
    "time_limit_hit": ("（已到求解时限）", " (time limit reached)"),
    "units": ("已落实 {placed} 套；缺 {missing} 套", "{placed} units placed; {missing} missing"),
    "units_excess": ("；超出 {excess} 套", "; {excess} over"),
    "variants_done": ("已完成变体 {text}", "variants finished: {text}"),
    "sweep_done": ("共 {n} 个变体已完成", "{n} variants finished"),
    "finding": ("检查发现：{text}", "finding: {text}"),
    "warning": ("提示：{text}", "warning: {text}"),
    "stage_running": ("进行中：{text}", "now: {text}"),
    "end_done": ("结束", "ended"),
    "end_failed": ("运行失败", "the run failed"),
    "end_cancelled": ("已取消", "cancelled"),
    "elapsed": ("用时 {s}", "took {s}"),
}


def _t(lang: str):
    i = 0 if lang == "zh" else 1

    def t(key: str, **values: Any) -> str:
        text = VIEW_WORDS[key][i]
        return text.format(**values) if values else text

    return t


def _seconds(s: float) -> str:
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    return f"{m}:{sec:02d}" if m < 60 else f"{m // 60}:{m % 60:02d}:{sec:02d}"


def _epoch(stamp: str | None) -> float | None:
    try:
        return dt.datetime.fromisoformat(stamp).timestamp() if stamp else None
    except (TypeError, ValueError):
        return None


def step_text(text: str, lang: str) -> str:
    """A step message of the worker in ``lang`` (unknown messages as they are)."""
    if lang != "zh":
        return text
    if text in STEP_ZH:
        return STEP_ZH[text]
    for pattern, zh in _STEP_ZH_RE:
        m = pattern.match(text)
        if m:
            return zh.format(*m.groups())
    return text


def stage_text(kind: str | None, label: str, lang: str) -> str:
    """A solve stage in ``lang``: its kind in Chinese, with the round or plan number the label carries."""
    if lang != "zh" or kind not in STAGE_ZH:
        return label
    word = STAGE_ZH[kind]
    if kind == "sift":
        m = re.search(r"round (\d+)", label)
        return f"{word}（筛选第 {m.group(1)} 轮）" if m else word
    if kind == "lp":
        return f"{word}求解完成"
    if kind == "alternative":
        m = re.search(r"alternative (\S+)", label)
        return f"{word} {m.group(1)} 求解完成" if m else word
    if kind == "rounding" and "gave up" in label:
        return f"{word}（放弃，改用整数规划）"
    if kind == "dive" and "no plan" in label:
        return f"{word}（未得到方案）"
    return word


def _events(job: Job, lang: str, running: bool) -> list[dict]:
    t = _t(lang)
    events = job.progress()
    t0 = _epoch(job.record.get("started")) or (events[0].get("t") if events else None) or 0.0
    shown = []
    for i, e in enumerate(events):
        kind, text = e.get("kind"), str(e.get("text", ""))
        if kind == "step":
            words = step_text(text, lang)
        elif kind == "stage":
            words = stage_text(e.get("stage"), text, lang)
        elif kind == "start":
            if not (running and i == len(events) - 1):
                continue  # a stage that began; its end is the next line
            words = t("stage_running", text=text)
        elif kind == "finding":
            words = t("finding", text=text)
        elif kind == "warning":
            words = t("warning", text=text)
        elif kind == "variants":
            words = t("variants_done", text=text)
        elif kind == "end":
            words = t(f"end_{text}") if f"end_{text}" in VIEW_WORDS else text
        else:
            words = text
        at = e.get("t")
        shown.append({"kind": kind, "text": words, "elapsed": _seconds(at - t0) if isinstance(at, (int, float)) and t0 else ""})
    return shown


def _percent(v: Any) -> str:
    return f"{float(v) * 100:.2f}%"


def _ahead(ws: Workspace, job: Job) -> int:
    """Runs that start before this queued one: the one running and those queued earlier."""
    jobs = ws.runs.jobs()
    running = sum(1 for j in jobs if j.state == "running")
    earlier = sum(1 for j in jobs if j.state == "queued" and j.id < job.id)
    return running + earlier


def kind_text(record: dict, lang: str) -> str:
    t = _t(lang)
    if record.get("kind") == "sweep":
        return t("kind_sweep") + ("：" if lang == "zh" else ": ") + "; ".join(record.get("vary") or [])
    k = record.get("alternatives")
    return t("kind_alternatives", k=int(k)) if k and int(k) > 1 else t("kind_run")


def run_view(ws: Workspace, job: Job, lang: str, *, events: bool = True) -> dict:
    """What a planner reads of one run, in ``lang``: every value a plain string or number, for the page and the API."""
    t = _t(lang)
    r = job.record
    state = job.state
    if state == "queued":
        n = _ahead(ws, job)
        state_text = t("queued_ahead", n=n) if n else t("queued_next")
    elif state == "running" and r.get("cancel_asked"):
        state_text = t("cancelling")
    else:
        state_text = t(f"state_{state}") if f"state_{state}" in VIEW_WORDS else state
    view: dict[str, Any] = {
        "id": job.id, "kind": r.get("kind", "run"), "kind_text": kind_text(r, lang), "state": state,
        "state_text": state_text, "final": state in FINAL_STATES, "asked": (r.get("asked") or "").replace("T", " ")[:19],
        "status": None, "status_text": "", "status_class": "", "gap_text": "", "units_text": "",
        "error": r.get("error") or "", "findings": [str(f) for f in r.get("findings") or []],
        "command": shlex.join(str(c) for c in r["command"]) if r.get("command") else "",
        "elapsed": "", "events": [],
    }
    started, finished = _epoch(r.get("started")), _epoch(r.get("finished"))
    if started:
        view["elapsed"] = t("elapsed", s=_seconds((finished or time.time()) - started))
    if r.get("status"):
        code = str(r["status"])
        view["status"] = code
        view["status_text"] = str(r.get("status_zh") if lang == "zh" else r.get("status_en") or "")
        view["status_class"] = f"status-{code}" if code in ("optimal", "feasible", "shortfall") else ""
        gap = r.get("gap")
        if gap is None:
            view["gap_text"] = t("no_bound")
        elif r.get("gap_limit") is not None:
            view["gap_text"] = t("gap", gap=_percent(gap), limit=_percent(r["gap_limit"]))
        else:
            view["gap_text"] = t("gap_only", gap=_percent(gap))
        if r.get("time_limit_hit"):
            view["gap_text"] += t("time_limit_hit")
        if r.get("placed_units") is not None:
            view["units_text"] = t("units", placed=f"{int(r['placed_units']):,}", missing=f"{int(r.get('units_missing') or 0):,}")
            if r.get("units_excess"):
                view["units_text"] += t("units_excess", excess=f"{int(r['units_excess']):,}")
    elif r.get("kind") == "sweep" and state == "done":
        view["status_text"] = t("sweep_done", n=int(r.get("variants") or 0))
    if state in ("failed", "interrupted"):
        view["status_class"] = "status-failed"
    if events:
        view["events"] = _events(job, lang, running=state == "running")
    return view


def fix_page(problem: str) -> str:
    """The page where a scenario problem is most likely fixed."""
    low = problem.lower()
    if "[rules" in low or "rules." in low:
        return "/rules"
    if "target" in low or "[types" in low or "types." in low or "[zones" in low or "[districts" in low:
        return "/targets"
    return "/data"


#: What :func:`_scenario_state` says when there is no scenario file yet (the page shows the frame's words for it).
NO_SCENARIO = "no_scenario"


def _scenario_state(ws: Workspace) -> tuple[str | None, str]:
    """(what stops the scenario from running, or None; the page to fix it)."""
    try:
        doc = ws.doc()
    except (SiteplanError, OSError) as err:
        return error_text(err), "/data"
    if doc is None:
        return NO_SCENARIO, "/data"
    problem = doc.problem()
    return (problem, fix_page(problem)) if problem else (None, "")


def _page(request: Request, *, error: str = "", status_code: int = 200, form: dict | None = None):
    ws: Workspace = request.app.state.ws
    lang = lang_of(request)
    problem, fix = _scenario_state(ws)
    jobs = ws.runs.jobs()
    wanted = request.query_params.get("id") or ""
    chosen = next((j for j in jobs if j.id == wanted), None) or (jobs[0] if jobs else None)
    views = [run_view(ws, j, lang, events=False) for j in jobs]
    detail = run_view(ws, chosen, lang) if chosen else None
    return render(request, "run.html", words=WORDS, status_code=status_code, problem=problem, fix=fix, runs=views,
                  detail=detail, error=error, sweep_keys=SWEEP_KEYS, form=form or {})


@router.get("/run")
def page(request: Request):
    return _page(request)


@router.post("/run/start")
def start(request: Request, kind: str = Form("run"), alternatives: str = Form("1"), sweep_key: str = Form(""),
          sweep_values: str = Form("")):
    ws: Workspace = request.app.state.ws
    lang = lang_of(request)
    form = {"alternatives": alternatives, "sweep_key": sweep_key, "sweep_values": sweep_values}
    problem, _ = _scenario_state(ws)
    if problem:
        return _page(request, status_code=400, form=form)  # the page names the problem and where to fix it
    if kind == "sweep":
        from ...sweep import parse_vary

        spec = f"{sweep_key.strip()}={sweep_values.strip()}"
        try:
            parse_vary(spec)
        except ScenarioError as err:
            return _page(request, error=str(err), status_code=400, form=form)
        job = ws.runs.submit(ws.scenario, kind="sweep", vary=[spec], lang=lang)
    else:
        try:
            k = int(str(alternatives).strip() or "1")
        except ValueError:
            k = 0
        if not 1 <= k <= 20:
            return _page(request, error=WORDS["bad_alternatives"][0 if lang == "zh" else 1], status_code=400, form=form)
        job = ws.runs.submit(ws.scenario, kind="run", alternatives=k if k > 1 else None, lang=lang)
    return RedirectResponse(f"/run?id={job.id}", status_code=303)


@router.post("/run/{run_id}/cancel")
def cancel(request: Request, run_id: str):
    ws: Workspace = request.app.state.ws
    if not RUN_ID.match(run_id) or ws.runs.job(run_id) is None:
        return JSONResponse({"error": "no such run"}, status_code=404)
    ws.runs.cancel(run_id)
    return RedirectResponse(f"/run?id={run_id}", status_code=303)


@router.get("/api/runs")
def api_runs(request: Request):
    ws: Workspace = request.app.state.ws
    lang = lang_of(request)
    return {"runs": [run_view(ws, j, lang, events=False) for j in ws.runs.jobs()]}


@router.get("/api/runs/{run_id}")
def api_run(request: Request, run_id: str):
    ws: Workspace = request.app.state.ws
    job = ws.runs.job(run_id) if RUN_ID.match(run_id) else None
    if job is None:
        return JSONResponse({"error": "no such run"}, status_code=404)
    return run_view(ws, job, lang_of(request))
