"""Write a plan's files: CSV tables, GeoJSON and the run record.

All writers take a finished :class:`~siteplan.result.Plan` and a path.
:func:`write_outputs` writes every output into a temporary folder next to
the destination and moves it into place only when everything is written,
so an interrupted run never leaves half an output and never destroys the
previous one.

CSV files are UTF-8 with a byte-order mark (``utf-8-sig``) so that Excel on
Chinese Windows shows district names correctly, with fixed decimals and
sorted rows, so two runs of one scenario give identical bytes.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .result import Plan
from .scenario import Scenario

__all__ = [
    "write_allocation_csv",
    "write_land_supply_csv",
    "write_table_csv",
    "write_geojson",
    "write_run_json",
    "write_outputs",
]

log = logging.getLogger(__name__)

_PACKAGES = ("siteplan", "geopandas", "shapely", "pyproj", "pyogrio", "rasterio", "pulp", "highspy", "folium", "numpy", "pandas")


def _round(df: pd.DataFrame, decimals: dict[str, int]) -> pd.DataFrame:
    out = df.copy()
    for col, d in decimals.items():
        if col in out:
            out[col] = out[col].astype(float).round(d)
    return out


def write_allocation_csv(plan: Plan, path: str | Path, *, net_to_gross: float) -> Path:
    """``allocation.csv``: one row per parcel x type x year."""
    df = _round(plan.allocation(net_to_gross=net_to_gross), {"floor_area_m2": 2, "net_land_ha": 4, "gross_land_ha": 4})
    df.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.4f", lineterminator="\n")
    return Path(path)


def write_table_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Any report table as CSV (utf-8-sig, fixed decimals)."""
    table.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.4f", lineterminator="\n")
    return Path(path)


def write_land_supply_csv(plan: Plan, path: str | Path, *, net_to_gross: float) -> Path:
    """``land_supply.csv``: per year and type, units, floor area and land."""
    df = _round(
        plan.land_supply_table(net_to_gross=net_to_gross),
        {"floor_area_m2": 2, "floor_area_10k_m2": 4, "plot_ratio": 4, "net_land_ha": 4, "gross_land_ha": 4},
    )
    df.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.4f", lineterminator="\n")
    return Path(path)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write RFC 7946 GeoJSON: WGS84 lon/lat, right-hand rings, 7 decimals."""
    path = Path(path)
    gdf.to_crs("EPSG:4326").to_file(
        path, driver="GeoJSON", engine="pyogrio", RFC7946="YES", COORDINATE_PRECISION=7, WRITE_NAME="NO"
    )
    return path


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_run_json(plan: Plan, scenario: Scenario, path: str | Path, *, extra: dict | None = None) -> Path:
    """``run.json``: scenario name and hash, solver report, package versions."""
    record = {
        "scenario": scenario.plan.name,
        "scenario_file": str(scenario.source) if scenario.source else None,
        "scenario_sha256": scenario.sha256,
        "solver": plan.report.as_dict(),
        "targets_units": int(round(sum(plan.problem.targets.values()))),
        "placed_units": int(plan.units["units"].sum()),
        "shortfall_units": plan.total_shortfall,
        "compliance": plan.compliance().to_dict(orient="records"),
        "checks": [f.__dict__ for f in plan.findings],
        "versions": _versions(),
    }
    if extra:
        record.update(extra)
    Path(path).write_text(json.dumps(record, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return Path(path)


def write_outputs(out_dir: str | Path, writers: dict[str, Callable[[Path], object]]) -> dict[str, Path]:
    """Write every output, then move the folder into place in one step.

    Parameters
    ----------
    out_dir
        The destination folder; it is replaced only after every writer ran.
    writers
        File name -> a function that writes that file at the path it gets.

    Returns
    -------
    dict
        File name -> final path.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        for name, write in writers.items():
            write(tmp / name)
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("Wrote %d files to %s", len(writers), out_dir)
    return {name: out_dir / name for name in writers}
