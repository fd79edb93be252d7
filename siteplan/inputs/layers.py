"""Read, validate and reproject the GIS layers a scenario names.

Every layer is read with pyogrio, its text decoded in the right encoding,
its columns renamed from the user's names to siteplan's (``[fields.<layer>]``
in the scenario), checked, repaired where a repair is safe (and then counted
in a warning), and projected to the scenario's working CRS. Anything that
cannot be repaired is an error naming the file, the feature, the field and
the fix.

Bureau data comes with known quirks, each handled in a module of this package
(this one reads through them and keeps the public names):

- **Text encoding.** Shapefiles from Chinese bureaus are often GBK, with or
  without a ``.cpg`` file. All text is read as raw bytes and decoded:
  the scenario's ``[layers.encoding]`` if given, else the ``.cpg``, else the
  ``.dbf`` language byte, else whichever of UTF-8 and GBK decodes every
  value. Field names cut mid-character by the shapefile's 10-byte limit are
  decoded up to the cut. Nothing is ever passed on half-decoded.
  (:mod:`siteplan.inputs.read`)
- **Coordinates.** Gauss-Kruger eastings with a zone prefix (40500000)
  under a CRS without one (500000), or the reverse, are corrected when the
  prefix names the CRS's own zone; coordinates that cannot lie in the
  layer's CRS (degrees under a projected CRS, a foreign zone) are errors.
  Layers on the Xi'an-80 or Beijing-54 datum are reprojected with a warning,
  since PROJ has no datum shift from them to CGCS2000.
  (:mod:`siteplan.inputs.repair`, the datum in :mod:`siteplan.inputs.read`)
- **GCJ-02.** Layers digitised from Gaode/AMap (``[layers.datum]``
  ``stations = "gcj02"``) are converted vertex by vertex to WGS84 before
  they are projected. (:func:`siteplan.inputs.read._from_gcj02`)
- **Geometry.** Null and empty geometries are dropped, Z and M values
  dropped, invalid polygons repaired with ``make_valid``, parcels under
  :data:`MIN_PARCEL_AREA_M2` dropped, and parcels overlapping by more than
  :data:`OVERLAP_TOLERANCE` named in a warning. (:mod:`siteplan.inputs.repair`)
- **Attributes.** Numbers stored as text (also full-width digits), years
  written as ``2017年`` or dates, and ``是``/``否`` flags are read as meant;
  anything else is an error that lists the features and values.
  (read in :mod:`siteplan.inputs.fields`, checked in :mod:`siteplan.inputs.validate`)

:func:`check_layers` collects every finding and never raises for bad data;
:func:`read_layers` raises :class:`LayerCheckError` listing every error.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from ..errors import LayerError, SiteplanError
from .fields import _ID_COLUMN, COLUMN_HINTS, SCHEMA, _as_text, _rename_fields
from .findings import Diagnostic, LayerInfo, Level, _Findings, _Options
from .read import _decode_text, _from_gcj02, _project, _read_raw, _source_crs, crs_label
from .repair import MIN_PARCEL_AREA_M2, OVERLAP_TOLERANCE, _clean_geometry, _fix_coordinates, _slivers_and_overlaps
from .scenario import Scenario
from .validate import (
    MAX_PLAUSIBLE_FAR,
    SERVICE_CATEGORIES,
    YEAR_RANGE,
    _check_raster,
    _tidy_other_layers,
    _validate_districts,
    _validate_parcels,
    _working_crs,
)

__all__ = [
    "SCHEMA",
    "COLUMN_HINTS",
    "MAX_PLAUSIBLE_FAR",
    "MIN_PARCEL_AREA_M2",
    "OVERLAP_TOLERANCE",
    "Diagnostic",
    "LayerInfo",
    "LayerCheck",
    "LayerCheckError",
    "Layers",
    "check_layers",
    "read_layers",
    "read_layer",
    "crs_label",
]

# Importable from here as before the split (defined in .validate).
__all__ += ["YEAR_RANGE", "SERVICE_CATEGORIES"]

log = logging.getLogger(__name__)


class LayerCheckError(LayerError):
    """Layers hold errors; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Diagnostic]):
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = f"{len(self.problems)} problems in the layers:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


@dataclass
class Layers:
    """All layers of a scenario, validated and in one projected CRS.

    Optional layers that the scenario does not name are empty GeoDataFrames
    with the expected columns, so later stages need no special cases.
    ``warnings`` lists what was repaired or looks suspicious; ``notes`` what
    was done on the way (reprojections, detected encodings).
    """

    crs: CRS
    parcels: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame
    services: gpd.GeoDataFrame
    parks: gpd.GeoDataFrame
    constraints: gpd.GeoDataFrame
    population: Path | None = None
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    info: dict[str, LayerInfo] = field(default_factory=dict)


