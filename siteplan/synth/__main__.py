"""``python -m siteplan.synth``: write a synthetic demo city."""

import sys

from . import main

sys.exit(main())
