"""A plan's allocation rows and parcels as every file prints them: rounded once, with the plot ratio used.

:func:`allocation_rows` feeds ``allocation.csv``; :func:`parcel_features`
feeds ``allocation.geojson``, the ``allocation`` layer of ``plan.gpkg`` (and
its shapefile) and the map's popups, so that a parcel's figures are the same
in all of them. Both round through :mod:`siteplan.outputs.figures`.

The plot ratio used (``far_used``) is the ratio the plan built at: the
parcel's ``far_max``, or its ``far_upper`` for a type the plot-ratio rule
lets use the upper bound. ``far_upper_types`` names the types that did
(comma-separated codes, empty when none). On a parcel, the floor area never
exceeds parcel area x ``far_used``.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from ..solve.plan import Plan
from .figures import fig, fig_float, gross_from_net

__all__ = ["allocation_rows", "parcel_features", "PARCEL_COLUMNS", "with_labels"]

#: Columns of :func:`parcel_features`, before ``units_<type>`` are inserted after ``units``.
PARCEL_COLUMNS = ["parcel_id", "name", "district", "zone", "year", "main_type", "role", "units",
                  "floor_area_m2", "affordable_floor_m2", "net_land_ha", "gross_land_ha", "far_used", "far_upper_types", "far_max", "area_ha"]

_UPPER_TOL = 1e-9


def _rows_with_far(plan: Plan, net_to_gross: float) -> pd.DataFrame:
    """The plan's allocation with each row's plot ratio (``far``) and whether it is above ``far_max``."""
    a = plan.allocation(net_to_gross=net_to_gross)
    far = plan.units.set_index(["parcel_id", "type", "year"])["far"]
    a["far_used"] = far.reindex(pd.MultiIndex.from_frame(a[["parcel_id", "type", "year"]])).to_numpy(dtype=float)
    far_max = plan.problem.parcels.set_index("parcel_id")["far_max"].astype(float)
    a["_upper"] = a["far_used"].to_numpy() > a["parcel_id"].map(far_max).to_numpy(dtype=float) + _UPPER_TOL
    return a


def with_labels(df: pd.DataFrame, type_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``df`` with the Chinese label beside each code column: ``type_zh``, ``main_type_zh``, ``role_zh`` (新增/配建).

    ``type_labels`` maps a housing-type code to its label (the scenario's
    ``type_label``); a code it lacks takes the catalogue's Chinese name, else
    stays the code.
    """
    from ..housing import CATALOGUE
    from .wording import role_label

    def type_zh(code: object) -> str:
        c = str(code)
        return (type_labels or {}).get(c) or (CATALOGUE[c].label_zh if c in CATALOGUE else c)

    out = df.copy()
    for col, name in (("type", type_zh), ("main_type", type_zh), ("role", role_label)):
        if col in out.columns and f"{col}_zh" not in out.columns:
            out.insert(out.columns.get_loc(col) + 1, f"{col}_zh", [None if pd.isna(v) else name(v) for v in out[col]])
    return out


def allocation_rows(plan: Plan, *, net_to_gross: float) -> pd.DataFrame:
    """``allocation.csv``: one row per parcel x type x year, figures as printed.

    Columns of :meth:`Plan.allocation` (floor area in whole m², net land to
    0.01 ha, gross land = printed net / ``net_to_gross``), then
    ``far_used`` (the row's plot ratio) and ``far_upper_types`` (the row's
    type when it used ``far_upper``, else empty).
    """
    a = _rows_with_far(plan, net_to_gross)
    net = [fig(v, "ha") for v in a["net_land_ha"]]
    a["floor_area_m2"] = [int(fig(v, "floor_area_m2")) for v in a["floor_area_m2"]]
    a["net_land_ha"] = [float(n) for n in net]
    a["gross_land_ha"] = [float(gross_from_net(n, net_to_gross)) for n in net]
    a["far_upper_types"] = np.where(a["_upper"], a["type"].astype(str), "")
    return a.drop(columns=["_upper"]).reset_index(drop=True)


def parcel_features(plan: Plan, *, net_to_gross: float) -> gpd.GeoDataFrame:
    """One feature per used parcel, figures as printed, in the parcels' CRS.

    :meth:`Plan.to_geodataframe` with ``role`` (the parcel's roles,
    comma-separated), ``affordable_floor_m2`` (the affordable housing floor
    area, the same figure as ``floor_area_m2`` under a name that cannot be
    read as a 配建 host's whole project), ``far_used`` (the highest plot ratio a type was built
    at on the parcel), ``far_upper_types`` and the figures rounded once from
    full precision: floor area to 1 m², net land and parcel area to
    0.01 ha, gross land = printed net / ``net_to_gross``. Made once per
    plan (:meth:`Plan.memo`); each call gets its own copy.
    """
    return plan.memo(("parcel_features", net_to_gross), lambda: _parcel_features(plan, net_to_gross)).copy()


def _parcel_features(plan: Plan, net_to_gross: float) -> gpd.GeoDataFrame:
    gdf = plan.to_geodataframe(net_to_gross=net_to_gross)
    a = _rows_with_far(plan, net_to_gross)
    order = {t: k for k, t in enumerate(plan.problem.types)}
    g = a.groupby("parcel_id")
    far_used = g["far_used"].max()
    upper = a.loc[a["_upper"]].groupby("parcel_id")["type"].agg(
        lambda ts: ",".join(sorted(set(map(str, ts)), key=lambda t: order.get(t, len(order)))))
    roles = g["role"].agg(lambda r: ",".join(sorted(set(map(str, r)))))
    pid = gdf["parcel_id"]
    gdf["role"] = pid.map(roles).to_numpy()
    gdf["far_used"] = pid.map(far_used).to_numpy(dtype=float)
    gdf["far_upper_types"] = [v if isinstance(v, str) else "" for v in pid.map(upper).astype(object)]
    net = [fig(v, "ha") for v in gdf["net_land_ha"]]
    gdf["floor_area_m2"] = [int(fig(v, "floor_area_m2")) for v in gdf["floor_area_m2"]]
    gdf["affordable_floor_m2"] = gdf["floor_area_m2"]
    gdf["net_land_ha"] = [float(n) for n in net]
    gdf["gross_land_ha"] = [float(gross_from_net(n, net_to_gross)) for n in net]
    gdf["area_ha"] = [fig_float(v, "ha") for v in gdf["area_ha"]]
    unit_cols = [c for c in gdf.columns if c.startswith("units_")]
    cols = PARCEL_COLUMNS[:8] + unit_cols + PARCEL_COLUMNS[8:]
    extra = [c for c in gdf.columns if c not in cols and c != gdf.geometry.name]
    return gdf[[*cols, *extra, gdf.geometry.name]]
