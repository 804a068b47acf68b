"""``python -m waypoint.cli``: the same as the ``waypoint`` console script."""

import sys

from waypoint.cli import main

sys.exit(main())
