"""The tables a bureau pastes: the Handan layout read back against the seed, the year sentence, the 地块一览表.

The seed's numbers (shared/seeds/003_3b74f32ed0ed61bf.txt, 第十四-十八条) are
those typed into tests/outputs/test_tables.py; the year sentences below are
copied from the seed as printed.
"""

from __future__ import annotations

import re
import tomllib

import geopandas as gpd
import pandas as pd
import pytest
from openpyxl import load_workbook

from siteplan.errors import ScenarioError
from siteplan.inputs.scenario import parse_scenario
from siteplan.outputs.handan import HANDAN_COLUMNS, handan_year_table, parcel_table, year_sentence
from siteplan.outputs.tables import INCLUSIONARY_LABEL, NEW_LAND_LABEL, write_land_supply_xlsx
from tests.outputs.test_tables import CENTRE, CENTRE_SPLIT, CENTRE_TOTAL, SEED_ERRORS, TOL, table_for

# The seed's sentences, as printed (第十七条, 第十八条): total, each type, 新增 (gross land, ha).
SEED_SENTENCE = {
    2014: "2014年，中心城区各类保障性住房用地供应总面积28.45公顷。其中廉租住房用地2.27公顷；公共租赁房用地17.71公顷；"
          "经济适用房用地3.15公顷；限价商品房用地5.32公顷；政府保障性住房新增用地23.47公顷。",
    2015: "2015年，中心城区各类保障性住房用地供应总面积28.45公顷。其中廉租住房用地2.27公顷；公共租赁房用地17.71公顷；"
          "经济适用房用地3.15公顷；限价商品房用地5.32公顷；政府保障性住房新增用地23.47公顷。",
}
# The seed's sentence names the types a little differently from its table rows.
SENTENCE_NAME = {"廉租住房": "廉租房", "公共租赁房": "公共租赁房", "经济适用房": "经济适用房", "限价商品房": "限价房"}


def _figures(sentence: str) -> dict[str, float]:
    """Each ``<name>用地X公顷`` / ``总面积X公顷`` of a sentence, by name."""
    out = {"总面积": float(re.search(r"总面积([\d.]+)公顷", sentence).group(1))}
    for name, value in re.findall(r"(?:；|其中)([^；。]+?)用地([\d.]+)公顷", sentence):
        out[name] = float(value)
    return out


def _centre_workbook(tmp_path):
    """The seed's five centre-city years in the Handan layout, written and read back."""
    tables, sentences = {}, {}
    for year, rows in CENTRE.items():
        t = table_for(rows, year, inclusionary_net_ha=CENTRE_SPLIT[year][0][0], incl_type="公共租赁房").reset_index()
        tables[f"{year}年"] = handan_year_table(t, planning_far=2.8)
        sentences[f"{year}年"] = year_sentence(t, year, area="中心城区")
    path = write_land_supply_xlsx(tables, tmp_path / "land_supply.xlsx", years=sorted(CENTRE), net_to_gross=0.8,
                                  sentences=sentences)
    return load_workbook(path)


@pytest.mark.parametrize("year", sorted(CENTRE))
def test_handan_layout_read_back_cell_by_cell(tmp_path, year):
    ws = _centre_workbook(tmp_path)[f"{year}年"]
    # the seed's columns exactly: no 建筑面积
    assert [c.value for c in ws[3]] == ["类型", "套数（套）", "容积率", "净用地面积（公顷）", "毛用地面积（公顷）"] == HANDAN_COLUMNS
    body = [r for r in ws.iter_rows(min_row=4, values_only=True) if r[0] is not None and not str(r[0]).startswith("注")]
    labels = [r[0] for r in body]
    # the types in the plan's (here the seed's) order, then 合计, 配建, 新增
    assert labels == [r[0] for r in CENTRE[year]] + ["合计", INCLUSIONARY_LABEL, NEW_LAND_LABEL]
    got = {r[0]: r for r in body}
    for label, units, _floor, net, gross in CENTRE[year]:
        row = got[label]
        assert row[1] == units and row[2] == 2.8
        if (year, label) not in SEED_ERRORS:
            assert abs(row[3] - net) <= TOL and abs(row[4] - gross) <= TOL, (label, row)
    total = got["合计"]
    assert total[1] == sum(r[1] for r in CENTRE[year]) and total[2] is None
    if year != 2012:  # 2012's totals carry its two misprinted rows
        assert abs(total[3] - CENTRE_TOTAL[year][0]) <= TOL and abs(total[4] - CENTRE_TOTAL[year][1]) <= TOL
    (incl_net, incl_gross), (new_net, new_gross) = CENTRE_SPLIT[year]
    incl, new = got[INCLUSIONARY_LABEL], got[NEW_LAND_LABEL]
    # land only, as the seed gives them: 套数 and 容积率 blank
    assert incl[1] is None and incl[2] is None and new[1] is None and new[2] is None
    assert incl[3] == pytest.approx(incl_net)
    if year not in (2011, 2012):  # 2011's 配建 gross 3.09 is no rounding of 2.50 / 0.8; 2012 as above
        assert (incl[4], new[3], new[4]) == pytest.approx((incl_gross, new_net, new_gross), abs=TOL)
    # the printed rows add up: 合计 = sum of the type rows, 配建 + 新增 = 合计
    assert round(sum(got[r[0]][3] for r in CENTRE[year]), 2) == round(total[3], 2)
    assert round(incl[4] + new[4], 2) == round(total[4], 2)
    assert ws["E5"].number_format == "#,##0.00" and ws["C4"].number_format == "0.0#"  # 2.8 shows as 2.8


