"""Targets from the plan's own tables: type rows × year columns (Excel or CSV), yearly or cumulative.

A housing-security plan gives its targets as a table, often cumulative
(累计)::

    指标              | 2023年 | 2024年 | 2025年 | 2026年 | 2027年
    保障性租赁住房(套) |   637  |   847  |  1050  |  1060  |  1100

The scenario names the file instead of retyping it::

    [targets]
    file = "保障房目标.xlsx"      # or .csv (UTF-8 or GBK); targets = "x.xlsx" is the short form
    sheet = "指标"                # optional: which sheet
    mode = "cumulative"           # "yearly" (default) or "cumulative": yearly = differences
    zones = "片区目标.xlsx"        # optional: zone rows, one whole-plan column or year columns
    districts = "区县目标.csv"     # optional: district rows, the same way

:func:`inline_target_files` reads the files and writes their values into the
scenario's ``[types.<code>].targets``, ``[zones]`` and ``[districts]`` before
the scenario is validated. Type rows are matched by code, catalogue name,
common short form (公租房, 廉租房, 人才公寓, 限价房, 棚改安置 ...) or the
scenario's own ``label``; a row that only mentions a type in a longer label
("保障性租赁住房累计建设筹集套(间)数") counts too. Total rows and columns
(合计, 小计, 总计) are checked, not used. Year columns outside the plan are
ignored with a note, except that in a cumulative table the year before the
plan is the base the first year's increment is counted from. Every cell that
cannot be read is an error naming the file, sheet and cell.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..errors import ScenarioError
from ..housing import CATALOGUE
from .settings import TargetFiles

__all__ = ["TYPE_ALIASES", "inline_target_files", "read_area_targets", "read_type_targets"]

log = logging.getLogger(__name__)

#: Names plans use for each catalogue type besides its catalogue label.
TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "public_rental": ("公共租赁住房", "公租房", "公共租赁房"),
    "low_rent": ("廉租住房", "廉租房"),
    "economy": ("经济适用住房", "经济适用房", "经适房"),
    "price_capped": ("限价商品住房", "限价商品房", "限价房"),
    "talent_apartment": ("人才公寓", "人才住房", "人才房"),
    "resettlement": ("棚改安置住房", "棚户区改造安置住房", "棚改安置房", "棚改安置", "安置住房", "安置房"),
    "affordable_rental": ("保障性租赁住房", "保障性租赁房", "保租房"),
    "affordable_sale": ("配售型保障性住房", "配售型保障房", "配售型保障住房"),
}

_TOTAL_WORDS = ("合计", "小计", "总计", "共计", "总数", "total", "sum")
#: Rows that count households or shares, not units to build (户数, 覆盖率 %).
_NOT_UNITS = ("%", "率", "户数", "(户)", "家庭")
_EMPTY = ("", "-", "—", "–", "/", "／", "——")


@dataclass
class _Table:
    """One sheet as a grid of raw cell values, and how to name it in messages."""

    where: str  # "targets.xlsx, sheet 指标" or "targets.csv"
    rows: list[list[object]]


@dataclass
class _Grid:
    """The parsed layout: header row, year and total columns, and each data row's label."""

    header: int
    years: dict[int, int]  # column -> year
    totals: list[int]  # total columns
    value_col: int | None  # the one value column of a whole-plan table
    labels: dict[int, str] = field(default_factory=dict)  # row -> label
    total_rows: list[int] = field(default_factory=list)


def cell_ref(row: int, col: int) -> str:
    """``D4`` for the 0-based ``(3, 3)``."""
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _norm(value: object) -> str:
    """Text of a cell: NFKC (full-width digits and brackets to ASCII), whitespace removed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


def _year(value: object) -> int | None:
    """The year a header cell names: 2023, 2023.0, "2023", "2023年", "2023年 目标值"; else None."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.year
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        y = float(value)
        return int(y) if y.is_integer() and 1990 <= y <= 2100 else None
    m = re.fullmatch(r"(\d{4})(?:年度?)?([^\d]*)", _norm(value))
    if m and 1990 <= int(m.group(1)) <= 2100 and not _is_total(m.group(2)):
        return int(m.group(1))
    return None


def _is_total(text: object) -> bool:
    t = _norm(text).lower()
    return bool(t) and any(w in t for w in _TOTAL_WORDS)


