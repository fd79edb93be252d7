"""Makers of bad inputs: the mini city (tests/cities.py) with one fault each.

Every helper works on a copy of a valid city in a folder and leaves the
rest of it valid, so a test sees the behaviour of exactly one fault.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import geopandas as gpd
import numpy as np

from tests.cities import write_mini_city

_TEMPLATE: Path | None = None


def mini_city_copy(folder: Path, tmp_root: Path) -> Path:
    """A fresh copy of the mini city in ``folder``; returns its scenario path.

    The city is written once per session (under ``tmp_root``) and copied.
    """
    global _TEMPLATE
    if _TEMPLATE is None or not _TEMPLATE.exists():
        _TEMPLATE = write_mini_city(tmp_root / "mini-city-template").parent
    shutil.copytree(_TEMPLATE, folder)
    return folder / "scenario.toml"


def read(folder: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(folder / f"{name}.gpkg", engine="pyogrio")


def write(folder: Path, name: str, gdf: gpd.GeoDataFrame, **kwargs) -> None:
    path = folder / f"{name}.gpkg"
    path.unlink(missing_ok=True)
    gdf.to_file(path, engine="pyogrio", **kwargs)


def edit_layer(folder: Path, name: str, fn) -> None:
    """Rewrite ``<name>.gpkg`` as ``fn(its GeoDataFrame)``."""
    write(folder, name, fn(read(folder, name)))


def edit_scenario(scenario: Path, old: str, new: str) -> None:
    text = scenario.read_text(encoding="utf-8")
    assert old in text, old
    scenario.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_to_scenario(scenario: Path, section: str, lines: str) -> None:
    """Add ``lines`` to the TOML table ``section`` (created at the end when absent)."""
    text = scenario.read_text(encoding="utf-8")
    header = f"[{section}]\n"
    if header in text:
        text = text.replace(header, header + lines.rstrip("\n") + "\n", 1)
    else:
        text += f"\n{header}{lines.rstrip()}\n"
    scenario.write_text(text, encoding="utf-8")


def set_layer_path(scenario: Path, kind: str, new_path: str) -> None:
    text = scenario.read_text(encoding="utf-8")
    head, sep, rest = text.partition("[layers]\n")
    assert sep, "no [layers] table"
    table, _, tail = rest.partition("\n[")
    lines = [f'{kind} = "{new_path}"' if line.startswith(f"{kind} = ") else line for line in table.splitlines()]
    assert lines != table.splitlines() or f'{kind} = "{new_path}"' in table, f"no {kind} in [layers]"
    text = head + sep + "\n".join(lines) + ("\n[" + tail if tail else "")
    scenario.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def reverse_rings(shp: Path) -> None:
    """Reverse every ring of every polygon in a .shp file: outer rings read as holes."""
    b = bytearray(shp.read_bytes())
    pos = 100
    while pos + 8 <= len(b):
        _, words = struct.unpack(">ii", b[pos:pos + 8])
        c = pos + 8
        if struct.unpack("<i", b[c:c + 4])[0] in (5, 15, 25):
            nparts, npts = struct.unpack("<ii", b[c + 36:c + 44])
            starts = list(struct.unpack(f"<{nparts}i", b[c + 44:c + 44 + 4 * nparts])) + [npts]
            p0 = c + 44 + 4 * nparts
            pts = np.frombuffer(bytes(b[p0:p0 + 16 * npts]), dtype="<f8").reshape(-1, 2).copy()
            for i in range(nparts):
                pts[starts[i]:starts[i + 1]] = pts[starts[i]:starts[i + 1]][::-1]
            b[p0:p0 + 16 * npts] = pts.tobytes()
        pos = c + 2 * words
    shp.write_bytes(bytes(b))


def rename_dbf_field(dbf: Path, old: bytes, new: bytes) -> None:
    """Overwrite a field name in a .dbf header with raw bytes (at most 10)."""
    assert len(new) <= 10
    b = bytearray(dbf.read_bytes())
    header_len = struct.unpack("<H", b[8:10])[0]
    pos = 32
    while pos < header_len - 1 and b[pos] != 0x0D:
        name = bytes(b[pos:pos + 11]).split(b"\0")[0]
        if name == old:
            b[pos:pos + 11] = new.ljust(11, b"\0")
            dbf.write_bytes(bytes(b))
            return
        pos += 32
    raise AssertionError(f"field {old!r} not in {dbf}")
