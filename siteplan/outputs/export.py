"""Write a plan's files: CSV tables, GeoJSON, GeoPackage, shapefiles and the run record.

All writers take a finished :class:`~siteplan.solve.plan.Plan` and a path.
``plan.gpkg`` (:func:`write_geopackage`) holds the plan and its context in
the working CRS with a default QGIS style per layer; the same layers as GBK
shapefiles with 10-byte field names are in :mod:`siteplan.outputs.shapefile`.
:func:`write_outputs` writes every output into a temporary folder next to
the destination and moves it into place only when everything is written,
so an interrupted run never leaves half an output and never destroys the
previous one.

CSV files are UTF-8 with a byte-order mark (``utf-8-sig``) so that Excel on
Chinese Windows shows district names correctly, with fixed decimals and
sorted rows, so two runs of one scenario give identical bytes.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..errors import OutputError, SiteplanError
from ..solve.plan import Plan
from ..inputs.scenario import Scenario
from .stamp import gpkg_date, stamp_utc

__all__ = [
    "write_allocation_csv",
    "write_land_supply_csv",
    "write_table_csv",
    "write_geojson",
    "write_run_json",
    "write_outputs",
    "check_out_dir",
    "tidy_out_dir",
    "write_geopackage",
    "gpkg_layers",
    "qml_style",
    "ExportError",
    "FIELD_LABELS",
]

log = logging.getLogger(__name__)

_PACKAGES = ("siteplan", "geopandas", "shapely", "pyproj", "pyogrio", "rasterio", "pulp", "highspy", "folium", "numpy", "pandas")


def _fixed(df: pd.DataFrame, decimals: dict[str, int]) -> pd.DataFrame:
    """``df`` with the columns in ``decimals`` as text with that many decimals (values already rounded)."""
    out = df.copy()
    for col, d in decimals.items():
        if col in out:
            out[col] = [None if pd.isna(v) else f"{float(v):.{d}f}" for v in out[col]]
    return out


def write_allocation_csv(plan: Plan, path: str | Path, *, net_to_gross: float, type_labels: Mapping[str, str] | None = None) -> Path:
    """``allocation.csv``: one row per parcel x type x year, figures rounded once
    (:func:`siteplan.outputs.printed.allocation_rows`), with the plot ratio used,
    and the Chinese labels beside the codes (``type_zh``, ``role_zh``: :func:`~siteplan.outputs.printed.with_labels`)."""
    from .figures import ratio_text
    from .printed import allocation_rows, with_labels

    df = _fixed(with_labels(allocation_rows(plan, net_to_gross=net_to_gross), type_labels), {"net_land_ha": 2, "gross_land_ha": 2})
    df["far_used"] = df["far_used"].map(ratio_text)
    df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return Path(path)


def write_table_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Any report table as CSV (utf-8-sig, fixed decimals)."""
    table.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.4f", lineterminator="\n")
    return Path(path)


