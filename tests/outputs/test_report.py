"""report.html: one self-contained page with settings, charts, compliance, solver and thumbnail."""

from __future__ import annotations

import base64
import re

import pytest

from siteplan.outputs.offline import remote_references
from siteplan.pipeline import run
from siteplan.outputs.report import report_html


@pytest.fixture(scope="module")
def mini_report(tmp_path_factory):
    from tests.cities import MINI_SCENARIO, write_mini_city

    folder = tmp_path_factory.mktemp("report")
    # A hostile plan title: it must come out as text.
    scenario = write_mini_city(folder / "city", scenario=MINI_SCENARIO.replace('name = "mini"', 'name = "mini"\ntitle = "<script>alert(1)</script>演示"'))
    out = folder / "out"
    result = run(scenario, out_dir=out)
    return out, result


def test_report_is_self_contained(mini_report):
    out, _ = mini_report
    text = (out / "report.html").read_text(encoding="utf-8")
    assert remote_references(text) == []
    assert "<script" not in text.lower()  # no script at all; the title's is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;演示" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!data:)[a-z]+:""", text, re.I)


def test_report_sections_and_numbers(mini_report):
    out, result = mini_report
    text = (out / "report.html").read_text(encoding="utf-8")
    for heading in ("情景设置", "落实情况", "规则核验", "求解", "方案示意图"):
        assert f">{heading}<" in text
    # Three embedded PNGs: two charts and the thumbnail, each a real PNG.
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(pngs) == 3
    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    # Compliance: one row per rule of the plan; the solver's status; units placed.
    comp = result.plan.compliance()
    for rule in comp["rule"]:  # each rule by its name in words, its code under it
        assert f"<div class='code'>{rule}</div>" in text
    assert result.plan.status.text("zh") in text  # the plan's one status, in the report's language
    assert f"{int(result.plan.units['units'].sum()):,}" in text
    # The scenario's targets (600 / 400 in the mini scenario) are shown.
    assert "600 / 400" in text


def test_english_report(mini_report):
    _, result = mini_report
    text = report_html(result.plan, result.layers, result.scenario, lang="en")
    assert ">Scenario settings<" in text and ">Compliance<" in text and 'lang="en"' in text
