"""Scenario analysis: each scenario re-validates the workbook with some cells replaced.

A scenario may change settings (discount rates, the trials pooled...) as well as parameter
values, so it goes through validation again rather than overriding numbers in a run; the
workbook file itself is never changed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from costmodel.errors import CostModelError, InputError
from costmodel.inputs import ModelInputs, Scenario
from costmodel.model import run_model
from costmodel.validate import validate_workbook
from costmodel.workbook import RawRow, RawWorkbook


def scenario_inputs(raw: RawWorkbook, scenario: Scenario, inputs: ModelInputs) -> ModelInputs:
    """ModelInputs of the workbook with the scenario's overrides applied."""
    parameters = {p.name for p in inputs.parameters}
    sheets = dict(raw.sheets)
    for target, value, cell in scenario.overrides:
        if target in parameters:
            sheet_name, key_column = raw.sheet("Parameters").name, "name"  # type: ignore[union-attr]
        else:
            sheet_name, key_column = raw.sheet("Settings").name, "setting"  # type: ignore[union-attr]
        sheet = sheets[sheet_name]
        rows = list(sheet.rows)
        for i, row in enumerate(rows):
            if str(row.get(key_column)).strip().lower() == target.lower():
                values = {**row.values, "value": value}
                rows[i] = RawRow(row.row, values, {**row.cells, "value": cell})
                break
        else:  # a setting the workbook leaves at its default
            rows.append(RawRow(0, {key_column: target, "value": value},
                               {key_column: cell, "value": cell}))  # fmt: skip
        sheets[sheet_name] = replace(sheet, rows=tuple(rows))
    try:
        return validate_workbook(replace(raw, sheets=sheets))
    except InputError as exc:
        raise CostModelError(f"scenario '{scenario.name}' is invalid:\n{exc}") from None


def run_scenarios(raw: RawWorkbook, inputs: ModelInputs) -> pd.DataFrame:
    """scenarios.csv: base case and every scenario, each strategy versus the reference."""
    cases = [("base case", "", inputs)]
    cases += [(s.name, s.description, scenario_inputs(raw, s, inputs)) for s in inputs.scenarios]
    rows = []
    for name, description, case in cases:
        out = run_model(case)
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
