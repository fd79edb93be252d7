"""Map the user's columns to siteplan's fields, and read values as bureaus write them.

:data:`SCHEMA` lists each layer's fields; ``[fields.<layer>]`` in the
scenario maps them to the layer's own columns (:func:`_rename_fields`, with
"did you mean" hints from :data:`COLUMN_HINTS` and names cut to the
shapefile's 10 bytes matched). Numbers stored as text (also full-width
digits), years written as ``2017年`` or dates, and ``是``/``否`` flags are
read as meant; the parsers return the values and a mask of what they could
not read, for the checks to report.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .findings import _Findings, _is_missing
from .read import _codec

#: Per layer: geometry kind, required fields and optional fields with defaults.
SCHEMA: dict[str, dict] = {
    "parcels": {
        "geom": "polygon",
        "required": ["parcel_id"],
        # Needed on candidate parcels only (checked in validate.py, with
        # [defaults] and constants); the stated area is checked against the geometry.
        "candidate": ["far_max", "available_year"],
        "stated": ["area_m2"],
        "optional": {
            "district": None,  # empty: the district the parcel overlaps most (siteplan.inputs.location)
            "name": "",
            "land_use": "residential",
            "status": "reserve",
            "far_upper": np.nan,
            "metro_depot": False,
        },
    },
    "districts": {"geom": "polygon", "required": ["district"], "optional": {"zone": None}},  # or [zone_districts]
    "stations": {
        "geom": "point",
        "required": ["station", "open_year"],
        "optional": {"line": ""},
    },
    "lines": {"geom": "line", "required": ["line", "open_year"], "optional": {}},
    "services": {"geom": "point", "required": ["category"], "optional": {"name": ""}},
    "parks": {"geom": "polygon", "required": ["park"], "optional": {"workers": 0}},
    "constraints": {"geom": "polygon", "required": ["kind"], "optional": {"name": ""}},
}

#: Column names bureau data often uses for siteplan's fields (pinyin
#: initials and Chinese), with their meaning; used for "did you mean".
COLUMN_HINTS: dict[str, dict[str, str]] = {
    "parcel_id": {"DKBH": "地块编号", "DKBM": "地块编码", "DKDM": "地块代码", "ZDBH": "宗地编号",
                  "ZDDM": "宗地代码", "BH": "编号", "地块编号": "", "地块编码": "", "宗地编号": "", "编号": ""},
    "name": {"DKMC": "地块名称", "ZDMC": "宗地名称", "MC": "名称", "地块名称": "", "名称": ""},
    "district": {"QX": "区县", "QXMC": "区县名称", "XZQ": "行政区", "XZQMC": "行政区名称", "SSQ": "所属区",
                 "SSQX": "所属区县", "区县": "", "行政区": "", "所属区": "", "所属区县": "", "区县名称": ""},
    "zone": {"PQ": "片区", "PQMC": "片区名称", "FQ": "分区", "ZT": "组团", "片区": "", "分区": "", "组团": ""},
    "far_max": {"RJL": "容积率", "RJLSX": "容积率上限", "容积率": "", "容积率上限": ""},
    "area_m2": {"YDMJ": "用地面积", "DKMJ": "地块面积", "MJ": "面积", "用地面积": "", "地块面积": "", "面积": ""},
    "available_year": {"GYNF": "供应年份", "GDNF": "供地年份", "CRNF": "出让年份", "NF": "年份",
                       "供应年份": "", "供地年份": "", "出让年份": "", "年份": ""},
    "land_use": {"YDXZ": "用地性质", "YDLX": "用地类型", "DLMC": "地类名称", "用地性质": "", "用地类型": ""},
    "status": {"ZT": "状态", "DKZT": "地块状态", "状态": "", "地块状态": ""},
    "station": {"ZDMC": "站点名称", "ZM": "站名", "站点名称": "", "站名": "", "站点": ""},
    "line": {"XL": "线路", "XLMC": "线路名称", "线路": "", "线路名称": ""},
    "open_year": {"KTNF": "开通年份", "TCNF": "通车年份", "NF": "年份", "开通年份": "", "通车年份": "", "年份": ""},
    "category": {"LB": "类别", "LX": "类型", "SSLB": "设施类别", "类别": "", "类型": "", "设施类别": ""},
    "park": {"YQMC": "园区名称", "YQ": "园区", "园区": "", "园区名称": ""},
    "workers": {"JYRS": "就业人数", "ZGRS": "职工人数", "就业人数": "", "职工人数": ""},
    "kind": {"LX": "类型", "LB": "类别", "类型": "", "类别": ""},
}

_ID_COLUMN = {"parcels": "parcel_id", "districts": "district", "stations": "station", "lines": "line", "parks": "park"}


def _as_text(series: pd.Series) -> pd.Series:
    """Text values: whole floats without ``.0``, stripped; missing as None."""

    def one(v):
        if _is_missing(v):
            return None
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        if isinstance(v, (float, np.floating)):
            if not math.isfinite(v):
                return str(v)
            return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace").strip() or None
        return str(v).strip() or None

    return pd.Series([one(v) for v in series], index=series.index, dtype=object)


def _read_each(series: pd.Series, from_text) -> tuple[pd.Series, np.ndarray]:
    """Numbers read value by value: ``from_text(text)`` reads a text value (after Unicode
    normalisation, so full-width digits work) and returns None when it cannot.

    Returns (values, unreadable mask); missing values are NaN and not
    flagged, booleans and non-finite numbers are unreadable.
    """
    out = np.full(len(series), np.nan)
    bad = np.zeros(len(series), dtype=bool)
    for i, v in enumerate(series):
        if _is_missing(v):
            continue
        if isinstance(v, (bool, np.bool_)):
            bad[i] = True
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
        else:
            x = from_text(unicodedata.normalize("NFKC", str(v)).strip())
        if x is not None and math.isfinite(x):
            out[i] = x
        else:
            bad[i] = True
    return pd.Series(out, index=series.index), bad


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _parse_numbers(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers from a column that may hold text; returns (values, unreadable mask).

    Missing values come back as NaN and are not flagged; text is read after
    Unicode normalisation, so full-width digits work.
    """
    if pd.api.types.is_bool_dtype(series):
        return pd.Series(np.nan, index=series.index), np.ones(len(series), dtype=bool)
    if pd.api.types.is_numeric_dtype(series):
        vals = series.astype("float64")
        return vals, ~np.isfinite(vals.to_numpy()) & vals.notna().to_numpy()
    return _read_each(series, _float_or_none)


