"""Read the parcels' own values: land use, status, plot ratios, years and stated areas, with the scenario's defaults.

Called by :func:`siteplan.inputs.validate._validate_parcels`. Values come
from the layer's columns, from constants in ``[fields.parcels]`` (already
set as columns by :func:`siteplan.inputs.fields._rename_fields`) and, where
a parcel's own value is missing, from ``[defaults]``: a scalar for every
parcel, or values by land-use class (the longest matching code wins).

Only candidate parcels (:func:`siteplan.inputs.landuse.candidate_mask`) and
inclusionary hosts need a plot ratio and an available year; other parcels
are read for display and context and never refused for them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from .fields import SCHEMA, _as_text, _parse_areas, _parse_far, _parse_flags, _parse_years, missing_field_message
from .findings import _Findings, _ids, _is_missing, _sample, _values, _verb
from .landuse import candidate_mask, inclusionary_mask, matches, specificity, unknown_codes
from .scenario import Scenario

#: Plot ratios above this are taken as data errors, not ambition.
MAX_PLAUSIBLE_FAR = 20.0

#: Years outside this range are data errors (a typo, a code, a date in another calendar).
YEAR_RANGE = (1900, 2100)

#: A stated area further than this from the polygon's area is named in a warning.
AREA_TOLERANCE = 0.10


def _by_class(spec, land_use: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The default of each parcel from a ``[defaults]`` entry, and which entry gave it ("" for a scalar)."""
    values = pd.Series([None] * len(land_use), index=land_use.index, dtype=object)
    source = pd.Series([None] * len(land_use), index=land_use.index, dtype=object)
    if spec is None:
        return values, source
    if not isinstance(spec, dict):
        return pd.Series([spec] * len(land_use), index=land_use.index, dtype=object), source.fillna("")
    for pattern in sorted(spec, key=specificity):  # broader first; narrower ones overwrite
        hit = matches(land_use, [pattern])
        values[hit] = spec[pattern]
        source[hit] = pattern
    return values, source


def _fill(values: pd.Series, missing: np.ndarray, field: str, land_use: pd.Series, scenario: Scenario,
          path: Path, found: _Findings) -> tuple[pd.Series, np.ndarray]:
    """Fill missing values from ``[defaults.<field>]``; returns the values and the mask of those filled."""
    spec = getattr(scenario.defaults, field)
    default, source = _by_class(spec, land_use)
    use = missing & default.notna().to_numpy()
    if not use.any():
        return values, use
    values = values.astype(object)
    values[use] = default[use]
    counts = Counter(source[use])
    how = (f" (by land use: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})" if "" not in counts else "")
    found.note(path, f"field {field!r} taken from [defaults] for {int(use.sum())} parcel(s) without a value{how}")
    return values, use


