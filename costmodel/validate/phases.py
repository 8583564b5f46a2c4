"""Phases and LifeTable sheets."""

from __future__ import annotations

import math

import numpy as np

from costmodel import schema
from costmodel.inputs import (
    LifeTable,
    Phase,
    Settings,
)
from costmodel.validate.cells import (
    _Problems,
    _read_choice,
    _read_integer,
    _read_key,
    _read_number,
    _text,
)
from costmodel.workbook import RawRow, RawSheet

MAX_CYCLES = 100_000  # per phase


def _read_phases(
    sheet: RawSheet | None,
    single_phase: dict,
    settings: Settings | None,
    problems: _Problems,
) -> list[Phase]:
    start_age = settings.start_age if settings is not None else None
    if sheet is None:
        return _single_phase(single_phase, problems)

    phases: list[Phase] = []
    elapsed = 0.0
    seen: set[str] = set()
    for row in sheet.rows:
        phase = _read_phase_row(row, sheet.name, start_age, elapsed, seen, problems)
        if phase is None:
            continue
        seen.add(phase.key)
        elapsed += phase.n_cycles * phase.cycle_years
        phases.append(phase)
    if not phases and not problems.items:
        problems.add(sheet.name, "A2", "no phases declared.")
    return phases


def _single_phase(single_phase: dict, problems: _Problems) -> list[Phase]:
    """The one phase of a model without a Phases sheet, from the Settings cycle structure."""
    cells = single_phase.get("_cells", {})
    missing = [k for k in ("cycle_length", "cycle_unit", "n_cycles") if k not in single_phase]
    if missing:
        problems.add(
            "Settings",
            "",
            "the cycle structure is missing: add a Phases sheet, or the settings "
            f"{', '.join(missing)} for a single-phase model.",
        )
        return []
    length = float(single_phase["cycle_length"])
    if length <= 0:
        problems.add("Settings", cells.get("cycle_length", ""), "cycle_length must be > 0.")
        return []
    unit = str(single_phase["cycle_unit"])
    if int(single_phase["n_cycles"]) > MAX_CYCLES:
        problems.add(
            "Settings",
            cells.get("n_cycles", ""),
            f"n_cycles is {single_phase['n_cycles']}; the limit is {MAX_CYCLES} per phase.",
        )
        return []
    return [
        Phase(
            "main",
            "Main",
            length * schema.CYCLE_UNITS[unit],
            int(single_phase["n_cycles"]),
            length,
            unit,
            f"Settings!{cells.get('n_cycles', '')}",
        )
    ]


def _read_phase_row(
    row: RawRow,
    sheet_name: str,
    start_age: float | None,
    elapsed: float,
    seen: set[str],
    problems: _Problems,
) -> Phase | None:
    """One Phases row (starting `elapsed` years into the model), or None if it has problems."""
    key = _read_phase_key(row, sheet_name, seen, problems)
    length = _read_phase_length(row, sheet_name, problems)
    unit = _read_phase_unit(row, sheet_name, problems)
    n_given, age_given = row.get("n_cycles") is not None, row.get("until_age") is not None
    if n_given == age_given:
        problems.add(
            sheet_name,
            row.cell("n_cycles"),
            "give exactly one of n_cycles and until_age for each phase.",
        )
        return None
    if key is None or length is None or unit is None:
        return None
    cycle_years = length * schema.CYCLE_UNITS[unit]
    n, where = _read_phase_cycles(
        row, sheet_name, n_given, cycle_years, start_age, elapsed, problems
    )
    if n is None:
        return None
    if n < 1:
        problems.add(
            sheet_name,
            where,
            f"phase '{key}' has {n} cycles; it needs at least 1 (check until_age against "
            "start_age and the earlier phases).",
        )
        return None
    if n > MAX_CYCLES:
        problems.add(sheet_name, where, f"phase '{key}' has {n} cycles; the limit is {MAX_CYCLES}.")
        return None
    return Phase(
        key,
        _text(row, "label") or key,
        cycle_years,
        n,
        length,
        unit,
        f"{sheet_name}!{where}",
    )


def _read_phase_key(
    row: RawRow, sheet_name: str, seen: set[str], problems: _Problems
) -> str | None:
    """The phase key, or None when blank, invalid or declared by an earlier row."""
    key = (
        _read_key(row.get("key"), sheet_name, row.cell("key"), "phase key", problems)
        if row.get("key") is not None
        else None
    )
    if row.get("key") is None:
        problems.add(sheet_name, row.cell("key"), "phase key is blank.")
    if key in seen:
        problems.add(sheet_name, row.cell("key"), f"phase '{key}' is declared twice.")
        key = None
    return key


def _read_phase_length(row: RawRow, sheet_name: str, problems: _Problems) -> float | None:
    """The cycle_length (> 0, in cycle_unit), or None when blank or invalid."""
    length = (
        _read_number(
            row.get("cycle_length"),
            sheet_name,
            row.cell("cycle_length"),
            "cycle_length",
            problems,
        )
        if row.get("cycle_length") is not None
        else None
    )
    if row.get("cycle_length") is None:
        problems.add(sheet_name, row.cell("cycle_length"), "cycle_length is blank.")
    elif length is not None and length <= 0:
        problems.add(
            sheet_name, row.cell("cycle_length"), f"cycle_length must be > 0; got {length:g}."
        )
        length = None
    return length


