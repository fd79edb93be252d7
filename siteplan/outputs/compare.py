"""Compare two runs: a side-by-side map and difference tables.

:func:`compare_runs` reads two output folders written by ``siteplan run``
(their ``allocation.csv``, ``allocation.geojson``, ``run.json`` and
``plan.gpkg``; nothing is solved again) and :func:`write_comparison` writes

- ``compare.html``: two synchronised map panes, plan A left and plan B
  right, each parcel coloured by its main housing type and outlined red when
  the other plan does not use it; offline like ``map.html``;
- ``differences.xlsx`` with the sheets below, and each as a ``utf-8-sig``
  CSV copy: 地块对比 ``compare_parcels.csv`` (every parcel either plan
  uses: only in A, only in B, or in both, with supply year and units in
  each and what changed), 套数对比 ``compare_units.csv`` (units by
  district, zone, type and year, A, B and B - A) and 用地对比
  ``compare_land.csv`` (net and gross land by year). The sheets have
  Chinese headers with units and are formatted like ``land_supply.xlsx``
  (title row, two decimals, frozen header, A4 landscape); land is rounded
  to 0.01 ha before differences and totals are taken, so every printed
  B - A and 合计 adds up. :func:`compare_runs` returns the same tables with
  plain column names, for code.

Every text from the runs is escaped before it reaches the page.
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
from folium.plugins import DualMap

from ..errors import SiteplanError
from .styles import KEEP_DEFAULTS, display_frame, type_colours

__all__ = ["RunOutputs", "CompareError", "load_run", "compare_runs", "compare_map", "write_comparison", "default_compare_dir",
           "difference_sheets"]

log = logging.getLogger(__name__)

_NEEDED = ("allocation.csv", "allocation.geojson", "run.json")


class CompareError(SiteplanError, ValueError):
    """An output folder cannot be compared (missing or unreadable files)."""


@dataclass(frozen=True)
class RunOutputs:
    """What :func:`compare_runs` needs from one output folder."""

    folder: Path
    name: str
    title: str
    allocation: pd.DataFrame
    parcels: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame | None
    lines: gpd.GeoDataFrame | None
    type_labels: dict[str, str]


def load_run(folder: str | Path) -> RunOutputs:
    """Read one run's outputs.

    Raises
    ------
    CompareError
        If the folder or one of ``allocation.csv``, ``allocation.geojson``,
        ``run.json`` is missing (naming it and how to make it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CompareError(f"{folder}: no such output folder; run the scenario first (siteplan run SCENARIO --out {folder})")
    for name in _NEEDED:
        if not (folder / name).is_file():
            raise CompareError(f"{folder / name} is missing: {folder} is not a complete siteplan output folder; run the scenario again")
    try:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CompareError(f"{folder / 'run.json'}: not readable JSON ({err}); run the scenario again") from None
    alloc = pd.read_csv(folder / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str, "district": str, "zone": str})
    parcels = gpd.read_file(folder / "allocation.geojson", engine="pyogrio")
    parcels["parcel_id"] = parcels["parcel_id"].astype(str)
    districts = lines = None
    gpkg = folder / "plan.gpkg"
    if gpkg.is_file():
        districts = gpd.read_file(gpkg, layer="districts", engine="pyogrio")
        lines = gpd.read_file(gpkg, layer="lines", engine="pyogrio")
    name = str(record.get("scenario") or folder.name)
    labels = record.get("type_labels") if isinstance(record.get("type_labels"), dict) else {}
    return RunOutputs(folder=folder, name=name, title=str(record.get("title") or name), allocation=alloc,
                      parcels=parcels, districts=districts, lines=lines, type_labels={str(k): str(v) for k, v in labels.items()})


