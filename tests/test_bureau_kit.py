"""From a messy bureau folder to a plan with no preparation: init, fill the TODOs as a person would, check, run.

The plan is verified against the kit's raw data, not siteplan's own numbers:
the yearly targets are the cumulative table's differences, every used parcel
carries a residential code (R2, R21) and lies in the district named for it,
and no parcel holds more floor area than its plot-ratio text allows.
"""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from siteplan.cli import app
from tests.bureau_kit import CUMULATIVE, YEARS, kit_truth, write_bureau_kit

runner = CliRunner()


def test_bureau_kit_from_init_to_a_plan(tmp_path):
    folder = write_bureau_kit(tmp_path / "规划数据")
    res = runner.invoke(app, ["init", str(folder)])
    assert res.exit_code == 0, res.output
    scenario = folder / "scenario.toml"
    text = scenario.read_text(encoding="utf-8")
    # What a person does with the TODOs: the stations came from Gaode (GCJ-02), and the two districts form one zone.
    text = text.replace('# stations = "gcj02"', 'stations = "gcj02"', 1)
    zone_start = text.index("[zone_districts]")
    zone_end = text.index("\n\n", zone_start)
    text = text[:zone_start] + '[zone_districts]\n"海岛片区" = ["望海区", "滨海区"]' + text[zone_end:]
    scenario.write_text(text, encoding="utf-8")

    checked = runner.invoke(app, ["check", str(scenario)])
    assert checked.exit_code in (0, 1), checked.output
    assert "GCJ-02" in checked.output

    out = tmp_path / "out"
    ran = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    alloc = pd.read_csv(out / "allocation.csv", dtype={"parcel_id": str})
    truth = kit_truth().set_index("地块编号")

    # Yearly targets: the differences of the cumulative table, recomputed here.
    placed = alloc.groupby(["type", "year"])["units"].sum()
    code = {"保障性租赁住房": "affordable_rental", "公租房": "public_rental"}
    for label, cum in CUMULATIVE.items():
        yearly = [b - a for a, b in zip([0, *cum], cum)]
        for year, want in zip(YEARS, yearly):
            assert placed.get((code[label], year), 0) == want, (label, year)

    # Every used parcel: a residential code, in the district its geometry lies in, within its plot ratio.
    used = alloc.loc[alloc["units"] > 0]
    assert len(used)
    for pid, rows in used.groupby("parcel_id"):
        raw = truth.loc[pid]
        assert raw["用地代码"] in ("R2", "R21"), pid
        assert (rows["district"] == raw["district"]).all(), pid
        assert rows["floor_area_m2"].sum() <= raw.geometry.area * 2.5 + 1.0, pid