def write_land_supply_csv(plan: Plan, path: str | Path, *, net_to_gross: float) -> Path:
    """``land_supply.csv``: per year and type, units, floor area and land, as the year sheets print them
    (:func:`siteplan.outputs.tables.land_supply_rows`)."""
    from .tables import land_supply_rows

    df = land_supply_rows(plan.allocation(net_to_gross=net_to_gross), types=list(plan.problem.types),
                          years=list(plan.problem.years), net_to_gross=net_to_gross)
    df["floor_area_m2"] = df["floor_area_m2"].round().astype("int64")
    df = _fixed(df, {"floor_area_10k_m2": 2, "plot_ratio": 2, "net_land_ha": 2, "gross_land_ha": 2})
    df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
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
        "title": scenario.plan.title,
        "type_labels": {t: scenario.type_label(t, "zh") for t in plan.problem.types},
        "scenario_file": str(scenario.source) if scenario.source else None,
        "scenario_sha256": scenario.sha256,
        "rules": scenario.rules.model_dump(mode="json"),  # the settings siteplan compare draws (e.g. station buffers)
        "status": plan.status.as_dict(),
        "solver": {**plan.report.as_dict(), **{k: getattr(plan.status, k) for k in ("optimal", "time_limit_hit", "within_gap")}},
        "targets_units": int(round(sum(plan.problem.targets.values()))),
        "placed_units": int(plan.units["units"].sum()),
        "shortfall_units": plan.status.units_missing,  # of the yearly targets; other rules by rule in status.rules_short
        "compliance": plan.compliance().to_dict(orient="records"),
        "checks": [f.__dict__ for f in plan.findings],
        "versions": _versions(),
    }
    if extra:
        record.update(extra)
    Path(path).write_text(json.dumps(record, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return Path(path)


def _why_not_written(err: OSError, out_dir: Path) -> str:
    """A planner's reason and fix for an OSError met while writing ``out_dir``."""
    where = f" ({err.filename})" if getattr(err, "filename", None) else ""
    if err.errno == errno.ENOSPC:
        return f"the disk is full{where}; free some space there, or choose another folder with --out"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write{where}; choose a folder you can write to with --out"
    if err.errno in (errno.EEXIST, errno.ENOTDIR):
        return (f"a file is in the way{where}: a folder is needed there; move or rename that file, "
                "or choose another folder with --out")
    return f"{err.strerror or err}{where}; choose another folder with --out"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: the process exists, but is not ours
        return True
    return True


def tidy_out_dir(out_dir: str | Path) -> list[Path]:
    """Clear what a killed run left beside ``out_dir``; return what was removed or restored.

    A run writes into ``.<name>.partial-<pid>-*`` and, while it swaps the
    folders, keeps the previous outputs as ``.<name>.old-<pid>``. Leftovers
    of runs that are no longer alive are removed; an ``old`` folder is put
    back in place when ``out_dir`` itself is missing (the run died between
    the two moves).
    """
    out_dir = Path(out_dir)
    parent = out_dir.parent
    if not parent.is_dir():
        return []
    done = []
    pattern = re.compile(rf"^\.{re.escape(out_dir.name)}\.(partial|old)-(\d+)?")
    for entry in sorted(parent.iterdir()):
        m = pattern.match(entry.name)
        if m is None or not entry.is_dir():
            continue
        if m.group(2) is not None and _pid_alive(int(m.group(2))):
            continue
        if m.group(1) == "old" and not out_dir.exists():
            os.replace(entry, out_dir)
            log.warning("Restored the previous outputs in %s (an interrupted run had moved them aside)", out_dir)
        else:
            shutil.rmtree(entry, ignore_errors=True)
            log.info("Removed %s, left by an interrupted run", entry)
        done.append(entry)
    return done


def check_out_dir(out_dir: str | Path) -> Path:
    """Make sure the outputs can be written to ``out_dir``, before any work is done.

    Creates the parent folder, clears leftovers of killed runs
    (:func:`tidy_out_dir`) and writes a probe file beside ``out_dir``.

    Raises
    ------
    OutputError
        Naming the folder and the fix: a file in the way, no permission, a
        full disk.
    """
    out_dir = Path(out_dir)
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise FileExistsError(errno.EEXIST, "a file is in the way", str(out_dir))
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tidy_out_dir(out_dir)
        probe = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-{os.getpid()}-", dir=out_dir.parent))
        try:
            (probe / "probe").write_bytes(b"siteplan\n")
        finally:
            shutil.rmtree(probe, ignore_errors=True)
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(f"cannot write the outputs to {out_dir}: {_why_not_written(err, out_dir)}") from None
    return out_dir


#: Runs the writers of :func:`write_outputs` as ``run_jobs(names, jobs)``, each job a call without arguments.
JobRunner = Callable[[list[str], list[Callable[[], object]]], None]


def write_outputs(out_dir: str | Path, writers: dict[str, Callable[[Path], object]], *,
                  run_jobs: JobRunner | None = None) -> dict[str, Path]:
    """Write every output, then move the folder into place in one step.

    The files are written into a temporary folder beside ``out_dir``; the
    previous outputs are moved aside, the new folder moved in, and the old
    one removed. Any failure (a full disk, Ctrl-C) removes the temporary
    folder and leaves the previous outputs where they were. The folder and
    its files get the modes the user's umask gives (``drwxr-xr-x`` and
    ``-rw-r--r--`` under umask 022); only the temporary folder is private.

    Parameters
    ----------
    out_dir
        The destination folder; it is replaced only after every writer ran.
    writers
        File name -> a function that writes that file at the path it gets.
    run_jobs
        Called as ``run_jobs(names, jobs)`` with each writer as a call
        without arguments (``jobs[k]`` writes ``names[k]`` into the
        temporary folder); it must return only once every job has ended,
        and raise if one failed. Default: the jobs one after the other,
        here. A batch on Dask hands them to its workers
        (:func:`siteplan.sweep.run_variant`).

    Returns
    -------
    dict
        File name -> final path.

    Raises
    ------
    OutputError
        When the folder cannot be written, naming it and the fix.
    """
    out_dir = check_out_dir(out_dir)
    tmp = old = None
    try:
        # The staging folder is private (mkdtemp makes it drwx------); the
        # outputs go into a folder made inside it with the user's umask, and
        # that one moves into place, so colleagues can open it as they open
        # the user's other folders.
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-{os.getpid()}-", dir=out_dir.parent))
        staged = tmp / out_dir.name
        staged.mkdir()
        names = list(writers)
        jobs = [functools.partial(writers[name], staged / name) for name in names]
        if run_jobs is None:
            for job in jobs:
                job()
        else:
            run_jobs(names, jobs)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.replace(out_dir, old)
        os.replace(staged, out_dir)
    except BaseException as err:
        if old is not None and old.exists() and not out_dir.exists():
            os.replace(old, out_dir)  # the previous outputs go back in place
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError) and not isinstance(err, SiteplanError):
            raise OutputError(f"cannot write the outputs to {out_dir}: {_why_not_written(err, out_dir)}; "
                              "the previous outputs were left as they were") from None
        raise
    shutil.rmtree(tmp, ignore_errors=True)  # empty now
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    log.info("Wrote %d files to %s", len(writers), out_dir)
    return {name: out_dir / name for name in writers}


# ---------------------------------------------------------------------------
# Desktop GIS: GeoPackage with QGIS styles, optional shapefiles
# ---------------------------------------------------------------------------

class ExportError(SiteplanError, ValueError):
    """An export cannot be written as asked (e.g. text the encoding cannot hold)."""


#: Chinese aliases of siteplan's field names, used in QGIS styles and the shapefile alias table.
FIELD_LABELS: dict[str, str] = {
    "parcel_id": "地块编号", "name": "名称", "district": "行政区", "zone": "片区", "year": "供地年份",
    "main_type": "主要类型", "units": "套数", "floor_area_m2": "建筑面积（m²）",
    "affordable_floor_m2": "保障性住房建筑面积（m²）", "net_land_ha": "净用地（公顷）",
    "gross_land_ha": "毛用地（公顷）", "far_max": "容积率上限", "far_upper": "容积率上限（规划上限）",
    "far_used": "采用容积率", "far_upper_types": "采用规划上限容积率的类型",
    "area_ha": "地块面积（公顷）", "area_m2": "地块面积（m²）", "role": "用地类型", "type": "住房类型",
    "land_use": "用地性质", "status": "地块状态", "available_year": "可供年份", "metro_depot": "地铁上盖",
    "used": "已选用", "supply_year": "供地年份", "station": "站点", "line": "线路", "open_year": "开通年份",
    "park": "园区", "workers": "就业人数", "kind": "类型", "category": "类别", "pop_density": "人口密度（人/km²）",
    "type_zh": "住房类型（名称）", "main_type_zh": "主要类型（名称）", "role_zh": "用地类型（新增/配建）",
}

_GPKG_LAYERS = ("allocation", "candidates", "districts", "stations", "lines", "parks", "services", "constraints")


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _xml(value: object) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(str(value))


def _symbol_xml(name: str, geom: str, colour: str, *, outline: str = "#232323", alpha: int = 255,
                size: float = 2.0, width: float = 0.4, dashed: bool = False) -> str:
    """One QGIS symbol (fill, line or marker), with both the 3.26+ and the older property forms."""
    if geom == "fill":
        cls = "SimpleFill"
        props = {"color": _rgba(colour, alpha), "outline_color": _rgba(outline), "outline_width": f"{width:g}",
                 "outline_width_unit": "MM", "outline_style": "dash" if dashed else "solid", "style": "solid",
                 "joinstyle": "bevel"}
    elif geom == "line":
        cls = "SimpleLine"
        props = {"line_color": _rgba(colour, alpha), "line_width": f"{width:g}", "line_width_unit": "MM",
                 "line_style": "dash" if dashed else "solid", "capstyle": "round", "joinstyle": "round"}
    else:
        cls = "SimpleMarker"
        props = {"color": _rgba(colour, alpha), "outline_color": _rgba(outline), "outline_width": f"{width:g}",
                 "outline_width_unit": "MM", "name": "circle", "size": f"{size:g}", "size_unit": "MM"}
    options = "".join(f'<Option type="QString" name={_xml(k)} value={_xml(v)}/>' for k, v in props.items())
    legacy = "".join(f"<prop k={_xml(k)} v={_xml(v)}/>" for k, v in props.items())
    return (f'<symbol type="{geom}" name={_xml(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{cls}" enabled="1" locked="0" pass="0"><Option type="Map">{options}</Option>{legacy}</layer></symbol>')


def qml_style(
    geom: str,
    *,
    categories: list[tuple[object, str, str]] | None = None,
    attr: str | None = None,
    colour: str = "#999999",
    outline: str = "#232323",
    alpha: int = 255,
    width: float = 0.3,
    size: float = 2.0,
    dashed: bool = False,
    label_field: str | None = None,
    aliases: Mapping[str, str] | None = None,
) -> str:
    """A QGIS style document (QML) for one layer.

    Parameters
    ----------
    geom
        ``"fill"``, ``"line"`` or ``"marker"``.
    categories
        ``(value, label, colour)`` per class of ``attr`` for a categorized
        renderer; ``None`` for a single symbol in ``colour``.
    label_field
        A field to label features with, or ``None``.
    aliases
        Field name -> display name (shown in QGIS's attribute table and forms).
    """
    if categories:
        cats = "".join(
            f'<category symbol="{k}" value={_xml(v)} label={_xml(lab)} render="true"/>' for k, (v, lab, _) in enumerate(categories)
        )
        syms = "".join(
            _symbol_xml(str(k), geom, c, outline=outline if geom == "fill" else c if geom == "line" else outline,
                        alpha=alpha, width=width, size=size, dashed=dashed)
            for k, (_, _, c) in enumerate(categories)
        )
        renderer = (f'<renderer-v2 type="categorizedSymbol" attr={_xml(attr)} symbollevels="0" enableorderby="0" forceraster="0">'
                    f"<categories>{cats}</categories><symbols>{syms}</symbols></renderer-v2>")
    else:
        renderer = ('<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0"><symbols>'
                    + _symbol_xml("0", geom, colour, outline=outline, alpha=alpha, width=width, size=size, dashed=dashed)
                    + "</symbols></renderer-v2>")
    labeling = ""
    if label_field:
        labeling = (
            '<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={_xml(label_field)} isExpression="0" fontFamily="Microsoft YaHei" fontSize="9" '
            'fontSizeUnit="Point" textColor="50,50,50,255" namedStyle="Regular">'
            '<text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM" bufferColor="255,255,255,255"/></text-style>'
            f'<placement placement="{1 if geom == "fill" else 0}" dist="1" distUnits="MM"/>'
            '<rendering scaleVisibility="0" obstacle="1"/></settings></labeling>'
        )
    alias_xml = ""
    if aliases:
        alias_xml = "<aliases>" + "".join(f"<alias field={_xml(f)} index=\"{i}\" name={_xml(a)}/>" for i, (f, a) in enumerate(aliases.items())) + "</aliases>"
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="3.28.0" styleCategories="AllStyleCategories" labelsEnabled="{1 if label_field else 0}">'
        f"{renderer}{labeling}{alias_xml}</qgis>\n"
    )


