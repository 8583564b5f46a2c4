"""Scenario analysis: base case and every scenario (validated with the workbook, kept in
``inputs.scenario_variants``), each strategy versus the reference at the first WTP."""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.cea import compare_to_reference
from costmodel.errors import ModelCheckError
from costmodel.inputs import ModelInputs
from costmodel.model import run_model


def run_scenarios(inputs: ModelInputs) -> pd.DataFrame:
    """scenarios.csv: base case and every scenario, each strategy versus the reference."""
    cases = [("base case", "", inputs)]
    cases += [
        (s.name, s.description, variant)
        for s, variant in zip(inputs.scenarios, inputs.scenario_variants, strict=True)
    ]
    rows = []
    for name, description, case in cases:
        try:
            out = run_model(case)
        except ModelCheckError as exc:
            file, where, message = [*str(exc).split(": ", 2), "", ""][:3]
            raise type(exc)(f"{file}: {where}: scenario '{name}': {message}") from None
        keys = list(case.strategy_keys)
        r = keys.index(case.reference_strategy)
        wtp = case.settings.wtp[0]
        effect = out.effect(case.settings.effect_measure)
        inc_cost, inc_effect, icer, inmb = compare_to_reference(out.cost, effect, r, wtp)
        for s, strategy in enumerate(keys):
            is_reference = s == r
            rows.append(
                {
                    "scenario": name,
                    "description": description,
                    "strategy": strategy,
                    "cost": out.cost[0, s],
                    "qaly": out.qaly[0, s],
                    "ly": out.ly[0, s],
                    "inc_cost": np.nan if is_reference else inc_cost[0, s],
                    "inc_effect": np.nan if is_reference else inc_effect[0, s],
                    "icer": icer[0, s],
                    "inmb": np.nan if is_reference else inmb[0, s],
                    "wtp": wtp,
                }
            )
    return pd.DataFrame(rows)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """scenarios.csv, when deterministic analyses are on and the workbook has scenarios."""
    inputs = ctx.inputs
    if not ctx.options.deterministic or len(inputs.strategies) < 2 or not inputs.scenarios:
        return {}
    return {"scenarios": run_scenarios(inputs)}
