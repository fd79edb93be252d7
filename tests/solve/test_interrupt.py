"""Ctrl-C while HiGHS is deep in an integer programme: the run exits in seconds, nothing written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.test_nothing_lost import first_run, interrupt_run, previous_outputs, snapshot  # noqa: F401  (first_run: a fixture)

ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_during_the_integer_programme_exits_within_seconds(first_run, tmp_path):  # noqa: F811
    """A HiGHS MIP checks Ctrl-C only between its sub-MIPs, which kept a
    Ctrl-C waiting 10-27 s. Now the wait is bounded
    (``backends.INTERRUPT_WAIT_S``). The over-constrained demo asked for a
    gap of 0 runs its restricted MIP until the search's time is spent (about
    100 s): the Ctrl-C comes 3 s into it."""
    text = (ROOT / "scenarios" / "demo-2016-2020-overconstrained.toml").read_text(encoding="utf-8")
    text = text.replace('"../layers/', f'"{(ROOT / "layers").as_posix()}/')
    text = text.replace("\ngap = 0.01\n", "\ngap = 0.0\n", 1)
    assert "\ngap = 0.0\n" in text
    scen = tmp_path / "over.toml"
    scen.write_text(text, encoding="utf-8")
    _, out, before = previous_outputs(first_run, tmp_path)
    code, output, waited = interrupt_run(scen, out, "Stage: restricted MIP", after_s=3.0, verbose=True)
    assert code == 130, output
    assert waited < 5, f"{waited:.1f} s from Ctrl-C to exit"
    assert "Traceback" not in output
    assert [line for line in output.splitlines() if "interrupted:" in line] == ["interrupted: no output was changed"]
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "over.toml"]  # no .partial-* folder left


def test_abandoned_solve_is_left_alone(monkeypatch):
    """A HiGHS run that does not stop within the wait is abandoned: the interrupt
    is raised again at once, and the instance is marked so nothing touches it."""
    import siteplan.solve.backends as B

    class Stubborn:
        """A stand-in HiGHS whose solve never ends and ignores cancelSolve."""

        HandleUserInterrupt = False
        cancelled = False

        def startSolve(self):
            pass

        def wait(self, timeout):
            time.sleep(timeout)
            if not self.cancelled:
                raise KeyboardInterrupt
            return (False, None)

        def cancelSolve(self):
            self.cancelled = True

        def is_solver_running(self):
            return True

    monkeypatch.setattr(B, "INTERRUPT_WAIT_S", 0.3)
    monkeypatch.setattr(B, "_abandoned", [])
    registered = []
    monkeypatch.setattr(B.atexit, "register", registered.append)
    h = Stubborn()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        B._run(h)
    assert h.cancelled and time.monotonic() - t0 < 1.5
    assert B.is_abandoned(h) and registered == [B._exit_now]
