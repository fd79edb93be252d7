"""``siteplan-app``: the app from a desktop shortcut, with no terminal window.

pip installs it beside ``siteplan`` (on Windows as ``siteplan-app.exe`` in
the environment's ``Scripts`` folder, a program that opens no console), so
a planner starts the app with a double click. It works in the folder given
as its argument, else the user's home folder (every folder chosen on the
Data page lies inside it); it opens the browser and stops with the app's
退出 (Quit) button. With no console to print to, what it would print, and
any error, goes to ``siteplan-runs/app.log`` in that folder.
"""

from __future__ import annotations

import datetime as dt
import sys
import traceback
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]).expanduser() if args else Path.home()
    log = folder / "siteplan-runs" / "app.log"
    log.parent.mkdir(parents=True, exist_ok=True)

    def echo(line: str) -> None:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} {line}\n")

    try:
        from .server import serve

        serve(folder, echo=echo)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - no console: the log is where a person looks
        from ..errors import error_text

        echo(f"error: {error_text(err)}")
        echo(traceback.format_exc())
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
