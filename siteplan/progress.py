"""Live progress on the terminal for long work: each solve stage of a run, and the variants of a sweep or batch.

The solver's modules say nothing to the screen themselves: each stage logs
one INFO line on the ``siteplan.solve`` loggers when it ends (a sifting
round, the LP dive, the restricted MIP, the least shortfall, rounding with
repair, the whole-unit step, each alternative plan). :class:`RunProgress`
listens to those records with a :class:`StageHandler` on the ``siteplan``
logger while a run lasts and shows them in a :class:`rich.live.Live`
display on standard error: the run's step, the stages done with their
times, the one running and for how long, the whole run's time, the time
limit and which alternative of how many is being solved.
:class:`VariantsProgress` shows a sweep's or batch's variants finished out
of the total, with the elapsed time.

Both draw only when their console is a terminal, as Rich detects it
(``TTY_COMPATIBLE=1`` tells Rich a terminal it missed is one;
``SITEPLAN_PROGRESS=0`` turns the displays off): in CI logs and pipes they
print nothing, and the log stays as it was. The handler only reads
records; every record still reaches the usual handlers, so no warning is
swallowed.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

__all__ = ["Stage", "stage_of", "StageHandler", "RunProgress", "VariantsProgress", "progress_forced", "switched_off"]

#: The environment variable that turns the live displays off (``0``); unset: on a terminal only.
PROGRESS_ENV = "SITEPLAN_PROGRESS"

#: Stages shown in the live display; older ones scroll off (they are in the log with --verbose).
SHOWN_STAGES = 12


def switched_off(name: str, environ: dict | None = None) -> bool:
    """Whether the environment variable ``name`` turns a setting of the command line off
    (``0``, ``no``, ``off``, ``false``, ``never``; any case, spaces around ignored)."""
    import os

    value = (environ if environ is not None else os.environ).get(name, "").strip().lower()
    return value in ("0", "no", "off", "false", "never")


def progress_forced(environ: dict | None = None) -> bool | None:
    """The displays' ``force``: False when ``SITEPLAN_PROGRESS`` is ``0``/``no``/``off``, else None (on a terminal only)."""
    return False if switched_off(PROGRESS_ENV, environ) else None


@dataclass(frozen=True)
class Stage:
    """One finished solve stage, read from its log record.

    Attributes
    ----------
    kind
        ``model``, ``sift``, ``lp``, ``dive``, ``restricted_mip``,
        ``least_shortfall``, ``rounding``, ``whole_units``, ``solved`` or
        ``alternative``.
    label
        The stage in a planner's words, e.g. ``LP by sifting, round 2``.
    detail
        The record's own message.
    next
        What runs after it, as far as the record tells (``""`` when it does not).
    """

    kind: str
    label: str
    detail: str
    next: str = ""


#: (logger, start of the message's format string) -> kind. The solve modules log each stage when it ends.
_KINDS = (
    ("siteplan.model.problem", "Compiled", "model"),
    ("siteplan.solve.sift", "Sifting:", "sift"),
    ("siteplan.solve.dive", "LP dive", "dive"),
    ("siteplan.solve.search", "LP bound", "restricted_mip"),
    ("siteplan.solve.search", "Least possible shortfall", "least_shortfall"),
    ("siteplan.solve.rounding", "Rounding with repair", "rounding"),
    ("siteplan.solve.search", "Whole units by rounding", "whole_units"),
    ("siteplan.solve.search", "Rounding with repair gave up", "rounding_failed"),
    ("siteplan.solve.search", "Solved (", "solved"),
    ("siteplan.solve.alternatives", "Alternative ", "alternative"),
)


#: Display names of the stages the solve modules log as they start ("Stage: dive"), where they differ.
_STARTED = {"dive": "LP dive"}


