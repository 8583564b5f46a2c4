"""Budget impact (ISPOR good practice, Sullivan et al. Value Health 2014;17:5-14).

Per-patient costs come from the model undiscounted (budgets are not discounted) and are
attributed to the year of treatment: appropriate for acute-care interventions such as MSC in
hospitalized patients, where nearly all of the model's costs fall within the first year
(state that assumption when using other models).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.dsa import run_overrides
from costmodel.inputs import ModelInputs
from costmodel.parameters import evaluate_parameters


def budget_strategy(inputs: ModelInputs) -> str:
    return inputs.settings.budget_strategy or inputs.dsa_strategy


def budget_impact(inputs: ModelInputs) -> pd.DataFrame:
    """budget_impact.csv: year, eligible_patients, uptake, patients_treated, price (the
    year's price, else the model's: the price each year was run at),
    cost_per_patient_new, cost_per_patient_current, cost_without, cost_with, budget_impact,
    cumulative_budget_impact (currency, undiscounted)."""
    undiscounted = replace(inputs, settings=replace(inputs.settings, discount_rate_costs=0.0))
    price_name = inputs.settings.threshold_parameter
    overrides = [
        {price_name: y.price} if (y.price is not None and price_name) else {}
        for y in inputs.budget_impact
    ]
    outcomes = run_overrides(undiscounted, overrides)
    base_price = evaluate_parameters(inputs)[price_name][0] if price_name else np.nan
    keys = list(inputs.strategy_keys)
    new, current = keys.index(budget_strategy(inputs)), keys.index(inputs.reference_strategy)
    rows = []
    cumulative = 0.0
    for i, y in enumerate(inputs.budget_impact):
        c_new, c_current = outcomes.cost[i, new], outcomes.cost[i, current]
        without = y.eligible_patients * c_current
        with_new = y.eligible_patients * (y.uptake * c_new + (1 - y.uptake) * c_current)
        cumulative += with_new - without
        rows.append(
            {
                "year": y.year,
                "eligible_patients": y.eligible_patients,
                "uptake": y.uptake,
                "patients_treated": y.eligible_patients * y.uptake,
                "price": y.price if y.price is not None else float(base_price),  # as run
                "cost_per_patient_new": c_new,
                "cost_per_patient_current": c_current,
                "cost_without": without,
                "cost_with": with_new,
                "budget_impact": with_new - without,
                "cumulative_budget_impact": cumulative,
                "strategy": keys[new],
                "comparator": keys[current],
            }
        )
    return pd.DataFrame(rows)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """budget_impact.csv, when Settings run_budget_impact is on and BudgetImpact has rows."""
    inputs = ctx.inputs
    if not (inputs.settings.run_budget_impact and inputs.budget_impact):
        return {}
    return {"budget_impact": budget_impact(inputs)}
