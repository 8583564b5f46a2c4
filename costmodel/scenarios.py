"""Scenario analysis: each scenario re-validates the workbook with some cells replaced.

A scenario may change settings (discount rates, the trials pooled...) as well as parameter
values, so it goes through validation again rather than overriding numbers in a run; the
workbook file itself is never changed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from costmodel.errors import InputError, ModelCheckError, Problem
from costmodel.inputs import ModelInputs, Scenario
from costmodel.model import run_model
from costmodel.validate import validate_workbook
from costmodel.workbook import RawRow, RawWorkbook


def patched_workbook(raw: RawWorkbook, scenario: Scenario, parameters: set[str]) -> RawWorkbook:
    """The raw workbook with the scenario's values in place; patched cells point at the
    Scenarios sheet, so problems they cause are reported there."""
    sheets = dict(raw.sheets)
    for target, value, cell in scenario.overrides:
        sheet_name = "Parameters" if target in parameters else "Settings"
        key_column = "name" if target in parameters else "setting"
        sheet = raw.sheet(sheet_name)
        if sheet is None:
            continue
        rows = list(sheets[sheet.name].rows)
        for i, row in enumerate(rows):
            if str(row.get(key_column)).strip().lower() == target.lower():
                rows[i] = RawRow(row.row, {**row.values, "value": value},
                                 {**row.cells, "value": cell})  # fmt: skip
                break
        else:  # a setting the workbook leaves at its default
            rows.append(RawRow(0, {key_column: target, "value": value},
                               {key_column: cell, "value": cell}))  # fmt: skip
        sheets[sheet.name] = replace(sheets[sheet.name], rows=tuple(rows))
    return replace(raw, sheets=sheets)


def scenario_inputs(raw: RawWorkbook, scenario: Scenario, inputs: ModelInputs) -> ModelInputs:
    """ModelInputs of the workbook with the scenario's overrides applied."""
    patched = patched_workbook(raw, scenario, {p.name for p in inputs.parameters})
    try:
        return validate_workbook(patched, check_scenarios=False)
    except InputError as exc:
        raise InputError([_relabel(p, scenario.name) for p in exc.problems]) from None


def _relabel(problem: Problem, scenario: str) -> Problem:
    """A nested problem at a patched cell ('Scenarios!D2') is reported at that cell."""
    sheet, cell = problem.sheet, problem.cell
    if "!" in cell:
        sheet, _, cell = cell.partition("!")
    return Problem.at(problem.file, sheet, cell, f"scenario '{scenario}': {problem.message}")


def run_scenarios(raw: RawWorkbook, inputs: ModelInputs) -> pd.DataFrame:
    """scenarios.csv: base case and every scenario, each strategy versus the reference."""
    cases = [("base case", "", inputs)]
    cases += [(s.name, s.description, scenario_inputs(raw, s, inputs)) for s in inputs.scenarios]
    rows = []
    for name, description, case in cases:
        try:
            out = run_model(case)
        except ModelCheckError as exc:
            file, where, message = [*str(exc).split(": ", 2), "", ""][:3]
            raise type(exc)(f"{file}: {where}: scenario '{name}': {message}") from None
        effect = out.qaly if case.settings.effect_measure == "qaly" else out.ly
        keys = list(case.strategy_keys)
        r = keys.index(case.reference_strategy)
        wtp = case.settings.wtp[0]
        for s, strategy in enumerate(keys):
            d_cost = out.cost[0, s] - out.cost[0, r]
            d_effect = effect[0, s] - effect[0, r]
            rows.append(
                {
                    "scenario": name,
                    "description": description,
                    "strategy": strategy,
                    "cost": out.cost[0, s],
                    "qaly": out.qaly[0, s],
                    "ly": out.ly[0, s],
                    "inc_cost": d_cost if s != r else np.nan,
                    "inc_effect": d_effect if s != r else np.nan,
                    "icer": d_cost / d_effect if s != r and abs(d_effect) > 1e-12 else np.nan,
                    "inmb": wtp * d_effect - d_cost if s != r else np.nan,
                    "wtp": wtp,
                }
            )
    return pd.DataFrame(rows)