def _parcel_table(a: RunOutputs, b: RunOutputs) -> pd.DataFrame:
    def per_parcel(run: RunOutputs) -> pd.DataFrame:
        g = run.allocation.groupby("parcel_id")
        return pd.DataFrame({"district": g["district"].first(), "zone": g["zone"].first(), "year": g["year"].first(),
                             "units": g["units"].sum(), "gross_land_ha": g["gross_land_ha"].sum()})

    pa, pb = per_parcel(a), per_parcel(b)
    ids = sorted(set(pa.index) | set(pb.index))
    out = pd.DataFrame(index=pd.Index(ids, name="parcel_id"))
    out["district"] = pa["district"].combine_first(pb["district"])
    out["zone"] = pa["zone"].combine_first(pb["zone"])
    out["in"] = ["both" if (i in pa.index and i in pb.index) else "A only" if i in pa.index else "B only" for i in ids]
    out["year_a"] = pa["year"].reindex(ids).astype("Int64")
    out["year_b"] = pb["year"].reindex(ids).astype("Int64")
    out["units_a"] = pa["units"].reindex(ids).fillna(0).astype(int)
    out["units_b"] = pb["units"].reindex(ids).fillna(0).astype(int)
    out["delta_units"] = out["units_b"] - out["units_a"]
    year_diff = (out["year_a"] != out["year_b"]).fillna(False).to_numpy(dtype=bool)
    unit_diff = (out["delta_units"] != 0).to_numpy()
    out["change"] = [
        where if where != "both" else ("year, units" if y and u else "year" if y else "units" if u else "same")
        for where, y, u in zip(out["in"], year_diff, unit_diff)
    ]
    out["gross_land_ha_a"] = pa["gross_land_ha"].reindex(ids).fillna(0.0)
    out["gross_land_ha_b"] = pb["gross_land_ha"].reindex(ids).fillna(0.0)
    order = {"A only": 0, "B only": 1, "both": 2}
    return out.reset_index().sort_values(["in", "parcel_id"], key=lambda s: s.map(order) if s.name == "in" else s, kind="stable").reset_index(drop=True)


def _units_table(a: RunOutputs, b: RunOutputs) -> pd.DataFrame:
    rows = []
    for dim in ("zone", "district", "type", "year"):
        ua = a.allocation.groupby(dim)["units"].sum()
        ub = b.allocation.groupby(dim)["units"].sum()
        keys = sorted(set(ua.index) | set(ub.index), key=str)
        for k in keys:
            va, vb = int(ua.get(k, 0)), int(ub.get(k, 0))
            rows.append({"by": dim, "value": str(k), "units_a": va, "units_b": vb, "delta": vb - va})
    # Year x type, the grain of the targets.
    ua = a.allocation.groupby(["year", "type"])["units"].sum()
    ub = b.allocation.groupby(["year", "type"])["units"].sum()
    for k in sorted(set(ua.index) | set(ub.index), key=str):
        va, vb = int(ua.get(k, 0)), int(ub.get(k, 0))
        rows.append({"by": "year x type", "value": f"{k[0]} {k[1]}", "units_a": va, "units_b": vb, "delta": vb - va})
    return pd.DataFrame(rows, columns=["by", "value", "units_a", "units_b", "delta"])


def _land_table(a: RunOutputs, b: RunOutputs) -> pd.DataFrame:
    la = a.allocation.groupby("year")[["net_land_ha", "gross_land_ha"]].sum()
    lb = b.allocation.groupby("year")[["net_land_ha", "gross_land_ha"]].sum()
    years = sorted(set(la.index) | set(lb.index))
    out = pd.DataFrame({"year": years})
    for col in ("net_land_ha", "gross_land_ha"):
        out[f"{col}_a"] = la[col].reindex(years).fillna(0.0).to_numpy()
        out[f"{col}_b"] = lb[col].reindex(years).fillna(0.0).to_numpy()
        out[f"delta_{col}"] = out[f"{col}_b"] - out[f"{col}_a"]
    total = {"year": "合计"} | {c: out[c].sum() for c in out.columns if c != "year"}
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


def compare_runs(folder_a: str | Path, folder_b: str | Path) -> tuple[RunOutputs, RunOutputs, dict[str, pd.DataFrame]]:
    """Read two output folders and compute the difference tables.

    Returns
    -------
    (RunOutputs, RunOutputs, dict)
        Both runs and the tables ``"parcels"``, ``"units"``, ``"land"``.
    """
    a, b = load_run(folder_a), load_run(folder_b)
    tables = {"parcels": _parcel_table(a, b), "units": _units_table(a, b), "land": _land_table(a, b)}
    return a, b, tables


