"""Read one layer file with pyogrio: choose its layer, decode its text, take its CRS, undo GCJ-02 and project it.

Text is read as raw bytes and decoded here (:func:`_decode_text`): the
scenario's ``[layers.encoding]`` if given, else the shapefile's ``.cpg``,
else its ``.dbf`` language byte, else whichever of UTF-8 and GBK decodes
every value; field names cut mid-character by the shapefile's 10-byte limit
are decoded up to the cut. Layers on the Xi'an-80 or Beijing-54 datum are
reprojected with a warning (:func:`_project`), since PROJ has no datum shift
from them to CGCS2000. Lon/lat layers digitised from Gaode/AMap
(``[layers.datum]``) are converted from GCJ-02 to WGS84 before projecting
(:func:`_from_gcj02`).
"""

from __future__ import annotations

import codecs
import logging
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Geod

from .findings import LayerInfo, _Findings, _Options, _sample
from .gcj02 import gcj02_to_wgs84, out_of_china

# The records keep the logger name they had before layers.py was split.
log = logging.getLogger(__package__ + ".layers")

_OLD_DATUMS = ("Xian 1980", "Beijing 1954", "New Beijing")


def crs_label(crs: CRS | None) -> str:
    """``EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)``, or the CRS name."""
    if crs is None:
        return "none"
    try:
        code = crs.to_epsg(min_confidence=70)
    except Exception:  # pragma: no cover - pyproj oddities on exotic WKT
        code = None
    return f"EPSG:{code} ({crs.name})" if code else crs.name


# -- text encoding ---------------------------------------------------------

_RAW = "ISO-8859-1"  # every byte to one character and back: text arrives undecoded


def _codec(name: str) -> str | None:
    """Python's codec name for an encoding name from a .cpg, the scenario or GDAL."""
    key = name.strip().strip('"').lower().replace("_", "-")
    aliases = {"936": "gb18030", "cp936": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "gb18030": "gb18030",
               "65001": "utf-8", "utf8": "utf-8", "utf-8": "utf-8", "950": "big5", "ansi 936": "gb18030"}
    if key in aliases:
        return aliases[key]
    if key.isdigit():
        key = f"cp{key}"
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def _label(codec: str) -> str:
    return {"gb18030": "GBK", "utf-8": "UTF-8"}.get(codec, codec.upper())


def _decode(raw: bytes, codec: str) -> tuple[str, bool] | None:
    """``(text, cut)``: decoded text, and whether a last character was cut off; None if undecodable."""
    try:
        return raw.decode(codec), False
    except UnicodeDecodeError as err:
        if err.start >= len(raw) - 3 and err.end == len(raw):
            try:
                return raw[: err.start].decode(codec), True
            except UnicodeDecodeError:
                return None
        return None


def _raw(text: str) -> bytes:
    return text.encode(_RAW)


def _shapefile_hints(path: Path) -> tuple[str | None, str | None]:
    """The encoding named by a shapefile's .cpg and by its .dbf language byte."""
    cpg_codec = ldid_codec = None
    if path.suffix.lower() in (".shp", ".dbf"):
        for cpg in (path.with_suffix(".cpg"), path.with_suffix(".CPG")):
            if cpg.is_file():
                try:
                    cpg_codec = _codec(cpg.read_bytes().decode("ascii", "replace").splitlines()[0]) or "?"
                except (OSError, IndexError):
                    cpg_codec = "?"
                break
        dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.is_file()), None)
        if dbf is not None:
            try:
                with open(dbf, "rb") as fh:
                    head = fh.read(32)
                if len(head) == 32 and head[29] == 0x4D:  # 936: Chinese GBK
                    ldid_codec = "gb18030"
            except OSError:
                pass
    return cpg_codec, ldid_codec