@pytest.mark.parametrize("year", sorted(SEED_SENTENCE))
def test_year_sentence_gives_the_seeds_figures(tmp_path, year):
    ws = _centre_workbook(tmp_path)[f"{year}年"]
    sentence = ws["A2"].value
    assert "A2:E2" in {str(r) for r in ws.merged_cells.ranges}  # above the table, across it
    assert sentence.startswith(f"{year}年，中心城区保障性住房用地供应总面积28.45公顷。其中廉租房用地")
    ours, seed = _figures(sentence), _figures(SEED_SENTENCE[year])
    assert ours["总面积"] == seed["总面积"]  # the total and 新增 to the digit, each type within 0.01 ha as its table row
    for seed_name, value in seed.items():
        name = {"政府保障性住房新增": "保障性住房新增"}.get(seed_name, SENTENCE_NAME.get(seed_name, seed_name))
        assert abs(ours[name] - value) <= (TOL if name in SENTENCE_NAME.values() else 1e-9), (seed_name, ours)
    # and every figure is the printed table's gross land, in the table's order
    gross = {r[0]: r[4] for r in ws.iter_rows(min_row=4, values_only=True) if r[0] and not str(r[0]).startswith("注")}
    assert [n for n in ours if n != "总面积"] == [r[0] for r in CENTRE[year]] + ["普通商品房配建", "保障性住房新增"]
    for label, value in gross.items():
        assert ours[label.removesuffix("用地") if label != "合计" else "总面积"] == value
    assert sentence.endswith(f"{NEW_LAND_LABEL}{gross[NEW_LAND_LABEL]:.2f}公顷。")


def test_year_sentence_without_land_or_share():
    t = pd.DataFrame({"类型": ["a", "b", "合计", INCLUSIONARY_LABEL, NEW_LAND_LABEL],
                      "毛用地面积（公顷）": [0.0, 1.25, 1.25, 0.0, 1.25]})
    # no type without land, no 配建 without land; the area name may be left out
    assert year_sentence(t, 2016) == "2016年，保障性住房用地供应总面积1.25公顷。其中b用地1.25公顷；保障性住房新增用地1.25公顷。"
    empty = t.assign(**{"毛用地面积（公顷）": 0.0})
    assert year_sentence(empty, 2017) == "2017年，保障性住房用地供应总面积0.00公顷。"


def test_without_planning_far_the_effective_average_is_printed():
    rows = CENTRE[2014]
    t = table_for(rows, 2014).reset_index()
    h = handan_year_table(t)
    assert h.loc[0, "容积率"] == pytest.approx(2.8)  # each row's floor area / net land: 2.8 here
    assert list(h.columns) == HANDAN_COLUMNS