_YEAR_TEXT = re.compile(
    r"^(\d{4})(?:\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?"  # 2017年, 2017年6月, 2017年6月30日
    r"|[-/]\d{1,2}(?:[-/]\d{1,2})?(?:[ T].*)?"  # 2017-06, 2017/6/30, 2017-06-30 00:00:00
    r"|\.\d{1,2}\.\d{1,2})$"  # 2017.06.30 (but 2017.5 is a number, not May)
)


def _parse_years(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Years from numbers, ``"2017"``, ``"2017年"`` or dates; returns (years, unreadable mask)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        years = series.dt.year.astype("float64")
        return years, np.zeros(len(series), dtype=bool)
    out = np.full(len(series), np.nan)
    bad = np.zeros(len(series), dtype=bool)
    for i, v in enumerate(series):
        if _is_missing(v):
            continue
        if isinstance(v, (dt.date, pd.Timestamp)):
            out[i] = v.year
            continue
        if isinstance(v, (bool, np.bool_)):
            bad[i] = True
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
            if math.isfinite(x) and x.is_integer():
                out[i] = x
            else:
                bad[i] = True
            continue
        text = unicodedata.normalize("NFKC", str(v)).strip()
        try:
            x = float(text)
        except ValueError:
            x = None
        if x is not None:
            if math.isfinite(x) and x.is_integer():
                out[i] = x
            else:
                bad[i] = True
            continue
        m = _YEAR_TEXT.match(text)
        if m:
            out[i] = float(m.group(1))
        else:
            bad[i] = True
    return pd.Series(out, index=series.index), bad


#: Area units as bureaus write them, in m2 (1 亩 = 10000/15 m2 = 666.67 m2).
AREA_UNITS: dict[str, float] = {
    "m2": 1.0, "平方米": 1.0, "平米": 1.0, "sqm": 1.0,
    "亩": 10000.0 / 15.0,
    "公顷": 10000.0, "ha": 10000.0, "hm2": 10000.0,
    "万平方米": 10000.0, "万m2": 10000.0, "km2": 1e6, "平方公里": 1e6, "平方千米": 1e6,
}
_NUMBER = r"[+-]?(?:\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)"
_AREA_TEXT = re.compile(rf"^({_NUMBER})\s*({'|'.join(sorted(map(re.escape, AREA_UNITS), key=len, reverse=True))})?$", re.I)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _parse_areas(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Areas in m2 from numbers (taken as m2) or text with a unit: ``"65亩"``, ``"1.2公顷"``, ``"3.5 ha"``, ``"800㎡"``.

    Returns (m2, unreadable mask); missing values are NaN and not flagged.
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return _parse_numbers(series)
    return _read_each(series, _area_m2)


def _area_m2(text: str) -> float | None:
    """``"65 亩"`` in m2, None when the text is no area."""
    m = _AREA_TEXT.match(re.sub(r"\s+", " ", text))
    if m is None:
        return None
    unit = (m.group(2) or "m2").lower()
    return _number(m.group(1)) * next(f for u, f in AREA_UNITS.items() if u.lower() == unit)


_LE = r"(?:<=|≤|<|≦|不大于|不超过|不高于|小于等于|小于|最大|最高|上限)"
_RANGE_SEP = r"(?:-|~|–|—|－|至|到)"
_FAR_RANGE = re.compile(rf"^({_NUMBER})\s*{_RANGE_SEP}\s*({_NUMBER})$")
_FAR_BETWEEN = re.compile(rf"^({_NUMBER})\s*(?:<=|≤|<|≦)\s*[^\d\s]*\s*(?:<=|≤|<|≦)\s*({_NUMBER})$")  # 1.0<FAR≤2.5
_FAR_BOUND = re.compile(rf"^(?:容积率|FAR)?\s*{_LE}\s*({_NUMBER})$|^({_NUMBER})\s*(?:以下|以内)$", re.I)


def _parse_far(series: pd.Series) -> tuple[pd.Series, pd.Series, np.ndarray, np.ndarray, np.ndarray]:
    """Plot ratios as the regulatory plan writes them.

    ``"2.5"`` is a cap; a range ``"2.0-2.5"`` (also ``~``, ``–``, ``至``,
    ``1.0<FAR≤2.5``) gives ``far_max`` 2.0 and ``far_upper`` 2.5; a bound
    ``"≤2.5"`` (``<=2.5``, ``2.5以下``, ``不大于2.5``) gives ``far_max``
    2.5. Full-width forms are read too.

    Returns
    -------
    tuple
        (far_max, far_upper, unreadable mask, read-from-a-range mask,
        read-from-a-bound mask). A lower bound alone (``"≥1.0"``) gives no
        cap and is unreadable.
    """
    n = len(series)
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    rng, bnd = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        vals, bad = _parse_numbers(series)
        return vals, pd.Series(hi, index=series.index), bad, rng, bnd
    bad = np.zeros(n, dtype=bool)
    for i, v in enumerate(series):
        if _is_missing(v):
            continue
        if isinstance(v, (bool, np.bool_)):
            bad[i] = True
            continue
        text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))
        try:
            x = float(text)
        except ValueError:
            x = None
        if x is not None:
            lo[i], bad[i] = (x, False) if math.isfinite(x) else (np.nan, True)
            continue
        m = _FAR_RANGE.match(text) or _FAR_BETWEEN.match(text)
        if m:
            a, b = sorted((_number(m.group(1)), _number(m.group(2))))
            lo[i], hi[i], rng[i] = a, (b if b > a else np.nan), True
            continue
        m = _FAR_BOUND.match(text)
        if m:
            lo[i], bnd[i] = _number(m.group(1) or m.group(2)), True
            continue
        bad[i] = True
    return pd.Series(lo, index=series.index), pd.Series(hi, index=series.index), bad, rng, bnd


