"""The Targets and Rules pages: what saving writes into the scenario, what is refused, and the capacity shown.

Every check reads the file back with tomllib (or its bytes) rather than
through the pages' own code, and the capacity is recomputed here from the
raw parcels layer.
"""

from __future__ import annotations

import math
import re
import tomllib
from html.parser import HTMLParser

import geopandas as gpd
import pytest


def _toml(ws) -> dict:
    return tomllib.loads(ws.scenario.read_text(encoding="utf-8"))


def _form(html: str, form_id: str) -> dict[str, list[str]]:
    """The values a browser would send for form ``form_id`` as the page stands (checked boxes, selected options)."""
    out: dict[str, list[str]] = {}

    class Parser(HTMLParser):
        inside = False
        select: str | None = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form":
                self.inside = a.get("id") == form_id
            if not self.inside:
                return
            if tag == "input" and a.get("name"):
                if a.get("type") == "checkbox":
                    if "checked" in a:
                        out.setdefault(a["name"], []).append(a.get("value", "on"))
                else:
                    out.setdefault(a["name"], []).append(a.get("value") or "")
            elif tag == "select":
                self.select = a.get("name")
            elif tag == "option" and self.select and "selected" in a:
                out.setdefault(self.select, []).append(a["value"])

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            if tag == "form":
                self.inside = False

    Parser().feed(html)
    return out


