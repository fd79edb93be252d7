"""Two runs of one scenario write the same bytes, but for the solver's times in run.json.

A run from ``siteplan app`` and ``siteplan run`` on the same saved scenario
must give byte-identical outputs; the dates the file formats record come from
:func:`siteplan.outputs.stamp.stamp` (the day of the run, or
``SOURCE_DATE_EPOCH``), and the map's element ids are numbered, not random.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from siteplan.outputs.compare import write_comparison
from siteplan.pipeline import run

#: The keys of run.json that hold how long a step took: they alone may differ between two runs.
TIMING_KEYS = {"build_s", "solve_s", "rounding_s", "runtime_s", "seconds"}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _same_files(a: Path, b: Path, *, except_run_json: bool = True) -> None:
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    differ = [name for name in fa if fa[name] != fb[name] and not (except_run_json and name == "run.json")]
    assert differ == []


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    """The mini city run twice with shapefiles, into two folders (skipped if the runs straddle midnight)."""
    from tests.cities import write_mini_city

    base = tmp_path_factory.mktemp("twice")
    city = write_mini_city(base / "city")
    day = dt.date.today()
    with pytest.MonkeyPatch.context() as mp:  # the day of the run, not a SOURCE_DATE_EPOCH of the environment
        mp.delenv("SOURCE_DATE_EPOCH", raising=False)
        run(city, out_dir=base / "one", shapefile=True)
        run(city, out_dir=base / "two", shapefile=True)
    if dt.date.today() != day:
        pytest.skip("the runs straddled midnight, so their dates differ as they should")
    return base / "one", base / "two"


def test_two_runs_write_the_same_bytes(twice):
    one, two = twice
    names = set(_files(one))
    # Every kind of output is there, so that each is compared.
    assert {"map.html", "plan.gpkg", "land_supply.xlsx", "plan.docx", "report.html", "compliance.csv",
            "allocation.geojson", "run.json", "shapefile/fields.csv", "shapefile/allocation.dbf"} <= names
    _same_files(one, two)


def test_run_json_differs_only_in_the_solver_times(twice):
    one, two = twice
    a = json.loads((one / "run.json").read_text(encoding="utf-8"))
    b = json.loads((two / "run.json").read_text(encoding="utf-8"))
    assert "runtime_s" in a["solver"]  # the timing keys are where this test drops them
    assert _without_times(a) == _without_times(b)


def test_files_record_the_day_of_the_run(twice):
    one, _ = twice
    midnight = dt.datetime.combine(dt.date.today(), dt.time()).astimezone()
    utc = midnight.astimezone(dt.timezone.utc).replace(tzinfo=None)
    for name in ("land_supply.xlsx", "plan.docx"):
        with zipfile.ZipFile(one / name) as z:
            assert {i.date_time for i in z.infolist()} == {midnight.timetuple()[:6]}
    with sqlite3.connect(one / "plan.gpkg") as db:
        assert {r[0] for r in db.execute("SELECT last_change FROM gpkg_contents")} == {utc.strftime("%Y-%m-%dT%H:%M:%S.000Z")}


def test_map_ids_are_numbered(twice):
    one, _ = twice
    page = (one / "map.html").read_text(encoding="utf-8")
    assert "map_00000000000000000000000000000002" in page  # the map, after its root figure


def test_source_date_epoch_sets_the_dates(tmp_path, monkeypatch):
    from docx import Document
    from openpyxl import load_workbook

    from tests.cities import write_mini_city

    when = dt.datetime(2021, 3, 4, 5, 6, 7)  # UTC
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(when.replace(tzinfo=dt.timezone.utc).timestamp())))
    out = tmp_path / "out"
    run(write_mini_city(tmp_path / "city"), out_dir=out, shapefile=True)

    wb = load_workbook(out / "land_supply.xlsx")
    assert wb.properties.created == when and wb.properties.modified == when
    props = Document(str(out / "plan.docx")).core_properties
    assert props.created.replace(tzinfo=None) == when and props.modified.replace(tzinfo=None) == when
    for name in ("land_supply.xlsx", "plan.docx"):  # zip entries: the epoch's UTC wall time, whatever the timezone
        with zipfile.ZipFile(out / name) as z:
            assert {i.date_time for i in z.infolist()} == {(2021, 3, 4, 5, 6, 6)}  # zip keeps even seconds
    with sqlite3.connect(out / "plan.gpkg") as db:
        assert {r[0] for r in db.execute("SELECT last_change FROM gpkg_contents")} == {"2021-03-04T05:06:07.000Z"}
        assert {r[0] for r in db.execute("SELECT update_time FROM layer_styles")} == {"2021-03-04T05:06:07"}
    header = (out / "shapefile" / "allocation.dbf").read_bytes()[:4]
    assert (header[1] + 1900, header[2], header[3]) == (2021, 3, 4)


def test_two_comparisons_write_the_same_bytes(two_runs, tmp_path):
    out_a, out_b, _ = two_runs
    day = dt.date.today()
    write_comparison(out_a, out_b, tmp_path / "one")
    write_comparison(out_a, out_b, tmp_path / "two")
    if dt.date.today() != day:
        pytest.skip("the comparisons straddled midnight")
    _same_files(tmp_path / "one", tmp_path / "two", except_run_json=False)