def gpkg_layers(plan: Plan, layers, scenario: Scenario) -> dict[str, gpd.GeoDataFrame]:
    """The layers of ``plan.gpkg``, in the scenario's working CRS.

    ``allocation`` (one feature per used parcel, its units by type, supply
    year, land, role and plot ratio used: :func:`siteplan.outputs.printed.parcel_features`), ``candidates`` (every candidate parcel with its
    computed features, ``used`` (1 if the plan uses it, else 0) and
    ``supply_year``), then ``districts``,
    ``stations``, ``lines`` and, when the scenario has them, ``parks``,
    ``services`` and ``constraints``.
    """
    from .printed import parcel_features, with_labels

    crs = scenario.plan.crs
    ntg = scenario.plan.net_to_gross
    alloc = with_labels(parcel_features(plan, net_to_gross=ntg), {t: scenario.type_label(t, "zh") for t in plan.problem.types})
    cand = plan.problem.parcels.copy()
    supply = alloc.set_index("parcel_id")["year"]
    # 0/1 as an Integer field, the values the QGIS style's categories name
    # (a GeoPackage Boolean would not match them in every reader).
    cand["used"] = cand["parcel_id"].isin(supply.index).astype("int32")
    cand["supply_year"] = cand["parcel_id"].map(supply).astype("Int64")
    out = {"allocation": alloc, "candidates": gpd.GeoDataFrame(cand, geometry="geometry", crs=plan.problem.parcels.crs)}
    for name in ("districts", "stations", "lines", "parks", "services", "constraints"):
        gdf = getattr(layers, name)
        if name in ("districts", "stations", "lines") or len(gdf):
            out[name] = gdf
    clean = {}
    for name, gdf in out.items():
        gdf = gdf.to_crs(crs) if gdf.crs is not None else gdf.set_crs(crs)
        for col in gdf.columns:
            if col != gdf.geometry.name and (gdf[col].dtype == object or pd.api.types.is_string_dtype(gdf[col])):
                gdf[col] = gdf[col].astype(object).where(gdf[col].notna(), None)
        clean[name] = gdf.reset_index(drop=True)
    return clean


