"""Synthetic demo city for siteplan.

This module generates *Demo City* (示范市), a fictional but plausible Chinese
coastal city laid out around a bay, in the spirit of Qingdao: an old core on
the East bank (东岸城区), a newer West bank (西岸城区) across a narrow bay mouth,
a North bank (北岸城区) wrapping round the head of the bay and a ring of outer
towns (外围组团).  Every layer is made up; no real place is described.

The generator is seeded and deterministic: the same ``seed`` and ``n_parcels``
give identical layers.  It is vectorised (numpy and shapely 2 array functions,
no Python loop over parcels) so that it can also produce benchmark cities with
up to about a million candidate parcels; the city area and the number of towns
grow with ``n_parcels``.

All vector layers use CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549),
eastings around 500 000 m and northings around 3 985 000 m.

Examples
--------
>>> from siteplan.synth import make_city, write_city
>>> city = make_city(seed=2016, n_parcels=3000)            # doctest: +SKIP
>>> paths = write_city(city, "layers")                     # doctest: +SKIP

or from the shell::

    python -m siteplan.synth --out layers --seed 2016 --parcels 3000 --force

The package is split by stage:

- :mod:`~siteplan.synth.schema`: CRS, layer names and allowed values;
- :mod:`~siteplan.synth.geography`: land, coast, bay, zones and districts;
- :mod:`~siteplan.synth.blocks`: urban intensity, street grids, block pool;
- :mod:`~siteplan.synth.attributes`: parcels, their attributes, names, services;
- :mod:`~siteplan.synth.city`: :class:`City`, :func:`make_city`,
  :func:`write_city` and :func:`main`.
"""

from __future__ import annotations

from .city import City, main, make_city, write_city
from .schema import CRS, LAND_USES, LAYERS, SERVICE_CATEGORIES, STATUSES, ZONES

__all__ = [
    "CRS",
    "LAND_USES",
    "LAYERS",
    "SERVICE_CATEGORIES",
    "STATUSES",
    "ZONES",
    "City",
    "main",
    "make_city",
    "write_city",
]