@dataclass
class LayerCheck:
    """Everything :func:`check_layers` found.

    ``layers`` is set only when there is no error; ``frames`` holds whatever
    could be read, for reports.
    """

    crs: CRS | None
    diagnostics: list[Diagnostic]
    info: dict[str, LayerInfo]
    frames: dict[str, gpd.GeoDataFrame]
    layers: Layers | None = None

    def of_level(self, *levels: Level) -> list[Diagnostic]:
        """The diagnostics of the given levels, in the order found."""
        return [d for d in self.diagnostics if d.level in levels]

    @property
    def errors(self) -> list[Diagnostic]:
        return self.of_level("error")

    @property
    def warnings(self) -> list[Diagnostic]:
        """Repairs and warnings."""
        return self.of_level("repair", "warning")


# -- one layer --------------------------------------------------------------


def _read_vector(path: Path, kind: str, opts: _Options, working: CRS, found: _Findings,
                 info: LayerInfo, tables: dict[str, pd.DataFrame] | None = None) -> gpd.GeoDataFrame | None:
    """Read, decode, rename, clean and project one vector layer; None on an error.

    ``tables`` receives the layer's renamed attribute table as soon as it is
    read, even when the layer fails later (no CRS, a required field
    missing), so that the checks of its other columns still run.
    """
    if not path.exists():
        found.error(path, f"the {kind} layer file does not exist; check [layers] {kind} in the scenario")
        return None
    got = _read_raw(path, kind, opts, found, info)
    if got is None:
        return None
    gdf, is_shp = got
    decoded = _decode_text(gdf, path, kind, opts, is_shp, found)
    if decoded is None:
        return None
    gdf, info.encoding, raw_names = decoded
    info.geometry_types = {str(k): int(v) for k, v in gdf.geometry.geom_type.fillna("none").value_counts().items()}
    if len(gdf) == 0:
        found.error(path, f"the {kind} layer has no features; add them, or "
                          + ("remove it from [layers]" if kind in ("services", "parks", "constraints") else
                             "point [layers] " + kind + " at the right file"))
        return None
    src = _source_crs(gdf, path, kind, opts, working, found)
    info.crs = crs_label(src) if src is not None else "none"
    gdf = _rename_fields(gdf, kind, opts.mapping, path, raw_names, info.encoding, found, tables)
    if src is None or gdf is None:
        return None
    id_col = _ID_COLUMN.get(kind)
    if id_col in gdf.columns:
        gdf[id_col] = _as_text(gdf[id_col])
    gdf = _fix_coordinates(gdf, src, path, kind, id_col, found)
    if gdf is None:
        return None
    gdf = _clean_geometry(gdf, kind, path, id_col, found)
    if gdf is None:
        return None
    if opts.datum == "gcj02":
        gdf = _from_gcj02(gdf, src, path, kind, found, info)
        if gdf is None:
            return None
    gdf = _project(gdf, src, working, path, kind, found)
    info.kept = len(gdf)
    return gdf


def read_layer(path: str | Path, kind: str, *, mapping: dict[str, str] | None = None, crs: CRS,
               notes: list[str] | None = None, encoding: str | None = None, source_crs: str | None = None,
               layer: str | None = None, datum: str | None = None) -> gpd.GeoDataFrame:
    """Read one layer, decode its text, rename its fields, check its geometry and project it.

    Only the layer's own checks run here; checks across layers (parcel
    districts against the districts layer) are in :func:`check_layers`.

    Parameters
    ----------
    path
        The file (GeoPackage, shapefile, GeoJSON or anything GDAL reads).
    kind
        Which layer this is, a key of :data:`SCHEMA`.
    mapping
        siteplan field name -> the layer's column name.
    crs
        The working CRS to project to.
    notes
        Repairs, warnings and notes are appended here as text.
    encoding, source_crs, layer
        The text encoding, the layer's CRS and the layer's name inside the
        file, when the file does not say them itself (or says them wrong).
    datum
        ``"gcj02"`` for lon/lat digitised from Gaode/AMap: converted to
        WGS84 before projecting.

    Raises
    ------
    LayerCheckError
        Listing every error found.
    """
    found = _Findings()
    path = Path(path)
    opts = _Options(mapping=dict(mapping or {}), encoding=encoding, crs=source_crs, layer=layer,
                    datum=datum.strip().lower().replace("-", "") if datum else None)
    gdf = None
    with _guard(found, path, f"the {kind} layer"):
        gdf = _read_vector(path, kind, opts, CRS.from_user_input(crs), found, LayerInfo(kind, path))
    if notes is not None:
        notes.extend(str(d) for d in found.items if d.level != "error")
    errors = [d for d in found.items if d.level == "error"]
    if errors or gdf is None:
        raise LayerCheckError(errors or [Diagnostic("error", str(path), f"the {kind} layer could not be read")])
    return gdf.reset_index(drop=True)


# -- every layer of a scenario --------------------------------------------


def _empty_layer(kind: str, crs: CRS) -> gpd.GeoDataFrame:
    spec = SCHEMA[kind]
    cols = spec["required"] + list(spec["optional"])
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _options(scenario: Scenario, kind: str) -> _Options:
    lp = scenario.layers
    return _Options(
        mapping=dict(getattr(scenario.fields, kind)),
        encoding=getattr(lp, "encoding", {}).get(kind),
        crs=getattr(lp, "crs", {}).get(kind),
        layer=getattr(lp, "layer", {}).get(kind),
        datum=getattr(lp, "datum", {}).get(kind),
    )


