"""``python -m costmodel ...``: the same command line as ``costmodel ...``."""

from costmodel.cli import console_main

console_main()