def test_parcel_list_sorted_with_sums_of_printed_rows():
    feats = pd.DataFrame({
        "parcel_id": ["B2", "A1", "C3", "A0"], "name": ["乙", "甲", "丙", None],
        "district": ["西城区", "东城区", "东城区", "西城区"], "zone": ["西区", "东区", "东区", "西区"],
        "year": [2016, 2017, 2016, 2016], "units_pr": [100, 0, 50, 30], "units_pc": [0, 40, 0, 10],
        "role": ["new", "inclusionary", "new", "new"], "floor_area_m2": [4000, 3200, 2000, 2000],
        "far_used": [2.5, 3.0, 2.345, 2.0], "area_ha": [0.805, 1.3333, 0.5, 0.4]})
    t = parcel_table(feats, types=["pr", "pc"], labels={"pr": "公共租赁住房", "pc": "限价商品住房"},
                     land_use={"B2": "R2", "A1": "商住混合用地", "C3": "R2", "A0": None})
    assert t["地块编号"].tolist() == ["C3", "A0", "B2", "A1", "合计"]  # year, district, id
    assert list(t.columns[8:10]) == ["公共租赁住房（套）", "限价商品住房（套）"]
    c3 = t.iloc[0]
    assert c3["用地性质"] == "R2（二类居住用地）" and c3["容积率"] == "2.345" and c3["类别"] == "新增"
    assert t.iloc[3]["类别"] == "配建" and t.iloc[1]["地块名称"] == "" and t.iloc[1]["用地性质"] == ""
    assert t.iloc[2]["地块面积（公顷）"] == 0.80  # 0.805 -> 0.80, half to even
    total = t.iloc[-1]
    body = t.iloc[:-1]
    assert total["地块面积（公顷）"] == pytest.approx(body["地块面积（公顷）"].sum())  # 0.5 + 0.4 + 0.8 + 1.33
    assert total["合计（套）"] == 230 == body["合计（套）"].sum()
    assert total["保障房建筑面积（m²）"] == 11200 and total["供应年度"] is None
    assert [type(v) for v in body["供应年度"]] == [int] * 4  # whole years, never 2,016.00


@pytest.mark.parametrize("text, fragment", [
    ('land_table = "county"', "land_table"),
    ("planning_far = -2.8", "planning_far"),
    ("docx = 3", "docx"),
])
def test_bad_outputs_settings_are_named(text, fragment):
    from tests.cities import MINI_SCENARIO

    with pytest.raises(ScenarioError) as err:
        parse_scenario(tomllib.loads(MINI_SCENARIO + f"\n[outputs]\n{text}\n"))
    assert fragment in str(err.value)


def test_outputs_settings_read():
    from tests.cities import MINI_SCENARIO

    s = parse_scenario(tomllib.loads(MINI_SCENARIO + '\n[outputs]\nland_table = "邯郸"\nplanning_far = 2.8\narea = "中心城区"\n'))
    assert (s.outputs.land_table, s.outputs.planning_far, s.outputs.area, s.outputs.docx) == ("handan", 2.8, "中心城区", True)
    assert parse_scenario(tomllib.loads(MINI_SCENARIO)).outputs.land_table == "standard"


# ---------------------------------------------------------------------------
# A whole run in the Handan layout
# ---------------------------------------------------------------------------

TWO_TYPES = '''
[types.price_capped]
unit_area_m2 = 80
targets = [100, 100]
'''


@pytest.fixture(scope="module")
def handan_run(tmp_path_factory):
    from siteplan.pipeline import run
    from tests.cities import MINI_SCENARIO, write_mini_city

    folder = tmp_path_factory.mktemp("handan")
    # price_capped before public_rental: the plan's order, not the alphabet's
    text = MINI_SCENARIO.replace("[types.public_rental]", TWO_TYPES + "\n[types.public_rental]")
    text += '\n[outputs]\nland_table = "handan"\nplanning_far = 2.8\narea = "中心城区"\n'
    scenario = write_mini_city(folder / "city", scenario=text)
    result = run(scenario, out_dir=folder / "out")
    return scenario, folder / "out", result


def test_run_writes_handan_year_sheets_in_the_plans_type_order(handan_run):
    _, out, _ = handan_run
    wb = load_workbook(out / "land_supply.xlsx")
    assert wb.sheetnames == ["2016年", "2017年", "规划期", "分区", "地块一览表"]
    for y, targets in ((2016, (100, 600)), (2017, (100, 400))):
        ws = wb[f"{y}年"]
        assert ws["A1"].value == f"{y}年中心城区保障性住房用地规划表"
        assert [c.value for c in ws[3]] == HANDAN_COLUMNS
        assert [ws.cell(row=r, column=1).value for r in (4, 5)] == ["限价商品住房", "公共租赁住房"]
        assert (ws["B4"].value, ws["B5"].value, ws["B6"].value) == (*targets, sum(targets))
        assert ws["C4"].value == 2.8 and "规划容积率2.8" in ws.cell(row=ws.max_row, column=1).value
        assert ws["A2"].value.startswith(f"{y}年，中心城区保障性住房用地供应总面积{ws['E6'].value:.2f}公顷。")
    # the CSV copies are the sheets as laid out
    csv16 = pd.read_csv(out / "land_supply_2016.csv", encoding="utf-8-sig")
    assert list(csv16.columns) == HANDAN_COLUMNS
    assert (out / "land_supply_parcels.csv").is_file()


