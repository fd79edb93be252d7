"""siteplan compare: difference tables checked against the two allocation.csv files, the offline
side-by-side map, the CLI command, and the second demo scenario."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from siteplan.cli import app
from siteplan.outputs.compare import CompareError, compare_runs, write_comparison
from siteplan.outputs.offline import remote_references
from tests.browser import open_offline

ROOT = Path(__file__).resolve().parents[2]


def _alloc(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})


def test_difference_tables_match_the_allocations(two_runs):
    out_a, out_b, _ = two_runs
    _, _, tables = compare_runs(out_a, out_b)
    aa, ab = _alloc(out_a), _alloc(out_b)
    pa, pb = set(aa["parcel_id"]), set(ab["parcel_id"])
    p = tables["parcels"].set_index("parcel_id")
    assert set(p.index[p["in"] == "A only"]) == pa - pb
    assert set(p.index[p["in"] == "B only"]) == pb - pa
    assert set(p.index[p["in"] == "both"]) == pa & pb
    assert pa != pb  # the stricter rule moves units to other parcels
    for pid in pa | pb:
        assert p.loc[pid, "units_a"] == aa.loc[aa["parcel_id"] == pid, "units"].sum()
        assert p.loc[pid, "units_b"] == ab.loc[ab["parcel_id"] == pid, "units"].sum()
    u = tables["units"]
    for dim in ("district", "zone", "type", "year"):
        part = u.loc[u["by"] == dim].set_index("value")
        ga, gb = aa.groupby(dim)["units"].sum(), ab.groupby(dim)["units"].sum()
        for k in set(map(str, ga.index)) | set(map(str, gb.index)):
            va = int(ga[[i for i in ga.index if str(i) == k]].sum())
            vb = int(gb[[i for i in gb.index if str(i) == k]].sum())
            assert (part.loc[k, "units_a"], part.loc[k, "units_b"], part.loc[k, "delta"]) == (va, vb, vb - va)
    # Land is the figure land_supply.xlsx prints (issue 16: one figure, one value): each year's 合计
    # of land_supply.csv, not the sum of allocation.csv's rows, each rounded on its own.
    land = tables["land"].set_index("year")
    la, lb = (pd.read_csv(o / "land_supply.csv", encoding="utf-8-sig").query("type == '合计'") for o in (out_a, out_b))
    assert land.loc["合计", "gross_land_ha_a"] == pytest.approx(la["gross_land_ha"].sum(), abs=1e-9)
    assert land.loc["合计", "delta_gross_land_ha"] == pytest.approx(lb["gross_land_ha"].sum() - la["gross_land_ha"].sum(), abs=1e-9)


def test_comparison_files_and_offline_map(two_runs, tmp_path):
    out_a, out_b, _ = two_runs
    files = write_comparison(out_a, out_b, tmp_path / "cmp")
    assert set(files) == {"compare.html", "differences.xlsx", "compare_parcels.csv", "compare_units.csv", "compare_land.csv"}
    html = files["compare.html"].read_text(encoding="utf-8")
    assert remote_references(html) == []
    assert "/* leaflet.sync/L.Map.Sync.js (siteplan/assets) */" in html  # the panes are synchronised
    assert (tmp_path / "cmp" / "compare_units.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    n_a, n_b = _alloc(out_a)["parcel_id"].nunique(), _alloc(out_b)["parcel_id"].nunique()
    script = """
