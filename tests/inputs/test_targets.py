"""Targets from the plan's own tables: layouts, cumulative tables, totals, and errors naming the cell."""

from __future__ import annotations

import tomllib
from pathlib import Path

import openpyxl
import pytest

from siteplan.errors import ScenarioError
from siteplan.inputs.scenario import parse_scenario
from siteplan.inputs.targets import read_area_targets, read_type_targets

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo-2016-2020.toml"


def xlsx(path: Path, rows: list[list], sheet: str = "指标", extra: dict[str, list[list]] | None = None) -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    for name, more in (extra or {}).items():
        other = book.create_sheet(name)
        for r in more:
            other.append(r)
    book.save(path)
    return path


YEARS_2023 = [2023, 2024, 2025, 2026, 2027]

#: The Dongtou table (seed 002), as the plan prints it: 领域 | 序号 | 指标 | 2023年 目标值 ...
DONGTOU = [
    ["领域", "序号", "指标", "2023年 目标值", "2024年 目标值", "2025年 目标值", "2026年 目标值", "2027年 目标值"],
    ["住 房 保 障", 1, "城镇住房保障受益覆盖率(%)", 10, 10.5, 11, 11.5, 12],
    [None, 2, "保障性租赁住房累计建设筹集套(间)数(套)", 637, 847, 1050, 1060, 1100],
    [None, 3, "公租房在保家庭户数(户)", 200, 210, 220, 230, 240],
    [None, 4, "老旧小区累计改造个数(个)", 4, 5, 6, 7, 8],
]


def test_dongtou_cumulative_table_gives_the_yearly_increments(tmp_path):
    path = xlsx(tmp_path / "洞头.xlsx", DONGTOU)
    got = read_type_targets(path, years=YEARS_2023, mode="cumulative",
                            labels={"affordable_rental": "保障性租赁住房"})
    assert got == {"affordable_rental": [637, 210, 203, 10, 40]}
    # The increments add back up to the table's cumulative values.
    assert [sum(got["affordable_rental"][: i + 1]) for i in range(5)] == [637, 847, 1050, 1060, 1100]


def test_dongtou_read_as_yearly_is_not_differenced(tmp_path):
    path = xlsx(tmp_path / "洞头.xlsx", DONGTOU)
    got = read_type_targets(path, years=YEARS_2023, mode="yearly", labels={"affordable_rental": "保障性租赁住房"})
    assert got == {"affordable_rental": [637, 847, 1050, 1060, 1100]}


def test_headers_names_and_values_as_bureaus_write_them(tmp_path):
    rows = [
        ["类型", 2016, "2017年", 2018.0, "２０１９", "2020年度", "合计"],
        ["公租房", "1,100套", "１２００", 1300.0, 1400, "1 500", 6500],
        ["廉租房", 10, 20, 30, 40, 50, 150],
        ["price_capped", 0, 0, 0, 0, 0, None],
        ["合计", 1110, 1220, 1330, 1440, 1550, 6650],
    ]
    got = read_type_targets(xlsx(tmp_path / "t.xlsx", rows), years=list(range(2016, 2021)),
                            labels={"public_rental": None, "low_rent": None, "price_capped": None})
    assert got == {"public_rental": [1100, 1200, 1300, 1400, 1500], "low_rent": [10, 20, 30, 40, 50],
                   "price_capped": [0, 0, 0, 0, 0]}


def test_scenario_label_names_a_custom_type(tmp_path):
    rows = [["", "2023年", "2024年"], ["蓝领公寓", 5, 7]]
    got = read_type_targets(xlsx(tmp_path / "t.xlsx", rows), years=[2023, 2024], labels={"blue_collar": "蓝领公寓"})
    assert got == {"blue_collar": [5, 7]}


def test_unreadable_cell_names_file_sheet_and_cell(tmp_path):
    rows = [["类型", "2023", "2024", "2025"], ["保障性租赁住房", 100, "约600", 700]]
    with pytest.raises(ScenarioError, match=r"t\.xlsx, sheet 指标, cell C2 .*'约600' is not a number of units; "
                                            r"write a whole number"):
        read_type_targets(xlsx(tmp_path / "t.xlsx", rows), years=[2023, 2024, 2025],
                          labels={"affordable_rental": None})


