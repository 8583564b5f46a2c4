"""Threshold price at the PSA means: the price (Settings threshold_parameter) at which the
expected incremental net benefit of the DSA strategy versus the reference is zero, and the
range of prices in which that strategy has the highest expected net benefit of all.

threshold.csv answers the same question for the base case at the mean inputs. Because the
model is not linear in its uncertain inputs, the expected values of the PSA differ (in the
MSC model the PSA-mean ICER is about 20% higher), and NICE's reference case decides on the
expected values. The costs at other prices come from the PSA's own draws
(:func:`costmodel.analyses.voi_by_price.costs_at_prices`: exact where the price enters only
start costs, else checked affine); the expected net benefit of each strategy is then an
affine function of the price, a - b x price, and both answers follow in closed form.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.voi_by_price import costs_at_prices
from costmodel.inputs import ModelInputs
from costmodel.outcomes import PsaResult
from costmodel.parameters import evaluate_parameters

AFFINE_RTOL = 1e-9  # mean costs at three prices must lie on a line to this tolerance


def optimal_price_range(
    intercept: np.ndarray, slope: np.ndarray, strategy: int
) -> tuple[float, float]:
    """The prices p >= 0 at which ``strategy`` has the highest of the expected net benefits
    ``intercept - slope * p`` (one per strategy [currency]; slope [currency per currency of
    price]), as (lowest, highest); (nan, nan) when it is never the highest, highest inf when
    it stays the highest at any larger price. Ties count as the highest."""
    low, high = 0.0, np.inf
    for other in range(len(intercept)):
        if other == strategy:
            continue
        gain = intercept[strategy] - intercept[other]  # at price 0
        rise = slope[strategy] - slope[other]  # how fast the gain falls with the price
        if rise > 0:
            high = min(high, gain / rise)
        elif rise < 0:
            low = max(low, gain / rise)
        elif gain < 0:
            return float("nan"), float("nan")
    if low > high:
        return float("nan"), float("nan")
    return low, high


def threshold_psa_table(inputs: ModelInputs, psa: PsaResult) -> pd.DataFrame:
    """threshold_psa.csv: per WTP, the price at which the PSA-mean INMB of the DSA strategy
    versus the reference is zero (``threshold_value``) and the prices between which that
    strategy has the highest expected net benefit of the decision's strategies
    (``optimal_from``, ``optimal_up_to``; blank when it never has), [currency of the price]."""
    settings = inputs.settings
    name = settings.threshold_parameter
    keys = list(psa.strategies)
    strategy, reference = inputs.dsa_strategy, inputs.reference_strategy
    s, r = keys.index(strategy), keys.index(reference)
    base = float(evaluate_parameters(inputs)[name][0])
    step = max(abs(base), 1.0)
    prices = np.array([base, base + step, base + 2 * step])
    cost = costs_at_prices(inputs, psa, prices).mean(axis=1)  # (3 prices, n_strategies)
    slope = (cost[1] - cost[0]) / step
    affine = np.allclose(cost[2], cost[0] + 2 * step * slope, rtol=AFFINE_RTOL, atol=1e-6)
    effect = psa.effect(settings.effect_measure).mean(axis=0)
    rows = []
    for w in settings.wtp:
        intercept = w * effect - (cost[0] - slope * base)  # expected NMB at price 0
        row = {
            "parameter": name,
            "parameter_unit": inputs.parameter(name).unit,
            "strategy": strategy,
            "comparator": reference,
            "wtp": w,
            "base_value": base,
            "threshold_value": np.nan,
            "optimal_from": np.nan,
            "optimal_up_to": np.nan,
            "note": "",
        }
        rise = slope[s] - slope[r]  # how fast the INMB falls as the price rises
        if not affine:
            row["note"] = "mean costs are not affine in the price: not computed"
            rows.append(row)
            continue
        if rise != 0:
            row["threshold_value"] = (intercept[s] - intercept[r]) / rise
        low, high = optimal_price_range(intercept, slope, s)
        row["optimal_from"] = low
        row["optimal_up_to"] = high if np.isfinite(high) else np.nan
        row["note"] = _note(row, rise, intercept[s] - intercept[r], name, strategy, reference)
        rows.append(row)
    return pd.DataFrame(rows)


def _note(
    row: dict, rise: float, gain_at_zero: float, name: str, strategy: str, reference: str
) -> str:
    """What a row's numbers mean where they are not the usual 'cost-effective below the
    threshold, best between optimal_from and optimal_up_to' (keys: the CSV's own)."""
    notes = []
    threshold = row["threshold_value"]
    if rise == 0:
        notes.append(
            f"{name} does not change the cost difference: {strategy} is "
            f"{'' if gain_at_zero >= 0 else 'not '}cost-effective versus {reference} at any price"
        )
    elif rise < 0:  # the comparator's cost rises faster with the price
        notes.append(
            f"{strategy} is cost-effective versus {reference} at every price"
            if threshold < 0
            else f"{strategy} is cost-effective versus {reference} above this price"
        )
    elif threshold < 0:
        notes.append(f"{strategy} is not cost-effective versus {reference} even free")
    if row["optimal_from"] != row["optimal_from"]:
        notes.append(f"{strategy} has the highest expected net benefit at no price")
    elif row["optimal_up_to"] != row["optimal_up_to"]:
        notes.append(f"{strategy} has the highest expected net benefit at any higher price")
    return "; ".join(notes)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """threshold_psa.csv, when the run has a PSA and Settings threshold_parameter."""
    inputs = ctx.inputs
    if (
        ctx.psa is None
        or not inputs.settings.threshold_parameter
        or inputs.dsa_strategy == inputs.reference_strategy
    ):
        return {}
    return {"threshold_psa": threshold_psa_table(inputs, ctx.psa)}