def _styles(plan: Plan, scenario: Scenario, data: Mapping[str, gpd.GeoDataFrame]) -> dict[str, str]:
    from .qml import allocation_qml
    from .styles import LINE_COLOURS, SERVICE_COLOURS, ZONE_FILLS, type_colours

    types = list(plan.problem.types)
    colours = type_colours(types)

    def aliases(gdf: gpd.GeoDataFrame) -> dict[str, str]:
        return {c: _field_label(c, scenario) or c for c in gdf.columns if c != gdf.geometry.name}

    out = {
        # New land filled, 配建 hosts outlined and hatched (role-based rules, as on the map).
        "allocation": allocation_qml(types, {t: scenario.type_label(t, "zh") for t in types}, colours,
                                     label_field="parcel_id", aliases=aliases(data["allocation"])),
        "candidates": qml_style("fill", attr="used", categories=[(0, "未选用", "#d9d9d9"), (1, "已选用", "#fdae6b")],
                                outline="#969696", width=0.15, aliases=aliases(data["candidates"])),
    }
    zones = sorted(z for z in data["districts"]["zone"].dropna().unique())
    out["districts"] = qml_style("fill", attr="zone", categories=[(z, z, ZONE_FILLS[k % len(ZONE_FILLS)]) for k, z in enumerate(zones)],
                                 outline="#6e6e6e", width=0.5, label_field="district", aliases=aliases(data["districts"]))
    out["stations"] = qml_style("marker", colour="#ffffff", outline="#232323", size=2.2, width=0.4, label_field="station",
                                aliases=aliases(data["stations"]))
    lines = sorted(data["lines"]["line"].dropna().astype(str).unique())
    out["lines"] = qml_style("line", attr="line", categories=[(n, n, LINE_COLOURS[k % len(LINE_COLOURS)]) for k, n in enumerate(lines)],
                             width=1.2, aliases=aliases(data["lines"]))
    if "parks" in data:
        out["parks"] = qml_style("fill", colour="#8e7cc3", alpha=90, outline="#5b4a91", dashed=True, label_field="park",
                                 aliases=aliases(data["parks"]))
    if "services" in data:
        cats = sorted(data["services"]["category"].dropna().astype(str).unique())
        out["services"] = qml_style("marker", attr="category", categories=[(c, c, SERVICE_COLOURS.get(c, "#636363")) for c in cats],
                                    size=1.4, width=0.1, outline="#ffffff", aliases=aliases(data["services"]))
    if "constraints" in data:
        out["constraints"] = qml_style("fill", colour="#d7301f", alpha=70, outline="#b30000", dashed=True,
                                       aliases=aliases(data["constraints"]))
    return out


