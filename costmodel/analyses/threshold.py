"""Threshold analysis: the value of a parameter (price, effect) at which the ICER of the DSA
strategy versus the reference equals each WTP, by a batched grid then a bracketed root search
with several points per model run (:mod:`costmodel.roots`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.dsa import increments, run_overrides
from costmodel.inputs import ModelInputs
from costmodel.model import use_compiled
from costmodel.parameters import evaluate_parameters
from costmodel.roots import bracketed_roots, first_bracket

THRESHOLD_GRID = 41


@dataclass(frozen=True)
class Search:
    """One threshold search: the value of ``parameter`` in [low, high] at which the INMB of
    the strategy versus the reference is zero."""

    parameter: str
    low: float
    high: float


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
    return thresholds(inputs, [Search(parameter, low, high)], strategy=strategy)


def thresholds(
    inputs: ModelInputs, searches: list[Search], *, strategy: str | None = None
) -> pd.DataFrame:
    """:func:`threshold` rows of several searches, each for every WTP. All grids run in one
    model run, and then every round of all the root searches in one run (each search's
    points, and so its result, are those it has alone)."""
    strategy = strategy or inputs.dsa_strategy
    base_values = evaluate_parameters(inputs)
    grids = [np.linspace(s.low, s.high, THRESHOLD_GRID) for s in searches]

    def increments_at(
        asked: list[tuple[str, np.ndarray]],
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(Δcost, Δeffect) at each (parameter, values), from one model run on the engine
        that the largest of them alone would use (the kernel and the NumPy path agree to
        1e-12, not to the bit)."""
        overrides = [{name: v} for name, values in asked for v in values]
        if not overrides:
            return [(np.empty(0), np.empty(0)) for _ in asked]
        compiled = use_compiled(inputs, max(len(values) for _, values in asked))
        outcomes = run_overrides(inputs, overrides, compiled=compiled)
        d_cost, d_effect, _, _ = increments(inputs, outcomes, strategy)
        ends = np.cumsum([len(values) for _, values in asked])
        return [
            (d_cost[end - len(values) : end], d_effect[end - len(values) : end])
            for (_, values), end in zip(asked, ends, strict=True)
        ]

    on_grid = increments_at([(s.parameter, grid) for s, grid in zip(searches, grids, strict=True)])
    rows, brackets, problems = [], [], []
    for search, grid, (d_cost, d_effect) in zip(searches, grids, on_grid, strict=True):
        low, high = search.low, search.high
        for wtp in inputs.settings.wtp:
            inmb_grid = wtp * d_effect - d_cost
            bracket = first_bracket(grid, inmb_grid)
            row = {
                "parameter": search.parameter,
                "strategy": strategy,
                "comparator": inputs.reference_strategy,
                "wtp": wtp,
                "base_value": float(base_values[search.parameter][0]),
                "search_low": low,
                "search_high": high,
            }
            if bracket is None:
                side = "cost-effective" if inmb_grid[0] > 0 else "not cost-effective"
                row |= {
                    "threshold_value": np.nan,
                    "found": False,
                    "note": f"{strategy} is {side} at WTP {wtp:g} over the whole range "
                    f"[{low:g}, {high:g}]; no threshold in range",
                }
            else:
                brackets.append(bracket)
                problems.append((search.parameter, wtp, row))
            rows.append(row)

    def inmb_at(points: list[np.ndarray]) -> list[np.ndarray]:
        asked = [(name, x) for (name, _, _), x in zip(problems, points, strict=True)]
        return [
            wtp * d_effect - d_cost
            for (_, wtp, _), (d_cost, d_effect) in zip(problems, increments_at(asked), strict=True)
        ]

    values = bracketed_roots(inmb_at, brackets, xtol=1e-10, rtol=1e-12)
    for (name, wtp, row), value in zip(problems, values, strict=True):
        row |= {
            "threshold_value": float(value),
            "found": True,
            "note": f"ICER of {strategy} vs {inputs.reference_strategy} equals "
            f"{wtp:g} at {name} = {value:.6g}",
        }
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
    searches = []
    name = inputs.settings.threshold_parameter
    if name:
        searches.append(Search(name, *threshold_range(inputs, name)))
    effect = inputs.settings.effect_parameter
    if effect:
        searches.append(Search(effect, 0.01, 1.0))
    return {"threshold": thresholds(inputs, searches)} if searches else {}