def _decode_text(gdf: gpd.GeoDataFrame, path: Path, kind: str, opts: _Options, is_shapefile: bool,
                 found: _Findings) -> tuple[gpd.GeoDataFrame, str, dict[str, bytes]] | None:
    """Decode names and text values read as raw bytes; choose the encoding.

    Returns the frame, the encoding's label for the report, and the raw
    bytes of each (decoded) column name.
    """
    names = [c for c in gdf.columns if c != gdf.geometry.name]
    text_cols = [c for c in names if gdf[c].dtype == object or pd.api.types.is_string_dtype(gdf[c].dtype)]
    raw_names = {c: _raw(c) for c in names}
    raw_values: dict[str, list[bytes]] = {}
    for c in text_cols:
        raw_values[c] = sorted({_raw(v) for v in gdf[c] if isinstance(v, str)})
    every = list(raw_names.values()) + [b for vals in raw_values.values() for b in vals]
    if all(b.isascii() for b in every):
        chosen, label = "ascii", "ASCII"
    else:
        candidates: list[tuple[str, str]] = []
        if opts.encoding:
            codec = _codec(opts.encoding)
            candidates = [(codec or "utf-8", f"{_label(codec or 'utf-8')} (from the scenario)")]
        else:
            cpg, ldid = _shapefile_hints(path) if is_shapefile else (None, None)
            if cpg and cpg != "?":
                candidates.append((cpg, f"{_label(cpg)} (.cpg)"))
            if ldid:
                candidates.append((ldid, f"{_label(ldid)} (.dbf language byte)"))
            candidates += [("utf-8", "UTF-8"), ("gb18030", "GBK")]
        chosen = label = None
        for codec, lab in candidates:
            if all(_decode(b, codec) is not None for b in every):
                chosen, label = codec, lab
                break
        if chosen is None:
            codec, lab = candidates[0]
            bad_col, bad_val = next(
                ((c, b) for c, vals in raw_values.items() for b in vals if _decode(b, codec) is None),
                (next((c for c, b in raw_names.items() if _decode(b, codec) is None), "?"), b""),
            )
            if opts.encoding:
                alt = next((c for c in ("utf-8", "gb18030") if all(_decode(b, c) is not None for b in every)), None)
                shown = _raw(bad_col).decode(alt) if alt else _show_name(bad_col)
                hint = (f"; the text reads as {_label(alt)}: set [layers.encoding] {kind} = \"{_label(alt)}\""
                        if alt else f"; check [layers.encoding] {kind} in the scenario")
                found.error(path, f"text in field {shown!r} is not valid {opts.encoding} "
                                  f"(bytes {bad_val[:12]!r}){hint}")
            else:
                found.error(path, f"cannot tell the text encoding: field {_show_name(bad_col)!r} holds text that is "
                                  f"neither UTF-8 nor GBK (bytes {bad_val[:12]!r}); state it in the scenario: "
                                  f'[layers.encoding] {kind} = "BIG5" (or whatever your GIS saved it in)')
            return None
        if not opts.encoding and is_shapefile:
            cpg, ldid = _shapefile_hints(path)
            if cpg and not label.endswith("(.cpg)"):
                found.warn(path, f"the .cpg file says {cpg if cpg != '?' else 'an unknown encoding'}, but the text "
                                 f"is {_label(chosen)}; read as {_label(chosen)}. Correct the .cpg (write "
                                 f"{_label(chosen)} in it) or state it: [layers.encoding] {kind} = \"{_label(chosen)}\"")
            elif not cpg:
                label = f"{_label(chosen)} (detected; no .cpg)"
                found.note(path, f"no .cpg file: the text decodes as {_label(chosen)} and was read so; "
                                 f'to be explicit, add a .cpg or set [layers.encoding] {kind} = "{_label(chosen)}"')
        elif not opts.encoding and chosen != "utf-8":
            found.warn(path, f"the text is {_label(chosen)}, not UTF-8 as this format requires; read as "
                             f"{_label(chosen)}. Save the file as UTF-8, or state it: [layers.encoding] {kind} = "
                             f'"{_label(chosen)}"')
    codec = "utf-8" if chosen == "ascii" else chosen
    rename: dict[str, str] = {}
    cut_names: list[str] = []
    new_raw: dict[str, bytes] = {}
    for c, b in raw_names.items():
        text, cut = _decode(b, codec) or ("", False)
        text = text or f"field_{names.index(c) + 1}"
        while text in rename.values():
            text += "_"
        if cut:
            cut_names.append(text)
        rename[c] = text
        new_raw[text] = b
    cut_values: dict[str, int] = {}
    out = gdf.copy()
    for c in text_cols:
        table = {}
        for b in raw_values[c]:
            text, cut = _decode(b, codec) or ("", False)
            table[b.decode(_RAW)] = text
            if cut:
                cut_values[rename[c]] = cut_values.get(rename[c], 0) + 1
        out[c] = [table.get(v, v) if isinstance(v, str) else v for v in gdf[c]]
    out = out.rename(columns=rename)
    if cut_names:
        limit = "3 Chinese characters in UTF-8, 5 in GBK"
        found.repair(path, f"{len(cut_names)} field name(s) were cut mid-character by the shapefile's 10-byte "
                           f"limit ({limit}); read as {', '.join(repr(n) for n in cut_names)}. Rename the fields "
                           "in your GIS, or map these names in [fields." + kind + "]")
    for col, n in cut_values.items():
        found.repair(path, f"{n} value(s) of field {col!r} end in a character cut in half (the field is too "
                           "narrow for them); the cut character was dropped. Widen the field in your GIS")
    return out, label, new_raw


