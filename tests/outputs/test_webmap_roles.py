"""The map tells new land from 配建, follows the year filter, fits the plan and prints; exports carry the role.

A mini city whose parcels P3 and P6 are commercial projects (status
``commercial``) carrying a 20 % inclusionary share is solved and written.
Every expectation is recomputed from the raw layers and ``allocation.csv``:
which used parcels are 配建 hosts (their status in ``parcels.gpkg``), each
parcel's main type and units, the stations' opening years, the districts'
extent. The map is opened in headless Chromium with the network off
(tests/browser.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from siteplan.outputs.styles import TYPE_COLOURS
from siteplan.pipeline import run
from tests.browser import open_offline
from tests.cities import MINI_SCENARIO, write_mini_city

COMMERCIAL = ("P3", "P6")
UNIT_AREA = 50.0  # MINI_SCENARIO's public rental units

_MAP = "const map = Object.values(window).find(v => v instanceof L.Map);"
_FRAME = "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));"


@pytest.fixture(scope="module")
def incl_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("incl")
    scenario = MINI_SCENARIO + '\n[rules.inclusionary]\nstatus = "commercial"\nratio = 0.2\ntypes = ["public_rental"]\n'
    path = write_mini_city(folder / "city", scenario=scenario)
    parcels = gpd.read_file(folder / "city" / "parcels.gpkg")
    parcels.loc[parcels["parcel_id"].isin(COMMERCIAL), "status"] = "commercial"
    parcels.to_file(folder / "city" / "parcels.gpkg", engine="pyogrio")
    out = folder / "out"
    result = run(path, out_dir=out, shapefile=True)
    return folder, out, result


def expected(folder: Path, out: Path) -> pd.DataFrame:
    """Per used parcel, from the raw layer and allocation.csv: role, main type, units, year, affordable floor area."""
    raw = gpd.read_file(folder / "city" / "parcels.gpkg").set_index("parcel_id")
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig")
    by = alloc.groupby("parcel_id")
    units_by_type = alloc.pivot_table(index="parcel_id", columns="type", values="units", aggfunc="sum", fill_value=0)
    df = pd.DataFrame({
        "year": by["year"].first(),
        "units": by["units"].sum(),
        "csv_role": by["role"].agg(lambda r: ",".join(sorted(set(r)))),
        "main_type": units_by_type.idxmax(axis=1),
    })
    df["role"] = ["inclusionary" if raw.loc[p, "status"] == "commercial" else "new" for p in df.index]
    df["floor"] = df["units"] * UNIT_AREA
    return df


def test_new_land_and_inclusionary_are_drawn_apart(incl_run, tmp_path):
    folder, out, _ = incl_run
    exp = expected(folder, out)
    assert (exp["role"] == exp["csv_role"]).all()  # allocation.csv agrees with the raw layer
    assert set(exp["role"]) == {"new", "inclusionary"}, "the city must use both kinds of land"
    script = f"""
