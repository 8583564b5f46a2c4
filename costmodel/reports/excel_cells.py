"""results.xlsx cell values: the number format of each result column, values as Excel can hold
them, column widths fitted to their displayed text, and the styled cells of a streamed sheet."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font

MIN_COLUMN_WIDTH = 8
MAX_COLUMN_WIDTH = 60

CURRENCY_FORMAT = "#,##0"
EFFECT_FORMAT = "0.000"
PERCENT_FORMAT = "0.0%"
DAYS_FORMAT = "0.0"

_FORMAT_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), fmt)
    for pattern, fmt in (
        (r"prob_.*|deaths_(averted_)?day_\d+|i2", PERCENT_FORMAT),
        (
            r"(inc_)?cost(_.*)?|c_.*|n?nmb(_.*)?|inmb(_.*)?|expected_nmb|(frontier_)?icer(_.*)?"
            r"|evpi(_.*)?|evppi(_.*)?|evsi(_.*)?|wtp|enbs(_se)?|expected_loss|trial_cost"
            r"|price(_base)?|threshold_price(_.*)?|max_test_cost(_.*)?",
            CURRENCY_FORMAT,
        ),
        (
            r"(inc_)?(qaly|ly|effect)(_.*)?|time_years|rr|hr|or|log_rr|se_log_rr"
            r"|ci_(low|high)|pi_(low|high)",
            EFFECT_FORMAT,
        ),
        (r"time_days|days_.*|nnt_.*", DAYS_FORMAT),
    )
)
_PERCENT_BY_TABLE = {"calibration": frozenset({"target", "model", "difference", "tolerance"})}
# standard errors of value-of-information estimates: currency per patient
_CURRENCY_BY_TABLE = {
    "evppi": frozenset({"se"}),
    "evsi": frozenset({"se"}),
    "threshold_psa": frozenset({"base_value", "threshold_value", "optimal_from", "optimal_up_to"}),
}


def number_format(table: str, column: str) -> str | None:
    """Excel number format of a numeric result column; ``None`` leaves Excel's General format.

    The one rule for every sheet (values are never rounded, only displayed):

    - ``'0.0%'`` probabilities and proportions: ``prob_*`` (``prob_ce``, ``prob_cost_saving``),
      ``deaths_day_*``, ``deaths_averted_day_*``, ``i2``, and in ``calibration`` the
      ``target``, ``model``, ``difference`` and ``tolerance`` columns.
    - ``'#,##0'`` money: ``cost``, ``cost_*``, ``inc_cost*``, ``c_*`` (cost parameters),
      ``nmb*``, ``inmb*``, ``expected_nmb``, ``icer*``, ``frontier_icer*``, ``evpi*``,
      ``evppi*``, ``evsi*``, ``wtp``, ``enbs``, ``enbs_se``, ``expected_loss``, ``trial_cost``,
      ``price``, ``price_base``,
      ``threshold_price*``, ``max_test_cost*``, the ``se`` of ``evppi`` and ``evsi``, the
      prices of ``threshold_psa``, and every column of ``budget_impact`` except ``year``.
    - ``'0.000'`` health effects and ratios: ``qaly*``, ``ly*``, ``inc_qaly*``, ``inc_ly*``,
      ``inc_effect*``, ``effect*``, ``time_years``, ``rr``, ``hr``, ``or``, ``log_rr``,
      ``se_log_rr``, ``ci_low/high``, ``pi_low/high``.
    - ``'0.0'`` days and counts per patient: ``time_days``, ``days_*``, ``nnt_*``.

    Anything else (cycles, samples, parameter values of mixed units, state occupancy) keeps
    General, which shows up to 11 significant digits.
    """
    name = column.strip().lower()
    if name in _PERCENT_BY_TABLE.get(table, ()):
        return PERCENT_FORMAT
    if name in _CURRENCY_BY_TABLE.get(table, ()):
        return CURRENCY_FORMAT
    if table == "budget_impact" and name != "year":
        return CURRENCY_FORMAT
    for pattern, fmt in _FORMAT_RULES:
        if pattern.fullmatch(name):
            return fmt
    return None


def _text(value: str) -> str:
    # XML 1.0 forbids control characters; Excel cells hold at most 32,767 characters.
    return ILLEGAL_CHARACTERS_RE.sub("", value)[:32767]


def _plain(value: object) -> object:
    """A value as Excel can hold it: ``None`` for missing, NaN or infinite."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, datetime | time):
        # Excel has no time zones: an aware value is kept as ISO text rather than shifted.
        return value if value.tzinfo is None else value.isoformat()
    if isinstance(value, date | timedelta):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    formula = getattr(value, "text", None)  # openpyxl ArrayFormula from a read workbook
    return _text(formula if isinstance(formula, str) else str(value))