def _show_name(name: str) -> str:
    try:
        return _raw(name).decode("utf-8", "replace")
    except UnicodeEncodeError:
        return name


# -- reading one file ------------------------------------------------------


def _gdal_words(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _choose_layer(path: Path, kind: str, opts: _Options, found: _Findings) -> str | None:
    try:
        listed = pyogrio.list_layers(path)
    except Exception as err:
        found.error(path, f"cannot read the {kind} layer ({_gdal_words(err)}); is it a GIS file GDAL can open? "
                          "Open it in QGIS to see, and export it again as GeoPackage or shapefile")
        return None
    names = [str(n) for n, _ in listed]
    spatial = [str(n) for n, g in listed if g is not None]
    if opts.layer is not None:
        if opts.layer not in names:
            found.error(path, f"has no layer {opts.layer!r} ([layers.layer] {kind}); its layers are: {_sample(names, 20)}")
            return None
        return opts.layer
    if not names:
        found.error(path, f"the {kind} layer file holds no layer at all; export the {kind} layer into it again")
        return None
    if len(names) == 1:
        return names[0]
    for wanted in (kind, path.stem):
        if wanted in names:
            return wanted
    if len(spatial) == 1:
        return spatial[0]
    found.error(path, f"holds {len(names)} layers ({_sample(names, 20)}) and none is named {kind!r}; say which "
                      f'one is the {kind} layer: [layers.layer] {kind} = "{spatial[0] if spatial else names[0]}"')
    return None


def _read_raw(path: Path, kind: str, opts: _Options, found: _Findings, info: LayerInfo) -> tuple[gpd.GeoDataFrame, bool] | None:
    """Read a layer with all text as raw bytes; returns the frame and whether it is a shapefile."""
    layer = _choose_layer(path, kind, opts, found)
    if layer is None:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta = pyogrio.read_info(path, layer=layer, encoding=_RAW)
            gdf = pyogrio.read_dataframe(path, layer=layer, encoding=_RAW, fid_as_index=True)
        except Exception as err:
            found.error(path, f"cannot read the {kind} layer ({_gdal_words(err)}); is it a GIS file GDAL can open? "
                              "Open it in QGIS to see, and export it again as GeoPackage or shapefile")
            return None
    info.driver = str(meta.get("driver") or "")
    info.layer = layer
    info.features = len(gdf)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
        found.error(path, f"the {kind} layer has no geometry column; export it from your GIS as a spatial layer")
        return None
    measured = any("Measured (M)" in str(w.message) for w in caught)
    if measured:
        found.repair(path, f"dropped the M (measure) values of {len(gdf)} feature(s); siteplan uses x and y only")
    return gdf, info.driver == "ESRI Shapefile"


def _source_crs(gdf: gpd.GeoDataFrame, path: Path, kind: str, opts: _Options, working: CRS,
                found: _Findings) -> CRS | None:
    file_crs = CRS(gdf.crs) if gdf.crs is not None else None
    if opts.crs:
        try:
            stated = CRS.from_user_input(opts.crs)
        except Exception:
            found.error(path, f"[layers.crs] {kind} = {opts.crs!r} is not a CRS pyproj knows; use e.g. \"EPSG:4549\"")
            return None
        if file_crs is not None and not file_crs.equals(stated, ignore_axis_order=True):
            found.note(path, f"CRS taken from [layers.crs] {kind} ({crs_label(stated)}), not from the file "
                             f"({crs_label(file_crs)})")
        return stated
    if file_crs is None:
        found.error(path, f"the {kind} layer has no CRS; define it in your GIS (for a shapefile, the .prj file) "
                          f"and save again, or state it in the scenario: [layers.crs] {kind} = "
                          f'"{working.to_string()}"')
    return file_crs


def _project(gdf: gpd.GeoDataFrame, src: CRS, working: CRS, path: Path, kind: str, found: _Findings) -> gpd.GeoDataFrame:
    if src.equals(working, ignore_axis_order=True):
        return gdf.set_crs(working, allow_override=True)
    sd, wd = src.datum.name if src.datum else "", working.datum.name if working.datum else ""
    if sd != wd and any(o in sd or o in wd for o in _OLD_DATUMS):
        found.warn(path, f"the {kind} layer is in {crs_label(src)}, on the {sd} datum, and the working CRS is on "
                         f"{wd}; PROJ has no datum shift between them, so the layer was only reprojected and may be "
                         "off by tens of metres or more. Convert it with your bureau's conversion parameters, or, if "
                         f"it was already converted and only its .prj is old, state its real CRS: [layers.crs] {kind} "
                         f'= "{working.to_string()}"')
    found.note(path, f"reprojected {len(gdf):,} feature(s) from {crs_label(src)} to {crs_label(working)}")
    log.info("Projecting %s (%d features) from %s to %s", path.name, len(gdf), crs_label(src), crs_label(working))
    with np.errstate(all="ignore"):
        out = gdf.set_crs(src, allow_override=True).to_crs(working)
    return out


def _from_gcj02(gdf: gpd.GeoDataFrame, src: CRS, path: Path, kind: str, found: _Findings,
                info: LayerInfo) -> gpd.GeoDataFrame | None:
    """Convert a lon/lat layer from GCJ-02 (Gaode/AMap) to WGS84, every vertex; None (an error) if it is projected."""
    if not src.is_geographic:
        found.error(path, f"[layers.datum] {kind} = \"gcj02\", but the layer is in {crs_label(src)}, a projected CRS; "
                          "GCJ-02 shifts longitude and latitude, so the layer must be in degrees (EPSG:4326). "
                          f"Export it from the source in lon/lat, or remove {kind} from [layers.datum] if it was "
                          "converted already")
        return None
    before = shapely.get_coordinates(gdf.geometry.to_numpy())

    def to_wgs84(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out.geometry = gpd.GeoSeries(shapely.transform(gdf.geometry.to_numpy(), to_wgs84), index=gdf.index, crs=gdf.crs)
    after = shapely.get_coordinates(out.geometry.to_numpy())
    shift = Geod(ellps="WGS84").inv(before[:, 0], before[:, 1], after[:, 0], after[:, 1])[2] if len(before) else []
    mean = float(np.mean(shift)) if len(shift) else 0.0
    outside = int(np.sum(out_of_china(before[:, 0], before[:, 1]))) if len(before) else 0
    info.datum = f"GCJ-02 → WGS84, mean shift {mean:,.0f} m"
    found.note(path, f"converted {len(out):,} feature(s) from GCJ-02 (Gaode/AMap) to WGS84 ([layers.datum] {kind}): "
                     f"mean shift {mean:,.0f} m")
    if outside:
        found.warn(path, f"{outside:,} vertex(es) of the {kind} layer lie outside China, where GCJ-02 does not "
                         "apply; they were left as they are. Check the layer's coordinates")
    return out