(async () => {{
  {_FRAME} {_MAP}
  const parcels = [];
  map.eachLayer(l => {{
    if (l.feature && l.getElement && l.getElement() && l.getElement().classList.contains('sp-parcel')) {{
      const e = l.getElement();
      parcels.push({{id: l.feature.properties.parcel_id, fill: e.getAttribute('fill'), stroke: e.getAttribute('stroke'),
        fillOpacity: parseFloat(e.getAttribute('fill-opacity')), width: parseFloat(e.getAttribute('stroke-width')),
        cls: e.getAttribute('class')}});
    }}
  }});
  return {{parcels, legend: [...document.querySelectorAll('#sp-legend .sp-legend-role')].map(d => d.textContent)}};
}})()
"""
    res = open_offline(out / "map.html", tmp_path / "profile", script)
    assert res["loaded"] and res["requests"] == [] and res["errors"] == [], res
    drawn = {p["id"]: p for p in res["value"]["parcels"]}
    assert set(drawn) == set(exp.index)

    def kind(p):  # by the drawn style alone
        if p["fillOpacity"] >= 0.5:
            return "new"
        if p["fillOpacity"] <= 0.2 and p["width"] >= 3:
            return "inclusionary"
        return "other"

    counts = pd.Series({pid: kind(p) for pid, p in drawn.items()}).value_counts().to_dict()
    assert counts == exp["role"].value_counts().to_dict()
    for pid, p in drawn.items():
        assert kind(p) == exp.loc[pid, "role"], pid
        colour = TYPE_COLOURS[exp.loc[pid, "main_type"]].lower()
        assert p["fill"].lower() == colour and p["stroke"].lower() == colour, pid
        assert f"sp-role-{exp.loc[pid, 'role']}" in p["cls"].split()
    legend = res["value"]["legend"]
    assert len(legend) == 2 and "实心" in legend[0] and "新增用地" in legend[0] and "勾边" in legend[1] and "配建" in legend[1]


def test_view_controls_scale_and_language(incl_run, tmp_path):
    folder, out, result = incl_run
    exp = expected(folder, out)
    west, south, east, north = gpd.read_file(folder / "city" / "districts.gpkg").to_crs(4326).total_bounds
    script = f"""
(async () => {{
  {_FRAME} {_MAP}
  const inView = () => {{
    const b = map.getBounds(); const ids = [];
    map.eachLayer(l => {{ if (l.feature && l.feature.properties.role_drawn && b.contains(l.getBounds())) ids.push(l.feature.properties.parcel_id); }});
    return ids;
  }};
  const first = {{zoom: map.getZoom(), ids: inView()}};
  document.querySelector('.sp-view-city').click();
  await new Promise(r => setTimeout(r, 400));
  const b = map.getBounds();
  const city = {{zoom: map.getZoom(), south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast()}};
  const q = s => document.querySelector(s);
  return {{first, city,
    collapsed: !q('.leaflet-control-layers-expanded') && !!q('.leaflet-control-layers'),
    layersTitle: q('.leaflet-control-layers-toggle').title,
    scales: [...document.querySelectorAll('.leaflet-control-scale-line')].map(e => e.textContent),
    north: !!q('.sp-north-arrow svg'), northTitle: q('.sp-north-arrow').title,
    zoomIn: q('.leaflet-control-zoom-in').title, fullscreen: q('.leaflet-control-zoom-fullscreen').title,
    measure: q('.leaflet-control-measure-toggle').title,
    measureText: q('.leaflet-control-measure').textContent,
    viewButtons: [q('.sp-view-plan').textContent, q('.sp-view-city').textContent],
  }};
}})()
"""
    res = open_offline(out / "map.html", tmp_path / "profile", script, viewport=(1366, 768))
    assert res["loaded"] and res["requests"] == [] and res["errors"] == [], res
    v = res["value"]
    assert sorted(v["first"]["ids"]) == sorted(exp.index)  # the opening view holds every planned parcel
    c = v["city"]
    assert c["zoom"] < v["first"]["zoom"]
    assert c["south"] <= south and c["west"] <= west and c["north"] >= north and c["east"] >= east
    assert v["collapsed"] and v["layersTitle"] == "图层"
    assert len(v["scales"]) == 1 and re.fullmatch(r"\d+ k?m", v["scales"][0]), v["scales"]  # metric only
    assert v["north"] and v["northTitle"] == "指北针"
    assert (v["zoomIn"], v["fullscreen"], v["measure"]) == ("放大", "全屏显示", "同时测量距离和面积")
    assert "测量" in v["measureText"] and "Measure" not in v["measureText"]
    assert v["viewButtons"] == ["规划地块", "全市"]
    # English titles in an English map
    from siteplan.outputs.webmap import render_map

    en = render_map(result.plan, result.layers, result.scenario, tmp_path / "en.html", lang="en")
    res = open_offline(en, tmp_path / "profile-en", f"""(async () => {{ {_FRAME}
      const q = s => document.querySelector(s);
      return [q('.leaflet-control-zoom-in').title, q('.leaflet-control-zoom-fullscreen').title,
              q('.leaflet-control-measure-toggle').title, q('.sp-view-city').textContent, q('.sp-year-modes').textContent]; }})()""")
    assert res["errors"] == [] and res["value"] == ["Zoom in", "Full screen", "Measure distances and areas", "City",
                                                    "Up to the yearThat year only"]


def test_year_filter_buffers_stations_and_labels(incl_run, tmp_path):
    folder, out, _ = incl_run
    exp = expected(folder, out)
    stations = gpd.read_file(folder / "city" / "stations.gpkg").set_index("station")["open_year"]
    years = sorted(exp["year"].unique())
    assert len(years) == 2
    script = f"""