def test_empty_and_fractional_cells_are_errors(tmp_path):
    rows = [["类型", "2023", "2024"], ["公租房", None, 5]]
    with pytest.raises(ScenarioError, match=r"cell B2 \(公租房, 2023\) is empty; write a whole number"):
        read_type_targets(xlsx(tmp_path / "a.xlsx", rows), years=[2023, 2024], labels={"public_rental": None})
    rows = [["类型", "2023", "2024"], ["公租房", 5.5, 5]]
    with pytest.raises(ScenarioError, match=r"cell B2 .*5\.5 is not a whole number"):
        read_type_targets(xlsx(tmp_path / "b.xlsx", rows), years=[2023, 2024], labels={"public_rental": None})


def test_cumulative_decrease_names_the_cell(tmp_path):
    rows = [["类型", "2023年", "2024年", "2025年"], ["公租房", 100, 300, 250]]
    with pytest.raises(ScenarioError, match=r"cell D2 \(公租房, 2025\): the cumulative .*250 is below 300 in 2024"):
        read_type_targets(xlsx(tmp_path / "t.xlsx", rows), years=[2023, 2024, 2025], mode="cumulative",
                          labels={"public_rental": None})


def test_cumulative_base_year_before_the_plan(tmp_path):
    # 2022 is the base (基期): 2023's increment is counted from it; 2028 is outside the plan.
    rows = [["类型", "2022年", "2023年", "2024年", "2028年"], ["公租房", 500, 600, 900, 1000]]
    got = read_type_targets(xlsx(tmp_path / "t.xlsx", rows), years=[2023, 2024], mode="cumulative",
                            labels={"public_rental": None})
    assert got == {"public_rental": [100, 300]}


def test_total_row_and_column_that_disagree_are_errors(tmp_path):
    rows = [["类型", "2023", "2024", "合计"], ["公租房", 1, 2, 3], ["廉租房", 1, 1, 2], ["合计", 2, 4, 5]]
    with pytest.raises(ScenarioError, match=r"cell C4 \(total, 2024\): 4 disagrees with the sum of the rows, 3"):
        read_type_targets(xlsx(tmp_path / "a.xlsx", rows), years=[2023, 2024],
                          labels={"public_rental": None, "low_rent": None})
    rows = [["类型", "2023", "2024", "合计"], ["公租房", 1, 2, 4]]
    with pytest.raises(ScenarioError, match=r"cell D2 \(公租房, total\): 4 disagrees"):
        read_type_targets(xlsx(tmp_path / "b.xlsx", rows), years=[2023, 2024], labels={"public_rental": None})


def test_missing_type_and_missing_year_are_errors(tmp_path):
    rows = [["类型", "2023", "2024"], ["公租房", 1, 2]]
    with pytest.raises(ScenarioError, match=r"no row for the type\(s\) low_rent .* the rows are '公租房'"):
        read_type_targets(xlsx(tmp_path / "a.xlsx", rows), years=[2023, 2024],
                          labels={"public_rental": None, "low_rent": None})
    with pytest.raises(ScenarioError, match=r"no column for the plan year\(s\) 2025"):
        read_type_targets(xlsx(tmp_path / "a.xlsx", rows), years=[2023, 2024, 2025], labels={"public_rental": None})


def test_row_for_an_undefined_type_is_an_error_and_two_rows_for_one_type_too(tmp_path):
    rows = [["类型", "2023"], ["公租房", 1], ["廉租房", 1]]
    with pytest.raises(ScenarioError, match=r"row 3: '廉租房' is the type low_rent, which \[types\] does not define"):
        read_type_targets(xlsx(tmp_path / "a.xlsx", rows), years=[2023], labels={"public_rental": None})
    rows = [["类型", "2023"], ["公租房", 1], ["公共租赁住房", 1]]
    with pytest.raises(ScenarioError, match=r"rows 2 .* and 3 .* both name the type public_rental"):
        read_type_targets(xlsx(tmp_path / "b.xlsx", rows), years=[2023], labels={"public_rental": None})


@pytest.mark.parametrize("codec", ["utf-8-sig", "gb18030"])
def test_csv_in_utf8_and_gbk(tmp_path, codec):
    text = "类型,2023年,2024年\n公租房,\"1,100\",1200\n人才公寓,５,6\n"
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode(codec))
    got = read_type_targets(path, years=[2023, 2024], labels={"public_rental": None, "talent_apartment": None})
    assert got == {"public_rental": [1100, 1200], "talent_apartment": [5, 6]}


