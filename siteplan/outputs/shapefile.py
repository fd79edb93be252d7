"""The plan's layers as shapefiles for ArcGIS: GBK text, 10-byte field names, an alias table.

The layers are those of ``plan.gpkg`` (:func:`siteplan.outputs.export.gpkg_layers`);
``fields.csv`` beside them gives each short name its full name and Chinese
label, and lists every value whose characters the encoding cannot hold.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pandas as pd

from ..inputs.scenario import Scenario
from ..solve.plan import Plan
from .export import _field_label, gpkg_layers
from .stamp import dbf_date

__all__ = ["write_shapefiles", "shapefile_field_names", "SHORT_NAMES", "MISSING_CHAR"]

log = logging.getLogger(__name__)


#: Short (at most 10-byte) shapefile names of siteplan's fields.
SHORT_NAMES: dict[str, str] = {
    "parcel_id": "PARCEL_ID", "name": "NAME", "district": "DISTRICT", "zone": "ZONE", "year": "YEAR",
    "main_type": "MAIN_TYPE", "main_type_zh": "MTYPE_ZH", "role_zh": "ROLE_ZH", "type_zh": "TYPE_ZH", "units": "UNITS", "floor_area_m2": "FLOOR_M2", "affordable_floor_m2": "AFF_FLR_M2", "net_land_ha": "NET_HA",
    "gross_land_ha": "GROSS_HA", "far_max": "FAR_MAX", "far_upper": "FAR_UPPER", "area_ha": "AREA_HA",
    "far_used": "FAR_USED", "far_upper_types": "FAR_UP_TYP",
    "area_m2": "AREA_M2", "role": "ROLE", "land_use": "LAND_USE", "status": "STATUS", "available_year": "AVAIL_YR",
    "metro_depot": "DEPOT", "used": "USED", "supply_year": "SUPPLY_YR", "station": "STATION", "line": "LINE",
    "open_year": "OPEN_YEAR", "park": "PARK", "workers": "WORKERS", "kind": "KIND", "category": "CATEGORY",
    "pop_density": "POP_DENS", "floor_cap_m2": "FLRCAP_M2", "floor_cap_upper_m2": "FLRCAP_UP", "candidate": "CANDIDATE",
    "park_m": "PARK_M", "park_index": "PARK_IDX",
}
_ABBREV = {"units_cap_": "UC_", "units_": "U_", "station_m_": "STN_M_", "score_": "SCORE_", "svc_": "SVC_"}


def shapefile_field_names(columns: list[str]) -> dict[str, str]:
    """Map field names to unique upper-case ASCII names of at most 10 bytes.

    Known fields take :data:`SHORT_NAMES`; ``units_public_rental`` becomes
    ``U_PUBLIC_R``, ``score_2016`` ``SCORE_2016``; clashes get a numeric
    suffix (``U_PUBLIC_1``).
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for col in columns:
        short = SHORT_NAMES.get(col)
        if short is None:
            short = col
            for prefix, abbrev in _ABBREV.items():
                if col.startswith(prefix):
                    short = abbrev + col[len(prefix):]
                    break
            short = re.sub(r"[^A-Za-z0-9_]", "_", short).upper()[:10] or "FIELD"
        base, k = short, 1
        while short in taken:
            tail = str(k)
            short = base[: 10 - len(tail) - 1] + "_" + tail if len(base) + len(tail) + 1 > 10 else f"{base}_{tail}"
            k += 1
        taken.add(short)
        out[col] = short
    return out


#: What a character the shapefile's encoding cannot hold becomes: the missing-character
#: mark (缺字符号) of Chinese typesetting, which GBK holds; ``?`` in encodings without it.
MISSING_CHAR = "\u25a1"


def _encodable(values: pd.Series, encoding: str) -> dict[str, str]:
    """Each distinct text of ``values`` that ``encoding`` cannot hold -> that text with each such character replaced."""
    def holds(text: str) -> bool:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            return False
        return True

    mark = MISSING_CHAR if holds(MISSING_CHAR) else "?"
    return {value: "".join(c if holds(c) else mark for c in value)
            for value in values.dropna().astype(str).unique() if not holds(value)}


