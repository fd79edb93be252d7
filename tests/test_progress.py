"""Live progress (siteplan.progress) and the command line's tables at 80 columns."""

from __future__ import annotations

import io
import logging
import threading

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import siteplan.cli as cli
from siteplan.progress import RunProgress, StageHandler, VariantsProgress, progress_forced, stage_of

#: The records a solve of the over-constrained demo logs, in its order (from a run of it), with two alternatives after.
SOLVE_RECORDS = [
    ("siteplan.model.problem", "Compiled %d rows x %d columns (%d binaries), %d non-zeros", (31720, 42931, 8169, 485184)),
    ("siteplan.solve.sift", "Sifting: %d parcel-years in the LP, %d price in", (2282, 15)),
    ("siteplan.solve.sift", "Sifting: %d parcel-years in the LP, %d price in", (2297, 0)),
    ("siteplan.solve.dive", "LP dive: a plan in %d rounds, %.1f s, objective %.2f", (3, 0.4, 7874.96)),
    ("siteplan.solve.search", "LP bound %.2f; restricted MIP on %d parcels: %s", (7874.96, 395, "Optimal")),
    ("siteplan.solve.search", "Least possible shortfall: %.1f units", (7875.0,)),
    ("siteplan.solve.rounding", "Rounding with repair from the %s start: %d rounds, %.2f s, %d hard rows broken%s",
     ("floor", 20, 1.57, 0, ", 7967.0 units short")),
    ("siteplan.solve.search", "Rounding with repair gave up %.2f of the score; solving for whole units", (92054.78,)),
    ("siteplan.solve.search", "Solved (%s): %s, gap %.2f%%, %.1f s", ("lp-dive+least-shortfall", "Optimal", 0.96, 27.4)),
]


def _emit(name: str, msg: str, args: tuple, level: int = logging.INFO) -> None:
    logging.getLogger(name).log(level, msg, *args)


def _shown(renderable) -> str:
    """What a renderable draws at 80 columns, as plain text."""
    out = Console(file=io.StringIO(), width=80, record=True)
    out.print(renderable)
    return out.export_text()


@pytest.fixture
def quiet_siteplan_logger():
    """The siteplan logger at WARNING, as the command line leaves it without --verbose; restored after."""
    logger = logging.getLogger("siteplan")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield logger
    logger.setLevel(level)


def test_stage_of_reads_each_solve_record():
    def record(name, msg, args):
        return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)

    labels = [stage_of(record(*r)).label for r in SOLVE_RECORDS]
    assert labels == ["model built", "LP by sifting, round 1", "LP by sifting, round 1: LP solved", "LP dive", "restricted MIP",
                      "least shortfall", "whole units: rounding from the floor start", "whole units: rounding gave up too much",
                      "plan solved"]
    assert stage_of(record("siteplan.solve.sift", "Sifting: %d parcel-years in the LP, %d price in", (9, 3)), sift_round=2).label \
        == "LP by sifting, round 2"
    assert stage_of(record("siteplan.solve.alternatives", "Alternative %d: objective %.1f", (3, 1.0))).label == "alternative 3 solved"
    assert stage_of(record("siteplan.pipeline", "Reading layers", ())) is None  # not a solve stage
    assert stage_of(record("siteplan.solve.search", "Time limit of %g s hit", (60,))) is None


