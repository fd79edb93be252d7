"""Nothing lost: a write failure, a killed run or Ctrl-C leaves the previous outputs intact.

A run writes into a temporary folder beside the output folder and moves it
into place only at the end (:func:`siteplan.outputs.export.write_outputs`). These
tests break that at each step and check that the planner gets one clear
line, never a traceback, and that the previous outputs are byte-identical.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siteplan.outputs import export
from siteplan.cli import app
from siteplan.errors import OutputError
from tests.badinputs import mini_city_copy

runner = CliRunner()

DEAD_PID = 4_194_305  # above Linux's largest pid_max: never a live process


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def text_of(res) -> str:
    return " ".join(res.output.split())


@pytest.fixture
def city(tmp_path, tmp_path_factory):
    return mini_city_copy(tmp_path / "city", tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The mini city run once; tests copy its outputs as 'the previous outputs'."""
    base = tmp_path_factory.mktemp("first-run")
    scen = mini_city_copy(base / "city", tmp_path_factory.getbasetemp())
    res = runner.invoke(app, ["run", str(scen), "--out", str(base / "out")])
    assert res.exit_code == 0, res.output
    return scen, base / "out"


def previous_outputs(first_run, tmp_path) -> tuple[Path, Path, dict[str, bytes]]:
    import shutil

    scen, out = first_run
    mine = tmp_path / "out"
    shutil.copytree(out, mine)
    return scen, mine, snapshot(mine)


# -- the output folder is checked before the work starts ----------------------------


def test_file_in_the_way_fails_before_solving(city, tmp_path):
    blocker = tmp_path / "X"
    blocker.write_text("not a folder\n", encoding="utf-8")
    res = runner.invoke(app, ["run", str(city), "--out", str(blocker / "out")])
    text = text_of(res)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit))
    assert f"cannot write the outputs to {blocker / 'out'}" in text
    assert "a file is in the way" in text and "choose another folder with --out" in text
    assert "Solving" not in text and "Reading layers" not in text  # stopped before the work
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"


