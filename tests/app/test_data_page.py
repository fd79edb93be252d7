"""The Data page: choosing the folder, making and correcting the scenario, the check and the layers' map.

The scenario file is read back with tomllib (not through the page's code),
and the map's HTML is searched for remote references with
:func:`siteplan.outputs.remote_refs.remote_references`.
"""

from __future__ import annotations

import re
import tomllib

import geopandas as gpd
import pytest
import shapely.affinity

from siteplan.app.server import Workspace
from siteplan.outputs.remote_refs import remote_references
from tests.app.conftest import make_client
from tests.cities import write_mini_city

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def kit_client(kit_ws):
    return make_client(kit_ws)


def _made(kit_ws, kit_client) -> dict:
    r = kit_client.post("/data/init")
    assert r.status_code == 303, r.text
    return tomllib.loads(kit_ws.scenario.read_text(encoding="utf-8"))


def test_kit_page_lists_the_files_and_offers_a_scenario(kit_ws, kit_client):
    r = kit_client.get("/data")
    assert r.status_code == 200
    page = r.text
    assert 'id="files-table"' in page
    for name in ("控规地块.shp", "区县.shp", "地铁站点.geojson", "地铁线路.shp", "保障房目标.xlsx"):
        assert name in page
    assert 'id="make-scenario"' in page and "根据文件生成方案" in page
    assert not kit_ws.scenario.exists()
    assert "Make a scenario from these files" in kit_client.get("/data?lang=en").text


def test_generate_writes_the_scenario_and_the_page_shows_it(kit_ws, kit_client):
    data = _made(kit_ws, kit_client)
    assert data["layers"]["parcels"] == "控规地块.shp"
    assert data["fields"]["parcels"]["parcel_id"] == "地块编号"
    page = kit_client.get("/data").text
    assert 'id="scenario-in-use"' in page
    # the form shows what the file says: the parcels' file selected, the parcel id's column selected
    assert re.search(r'<option value="控规地块.shp" selected>', page)
    select = re.search(r'<select name="f.parcels.parcel_id".*?</select>', page, re.S).group(0)
    assert re.search(r'<option value="地块编号" selected>', select)
    # the land-use codes found, with counts (R2 12 times in the kit)
    table = re.search(r'<table id="land-use-table">.*?</table>', page, re.S).group(0)
    assert re.search(r"<td>R2</td><td>[^<]*</td><td class=\"num\">12</td>", table)
    # the check report sits beside it, in the checks' own words
    assert 'id="check-report"' in page and "dropped the Z values" in page
    assert 'id="layers-map"' in page and 'src="/data/map"' in page
    # a second generate does not overwrite: the message says why
    again = kit_client.post("/data/init")
    assert again.status_code == 400 and "exists already" in again.text


def test_save_changes_exactly_the_corrected_key_and_keeps_comments(kit_ws, kit_client):
    before_data = _made(kit_ws, kit_client)
    before = kit_ws.scenario.read_text(encoding="utf-8")
    comment = "# Every guess is one line with the reason after #. Correct what is wrong, fill every TODO,"
    assert comment in before
    page = kit_client.get("/data").text
    # send the form as the page has it, with one correction: the parcels' name taken from 用地面积
    form = _form_values(page)
    assert form["f.parcels.name"] == ""
    form["f.parcels.name"] = "用地面积"
    r = kit_client.post("/data/save", data=form)
    assert r.status_code == 303, r.text
    after = kit_ws.scenario.read_text(encoding="utf-8")
    data = tomllib.loads(after)
    assert data["fields"]["parcels"]["name"] == "用地面积"
    del data["fields"]["parcels"]["name"]
    assert data == before_data  # nothing else changed
    assert comment in after
    assert "parcel_id = \"地块编号\"   # column 地块编号" in after  # untouched lines keep their reasons
    # and the land-use codes save as lists
    form["plan.candidate_land_use"] = "R2，R21、 0701"
    form["plan.inclusionary_land_use"] = ""
    assert kit_client.post("/data/save", data=form).status_code == 303
    data = tomllib.loads(kit_ws.scenario.read_text(encoding="utf-8"))
    assert data["plan"]["candidate_land_use"] == ["R2", "R21", "0701"]
    assert "inclusionary_land_use" not in data["plan"]


def test_save_refuses_a_column_or_file_not_offered(kit_ws, kit_client):
    _made(kit_ws, kit_client)
    before = kit_ws.scenario.read_bytes()
    form = _form_values(kit_client.get("/data").text)
    for key, value in (("f.parcels.name", "no such column"), ("layer.parcels", "../../etc/passwd")):
        r = kit_client.post("/data/save", data={**form, key: value})
        assert r.status_code == 400
        assert "no such column" in r.text or "passwd" in r.text
        assert kit_ws.scenario.read_bytes() == before


