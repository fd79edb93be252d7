"""``--verbose`` shows siteplan's steps, not GDAL's "Created N records" or the staging folders' paths."""

from __future__ import annotations

import logging
import re

from typer.testing import CliRunner

from siteplan.cli import _setup_logging, app

runner = CliRunner()


def test_verbose_run_shows_siteplan_steps_only(mini_city, tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(mini_city), "--out", str(out), "--shapefile", "--verbose"])
    assert res.exit_code == 0, res.output
    assert "Computed features of 8 parcels" in res.output  # siteplan's own INFO lines are there
    assert "Created" not in res.output and "records" not in res.output  # pyogrio/GDAL's are not
    assert ".partial-" not in res.output and ".old-" not in res.output  # nor the staging folders
    # the final folder (a long path may be folded across lines at the console's width)
    assert re.search(rf"Wrote\d+filesto{re.escape(str(out))}", re.sub(r"\s+", "", res.output))


def test_libraries_keep_their_warnings_but_not_their_info(capsys):
    _setup_logging(True)
    try:
        logging.getLogger("pyogrio._io").info("Created 396 records")
        logging.getLogger("distributed.scheduler").info("State start")
        logging.getLogger("some.other.library").info("chatter")
        logging.getLogger("siteplan.pipeline").info("Reading layers")
        logging.getLogger("rasterio._env").warning("CPLE_AppDefined in a raster")
        err = capsys.readouterr().err
    finally:
        _setup_logging(False)
    assert "Created" not in err and "State start" not in err and "chatter" not in err
    assert "Reading layers" in err and "CPLE_AppDefined in a raster" in err