def _land_use_and_status(p: gpd.GeoDataFrame, path: Path, scenario: Scenario, found: _Findings) -> None:
    mapped = isinstance(scenario.fields.parcels.get("land_use"), str)
    d = scenario.defaults
    patterns = [*scenario.plan.candidate_land_use, *scenario.plan.inclusionary_land_use,
                *(k for spec in (d.far_max, d.far_upper, d.available_year, d.status, d.metro_depot)
                  if isinstance(spec, dict) for k in spec)]
    p["land_use"] = _as_text(p["land_use"]).fillna(SCHEMA["parcels"]["optional"]["land_use"])
    if (mapped or patterns) and len(p):
        unknown, by_parent = unknown_codes(p["land_use"])
        some_known = sum(unknown.values()) < len(p)
        if unknown and (patterns or some_known):  # a column of free text used by no pattern is only shown
            found.warn(path, f"{sum(unknown.values())} parcel(s) have land-use values in neither GB 50137-2011 nor the "
                             f"2020 用地用海分类: {_sample([f'{k!r} ({v})' for k, v in unknown.most_common()], 8)}; they "
                             "match no land-use class in [plan] candidate_land_use, inclusionary_land_use or [defaults]. "
                             "Check field 'land_use' (write codes such as R2, RB, 0701 or names such as 二类居住用地)")
        if by_parent:
            found.note(path, f"land-use codes not in the tables were read by their listed class: "
                             f"{_sample([f'{k} x{v}' for k, v in by_parent.most_common()], 8)}")
    p["name"] = _as_text(p["name"]).fillna("")
    status = _as_text(p["status"])
    status, filled = _fill(status, status.isna().to_numpy(), "status", p["land_use"], scenario, path, found)
    no_status = status.isna().to_numpy()
    if no_status.any() and len(p):
        found.warn(path, f"field 'status' is empty for {int(no_status.sum())} parcel(s) ({_ids(p, no_status, 'parcel_id')}); "
                         "taken as 'reserve' (a candidate). Fill it in if they are not")
    p["status"] = status.fillna("reserve").astype(object)
    missing = np.array([_is_missing(v) for v in p["metro_depot"]], dtype=bool)
    depot, bad_d = _parse_flags(p["metro_depot"])
    if bad_d.any():
        found.error(path, f"field 'metro_depot' must be true or false, but {_ids(p, bad_d, 'parcel_id')} "
                          f"{_verb(bad_d, 'holds', 'hold')} {_values(p['metro_depot'], bad_d)}; write 1 or 0, true or "
                          "false, 是 or 否 (empty counts as no)")
    depot, _ = _fill(depot, missing, "metro_depot", p["land_use"], scenario, path, found)
    p["metro_depot"] = depot.astype(bool)


def _absent(field: str, p: pd.DataFrame, need: np.ndarray, example: str) -> str:
    cols = [str(c) for c in p.columns if c != getattr(p.geometry, "name", "geometry")] if isinstance(p, gpd.GeoDataFrame) \
        else [str(c) for c in p.columns]
    return missing_field_message(field, "parcels", cols, extra=(
        f" (or one value for every parcel: {field} = {example} in [fields.parcels], or values by land use in "
        f"[defaults.{field}]). {int(need.sum())} candidate parcel(s) need it"))