@pytest.mark.parametrize("name", ["../", "/etc", "..", "规划数据/../../"])
def test_folder_outside_the_root_is_refused(kit_ws, kit_client, name):
    folder, scenario = kit_ws.folder, kit_ws.scenario
    state = kit_ws.state_file.read_text(encoding="utf-8")
    r = kit_client.post("/data/folder", data={"folder": name})
    assert 400 <= r.status_code < 500
    assert "不在工作文件夹" in r.text
    assert (kit_ws.folder, kit_ws.scenario) == (folder, scenario)
    assert kit_ws.state_file.read_text(encoding="utf-8") == state


def test_choosing_a_subfolder_and_back(kit_ws, kit_client):
    kit = kit_ws.folder
    (kit / "其他").mkdir()
    page = kit_client.get("/data").text
    assert 'value="规划数据/其他"' in page
    r = kit_client.post("/data/folder", data={"folder": "规划数据/其他"})
    assert r.status_code == 303
    assert kit_ws.folder == kit / "其他" and kit_ws.scenario == kit / "其他" / "scenario.toml"
    page = kit_client.get("/data").text
    assert 'id="no-files"' in page
    # the folder is remembered across restarts
    assert Workspace.open(kit_ws.root, start_queue=False).folder == kit / "其他"
    assert kit_client.post("/data/folder", data={"folder": "规划数据/nowhere"}).status_code == 404
    assert kit_client.post("/data/folder", data={"folder": "."}).status_code == 303
    assert kit_ws.folder == kit_ws.root


def test_generate_in_a_folder_without_layers_says_why(kit_ws, kit_client):
    (kit_ws.folder / "空").mkdir()
    kit_client.post("/data/folder", data={"folder": "规划数据/空"})
    r = kit_client.post("/data/init")
    assert r.status_code == 400
    assert "holds no vector layer" in r.text and "Traceback" not in r.text
    assert not kit_ws.scenario.exists()


@pytest.fixture
def odd_ws(tmp_path):
    """The mini city with a parcel named like a script, and parcel P7 moved 100 km out to sea."""
    scenario = write_mini_city(tmp_path / "city")
    parcels = gpd.read_file(tmp_path / "city" / "parcels.gpkg")
    parcels.loc[0, "name"] = SCRIPT
    parcels.loc[7, "geometry"] = shapely.affinity.translate(parcels.loc[7, "geometry"], 60_000, -80_000)
    parcels.to_file(tmp_path / "city" / "parcels.gpkg", engine="pyogrio")
    ws = Workspace.open(tmp_path, scenario, start_queue=False)
    yield ws
    ws.runs.stop()


def test_a_script_name_is_shown_escaped(odd_ws):
    client = make_client(odd_ws)
    page = client.get("/data").text
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # in the parcels' first rows
    html = client.get("/data/map").text
    assert SCRIPT not in html
    assert "alert(1)" in html  # drawn, but only as escaped text inside the map's data
    for m in re.finditer(r"alert\(1\)", html):  # each time as &lt;script&gt; (or its JSON form \u0026lt;)
        assert re.search(r"(&|\\u0026)lt;script(&|\\u0026)gt;$", html[max(0, m.start() - 30):m.start()])


def test_the_map_is_offline_and_names_parcels_outside_districts(odd_ws):
    client = make_client(odd_ws)
    r = client.get("/data/map")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert remote_references(html) == []
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?://", html)
    assert "1 个地块不在任何行政区内" in html
    assert "#e53935" in html  # the red fill of a parcel outside
    page = client.get("/data").text
    assert re.search(r'id="outside-count">1 个地块不在任何行政区内', page)
    assert "lie outside every district polygon" in page and "level-error" in page
    assert "1 parcels lie in no district" in client.get("/data/map?lang=en").text


def test_the_map_fits_parcels_far_out(odd_ws):
    html = make_client(odd_ws).get("/data/map").text
    bounds = re.search(r"fitBounds\(\s*\[\[([-\d.]+),\s*([-\d.]+)\],\s*\[([-\d.]+),\s*([-\d.]+)\]\]", html)
    assert bounds, "the map fits its view to the layers"
    south, west, north, east = map(float, bounds.groups())
    # the districts span about 2.6 km; the parcel at sea lies 60 km east and 80 km south of them
    assert north - south > 0.5 and east - west > 0.5


