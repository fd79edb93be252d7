"""Findings about the layers: the :class:`Diagnostic` record, its collector, and how features are named in it.

Every check in this package reports through a :class:`_Findings`, which
collects :class:`Diagnostic` records (error, repair, warning, note) instead of
raising, so that one run lists every problem at once. The helpers below word
the findings: features by their id (``parcel_id P1, P2``) or their fid, values
as a planner wrote them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Level = Literal["error", "repair", "warning", "note"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the layers.

    ``level`` is ``"error"`` (the run cannot go on), ``"repair"`` (siteplan
    fixed the data and says how many features), ``"warning"`` (usable, but
    check it) or ``"note"`` (for the record: an encoding detected, a layer
    reprojected).
    """

    level: Level
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else self.message


@dataclass
class LayerInfo:
    """What was read from one layer file, for the check report."""

    kind: str
    path: Path
    driver: str = ""
    layer: str = ""
    encoding: str = ""
    crs: str = ""
    features: int = 0
    kept: int = 0
    geometry_types: dict[str, int] = field(default_factory=dict)
    datum: str = ""  # e.g. "GCJ-02 -> WGS84, mean shift 512 m" when [layers.datum] converted it
    location: dict[str, int] = field(default_factory=dict)  # parcels: counts by how their district was found


class _Findings:
    """Collects diagnostics while layers are read."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, level: Level, path: Path | str | None, message: str) -> None:
        self.items.append(Diagnostic(level, str(path) if path is not None else "", message))

    def error(self, path, message: str) -> None:
        self.add("error", path, message)

    def repair(self, path, message: str) -> None:
        self.add("repair", path, message)

    def warn(self, path, message: str) -> None:
        self.add("warning", path, message)

    def note(self, path, message: str) -> None:
        self.add("note", path, message)

    def errors_in(self, path: Path | str) -> bool:
        return any(d.level == "error" and d.file == str(path) for d in self.items)


@dataclass(frozen=True)
class _Options:
    mapping: dict[str, str]
    encoding: str | None = None
    crs: str | None = None
    layer: str | None = None
    datum: str | None = None


# -- small helpers ---------------------------------------------------------


def _sample(values, n: int = 5) -> str:
    vals = [str(v) for v in values]
    more = f" and {len(vals) - n} more" if len(vals) > n else ""
    return ", ".join(vals[:n]) + more


def _ids(gdf: pd.DataFrame, mask, id_col: str | None, n: int = 5) -> str:
    """'parcel_id P1, P2' or 'fid 3, 7' for the features where ``mask`` holds."""
    rows = gdf.loc[np.asarray(mask, dtype=bool)]
    if id_col and id_col in rows.columns:
        vals = [v if isinstance(v, str) and v else f"(fid {i})" for i, v in zip(rows.index, rows[id_col])]
        return f"{id_col} {_sample(vals, n)}"
    return f"fid {_sample(list(rows.index), n)}"


def _values(series: pd.Series, mask, n: int = 5) -> str:
    vals = list(dict.fromkeys("(empty)" if _is_missing(v) else _plain(v) for v in series[np.asarray(mask, dtype=bool)]))
    return _sample(vals, n)


def _plain(v) -> str:
    """A value as a planner wrote it: text quoted, numbers bare (20170, not np.int64(20170))."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return f"{v:.0f}"
    return repr(v) if isinstance(v, str) else str(v)


def _verb(mask_or_n, one: str, many: str) -> str:
    """``one`` for a single feature, ``many`` for several: 'parcel_id P3 holds', 'P0, P1 hold'."""
    n = int(np.asarray(mask_or_n, dtype=bool).sum()) if not isinstance(mask_or_n, int) else mask_or_n
    return one if n == 1 else many


def _is_missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return math.isnan(v)
    if isinstance(v, str):
        return v.strip() == ""
    return False
