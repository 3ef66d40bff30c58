"""``python -m flows.cli``: the ``bluecarbon`` command."""

import sys

from flows.cli import main

sys.exit(main())
