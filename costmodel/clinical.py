"""Clinical outcome table per strategy: deaths by day, days in tagged states (hospital, ICU,
IMV...), life-years, QALYs, costs by category and comparisons with the reference strategy
(deaths averted, number needed to treat, cost per death averted, ICERs per QALY and LY).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel.cea_icer import icer_where_trade_off
from costmodel.inputs import ModelInputs
from costmodel.outcomes import ModelOutcomes, resolves_day, share_at_day
from costmodel.schema_types import effect_unit

DAYS_PER_YEAR = 365.25


def _day_label(day: float) -> str:
    return f"{day:g}"


def clinical_measures(
    inputs: ModelInputs, outcomes: ModelOutcomes, sample: int = 0
) -> pd.DataFrame:
    """Wide table, one row per strategy (declared order); needs traces.

    Per patient: deaths_day_<d> (cumulative share dead), days_<tag> (undiscounted days in
    states carrying the tag), and versus the reference strategy deaths_averted_day_<d>,
    nnt_day_<d>, cost_per_death_averted_day_<d>, icer_per_qaly_vs_reference,
    icer_per_ly_vs_reference (NaN for the reference itself or where undefined).
    """
    dead = tuple(s.key for s in inputs.states if not s.alive)
    keys = list(outcomes.strategies)
    ref = keys.index(inputs.reference_strategy)
    table = pd.DataFrame({"strategy": keys})
    cost, qaly, ly = outcomes.cost[sample], outcomes.qaly[sample], outcomes.ly[sample]
    for day in inputs.settings.outcome_days:
        if not resolves_day(inputs, day):  # e.g. day 28 in a model of yearly cycles
            continue
        deaths = share_at_day(inputs, outcomes, dead, day)[sample]
        label = _day_label(day)
        table[f"deaths_day_{label}"] = deaths
        averted = deaths[ref] - deaths
        table[f"deaths_averted_day_{label}"] = averted
        with np.errstate(divide="ignore", invalid="ignore"):
            positive = averted > 1e-12
            table[f"nnt_day_{label}"] = np.where(positive, 1.0 / averted, np.nan)
            table[f"cost_per_death_averted_day_{label}"] = np.where(
                positive, (cost - cost[ref]) / averted, np.nan
            )
    index = {k: i for i, k in enumerate(outcomes.state_keys)}
    for tag in inputs.tags:
        columns = [index[s.key] for s in inputs.states if tag in s.tags]
        table[f"days_{tag}"] = outcomes.state_time[sample][:, columns].sum(axis=1) * DAYS_PER_YEAR
    for name, effect in (("qaly", qaly), ("ly", ly)):
        icer = icer_where_trade_off(cost - cost[ref], effect - effect[ref])
        icer[ref] = np.nan
        table[f"icer_per_{name}_vs_reference"] = icer
    for column in table.columns:
        if column.startswith(("deaths_averted", "nnt", "cost_per_death")):
            table.loc[ref, column] = np.nan
    return table


RATIOS = ("nnt_", "cost_per_death", "icer_")


def outcomes_table(
    inputs: ModelInputs, outcomes: ModelOutcomes, base_case: pd.DataFrame, sample: int = 0
) -> pd.DataFrame:
    """Long table for outcomes.csv: strategy, label, measure, unit, per_patient,
    per_1000_patients (blank for ratios such as NNT or ICERs)."""
    measures = clinical_measures(inputs, outcomes, sample).set_index("strategy")
    base = base_case.set_index("strategy")
    currency = inputs.settings.currency
    labels = {key: inputs.strategy_label(key) for key in outcomes.strategies}
    rows = []
    for strategy in outcomes.strategies:
        values: list[tuple[str, str, float]] = []
        for column in measures.columns:
            if column.startswith("deaths_day_"):
                unit = "deaths"
            elif column.startswith("deaths_averted"):
                unit = "deaths averted"
            elif column.startswith("nnt"):
                unit = "patients managed with the strategy per death averted"
            elif column.startswith("cost_per_death"):
                unit = f"{currency} per death averted"
            elif column.startswith("days_"):
                unit = "days"
            else:
                unit = f"{currency} per " + effect_unit("qaly" if "qaly" in column else "ly")
            values.append((column, unit, float(measures.loc[strategy, column])))
        values += [
            (
                "ly",
                effect_unit("ly", plural=True) + " (discounted)",
                float(base.loc[strategy, "ly"]),
            ),
            (
                "ly_undiscounted",
                effect_unit("ly", plural=True),
                float(base.loc[strategy, "ly_undiscounted"]),
            ),
            (
                "qaly",
                effect_unit("qaly", plural=True) + " (discounted)",
                float(base.loc[strategy, "qaly"]),
            ),
            ("cost", f"{currency} (discounted)", float(base.loc[strategy, "cost"])),
        ]
        values += [
            (f"cost_{c}", f"{currency} (discounted)", float(base.loc[strategy, f"cost_{c}"]))
            for c in outcomes.categories
        ]
        for measure, unit, value in values:
            scalable = not measure.startswith(RATIOS)
            rows.append(
                {
                    "strategy": strategy,
                    "label": labels[strategy],
                    "measure": measure,
                    "unit": unit,
                    "per_patient": value,
                    "per_1000_patients": value * 1000 if scalable else np.nan,
                }
            )
    return pd.DataFrame(rows)
