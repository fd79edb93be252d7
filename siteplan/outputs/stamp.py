"""The one date every output file records, so two runs of a scenario write the same bytes.

A run from ``siteplan app`` and ``siteplan run`` on the same saved scenario
must give byte-identical outputs (but for the solver's times in
``run.json``). The file formats record dates of their own: the core
properties ``created``/``modified`` of ``land_supply.xlsx`` and
``plan.docx``, the date and time of every zip entry inside them,
``last_change`` in ``plan.gpkg``'s ``gpkg_contents`` and ``update_time`` of
its ``layer_styles``, the last-update date in each shapefile's ``.dbf``
header. Every writer takes that date from :func:`stamp`: the day of the run
at 00:00:00 local time, or the time ``SOURCE_DATE_EPOCH`` gives (seconds
since 1970-01-01 UTC, the reproducible-builds convention) when it is set.

Folium names every map element with a random id (``map_3f2a...``);
:func:`numbered_html` and :func:`number_elements` number them in the order
of the map's element tree instead.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from pathlib import Path

from ..errors import SiteplanError

__all__ = ["stamp", "stamp_utc", "gpkg_date", "dbf_date", "zip_time", "write_zip", "numbered_html",
           "number_elements"]

#: The environment variable of https://reproducible-builds.org/specs/source-date-epoch/.
ENV = "SOURCE_DATE_EPOCH"


def stamp() -> dt.datetime:
    """The date every output file records, timezone-aware.

    ``SOURCE_DATE_EPOCH`` when set (in UTC, so that the files do not depend
    on the machine's timezone), else today at 00:00:00 local time: a day's
    runs of one scenario then write the same bytes, and the files still
    show the day they were made.

    Raises
    ------
    SiteplanError
        When ``SOURCE_DATE_EPOCH`` is not a whole number of seconds (the
        convention asks tools to stop rather than guess).
    """
    value = os.environ.get(ENV, "").strip()
    if value:
        if not re.fullmatch(r"[0-9]+", value):
            raise SiteplanError(f"{ENV}={value!r} is not a whole number of seconds since 1970-01-01 UTC; "
                                f"set it to one (e.g. {ENV}=$(date +%s)) or unset it")
        return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)
    # combine().astimezone() takes the offset in force at midnight, which differs from now's on a DST day.
    return dt.datetime.combine(dt.date.today(), dt.time()).astimezone()


def stamp_utc() -> dt.datetime:
    """:func:`stamp` in UTC without tzinfo: what openpyxl and python-docx write, with a ``Z``, as is."""
    return stamp().astimezone(dt.timezone.utc).replace(tzinfo=None)


def gpkg_date() -> str:
    """:func:`stamp` as GDAL's ``OGR_CURRENT_DATE`` takes it (the GeoPackage form, UTC with milliseconds)."""
    return stamp_utc().strftime("%Y-%m-%dT%H:%M:%S.000Z")


def dbf_date() -> str:
    """The date of :func:`stamp` as GDAL's shapefile option ``DBF_DATE_LAST_UPDATE`` takes it (YYYY-MM-DD)."""
    return stamp().strftime("%Y-%m-%d")


def zip_time() -> tuple[int, int, int, int, int, int]:
    """:func:`stamp` as a zip entry's date and time.

    Zip entries hold wall-clock time with no timezone, so this is the
    stamp's own clock (local midnight, or UTC for ``SOURCE_DATE_EPOCH``),
    kept within the years 1980-2107 that the format can hold.
    """
    t = stamp().replace(tzinfo=None)
    t = min(max(t, dt.datetime(1980, 1, 1)), dt.datetime(2107, 12, 31, 23, 59, 58))
    return (t.year, t.month, t.day, t.hour, t.minute, t.second)


def write_zip(data: bytes, path: str | Path) -> Path:
    """Write the zip archive ``data`` (an .xlsx or .docx) to ``path`` with every entry dated :func:`zip_time`.

    openpyxl and python-docx date each entry with the time of saving; the
    entries are copied here in the same order, with the same names,
    contents, compression and file attributes, only the date replaced.
    """
    when = zip_time()
    path = Path(path)
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=when)
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            entry.create_system = info.create_system
            dst.writestr(entry, src.read(info))
    return path


def numbered_html(root) -> str:
    """Render a Folium/branca element tree with its elements' ids numbered in page order.

    branca gives every element a random 32-hex-digit id, and the page names
    its JavaScript variables and HTML ids after it (``geo_json_<id>``), so
    two renderings of one map differ. The page is rendered first (rendering
    adds elements to the tree), then each element's id, wherever it occurs
    in the text, is replaced by its position in the tree as 32 hex digits:
    the replacement also reaches names that were copied into text before
    rendering (``get_name()`` handed to a control), which renumbering the
    tree itself would leave pointing at nothing. The random ids are 128
    bits, so they occur nowhere else in the page, and replacing them one
    after another (a search for a plain string, about a third of the time
    of one pattern of every id over a page of megabytes) is the same as
    replacing them all at once.

    ``root`` is the map's root (``m.get_root()``); the elements keep their
    random ids.
    """
    html = root.render()
    seen: dict[str, str] = {}
    for element in _elements(root):
        seen.setdefault(element._id, _number(len(seen) + 1))
    old = [i for i in seen if re.fullmatch(r"[0-9a-f]{32}", i)]
    if not old:
        return html
    for random_id in old:
        html = html.replace(random_id, seen[random_id])
    return html


def number_elements(root) -> None:
    """Give every element of a Folium/branca tree its position in the tree as id, in place.

    For a map that another function renders (``compare.html``, rendered by
    :func:`siteplan.outputs.offline.save_offline`). Call it before any
    element's name is copied into text: a name taken earlier
    (``get_name()`` handed to a control or written into HTML) would keep
    the random id and point at nothing. :func:`numbered_html` has no such
    order to keep, but renders the page itself. The children's keys (their
    names, when they were added without a name of their own) are renamed
    with them.
    """
    elements = list({id(e): e for e in _elements(root)}.values())  # an element under two parents once
    before = {id(e): e.get_name() for e in elements}
    for n, element in enumerate(elements, start=1):
        element._id = _number(n)
    for element in elements:
        items = [(child.get_name() if key == before[id(child)] else key, child) for key, child in element._children.items()]
        element._children.clear()
        element._children.update(items)


def _number(n: int) -> str:
    """An element id for position ``n``: 32 hex digits, the form of branca's random ids."""
    return f"{n:032x}"


def _elements(root) -> list:
    """The elements of a branca tree, depth first, children in the order they were added."""
    out, stack = [], [root]
    while stack:
        element = stack.pop()
        out.append(element)
        stack.extend(reversed(list(element._children.values())))
    return out
