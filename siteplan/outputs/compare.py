"""Compare two runs: a side-by-side map and difference tables.

:func:`compare_runs` reads two output folders written by ``siteplan run``
(their ``allocation.csv``, ``allocation.geojson``, ``run.json`` and
``plan.gpkg``; nothing is solved again) and :func:`write_comparison` writes

- ``compare.html``: two synchronised map panes, plan A left and plan B
  right, opening on the parcels that differ (a button shows the whole
  city). Parcels are filled by their main housing type and drawn in one of
  three styles: added (only in B, green outline), removed (only in A, red
  dashed outline, faded) and changed (used by both with other planned
  figures, purple dotted outline); unchanged parcels are muted. A rule
  whose settings differ between the runs (their ``run.json``, or the
  scenario file it names) has its layer drawn in both panes, each at its
  own setting: station buffers at 600 m in A and 800 m in B, service and
  park buffers likewise. Metro lines are coloured per line as in
  ``map.html``; every label is in one language (``lang``). Offline like
  ``map.html``;
- ``differences.xlsx`` with the sheets below, and each as a ``utf-8-sig``
  CSV copy: 地块对比 ``compare_parcels.csv`` (every parcel either plan
  uses: only in A, only in B, or in both, with supply year, units, land
  and plot ratio used in each and what changed: 相同 only when every
  planned field of :data:`PLANNED_FIELDS` is unchanged), 套数对比
  ``compare_units.csv`` (units by district, zone, type and year, A, B and
  B - A) and 用地对比 ``compare_land.csv`` (net and gross land by year).
  The sheets have Chinese headers with units and are formatted like
  ``land_supply.xlsx`` (title row, two decimals, frozen header, A4
  landscape). Every figure is the one the runs printed (one rounding rule,
  :mod:`siteplan.outputs.figures`): a parcel's land from its
  ``allocation.geojson``, a year's land from its ``land_supply.csv`` (the
  year sheets' 合计), so differences.xlsx shows the value land_supply.xlsx
  shows; B - A and 合计 are taken from the printed values and add up.
  :func:`compare_runs` returns the same tables with plain column names,
  for code.

Every text from the runs is escaped before it reaches the page.
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..errors import SiteplanError
from .figures import fig_float, ratio_text

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
    land: pd.DataFrame | None = None
    rules: dict | None = None
    context: dict[str, gpd.GeoDataFrame] | None = None


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
    context: dict[str, gpd.GeoDataFrame] = {}
    gpkg = folder / "plan.gpkg"
    if gpkg.is_file():
        import pyogrio

        have = {str(n) for n, _ in pyogrio.list_layers(gpkg)}
        districts = gpd.read_file(gpkg, layer="districts", engine="pyogrio")
        lines = gpd.read_file(gpkg, layer="lines", engine="pyogrio")
        for name in ("stations", "services", "parks"):
            if name in have:
                context[name] = gpd.read_file(gpkg, layer=name, engine="pyogrio")
    land = None
    if (folder / "land_supply.csv").is_file():  # the year totals as land_supply.xlsx prints them
        land = pd.read_csv(folder / "land_supply.csv", encoding="utf-8-sig", dtype={"type": str})
    name = str(record.get("scenario") or folder.name)
    labels = record.get("type_labels") if isinstance(record.get("type_labels"), dict) else {}
    return RunOutputs(folder=folder, name=name, title=str(record.get("title") or name), allocation=alloc,
                      parcels=parcels, districts=districts, lines=lines, type_labels={str(k): str(v) for k, v in labels.items()},
                      land=land, rules=_run_rules(record, folder), context=context)


def _run_rules(record: dict, folder: Path) -> dict | None:
    """A run's rule settings, defaults filled in: ``rules`` of its ``run.json``, else its scenario file's ``[rules]``.

    ``None`` when neither can be read (an older run whose scenario file has
    moved): the comparison then draws no rule layers.
    """
    if isinstance(record.get("rules"), dict):
        return record["rules"]
    source = record.get("scenario_file")
    if not source:
        return None
    import tomllib

    from ..inputs.settings import Rules

    path = Path(source)
    path = path if path.is_absolute() else folder / path
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")).get("rules", {})
        return Rules.model_validate(raw).model_dump(mode="json")
    except (OSError, ValueError) as err:  # pydantic's ValidationError is a ValueError
        log.info("No rule settings for %s: %s", folder, err)
        return None


#: The planned fields of a parcel, compared one by one: (code, column of :func:`_per_parcel`).
PLANNED_FIELDS = (("year", "year"), ("units", "units"), ("types", "types"), ("floor", "floor_area_m2"),
                  ("net", "net_land_ha"), ("gross", "gross_land_ha"), ("role", "role"), ("far", "far_used"))


def _per_parcel(run: RunOutputs) -> pd.DataFrame:
    """One row per used parcel: every planned field, figures as the run printed them (allocation.geojson)."""
    al = run.allocation
    g = al.groupby("parcel_id")
    out = pd.DataFrame({"district": g["district"].first(), "zone": g["zone"].first(), "year": g["year"].first(),
                        "units": g["units"].sum()})
    out["types"] = g[["type", "units"]].apply(
        lambda part: ",".join(f"{t}:{int(u)}" for t, u in sorted(zip(part["type"].astype(str), part["units"]))))
    par = run.parcels.drop(columns=run.parcels.geometry.name).set_index("parcel_id")
    for col in ("floor_area_m2", "net_land_ha", "gross_land_ha", "role", "far_used"):
        if col in par.columns:  # a run written before siteplan printed far_used has none
            out[col] = par[col].reindex(out.index)
        elif col in al.columns:
            out[col] = g[col].sum() if col.endswith(("_m2", "_ha")) else g[col].agg(lambda v: ",".join(sorted(set(map(str, v)))))
        else:
            out[col] = None
    return out


def _differs(va: object, vb: object) -> bool:
    """Whether two printed values of a field differ (missing on either side: cannot tell, so not)."""
    if va is None or vb is None or (not isinstance(va, str) and pd.isna(va)) or (not isinstance(vb, str) and pd.isna(vb)):
        return False
    if isinstance(va, str) or isinstance(vb, str):
        return str(va) != str(vb)
    return abs(float(va) - float(vb)) > 1e-9


def _parcel_table(a: RunOutputs, b: RunOutputs) -> pd.DataFrame:
    pa, pb = _per_parcel(a), _per_parcel(b)
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
    # Unchanged (相同) only when every planned field is unchanged, as printed.
    changes = []
    for pid, where in zip(ids, out["in"]):
        if where != "both":
            changes.append(where)
            continue
        moved = [code for code, col in PLANNED_FIELDS if _differs(pa.at[pid, col], pb.at[pid, col])]
        changes.append(", ".join(moved) or "same")
    out["change"] = changes
    for col in ("net_land_ha", "gross_land_ha"):
        out[f"{col}_a"] = pd.to_numeric(pa[col], errors="coerce").reindex(ids).fillna(0.0)
        out[f"{col}_b"] = pd.to_numeric(pb[col], errors="coerce").reindex(ids).fillna(0.0)
    out["far_used_a"] = pd.to_numeric(pa["far_used"], errors="coerce").reindex(ids)
    out["far_used_b"] = pd.to_numeric(pb["far_used"], errors="coerce").reindex(ids)
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


def _year_land(run: RunOutputs) -> pd.DataFrame:
    """Net and gross land per year as the run's land_supply.xlsx printed them (its land_supply.csv 合计 rows).

    A folder without ``land_supply.csv`` (an older run) falls back to the
    year tables recomputed from ``allocation.csv``.
    """
    from .tables import TOTAL_LABEL, land_supply_rows

    land = run.land
    if land is None or not {"year", "type", "net_land_ha", "gross_land_ha"} <= set(land.columns):
        al = run.allocation
        types = sorted(al["type"].astype(str).unique())
        gross = float(al["gross_land_ha"].sum())
        ntg = round(float(al["net_land_ha"].sum()) / gross, 3) if gross > 0 else 0.8  # gross = net / ratio there
        land = land_supply_rows(al.assign(type=al["type"].astype(str)), types=types,
                                years=sorted(al["year"].unique()), net_to_gross=ntg)
    total = land.loc[land["type"].astype(str) == TOTAL_LABEL]
    return total.set_index(total["year"].astype(int))[["net_land_ha", "gross_land_ha"]].astype(float)


def _land_table(a: RunOutputs, b: RunOutputs) -> pd.DataFrame:
    la, lb = _year_land(a), _year_land(b)
    years = sorted(set(la.index) | set(lb.index))
    out = pd.DataFrame({"year": years})
    for col in ("net_land_ha", "gross_land_ha"):
        out[f"{col}_a"] = la[col].reindex(years).fillna(0.0).to_numpy()
        out[f"{col}_b"] = lb[col].reindex(years).fillna(0.0).to_numpy()
        out[f"delta_{col}"] = [round(vb - va, 2) for va, vb in zip(out[f"{col}_a"], out[f"{col}_b"])]
    total = {"year": "合计"} | {c: round(float(out[c].sum()), 2) for c in out.columns if c != "year"}
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
        "net_land_ha_a": "A净用地面积（公顷）", "net_land_ha_b": "B净用地面积（公顷）",
        "gross_land_ha_a": "A毛用地面积（公顷）", "gross_land_ha_b": "B毛用地面积（公顷）",
        "far_used_a": "A采用容积率", "far_used_b": "B采用容积率",
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
    "change": {"A only": "仅A", "B only": "仅B", "same": "相同", "year": "供地年份", "units": "套数", "types": "住房类型",
               "floor": "建筑面积", "net": "净用地", "gross": "毛用地", "role": "用地类型", "far": "采用容积率"},
    "by": {"zone": "片区", "district": "行政区", "type": "住房类型", "year": "年份", "year x type": "年份×住房类型"},
}


def _hectares(values: pd.Series) -> pd.Series:
    return values.map(lambda v: None if pd.isna(v) else fig_float(v, "ha"))


def difference_sheets(tables: dict[str, pd.DataFrame], a: RunOutputs, b: RunOutputs) -> dict[str, pd.DataFrame]:
    """The difference tables as printed: Chinese sheet names, headers and labels.

    Land is as the runs printed it (0.01 ha, half to even, as in
    ``land_supply.xlsx``), B - A and the 合计 row are computed from those,
    so the printed numbers add up; housing types are shown by their labels
    from ``run.json``; each change is named in Chinese (年份、套数、...).

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
    p["in"] = p["in"].map(lambda v: _VALUES["in"].get(v, v))
    p["change"] = p["change"].map(lambda v: "、".join(_VALUES["change"].get(c, c) for c in str(v).split(", ")))
    for col in ("net_land_ha_a", "net_land_ha_b", "gross_land_ha_a", "gross_land_ha_b"):
        p[col] = _hectares(p[col])
    for col in ("far_used_a", "far_used_b"):  # the plot ratio as given, as text: a number format would print 2 decimals
        p[col] = [ratio_text(v) if pd.notna(v) else None for v in p[col]]
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

    # Land per year is already as each run's land_supply.xlsx printed it; B - A and 合计 of those.
    land = tables["land"].copy()
    land["year"] = [y if str(y) == TOTAL_LABEL else str(int(y)) for y in land["year"]]
    out["land"] = land

    return {SHEETS[k]: t.rename(columns=_HEADERS[k]) for k, t in out.items()}


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def compare_map(a: RunOutputs, b: RunOutputs, parcels: pd.DataFrame | None = None, *, lang: str = "zh"):
    """The two map panes of ``compare.html`` (:func:`siteplan.outputs.comparemap.compare_map`)."""
    from .comparemap import compare_map as draw

    return draw(a, b, parcels, lang=lang)


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
    lang: str = "zh",
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
    lang
        The language of ``compare.html``: ``"zh"`` (default) or ``"en"``.

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
        "compare.html": lambda p: save_offline(compare_map(a, b, tables["parcels"], lang=lang), p),
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
    notes = {
        SHEETS["parcels"]: "“相同”指供地年份、套数、住房类型、建筑面积、净用地、毛用地、用地类型和采用容积率均未变化；数值取自各方案 allocation.geojson。",
        SHEETS["units"]: "",
        SHEETS["land"]: "各年用地取自各方案 land_supply.csv（与 land_supply.xlsx 各年度表合计相同）；差值与合计由所列数值计算。",
    }
    return write_land_supply_xlsx(sheets, path, sheet_titles=titles, notes=notes)
