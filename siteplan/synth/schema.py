"""Layer schema of the demo city: CRS, layer names and allowed attribute values.

These public constants are re-exported by :mod:`siteplan.synth`.
"""

from __future__ import annotations

#: Coordinate reference system of every layer.
CRS = "EPSG:4549"
#: Zones, in their canonical order.
ZONES: tuple[str, ...] = ("东岸城区", "西岸城区", "北岸城区", "外围组团")
#: Allowed ``parcels.land_use`` values.
LAND_USES: tuple[str, ...] = (
    "residential",
    "commercial_residential",
    "industrial_conversion",
    "village_renewal",
)
#: Allowed ``parcels.status`` values.
STATUSES: tuple[str, ...] = ("reserve", "commercial", "committed", "excluded")
#: Allowed ``services.category`` values.
SERVICE_CATEGORIES: tuple[str, ...] = (
    "school",
    "clinic",
    "hospital",
    "market",
    "park",
    "culture",
)
#: Vector layers written by :func:`write_city` (one GeoPackage each).
LAYERS: tuple[str, ...] = (
    "districts",
    "lines",
    "stations",
    "services",
    "parks",
    "parcels",
    "constraints",
)