def _number(value: object) -> float | None:
    """A count read as bureaus write it: 1100, 1100.0, "1,100", "1,100套", "１１００"; None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = _norm(value).replace(",", "").replace("'", "")
    text = re.sub(r"(套\(间\)|套|间|units?)$", "", text)
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _units(table: _Table, row: int, col: int, what: str) -> int:
    """A whole number of units from a cell, or an error naming the cell and the fix."""
    value = table.rows[row][col] if col < len(table.rows[row]) else None
    x = _number(value)
    ref = f"{table.where}, cell {cell_ref(row, col)}"
    if x is None:
        shown = _norm(value)
        if shown in _EMPTY:
            raise ScenarioError(f"{ref} ({what}) is empty; write a whole number of units, 0 if there are none "
                                "(a formula's value is read as Excel last saved it: open and save the file in Excel)")
        raise ScenarioError(f"{ref} ({what}): {str(value)!r} is not a number of units; write a whole number")
    if x < 0 or not x.is_integer():
        raise ScenarioError(f"{ref} ({what}): {_shown(x)} is not a whole number of 0 or more; write a whole number")
    return int(x)


def _shown(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


# -- reading the file ------------------------------------------------------


def _read_table(path: Path, sheet: str | None, prefer: tuple[str, ...], key: str) -> _Table:
    """The grid of a .xlsx sheet or a .csv file.

    ``prefer``: words a sheet's name may hold when ``sheet`` is not given and
    the workbook has several (the first sheet is taken otherwise).
    """
    if not path.is_file():
        raise ScenarioError(f"{path}: targets file not found ({key}); check the path, relative to the scenario file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet, prefer, key)
    if suffix in (".csv", ".txt"):
        if sheet is not None:
            log.info("%s: a CSV file has no sheets; [targets] sheet = %r is not used for it", path.name, sheet)
        return _read_csv(path, key)
    if suffix == ".xls":
        raise ScenarioError(f"{path}: old Excel .xls files are not read ({key}); open it in Excel or WPS and save "
                            "it as .xlsx (or as CSV), then name that file")
    raise ScenarioError(f"{path}: {key} must be an Excel .xlsx or a .csv file, not {suffix or 'a file without extension'}")


def _read_xlsx(path: Path, sheet: str | None, prefer: tuple[str, ...], key: str) -> _Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, data_only=True, read_only=False)
    except Exception as err:  # zip or XML faults: openpyxl raises many kinds
        raise ScenarioError(f"{path}: cannot read it as an Excel workbook ({key}: {type(err).__name__}: {err}); "
                            "open it in Excel or WPS and save it again as .xlsx") from None
    names = book.sheetnames
    if sheet is not None:
        if sheet not in names:
            raise ScenarioError(f"{path}: has no sheet {sheet!r} ([targets] sheet); its sheets are: "
                                f"{', '.join(names)}")
        chosen = sheet
    else:
        chosen = next((n for n in names if any(w in n for w in prefer)), names[0])
        if len(names) > 1:
            log.warning("%s: read sheet %r of %d (%s); to read another, set [targets] sheet = \"<name>\"",
                        path.name, chosen, len(names), ", ".join(names))
    ws = book[chosen]
    rows = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
    book.close()
    return _Table(f"{path.name}, sheet {chosen}", rows)


def _read_csv(path: Path, key: str) -> _Table:
    import csv
    import io

    raw = path.read_bytes()
    for codec in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ScenarioError(f"{path}: the text is neither UTF-8 nor GBK ({key}); save it as CSV UTF-8 from Excel")
    first = text.splitlines()[0] if text else ""
    delimiter = "\t" if "\t" in first and "," not in first else ";" if first.count(";") > first.count(",") else ","
    rows = [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    return _Table(path.name, rows)


# -- the layout ------------------------------------------------------------


def _layout(table: _Table, *, need_years: bool) -> _Grid:
    """Find the header row (the first with year cells), the year and total columns, and row labels."""
    header = next((i for i, r in enumerate(table.rows) if any(_year(v) is not None for v in r)), None)
    if header is None:
        if need_years:
            raise ScenarioError(f"{table.where}: no header row with years found (such as 2023, 2023年); the table "
                                "needs one row of type names and one column per year, e.g. 类型 | 2023年 | 2024年")
        header = next((i for i, r in enumerate(table.rows) if any(_norm(v) for v in r)), 0)
        grid = _Grid(header, {}, [], None)
    else:
        row = table.rows[header]
        years = {c: y for c, v in enumerate(row) if (y := _year(v)) is not None}
        dup = sorted({y for y in years.values() if list(years.values()).count(y) > 1})
        if dup:
            cols = [cell_ref(header, c) for c, y in years.items() if y == dup[0]]
            raise ScenarioError(f"{table.where}: the year {dup[0]} heads two columns ({', '.join(cols)}); keep one")
        totals = [c for c, v in enumerate(row) if _is_total(v) and c > min(years)]
        grid = _Grid(header, years, totals, None)
    first_value = min(grid.years) if grid.years else None
    for i in range(header + 1, len(table.rows)):
        row = table.rows[i]
        stop = first_value if first_value is not None else len(row)
        # The label: the rightmost text left of the values that is not a number (serial numbers 1, 2, 3).
        label = ""
        for c in range(min(stop, len(row)) - 1, -1, -1):
            t = _norm(row[c])
            if t and _number(row[c]) is None:
                label = t
                if first_value is None:
                    stop = c
                break
        if not label:
            if any(_norm(v) not in _EMPTY for v in row[first_value or 0:]) and first_value is not None:
                raise ScenarioError(f"{table.where}, row {i + 1}: values without a name; write the type (or zone, "
                                    f"district) name in the column left of the years, or delete the row")
            continue
        if _is_total(label):
            grid.total_rows.append(i)
        else:
            grid.labels[i] = label
    return grid


def _plan_values(table: _Table, grid: _Grid, row: int, years: list[int], mode: str, label: str) -> list[int]:
    """One row's yearly values over the plan years (cumulative tables differenced), with its total checked."""
    col_of = {y: c for c, y in grid.years.items()}
    missing = [y for y in years if y not in col_of]
    if missing:
        raise ScenarioError(f"{table.where}: no column for the plan year(s) {', '.join(map(str, missing))}; the "
                            f"header row {grid.header + 1} has {', '.join(map(str, sorted(col_of)))}. Add the "
                            "column(s), or change [plan] first_year / last_year")
    shown = sorted(col_of)
    values = {y: _units(table, row, col_of[y], f"{label}, {y}") for y in shown
              if years[0] - (mode == "cumulative") <= y <= years[-1]}
    if mode == "cumulative":
        ordered = sorted(values)
        for a, b in zip(ordered, ordered[1:]):
            if values[b] < values[a]:
                raise ScenarioError(
                    f"{table.where}, cell {cell_ref(row, col_of[b])} ({label}, {b}): the cumulative (累计) value "
                    f"{values[b]:,} is below {values[a]:,} in {a}; a cumulative table cannot decrease. Correct the "
                    'value, or set [targets] mode = "yearly" if the table gives each year\'s own units')
        base = values.get(years[0] - 1, 0)
        out = [values[y] - (values[y - 1] if y - 1 in values else base) for y in years]
    else:
        out = [values[y] for y in years]
    for c in grid.totals:
        if c < len(table.rows[row]) and _norm(table.rows[row][c]) not in _EMPTY:
            total = _units(table, row, c, f"{label}, total")
            table_years = [y for y in shown]
            in_table = [_number(table.rows[row][col_of[y]]) or 0 for y in table_years]
            fits = {sum(in_table), sum(out)} if mode == "yearly" else {max(in_table, default=0), sum(out)}
            if total not in fits:
                raise ScenarioError(f"{table.where}, cell {cell_ref(row, c)} ({label}, total): {total:,} disagrees "
                                    f"with the years, which give {sum(out):,} over the plan; correct the total or "
                                    "the yearly cells")
    return out