def test_live_display_shows_each_stage_the_time_limit_and_alternative_k_of_k(quiet_siteplan_logger, caplog):
    term = Console(file=io.StringIO(), width=80, record=True, force_terminal=True)
    with caplog.at_level(logging.INFO, logger="siteplan"):
        caplog.clear()
        with RunProgress(term, time_limit_s=60, force=None) as live:
            assert live.enabled
            live.step("Solving for 3 alternative plans")
            assert "alternative 1 of 3" in _shown(live)
            for rec in SOLVE_RECORDS[:-1]:
                _emit(*rec)
            first = _shown(live)
            _emit(*SOLVE_RECORDS[-1])
            _emit("siteplan.solve.search", "Time limit of %g s hit: this is the best plan found", (60,), logging.WARNING)
            second = _shown(live)
            _emit("siteplan.solve.alternatives", "Alternative %d: objective %.1f", (2, 7920000.0))
            third = _shown(live)
    assert "Solving for 3 alternative plans" in first and "time limit 1 min 00 s per plan" in first
    assert "alternative 1 of 3" in first
    for label in ("\u2713 model built", "\u2713 LP by sifting, round 1 ", "\u2713 LP by sifting, round 2: LP solved", "\u2713 LP dive",
                  "\u2713 restricted MIP", "\u2713 least shortfall", "\u2713 whole units: rounding from the floor start",
                  "\u2713 whole units: rounding gave up too much", "\u25b8 whole units by MIP"):
        assert label in first, (label, first)
    # the first plan is solved: one line for it, and the second runs
    assert "alternative 2 of 3" in second and "\u2713 plan 1 of 3 solved" in second and "\u25b8 LP relaxation" in second
    assert "LP dive" not in second
    assert "alternative 3 of 3" in third and "\u2713 plan 2 of 3 solved" in third
    # the display drew on the terminal (its last frame, before it cleared itself)
    assert "plan 2 of 3 solved" in term.export_text()
    # every record still reached the other handlers: none swallowed, the warning included
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("LP dive: a plan in 3 rounds") for m in messages)
    assert any(m.startswith("Time limit of 60 s hit") for m in messages)
    # and the logger is as it was
    assert quiet_siteplan_logger.level == logging.WARNING
    assert not any(isinstance(h, StageHandler) for h in quiet_siteplan_logger.handlers)


def test_the_stage_running_is_named_while_it_runs(quiet_siteplan_logger):
    term = Console(file=io.StringIO(), width=80, force_terminal=True)
    with RunProgress(term, time_limit_s=120) as live:
        live.step("Solving")
        _emit(*SOLVE_RECORDS[0])
        assert "\u25b8 LP relaxation" in _shown(live)
        _emit(*SOLVE_RECORDS[1])
        assert "\u25b8 LP by sifting, round 2" in _shown(live)
        _emit(*SOLVE_RECORDS[2])
        assert "\u25b8 LP dive" in _shown(live)
        text = _shown(live)
    assert "time limit 2 min 00 s" in text and "per plan" not in text and "alternative" not in text


def test_nothing_is_drawn_when_not_a_terminal(quiet_siteplan_logger):
    pipe = io.StringIO()
    plain = Console(file=pipe, width=80, force_terminal=False)
    with RunProgress(plain, time_limit_s=60) as live:
        assert not live.enabled
        live.step("Solving")
        for rec in SOLVE_RECORDS:
            _emit(*rec)
        assert quiet_siteplan_logger.level == logging.WARNING  # not opened to INFO: the log stays as it was
    with VariantsProgress(plain) as count:
        count(0, 2)
        count(1, 2, {"variant": "v01", "status": "optimal"})
    assert pipe.getvalue() == ""
    # SITEPLAN_PROGRESS=0 turns it off on a terminal too
    assert progress_forced({"SITEPLAN_PROGRESS": "0"}) is False and progress_forced({}) is None
    term = io.StringIO()
    with RunProgress(Console(file=term, force_terminal=True), force=progress_forced({"SITEPLAN_PROGRESS": "off"})) as live:
        live.step("Solving")
    assert term.getvalue() == ""


def test_variants_progress_starts_no_thread_before_its_first_count():
    # a batch forks its workers between entering the display and the first count: no thread may run then
    term = Console(file=io.StringIO(), width=80, force_terminal=True)
    before = set(threading.enumerate())
    with VariantsProgress(term, what="scenarios") as count:
        assert count.enabled and not set(threading.enumerate()) - before
        count(0, 2)
        started = set(threading.enumerate()) - before
        assert len(started) == 1  # the display's refresh
    for thread in started:
        thread.join(timeout=5)  # told to stop on the way out
        assert not thread.is_alive()


def test_variants_progress_counts_finished_of_total():
    term = Console(file=io.StringIO(), width=80, record=True, force_terminal=True)
    with VariantsProgress(term, what="variants") as count:
        count(0, 4)
        count(1, 4, {"variant": "demo-v02", "status": "shortfall"})
        count(2, 4, {"variant": "demo-v01", "status": "optimal"})
        task = count.progress.tasks[0]
        assert (task.completed, task.total) == (2, 4)
        text = _shown(count.progress)
    assert "variants finished" in text and "2/4" in text and "demo-v01 optimal" in text
    assert "0:00:0" in text  # the elapsed time


