"""Deterministic sensitivity analyses: one-way (tornado) and two-way.

One-way and two-way grids are batched through the engine as samples of a single run.
Comparisons are ``strategy`` versus the reference strategy; incremental net monetary benefit
INMB = wtp × Δeffect − Δcost at the first WTP is the primary measure (an ICER changes sign
when Δeffect crosses zero).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.cea import compare_to_reference, comparison
from costmodel.errors import CostModelError
from costmodel.inputs import ModelInputs
from costmodel.model import run_model
from costmodel.outcomes import ModelOutcomes
from costmodel.parameters import evaluate_parameters, parameter_range

TWO_WAY_POINTS = 11

RANGE_NOISE = 1e-9  # relative to the largest |INMB|: ranges below it are rounding


def run_overrides(
    inputs: ModelInputs, overrides: list[Mapping[str, float]], **kwargs
) -> ModelOutcomes:
    """Run the model once with one sample per override set (others at base values).

    A parameter absent from a set keeps its expression in that sample (NaN marks it), so
    derived parameters follow the inputs varied.
    """
    names = sorted({n for o in overrides for n in o})
    arrays = {n: np.array([o.get(n, np.nan) for o in overrides], dtype=float) for n in names}
    values = evaluate_parameters(inputs, arrays, len(overrides))
    return run_model(inputs, values, **kwargs)


def increments(inputs: ModelInputs, outcomes: ModelOutcomes, strategy: str) -> tuple:
    """Δcost, Δeffect, ICER and INMB (first WTP) of ``strategy`` versus the reference, per
    sample (n_samples,) each."""
    keys = list(inputs.strategy_keys)
    s, r = keys.index(strategy), keys.index(inputs.reference_strategy)
    effect = outcomes.effect(inputs.settings.effect_measure)
    compared = compare_to_reference(outcomes.cost, effect, r, inputs.settings.wtp[0])
    return tuple(a[:, s] for a in compared)


ONE_WAY_COLUMNS = (
    "parameter", "description", "strategy", "comparator", "base_value", "low_value",
    "high_value", "range_source", "inmb_base", "inmb_low", "inmb_high", "inmb_range",
    "icer_base", "icer_low", "icer_high", "inc_cost_low", "inc_effect_low", "inc_cost_high",
    "inc_effect_high", "wtp", "comparison_base", "comparison_low", "comparison_high",
)  # fmt: skip


def one_way(inputs: ModelInputs) -> pd.DataFrame:
    """dsa_oneway.csv: every parameter with a range, low and high, for each strategy versus
    the reference; sorted by the INMB range (the tornado order)."""
    ranged = [
        (p, r)
        for p in inputs.parameters
        if p.name not in inputs.dynamic_parameters and (r := parameter_range(p))
    ]
    overrides: list[dict[str, float]] = [{}]
    for p, (low, high, _) in ranged:
        overrides += [{p.name: low}, {p.name: high}]
    outcomes = run_overrides(inputs, overrides)
    base_values = evaluate_parameters(inputs)
    rows = []
    for strategy in inputs.strategy_keys:
        if strategy == inputs.reference_strategy:
            continue
        d_cost, d_effect, icer, inmb = increments(inputs, outcomes, strategy)
        quadrant = comparison(d_cost, d_effect)  # why an ICER is empty: dominant, dominated
        for i, (p, (low, high, origin)) in enumerate(ranged):
            lo, hi = 2 * i + 1, 2 * i + 2
            rows.append(
                {
                    "parameter": p.name,
                    "description": p.description,
                    "strategy": strategy,
                    "comparator": inputs.reference_strategy,
                    "base_value": float(base_values[p.name][0]),
                    "low_value": low,
                    "high_value": high,
                    "range_source": origin,
                    "inmb_base": inmb[0],
                    "inmb_low": inmb[lo],
                    "inmb_high": inmb[hi],
                    "inmb_range": abs(inmb[hi] - inmb[lo]),
                    "icer_base": icer[0],
                    "icer_low": icer[lo],
                    "icer_high": icer[hi],
                    "inc_cost_low": d_cost[lo],
                    "inc_effect_low": d_effect[lo],
                    "inc_cost_high": d_cost[hi],
                    "inc_effect_high": d_effect[hi],
                    "wtp": inputs.settings.wtp[0],
                    "comparison_base": quadrant[0],
                    "comparison_low": quadrant[lo],
                    "comparison_high": quadrant[hi],
                }
            )
    table = pd.DataFrame(rows, columns=ONE_WAY_COLUMNS)
    if table.empty:  # no parameter has a range: the columns alone (never an empty file)
        return table
    # Ranges within rounding of zero (a parameter that moves both arms equally) are 0, so the
    # order of the bars never depends on floating-point noise; ties keep the workbook order.
    scale = table[["inmb_low", "inmb_high"]].abs().to_numpy().max(initial=0.0)
    table.loc[table.inmb_range <= RANGE_NOISE * max(scale, 1.0), "inmb_range"] = 0.0
    return table.sort_values(
        ["strategy", "inmb_range"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)


def two_way_pairs(inputs: ModelInputs) -> list[tuple[str, str]]:
    pairs = []
    for part in inputs.settings.twoway.split(";"):
        names = [n.strip() for n in part.split(",") if n.strip()]
        if not names:
            continue
        if len(names) != 2 or any(n not in {p.name for p in inputs.parameters} for n in names):
            raise CostModelError(
                f"{inputs.file}: Settings twoway: '{part.strip()}' must name two parameters "
                "separated by a comma (pairs separated by ';')."
            )
        pairs.append((names[0], names[1]))
    return pairs


def two_way(inputs: ModelInputs, a: str, b: str, n: int = TWO_WAY_POINTS) -> pd.DataFrame:
    """twoway.csv rows: an n × n grid over both parameters' ranges, INMB and ICER of the DSA
    strategy versus the reference."""
    grids = []
    for name in (a, b):
        r = parameter_range(inputs.parameter(name))
        if r is None:
            raise CostModelError(
                f"{inputs.file}: two-way analysis of '{name}' needs low/high values or a "
                "distribution in Parameters."
            )
        grids.append(np.linspace(r[0], r[1], n))
    va, vb = np.meshgrid(grids[0], grids[1], indexing="ij")
    overrides = [{a: x, b: y} for x, y in zip(va.ravel(), vb.ravel(), strict=True)]
    outcomes = run_overrides(inputs, overrides)
    strategy = inputs.dsa_strategy
    d_cost, d_effect, icer, inmb = increments(inputs, outcomes, strategy)
    return pd.DataFrame(
        {
            "parameter_a": a,
            "value_a": va.ravel(),
            "parameter_b": b,
            "value_b": vb.ravel(),
            "strategy": strategy,
            "comparator": inputs.reference_strategy,
            "wtp": inputs.settings.wtp[0],
            "inmb": inmb,
            "icer": icer,
            "comparison": comparison(d_cost, d_effect),
        }
    )


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """dsa_oneway and twoway[_k] tables, when deterministic analyses are on."""
    inputs = ctx.inputs
    if not ctx.options.deterministic or len(inputs.strategies) < 2:
        return {}
    tables = {"dsa_oneway": one_way(inputs)}
    if ctx.options.fast:
        return tables
    for i, (a, b) in enumerate(two_way_pairs(inputs)):
        tables["twoway" if i == 0 else f"twoway_{i + 1}"] = two_way(inputs, a, b)
    return tables
