"""costmodel: workbook-driven Markov cohort cost-effectiveness models.

The pipeline (see README): workbook → read → validate → parameters → engine → outcomes →
decision analysis → tables → reports.
"""

# The one place the version is written: pyproject.toml reads it from here (setuptools
# ``attr``, parsed without importing). Not read from the installed metadata at run time:
# importlib.metadata costs ~30 ms at every start, a tenth of `costmodel icers`.
__version__ = "0.1.0"

__all__ = ["__version__"]