#: Sheet names of ``differences.xlsx`` (and which CSV copy each is).
SHEETS = {"parcels": "地块对比", "units": "套数对比", "land": "用地对比"}
_HEADERS = {
    "parcels": {
        "parcel_id": "地块编号", "district": "行政区", "zone": "片区", "in": "选用方案",
        "year_a": "A供地年份", "year_b": "B供地年份", "units_a": "A套数（套）", "units_b": "B套数（套）",
        "delta_units": "套数差 B−A（套）", "change": "变化",
        "gross_land_ha_a": "A毛用地面积（公顷）", "gross_land_ha_b": "B毛用地面积（公顷）",
    },
    "units": {"by": "分类", "value": "项目", "units_a": "A套数（套）", "units_b": "B套数（套）", "delta": "差值 B−A（套）"},
    "land": {
        "year": "年份",
        "net_land_ha_a": "A净用地面积（公顷）", "net_land_ha_b": "B净用地面积（公顷）", "delta_net_land_ha": "净用地差 B−A（公顷）",
        "gross_land_ha_a": "A毛用地面积（公顷）", "gross_land_ha_b": "B毛用地面积（公顷）", "delta_gross_land_ha": "毛用地差 B−A（公顷）",
    },
}
_VALUES = {
    "in": {"A only": "仅A", "B only": "仅B", "both": "A、B均选用"},
    "change": {"A only": "仅A", "B only": "仅B", "same": "相同", "year": "供地年份", "units": "套数", "year, units": "供地年份、套数"},
    "by": {"zone": "片区", "district": "行政区", "type": "住房类型", "year": "年份", "year x type": "年份×住房类型"},
}


def _hectares(values: pd.Series) -> pd.Series:
    from .tables import round2

    return values.map(lambda v: None if pd.isna(v) else float(round2(v)))