(async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const panes = [...document.querySelectorAll('.folium-map')];
  return panes.map(p => p.querySelectorAll('path.sp-parcel').length).concat(
    [document.querySelectorAll('path.sp-only').length]);
})()
"""
    res = open_offline(files["compare.html"], tmp_path / "profile", script)
    assert res["requests"] == [] and res["errors"] == [], (res["requests"], res["errors"])
    only = len(set(_alloc(out_a)["parcel_id"]) ^ set(_alloc(out_b)["parcel_id"]))
    assert res["value"] == [n_a, n_b, only]


def test_differences_xlsx_has_chinese_headers_and_two_decimals(two_runs, tmp_path):
    import re

    import openpyxl

    out_a, out_b, _ = two_runs
    files = write_comparison(out_a, out_b, tmp_path / "cmp")
    wb = openpyxl.load_workbook(files["differences.xlsx"])
    assert wb.sheetnames == ["地块对比", "套数对比", "用地对比"]
    for ws in wb:
        assert "A = mini" in ws.cell(1, 1).value and "B = mini-transit" in ws.cell(1, 1).value
        headers = [c.value for c in ws[2]]
        assert all(re.search(r"[\u4e00-\u9fff]", h) for h in headers), headers  # no snake_case left
        assert ws.freeze_panes == "A3" and ws.page_setup.orientation == "landscape"
        for row in ws.iter_rows(min_row=3):
            for c in row:
                if isinstance(c.value, float):
                    assert c.number_format == "#,##0.00" and c.value == round(c.value, 2), (ws.title, c.coordinate, c.value)
                elif isinstance(c.value, int):  # whole numbers (a float 0.0 reads back as 0)
                    assert c.number_format in ("#,##0", "#,##0.00"), (ws.title, c.coordinate)
    parcels = pd.DataFrame(list(wb["地块对比"].iter_rows(min_row=3, values_only=True)), columns=[c.value for c in wb["地块对比"][2]])
    aa, ab = _alloc(out_a), _alloc(out_b)
    assert {type(y) for y in parcels["A供地年份"].dropna()} == {str}  # text: a number format would print 2,016
    assert set(parcels.loc[parcels["选用方案"] == "仅A", "地块编号"]) == set(aa["parcel_id"]) - set(ab["parcel_id"])
    assert set(parcels.loc[parcels["选用方案"] == "仅B", "地块编号"]) == set(ab["parcel_id"]) - set(aa["parcel_id"])
    units = pd.DataFrame(list(wb["套数对比"].iter_rows(min_row=3, values_only=True)), columns=["by", "value", "a", "b", "d"])
    assert "公共租赁住房" in set(units.loc[units["by"] == "住房类型", "value"])
    land = pd.DataFrame(list(wb["用地对比"].iter_rows(min_row=3, values_only=True)), columns=[c.value for c in wb["用地对比"][2]])
    # the sheet's note (the rounding rule, issue 16) sits under the table
    land = land.dropna(how="all").loc[lambda t: ~t["年份"].astype(str).str.startswith("注：")].set_index("年份")
    years = [y for y in land.index if y != "合计"]
    for y in years:  # each year's land rounded as land_supply.xlsx rounds it, and B - A of the printed values
        la = pd.read_csv(out_a / "land_supply.csv", encoding="utf-8-sig").query("type == '合计'").set_index("year")
        assert land.loc[y, "A毛用地面积（公顷）"] == la.loc[int(y), "gross_land_ha"]  # the value land_supply.xlsx prints
        assert land.loc[y, "毛用地差 B−A（公顷）"] == pytest.approx(land.loc[y, "B毛用地面积（公顷）"] - land.loc[y, "A毛用地面积（公顷）"], abs=1e-9)
    assert land.loc["合计", "A净用地面积（公顷）"] == pytest.approx(sum(land.loc[y, "A净用地面积（公顷）"] for y in years), abs=1e-9)
    csv = pd.read_csv(files["compare_land.csv"], encoding="utf-8-sig", dtype=str)
    assert list(csv.columns) == list(land.reset_index().columns)
    assert all(re.fullmatch(r"-?\d+\.\d\d", v) for v in csv["A毛用地面积（公顷）"])


def test_compare_command(two_runs):
    out_a, out_b, base = two_runs
    runner = CliRunner()
    res = runner.invoke(app, ["compare", str(out_a), str(out_b)])
    assert res.exit_code == 0, res.output
    assert (base / "compare-mini-vs-mini-transit" / "compare.html").is_file()
    assert "parcels only in A" in " ".join(res.output.split())
    res = runner.invoke(app, ["compare", str(out_a), str(base / "missing")])
    assert res.exit_code == 2 and "no such output folder" in res.output and "Traceback" not in res.output
    en = base / "compare-en"
    res = runner.invoke(app, ["compare", str(out_a), str(out_b), "--lang", "en", "--out", str(en)])
    assert res.exit_code == 0, res.output
    page = (en / "compare.html").read_text(encoding="utf-8")
    assert "Added and removed" in page and "Whole city" in page
    assert "新增与减少" not in page and "新增与减少" in (base / "compare-mini-vs-mini-transit" / "compare.html").read_text(encoding="utf-8")


def test_incomplete_folder_is_named(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(CompareError, match=r"allocation\.csv is missing"):
        compare_runs(tmp_path / "x", tmp_path / "x")


def test_second_demo_scenario_differs_only_in_the_transit_rule():
    a = tomllib.loads((ROOT / "scenarios" / "demo-2016-2020.toml").read_text(encoding="utf-8"))
    b = tomllib.loads((ROOT / "scenarios" / "demo-2016-2020-transit.toml").read_text(encoding="utf-8"))
    ta, tb = a["rules"].pop("transit"), b["rules"].pop("transit")
    assert (tb["share"], tb["within_m"]) == (0.6, 600) and (ta["share"], ta["within_m"]) == (0.5, 800)
    for d in (a, b):
        d["plan"].pop("name"), d["plan"].pop("title")
    assert a == b
