"""Land-use classes: read codes and names as bureaus write them, match them to patterns, and decide candidacy.

Two code tables ship with the package (``siteplan/data/``, sources in its
README): GB 50137-2011 (R, R2, R21, B1, M1, G1 ..., plus the local mixed
codes RB and BR 商住混合) and the 2020 territorial-space classification
(国土空间调查、规划、用途管制用地用海分类: 07, 0701, 070102 ...).

A value may be written ``"R2"``, ``"r2"``, ``"R2(二类居住用地)"``,
``"二类居住用地(R2)"``, ``"二类居住用地"``, ``"070102"``, ``70102`` (a
number column that lost the leading zero) or in full-width characters; see
:func:`land_use_class`. A pattern matches a value by code prefix (``"R2"``
matches R2, R21, R22 but not RB; ``"0701"`` matches 070101) or by Chinese
name (``"商住混合"`` matches RB); see :func:`matches`.

:func:`candidate_mask` and :func:`inclusionary_mask` are the one place where
siteplan decides which parcels are candidates and which host inclusionary
units; every stage asks them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["SYSTEMS", "code_table", "land_use_class", "matches", "specificity", "unknown_codes",
           "candidate_mask", "inclusionary_mask"]

#: The code tables, by system name: (file in ``siteplan/data``, code kind).
SYSTEMS: dict[str, str] = {
    "GB 50137-2011": "gb50137_2011.csv",
    "2020 用地用海分类": "gtkj_2020.csv",
}

_SPLIT = re.compile(r"[/／、,，;；+＋]")
_CODE = re.compile(r"^(?:[A-Z]{1,2}\d{0,2}[A-Z]?|\d{1,6})$")
_CODE_FIRST = re.compile(r"^([A-Za-z]{1,2}\d{0,2}[A-Za-z]?|\d{1,6})\s*(?:[(\[]\s*(.*?)\s*[)\]]|\s(.*)|([^\x00-\x7f].*))?$")
_NAME_FIRST = re.compile(r"^(.*?\D)\s*[(\[]\s*([A-Za-z]{1,2}\d{0,2}[A-Za-z]?|\d{1,6})\s*[)\]]$")


class LandUse(NamedTuple):
    """The class of one written value: its code, the class name, the table, and whether the code is listed."""

    code: str | None
    name: str | None
    system: str | None
    known: bool


@lru_cache(maxsize=1)
def code_table() -> pd.DataFrame:
    """Both code tables as one frame: ``code``, ``name``, ``level``, ``source``, ``system``."""
    frames = []
    for system, file in SYSTEMS.items():
        with resources.files("siteplan").joinpath("data", file).open("r", encoding="utf-8") as f:
            t = pd.read_csv(f, comment="#", dtype=str)
        t["level"] = t["level"].astype(int)
        t["system"] = np.where(t["source"] == "local", "local", system)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, tuple[str, str]], dict[str, list[str]]]:
    """code -> (name, system); normalised name -> codes (standard ones first)."""
    t = code_table()
    by_code = {c: (n, s) for c, n, s in zip(t["code"], t["name"], t["system"])}
    by_name: dict[str, list[str]] = {}
    for c, n, s in zip(t["code"], t["name"], t["system"]):
        for key in {_name_key(n), _name_key(n).removesuffix("用地")}:
            if key:
                by_name.setdefault(key, []).append(c)
    for key, codes in by_name.items():
        codes.sort(key=lambda c: by_code[c][1] == "local")
    return by_code, by_name


def _name_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _norm_code(text: str) -> str | None:
    """``"r2"`` -> ``"R2"``; ``"70102"`` -> ``"070102"`` (digits of odd length lost their leading zero)."""
    code = re.sub(r"\s+", "", text).upper()
    if not _CODE.match(code):
        return None
    if code.isdigit() and len(code) % 2:
        code = "0" + code
    return code


def _split_code(code: str) -> tuple[str, str]:
    """Letters and the rest: ``"R21"`` -> ``("R", "21")``, ``"RB"`` -> ``("RB", "")``, ``"0701"`` -> ``("", "0701")``."""
    m = re.match(r"^([A-Z]*)(.*)$", code)
    return m.group(1), m.group(2)  # type: ignore[union-attr]


def _under(code: str, prefix: str) -> bool:
    """Whether ``code`` is ``prefix`` or one of its subclasses (R21 under R2; RB not under R)."""
    (cl, cr), (pl, pr) = _split_code(code), _split_code(prefix)
    return cl == pl and cr.startswith(pr)


def _listed_parent(code: str) -> str | None:
    """The longest listed class ``code`` falls under (itself if listed)."""
    by_code, _ = _index()
    letters, rest = _split_code(code)
    for n in range(len(rest), -1, -1):
        cand = letters + rest[:n]
        if cand in by_code and cand:
            return cand
    return None


def _resolve_name(text: str, prefer: str | None) -> str | None:
    """The code a class name stands for; None when unknown or ambiguous within a table."""
    by_code, by_name = _index()
    key = _name_key(text)
    codes = by_name.get(key) or by_name.get(key.removesuffix("用地")) or []
    standard = [c for c in codes if by_code[c][1] != "local"]
    if prefer is not None:
        preferred = [c for c in standard if by_code[c][1] == prefer]
        if preferred:
            standard = preferred
    systems = {by_code[c][1] for c in standard}
    if len(standard) > 1 and len(systems) == 1:
        return None  # 住宅用地: R11, R21 or R31
    if standard:
        return standard[0]
    return codes[0] if codes else None


def _parse_one(text: str, prefer: str | None) -> LandUse:
    by_code, _ = _index()
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return LandUse(None, None, None, False)
    written_name = None
    m = _CODE_FIRST.match(text)
    n = None if m else _NAME_FIRST.match(text)
    if m:
        code = _norm_code(m.group(1))
        written_name = next((g for g in m.group(2, 3, 4) if g), None)
    elif n:
        code, written_name = _norm_code(n.group(2)), n.group(1).strip()
    else:
        code, written_name = _resolve_name(text, prefer), text
        if code is None:
            return LandUse(None, written_name, None, False)
    if code is None:
        return LandUse(None, written_name, None, False)
    parent = _listed_parent(code)
    if parent is None:
        return LandUse(code, written_name, None, False)
    name, system = by_code[parent]
    return LandUse(code, by_code[code][0] if code == parent else (written_name or name), system, code == parent)


def _first_part(value) -> str | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return str(value)


def _classes(value, prefer: str | None) -> list[LandUse]:
    """Every class named in one value (``"R2/B1"`` names two)."""
    text = _first_part(value)
    if text is None or pd.isna(text):
        return [LandUse(None, None, None, False)]
    text = unicodedata.normalize("NFKC", text)
    parts = [p for p in _SPLIT.split(text) if p.strip()] or [text]
    return [_parse_one(p, prefer) for p in parts]


def _dominant_system(uniques) -> str | None:
    counts = Counter()
    for v in uniques:
        text = _first_part(v)
        if text is None:
            continue
        code = _norm_code(unicodedata.normalize("NFKC", text).split("(")[0])
        if code:
            counts["2020 用地用海分类" if code.isdigit() else "GB 50137-2011"] += 1
    return counts.most_common(1)[0][0] if counts else None


def land_use_class(values: pd.Series) -> pd.DataFrame:
    """The land-use class of each value.

    Parameters
    ----------
    values
        Land-use codes and/or names as written (text or numbers).

    Returns
    -------
    pandas.DataFrame
        Aligned to ``values``: ``code`` (normalised, e.g. ``"R2"``,
        ``"070102"``), ``name`` (the class name from the table),
        ``system`` (``"GB 50137-2011"``, ``"2020 用地用海分类"``, ``"local"``
        or None) and ``known`` (the code is listed as written). A code not
        listed keeps its code and takes the system of its longest listed
        prefix (R20 -> GB 50137-2011 via R2); a name listed in both tables
        (商业用地: B1 and 0901) is read in the system most of the column's
        codes are in.
    """
    uniq = pd.unique(values.astype(object).where(values.notna(), None))
    prefer = _dominant_system(uniq)
    rows = {}
    for v in uniq:
        rows[v] = _classes(v, prefer)[0]
    out = [rows[v] for v in values.astype(object).where(values.notna(), None)]
    frame = pd.DataFrame(out, columns=list(LandUse._fields), index=values.index)
    for col in ("code", "name", "system"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame["known"] = frame["known"].astype(bool)
    return frame


def _pattern_codes(pattern: str) -> list[str]:
    """The codes a pattern stands for: itself if a code, else the classes its name names."""
    text = unicodedata.normalize("NFKC", str(pattern)).strip()
    code = _norm_code(text) if not re.search(r"[^\x00-\x7f]", text) else None
    if code:
        return [code]
    _, by_name = _index()
    key = _name_key(text)
    return list(by_name.get(key) or by_name.get(key.removesuffix("用地")) or [])


def specificity(pattern: str) -> int:
    """How narrow a pattern is: the length of the longest code it stands for (0 if none)."""
    return max((len(c) for c in _pattern_codes(pattern)), default=0)


def _match_one(classes: list[LandUse], pattern: str, codes: list[str]) -> bool:
    key = _name_key(str(pattern))
    for c in classes:
        if c.code is not None and any(_under(c.code, p) for p in codes):
            return True
        if c.name is not None and key and _name_key(c.name) in (key, key + "用地"):
            return True
    return False


def matches(values: pd.Series, patterns: list[str]) -> np.ndarray:
    """Which values fall under any of ``patterns`` (by code prefix or by name).

    Parameters
    ----------
    values
        Land-use codes and/or names as written.
    patterns
        Codes (``"R2"``, ``"0701"``) or class names (``"商住混合"``).

    Returns
    -------
    numpy.ndarray
        Boolean, one per value; missing values match nothing.
    """
    if not patterns:
        return np.zeros(len(values), dtype=bool)
    obj = values.astype(object).where(values.notna(), None)
    uniq = pd.unique(obj)
    prefer = _dominant_system(uniq)
    compiled = [(p, _pattern_codes(p)) for p in patterns]
    hit = {v: any(_match_one(_classes(v, prefer), p, codes) for p, codes in compiled) for v in uniq}
    return np.array([hit[v] for v in obj], dtype=bool)


def unknown_codes(values: pd.Series) -> tuple[Counter, Counter]:
    """Values in no table (with counts), and codes read by a listed parent (R20 as R2), with counts."""
    cls = land_use_class(values)
    written = values.astype(object).where(values.notna(), None)
    unknown: Counter = Counter()
    by_parent: Counter = Counter()
    for v, system, known, code in zip(written, cls["system"], cls["known"], cls["code"]):
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if system is None:
            unknown[str(_first_part(v))] += 1
        elif not known and code is not None:
            by_parent[f"{code} ({_listed_parent(code)})"] += 1
    return unknown, by_parent


def candidate_mask(parcels: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    """Parcels that may receive new units: a candidate ``status`` and, if given, a candidate land use.

    ``[plan] candidate_status`` (default ``["reserve"]``, also the status of
    a parcel without one) and ``[plan] candidate_land_use`` (default: any)
    must both hold. The land's ``available_year`` is not part of it: the
    callers limit by year.
    """
    plan = scenario.plan
    ok = parcels["status"].isin(plan.candidate_status).to_numpy()
    patterns = list(getattr(plan, "candidate_land_use", []) or [])
    if patterns:
        ok = ok & matches(parcels["land_use"], patterns)
    return ok


def inclusionary_mask(parcels: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    """Commercial projects that host inclusionary units (配建), when ``[rules.inclusionary]`` is on.

    A parcel hosts when its ``status`` is ``[rules.inclusionary] status``
    or its land use matches ``[plan] inclusionary_land_use``. All false
    when the rule is off. Candidates take precedence where both hold.
    """
    incl = scenario.rules.inclusionary
    if incl is None or not incl.enabled:
        return np.zeros(len(parcels), dtype=bool)
    ok = (parcels["status"] == incl.status).to_numpy()
    patterns = list(getattr(scenario.plan, "inclusionary_land_use", []) or [])
    if patterns:
        ok = ok | matches(parcels["land_use"], patterns)
    return ok
