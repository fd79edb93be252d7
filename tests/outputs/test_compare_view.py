"""compare.html shows the difference: three styles counted against the two allocation.csv files, the
differing rule's buffers at each run's distance, metro lines per line, one language, opening on the differences."""

from __future__ import annotations

import json
import re

import pandas as pd

from siteplan.outputs.compare import load_run, write_comparison
from siteplan.outputs.comparemap import CHANGE_STYLES, differing_rule_layers, line_colours
from tests.browser import open_offline


def _by_parcel(folder) -> pd.DataFrame:
    """Each used parcel's planned fields, recomputed from allocation.csv alone."""
    al = pd.read_csv(folder / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})
    g = al.groupby("parcel_id")
    return pd.DataFrame({
        "year": g["year"].first(),
        "types": g[["type", "units"]].apply(lambda p: tuple(sorted(zip(p["type"], p["units"])))),
        "floor": g["floor_area_m2"].sum(),
        "role": g["role"].agg(lambda r: tuple(sorted(set(r)))),
        "far": g["far_used"].max(),
    })


def _expected(out_a, out_b) -> dict[str, int]:
    pa, pb = _by_parcel(out_a), _by_parcel(out_b)
    both = pa.index.intersection(pb.index)
    changed = sum(any(pa.at[i, c] != pb.at[i, c] for c in pa.columns) for i in both)
    return {"removed": len(pa.index.difference(pb.index)), "added": len(pb.index.difference(pa.index)), "changed": changed,
            "n_a": len(pa), "n_b": len(pb)}


def test_run_json_carries_the_rule_settings(two_runs):
    out_a, out_b, _ = two_runs
    ra, rb = (json.loads((o / "run.json").read_text(encoding="utf-8"))["rules"] for o in (out_a, out_b))
    assert (ra["transit"]["within_m"], rb["transit"]["within_m"]) == (800, 200)
    a, b = load_run(out_a), load_run(out_b)
    assert [s for s, _, _ in differing_rule_layers(a, b)] == ["transit"]  # only the rule that differs
    # An older run.json without "rules" falls back to the scenario file it names.
    record = json.loads((out_a / "run.json").read_text(encoding="utf-8"))
    record.pop("rules")
    (out_a / "run.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    try:
        assert load_run(out_a).rules["transit"]["within_m"] == 800
    finally:
        record["rules"] = ra
        (out_a / "run.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")


def test_three_styles_counted_against_the_allocations(two_runs, tmp_path):
    out_a, out_b, _ = two_runs
    want = _expected(out_a, out_b)
    assert want["removed"] + want["added"] > 0  # the stricter rule moves units to other parcels
    files = write_comparison(out_a, out_b, tmp_path / "cmp")
    html = files["compare.html"].read_text(encoding="utf-8")
    # Both buffer radii are named, each in its own pane's title.
    assert "轨道站点 800 米范围" in html and "轨道站点 200 米范围" in html
    # Three distinct styles (outline colour and dash) besides the muted unchanged one.
    looks = {k: (s["color"], s.get("dashArray")) for k, s in CHANGE_STYLES.items()}
    assert len(set(looks.values())) == 4
    script = """
(async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const panes = [...document.querySelectorAll('.folium-map')];
  const count = (p, k) => p.querySelectorAll('path.sp-' + k).length;
  const out = {};
  for (const [i, p] of panes.entries()) {
    for (const k of ['added', 'removed', 'changed', 'same', 'parcel']) out[k + i] = count(p, k);
    out['buffer' + i] = p.querySelectorAll('path.sp-buffer-transit').length;
    out['stroke_added' + i] = [...p.querySelectorAll('path.sp-added')].map(e => e.getAttribute('stroke'));
    out['stroke_removed' + i] = [...p.querySelectorAll('path.sp-removed')].map(e => e.getAttribute('stroke'));
    out['lines' + i] = [...new Set([...p.querySelectorAll('path.sp-line')].map(e => e.getAttribute('stroke')))].length;
  }
  out.zoom = panes.map(p => p.getBoundingClientRect().width);
  out.legend = [...document.querySelectorAll('.sp-box')].map(e => e.innerText).join('\\n');
  return out;
})()
"""
    res = open_offline(files["compare.html"], tmp_path / "profile", script)
    assert res["requests"] == [] and res["errors"] == [], (res["requests"], res["errors"])
    v = res["value"]
    # Pane A shows what B dropped, pane B what B added; changed parcels in both; every parcel once per pane.
    assert (v["removed0"], v["added0"], v["changed0"]) == (want["removed"], 0, want["changed"])
    assert (v["removed1"], v["added1"], v["changed1"]) == (0, want["added"], want["changed"])
    assert (v["parcel0"], v["parcel1"]) == (want["n_a"], want["n_b"])
    assert set(v["stroke_removed0"]) <= {CHANGE_STYLES["removed"]["color"]}
    assert set(v["stroke_added1"]) <= {CHANGE_STYLES["added"]["color"]}
    assert v["buffer0"] >= 1 and v["buffer1"] >= 1  # the rule that differs is drawn in both panes
    # One language: the legend and titles carry no English word except the runs' own names.
    legend = v["legend"].replace("mini-transit", "").replace("mini", "")
    assert not re.search(r"[A-Za-z]{3,}", legend), legend
    assert "新增" in legend and "减少" in legend and "变化" in legend


def test_english_comparison_and_line_colours(two_runs, tmp_path):
    out_a, out_b, _ = two_runs
    files = write_comparison(out_a, out_b, tmp_path / "cmp-en", lang="en")
    html = files["compare.html"].read_text(encoding="utf-8")
    boxes = " ".join(re.findall(r'<div class="sp-box"[^>]*>(.*?)</div>\n', html, re.S))
    assert "within 200 m of a station" in html and "within 800 m of a station" in html
    assert "Added (only in B)" in html and not re.search(r"[\u4e00-\u9fff]", re.sub(r"\(mini[^)]*\)", "", boxes))
    a = load_run(out_a)
    colours = line_colours(a.lines)
    names = sorted(a.lines["line"].unique())
    assert len(set(colours.values())) == min(len(names), 7)  # one colour per line, not all red
    recoloured = a.lines.assign(colour="#123456")
    assert set(line_colours(recoloured).values()) == {"#123456"}  # a colour field wins
