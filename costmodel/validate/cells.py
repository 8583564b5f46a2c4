"""Shared by every sheet reader: the problem collector, typed cell readers, sheet checks."""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import math
import re
from collections.abc import Iterable

from costmodel import schema
from costmodel.errors import Problem
from costmodel.formula import BUILTIN_FUNCTIONS, Expression, ExpressionError, parse_expression
from costmodel.lifetable import LIFE_TABLE_FUNCTION_SPECS
from costmodel.workbook import RawRow, RawSheet, RawWorkbook

MAX_MAGNITUDE = 1e15  # larger parameter values are unit errors and overflow cost sums
KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MODEL_FUNCTIONS = {**BUILTIN_FUNCTIONS, **LIFE_TABLE_FUNCTION_SPECS}
RESERVED_NAMES = frozenset(schema.TIME_VARIABLES) | frozenset(MODEL_FUNCTIONS) | {"C"}


class _Problems:
    """Collects problems for one file."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[Problem] = []
        self.warnings: list[str] = []
        self.broken: set[str] = set()  # names whose definition failed (no follow-on errors)
        self.broken_from: set[str] = set()  # 'from' states of Transitions rows with problems

    def add(self, sheet: str, cell: str, message: str) -> None:
        self.items.append(Problem.at(self.file, sheet, cell, message))

    def warn(self, sheet: str, cell: str, message: str) -> None:
        self.warnings.append(str(Problem.at(self.file, sheet, cell, message)))


def _check_sheets(raw: RawWorkbook, problems: _Problems) -> dict[str, RawSheet | None]:
    found: dict[str, RawSheet | None] = {}
    for spec in schema.ALL_SHEETS:
        sheet = raw.sheet(spec.name)
        found[spec.name] = sheet
        if sheet is None:
            if spec.required:
                problems.add(
                    spec.name,
                    "",
                    f"required sheet '{spec.name}' is missing (sheets found: "
                    f"{', '.join(raw.sheets) or 'none'}). Add it; `costmodel template` shows "
                    "the layout.",
                )
            continue
        if not spec.required and not sheet.headers and not sheet.rows:
            problems.warn(sheet.name, "A1", "the sheet is empty: it is left out.")
            found[spec.name] = None  # an empty optional sheet is no sheet, not a broken one
            continue
        for cell in sheet.duplicate_headers:
            problems.add(sheet.name, cell, "duplicate column header; keep one of the columns.")
        for column in spec.columns:
            if column.required and column.name not in sheet.headers:
                problems.add(
                    sheet.name,
                    "1",
                    f"required column '{column.name}' is missing from the header row "
                    f"(found: {', '.join(sheet.header_text.values()) or 'none'}).",
                )
        if spec.extra_columns:
            continue
        known = {c.name for c in spec.columns}
        prefixes = tuple(c.name + "_" for c in spec.columns if c.prefix)
        for header in sheet.headers:
            if header not in known and not header.startswith(prefixes):
                close = difflib.get_close_matches(header, known, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else " It is ignored."
                problems.warn(
                    sheet.name, sheet.header_cell(header), f"unknown column '{header}'.{hint}"
                )
    return found


# ----------------------------------------------------------------------------- cell readers


def _describe(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _read_number(
    value: object, sheet: str, cell: str, what: str, problems: _Problems
) -> float | None:
    if _is_number(value):
        number = float(value)
    elif isinstance(value, str):
        parsed = _number_from_text(value.strip(), sheet, cell, what, problems)
        if parsed is None:
            return None
        number = parsed
    else:
        problems.add(sheet, cell, f"{what} must be a number; got {_describe(value)}.")
        return None
    if not math.isfinite(number):
        problems.add(sheet, cell, f"{what} must be a finite number; got {_describe(value)}.")
        return None
    return number


PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")  # 20,000 or 1,234,567.5


def _number_from_text(
    text: str, sheet: str, cell: str, what: str, problems: _Problems
) -> float | None:
    """A number typed as text: digits with a decimal point. An unambiguous thousands
    separator (20,000) is read with a warning; anything else with a comma, space or
    underscore is refused rather than guessed (is 1,5 one and a half or fifteen?)."""
    if PLAIN_NUMBER.fullmatch(text) or text.lower() in ("inf", "-inf", "+inf", "nan"):
        return float(text)
    if THOUSANDS.fullmatch(text):
        plain = text.replace(",", "")
        problems.warn(sheet, cell, f"{what}: read {text!r} as {plain} (thousands separator).")
        return float(plain)
    if text.endswith("%") and PLAIN_NUMBER.fullmatch(text[:-1].strip()):
        hint = f" Write {float(text[:-1]) / 100:g}, not {text}."
    elif text.endswith("%"):
        hint = " Write a proportion (0.17 for 17%)."
    elif "," in text:
        hint = " Use a point for decimals (1.5) and no thousands separator (20000)."
    elif "_" in text or " " in text:
        hint = " Write the digits only (20000)."
    else:
        hint = ""
    problems.add(sheet, cell, f"{what} must be a number; got {text!r}.{hint}")
    return None


def _read_integer(
    value: object, sheet: str, cell: str, what: str, problems: _Problems
) -> int | None:
    number = _read_number(value, sheet, cell, what, problems)
    if number is None:
        return None
    if number != int(number):
        problems.add(sheet, cell, f"{what} must be a whole number; got {_describe(value)}.")
        return None
    return int(number)


@functools.lru_cache(maxsize=8192)
def _parse_model_expression(text: str) -> Expression:
    """A cell's expression text parsed once per process (an Expression is immutable): each
    scenario re-validates the whole workbook with a few values changed (0.54 s of the 0.71 s
    that loading the MSC workbook took went to parsing the same texts again)."""
    return parse_expression(text, MODEL_FUNCTIONS)


def _read_expression(
    value: object, sheet: str, cell: str, what: str, problems: _Problems
) -> Expression | None:
    if isinstance(value, (bool, _dt.date | _dt.datetime | _dt.time)):
        problems.add(
            sheet, cell, f"{what} must be a number or an expression; got {_describe(value)}."
        )
        return None
    try:
        if isinstance(value, str):
            return _parse_model_expression(value)
        return parse_expression(value, MODEL_FUNCTIONS)  # type: ignore[arg-type]
    except ExpressionError as exc:
        problems.add(sheet, cell, f"{what}: {exc}")
        return None


def _read_key(value: object, sheet: str, cell: str, what: str, problems: _Problems) -> str | None:
    text = str(value).strip()
    if not KEY_PATTERN.match(text):
        problems.add(
            sheet,
            cell,
            f"{what} must be a name of letters, digits and underscores starting with a "
            f"letter; got {_describe(value)}. Example: p_death_icu.",
        )
        return None
    return text


def _read_bool(value: object, sheet: str, cell: str, what: str, problems: _Problems) -> bool | None:
    text = str(value).strip().lower()
    if isinstance(value, bool):
        return value
    if text in ("yes", "y", "true", "1", "1.0"):
        return True
    if text in ("no", "n", "false", "0", "0.0"):
        return False
    problems.add(sheet, cell, f"{what} must be yes or no; got {_describe(value)}.")
    return None


def _read_choice(
    value: object,
    choices: Iterable[str],
    sheet: str,
    cell: str,
    what: str,
    problems: _Problems,
) -> str | None:
    text = str(value).strip().lower()
    choices = tuple(choices)
    if text in choices:
        return text
    close = difflib.get_close_matches(text, choices, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    problems.add(
        sheet,
        cell,
        f"{what} must be one of {', '.join(choices)}; got {_describe(value)}.{hint}",
    )
    return None


def _unique_key(
    row: RawRow,
    column: str,
    sheet: str,
    what: str,
    seen: dict[str, str],
    problems: _Problems,
    *,
    verb: str = "declared",
) -> str | None:
    """The row's key if present, well formed and not seen before (then recorded in
    ``seen``); otherwise the problem is reported and None returned."""
    if row.get(column) is None:
        problems.add(sheet, row.cell(column), f"{what} {column} is blank.")
        return None
    key = _read_key(row.get(column), sheet, row.cell(column), f"{what} {column}", problems)
    if key is None:
        return None
    if key in seen:
        problems.add(sheet, row.cell(column), f"{what} '{key}' is {verb} twice ({seen[key]}).")
        return None
    seen[key] = row.cell(column)
    return key


def _text(row: RawRow, column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
