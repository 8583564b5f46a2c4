"""costmodel: workbook-driven Markov cohort cost-effectiveness models.

The pipeline (see README): workbook → read → validate → parameters → engine → outcomes →
decision analysis → tables → reports.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("costmodel")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
