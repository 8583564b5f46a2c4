"""Scenario variants: the raw workbook with a scenario's values in place.

A scenario may change settings (discount rates, the trials pooled...) as well as parameter
values, so each one is validated like a workbook of its own; the workbook file itself is never
changed. Problems a patched cell causes are reported at its Scenarios cell.
"""

from __future__ import annotations

from dataclasses import replace

from costmodel.errors import Problem
from costmodel.inputs import Scenario
from costmodel.workbook import RawRow, RawWorkbook


def patched_workbook(raw: RawWorkbook, scenario: Scenario, parameters: set[str]) -> RawWorkbook:
    """The raw workbook with the scenario's values in place; patched cells point at the
    Scenarios sheet, so problems they cause are reported there."""
    sheets = dict(raw.sheets)
    for target, value, cell in scenario.overrides:
        is_parameter = target in parameters
        sheet_name = "Parameters" if is_parameter else "Settings"
        key_column = "name" if is_parameter else "setting"
        sheet = raw.sheet(sheet_name)
        if sheet is None:
            continue
        rows = list(sheets[sheet.name].rows)
        for i, row in enumerate(rows):
            if str(row.get(key_column)).strip().lower() == target.lower():
                values = {**row.values, "value": value}
                rows[i] = RawRow(row.row, values, {**row.cells, "value": cell})
                break
        else:  # a setting the workbook leaves at its default
            cells = {key_column: cell, "value": cell}
            rows.append(RawRow(0, {key_column: target, "value": value}, cells))
        sheets[sheet.name] = replace(sheets[sheet.name], rows=tuple(rows))
    return replace(raw, sheets=sheets)


def relabel(problem: Problem, scenario: str) -> Problem:
    """A nested problem at a patched cell ('Scenarios!D2') is reported at that cell."""
    sheet, cell = problem.sheet, problem.cell
    if "!" in cell:
        sheet, _, cell = cell.partition("!")
    return Problem.at(problem.file, sheet, cell, f"scenario '{scenario}': {problem.message}")