def _check_total_rows(table: _Table, grid: _Grid, counted: list[int]) -> None:
    """Each total row's year cells must equal the sum of the counted rows above it."""
    for t in grid.total_rows:
        for c, y in grid.years.items():
            if c >= len(table.rows[t]) or _norm(table.rows[t][c]) in _EMPTY:
                continue
            parts = [_number(table.rows[r][c]) if c < len(table.rows[r]) else None for r in counted]
            if any(p is None for p in parts):
                continue  # a row unreadable in this column: the total cannot be checked
            total = _units(table, t, c, f"total, {y}")
            if abs(total - sum(parts)) > 0.5:
                raise ScenarioError(f"{table.where}, cell {cell_ref(t, c)} (total, {y}): {total:,} disagrees with the "
                                    f"sum of the rows, {_shown(sum(parts))}; correct the total or the rows")


# -- the three tables ------------------------------------------------------


def _type_names(code: str, label: str | None) -> list[str]:
    known = CATALOGUE.get(code)
    names = [code, *TYPE_ALIASES.get(code, ())]
    if known is not None:
        names += [known.label_zh, known.label_en]
    if label:
        names.append(label)
    return [_norm(n).lower() for n in names if n]


def _match_type(label: str, names: dict[str, list[str]]) -> tuple[str | None, bool]:
    """``(code, exact)``: the type a row label names, exactly or inside a longer label; ``(None, False)`` if none."""
    key = re.sub(r"\(.*?\)", "", label.lower()) or label.lower()
    for code, ns in names.items():
        if key in ns or label.lower() in ns:
            return code, True
    best, length = None, 0
    for code, ns in names.items():
        for n in ns:
            if len(n) >= 3 and n in label.lower() and len(n) > length:
                best, length = code, len(n)
    return best, False


