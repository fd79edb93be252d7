"""Every output of a run tells the same, true status and shortfall: console, run.json, compliance.csv,
shortfall.csv and report.html, checked against the plan recomputed from the layer files."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pandas as pd
from typer.testing import CliRunner

from siteplan.cli import app
from tests.cities import MINI_SCENARIO, write_mini_city

runner = CliRunner()

# 1,140 of 2016's 1,200 units must lie near a station open in 2016, but the
# parcels near one that are available in 2016 (P0, P1) hold 800.
SHORT = MINI_SCENARIO.replace("targets = [600, 400]", "targets = [1200, 400]").replace("share = 0.5", "share = 0.95")


def _transit_missing(city, alloc: pd.DataFrame, share: float, within: float = 800.0) -> int:
    """Whole near units missing per year, recomputed from parcels.gpkg, stations.gpkg and allocation.csv."""
    parcels = gpd.read_file(city / "parcels.gpkg").set_index("parcel_id")
    stations = gpd.read_file(city / "stations.gpkg")
    missing = 0
    for year, part in alloc.groupby("year"):
        open_ = stations.loc[stations["open_year"] <= year]
        near = part["parcel_id"].map(lambda pid: float(open_.distance(parcels.loc[pid, "geometry"]).min()) <= within)
        deficit = share * part["units"].sum() - part.loc[near, "units"].sum()
        missing += math.ceil(deficit - 1e-6) if deficit > 1e-6 else 0
    return missing


def test_a_shortfall_run_says_the_same_true_figures_everywhere(tmp_path):
    scenario = write_mini_city(tmp_path / "city", scenario=SHORT)
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert res.exit_code in (0, 1), res.output
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})
    missing = _transit_missing(tmp_path / "city", alloc, 0.95)
    assert missing > 0
    placed = alloc.groupby("year")["units"].sum().to_dict()
    assert placed == {2016: 1200, 2017: 400}  # the targets themselves are met, exactly

    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    st = rec["status"]
    assert st["code"] == "shortfall" and st["optimal"] is False and rec["solver"]["optimal"] is False
    assert st["targets_met"] is True and st["units_missing"] == 0 and st["units_excess"] == 0
    assert st["rules_short"] == [{"rule": "transit_access", "side": "short", "units": missing}]
    assert rec["shortfall_units"] == 0  # units missing from the targets, not a sum across rules

    comp = pd.read_csv(out / "compliance.csv", encoding="utf-8-sig").set_index("rule")
    assert comp.loc["transit_access", "shortfall"] == missing and not comp.loc["transit_access", "ok"]
    assert comp.loc["yearly_targets", "ok"] and comp.loc["yearly_targets", "shortfall"] == 0
    assert comp.loc["plot_ratio", "binding"]  # P0 and P1 are full
    assert pd.api.types.is_integer_dtype(comp["shortfall"])  # whole units

    short = pd.read_csv(out / "shortfall.csv", encoding="utf-8-sig")
    assert pd.api.types.is_integer_dtype(short["units"])  # whole units, never 1.3685
    assert short.groupby("rule")["units"].sum().to_dict() == {"transit_access": missing}

    text = " ".join(res.output.split())
    assert "Status: Shortfall" in text and f"transit_access: {missing:,} units short" in text
    assert "shortfall.csv" in text and "see run.json" not in text
    assert "NaN" not in res.output and "<NA>" not in res.output
    assert "Optimal" not in text

    html = (out / "report.html").read_text(encoding="utf-8")
    assert st["text_zh"] in html and f"transit_access 缺 {missing:,} 套" in html


def test_an_optimal_run_says_so_everywhere(mini_city, tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(out)])
    assert res.exit_code in (0, 1), res.output
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})
    assert alloc.groupby("year")["units"].sum().to_dict() == {2016: 600, 2017: 400}
    assert _transit_missing(mini_city.parent, alloc, 0.5) == 0
    st = rec["status"]
    assert st["code"] == "optimal" and st["optimal"] is True and st["time_limit_hit"] is False
    assert rec["solver"]["optimal"] is True and rec["solver"]["time_limit_hit"] is False
    assert "Status: Optimal" in " ".join(res.output.split())
    short = pd.read_csv(out / "shortfall.csv", encoding="utf-8-sig")
    assert short.empty
    assert st["text_zh"] in (out / "report.html").read_text(encoding="utf-8")


def test_a_sweep_row_reads_the_same_status(tmp_path):
    import tomllib

    from siteplan.sweep import SWEEP_COLUMNS, run_variant

    scenario = write_mini_city(tmp_path / "city", scenario=SHORT)
    data = tomllib.loads(scenario.read_text(encoding="utf-8"))
    out = tmp_path / "v01"
    row = run_variant(data, str(scenario.parent), str(out))
    assert set(row) == set(SWEEP_COLUMNS) and row["error"] is None
    alloc = pd.read_csv(out / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})
    missing = _transit_missing(tmp_path / "city", alloc, 0.95)
    assert row["status"] == "shortfall" and row["optimal"] is False
    assert (row["units_missing"], row["units_excess"]) == (0, 0)
    assert row["shortfall_by_rule"] == f"transit_access short {missing}"
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert row["status_text"] == rec["status"]["text_en"] and row["gap"] == rec["status"]["gap"]