def test_out_itself_a_file_is_named(city, tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("x", encoding="utf-8")
    res = runner.invoke(app, ["run", str(city), "--out", str(blocker)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"cannot write the outputs to {blocker}: a file is in the way" in text_of(res)
    assert blocker.read_text(encoding="utf-8") == "x"


def test_full_disk_while_writing_keeps_previous_outputs(first_run, tmp_path, monkeypatch):
    scen, out, before = previous_outputs(first_run, tmp_path)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(out.parent / ".out.partial-x" / "run.json"))

    monkeypatch.setattr(export, "write_run_json", full)
    res = runner.invoke(app, ["run", str(scen), "--out", str(out)])
    text = text_of(res)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, OSError)
    assert f"cannot write the outputs to {out}: the disk is full" in text
    assert "free some space there" in text and "the previous outputs were left as they were" in text
    assert len([line for line in res.output.splitlines() if line.startswith("error:")]) == 1
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .partial-* left


def test_permission_denied_is_one_line_with_the_fix(city, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro"))

    monkeypatch.setattr(export.tempfile, "mkdtemp", denied)
    res = runner.invoke(app, ["run", str(city), "--out", str(tmp_path / "ro" / "out")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "no permission to write" in text_of(res) and "--out" in text_of(res)


def test_other_os_errors_in_check_are_one_line(tmp_path, monkeypatch):
    import siteplan.check

    def broken(path):
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(siteplan.check, "check", broken)
    res = runner.invoke(app, ["check", str(tmp_path / "s.toml")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"{tmp_path / 's.toml'}: Input/output error; check that the path exists" in text_of(res)


# -- the swap of the folders -----------------------------------------------------


def write_two(out: Path, text: str) -> dict[str, Path]:
    return export.write_outputs(out, {"a.txt": lambda p: p.write_text(text), "b.txt": lambda p: p.write_text(text)})


def test_failure_between_the_two_moves_restores_the_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_two(out, "old")
    real = os.replace
    calls = []

    def second_fails(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the old folder sits aside
        return real(src, dst)

    monkeypatch.setattr(export.os, "replace", second_fails)
    with pytest.raises(KeyboardInterrupt):
        write_two(out, "new")
    monkeypatch.setattr(export.os, "replace", real)
    assert len(calls) >= 2 and Path(calls[0][1]).name.startswith(".out.old-")
    assert (out / "a.txt").read_text() == "old" and (out / "b.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_leftovers_of_killed_runs_are_swept(tmp_path):
    out = tmp_path / "out"
    write_two(out, "old")
    for name in (f".out.partial-{DEAD_PID}-abc", ".out.partial-k3j_x", f".out.old-{DEAD_PID}"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "allocation.csv").write_text("half")
    live = tmp_path / f".out.partial-{os.getppid()}-live"  # a run still going: left alone
    live.mkdir()
    (tmp_path / ".other.partial-1").mkdir()  # another output folder's: left alone
    write_two(out, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", live.name, ".other.partial-1"])
    assert (out / "a.txt").read_text() == "new"


def test_killed_between_the_moves_the_next_run_puts_the_old_folder_back(tmp_path):
    out = tmp_path / "out"
    write_two(out, "old")
    os.replace(out, tmp_path / f".out.old-{DEAD_PID}")  # what a run killed mid-swap leaves
    assert export.tidy_out_dir(out) == [tmp_path / f".out.old-{DEAD_PID}"]
    assert (out / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_check_out_dir_raises_output_error_naming_the_folder(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError, match=r"cannot write the outputs to .*f/out: a file is in the way") as raised:
        export.check_out_dir(tmp_path / "f" / "out")
    assert isinstance(raised.value, OSError)


# -- Ctrl-C in a real process ------------------------------------------------------


def interrupt_run(scen: Path, out: Path, stage: str, *, after_s: float = 0.0, verbose: bool = False) -> tuple[int, str, float]:
    """``siteplan run`` in its own process (``--verbose`` to see the solve's stages), sent SIGINT
    ``after_s`` seconds after it prints ``stage``: its exit code, its output, and the seconds
    from the signal to its exit."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
    # Ctrl-C live in the child, as in a terminal's foreground command, even where the tests run in the background
    # (a shell's background job ignores Ctrl-C, and its children inherit that)
    live = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    proc = subprocess.Popen(
        [sys.executable, "-c", live + "from siteplan.cli import main; main()", "run", str(scen), "--out", str(out)]
        + (["--verbose"] if verbose else []),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", env=env,
    )
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if stage in line:
                time.sleep(after_s)
                sent = time.monotonic()
                proc.send_signal(signal.SIGINT)
                break
        else:
            pytest.fail(f"the run never reached {stage!r}: {''.join(seen)}")
        rest, _ = proc.communicate(timeout=120)
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(seen) + rest, waited


@pytest.mark.parametrize("stage", ["Checking the scenario and layers", "Writing outputs"])
def test_ctrl_c_leaves_previous_outputs_byte_identical(first_run, tmp_path, stage):
    """SIGINT to ``siteplan run`` while it works: exit 130, one line, no traceback, nothing changed."""
    scen, out, before = previous_outputs(first_run, tmp_path)
    stale = tmp_path / f".out.partial-{DEAD_PID}-stale"  # left by a run killed earlier
    stale.mkdir()
    (stale / "allocation.csv").write_text("half a file")
    code, output, _ = interrupt_run(scen, out, stage)
    assert code == 130, output
    assert "Traceback" not in output
    assert [line for line in output.splitlines() if "interrupted" in line] == ["interrupted: no output was changed"]
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .partial-*/.old-* left, the stale one swept


def test_ctrl_c_while_the_solver_works_stops_it_at_once(first_run, tmp_path):
    """SIGINT while HiGHS searches: the run stops in seconds, not when the solver's time limit ends.

    The demo city to a gap of 0 with a 900 s limit keeps HiGHS busy for
    minutes; without the interruptible run a Ctrl-C waits for all of it.
    """
    root = Path(__file__).resolve().parents[1]
    text = (root / "scenarios" / "demo-2016-2020.toml").read_text(encoding="utf-8")
    text = text.replace('"../layers/', f'"{(root / "layers").as_posix()}/')
    text = text.replace("\ntime_limit_s = 120\n", "\ntime_limit_s = 900\n").replace("\ngap = 0.01\n", "\ngap = 0.0\n")
    assert "time_limit_s = 900" in text and "gap = 0.0\n" in text
    scen = tmp_path / "slow.toml"
    scen.write_text(text, encoding="utf-8")
    _, out, before = previous_outputs(first_run, tmp_path)
    code, output, waited = interrupt_run(scen, out, "Solving", after_s=3.0)  # into the search
    assert code == 130, output
    assert waited < 30, f"{waited:.0f} s from Ctrl-C to exit"
    assert "Traceback" not in output
    assert [line for line in output.splitlines() if "interrupted" in line] == ["interrupted: no output was changed"]
    assert snapshot(out) == before
