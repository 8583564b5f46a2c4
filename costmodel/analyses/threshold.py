"""Threshold analysis: the value of a parameter (price, effect) at which the ICER of the DSA
strategy versus the reference equals each WTP, by a batched grid then a bracketed root search
with several points per model run (:mod:`costmodel.roots`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.dsa import increments, run_overrides
from costmodel.inputs import ModelInputs
from costmodel.parameters import evaluate_parameters
from costmodel.roots import bracketed_root

THRESHOLD_GRID = 41


def threshold(
    inputs: ModelInputs,
    parameter: str,
    *,
    low: float,
    high: float,
    strategy: str | None = None,
) -> pd.DataFrame:
    """threshold.csv rows: the value of ``parameter`` at which the INMB of ``strategy``
    (default: the DSA strategy) versus the reference is zero (ICER = WTP), for each WTP, by a
    batched grid then :func:`costmodel.roots.bracketed_root`."""
    strategy = strategy or inputs.dsa_strategy
    base = float(evaluate_parameters(inputs)[parameter][0])
    grid = np.linspace(low, high, THRESHOLD_GRID)
    outcomes = run_overrides(inputs, [{parameter: x} for x in grid])
    d_cost, d_effect, _, _ = increments(inputs, outcomes, strategy)
    rows = []
    for wtp in inputs.settings.wtp:
        inmb = wtp * d_effect - d_cost
        changes = np.flatnonzero(np.sign(inmb[:-1]) * np.sign(inmb[1:]) <= 0)
        row = {
            "parameter": parameter,
            "strategy": strategy,
            "comparator": inputs.reference_strategy,
            "wtp": wtp,
            "base_value": base,
            "search_low": low,
            "search_high": high,
        }
        if changes.size == 0:
            side = "cost-effective" if inmb[0] > 0 else "not cost-effective"
            rows.append(
                {
                    **row,
                    "threshold_value": np.nan,
                    "found": False,
                    "note": f"{strategy} is {side} at WTP {wtp:g} over the whole range "
                    f"[{low:g}, {high:g}]; no threshold in range",
                }
            )
            continue
        i = int(changes[0])

        def inmb_at(x: np.ndarray, wtp: float = wtp) -> np.ndarray:
            out = run_overrides(inputs, [{parameter: v} for v in x])
            dc, de, _, _ = increments(inputs, out, strategy)
            return wtp * de - dc

        value = bracketed_root(
            inmb_at, grid[i], grid[i + 1], inmb[i], inmb[i + 1], xtol=1e-10, rtol=1e-12
        )
        rows.append(
            {
                **row,
                "threshold_value": float(value),
                "found": True,
                "note": f"ICER of {strategy} vs {inputs.reference_strategy} equals "
                f"{wtp:g} at {parameter} = {value:.6g}",
            }
        )
    return pd.DataFrame(rows)


def threshold_range(inputs: ModelInputs, parameter: str) -> tuple[float, float]:
    """Search range: 0 to threshold_max (default 10 × base, or the high value if larger)."""
    base = float(evaluate_parameters(inputs)[parameter][0])
    p = inputs.parameter(parameter)
    high = inputs.settings.threshold_max
    if high is None:
        high = max(10 * abs(base), p.high or 0.0, 1.0)
    return 0.0, float(high)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """threshold.csv: threshold price (threshold_parameter) and, with an effect parameter,
    the minimum effect, when deterministic analyses are on."""
    inputs = ctx.inputs
    if not ctx.options.deterministic or len(inputs.strategies) < 2:
        return {}
    frames = []
    name = inputs.settings.threshold_parameter
    if name:
        low, high = threshold_range(inputs, name)
        frames.append(threshold(inputs, name, low=low, high=high))
    effect = inputs.settings.effect_parameter
    if effect:
        frames.append(threshold(inputs, effect, low=0.01, high=1.0))
    return {"threshold": pd.concat(frames, ignore_index=True)} if frames else {}