def _column_values(column: pd.Series) -> list[object]:
    if pd.api.types.is_bool_dtype(column):
        return [bool(v) for v in column.tolist()]
    if pd.api.types.is_integer_dtype(column):
        return [int(v) for v in column.tolist()]
    if pd.api.types.is_float_dtype(column):
        numbers = column.to_numpy(dtype=float)
        values: list[object] = numbers.tolist()
        for i in np.flatnonzero(~np.isfinite(numbers)):
            values[i] = None
        return values
    return [_plain(v) for v in column.tolist()]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _display_length(value: object, fmt: str | None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        return 5
    if _is_number(value):
        if fmt == CURRENCY_FORMAT:
            return len(f"{value:,.0f}")
        if fmt == PERCENT_FORMAT:
            return len(f"{100 * value:.1f}%")
        if fmt == EFFECT_FORMAT:
            return len(f"{value:.3f}")
        if fmt == DAYS_FORMAT:
            return len(f"{value:.1f}")
        return len(f"{value:.10g}")
    if isinstance(value, datetime | date | time | timedelta):
        return 19
    return max((len(line) for line in str(value).splitlines()), default=0)


def _fit_width(lengths: Iterable[int]) -> float:
    return float(min(MAX_COLUMN_WIDTH, max(MIN_COLUMN_WIDTH, max(lengths, default=0) + 2)))


@dataclass(frozen=True)
class _Styled:
    """A value with a style on the Summary or chart_data sheet."""

    value: object
    fmt: str | None = None
    bold: bool = False
    fit: bool = True  # False: a title or note that may overflow; it does not widen its column


class _Cells:
    """Cells for streaming: plain values where possible, styled Cells where needed.

    One style template per (number format, bold, text) combination, so a 100,000-row sheet
    registers a handful of styles rather than one per cell.
    """

    def __init__(self) -> None:
        self._templates: dict[tuple[str | None, bool, bool], object] = {}

    def _style(self, ws, fmt: str | None, bold: bool, text: bool) -> object:
        key = (fmt, bold, text)
        if key not in self._templates:
            cell = Cell(ws)
            if fmt:
                cell.number_format = fmt
            if bold:
                cell.font = Font(bold=True)
            if text:
                cell.quotePrefix = True  # Excel keeps the text as text when it is edited, too
            self._templates[key] = cell._style
        return self._templates[key]

    def number_style_id(self, ws, fmt: str | None) -> int:
        """The workbook's style id of plain numbers in format ``fmt`` (0: General)."""
        if fmt is None:
            return 0
        return ws.parent._cell_styles.add(self._style(ws, fmt, False, False))

    def make(self, ws, value: object, fmt: str | None = None, bold: bool = False) -> object:
        """``value`` itself when it needs no cell object, else a styled Cell."""
        if isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES):
            cell = Cell(ws, 1, 1, value, style_array=self._style(ws, None, bold, True))
            cell.data_type = "s"  # stored as text: never a formula, never an error value
            return cell
        number_fmt = fmt if fmt is not None and _is_number(value) else None
        if value is None or not (number_fmt or bold):
            return value
        return Cell(ws, 1, 1, value, style_array=self._style(ws, number_fmt, bold, False))
