"""``python -m costmodel ...``: the same command line as ``costmodel ...``."""

import sys

from costmodel.cli import main

sys.exit(main())