(async () => {{
  {_FRAME} {_MAP}
  const slider = document.querySelector('input.sp-year-slider');
  const modes = [...document.querySelectorAll('input.sp-year-mode')];
  const state = () => {{
    const ids = [], st = {{}};
    map.eachLayer(l => {{
      if (l.feature && l.feature.properties.role_drawn) ids.push(l.feature.properties.parcel_id);
      if (l.feature && l.feature.properties.open_year !== undefined && l instanceof L.CircleMarker)
        st[l.feature.properties.station] = l.getElement().getAttribute('fill');
    }});
    const buffers = [...document.querySelectorAll('path.sp-buffer')]
      .filter(p => p.getAttribute('stroke-opacity') !== '0').map(p => [...p.classList].find(c => /^sp-buffer-\\d+$/.test(c)));
    return {{ids: ids.sort(), stations: st, buffers, label: document.querySelector('.sp-year-label').textContent,
             labels: [...document.querySelectorAll('.sp-parcel-label-text')].map(e => e.textContent)}};
  }};
  const set = async (k, only) => {{
    modes[only ? 1 : 0].checked = true; modes[only ? 1 : 0].dispatchEvent(new Event('change'));
    slider.value = k; slider.dispatchEvent(new Event('input')); {_FRAME}
  }};
  const out = {{}};
  map.setZoom(12, {{animate: false}}); {_FRAME}
  out.all = state();
  await set(0, false); out.first = state();
  await set(1, true); out.secondOnly = state();
  await set(1, false); out.second = state();
  map.setZoom(16, {{animate: false}}); {_FRAME}
  out.zoomed = state();
  await set(0, true); out.zoomedFirst = state();
  return out;
}})()
"""
    res = open_offline(out / "map.html", tmp_path / "profile", script)
    assert res["loaded"] and res["requests"] == [] and res["errors"] == [], res
    v = res["value"]
    by_year = {y: sorted(exp.index[exp["year"] == y]) for y in years}
    assert v["all"]["ids"] == sorted(exp.index) and v["all"]["labels"] == []  # no labels at city zoom
    assert v["first"]["ids"] == by_year[years[0]] and str(years[0]) in v["first"]["label"]
    assert v["secondOnly"]["ids"] == by_year[years[1]] and v["secondOnly"]["label"] == f"{years[1]}年供地"
    assert v["second"]["ids"] == sorted(exp.index) and v["second"]["label"] == f"截至{years[1]}年供地"
    for key, year in (("first", years[0]), ("secondOnly", years[1]), ("second", years[1]), ("all", years[-1])):
        assert v[key]["buffers"] == [f"sp-buffer-{year}"], key
        want = {s: ("#ffffff" if o <= year else "#bdbdbd") for s, o in stations.items()}
        assert v[key]["stations"] == want, key
    assert "#bdbdbd" in v["first"]["stations"].values()  # a station opening later is grey in the first year
    # Labels from zoom 15 on: id and units of each shown parcel, as allocation.csv sums them.
    want = sorted(f"{pid}{exp.loc[pid, 'units']:,}套" for pid in exp.index)
    assert sorted(v["zoomed"]["labels"]) == want
    assert sorted(v["zoomedFirst"]["labels"]) == sorted(f"{pid}{exp.loc[pid, 'units']:,}套" for pid in by_year[years[0]])


def _pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", path.read_bytes()))


@pytest.mark.parametrize(("paper", "size"), [("A4", (11.69, 8.27)), ("A3", (16.54, 11.69))])
def test_print_layout_landscape_one_page(incl_run, tmp_path, paper, size):
    folder, out, _ = incl_run
    exp = expected(folder, out)
    pdf = tmp_path / f"map-{paper}.pdf"
    script = f"""