def _read_phase_unit(row: RawRow, sheet_name: str, problems: _Problems) -> str | None:
    """The cycle_unit (one of schema.CYCLE_UNITS), or None when blank or invalid."""
    if row.get("cycle_unit") is None:
        problems.add(sheet_name, row.cell("cycle_unit"), "cycle_unit is blank.")
        return None
    return _read_choice(
        row.get("cycle_unit"),
        schema.CYCLE_UNITS,
        sheet_name,
        row.cell("cycle_unit"),
        "cycle_unit",
        problems,
    )


def _read_phase_cycles(
    row: RawRow,
    sheet_name: str,
    n_given: bool,
    cycle_years: float,
    start_age: float | None,
    elapsed: float,
    problems: _Problems,
) -> tuple[int | None, str]:
    """(number of cycles or None, its cell) from n_cycles, or from until_age and start_age."""
    if n_given:
        n = _read_integer(
            row.get("n_cycles"), sheet_name, row.cell("n_cycles"), "n_cycles", problems
        )
        return n, row.cell("n_cycles")
    until = _read_number(
        row.get("until_age"), sheet_name, row.cell("until_age"), "until_age", problems
    )
    where = row.cell("until_age")
    n = None
    if until is not None and start_age is not None:
        n = math.ceil((until - start_age - elapsed) / cycle_years - 1e-9)
    return n, where


# ----------------------------------------------------------------------------- LifeTable


LIFE_TABLE_COLUMN_SETS = (
    ("qx_male", "qx_female"),
    ("qx",),
    ("mx_male", "mx_female"),
    ("mx",),
)
"""The LifeTable's value columns: probabilities (qx) or central death rates (mx), by sex or
one column for both sexes; exactly one set per workbook."""


def _life_table_columns(sheet: RawSheet, problems: _Problems) -> tuple[str, ...] | None:
    """The one set of value columns the sheet has, or None (with a problem)."""
    present = [c for c in LIFE_TABLE_COLUMN_SETS if all(name in sheet.headers for name in c)]
    value_columns = {name for c in LIFE_TABLE_COLUMN_SETS for name in c}
    stray = sorted(value_columns & set(sheet.headers) - set(present[0] if present else ()))
    if len(present) == 1 and stray:
        problems.add(
            sheet.name,
            "A1",
            f"the life table has {' + '.join(present[0])} and also {', '.join(stray)}: keep "
            "one set of value columns (remove or rename the others).",
        )
        return None
    if len(present) == 1:
        return present[0]
    sets = "; ".join(" + ".join(c) for c in LIFE_TABLE_COLUMN_SETS)
    if not present:
        problems.add(
            sheet.name,
            "A1",
            f"the life table needs one set of value columns after 'age': {sets} "
            "(qx: probability of death within the year; mx: central death rate per year).",
        )
    else:
        found = ", ".join(" + ".join(c) for c in present)
        problems.add(
            sheet.name,
            "A1",
            f"the life table has several sets of value columns ({found}); keep one of: {sets}.",
        )
    return None


def _read_life_table(sheet: RawSheet | None, problems: _Problems) -> LifeTable | None:
    """Ages and annual probabilities of death by sex; a single column applies to both sexes
    and rates (mx) become probabilities with a constant hazard within the year,
    qx = 1 - exp(-mx)."""
    if sheet is None:
        return None
    columns = _life_table_columns(sheet, problems)
    if columns is None:
        return None
    rates = columns[0].startswith("mx")
    ages: list[int] = []
    previous: int | None = None
    by_column: dict[str, list[float]] = {c: [] for c in columns}
    for row in sheet.rows:
        age = _read_integer(row.get("age"), sheet.name, row.cell("age"), "age", problems)
        values = {
            c: _read_number(row.get(c), sheet.name, row.cell(c), c, problems) for c in columns
        }
        for column, v in values.items():
            if v is None:
                continue
            if rates and v < 0.0:
                problems.add(
                    sheet.name, row.cell(column), f"{column} must be a rate >= 0; got {v:g}."
                )
            elif not rates and not 0.0 <= v <= 1.0:
                problems.add(
                    sheet.name,
                    row.cell(column),
                    f"{column} must be a probability in [0, 1]; got {v:g}.",
                )
        if age is None:
            continue
        if previous is not None and age != previous + 1:
            problems.add(
                sheet.name,
                row.cell("age"),
                f"ages must be consecutive whole years in increasing order; got {age} after "
                f"{previous}.",
            )
        previous = age  # a row with a bad value still counts for the order of ages
        if None in values.values():
            continue
        ages.append(age)
        for column, v in values.items():
            by_column[column].append(v)  # type: ignore[arg-type]
    if not ages:
        problems.add(sheet.name, "A2", "the life table has no rows.")
        return None
    arrays = [np.array(by_column[c], float) for c in columns]
    if rates:
        arrays = [-np.expm1(-a) for a in arrays]
    male, female = (arrays[0], arrays[-1])
    return LifeTable(np.array(ages), male, female)