def _plot_ratios(p: gpd.GeoDataFrame, has: set, need: np.ndarray, path: Path, scenario: Scenario,
                 found: _Findings) -> None:
    raw = p["far_max"] if "far_max" in has else pd.Series([None] * len(p), index=p.index, dtype=object)
    far, upper_range, bad, rng, bnd = _parse_far(raw)
    far, filled = _fill(far, far.isna().to_numpy() & ~bad, "far_max", p["land_use"], scenario, path, found)
    far = pd.to_numeric(far, errors="coerce").astype("float64")
    if "far_max" not in has and not filled.any() and need.any():
        found.error(path, _absent("far_max", p, need, "2.5"))
    else:
        nan = far.isna().to_numpy() & ~bad
        if (bad & need).any():
            b = bad & need
            mixed = " (the column mixes numbers and text)" if (~bad & raw.notna().to_numpy()).any() else ""
            found.error(path, f"field 'far_max' (plot ratio) must be a number, a range or an upper bound{mixed}, but "
                              f"{_ids(p, b, 'parcel_id')} {_verb(b, 'holds', 'hold')} {_values(raw, b)}; write a number "
                              "such as 2.5 in field 'far_max' for each (a range 2.0-2.5 or a bound ≤2.5 is read too)")
        if (nan & need).any():
            found.error(path, f"field 'far_max' (plot ratio) is empty for {_ids(p, nan & need, 'parcel_id')}; fill in the "
                              "plot-ratio cap of each parcel (only candidates need one), or give it by land use in "
                              "[defaults.far_max]")
        out_of_range = ((far <= 0) | (far > MAX_PLAUSIBLE_FAR)).to_numpy()
        if (out_of_range & need).any():
            o = out_of_range & need
            found.error(path, f"field 'far_max' (plot ratio) must be above 0 and at most {MAX_PLAUSIBLE_FAR:g}, but "
                              f"{_ids(p, o, 'parcel_id')} {_verb(o, 'has', 'have')} "
                              f"{_sample([f'{v:g}' for v in sorted(set(far[o].tolist()))])}; write each parcel's "
                              "plot-ratio cap from the regulatory plan (2.5 is written 2.5, not 250 or 0)")
        unused = (bad | nan | out_of_range) & ~need
        if unused.any():
            found.note(path, f"{int(unused.sum())} parcel(s) that are not candidates have no usable plot ratio "
                             f"({_ids(p, unused, 'parcel_id')}); not needed, so left empty")
        far = far.where(~out_of_range | need)
    if rng.any() or bnd.any():
        ex_r = f" such as {raw[rng].iloc[0]!r} (far_max {far[rng].iloc[0]:g}, far_upper {upper_range[rng].iloc[0]:g})" \
            if rng.any() and upper_range[rng].notna().iloc[0] else ""
        ex_b = f" such as {raw[bnd].iloc[0]!r} (far_max {far[bnd].iloc[0]:g})" if bnd.any() else ""
        found.note(path, f"field 'far_max': {int(rng.sum())} plot ratio(s) read from ranges{ex_r} and "
                         f"{int(bnd.sum())} from upper bounds{ex_b}; a range's upper value fills far_upper")
    p["far_max"] = far
    lo_up, hi_up, bad_up, _, _ = _parse_far(p["far_upper"])
    upper = hi_up.where(hi_up.notna(), lo_up)  # a range in far_upper: its upper value
    if bad_up.any():
        found.warn(path, f"field 'far_upper' holds text that is not a number for {_ids(p, bad_up, 'parcel_id')} "
                         f"({_values(p['far_upper'], bad_up)}); taken as no upper plot ratio")
    upper = upper.where(upper.notna(), upper_range)
    upper, _ = _fill(upper, upper.isna().to_numpy() & ~bad_up, "far_upper", p["land_use"], scenario, path, found)
    upper = pd.to_numeric(upper, errors="coerce").astype("float64")
    p["far_upper"] = upper.where(upper > 0)


def _years(p: gpd.GeoDataFrame, has: set, need: np.ndarray, path: Path, scenario: Scenario, found: _Findings) -> None:
    raw = p["available_year"] if "available_year" in has else pd.Series([None] * len(p), index=p.index, dtype=object)
    years, bad = _parse_years(raw)
    years, filled = _fill(years, years.isna().to_numpy() & ~bad, "available_year", p["land_use"], scenario, path, found)
    years = pd.to_numeric(years, errors="coerce").astype("float64")
    if "available_year" not in has and not filled.any():
        if need.any():
            found.error(path, _absent("available_year", p, need, "2016"))
        p["available_year"] = _whole_years(years)
        return
    nan = years.isna().to_numpy() & ~bad
    absurd = ((years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1])).to_numpy()
    if (bad & need).any():
        b = bad & need
        found.error(path, f"field 'available_year' must be a year, but {_ids(p, b, 'parcel_id')} {_verb(b, 'holds', 'hold')} "
                          f"{_values(raw, b)}; write the year the land is ready, e.g. 2017")
    if (nan & need).any():
        found.error(path, f"field 'available_year' is empty for {_ids(p, nan & need, 'parcel_id')}; fill in the year the "
                          "land is ready, or give one for all in [defaults] available_year = 2016")
    if (absurd & need).any():
        a = absurd & need
        found.error(path, f"field 'available_year' must be a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}, but "
                          f"{_ids(p, a, 'parcel_id')} {_verb(a, 'has', 'have')} "
                          f"{_values(years, a)}; write the year the land is ready, e.g. 2017")
    late = (years > scenario.plan.last_year).to_numpy() & ~absurd & need
    if late.any():
        found.warn(path, f"{int(late.sum())} parcel(s) become available after {scenario.plan.last_year}, the plan's "
                         f"last year, and cannot be used in this plan ({_ids(p, late, 'parcel_id')})")
    p["available_year"] = _whole_years(years)


