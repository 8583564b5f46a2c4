"""Building blocks of the workbook schema: cell kinds, the choices enumerated cells accept,
and the Column / Sheet / Setting declarations (see :mod:`costmodel.schema`)."""

from __future__ import annotations

from dataclasses import dataclass

from costmodel.distributions import FAMILIES
from costmodel.engine import DISCOUNT_TIMINGS as DISCOUNT_TIMINGS

CYCLE_UNITS: dict[str, float] = {
    "day": 1.0 / 365.25,
    "week": 7.0 / 365.25,
    "month": 1.0 / 12.0,
    "year": 1.0,
}
"""Length of one unit in years (a year is 365.25 days, a month 1/12 year)."""

CORRECTION_METHODS = (
    "none-start", "none-end", "half-cycle", "trapezoid", "simpson", "dmhee",
    "darth-simpson", "heemod-life-table", "heemod-beginning", "heemod-end",
)  # fmt: skip
DISTRIBUTIONS = (*FAMILIES, "dirichlet")
EFFECT_MEASURES = ("qaly", "ly")
_EFFECT_UNITS = {"qaly": "QALY", "ly": "LY"}  # LY: life-year


def effect_unit(measure: str, *, plural: bool = False) -> str:
    """The unit effects are counted in for Settings effect_measure ``measure``: 'QALY' or
    'LY' (life-year), 'QALYs' or 'LYs' if ``plural``; every table, figure and sheet says the
    same."""
    unit = _EFFECT_UNITS.get(measure, measure)
    return unit + "s" if plural else unit


PRODUCT_TYPES = ("cells", "secretome", "ev", "cells+ev")
SYNTHESIS_EFFECTS = ("confidence", "prediction", "manual")

CORRELATION_TYPES = ("rank", "pearson")
BIOMARKER_PARAMETERS = (
    "biomarker_prevalence", "rr_death_biomarker_pos", "rr_death_biomarker_neg",
    "test_sensitivity", "test_specificity", "c_test",
)  # fmt: skip
"""Parameters a workbook needs for the responder-biomarker analysis (run_biomarker)."""
YES_NO = ("yes", "no")
COMPLEMENT_MARKERS = ("C", "complement")

# Column kinds: how a cell is read.
TEXT, NUMBER, INTEGER, EXPRESSION, ENUM, BOOL, KEY, NUMBER_LIST = (
    "text",
    "number",
    "integer",
    "expression",
    "enum",
    "yes/no",
    "key",
    "number list",
)


@dataclass(frozen=True)
class Column:
    """One column of a table sheet.

    ``prefix`` columns match every header that starts with the name followed by ``_``
    (e.g. ``cost`` matches ``cost_hospital``), giving one value per category.
    """

    name: str
    kind: str
    description: str
    unit: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    prefix: bool = False
    example: object = None


@dataclass(frozen=True)
class Sheet:
    """A table sheet: header in row 1, one record per following non-blank row."""

    name: str
    description: str
    columns: tuple[Column, ...]
    required: bool = True
    extra_columns: str = ""  # what other headers mean ("" = unknown headers are warned about)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Setting:
    """One row of the Settings sheet (columns: setting, value, description)."""

    key: str
    kind: str
    description: str
    default: object = None
    required: bool = False
    choices: tuple[str, ...] = ()
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None


STRATEGY_ROLES = ("comparator", "hypothetical")
EFFECT_WANING = ("none", "linear", "exponential")
RISK_OF_BIAS = ("low", "some concerns", "high")
TAU2_METHODS = ("dl", "reml", "pm")
SYNTHESIS_INTERVALS = ("auto", "hksj", "wald")