def stage_of(record: logging.LogRecord, *, sift_round: int = 1) -> Stage | None:
    """The finished stage a log record reports, or None for any other record.

    ``sift_round`` is the number of this sifting round in the current LP
    (the caller counts them; a round that prices nothing in ends the LP).
    A record of a stage that starts (``"Stage: ..."`` from a ``siteplan.solve``
    module) is a Stage of kind ``"start"``, its label the stage's name.
    """
    fmt = str(record.msg)
    if record.name.startswith("siteplan.solve") and fmt.startswith("Stage: "):
        name = record.getMessage()[len("Stage: "):]
        name = _STARTED.get(name, name)
        return Stage("start", name, record.getMessage(), name)
    kind = next((k for name, start, k in _KINDS if record.name == name and fmt.startswith(start)), None)
    if kind is None:
        return None
    text = record.getMessage()
    if kind == "model":
        return Stage(kind, "model built", text, "LP relaxation")
    if kind == "sift":
        priced = record.args[1] if isinstance(record.args, tuple) and len(record.args) > 1 else None
        if priced == 0:
            return Stage("lp", f"LP by sifting, round {sift_round}: LP solved", text, "LP dive")
        return Stage(kind, f"LP by sifting, round {sift_round}", text, f"LP by sifting, round {sift_round + 1}")
    if kind == "dive":
        return Stage(kind, "LP dive" if "stopped" not in fmt else "LP dive (no plan)", text, "MIP on the parcels the LP uses")
    if kind == "restricted_mip":
        return Stage(kind, "restricted MIP", text, "MIP search (full model or least shortfall)")
    if kind == "least_shortfall":
        return Stage(kind, "least shortfall", text, "best plan within the least shortfall")
    if kind == "rounding":
        m = re.search(r"from the (\w+) start", text)
        return Stage(kind, f"whole units: rounding from the {m.group(1)} start" if m else "whole units: rounding", text,
                     "whole units")
    if kind == "whole_units":
        return Stage(kind, "whole units", text, "")
    if kind == "rounding_failed":
        return Stage("rounding", "whole units: rounding gave up too much", text, "whole units by MIP")
    if kind == "solved":
        return Stage(kind, "plan solved", text, "")
    m = re.match(r"Alternative (\d+)", text)
    return Stage(kind, f"alternative {m.group(1) if m else '?'} solved", text, "")


class StageHandler(logging.Handler):
    """A logging handler that hands each solve stage's record to ``on_stage``; it never prints nor drops a record."""

    def __init__(self, on_stage) -> None:
        super().__init__(level=logging.INFO)
        self.on_stage = on_stage
        self._sift_round = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            is_sift = record.name == "siteplan.solve.sift" and str(record.msg).startswith("Sifting:")
            stage = stage_of(record, sift_round=self._sift_round + 1)
            if stage is None:
                return
            self._sift_round = self._sift_round + 1 if is_sift and stage.kind == "sift" else 0
            self.on_stage(stage, record.created)
        except Exception:  # a display must never stop a run
            self.handleError(record)


@dataclass
class _State:
    """What the live display shows; written by the solving thread, read by the refresh thread."""

    started: float
    step: str = "Starting"
    step_started: float = 0.0
    alternatives: int = 1
    done_plans: int = 0
    stages: list[tuple[str, float]] = field(default_factory=list)  # (label, seconds)
    last: float = 0.0
    plan_started: float = 0.0
    running: str = ""


def _seconds(s: float) -> str:
    """``12.3 s`` under a minute, else ``2 min 05 s``."""
    if s < 59.95:
        return f"{s:.1f} s"
    whole = round(s)
    return f"{whole // 60} min {whole % 60:02d} s"


