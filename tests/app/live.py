"""``siteplan app`` as a person starts it: a process of its own on a free port, read until it prints its address."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """``siteplan app FOLDER --no-browser --port P [more]`` in its own process group; ``url`` is the address it printed."""

    def __init__(self, folder: Path, *more: str, port: int | None = None, timeout: float = 60.0) -> None:
        self.port = port or free_port()
        cmd = [sys.executable, "-m", "siteplan", "app", str(folder), "--no-browser", "--port", str(self.port), *more]
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     start_new_session=True)
        self.lines: list[str] = []
        deadline = time.monotonic() + timeout
        self.url = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"(http://127\.0\.0\.1:\d+/\S*)", line)
            if m:
                self.url = m.group(1)
                break
        if not self.url:
            self.stop()
            raise RuntimeError("siteplan app did not start:\n" + "\n".join(self.lines))
        self._wait_listening(deadline)

    def _wait_listening(self, deadline: float) -> None:
        base = f"http://127.0.0.1:{self.port}/static/app.css"
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (a refusal is an answer)
            except OSError:
                time.sleep(0.1)

    def stop(self) -> str:
        """Ctrl-C, as a person stops it; the rest of what it printed."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        rest = self.proc.stdout.read() if self.proc.stdout else ""
        return "\n".join(self.lines) + "\n" + (rest or "")

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
