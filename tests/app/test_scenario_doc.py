"""The scenario file as the app edits it: comments and untouched lines kept, the same settings as siteplan run reads."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from siteplan.app.scenario_doc import ScenarioDoc
from siteplan.errors import ScenarioError
from siteplan.inputs.scenario import load_scenario

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "demo-2016-2020.toml"


@pytest.fixture
def demo_copy(tmp_path):
    target = tmp_path / "scenarios" / "demo.toml"
    target.parent.mkdir()
    shutil.copy(DEMO, target)
    shutil.copytree(DEMO.parents[1] / "layers", tmp_path / "layers")
    return target


def test_an_edit_changes_its_line_only(demo_copy):
    before = demo_copy.read_text(encoding="utf-8").splitlines()
    doc = ScenarioDoc(demo_copy)
    doc.set("rules.transit.within_m", 600)
    doc.set("rules.transit.share", 0.5)  # unchanged: the line stays as written
    doc.save()
    after = demo_copy.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after)
    assert changed == [("within_m = 800", "within_m = 600")]
    assert load_scenario(demo_copy).rules.transit.within_m == 600


def test_a_value_keeps_its_comment(demo_copy):
    doc = ScenarioDoc(demo_copy)
    doc.set("plan.net_to_gross", 0.75)
    doc.save()
    line = next(x for x in demo_copy.read_text(encoding="utf-8").splitlines() if x.startswith("net_to_gross"))
    assert line.split("#")[0].strip() == "net_to_gross = 0.75"
    assert "gross land = net land / 0.8" in line


def test_set_table_holds_exactly_the_values(demo_copy):
    doc = ScenarioDoc(demo_copy)
    doc.set_table("zones", {"东岸城区": 17000, "新城": 100})
    doc.save()
    assert tomllib.loads(demo_copy.read_text(encoding="utf-8"))["zones"] == {"东岸城区": 17000, "新城": 100}
    assert "# units over the whole plan" in demo_copy.read_text(encoding="utf-8")


def test_problem_words_what_siteplan_run_would_refuse(demo_copy):
    doc = ScenarioDoc(demo_copy)
    assert doc.problem() is None
    doc.set("rules.district_share.min_share", 0.5)
    doc.set("rules.district_share.max_share", 0.2)
    problem = doc.problem()
    assert problem is not None and "min_share" in problem
    with pytest.raises(ScenarioError) as err:
        load_scenario_from(doc)
    assert str(err.value) == problem


def load_scenario_from(doc: ScenarioDoc):
    doc.save()
    return load_scenario(doc.path)


def test_a_broken_file_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[plan\nname = 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="bad.toml"):
        ScenarioDoc(bad)
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes("[plan]\ntitle = \"示范\"\n".encode("gbk"))
    with pytest.raises(ScenarioError, match="UTF-8"):
        ScenarioDoc(gbk)


def test_save_leaves_no_temporary_file(demo_copy):
    doc = ScenarioDoc(demo_copy)
    doc.set("solver.time_limit_s", 60)
    doc.save()
    assert sorted(p.name for p in demo_copy.parent.iterdir()) == ["demo.toml"]


def test_a_table_made_here_ends_with_a_blank_line(demo_copy):
    doc = ScenarioDoc(demo_copy)
    doc.delete("rules.budget")
    doc.set("rules.budget.per_year_yi_yuan", [10, 11, 12, 13, 14])
    doc.space_after("rules.budget")
    doc.space_after("rules.budget")  # once is enough
    text = doc.text()
    block = text[text.index("[rules.budget]"):]
    assert block.split("\n")[:3] == ["[rules.budget]", "per_year_yi_yuan = [10, 11, 12, 13, 14]", ""]
    assert "\n\n\n" not in block
