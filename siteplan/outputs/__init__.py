"""Outputs: the offline map, GeoPackage/GeoJSON/shapefile exports, land-supply tables, the report and run comparison.

Each writer reads a finished :class:`~siteplan.solve.plan.Plan`; none of them solves.
"""
