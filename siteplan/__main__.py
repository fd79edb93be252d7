"""``python -m siteplan``: the command line, as the ``siteplan`` script runs it."""

from .cli import main

main()