def test_clean_mini_city_and_the_check_is_kept(client, mini_ws, monkeypatch):
    page = client.get("/data").text
    assert 'id="outside-count"' in page and "所有地块都在行政区内" in page
    import siteplan.check

    calls = []
    real = siteplan.check.check
    monkeypatch.setattr(siteplan.check, "check", lambda path: calls.append(path) or real(path))
    client.get("/data")
    client.get("/data/map")
    assert calls == []  # nothing changed since the first look: no second check
    mini_ws.scenario.write_text(mini_ws.scenario.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    client.get("/data")
    assert len(calls) == 1


def test_map_without_scenario_says_so(kit_ws, kit_client):
    r = kit_client.get("/data/map")
    assert r.status_code == 200 and "尚无方案文件" in r.text


def test_demo_layers_outside_the_folder_stay_choices(tmp_path):
    """A scenario whose layers lie in another folder (as the demo's do) keeps them selected."""
    city = tmp_path / "city"
    write_mini_city(city)
    (tmp_path / "plans").mkdir()
    text = (city / "scenario.toml").read_text(encoding="utf-8").replace('= "', '= "../city/').replace(
        'name = "../city/mini"', 'name = "mini"')
    (tmp_path / "plans" / "scenario.toml").write_text(text, encoding="utf-8")
    ws = Workspace.open(tmp_path, tmp_path / "plans" / "scenario.toml", start_queue=False)
    try:
        page = make_client(ws).get("/data").text
        assert re.search(r'<option value="../city/parcels.gpkg" selected>', page)
        select = re.search(r'<select name="f.parcels.parcel_id".*?</select>', page, re.S).group(0)
        assert 'selected' in select and "parcel_id" in select
    finally:
        ws.runs.stop()


def _form_values(page: str) -> dict[str, str]:
    """The values the data form would send as the page stands (selected options and text inputs)."""
    form = re.search(r'<form method="post" action="/data/save".*?</form>', page, re.S).group(0)
    values = {}
    for m in re.finditer(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', m.group(2)) or re.search(r'<option value="([^"]*)"', m.group(2))
        values[_unescape(m.group(1))] = _unescape(chosen.group(1))
    for m in re.finditer(r'<input type="text" name="([^"]+)"[^>]*value="([^"]*)"', form):
        values[_unescape(m.group(1))] = _unescape(m.group(2))
    return values


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_form_reader_sees_every_role(kit_ws, kit_client):
    _made(kit_ws, kit_client)
    form = _form_values(kit_client.get("/data").text)
    assert {f"layer.{r}" for r in ("parcels", "districts", "stations", "lines", "services", "parks", "constraints",
                                   "population")} <= set(form)
    assert form["layer.services"] == "" and form["layer.districts"] == "区县.shp"
    # saving the form unchanged leaves the file byte for byte as it was
    before = kit_ws.scenario.read_bytes()
    assert kit_client.post("/data/save", data=form).status_code == 303
    assert kit_ws.scenario.read_bytes() == before



def test_gaode_stations_are_marked_gcj02_and_back(kit_ws):
    """The kit's stations are lon/lat from Gaode: the planner says so in a dropdown, and the check converts them."""
    import tomllib

    from tests.app.conftest import make_client

    c = make_client(kit_ws)
    assert c.post("/data/init").status_code == 303
    page = c.get("/data").text
    assert 'id="datum-stations"' in page and 'id="datum-parcels"' not in page  # only lon/lat layers ask
    before = kit_ws.scenario.read_text(encoding="utf-8")
    assert c.post("/data/save", data={"datum.stations": "gcj02"}).status_code == 303
    after = kit_ws.scenario.read_text(encoding="utf-8")
    assert tomllib.loads(after)["layers"]["datum"] == {"stations": "gcj02"}
    assert "# stations = \"gcj02\"" in after  # init's commented example stays
    assert len(after.splitlines()) == len(before.splitlines()) + 1
    assert "GCJ-02" in c.get("/data").text  # the check report says it converted them
    assert c.post("/data/save", data={"datum.stations": ""}).status_code == 303
    assert tomllib.loads(kit_ws.scenario.read_text(encoding="utf-8"))["layers"].get("datum", {}) == {}
    assert kit_ws.scenario.read_text(encoding="utf-8") == before  # back as init wrote it
    assert c.post("/data/save", data={"datum.stations": "bd09"}).status_code == 400


def test_a_folder_of_several_scenarios_lets_the_planner_pick_one(tmp_path):
    """A folder with two scenario files (compared scenarios): the planner picks one; names that leave the folder are refused."""
    import shutil

    from siteplan.app.server import Workspace
    from tests.app.conftest import make_client
    from tests.cities import write_mini_city

    scenario = write_mini_city(tmp_path / "city")
    other = scenario.with_name("transit-600.toml")
    shutil.copy(scenario, other)
    ws = Workspace.open(tmp_path, scenario, start_queue=False)
    try:
        c = make_client(ws)
        page = c.get("/data").text
        assert 'id="scenario-choose"' in page and "transit-600.toml" in page
        assert c.post("/data/scenario", data={"scenario": "transit-600.toml"}).status_code == 303
        assert ws.scenario == other.resolve()
        assert "city/transit-600.toml" in c.get("/data").text
        for bad in ("../city/scenario.toml", "/etc/passwd", "x.toml", "scenario.txt"):
            assert c.post("/data/scenario", data={"scenario": bad}).status_code in (403, 404), bad
            assert ws.scenario == other.resolve()
    finally:
        ws.runs.stop()
