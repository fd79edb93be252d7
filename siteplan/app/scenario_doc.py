"""The scenario file as the app edits it: read and written with tomlkit, comments kept.

Every page of the app changes the scenario through :class:`ScenarioDoc`: it
reads the file, sets or removes keys by their dotted names
(``rules.transit.within_m``), and writes the file back in place of the old
one (a temporary file renamed over it, so a crash never leaves half a file).
tomlkit keeps the comments, the order of the keys and the layout of what was
not changed, so a file edited by hand opens in the app and the reverse.
:meth:`ScenarioDoc.problem` says, in the scenario reader's own words, what
would stop ``siteplan run`` on the file as it stands.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table
from tomlkit.toml_document import TOMLDocument

from ..errors import ScenarioError
from ..inputs.scenario import Scenario, parse_scenario

__all__ = ["ScenarioDoc"]


def _split(key: str) -> list[str]:
    return [part for part in key.split(".") if part]


class ScenarioDoc:
    """One scenario file, open for editing."""

    def __init__(self, path: str | Path, doc: TOMLDocument | None = None) -> None:
        self.path = Path(path)
        if doc is None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except UnicodeDecodeError as err:
                raise ScenarioError(f"{self.path}: is not UTF-8 text; save it as UTF-8") from err
            try:
                doc = tomlkit.parse(text)
            except tomlkit.exceptions.TOMLKitError as err:
                raise ScenarioError(f"{self.path}: is not valid TOML ({err}); correct the line it names") from err
        self.doc = doc

    # ------------------------------------------------------------------ reading
    def data(self) -> dict:
        """The scenario as plain Python values."""
        return self.doc.unwrap()

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.doc
        for part in _split(key):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node.unwrap() if hasattr(node, "unwrap") else node

    def scenario(self) -> Scenario:
        """The scenario as ``siteplan run`` reads it; :class:`ScenarioError` with the reader's message if it cannot."""
        return parse_scenario(self.data(), base_dir=self.path.parent, where=str(self.path))

    def problem(self) -> str | None:
        """What stops the scenario from being read as it stands, or None."""
        try:
            self.scenario()
        except ScenarioError as err:
            return str(err)
        return None

    # ------------------------------------------------------------------ editing
    def _table(self, parts: list[str], *, create: bool) -> Any:
        node: Any = self.doc
        for part in parts:
            if part not in node:
                if not create:
                    return None
                node[part] = tomlkit.table()
            node = node[part]
        return node

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` (dotted) to ``value``, creating the tables on the way; a value equal to the old one leaves the line as it was."""
        parts = _split(key)
        self._set_in(self._table(parts[:-1], create=True), parts[-1], value)

    @staticmethod
    def _set_in(table: Any, name: str, value: Any) -> None:
        old = table.get(name)
        if old is not None and (old.unwrap() if hasattr(old, "unwrap") else old) == value:
            return  # unchanged: keep the line, its comment and its layout
        comment = old.trivia.comment if old is not None and hasattr(old, "trivia") and not isinstance(old, Table) else ""
        table[name] = value
        if comment and hasattr(table[name], "comment"):
            table[name].comment(comment.lstrip("#").strip())

    def delete(self, key: str) -> None:
        """Remove ``key`` (dotted) if it is there."""
        parts = _split(key)
        table = self._table(parts[:-1], create=False)
        if table is not None and parts[-1] in table:
            del table[parts[-1]]

    def set_table(self, key: str, values: dict[str, Any]) -> None:
        """Make table ``key`` hold exactly ``values``: keys not named are removed, the others set as :meth:`set` sets them."""
        table = self._table(_split(key), create=True)
        for name in [k for k in table if k not in values]:
            del table[name]
        for name, value in values.items():
            self._set_in(table, name, value)

    def space_after(self, key: str) -> None:
        """End table ``key`` with a blank line, as before the next table of a hand-written file (for a table made here)."""
        table = self._table(_split(key), create=False)
        if isinstance(table, Table) and not table.as_string().endswith("\n\n"):
            table.add(tomlkit.nl())

    # ------------------------------------------------------------------ writing
    def text(self) -> str:
        return tomlkit.dumps(self.doc)

    def save(self) -> Path:
        """Write the file (atomically: a temporary file beside it, renamed over it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(self.text())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path