(async () => {{
  {_FRAME}
  const shown = s => {{ const e = document.querySelector(s); if (!e) return null;
    const r = e.getBoundingClientRect(); return getComputedStyle(e).display !== 'none' && r.width > 0 && r.height > 0; }};
  const q = ['#sp-title', '#sp-legend', '.leaflet-control-scale-line', '.sp-north-arrow', '.sp-year-label',
             '.leaflet-control-zoom', '.leaflet-control-layers', '.leaflet-control-measure', '.leaflet-control-zoom-fullscreen',
             '.sp-view-control', '.sp-year-slider', '#sp-panel'];
  return Object.fromEntries(q.map(s => [s, shown(s)]));
}})()
"""
    w, h = size
    res = open_offline(out / "map.html", tmp_path / "profile", script, media="print", viewport=(int(w * 96), int(h * 96)),
                       pdf=pdf, pdf_options={"landscape": False, "paperWidth": w, "paperHeight": h, "preferCSSPageSize": False})
    assert res["errors"] == [], res["errors"]
    v = res["value"]
    for sel in ("#sp-title", "#sp-legend", ".leaflet-control-scale-line", ".sp-north-arrow", ".sp-year-label"):
        assert v[sel], sel
    for sel in (".leaflet-control-zoom", ".leaflet-control-layers", ".leaflet-control-measure",
                ".leaflet-control-zoom-fullscreen", ".sp-view-control", ".sp-year-slider", "#sp-panel"):
        assert v[sel] is False, sel
    assert pdf.read_bytes().startswith(b"%PDF") and _pdf_pages(pdf) == 1
    if shutil.which("pdftoppm") and shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        for word in ("mini", "住房类型", "实心", "勾边", *exp.index):
            assert word in text, (word, text[:500])


def test_exports_carry_role_and_affordable_floor(incl_run):
    folder, out, _ = incl_run
    exp = expected(folder, out)
    geo = gpd.read_file(out / "allocation.geojson").set_index("parcel_id")
    gpkg = gpd.read_file(out / "plan.gpkg", layer="allocation").set_index("parcel_id")
    for src in (geo, gpkg):
        assert src.loc[exp.index, "role"].tolist() == exp["role"].tolist()
        assert src.loc[exp.index, "affordable_floor_m2"].astype(float).tolist() == exp["floor"].astype(float).tolist()
    shp = gpd.read_file(out / "shapefile" / "allocation.shp", encoding="GBK").set_index("PARCEL_ID")
    assert shp.loc[exp.index, "ROLE"].tolist() == exp["role"].tolist()
    assert shp.loc[exp.index, "AFF_FLR_M2"].astype(float).tolist() == exp["floor"].astype(float).tolist()
    from siteplan.outputs.export import FIELD_LABELS
    from siteplan.outputs.shapefile import shapefile_field_names

    short = shapefile_field_names(["affordable_floor_m2", "role", "floor_area_m2"])
    assert short["affordable_floor_m2"] == "AFF_FLR_M2" and len(set(short.values())) == 3
    assert "保障性住房" in FIELD_LABELS["affordable_floor_m2"]


def test_qgis_style_draws_new_land_filled_and_inclusionary_outlined(incl_run):
    import sqlite3

    folder, out, _ = incl_run
    exp = expected(folder, out)
    with sqlite3.connect(out / "plan.gpkg") as con:
        qml = con.execute("select styleQML from layer_styles where f_table_name = 'allocation'").fetchone()[0]
    root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "RuleRenderer"
    symbols = {s.get("name"): s for s in renderer.find("symbols")}
    parents = renderer.find("rules").findall("rule")
    assert [p.get("filter") for p in parents] == ["\"role\" <> 'inclusionary'", "\"role\" = 'inclusionary'"]

    def matches(rule_filter: str, props: dict) -> bool:  # the two filter shapes the style uses
        m = re.fullmatch(r"\"(\w+)\" (=|<>) '(.*)'", rule_filter)
        return (str(props[m.group(1)]) == m.group(3)) == (m.group(2) == "=")

    for pid, row in exp.iterrows():
        props = {"role": row["role"], "main_type": row["main_type"]}
        hits = [c for p in parents if matches(p.get("filter"), props) for c in p.findall("rule") if matches(c.get("filter"), props)]
        assert len(hits) == 1, pid  # each parcel falls under one rule
        layers = symbols[hits[0].get("symbol")].findall("layer")
        props_of = [{o.get("name"): o.get("value") for o in lay.find("Option")} for lay in layers]
        colour = TYPE_COLOURS[row["main_type"]].lstrip("#")
        rgb = ",".join(str(int(colour[i:i + 2], 16)) for i in (0, 2, 4))
        if row["role"] == "new":
            assert props_of[0]["style"] == "solid" and props_of[0]["color"].startswith(rgb)
        else:
            assert all(p["style"] != "solid" for p in props_of)  # hatch and outline, no solid fill
            assert any(p["style"] == "b_diagonal" and p["color"].startswith(rgb) for p in props_of)
            assert any(p["outline_color"].startswith(rgb) and float(p["outline_width"]) >= 0.6 for p in props_of)


_QGIS_SCRIPT = r"""
import json, sys
from qgis.core import QgsApplication, QgsVectorLayer, QgsRenderContext
app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorLayer(sys.argv[1] + "|layername=allocation", "allocation", "ogr")
msg, ok = layer.loadDefaultStyle()
r = layer.renderer()
ctx = QgsRenderContext()
r.startRender(ctx, layer.fields())
out = {"ok": ok, "msg": msg, "type": r.type(), "features": {}}
for f in layer.getFeatures():
    syms = r.symbolsForFeature(f, ctx)
    out["features"][f["parcel_id"]] = [[(sl.layerType(), sl.properties().get("style"), sl.color().name(), sl.color().alpha())
                                        for sl in s.symbolLayers()] for s in syms]
