"""Deterministic sensitivity analyses: one-way (tornado), two-way, threshold, scenarios.

One-way, two-way and threshold grids are batched through the engine as samples of a single
run; only root refinement (threshold) and scenarios that change settings run separately.
Comparisons are ``strategy`` versus the reference strategy; incremental net monetary benefit
INMB = wtp × Δeffect − Δcost at the first WTP is the primary measure (an ICER changes sign
when Δeffect crosses zero).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from costmodel.errors import CostModelError
from costmodel.inputs import ModelInputs, Parameter
from costmodel.model import ModelOutcomes, run_model
from costmodel.parameters import evaluate_parameters

TWO_WAY_POINTS = 11
THRESHOLD_GRID = 41


def parameter_range(p: Parameter) -> tuple[float, float, str] | None:
    """(low, high, where from) for one-way analysis: the low/high columns, else the 2.5th and
    97.5th percentiles of the PSA distribution; None if neither exists."""
    if p.low is not None and p.high is not None:
        return p.low, p.high, "low/high"
    if p.dist is not None:
        low, high = p.dist.interval(0.95)
        if np.isfinite(low) and np.isfinite(high) and low != high:
            return float(low), float(high), "95% interval"
    return None


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


def _increments(inputs: ModelInputs, outcomes: ModelOutcomes, strategy: str) -> tuple:
    keys = list(inputs.strategy_keys)
    s, r = keys.index(strategy), keys.index(inputs.reference_strategy)
    effect = outcomes.qaly if inputs.settings.effect_measure == "qaly" else outcomes.ly
    d_cost = outcomes.cost[:, s] - outcomes.cost[:, r]
    d_effect = effect[:, s] - effect[:, r]
    wtp = inputs.settings.wtp[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        icer = np.where(np.abs(d_effect) > 1e-12, d_cost / d_effect, np.nan)
    return d_cost, d_effect, icer, wtp * d_effect - d_cost


def one_way(inputs: ModelInputs) -> pd.DataFrame:
    """dsa_oneway.csv: every parameter with a range, low and high, for each strategy versus
    the reference; sorted by the INMB range (the tornado order)."""
    ranged = [(p, r) for p in inputs.parameters
              if p.name not in inputs.dynamic_parameters and (r := parameter_range(p))]  # fmt: skip
    overrides: list[dict[str, float]] = [{}]
    for p, (low, high, _) in ranged:
        overrides += [{p.name: low}, {p.name: high}]
    outcomes = run_overrides(inputs, overrides)
    base_values = evaluate_parameters(inputs)
    rows = []
    for strategy in inputs.strategy_keys:
        if strategy == inputs.reference_strategy:
            continue
        d_cost, d_effect, icer, inmb = _increments(inputs, outcomes, strategy)
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
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values(["strategy", "inmb_range"], ascending=[True, False]).reset_index(
        drop=True
    )


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
    _, _, icer, inmb = _increments(inputs, outcomes, strategy)
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
        }
    )


def threshold(inputs: ModelInputs, parameter: str, *, low: float, high: float) -> pd.DataFrame:
    """threshold.csv rows: the value of ``parameter`` at which the DSA strategy's INMB versus
    the reference is zero (ICER = WTP), for each WTP, by a batched grid then Brent's method."""
    strategy = inputs.dsa_strategy
    base = float(evaluate_parameters(inputs)[parameter][0])
    grid = np.linspace(low, high, THRESHOLD_GRID)
    outcomes = run_overrides(inputs, [{parameter: x} for x in grid])
    d_cost, d_effect, _, _ = _increments(inputs, outcomes, strategy)
    rows = []
    for wtp in inputs.settings.wtp:
        inmb = wtp * d_effect - d_cost
        changes = np.flatnonzero(np.sign(inmb[:-1]) * np.sign(inmb[1:]) <= 0)
        row = {"parameter": parameter, "strategy": strategy,
               "comparator": inputs.reference_strategy, "wtp": wtp, "base_value": base,
               "search_low": low, "search_high": high}  # fmt: skip
        if changes.size == 0:
            side = "cost-effective" if inmb[0] > 0 else "not cost-effective"
            rows.append({**row, "threshold_value": np.nan, "found": False,
                         "note": f"{strategy} is {side} at WTP {wtp:g} over the whole range "
                                 f"[{low:g}, {high:g}]; no threshold in range"})  # fmt: skip
            continue
        i = int(changes[0])

        def inmb_at(x: float, wtp: float = wtp) -> float:
            out = run_overrides(inputs, [{parameter: x}])
            dc, de, _, _ = _increments(inputs, out, strategy)
            return float(wtp * de[0] - dc[0])

        value = grid[i] if inmb[i] == 0 else brentq(inmb_at, grid[i], grid[i + 1], xtol=1e-10,
                                                      rtol=1e-12)  # fmt: skip
        rows.append({**row, "threshold_value": float(value), "found": True,
                     "note": f"ICER of {strategy} vs {inputs.reference_strategy} equals "
                             f"{wtp:g} at {parameter} = {value:.6g}"})  # fmt: skip
    return pd.DataFrame(rows)


def threshold_range(inputs: ModelInputs, parameter: str) -> tuple[float, float]:
    """Search range: 0 to threshold_max (default 10 × base, or the high value if larger)."""
    base = float(evaluate_parameters(inputs)[parameter][0])
    p = inputs.parameter(parameter)
    high = inputs.settings.threshold_max
    if high is None:
        high = max(10 * abs(base), p.high or 0.0, 1.0)
    return 0.0, float(high)
