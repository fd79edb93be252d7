"""``siteplan app``: the whole job in a browser, on this computer, without a terminal.

A local web app (FastAPI, served by uvicorn on 127.0.0.1) in five steps,
each a page a planner can come back to:

1. **Data** (:mod:`.pages.data`): the folder of the bureau's files, what
   ``siteplan init`` guessed (each file's role, each field's column, the
   land-use classes), every guess a dropdown; the check report beside it and
   a small map of the layers.
2. **Targets** (:mod:`.pages.targets`): type x year, zones and districts, as
   tables a block copied from Excel can be pasted into.
3. **Rules** (:mod:`.pages.rules`): each rule with a switch, its parameters
   and one sentence saying what it means.
4. **Run** (:mod:`.pages.run`): runs, alternatives and sweeps, queued one at
   a time (:mod:`.runs`), each in its own process so that closing the
   browser never stops a solve; live progress by stage and a cancel button.
5. **Results** (:mod:`.pages.results`): the map, the compliance and
   shortfall tables, every output to download, two runs compared.

The scenario file stays the single source: every page reads it and writes
it back with :mod:`tomlkit` (:mod:`.scenario_doc`), comments kept, and a run
from the app is ``siteplan run`` on that file (:mod:`.worker`).

Everything the pages load is shipped in ``siteplan/app/static`` and
``siteplan/assets``; nothing is fetched from the internet. Security
(:mod:`.security`): bound to 127.0.0.1 unless ``--host`` is given, which
requires the token printed at start; paths from requests are checked before
any file is opened.
"""

from __future__ import annotations

__all__ = ["create_app", "serve"]


def __getattr__(name: str):  # the server's imports (FastAPI, uvicorn) only when asked for
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(name)