def _text(html: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert m, f"no element {element_id}"
    return m.group(1)


# ---------------------------------------------------------------------------- targets


def test_targets_page_shows_the_table(client):
    r = client.get("/targets")
    assert r.status_code == 200
    assert 'id="targets-table"' in r.text and 'name="t.public_rental.2016"' in r.text
    assert "公共租赁住房" in r.text
    form = _form(r.text, "targets-form")
    assert form["t.public_rental.2016"] == ["600"] and form["t.public_rental.2017"] == ["400"]
    assert form["zone.name.0"] == ["东区"] and form["zone.total.0"] == ["300"]
    assert 'id="paste-block"' in r.text and 'id="paste-apply"' in r.text and 'id="targets-mode"' in r.text
    assert "Public rental" in client.get("/targets?lang=en").text


def test_saving_targets_writes_yearly_values_and_keeps_comments(client, mini_ws):
    path = mini_ws.scenario
    path.write_text("# 本方案由规划局编制，请勿删除此行\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    form = _form(client.get("/targets").text, "targets-form")
    form.update({"t.public_rental.2016": ["1,200"], "t.public_rental.2017": ["８００"], "zone.total.0": ["500"],
                 "district.name.7": ["西城区"], "district.total.7": [""], "district.7.2016": ["100"],
                 "district.7.2017": ["50"]})
    r = client.post("/targets/save", data=form)
    assert r.status_code == 303, r.text
    data = _toml(mini_ws)
    assert data["types"]["public_rental"]["targets"] == [1200, 800]
    assert data["zones"] == {"东区": 500}
    assert data["districts"] == {"西城区": [100, 50]}
    assert "# 本方案由规划局编制，请勿删除此行" in path.read_text(encoding="utf-8")
    assert data["rules"]["transit"]["within_m"] == 800  # the rest is untouched


def test_cumulative_entry_is_saved_as_yearly_differences(client, mini_ws):
    form = _form(client.get("/targets").text, "targets-form")
    form.update({"mode": ["cumulative"], "t.public_rental.2016": ["700"], "t.public_rental.2017": ["1,000"],
                 "zone.name.0": ["东区"], "zone.total.0": [""], "zone.0.2016": ["100"], "zone.0.2017": ["250"]})
    assert client.post("/targets/save", data=form).status_code == 303
    data = _toml(mini_ws)
    assert data["types"]["public_rental"]["targets"] == [700, 300]
    assert data["zones"]["东区"] == [100, 150]


def test_a_falling_running_total_is_refused(client, mini_ws):
    before = mini_ws.scenario.read_bytes()
    form = _form(client.get("/targets").text, "targets-form")
    form.update({"mode": ["cumulative"], "t.public_rental.2016": ["700"], "t.public_rental.2017": ["600"]})
    r = client.post("/targets/save", data=form)
    assert r.status_code == 400
    errors = _text(r.text, "targets-errors") + r.text
    assert "公共租赁住房 2017年" in errors and "累计" in errors
    assert mini_ws.scenario.read_bytes() == before


@pytest.mark.parametrize("bad", ["12a", "-5", "3.5", ""])
def test_a_cell_that_is_no_whole_number_is_refused(client, mini_ws, bad):
    before = mini_ws.scenario.read_bytes()
    form = _form(client.get("/targets").text, "targets-form")
    form["t.public_rental.2017"] = [bad]
    r = client.post("/targets/save", data=form)
    assert r.status_code == 400
    m = re.search(r'id="targets-errors".*?</div>', r.text, re.S)
    assert m and "公共租赁住房" in m.group(0) and "2017" in m.group(0)
    assert mini_ws.scenario.read_bytes() == before
    # the planner's input is shown again, to be corrected
    assert _form(r.text, "targets-form")["t.public_rental.2017"] == [bad]


def test_capacity_shown_equals_an_independent_count(client, mini_ws):
    parcels = gpd.read_file(mini_ws.folder / "parcels.gpkg")
    scenario = _toml(mini_ws)
    types = scenario["types"]
    units = sum(sum(t["targets"]) for t in types.values())
    mean_area = sum(sum(t["targets"]) * t["unit_area_m2"] for t in types.values()) / units
    candidates = parcels[parcels["status"] == "reserve"]  # the mini city's candidate status (the default)
    html = client.get("/targets").text
    for year in (2016, 2017):
        ready = candidates[candidates["available_year"] <= year]
        expected = math.floor(float((ready.geometry.area * ready["far_max"]).sum()) / mean_area + 1e-6)
        shown = re.search(rf'id="capacity-{year}" data-value="(\d+)">([\d,]+)<', html)
        assert shown, f"no capacity for {year}"
        assert int(shown.group(1)) == expected
        assert int(shown.group(2).replace(",", "")) == expected
    assert expected == 3200  # 8 parcels of 1 ha at plot ratio 2, 50 m2 a unit
    assert 'id="capacity-districts"' in html and "东城区" in html


def test_capacity_is_computed_once_per_file_state(client, mini_ws, monkeypatch):
    import siteplan.check

    calls = []
    real = siteplan.check.check

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(siteplan.check, "check", counting)
    client.get("/targets")
    client.get("/targets")
    assert len(calls) == 1
    form = _form(client.get("/targets").text, "targets-form")
    form["t.public_rental.2016"] = ["500"]
    assert client.post("/targets/save", data=form).status_code == 303
    client.get("/targets")
    assert len(calls) == 2


def test_capacity_missing_is_said_not_raised(client, mini_ws):
    (mini_ws.folder / "parcels.gpkg").unlink()
    r = client.get("/targets")
    assert r.status_code == 200
    assert 'id="capacity-missing"' in r.text and 'id="targets-table"' in r.text
    assert "Traceback" not in r.text


def test_targets_read_from_a_file_are_written_in_and_the_file_key_removed(client, mini_ws):
    folder = mini_ws.folder
    (folder / "targets.csv").write_text("类型,2016年,2017年\n公租房,650,350\n", encoding="utf-8")
    text = mini_ws.scenario.read_text(encoding="utf-8").replace("targets = [600, 400]\n", "")
    text = text.replace('[zones]', '[targets]\nfile = "targets.csv"\n\n[zones]')
    mini_ws.scenario.write_text(text, encoding="utf-8")
    r = client.get("/targets")
    assert 'id="targets-from-file"' in r.text and "targets.csv" in _text(r.text, "targets-from-file")
    form = _form(r.text, "targets-form")
    assert form["t.public_rental.2016"] == ["650"]
    assert client.post("/targets/save", data=form).status_code == 303
    data = _toml(mini_ws)
    assert "targets" not in data
    assert data["types"]["public_rental"]["targets"] == [650, 350]


def test_names_from_the_page_are_escaped(client, mini_ws):
    form = _form(client.get("/targets").text, "targets-form")
    form["zone.name.0"] = ["</script><b>东区</b>"]
    assert client.post("/targets/save", data=form).status_code == 303
    assert _toml(mini_ws)["zones"] == {"</script><b>东区</b>": 300}
    html = client.get("/targets").text
    assert "<b>东区</b>" not in html and "&lt;b&gt;东区&lt;/b&gt;" in html


# ---------------------------------------------------------------------------- rules


def test_rules_page_has_a_box_per_rule(client):
    html = client.get("/rules").text
    for name in ("yearly_targets", "plot_ratio", "zone_targets", "district_share", "project_size", "radius_cap",
                 "max_projects", "transit", "services", "parks", "inclusionary", "lock_in", "lock_out", "budget"):
        assert f'id="rule-{name}"' in html
    assert 'id="rule-transit-on"' in html and 'id="rule-yearly_targets-on"' not in html
    assert "800米" in _text(html, "rule-transit-text")
    form = _form(html, "rules-form")
    assert form["r.transit.share"] == ["50"]  # 0.5 in the file, a percentage on the page
    assert "on.transit" in form and "on.district_share" not in form


def test_saving_the_rules_unchanged_changes_nothing(client, mini_ws):
    before = mini_ws.scenario.read_bytes()
    form = _form(client.get("/rules").text, "rules-form")
    assert client.post("/rules/save", data=form).status_code == 303
    assert mini_ws.scenario.read_bytes() == before


def test_switching_a_rule_off_and_on(client, mini_ws):
    form = _form(client.get("/rules").text, "rules-form")
    del form["on.transit"]
    assert client.post("/rules/save", data=form).status_code == 303
    assert _toml(mini_ws)["rules"]["transit"]["enabled"] is False
    assert "（未启用）" in _text(client.get("/rules").text, "rule-transit-text")
    form = _form(client.get("/rules").text, "rules-form")
    assert "on.transit" not in form
    form["on.transit"] = ["on"]
    assert client.post("/rules/save", data=form).status_code == 303
    rules = _toml(mini_ws)["rules"]
    assert rules["transit"]["enabled"] is True
    assert rules["transit"]["share"] == 0.5 and rules["transit"]["within_m"] == 800


def test_switching_an_absent_rule_on_creates_it_with_the_defaults(client, mini_ws):
    form = _form(client.get("/rules").text, "rules-form")
    form["on.inclusionary"] = ["on"]
    assert client.post("/rules/save", data=form).status_code == 303
    inclusionary = _toml(mini_ws)["rules"]["inclusionary"]
    assert inclusionary["ratio"] == 0.05 and inclusionary["types"] == ["public_rental"]
    assert "5%" in _text(client.get("/rules").text, "rule-inclusionary-text")


def test_an_invalid_rule_setting_is_refused_with_the_readers_message(client, mini_ws):
    before = mini_ws.scenario.read_bytes()
    form = _form(client.get("/rules").text, "rules-form")
    form.update({"on.district_share": ["on"], "r.district_share.min_share": ["30"], "r.district_share.max_share": ["20"]})
    r = client.post("/rules/save", data=form)
    assert r.status_code == 400
    refused = re.search(r'id="rules-refused".*?</div>', r.text, re.S)
    assert refused and "min_share 0.3 is above max_share 0.2" in refused.group(0)
    assert mini_ws.scenario.read_bytes() == before
    form_again = _form(r.text, "rules-form")
    assert form_again["r.district_share.min_share"] == ["30"] and "on.district_share" in form_again


def test_a_number_that_is_no_number_is_refused(client, mini_ws):
    before = mini_ws.scenario.read_bytes()
    form = _form(client.get("/rules").text, "rules-form")
    form["r.project_size.max_units"] = ["很多"]
    r = client.post("/rules/save", data=form)
    assert r.status_code == 400 and "项目规模" in r.text and "很多" in r.text
    assert mini_ws.scenario.read_bytes() == before


def test_the_rule_sentence_says_the_value_set(client, mini_ws):
    form = _form(client.get("/rules").text, "rules-form")
    form["r.transit.within_m"] = ["600"]
    form["r.transit.share"] = ["40%"]
    assert client.post("/rules/save", data=form).status_code == 303
    transit = _toml(mini_ws)["rules"]["transit"]
    assert transit["within_m"] == 600 and isinstance(transit["within_m"], int)
    assert transit["share"] == 0.4
    sentence = _text(client.get("/rules").text, "rule-transit-text")
    assert "600米" in sentence and "40%" in sentence
    assert "600 m" in _text(client.get("/rules?lang=en").text, "rule-transit-text")


def test_an_optional_setting_left_empty_is_removed(client, mini_ws):
    form = _form(client.get("/rules").text, "rules-form")
    form["r.project_size.max_units"] = [""]
    assert client.post("/rules/save", data=form).status_code == 303
    project_size = _toml(mini_ws)["rules"]["project_size"]
    assert "max_units" not in project_size and project_size["min_units"] == 100