class RunProgress:
    """The live display of one run: its step, each solve stage, the elapsed times, the time limit, alternative k of K.

    Use as a context manager around the run and pass :meth:`step` the
    pipeline's progress lines (``"Solving for 3 alternative plans"`` sets K).
    While it lasts, a :class:`StageHandler` on the ``siteplan`` logger feeds
    it (the logger is opened to INFO if it was quieter; handlers above
    keep their own levels). When the console is not a terminal and
    ``force`` is not True, it does nothing at all.

    Parameters
    ----------
    console
        Where to draw: the standard-error console.
    time_limit_s
        The scenario's solve time limit, shown beside the stage times (per plan).
    force
        False: never draw; None: on a terminal only; True: listen to the log whatever the console
        (Rich still draws only on what it takes for a terminal).
    """

    def __init__(self, console: Console, *, time_limit_s: float | None = None, force: bool | None = None) -> None:
        self.console = console
        self.time_limit_s = time_limit_s
        self.enabled = bool(force) if force is not None else console.is_terminal
        now = time.perf_counter()
        self.state = _State(started=now, step_started=now, last=now)
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._spinner = Spinner("dots")
        self._handler: StageHandler | None = None
        self._logger = logging.getLogger("siteplan")
        self._level = self._logger.level

    # -- fed by the pipeline and the log ---------------------------------------------------------------
    def step(self, message: str) -> None:
        """A new step of the run (a pipeline progress line)."""
        with self._lock:
            st = self.state
            now = time.perf_counter()
            st.step, st.step_started, st.last = message, now, now
            m = re.match(r"Solving for (\d+) alternative plans", message)
            if m:
                st.alternatives = int(m.group(1))
            if message.startswith("Solving"):
                st.stages, st.done_plans, st.running, st.plan_started = [], 0, "LP relaxation", now
            else:
                st.running = ""

    def on_stage(self, stage: Stage, created: float | None = None) -> None:
        """A solve stage ended, or began (kind ``"start"``: it is then named as running); called by the :class:`StageHandler`."""
        with self._lock:
            st = self.state
            if stage.kind == "start":  # a stage began: name it as the one running
                st.running = stage.label
                return
            now = time.perf_counter()
            st.stages.append((stage.label, now - st.last))
            st.last = now
            st.running = stage.next
            if stage.kind == "solved" and st.done_plans == 0:
                st.done_plans = 1
            elif stage.kind == "alternative":
                m = re.match(r"alternative (\d+)", stage.label)
                st.done_plans = max(st.done_plans + 1, int(m.group(1)) if m else 0)
            if stage.kind in ("solved", "alternative") and st.alternatives > 1:
                # the plan's stages give way to one line for it; the next alternative's follow
                st.stages = [(f"plan {st.done_plans} of {st.alternatives} solved", now - st.plan_started)]
                st.plan_started = now
                st.running = "LP relaxation" if st.done_plans < st.alternatives else ""

    # -- drawing ---------------------------------------------------------------------------------------
    def __rich__(self) -> RenderableType:
        with self._lock:
            st = self.state
            now = time.perf_counter()
            solving = st.step.startswith("Solving")
            head = Text(st.step, style="bold")
            if solving and st.alternatives > 1:
                head.append(f" · alternative {min(st.done_plans + 1, st.alternatives)} of {st.alternatives}", style="bold")
            times = Text.assemble(("  step ", "cyan"), (_seconds(now - st.step_started), "cyan"), f" · run {_seconds(now - st.started)}")
            if self.time_limit_s is not None and solving:
                times.append(f" · time limit {_seconds(self.time_limit_s)}" + (" per plan" if st.alternatives > 1 else ""))
            self._spinner.update(text=head)  # one spinner, so that it turns
            rows: list[RenderableType] = [self._spinner, times]
            if solving:
                table = Table.grid(padding=(0, 2))
                table.add_column(overflow="fold")
                table.add_column(justify="right", no_wrap=True)
                for label, seconds in st.stages[-SHOWN_STAGES:]:
                    table.add_row(Text.assemble(("  \u2713 ", "green"), label), Text(_seconds(seconds), style="dim"))
                running = st.running or "next stage"
                table.add_row(Text.assemble(("  \u25b8 ", "yellow"), (running, "yellow")), Text(_seconds(now - st.last), style="yellow"))
                rows.append(table)
            return Group(*rows)

    def __enter__(self) -> RunProgress:
        if not self.enabled:
            return self
        self._handler = StageHandler(self.on_stage)
        self._logger.addHandler(self._handler)
        if not self._logger.isEnabledFor(logging.INFO):
            self._logger.setLevel(logging.INFO)
        # stdout's lines pass above the display only when both share the screen; a redirected stdout stays apart
        self._live = Live(get_renderable=self.__rich__, console=self.console, transient=True, refresh_per_second=4,
                          redirect_stdout=_isatty(sys.stdout), redirect_stderr=_isatty(sys.stderr))
        self._live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._logger.setLevel(self._level)
            self._handler = None


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class VariantsProgress:
    """Variants of a sweep or batch finished out of the total, with the elapsed time (a :class:`rich.progress.Progress`).

    Call it as ``progress(done, total, row)``, as :func:`siteplan.sweep.run_sweep`
    does: once with ``done=0`` when the variants are handed out, then once
    per finished variant with its row. It draws only on a terminal or when ``force`` is True, and only from
    its first call: before it, no thread of its own runs (a sweep may fork its workers then, see
    :func:`siteplan.sweep.run_sweep`).
    """

    def __init__(self, console: Console, *, what: str = "variants", force: bool | None = None) -> None:
        self.enabled = bool(force) if force is not None else console.is_terminal
        self.what = what
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[last]}", style="dim"),
            console=console, transient=True, disable=not self.enabled, redirect_stdout=_isatty(sys.stdout),
            redirect_stderr=_isatty(sys.stderr),
        )
        self.task = None
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int, row: dict | None = None) -> None:
        self.done, self.total = done, total
        last = ""
        if row is not None:
            last = f"last: {row.get('variant')} {row.get('status')}"
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(f"{self.what} finished", total=total, completed=done, last=last)
        else:
            self.progress.update(self.task, total=total, completed=done, last=last)

    def __enter__(self) -> VariantsProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()
