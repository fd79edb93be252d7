"""report.html in one language (rules, settings and results in a planner's words), Chinese labels beside
the codes in the exports, and Chinese fonts found by file with a district_en fallback when there are none."""

from __future__ import annotations

import html
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from siteplan.housing import CATALOGUE
from siteplan.inputs.settings import Rules
from siteplan.outputs import fonts, wording
from siteplan.outputs.report import district_names, report_html
from siteplan.pipeline import run

NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# Every rule on, with settings a planner would write.
RULES = """
[rules.plot_ratio]
upper_for = ["public_rental"]

[rules.district_share]
min_share = 0.0
max_share = 0.9
per_type = false
"""


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    from tests.cities import MINI_SCENARIO, write_mini_city

    folder = tmp_path_factory.mktemp("report-words")
    text = MINI_SCENARIO.replace("[rules.transit]", RULES.strip() + "\n\n[rules.transit]", 1)
    assert text != MINI_SCENARIO
    scenario = write_mini_city(folder / "city", scenario=text)
    out = folder / "out"
    return out, run(scenario, out_dir=out)


def _visible(page: str) -> str:
    body = re.sub(r'src="data:[^"]+"', "", page.split("<body>", 1)[1])
    body = re.sub(r"<div class='code'>.*?</div>", "", body)  # the rule codes, shown small under their names
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_settings_in_planners_words():
    label = {"public_rental": "公共租赁住房", "talent_apartment": "人才公寓"}.get
    assert wording.setting_text("plot_ratio", {"upper_for": ["public_rental"]}, "zh", label) == "公共租赁住房可使用容积率上限"
    assert wording.setting_text("district_share", {"min_share": 0.03, "max_share": 0.2, "per_type": False}, "zh") == \
        "每个行政区不少于3%，不超过20%，按全部套数计算"
    assert "600米" in wording.setting_text("transit", {"share": 0.6, "within_m": 600.0, "lead_years": 0}, "zh")
    en = wording.setting_text("plot_ratio", {"upper_for": ["public_rental"]}, "en", {"public_rental": "Public rental"}.get)
    assert en == "Public rental may build up to the parcel's upper plot ratio"
    # Every setting of every rule has its words: none is shown as "key: value".
    for section, field in Rules.model_fields.items():
        if section not in wording.SECTION_TITLES:
            pytest.fail(f"[rules.{section}] has no title in wording.SECTION_TITLES")
        model = field.annotation.__args__[0] if hasattr(field.annotation, "__args__") else field.annotation
        for key in model.model_fields:
            assert key == "enabled" or (section, key) in wording.SETTING_WORDS, (section, key)


def test_report_speaks_one_language(mini):
    _, res = mini
    page = report_html(res.plan, res.layers, res.scenario, lang="zh")
    text = _visible(page)
    assert "公共租赁住房可使用容积率上限" in text
    for python in ("upper_for", "per_type", "False", "True", "= [", "within_m", ">=", "<="):
        assert python not in text, python
    allowed = {"EPSG", "SHA", "HIGHS", "land_supply", "xlsx", "scenario", "toml", "mini", "reserve"}  # file names, codes
    words = set(re.findall(r"[A-Za-z_]{3,}", text)) - allowed
    assert not words, words
    # Each rule of the plan is there by its Chinese name, its code under it.
    for rule in res.plan.compliance()["rule"]:
        assert f"{wording.rule_title(rule)}<div class='code'>{rule}</div>" in page
    en = _visible(report_html(res.plan, res.layers, res.scenario, lang="en"))
    assert "upper_for" not in en and "Public rental may build up to the parcel's upper plot ratio" in en


def test_results_translated():
    assert wording.result_text("lowest 50.0% (2017)") == "最低 50.0%（2017年）"
    assert wording.result_text("public_rental <= 60 m2; low_rent <= 50 m2", "zh", CATALOGUE.get and
                               (lambda c: CATALOGUE[c].label_zh), types=["public_rental", "low_rent"]) == \
        "公共租赁住房 ≤ 60平方米；廉租住房 ≤ 50平方米"
    assert wording.result_text("50,000 units; 20 of 20 type-years met") == "落实 50,000 套；20 个类型年度中 20 个达标"


def test_labels_beside_codes_in_exports(mini):
    out, res = mini
    al = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})
    cols = list(al.columns)
    assert cols.index("type_zh") == cols.index("type") + 1 and cols.index("role_zh") == cols.index("role") + 1
    for t, zh in zip(al["type"], al["type_zh"]):
        assert zh == res.scenario.type_label(t, "zh")
    assert set(zip(al["role"], al["role_zh"])) <= {("new", "新增"), ("inclusionary", "配建")}
    for path, kw in ((out / "allocation.geojson", {}), (out / "plan.gpkg", {"layer": "allocation"})):
        g = gpd.read_file(path, engine="pyogrio", **kw)
        assert all(zh == res.scenario.type_label(t, "zh") for t, zh in zip(g["main_type"], g["main_type_zh"])), path
        assert set(g["role_zh"]) <= {"新增", "配建", "新增、配建", "配建、新增"}, path


def test_shapefile_has_the_labels(mini, tmp_path):
    from siteplan.outputs.shapefile import write_shapefiles

    _, res = mini
    write_shapefiles(res.plan, res.layers, res.scenario, tmp_path / "shp")
    g = gpd.read_file(tmp_path / "shp" / "allocation.shp", engine="pyogrio", encoding="GBK")
    assert {"MTYPE_ZH", "ROLE_ZH"} <= set(g.columns)
    assert all(zh == res.scenario.type_label(t, "zh") for t, zh in zip(g["MAIN_TYPE"], g["MTYPE_ZH"]))


@pytest.mark.skipif(not NOTO.is_file(), reason="fonts-noto-cjk is not installed")
def test_installed_cjk_font_is_found_by_file(mini, monkeypatch):
    from matplotlib import font_manager

    _, res = mini
    assert NOTO in fonts.find_cjk_fonts()
    # A stale cache that predates the install: matplotlib's list without any CJK font.
    stale = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    fonts.cjk_font.cache_clear()
    try:
        assert fonts.cjk_font() is not None
        page = report_html(res.plan, res.layers, res.scenario, lang="zh")
        assert "本机未找到中文字体" not in page
    finally:
        fonts.cjk_font.cache_clear()


def test_no_cjk_font_falls_back_to_district_en(mini, monkeypatch):
    _, res = mini
    monkeypatch.setattr(fonts, "find_cjk_fonts", lambda: [])
    fonts.cjk_font.cache_clear()
    try:
        page = report_html(res.plan, res.layers, res.scenario, lang="zh")
    finally:
        monkeypatch.undo()
        fonts.cjk_font.cache_clear()
    assert "本机未找到中文字体" in page
    d = res.layers.districts
    names = list(d["district"].astype(str))
    if "district_en" in d.columns:
        labels, key = district_names(names, res.layers, "en")
        assert labels == [str(e) for e in d["district_en"]] and key == []
    # No district_en and no pinyin: numbers, each with its name in a key under the chart.
    bare = type("L", (), {"districts": d.drop(columns=["district_en"], errors="ignore")})()
    monkeypatch.setattr("siteplan.outputs.report._pinyin", lambda text: None)
    labels, key = district_names(["望海区", "Binhai"], bare, "en")
    assert labels == ["1", "Binhai"] and key == [("1", "望海区")]