def _sweep_table(n: int) -> pd.DataFrame:
    rows = [dict(variant=f"demo-2016-2020-overconstrained-v{k:02d}", settings=f"rules.transit_access.share=0.{k}, targets=1.1",
                 status="shortfall", time_limit_hit=k == 2, placed_units=49000 + k, units_missing=1234, units_excess=0,
                 shortfall_by_rule="transit_access short 2363; districts short 120", projects=35, new_land_gross_ha=100.123,
                 error=None, folder=f"out/demo-2016-2020-overconstrained-sweep/v{k:02d}") for k in range(1, n + 1)]
    return pd.DataFrame(rows)


def _fits_80(text: str) -> None:
    assert "\u2026" not in text and "..." not in text, text  # nothing cut short
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_sweep_table_fits_80_columns_and_names_each_run_whole(monkeypatch):
    out = Console(file=io.StringIO(), width=80, record=True)
    monkeypatch.setattr(cli, "console", out)
    cli._show_runs(_sweep_table(4), "Sweep of demo-2016-2020-overconstrained.toml: 4 variant(s)", "settings", outputs="Outputs in out")
    text = out.export_text()
    _fits_80(text)
    assert _first_column(text, "settings") == "v01v02v03v04", text  # each run by its folder, whole
    for k in range(1, 5):
        assert f"v{k:02d}: other rules short (whole units): transit_access short 2363; districts short" in text
    assert "(time limit" in text
    # a batch's runs are named by their plan, whole as well
    out = Console(file=io.StringIO(), width=80, record=True)
    monkeypatch.setattr(cli, "console", out)
    batch = _sweep_table(2).assign(scenario=["hebei-handan-2016-2020.toml", "hebei-xingtai-2016-2020.toml"],
                                   folder=["out/batch/handan-2016-2020", "out/batch/xingtai-2016-2020"])
    cli._show_runs(batch, "Batch of 2 scenario(s)", "scenario", outputs="Outputs in out/batch")
    text = out.export_text()
    _fits_80(text)
    assert _first_column(text, "scenario") == "handan-2016-2020xingtai-2016-2020", text  # folded, every character kept


def _first_column(text: str, second: str) -> str:
    """The first column's cells of a printed table, its folded pieces joined (the column ends where ``second``'s header starts)."""
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("folder ") and f" {second}" in line)
    end = lines[head].index(f" {second}")
    body = []
    for line in lines[head + 2:]:
        if not line.strip():
            break
        body.append(line[:end].strip())
    return "".join(body)


def test_run_tables_fit_80_columns(mini_city, tmp_path, monkeypatch):
    # 2,500 units in 2016 where the parcels hold about 2,400: a plan with shortfall, so every table is printed
    mini_city.write_text(mini_city.read_text(encoding="utf-8").replace("targets = [600, 400]", "targets = [2500, 400]"), encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "80")
    res = CliRunner().invoke(cli.app, ["run", str(mini_city), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    tables = res.stdout[res.stdout.index("Targets and placed"):res.stdout.index("Outputs in")]
    _fits_80(tables)
    for title in ("Units by zone", "Compliance (compliance.csv)", "Shortfall by rule", "Where the plan falls short"):
        assert title in tables
    assert "\u2026" not in res.output
    # too wide a grid for 80 columns, the shortfall rows read one a line, names whole
    assert "- transit_access short 400: " in tables and "- yearly_targets short 100: " in tables
    # no live display in a pipe: no stage lines, no spinner, nothing but the run's own lines on stderr
    assert "\u25b8" not in res.output and "model built" not in res.output and "step " not in res.stderr


def test_live_display_lets_no_info_line_into_a_quiet_log(capsys):
    # Without --verbose the log shows warnings only, also while the display opens siteplan's logger to INFO.
    cli._setup_logging(False)
    try:
        with RunProgress(Console(file=io.StringIO(), force_terminal=True)) as live:
            assert logging.getLogger("siteplan").isEnabledFor(logging.INFO)
            live.step("Solving")
            _emit(*SOLVE_RECORDS[3])
            _emit("siteplan.solve.search", "Time limit of %g s hit: this is the best plan found", (60,), logging.WARNING)
        err = capsys.readouterr().err
    finally:
        cli._setup_logging(False)
    assert "LP dive" not in err
    assert "Time limit of 60 s hit" in err  # warnings still shown


def test_times_read_as_a_clock_would():
    from siteplan.progress import _seconds

    assert [_seconds(s) for s in (0.04, 59.94, 59.96, 119.96, 125.4)] == ["0.0 s", "59.9 s", "1 min 00 s", "2 min 00 s", "2 min 05 s"]