def read_type_targets(path: Path, *, years: list[int], mode: str = "yearly", sheet: str | None = None,
                      labels: dict[str, str | None], inline: frozenset[str] = frozenset()) -> dict[str, list[int]]:
    """Yearly targets per type from a table of type rows × year columns.

    Parameters
    ----------
    path
        The .xlsx or .csv file.
    years
        The plan years.
    mode
        ``"yearly"`` or ``"cumulative"`` (累计: yearly values are the differences).
    sheet
        The sheet to read; default the first (or the one whose name says 指标/目标).
    labels
        The scenario's types: code -> its ``label`` (or None).
    inline
        Types whose targets the scenario gives itself: a row for one of them is an error.

    Returns
    -------
    dict
        Type code -> one whole number of units per plan year, for every type in ``labels``.

    Raises
    ------
    ScenarioError
        Naming the file, sheet and cell that cannot be read, a missing type or
        year, a cumulative decrease, or a total that disagrees.
    """
    table = _read_table(path, sheet, ("指标", "目标", "target"), "[targets] file")
    grid = _layout(table, need_years=True)
    names = {code: _type_names(code, lab) for code, lab in labels.items()}
    names.update({code: _type_names(code, None) for code in {*CATALOGUE, *TYPE_ALIASES} if code not in names})
    found: dict[str, int] = {}
    counted: list[int] = []
    for row, label in grid.labels.items():
        if any(w in label for w in _NOT_UNITS):
            log.info("%s, row %d: %r counts households or a share, not units; not read", table.where, row + 1, label)
            continue
        code, exact = _match_type(label, names)
        counted.append(row)
        if code is None:
            log.warning("%s, row %d: %r is no housing type of the scenario; not read (give the type's [types.<code>] "
                        "label = %r to read it)", table.where, row + 1, label, label)
            continue
        if code in inline:
            raise ScenarioError(f"{table.where}, row {row + 1}: {label!r} gives targets for {code}, and the scenario "
                                f"gives types.{code}.targets too; remove one of them")
        if code not in labels:
            if exact:
                raise ScenarioError(f"{table.where}, row {row + 1}: {label!r} is the type {code}, which [types] does "
                                    f"not define; add [types.{code}] with its unit_area_m2, or delete the row")
            log.warning("%s, row %d: %r mentions the type %s, which [types] does not define; not read",
                        table.where, row + 1, label, code)
            continue
        if code in found:
            raise ScenarioError(f"{table.where}: rows {found[code] + 1} ({grid.labels[found[code]]!r}) and {row + 1} "
                                f"({label!r}) both name the type {code}; keep one, or give one of them its own "
                                "[types.<code>] with that label")
        found[code] = row
    missing = [c for c in labels if c not in found and c not in inline]
    if missing:
        rows = ", ".join(repr(v) for v in grid.labels.values()) or "none"
        raise ScenarioError(f"{table.where}: no row for the type(s) {', '.join(missing)} defined in [types]; the rows "
                            f"are {rows}. Name each row by the type's code or Chinese name (e.g. "
                            f"{next(iter(TYPE_ALIASES[m][0] for m in missing if m in TYPE_ALIASES), '公租房')}), or give "
                            "[types.<code>] label = the row's name")
    _check_total_rows(table, grid, counted)
    extra = sorted(y for y in grid.years.values() if not years[0] - (mode == "cumulative") <= y <= years[-1])
    if extra:
        log.warning("%s: the year column(s) %s are outside the plan (%d-%d) and were not read", table.where,
                    ", ".join(map(str, extra)), years[0], years[-1])
    return {code: _plan_values(table, grid, row, years, mode, grid.labels[row]) for code, row in found.items()}