@contextmanager
def _guard(found: _Findings, path, what: str):
    """Turn an unexpected exception into an error naming the file: no traceback reaches a planner."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    except SiteplanError as err:
        found.error(path, str(err))
    except Exception as err:  # a bug or a data shape never seen: say so, and where
        log.debug("unexpected error while checking %s", what, exc_info=True)
        found.error(path, f"unexpected problem while checking {what} ({type(err).__name__}: {err}); siteplan "
                          "cannot use this data as it is. Please report it, with the file")


def check_layers(scenario: Scenario) -> LayerCheck:
    """Read and check every layer the scenario names; never raises for bad data.

    Parameters
    ----------
    scenario
        A loaded scenario (layer paths already absolute).

    Returns
    -------
    LayerCheck
        Every error, repair, warning and note, what was read from each file,
        and the :class:`Layers` when there is no error.
    """
    found = _Findings()
    info: dict[str, LayerInfo] = {}
    frames: dict[str, gpd.GeoDataFrame] = {}
    tables: dict[str, pd.DataFrame] = {}
    crs = _working_crs(scenario, found)
    if crs is None:
        return LayerCheck(crs=None, diagnostics=found.items, info=info, frames=frames)
    paths = scenario.layers
    for kind in SCHEMA:
        path = getattr(paths, kind)
        if path is None:
            frames[kind] = _empty_layer(kind, crs)
            continue
        info[kind] = LayerInfo(kind, Path(path))
        with _guard(found, path, f"the {kind} layer"):
            gdf = _read_vector(Path(path), kind, _options(scenario, kind), crs, found, info[kind], tables)
            if gdf is not None:
                frames[kind] = gdf
    # A layer that failed (no CRS, a required field missing) still has its
    # other columns checked, from its attribute table, so that one fault
    # does not hide the others.
    districts = frames.get("districts")
    table = tables.get("districts")
    if districts is None and table is not None and "district" in table.columns:
        districts = table.assign(district=_as_text(table["district"]))
    if districts is not None:
        with _guard(found, paths.districts, "the districts layer"):
            districts = _validate_districts(districts, Path(paths.districts), scenario, found)
        if districts["district"].isna().all():
            districts = None  # no names to match parcels against
    if frames.get("parcels") is not None:
        path = Path(paths.parcels)
        with _guard(found, path, "the parcels layer"):
            p = _validate_parcels(frames["parcels"], path, districts, scenario, found)
            frames["parcels"] = _slivers_and_overlaps(p, path, found)
            info["parcels"].kept = len(frames["parcels"])
            info["parcels"].location = dict(p.attrs.get("location", {}))
    elif tables.get("parcels") is not None:
        path = Path(paths.parcels)
        table = tables["parcels"].copy()
        if "parcel_id" in table.columns:
            table["parcel_id"] = _as_text(table["parcel_id"])
        with _guard(found, path, "the parcels layer"):
            _validate_parcels(table, path, districts, scenario, found)
    with _guard(found, None, "the stations, lines, services and parks"):
        _tidy_other_layers(frames, paths, found)
    if paths.population is not None:
        info["population"] = LayerInfo("population", Path(paths.population))
        with _guard(found, paths.population, "the population raster"):
            _check_raster(Path(paths.population), crs, frames.get("parcels"), found, info["population"])
    result = LayerCheck(crs=crs, diagnostics=found.items, info=info, frames=frames)
    if not result.errors and all(frames.get(k) is not None for k in SCHEMA):
        result.layers = Layers(
            crs=crs,
            population=Path(paths.population) if paths.population is not None else None,
            warnings=[str(d) for d in result.warnings],
            notes=[str(d) for d in result.of_level("note")],
            sources={k: Path(getattr(paths, k)) for k in info},
            info=info,
            **{k: frames[k].reset_index(drop=True) for k in SCHEMA},
        )
    return result


def read_layers(scenario: Scenario) -> Layers:
    """Read and validate every layer the scenario names.

    Parameters
    ----------
    scenario
        A loaded scenario (layer paths already absolute).

    Returns
    -------
    Layers
        Layers in ``scenario.plan.crs``, with the repairs and warnings listed.

    Raises
    ------
    LayerCheckError
        A :class:`~siteplan.errors.LayerError` listing every error found.
    """
    result = check_layers(scenario)
    if result.errors or result.layers is None:
        raise LayerCheckError(result.errors or [Diagnostic("error", "", "the layers could not be read")])
    layers = result.layers
    for d in result.warnings:
        log.warning("%s", d)
    for d in result.of_level("note"):
        log.info("%s", d)
    log.info("Read %d parcels, %d districts, %d stations in %s", len(layers.parcels), len(layers.districts),
             len(layers.stations), crs_label(layers.crs))
    return layers