_TRUE = {"1", "1.0", "true", "t", "yes", "y", "是", "√", "有"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "否", "无", "×"}


def _parse_flags(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """True/false from booleans, 1/0, yes/no or 是/否; missing is false."""
    out = np.zeros(len(series), dtype=bool)
    bad = np.zeros(len(series), dtype=bool)
    for i, v in enumerate(series):
        if _is_missing(v):
            continue
        key = unicodedata.normalize("NFKC", str(v)).strip().lower()
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
        elif key in _TRUE:
            out[i] = True
        elif key not in _FALSE:
            bad[i] = True
    return pd.Series(out, index=series.index), bad


def _rename_fields(gdf: gpd.GeoDataFrame, kind: str, mapping: dict[str, str], path: Path,
                   raw_names: dict[str, bytes], codec_label: str, found: _Findings,
                   tables: dict[str, pd.DataFrame] | None = None) -> gpd.GeoDataFrame | None:
    spec = SCHEMA[kind]
    known = set(spec["required"]) | set(spec["optional"]) | set(spec.get("candidate", ())) | set(spec.get("stated", ()))
    geom_col = gdf.geometry.name
    cols = [str(c) for c in gdf.columns if c != geom_col]
    ok = True
    constants = {k: getattr(v, "value", v) for k, v in mapping.items() if not isinstance(v, str)}
    mapping = {k: v for k, v in mapping.items() if isinstance(v, str)}
    unknown = sorted((set(mapping) | set(constants)) - known)
    if unknown:
        close = {u: difflib.get_close_matches(u, sorted(known), n=1, cutoff=0.5) for u in unknown}
        did = "".join(f" Did you mean {c[0]!r} for {u!r}?" for u, c in close.items() if c)
        found.error(path, f"[fields.{kind}] names siteplan field(s) {unknown} that a {kind} layer does not "
                          f"have; siteplan's fields are {sorted(known)}.{did} Write the siteplan field on the left "
                          "of = and your column on the right, e.g. far_max = \"RJL\"")
        ok = False
    rename: dict[str, str] = {}
    for ours, theirs in mapping.items():
        if ours not in known:
            continue
        col = theirs if theirs in cols else _cut_match(theirs, raw_names, codec_label)
        if col is None:
            hint = difflib.get_close_matches(theirs, cols, n=3)
            did = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
            found.error(path, f"column {theirs!r} (mapped to {ours!r} in [fields.{kind}]) is not in the layer.{did} "
                              f"The layer has: {', '.join(cols)}. Correct the line {ours} = {theirs!r} in "
                              f"[fields.{kind}] to name one of these columns")
            ok = False
            continue
        if col != theirs:
            found.note(path, f"column {theirs!r} in [fields.{kind}] matched the field {col!r}, its name as cut to "
                             "10 bytes in the shapefile")
        if col in rename:
            found.error(path, f"[fields.{kind}] maps both {rename[col]!r} and {ours!r} to the column {col!r}; "
                              "map each siteplan field to its own column")
            ok = False
            continue
        rename[col] = ours
    if not ok:
        return None
    shadowed = [c for c in cols if c in rename.values() and c not in rename]
    gdf = gdf.drop(columns=shadowed).rename(columns=rename)
    cols = [str(c) for c in gdf.columns if c != geom_col]
    for ours in [*spec["required"], *spec["optional"], *spec.get("candidate", ()), *spec.get("stated", ())]:
        short = ours[:10]
        if ours not in cols and len(ours) > 10 and short in cols and short not in rename.values():
            gdf = gdf.rename(columns={short: ours})
            found.note(path, f"field {short!r} read as {ours!r} (shapefile field names hold 10 bytes)")
    for ours, value in constants.items():
        if ours not in known:
            continue
        gdf[ours] = value
        found.note(path, f"{ours} = {value!r} for every feature (a constant in [fields.{kind}])")
    cols = [str(c) for c in gdf.columns if c != geom_col]
    for req in spec["required"]:
        if req in gdf.columns:
            continue
        found.error(path, missing_field_message(req, kind, cols))
        ok = False
    for opt, default in spec["optional"].items():
        if opt not in gdf.columns:
            gdf[opt] = default
    if tables is not None:
        tables[kind] = gdf  # the attribute table, for checks on the columns present
    return gdf if ok else None


def missing_field_message(req: str, kind: str, cols: list[str], extra: str = "") -> str:
    """The error for a required field the layer lacks: what it has, what looks like it, how to map it."""
    hinted = []
    gloss = COLUMN_HINTS.get(req, {})
    for c in cols:
        key = c.upper() if c.isascii() else c
        if key in gloss:
            hinted.append(f"{c!r} ({gloss[key]})" if gloss[key] else repr(c))
    close = [repr(h) for h in difflib.get_close_matches(req, cols, n=3, cutoff=0.5)]
    suggestions = list(dict.fromkeys(hinted + close))
    did = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
    example = suggestions[0].split(" ")[0].strip("'") if suggestions else "YOUR_COLUMN"
    return (f"required field {req!r} is missing.{did} Map your column to it in the scenario: "
            f'[fields.{kind}] {req} = "{example}"{extra}. The layer has: {", ".join(cols) or "no fields"}')


def _cut_match(name: str, raw_names: dict[str, bytes], codec_label: str) -> str | None:
    """The column whose name is ``name`` cut to the shapefile's 10 bytes, if any."""
    codec = _codec(codec_label.split(" ")[0]) or "utf-8"
    try:
        full = name.encode(codec)
    except (UnicodeEncodeError, LookupError):
        return None
    for col, raw in raw_names.items():
        if len(raw) >= 9 and len(full) > len(raw) and full[: len(raw)] == raw:
            return col
    return None