def test_zone_and_district_tables(tmp_path):
    whole = xlsx(tmp_path / "z.xlsx", [["序号", "片区", "目标(套)"], [1, "东岸城区", "16,000"], [2, "西岸城区", 13000]])
    assert read_area_targets(whole, years=[2016, 2017]) == {"东岸城区": 16000, "西岸城区": 13000}
    yearly = tmp_path / "d.csv"
    yearly.write_text("区县,2016,2017,合计\n望海区,10,30,40\n滨海区,5,5,10\n合计,15,35,50\n", encoding="utf-8")
    assert read_area_targets(yearly, years=[2016, 2017], what="districts") == {"望海区": [10, 30], "滨海区": [5, 5]}
    cum = tmp_path / "c.csv"
    cum.write_text("区县,2016,2017\n望海区,10,30\n", encoding="utf-8")
    assert read_area_targets(cum, years=[2016, 2017], mode="cumulative") == {"望海区": [10, 20]}


def test_sheet_choice_and_unknown_sheet(tmp_path):
    path = xlsx(tmp_path / "t.xlsx", [["说明"]], sheet="封面", extra={"目标": [["类型", "2023"], ["公租房", 9]]})
    assert read_type_targets(path, years=[2023], labels={"public_rental": None}) == {"public_rental": [9]}
    with pytest.raises(ScenarioError, match=r"has no sheet 'x' .*its sheets are: 封面, 目标"):
        read_type_targets(path, years=[2023], sheet="x", labels={"public_rental": None})


def _demo_with_file(tmp_path: Path, table: list[list], **targets) -> dict:
    d = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    xlsx(tmp_path / "targets.xlsx", table)
    for t in d["types"].values():
        t.pop("targets")
    d["targets"] = {"file": "targets.xlsx", **targets}
    return d


def test_scenario_targets_table_fills_the_types(tmp_path):
    d = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    expected = {code: t["targets"] for code, t in d["types"].items()}
    # The demo's targets written cumulatively, under Chinese names.
    zh = {"public_rental": "公共租赁住房", "low_rent": "廉租住房", "economy": "经济适用住房",
          "price_capped": "限价商品住房", "talent_apartment": "人才公寓", "resettlement": "棚改安置住房"}
    rows = [["住房类型", *[f"{y}年" for y in range(2016, 2021)]]]
    for code, values in expected.items():
        rows.append([zh[code], *[sum(values[: i + 1]) for i in range(5)]])
    d = _demo_with_file(tmp_path, rows, mode="cumulative")
    s = parse_scenario(d, base_dir=tmp_path)
    assert {code: t.targets for code, t in s.types.items()} == expected
    assert s.total_target() == 50_000


def test_short_form_and_errors_carry_the_scenario_name(tmp_path):
    d = _demo_with_file(tmp_path, [["类型", "2016"], ["公租房", 1]])
    d["targets"] = "targets.xlsx"
    with pytest.raises(ScenarioError, match=r"^my\.toml: targets\.xlsx, sheet 指标: no row for the type\(s\) low_rent"):
        parse_scenario(d, base_dir=tmp_path, where="my.toml")
    d["targets"] = {"file": "targets.xlsx", "mode": "sometimes"}
    with pytest.raises(ScenarioError, match=r"targets\.mode: .*use \"yearly\""):
        parse_scenario(d, base_dir=tmp_path)
    d["targets"] = {"file": "nothere.xlsx"}
    with pytest.raises(ScenarioError, match=r"nothere\.xlsx: targets file not found"):
        parse_scenario(d, base_dir=tmp_path)


def test_target_given_twice_is_an_error(tmp_path):
    d = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    xlsx(tmp_path / "targets.xlsx", [["类型", *range(2016, 2021)], ["公租房", 1, 1, 1, 1, 1]])
    d["targets"] = {"file": "targets.xlsx"}
    with pytest.raises(ScenarioError, match=r"gives targets for public_rental, and the scenario gives "
                                            r"types\.public_rental\.targets too"):
        parse_scenario(d, base_dir=tmp_path)
