"""The check of a scenario, run once per state of its files and shared by the app's pages.

The Data page shows the check's findings and draws its layers; the Targets
page shows the capacity it computes. Both read :func:`check_cached`, which
runs :func:`siteplan.check.check` again only when the scenario's text or a
file it names (times and sizes, a shapefile's side files included) changes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SiteplanError, error_text

__all__ = ["Checked", "check_cached", "file_stamp", "remember", "CACHE_SIZE", "LOCK"]

log = logging.getLogger(__name__)

#: Entries each small cache of the app keeps: the app serves one planner.
CACHE_SIZE = 6
LOCK = threading.Lock()
_REPORTS: OrderedDict[tuple, "Checked"] = OrderedDict()

#: The layers a check reads (the population raster is not drawn).
_DRAWN = ("parcels", "districts", "stations", "lines", "services", "parks", "constraints")


def remember(cache: OrderedDict, key: tuple, value: Any) -> Any:
    """Keep ``value`` under ``key``, dropping the oldest entries past :data:`CACHE_SIZE`."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return value


def file_stamp(path: Path) -> tuple:
    """What changes when ``path`` (and a shapefile's side files) changes: names, times and sizes."""
    paths = [path]
    if path.suffix.lower() == ".shp":
        paths += [path.with_suffix(s) for s in (".dbf", ".shx", ".prj", ".cpg")]
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((p.name, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((p.name, None))
    return tuple(out)


@dataclass
class Checked:
    """A check report and what the page and the map draw from it."""

    report: Any = None  # siteplan.check.CheckReport, or None when the check failed
    error: str = ""
    frames: dict = field(default_factory=dict)  # role -> GeoDataFrame, in the working CRS
    outside: Any = None  # boolean Series over frames["parcels"], or None when unknown
    maps: dict = field(default_factory=dict)  # lang -> the map's HTML

    @property
    def outside_count(self) -> int | None:
        return None if self.outside is None else int(self.outside.sum())


def _scenario_key(scenario: Path) -> tuple:
    """The scenario's text and the times of every file it names: the check's result depends on nothing else."""
    import tomllib

    raw = scenario.read_bytes()
    key: list = [str(scenario.resolve()), hashlib.sha1(raw).hexdigest()]
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return tuple(key)
    names = list((data.get("layers") or {}).values()) + [(data.get("targets") or {}).get("file")]
    for name in names:
        if isinstance(name, str) and name.strip():
            key.append(file_stamp(scenario.parent / name))
    return tuple(key)


def _outside(frames: dict) -> Any:
    """Which parcels touch no district polygon (None without both layers)."""
    parcels, districts = frames.get("parcels"), frames.get("districts")
    if parcels is None or districts is None or not len(districts):
        return None
    if parcels.crs is not None and districts.crs is not None and parcels.crs != districts.crs:
        districts = districts.to_crs(parcels.crs)
    area = districts.geometry.union_all()
    return ~parcels.geometry.intersects(area)


def check_cached(scenario: Path) -> Checked | None:
    """The check of ``scenario``, run once per state of its files; None when the file does not exist."""
    from ..check import check

    if not scenario.is_file():
        return None
    try:
        key = _scenario_key(scenario)
    except OSError as err:
        return Checked(error=error_text(err))
    with LOCK:
        if key in _REPORTS:
            return _REPORTS[key]
    result = Checked()
    try:
        report = check(scenario)
        result.report = report
        if report.layers is not None:
            if report.layers.layers is not None:
                lay = report.layers.layers
                result.frames = {r: getattr(lay, r) for r in _DRAWN}
            else:
                result.frames = dict(report.layers.frames)
        result.outside = _outside(result.frames)
    except (SiteplanError, OSError) as err:
        result.error = error_text(err)
    except Exception as err:  # a fault in the checks themselves: say so in one line, log the rest
        log.exception("siteplan check failed on %s", scenario)
        result.error = f"{scenario.name}: {type(err).__name__}: {err}"
    with LOCK:
        remember(_REPORTS, key, result)
    return result
