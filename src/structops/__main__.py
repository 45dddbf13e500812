"""``python -m structops``: the same command line as the ``structops`` script."""

from __future__ import annotations

import sys

from structops.cli import main

sys.exit(main())
