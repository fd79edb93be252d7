"""Basemap tiles for online use: which provider a map draws, and its tile layers.

By default a map has no tiles (district boundaries stand in) and makes no
network request. :func:`tile_choice` picks OpenStreetMap, Tianditu (天地图,
needs a user key) or Gaode/AMap from the arguments or the scenario's
``[map]``; :func:`add_tiles` adds the layers to a Folium map and returns the
URL prefixes the offline check may allow. Gaode's tiles are in the GCJ-02
datum (:attr:`TileChoice.gcj02`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import folium

from ..errors import ScenarioError
from ..inputs.scenario import Scenario

__all__ = ["TILES", "TileChoice", "tile_choice", "add_tiles"]

#: Tile providers for online use: name -> (URL template, attribution, subdomains).
TILES: dict[str, tuple[str, str, str]] = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "&copy; OpenStreetMap contributors", "abc"),
    "tianditu": (
        "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
        "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "天地图 Tianditu", "01234567",
    ),
    "gaode": (
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang={lang}&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "高德地图 AutoNavi", "1234",
    ),
}
_TIANDITU_ENV = ("SITEPLAN_TIANDITU_KEY", "TIANDITU_KEY")


@dataclass(frozen=True)
class TileChoice:
    """A basemap: ``name`` is ``"none"``, ``"osm"``, ``"tianditu"`` or ``"gaode"``."""

    name: str = "none"
    key: str | None = None

    @property
    def gcj02(self) -> bool:
        """Whether displayed geometry must be shifted to GCJ-02 (Gaode tiles)."""
        return self.name == "gaode"


def tile_choice(scenario: Scenario | None = None, *, tiles: str | None = None, key: str | None = None) -> TileChoice:
    """The basemap to draw: the argument, else the scenario's ``[map]``, else none.

    Parameters
    ----------
    scenario
        A scenario; its optional ``[map]`` section (``tiles``,
        ``tianditu_key``) is used when the arguments are not given.
    tiles
        ``"none"``, ``"osm"``, ``"tianditu"`` or ``"gaode"``.
    key
        The Tianditu key; default the scenario's ``[map] tianditu_key``,
        then the environment variables ``SITEPLAN_TIANDITU_KEY`` and
        ``TIANDITU_KEY``.

    Raises
    ------
    ScenarioError
        For an unknown tile name, or Tianditu without a usable key.
    """
    settings = getattr(scenario, "map", None) if scenario is not None else None
    name = (tiles or getattr(settings, "tiles", None) or "none").lower()
    if name not in ("none", *TILES):
        raise ScenarioError(f"unknown map tiles {name!r}; use one of none, {', '.join(TILES)} ([map] tiles)")
    if name != "tianditu":
        return TileChoice(name)
    key, source = _tianditu_key(key, scenario)
    if not key:
        raise ScenarioError(
            "Tianditu tiles need a key: set [map] tianditu_key in the scenario or the environment variable "
            "SITEPLAN_TIANDITU_KEY (apply for a free key at the Tianditu website), or use tiles = \"none\""
        )
    if not re.fullmatch(r"[A-Za-z0-9]{8,64}", key):
        raise ScenarioError(f"the Tianditu key in {source} must be 8-64 letters and digits "
                            "(a Tianditu key is 32 hex digits): correct it there")
    return TileChoice(name, key)


def _tianditu_key(key: str | None, scenario: Scenario | None) -> tuple[str | None, str]:
    """The Tianditu key and where it came from (the words a message names it by), in the order :func:`tile_choice` looks."""
    if key:
        return key, "the key given to tile_choice"
    settings = getattr(scenario, "map", None)
    if getattr(settings, "tianditu_key", None):
        where = f" of {scenario.source}" if getattr(scenario, "source", None) else ""
        return settings.tianditu_key, f"[map] tianditu_key{where}"
    for var in _TIANDITU_ENV:
        if os.environ.get(var):
            return os.environ[var], f"the environment variable {var}"
    return None, ""


def add_tiles(m: folium.Map, choice: TileChoice, lang: str) -> list[str]:
    """Add the chosen tile layers; return the URL prefixes the offline check may allow."""
    if choice.name == "none":
        return []
    url, attr, subdomains = TILES[choice.name]
    if choice.name == "tianditu":
        layers = [("vec", "天地图矢量" if lang == "zh" else "Tianditu"), ("cva" if lang == "zh" else "eva", "注记")]
        allow = []
        for k, (layer, label) in enumerate(layers):
            u = url.replace("{layer}", layer).replace("{key}", choice.key or "")
            folium.TileLayer(u, attr=attr, name=label, subdomains=subdomains, overlay=k > 0, control=k == 0, max_zoom=18).add_to(m)
            allow.append(u.split("{s}", 1)[0])
        return allow
    if choice.name == "gaode":
        url = url.replace("{lang}", "zh_cn" if lang == "zh" else "en")
    folium.TileLayer(url, attr=attr, name={"osm": "OpenStreetMap", "gaode": "高德地图"}[choice.name],
                     subdomains=subdomains, max_zoom=18).add_to(m)
    return [url.split("{s}", 1)[0] if "{s}" in url else url.split("{z}", 1)[0]]