def test_parcel_sheet_against_the_layers(handan_run):
    scenario, out, result = handan_run
    city = scenario.parent
    parcels = gpd.read_file(city / "parcels.gpkg").set_index("parcel_id")
    districts = gpd.read_file(city / "districts.gpkg")
    ws = load_workbook(out / "land_supply.xlsx")["地块一览表"]
    head = [c.value for c in ws[2]]
    rows = [dict(zip(head, r)) for r in ws.iter_rows(min_row=3, values_only=True) if r[0] and not str(r[0]).startswith("注")]
    body, total = rows[:-1], rows[-1]
    assert total["地块编号"] == "合计" and body
    keys = [(r["供应年度"], r["行政区"], r["地块编号"]) for r in body]
    assert keys == sorted(keys)
    unit_area = {"限价商品住房（套）": 80, "公共租赁住房（套）": 50}
    for r in body:
        p = parcels.loc[r["地块编号"]]
        centroid = p.geometry.centroid
        district = districts.loc[districts.contains(centroid), "district"].iloc[0]
        assert r["行政区"] == district == p["district"]
        assert r["地块面积（公顷）"] == pytest.approx(round(p.geometry.area / 10_000, 2))
        assert float(r["容积率"]) == pytest.approx(p["far_max"])
        assert r["用地性质"] == p["land_use"] and r["类别"] == "新增"
        assert r["供应年度"] >= p["available_year"]
        floor = sum(r[c] * a for c, a in unit_area.items())
        assert r["保障房建筑面积（m²）"] == floor <= p.geometry.area * p["far_max"] + 1e-6
        assert r["合计（套）"] == sum(r[c] for c in unit_area)
    # each year's units by type are the scenario's targets (the plan meets them)
    for year, want in ((2016, {"限价商品住房（套）": 100, "公共租赁住房（套）": 600}), (2017, {"限价商品住房（套）": 100, "公共租赁住房（套）": 400})):
        for c, n in want.items():
            assert sum(r[c] for r in body if r["供应年度"] == year) == n
    for c in ("地块面积（公顷）", "合计（套）", "保障房建筑面积（m²）", *unit_area):
        assert total[c] == pytest.approx(sum(r[c] for r in body))


def test_figures_several_outputs_print_are_made_once_per_plan_and_each_caller_gets_its_own_copy(mini_city, monkeypatch):
    from siteplan.inputs.scenario import load_scenario
    from siteplan.outputs import handan, printed, report
    from siteplan.pipeline import plan_from_scenario

    scenario = load_scenario(mini_city)
    plan, layers = plan_from_scenario(scenario)
    made = {"tables": 0, "features": 0, "thumb": 0}
    for module, name, key in ((handan, "_printed_tables", "tables"), (printed, "_parcel_features", "features"),
                              (report, "_map_thumbnail", "thumb")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, real=real, key=key: (made.__setitem__(key, made[key] + 1), real(*a))[1])
    first = handan.printed_tables(plan, scenario)
    sheet = next(iter(first))
    first[sheet]["changed by a caller"] = 1
    again = handan.printed_tables(plan, scenario)
    assert made["tables"] == 1 and "changed by a caller" not in again[sheet].columns
    ntg = scenario.plan.net_to_gross
    f1 = printed.parcel_features(plan, net_to_gross=ntg)
    f1["units"] = -1
    assert (printed.parcel_features(plan, net_to_gross=ntg)["units"] > 0).all()
    assert made["features"] == 1  # made for the printed tables, then taken from there
    printed.parcel_features(plan, net_to_gross=ntg / 2)  # another net-to-gross is another figure
    assert made["features"] == 2
    assert report.map_thumbnail(plan, layers, scenario) == report.map_thumbnail(plan, layers, scenario)
    assert made["thumb"] == 1
    other = load_scenario(mini_city)  # an equal scenario, another object: made again, never taken for the first
    handan.printed_tables(plan, other)
    assert made["tables"] == 2