r.stopRender(ctx)
print(json.dumps(out))
"""


def test_qgis_reads_the_style(incl_run, tmp_path):
    """With QGIS's Python bindings installed (apt python3-qgis), QGIS itself draws each parcel by its role."""
    import json

    if subprocess.run(["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True).returncode != 0:
        pytest.skip("QGIS's Python bindings are not installed (apt-get install python3-qgis)")
    folder, out, _ = incl_run
    exp = expected(folder, out)
    script = tmp_path / "qgis_style.py"
    script.write_text(_QGIS_SCRIPT, encoding="utf-8")
    run_ = subprocess.run(["/usr/bin/python3", str(script), str(out / "plan.gpkg")], capture_output=True, text=True,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert run_.returncode == 0, run_.stderr[-2000:]
    got = json.loads(run_.stdout.strip().splitlines()[-1])
    assert got["ok"] and got["type"] == "RuleRenderer", got
    for pid, row in exp.iterrows():
        symbols = got["features"][pid]
        assert len(symbols) == 1, (pid, symbols)
        styles = [s[1] for s in symbols[0]]
        colour = TYPE_COLOURS[row["main_type"]].lower()
        if row["role"] == "new":
            assert styles == ["solid"] and symbols[0][0][2] == colour, (pid, symbols)
        else:
            assert "solid" not in styles and "b_diagonal" in styles, (pid, symbols)