def _field_label(field: str, scenario: Scenario) -> str | None:
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    if field.startswith("units_") and field[6:] in scenario.types:
        return scenario.type_label(field[6:], "zh") + "（套）"
    return None


def write_geopackage(plan: Plan, layers, scenario: Scenario, path: str | Path) -> Path:
    """``plan.gpkg``: the plan and its context in the working CRS, styled for QGIS.

    Every layer of :func:`gpkg_layers` is written in the scenario's CRS
    (CGCS2000 Gauss-Kruger by default), and a default QGIS style for each
    (types coloured as on the map, districts by zone, lines by line, Chinese
    field aliases) goes into the GeoPackage ``layer_styles`` table that QGIS
    reads when it opens a layer. The file is GeoPackage 1.2, which ArcGIS
    and older GDAL read too.
    """
    import pyogrio

    path = Path(path)
    data = gpkg_layers(plan, layers, scenario)
    styles = _styles(plan, scenario, data)
    # GDAL dates gpkg_contents.last_change with the time of writing unless OGR_CURRENT_DATE says otherwise;
    # stamp() instead (the day of the run, or SOURCE_DATE_EPOCH), so that two runs write the same bytes. The
    # option is global to GDAL, so its previous value is put back.
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": gpkg_date()})
    try:
        for k, (name, gdf) in enumerate(data.items()):
            pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG", dataset_options={"VERSION": "1.2"} if k == 0 else None)
        rows = pd.DataFrame({
            "f_table_catalog": "", "f_table_schema": "", "f_table_name": list(styles),
            "f_geometry_column": "geom", "styleName": [f"siteplan {n}" for n in styles], "styleQML": list(styles.values()),
            "styleSLD": "", "useAsDefault": True, "description": "siteplan default style", "owner": "", "ui": "",
            "update_time": stamp_utc().strftime("%Y-%m-%dT%H:%M:%S"),
        })
        pyogrio.write_dataframe(rows, path, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"})
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
    log.info("Wrote %d layers and their QGIS styles to %s", len(data), path.name)  # not the staging folder
    return path


def planner_writers(plan: Plan, layers, scenario: Scenario, *, lang: str = "zh", shapefile: bool = False,
                    output_warnings: list[str] | None = None) -> dict[str, Callable[[Path], object]]:
    """The writers of the planners' outputs, for :func:`write_outputs`.

    ``plan.gpkg``; ``land_supply.xlsx`` and its CSV copies
    (``land_supply_<year>.csv``, ``land_supply_period.csv``,
    ``land_supply_districts.csv``, ``land_supply_parcels.csv``); ``report.html``; and with
    ``shapefile=True`` a ``shapefile/`` folder. Warnings of the writers
    (text the shapefile's encoding cannot hold) are appended to
    ``output_warnings`` when given.
    """
    from . import tables as tb
    from .handan import PARCEL_SHEET, printed_tables, write_plan_workbook
    from .report import write_report
    from .shapefile import write_shapefiles

    cache: dict[str, dict] = {}

    def land_tables() -> dict:  # as [outputs] lays them out (siteplan.outputs.handan), with the 地块一览表
        if "t" not in cache:
            cache["t"] = printed_tables(plan, scenario)
        return cache["t"]

    writers: dict[str, Callable[[Path], object]] = {
        "plan.gpkg": lambda p: write_geopackage(plan, layers, scenario, p),
        "land_supply.xlsx": lambda p: write_plan_workbook(land_tables(), p, plan, scenario),
    }
    for sheet in [f"{y}年" for y in scenario.years] + ["规划期", "分区", PARCEL_SHEET]:
        writers[tb.csv_file_name(sheet)] = lambda p, sheet=sheet: tb.write_table_csv(land_tables()[sheet], p)
    writers["report.html"] = lambda p: write_report(plan, layers, scenario, p, lang=lang)
    if shapefile:
        writers["shapefile"] = lambda p: write_shapefiles(plan, layers, scenario, p, output_warnings=output_warnings)
    return writers