def _whole_years(years: pd.Series) -> pd.Series:
    """Years as integers; missing and impossible ones (already reported) as -1."""
    ok = years.between(YEAR_RANGE[0], YEAR_RANGE[1]) & (years == np.round(years))
    return years.where(ok, -1).astype("int64")


def _stated_areas(p: gpd.GeoDataFrame, path: Path, scenario: Scenario, found: _Findings) -> gpd.GeoDataFrame:
    """Read field ``area_m2`` (units allowed) into ``area_stated_m2`` and compare it with the polygons.

    The polygon stays the truth for capacity; a stated area more than
    :data:`AREA_TOLERANCE` off is named in a warning.
    """
    stated, bad = _parse_areas(p["area_m2"])
    if bad.any():
        found.warn(path, f"field 'area_m2' (stated area) cannot be read for {_ids(p, bad, 'parcel_id')} "
                         f"({_values(p['area_m2'], bad)}); write e.g. 65亩, 1.2公顷, 3.5 ha or 800 (m2). The polygon's "
                         "area is used in any case")
    p = p.drop(columns=["area_m2"]).assign(area_stated_m2=stated.to_numpy())
    try:
        same_crs = isinstance(p, gpd.GeoDataFrame) and p.crs is not None and CRS(p.crs) == CRS(scenario.plan.crs)
    except Exception:
        same_crs = False
    if not same_crs or not len(p):
        return p
    geom = p.geometry.area.to_numpy()
    ratio = stated.to_numpy() / np.where(geom > 0, geom, np.nan)
    off = np.abs(ratio - 1.0) > AREA_TOLERANCE
    off &= np.isfinite(ratio)
    if off.any():
        order = np.argsort(-np.abs(np.log(ratio[off])))[:5]
        rows = p.loc[off].iloc[order]
        ex = "; ".join(f"{pid} states {s:,.0f} m2, its polygon has {g:,.0f} m2"
                       for pid, s, g in zip(rows["parcel_id"], rows["area_stated_m2"], rows.geometry.area))
        med = float(np.nanmedian(ratio[off]))
        unit = next((f" The stated areas are about {name} of the polygons': if the column is in {unit}, write the "
                     f"unit with each value (e.g. 65{unit})" for name, unit, r in
                     (("1/667", "亩", 15 / 10000), ("1/10000", "公顷", 1e-4)) if abs(med / r - 1) < 0.1), "")
        found.warn(path, f"{int(off.sum())} parcel(s) state an area more than {AREA_TOLERANCE:.0%} away from their "
                         f"polygon's area (the worst: {ex}). siteplan computes capacity from the polygon; check the "
                         f"polygons or field 'area_m2'.{unit}")
    return p


def read_parcel_values(p: gpd.GeoDataFrame, path: Path, scenario: Scenario, found: _Findings) -> gpd.GeoDataFrame:
    """Land use, status, depot flag, candidacy, plot ratios, years and stated area of the parcels.

    Parameters
    ----------
    p
        The parcels with siteplan's field names (constants already set).
    path
        The parcel layer's file, for the findings.
    scenario
        Candidacy settings and ``[defaults]``.
    found
        Receives every error, warning and note.
    """
    has = set(p.columns)
    _land_use_and_status(p, path, scenario, found)
    need = candidate_mask(p, scenario) | inclusionary_mask(p, scenario)
    if scenario.plan.candidate_land_use and len(p) and not candidate_mask(p, scenario).any():
        seen = _sample([f"{k!r}" for k in p["land_use"].value_counts().index], 8)
        found.error(path, f"no parcel with a candidate status has a land use matching [plan] candidate_land_use = "
                          f"{list(scenario.plan.candidate_land_use)}; the layer's land uses are {seen}. Map the land-use "
                          "column in [fields.parcels] land_use = \"YDXZ\" or correct candidate_land_use")
    _plot_ratios(p, has, need, path, scenario, found)
    _years(p, has, need, path, scenario, found)
    if "area_m2" in has:
        p = _stated_areas(p, path, scenario, found)
    return p
