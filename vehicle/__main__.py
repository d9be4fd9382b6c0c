"""``python -m vehicle`` is the ``vehicle`` command."""

import sys

from vehicle.cli import main

sys.exit(main())