def difference_sheets(tables: dict[str, pd.DataFrame], a: RunOutputs, b: RunOutputs) -> dict[str, pd.DataFrame]:
    """The difference tables as printed: Chinese sheet names, headers and labels.

    Land is rounded to 0.01 ha (half to even, as in ``land_supply.xlsx``)
    before B - A and the 合计 row are computed, so the printed numbers add
    up; housing types are shown by their labels from ``run.json``.

    Parameters
    ----------
    tables
        What :func:`compare_runs` returned: ``"parcels"``, ``"units"``, ``"land"``.
    a, b
        The two runs (for the type labels).

    Returns
    -------
    dict
        Sheet name (:data:`SHEETS`) -> table, text and plain numbers only.
    """
    from .tables import TOTAL_LABEL

    labels = {**b.type_labels, **a.type_labels}
    out: dict[str, pd.DataFrame] = {}

    p = tables["parcels"].copy()
    for col in ("in", "change"):
        p[col] = p[col].map(lambda v, col=col: _VALUES[col].get(v, v))
    for col in ("gross_land_ha_a", "gross_land_ha_b"):
        p[col] = _hectares(p[col])
    for col in ("year_a", "year_b"):  # years as text: a number format would print 2,016
        p[col] = [None if pd.isna(y) else str(int(y)) for y in p[col]]
    out["parcels"] = p

    u = tables["units"].copy()

    def value_label(by: str, value: str) -> str:
        if by == "type":
            return labels.get(value, value)
        if by == "year x type":
            year, _, code = value.partition(" ")
            return f"{year} {labels.get(code, code)}"
        return value

    u["value"] = [value_label(by, v) for by, v in zip(u["by"], u["value"])]
    u["by"] = u["by"].map(lambda v: _VALUES["by"].get(v, v))
    out["units"] = u

    land = tables["land"]
    rows = land.loc[land["year"].astype(str) != TOTAL_LABEL].copy()
    for col in ("net_land_ha", "gross_land_ha"):
        rows[f"{col}_a"] = _hectares(rows[f"{col}_a"])
        rows[f"{col}_b"] = _hectares(rows[f"{col}_b"])
        rows[f"delta_{col}"] = [round(vb - va, 2) for va, vb in zip(rows[f"{col}_a"], rows[f"{col}_b"])]
    total = {"year": TOTAL_LABEL} | {c: round(float(rows[c].sum()), 2) for c in rows.columns if c != "year"}
    rows["year"] = rows["year"].map(lambda y: str(int(y)))
    out["land"] = pd.concat([rows, pd.DataFrame([total])], ignore_index=True)[list(land.columns)]

    return {SHEETS[k]: t.rename(columns=_HEADERS[k]) for k, t in out.items()}


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def compare_map(a: RunOutputs, b: RunOutputs, parcels: pd.DataFrame | None = None) -> DualMap:
    """Two synchronised panes: plan A left, plan B right.

    Parcels are coloured by main type; a parcel that the other plan does not
    use is outlined red, one that both use with another supply year or other
    units is outlined black, dashed. Districts and metro lines (from A's
    ``plan.gpkg``) give context; there are no tiles.
    """
    types = sorted(set(a.parcels["main_type"]) | set(b.parcels["main_type"]))
    colours = type_colours(types)
    ids_a, ids_b = set(a.parcels["parcel_id"]), set(b.parcels["parcel_id"])
    change = (parcels if parcels is not None else _parcel_table(a, b)).set_index("parcel_id")["change"]
    context = a.districts if a.districts is not None else b.districts
    bounds_src = context if context is not None else pd.concat([a.parcels, b.parcels])
    west, south, east, north = gpd.GeoDataFrame(bounds_src, crs=bounds_src.crs).to_crs("EPSG:4326").total_bounds
    dm = DualMap(location=[(south + north) / 2, (west + east) / 2], zoom_start=11, tiles=None, layout="horizontal")
    for m in (dm.m1, dm.m2):
        m.default_js = [(n, u) for n, u in m.default_js if n in KEEP_DEFAULTS]
        m.default_css = [(n, u) for n, u in m.default_css if n in KEEP_DEFAULTS]
    dm.default_js = [(n, u) for n, u in dm.default_js if n in KEEP_DEFAULTS or n == "Leaflet.Sync"]
    dm.default_css = [(n, u) for n, u in dm.default_css if n in KEEP_DEFAULTS]
    dm.m1.fit_bounds([[south, west], [north, east]])
    dm.m2.fit_bounds([[south, west], [north, east]])
    for m, run, other in ((dm.m1, a, ids_b), (dm.m2, b, ids_a)):
        if context is not None:
            folium.GeoJson(display_frame(context[["district", "zone", "geometry"]], simplify_m=5.0),
                           style_function=lambda f: {"fillColor": "#f2efe9", "color": "#8a8a8a", "weight": 1, "fillOpacity": 0.7},
                           tooltip=folium.GeoJsonTooltip(["district", "zone"], labels=False)).add_to(m)
        if run.lines is not None and len(run.lines):
            folium.GeoJson(display_frame(run.lines[["line", "geometry"]], simplify_m=2.0),
                           style_function=lambda f: {"color": "#d7191c", "weight": 3, "opacity": 0.7},
                           tooltip=folium.GeoJsonTooltip(["line"], labels=False)).add_to(m)
        p = run.parcels.copy()
        p["change"] = p["parcel_id"].map(change).fillna("same")
        keep = ["parcel_id", "name", "district", "year", "main_type", "units", "change", "geometry"]
        folium.GeoJson(
            display_frame(p[[c for c in keep if c in p.columns]], decimals=6),
            style_function=lambda f: _parcel_style(f["properties"], colours),
            tooltip=folium.GeoJsonTooltip(["parcel_id", "name", "district", "year", "units", "change"],
                                          aliases=["地块编号", "名称", "行政区", "供地年份", "套数", "变化 change"], localize=True),
        ).add_to(m)
    labels = {**b.type_labels, **a.type_labels}
    legend = "".join(f"<div><span class='sp-swatch' style='background:{colours[t]}'></span>{_esc(labels.get(t, t))}</div>" for t in types)
    only_a, only_b, both = len(ids_a - ids_b), len(ids_b - ids_a), len(ids_a & ids_b)
    changed = int(change.isin(["year", "units", "year, units"]).sum())
    overlay = f"""
<style>
.sp-box {{position:absolute; z-index:1000; background:rgba(255,255,255,0.94); padding:5px 9px; border:1px solid #999;
  border-radius:4px; font:12px/1.4 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;}}
.sp-swatch {{display:inline-block; width:12px; height:12px; margin-right:6px; vertical-align:middle; border:1px solid #333;}}
</style>
<div class="sp-box" style="top:8px; left:25%; transform:translateX(-50%);"><b>A</b> · {_esc(a.title)} <span style="color:#666">({_esc(a.name)})</span></div>
<div class="sp-box" style="top:8px; left:75%; transform:translateX(-50%);"><b>B</b> · {_esc(b.title)} <span style="color:#666">({_esc(b.name)})</span></div>
<div class="sp-box" style="bottom:20px; left:10px;">{legend}<hr style="margin:4px 0">
<div><span class='sp-swatch' style='border:2px solid #e31a1c'></span>仅本方案选用 / only in this plan</div>
<div><span class='sp-swatch' style='border:2px dashed #000'></span>供地年份或套数不同 / other year or units</div>
<div>A {only_a:,} · B {only_b:,} · 共同 both {both:,} (changed {changed:,})</div></div>
"""
    dm.get_root().html.add_child(folium.Element(overlay))
    return dm