def read_area_targets(path: Path, *, years: list[int], mode: str = "yearly", sheet: str | None = None,
                      what: str = "zones") -> dict[str, int | list[int]]:
    """Zone or district targets from a table: name rows × one whole-plan column, or × year columns.

    Returns name -> units over the whole plan (one value column) or one value
    per plan year (year columns; cumulative tables differenced).
    """
    prefer = ("片区", "分区", "zone") if what == "zones" else ("区县", "行政区", "district")
    table = _read_table(path, sheet, prefer, f"[targets] {what}")
    grid = _layout(table, need_years=False)
    out: dict[str, int | list[int]] = {}
    counted = list(grid.labels)
    for row, label in grid.labels.items():
        if label in out:
            raise ScenarioError(f"{table.where}, row {row + 1}: {label!r} is listed twice; keep one row per name")
        if grid.years:
            out[label] = _plan_values(table, grid, row, years, mode, label)
            continue
        cells = [c for c, v in enumerate(table.rows[row]) if _norm(v) not in _EMPTY and _number(v) is not None]
        cells = [c for c in cells if c > next(c2 for c2, v in enumerate(table.rows[row]) if _norm(v) == label)]
        if len(cells) != 1:
            raise ScenarioError(f"{table.where}, row {row + 1} ({label}): give one number for the whole plan, or one "
                                "column per year with the years in the header row")
        out[label] = _units(table, row, cells[0], label)
    if grid.years:
        _check_total_rows(table, grid, counted)
    if not out:
        raise ScenarioError(f"{table.where}: no {what} rows found; write one row per name with its target")
    return out


# -- the scenario hook -----------------------------------------------------


def inline_target_files(data: dict, *, base_dir: Path | None = None, where: str = "scenario") -> dict:
    """The scenario document with ``[targets]`` read into ``[types]``, ``[zones]`` and ``[districts]``.

    Returns ``data`` itself when it has no ``targets`` key, else a copy
    without it. A value the scenario gives itself as well as in a file is an
    error (one source per number).

    Raises
    ------
    ScenarioError
        Prefixed with ``where``, for an invalid ``[targets]`` table or a file
        that cannot be read.
    """
    if not isinstance(data, dict) or "targets" not in data:
        return data
    spec = data["targets"]
    if isinstance(spec, str):
        spec = {"file": spec}
    try:
        files = TargetFiles.model_validate(spec)
    except ValidationError as err:
        lines = [f"  - targets.{'.'.join(map(str, e['loc'])) or ''}: {e['msg'].removeprefix('Value error, ')}"
                 for e in err.errors()]
        raise ScenarioError("\n".join([f"{where}: {len(lines)} problem(s) in the scenario", *lines])) from None
    plan = data.get("plan") if isinstance(data.get("plan"), dict) else {}
    first, last = plan.get("first_year"), plan.get("last_year")
    if not (isinstance(first, int) and isinstance(last, int) and first <= last):
        return {k: v for k, v in data.items() if k != "targets"}  # [plan] is wrong: its own error says so
    years = list(range(first, last + 1))
    out = copy.deepcopy({k: v for k, v in data.items() if k != "targets"})

    def resolve(p: Path) -> Path:
        return p if p.is_absolute() or base_dir is None else base_dir / p

    try:
        if files.file is not None:
            types = out.get("types")
            if not isinstance(types, dict) or not types:
                raise ScenarioError("[targets] file gives type targets, but [types] defines no type; add "
                                    "[types.<code>] with unit_area_m2 for each type row of the file")
            labels = {code: (t.get("label") if isinstance(t, dict) else None) for code, t in types.items()}
            inline = frozenset(c for c, t in types.items() if isinstance(t, dict) and "targets" in t)
            got = read_type_targets(resolve(files.file), years=years, mode=files.mode, sheet=files.sheet,
                                    labels=labels, inline=inline)
            for code, values in got.items():
                types[code]["targets"] = values
        for what in ("zones", "districts"):
            path = getattr(files, what)
            if path is None:
                continue
            if out.get(what):
                raise ScenarioError(f"[{what}] is given in the scenario and [targets] {what} names a file too; "
                                    "keep one of them")
            out[what] = read_area_targets(resolve(path), years=years, mode=files.mode, what=what)
    except ScenarioError as err:
        raise ScenarioError(f"{where}: {err}") from None
    return out
