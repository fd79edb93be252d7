"""Exceptions raised by siteplan.

Every error message names what is wrong (the file, the feature or the field)
and how to fix it. The classes subclass built-ins so callers can catch them
either way.
"""

from __future__ import annotations

__all__ = [
    "SiteplanError",
    "ScenarioError",
    "LayerError",
    "SpecificationError",
    "SolverError",
    "OutputError",
    "error_text",
]


class SiteplanError(Exception):
    """Base class of every error siteplan raises on purpose."""


class ScenarioError(SiteplanError, ValueError):
    """The scenario file is unreadable or holds an invalid setting."""


class LayerError(SiteplanError, ValueError):
    """A GIS layer is missing, unreadable, or holds invalid data."""


class SpecificationError(SiteplanError, ValueError):
    """The problem cannot work as specified, seen before solving."""


class SolverError(SiteplanError, RuntimeError):
    """The solver is missing or failed without returning a plan."""


class OutputError(SiteplanError, OSError):
    """The output folder cannot be created or written (a file in the way, no permission, a full disk)."""


def error_text(err: Exception) -> str:
    """One message for an error: siteplan's own as it is; an OSError as the path, the reason and the fix.

    The command line prints it after ``error:``; the app shows it on the run's page.
    """
    if isinstance(err, SiteplanError) or not isinstance(err, OSError):
        return str(err)
    if isinstance(err, FileNotFoundError) and err.filename is None:
        return str(err)  # siteplan's own not-found messages carry their fix
    what = err.strerror or type(err).__name__
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{what}; check that the path exists, that you may read and write it, and that the disk has space"
