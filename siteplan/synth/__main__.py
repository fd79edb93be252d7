"""``python -m siteplan.synth``: write a synthetic demo city; layers already in the folder need ``--force``."""

import sys

from . import main

sys.exit(main())