def write_shapefiles(plan: Plan, layers, scenario: Scenario, folder: str | Path, *, encoding: str = "GBK",
                     output_warnings: list[str] | None = None) -> list[Path]:
    """Optional shapefiles for ArcGIS users: one per layer of ``plan.gpkg``.

    Text is encoded in GBK (what ArcGIS on Chinese Windows expects) and
    declared in a ``.cpg`` file; field names are cut to 10 bytes by
    :func:`shapefile_field_names`, and ``fields.csv`` (UTF-8 with BOM)
    lists every layer's short name, full name and Chinese label.

    A character GBK cannot hold (a rare name character such as 𠮷, an
    emoji) is written as :data:`MISSING_CHAR` (□): the shapefiles are still
    written, ``plan.gpkg`` keeps the text as it is, and the replacements
    make one warning (logged, or appended to ``output_warnings``) and are
    listed in the ``replaced`` column of ``fields.csv`` (``feature:
    original -> written``, the feature named by its ``parcel_id``, else by
    its number in the layer from 1).

    Parameters
    ----------
    output_warnings
        When given, the replacement warning is appended to it instead of
        logged (``siteplan run`` prints it and exits 1, warnings).
    """
    import pyogrio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = gpkg_layers(plan, layers, scenario)
    written, alias_rows, replaced = [], [], []
    for name, gdf in data.items():
        names = shapefile_field_names([c for c in gdf.columns if c != gdf.geometry.name])
        out = gdf.rename(columns=names)
        ids = (gdf["parcel_id"].astype(str) if "parcel_id" in gdf else pd.Series([f"#{k}" for k in range(1, len(gdf) + 1)]))
        for full, short in names.items():
            col = out[short]
            changes: list[str] = []
            if pd.api.types.is_bool_dtype(col):
                out[short] = col.astype(int)
            elif col.dtype == object:
                swap = _encodable(col, encoding)
                if swap:
                    hit = col.isin(list(swap)).to_numpy()
                    for fid, value in zip(ids.to_numpy()[hit], col.to_numpy()[hit]):
                        changes.append(f"{fid}: {value} -> {swap[value]}")
                        replaced.append(f"{name}.shp feature {fid} field {full}: {value!r} -> {swap[value]!r}")
                    out[short] = col.map(lambda v: swap.get(v, v) if isinstance(v, str) else v)
            label = _field_label(full, scenario)
            alias_rows.append({"layer": name, "short_name": short, "full_name": full, "label_zh": label or "",
                               "replaced": "; ".join(changes)})
        path = folder / f"{name}.shp"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyogrio warns about the 10-character limit the renaming handles
            # The .dbf header records the day of writing; stamp()'s day instead (the same for a day's runs,
            # or SOURCE_DATE_EPOCH's), so that two runs write the same bytes.
            pyogrio.write_dataframe(out, path, driver="ESRI Shapefile", encoding=encoding,
                                    layer_options={"DBF_DATE_LAST_UPDATE": dbf_date()})
        written.append(path)
    aliases = folder / "fields.csv"
    pd.DataFrame(alias_rows).to_csv(aliases, index=False, encoding="utf-8-sig", lineterminator="\n")
    if replaced:
        shown = replaced if len(replaced) <= 20 else [*replaced[:20], f"and {len(replaced) - 20} more"]
        message = (f"shapefile: {encoding} cannot hold some characters of {len(replaced)} value(s), written with each such "
                   "character replaced; plan.gpkg keeps the text as it is, and shapefile/fields.csv (column replaced) "
                   "lists them: " + "; ".join(shown))
        if output_warnings is not None:
            output_warnings.append(message)
        else:
            log.warning("%s", message)
    log.info("Wrote %d shapefiles (%s)", len(written), encoding)
    return [*written, aliases]
