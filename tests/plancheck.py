"""Independent checks of a written plan.

Every planning rule is recomputed here from the raw layer files, the raw
scenario TOML and ``allocation.csv`` alone, with geopandas and shapely, and
without any siteplan code or number.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd


def check_plan(scenario_path: Path, out_dir: Path) -> dict:
    """Assert every rule of the scenario on the plan in ``out_dir``; return figures."""
    scen = tomllib.loads(Path(scenario_path).read_text(encoding="utf-8"))
    base = Path(scenario_path).parent
    layer = lambda key: gpd.read_file(base / scen["layers"][key])  # noqa: E731
    parcels = layer("parcels").set_index("parcel_id")
    districts = layer("districts")
    stations = layer("stations")
    alloc = pd.read_csv(out_dir / "allocation.csv", encoding="utf-8-sig", dtype={"parcel_id": str})
    years = list(range(scen["plan"]["first_year"], scen["plan"]["last_year"] + 1))
    types = scen["types"]
    area_of = {t: v["unit_area_m2"] for t, v in types.items()}
    ntg = scen["plan"].get("net_to_gross", 0.8)
    rules = scen.get("rules", {})

    assert len(alloc), "the plan is empty"
    assert (alloc["units"] > 0).all() and (alloc["units"] == alloc["units"].round()).all(), "units must be whole and positive"

    # 1. yearly targets per type, met exactly
    placed = alloc.groupby(["type", "year"])["units"].sum()
    for t, v in types.items():
        for y, target in zip(years, v["targets"]):
            assert placed.get((t, y), 0) == target, f"{t} {y}: placed {placed.get((t, y), 0)} != target {target}"

    # 2. one supply year per parcel, not before it is available, on a candidate
    yrs = alloc.groupby("parcel_id")["year"].agg(["nunique", "min"])
    assert (yrs["nunique"] == 1).all(), "a parcel is supplied in more than one year"
    assert (yrs["min"] >= parcels.loc[yrs.index, "available_year"]).all(), "a parcel is used before it is available"
    allowed = scen["plan"].get("candidate_status", ["reserve"])
    assert parcels.loc[yrs.index, "status"].isin(allowed).all(), "a parcel that is not a candidate was used"

    # 3. plot ratio: floor area <= parcel area x far_max
    floor = (alloc["units"] * alloc["type"].map(area_of)).groupby(alloc["parcel_id"]).sum()
    cap = parcels.loc[floor.index].geometry.area * parcels.loc[floor.index, "far_max"]
    assert (floor <= cap * (1 + 1e-9) + 1e-6).all(), "floor area exceeds area x plot ratio"

    # 4. project size
    size = alloc.groupby("parcel_id")["units"].sum()
    ps = rules.get("project_size", {})
    if ps.get("enabled", True):
        assert (size >= ps.get("min_units", 0)).all(), f"project below min: {size.min()}"
        if ps.get("max_units") is not None:
            assert (size <= ps["max_units"]).all(), f"project above max: {size.max()}"

    # 5. zone targets (over the plan)
    zone_of = dict(zip(districts["district"], districts["zone"]))
    zone = alloc["parcel_id"].map(parcels["district"]).map(zone_of)
    assert (zone == alloc["zone"]).all(), "allocation.csv zone does not match the layers"
    by_zone = alloc.groupby(zone)["units"].sum()
    for z, target in scen.get("zones", {}).items():
        if rules.get("zone_targets", {}).get("mode", "at_least") == "exact":
            assert by_zone.get(z, 0) == target, f"zone {z}: {by_zone.get(z, 0)} != {target}"
        else:
            assert by_zone.get(z, 0) >= target, f"zone {z}: {by_zone.get(z, 0)} < {target}"

    # 6. transit share per year, with station opening years
    tr = rules.get("transit", {})
    shares = {}
    if tr.get("enabled", True):
        share, within, lead = tr.get("share", 0.5), tr.get("within_m", 800.0), tr.get("lead_years", 0)
        for y in years:
            a = alloc.loc[alloc["year"] == y]
            open_ = stations.loc[stations["open_year"] <= y + lead].geometry
            ids = a["parcel_id"].unique()
            dist = {pid: min(parcels.geometry[pid].distance(s) for s in open_) if len(open_) else np.inf for pid in ids}
            near = a["parcel_id"].map(dist) <= within
            total = a["units"].sum()
            shares[y] = a.loc[near, "units"].sum() / total if total else 1.0
            assert shares[y] >= share - 1e-9, f"{y}: transit share {shares[y]:.3f} < {share}"

    # 7. land arithmetic in allocation.csv
    far = alloc["parcel_id"].map(parcels["far_max"])
    floor_row = alloc["units"] * alloc["type"].map(area_of)
    assert np.allclose(alloc["floor_area_m2"], floor_row, atol=0.01)
    assert np.allclose(alloc["net_land_ha"], floor_row / far / 10_000, atol=1e-4)
    assert np.allclose(alloc["gross_land_ha"], floor_row / far / 10_000 / ntg, atol=1e-4)
    return {"projects": len(size), "units": int(alloc["units"].sum()), "transit_share": shares, "by_zone": by_zone.to_dict()}