def _parcel_style(props: dict, colours: dict[str, str]) -> dict:
    fill = colours.get(html.unescape(str(props["main_type"])), "#444444")
    kind = html.unescape(str(props["change"]))
    if kind in ("A only", "B only"):
        return {"fillColor": fill, "color": "#e31a1c", "weight": 3.5, "fillOpacity": 0.85, "className": "sp-parcel sp-only"}
    if kind != "same":
        return {"fillColor": fill, "color": "#000000", "weight": 3, "dashArray": "3 2", "fillOpacity": 0.85,
                "className": "sp-parcel sp-changed"}
    return {"fillColor": fill, "color": fill, "weight": 2, "fillOpacity": 0.85, "className": "sp-parcel"}


def default_compare_dir(folder_a: str | Path, folder_b: str | Path) -> Path:
    """``compare-<A folder>-vs-<B folder>`` beside A's folder (names cut to safe characters)."""
    a, b = Path(folder_a).resolve(), Path(folder_b).resolve()
    safe = lambda s: re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("._") or "run"  # noqa: E731
    return a.parent / f"compare-{safe(a.name)}-vs-{safe(b.name)}"


def write_comparison(
    folder_a: str | Path,
    folder_b: str | Path,
    out_dir: str | Path | None = None,
    *,
    runs: tuple[RunOutputs, RunOutputs, dict[str, pd.DataFrame]] | None = None,
) -> dict[str, Path]:
    """Compare two runs and write ``compare.html``, ``differences.xlsx`` and the CSV copies.

    Parameters
    ----------
    folder_a, folder_b
        Output folders of ``siteplan run``.
    out_dir
        Destination folder, written atomically; default
        :func:`default_compare_dir`.
    runs
        What :func:`compare_runs` returned for these folders, if already read.

    Returns
    -------
    dict
        File name -> path.
    """
    from . import export
    from .offline import save_offline

    a, b, tables = runs if runs is not None else compare_runs(folder_a, folder_b)
    out = Path(out_dir) if out_dir is not None else default_compare_dir(folder_a, folder_b)
    sheets = difference_sheets(tables, a, b)
    writers = {
        "compare.html": lambda p: save_offline(compare_map(a, b, tables["parcels"]), p),
        "differences.xlsx": lambda p: _write_xlsx(sheets, p, a, b),
    }
    for key, sheet in SHEETS.items():
        writers[f"compare_{key}.csv"] = lambda p, sheet=sheet: _write_csv(sheets[sheet], p)
    files = export.write_outputs(out, writers)
    log.info("Compared %s and %s into %s", a.folder, b.folder, out)
    return files


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    from .tables import write_table_csv

    return write_table_csv(table, path)


def _write_xlsx(sheets: dict[str, pd.DataFrame], path: Path, a: RunOutputs, b: RunOutputs) -> Path:
    from .tables import write_land_supply_xlsx

    what = {SHEETS["parcels"]: "地块对比", SHEETS["units"]: "套数对比", SHEETS["land"]: "用地对比（公顷）"}
    def who(run: RunOutputs) -> str:
        return run.name if run.title == run.name else f"{run.title}（{run.name}）"

    titles = {name: f"{what[name]}：A = {who(a)}，B = {who(b)}" for name in sheets}
    return write_land_supply_xlsx(sheets, path, sheet_titles=titles)
