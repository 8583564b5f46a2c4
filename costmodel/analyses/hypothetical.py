"""What a hypothetical strategy would be worth (Strategies role 'hypothetical').

A hypothetical strategy has no evidence of its own (e.g. an assumed effect and price), so it
never enters the decision. It is compared with the reference alone, at each WTP: its ICER and
INMB as assumed, the price at which it would be cost-effective (threshold price) and the risk
ratio it would need at its assumed price (threshold effect).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.threshold import Search, threshold_range, thresholds
from costmodel.cea import compare_to_reference, comparison
from costmodel.inputs import ModelInputs, Strategy
from costmodel.model import run_model

EFFECT_SEARCH = (0.01, 1.0)  # risk ratios searched for the threshold effect


def _pair(inputs: ModelInputs, strategy: Strategy) -> ModelInputs:
    """The reference and one hypothetical strategy, as a two-strategy model."""
    reference = next(s for s in inputs.strategies if s.key == inputs.reference_strategy)
    settings = replace(inputs.settings, reference_strategy=reference.key, dsa_strategy="")
    pair = (reference, strategy)
    return replace(inputs, strategies=pair, settings=settings, scenario_variants=())


def _threshold_value(table: pd.DataFrame, wtp: float) -> tuple[float, str]:
    row = table[np.isclose(table.wtp, wtp)].iloc[0]
    return float(row.threshold_value), str(row.note)


def hypothetical_table(inputs: ModelInputs) -> pd.DataFrame:
    """hypothetical.csv: one row per hypothetical strategy and WTP."""
    rows = []
    for strategy in inputs.hypothetical_strategies:
        pair = _pair(inputs, strategy)
        settings = pair.settings
        out = run_model(pair)
        effect = out.effect(settings.effect_measure)
        price = strategy.price_parameter or settings.threshold_parameter
        rr = strategy.effect_parameter or settings.effect_parameter
        searches = {}
        if price:
            searches["price"] = Search(price, *threshold_range(pair, price))
        if rr:
            searches["effect"] = Search(rr, *EFFECT_SEARCH)
        found = thresholds(pair, list(searches.values()), strategy=strategy.key)
        n_wtp = len(settings.wtp)  # rows: each search's, one per WTP
        tables = {kind: found.iloc[k * n_wtp : (k + 1) * n_wtp] for k, kind in enumerate(searches)}
        prices, effects = tables.get("price"), tables.get("effect")
        for wtp in settings.wtp:
            inc_cost, inc_effect, icer, inmb = compare_to_reference(out.cost, effect, 0, wtp)
            quadrant = comparison(inc_cost, inc_effect)
            row = {
                "strategy": strategy.key,
                "label": strategy.label,
                "comparator": pair.reference_strategy,
                "wtp": wtp,
                "cost": out.cost[0, 1],
                "qaly": out.qaly[0, 1],
                "ly": out.ly[0, 1],
                "inc_cost": inc_cost[0, 1],
                "inc_effect": inc_effect[0, 1],
                "icer": icer[0, 1],
                "inmb": inmb[0, 1],
                "comparison": quadrant[0, 1],
                "price_parameter": price,
                "price_base": np.nan,
                "threshold_price": np.nan,
                "effect_parameter": rr,
                "effect_base": np.nan,
                "threshold_effect": np.nan,
                "note": "",
            }
            notes = []
            for table, kind in ((prices, "price"), (effects, "effect")):
                if table is None:
                    continue
                value, note = _threshold_value(table, wtp)
                row[f"{kind}_base"] = float(table.base_value.iloc[0])
                row[f"threshold_{kind}"] = value
                if np.isnan(value):
                    notes.append(note)
            row["note"] = "; ".join(notes)
            rows.append(row)
    return pd.DataFrame(rows)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """hypothetical.csv, when the workbook has hypothetical strategies."""
    inputs = ctx.workbook_inputs
    if not inputs.hypothetical_strategies:
        return {}
    return {"hypothetical": hypothetical_table(inputs)}
