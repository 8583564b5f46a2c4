"""Value of research where the decision is uncertain: EVPI, and the EVSI/ENBS of the next
trial, over a grid of prices of the product (Settings threshold_parameter).

At a price where the product is never cost-effective the EVPI is zero whatever the evidence,
so the value of a trial is shown around the threshold price. Costs at another price come from
the PSA's own draws. When the price enters only start costs (the MSC model: the course cost
at the start of treatment), the cost at any price is the PSA's cost plus the change in start
costs, without running the model. Otherwise the model is re-run once at a price away from
every sample's and, when cost is linear in the price (checked at a third price), every grid
price follows exactly; else the PSA is re-run at each price.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel import cea
from costmodel.analyses import test_and_treat
from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.evsi import evsi_table
from costmodel.analyses.psa import population
from costmodel.cores import map_on_cores, one_blas_thread
from costmodel.inputs import ModelInputs
from costmodel.model import run_model, start_cost_totals
from costmodel.model.dependence import only_in_start_costs
from costmodel.outcomes import PsaResult
from costmodel.parameters import evaluate_parameters

GRID_FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5)  # multiples of the threshold price
LINEAR_RTOL = 1e-9
LINEARITY_CHECK_SAMPLES = 64
STACKED_SAMPLES = 100_000  # samples x prices whose start costs are evaluated in one call


def price_grid(inputs: ModelInputs, thresholds: pd.DataFrame | None, base: float) -> np.ndarray:
    """Settings voi_prices, else GRID_FACTORS x each WTP's threshold price, and the base."""
    if inputs.settings.voi_prices:
        return np.unique(np.asarray(inputs.settings.voi_prices, dtype=float))
    prices = [base]
    name = inputs.settings.threshold_parameter
    if thresholds is not None and len(thresholds):
        found = thresholds[(thresholds.parameter == name) & thresholds.threshold_value.notna()]
        prices += [f * v for v in found.threshold_value for f in GRID_FACTORS]
    return np.unique(np.round(np.asarray(prices, dtype=float), 6))


def costs_at_prices(inputs: ModelInputs, psa: PsaResult, prices: np.ndarray) -> np.ndarray:
    """PSA costs (n_prices, n_samples, n_strategies) with the price set to each grid price."""
    name = inputs.settings.threshold_parameter
    if only_in_start_costs(inputs, name):
        return _costs_from_start_costs(inputs, psa, prices)

    def cost_at(price: float, rows: slice = slice(None)) -> np.ndarray:
        draws = {k: v[rows] for k, v in psa.parameters.items()}
        n = len(next(iter(draws.values()))) if draws else psa.n_samples
        draws[name] = np.full(n, price)
        values = evaluate_parameters(inputs, draws, n)
        cost = run_model(inputs, values).cost
        if test_and_treat.KEY in psa.strategies:  # the derived strategy, at this price too
            cost = np.column_stack([cost, test_and_treat.cost_column(inputs, values, cost)])
        return cost

    base = float(evaluate_parameters(inputs)[name][0])
    step = max(abs(base), 1.0)
    # Cost is affine in the price (checked below), and the PSA's own costs are at each
    # sample's price (the base price, or a price sampled or computed from sampled inputs,
    # e.g. bags by body weight): one run at a price well away from every sample's gives
    # each sample's slope.
    sampled = evaluate_parameters(inputs, psa.parameters, psa.n_samples).get(name)
    own = np.broadcast_to(np.asarray(base if sampled is None else sampled, float), psa.n_samples)
    far = float(np.max(own)) + step
    slope = (cost_at(far) - psa.cost) / (far - own)[:, None]
    check = slice(0, LINEARITY_CHECK_SAMPLES)  # linearity checked on a subsample
    expected = psa.cost[check] + (base - own[check, None]) * slope[check]
    if np.allclose(cost_at(base, check), expected, rtol=LINEAR_RTOL, atol=1e-6):
        return np.stack([psa.cost + (p - own[:, None]) * slope for p in prices])
    return np.stack([cost_at(p) for p in prices])


def _costs_from_start_costs(inputs: ModelInputs, psa: PsaResult, prices: np.ndarray) -> np.ndarray:
    """Costs at each price when the price enters start costs only (see
    :mod:`costmodel.model.dependence`): the PSA's own costs plus the change in start costs,
    exact for any price (no linearity needed) and without running the model."""
    name = inputs.settings.threshold_parameter
    n = psa.n_samples

    def start_costs(draws: dict[str, np.ndarray], size: int) -> np.ndarray:
        values = evaluate_parameters(inputs, draws, size)
        start = start_cost_totals(inputs, values)
        if test_and_treat.KEY in psa.strategies:  # the derived strategy's start costs too
            column = test_and_treat.start_cost_column(inputs, values, start)
            start = np.column_stack([start, column])
        return start

    # the PSA's own price first, then each grid price: as many in one evaluation as fit in
    # STACKED_SAMPLES samples (every sample's start costs are computed on their own, so
    # stacking gives the same numbers as one price at a time)
    at = [None, *prices]
    per_call = max(1, STACKED_SAMPLES // max(n, 1))
    starts = []
    for first in range(0, len(at), per_call):
        group = at[first : first + per_call]
        draws = {
            k: np.concatenate([v if p is None or k != name else np.full(n, p) for p in group])
            for k, v in psa.parameters.items()
        }
        if name not in psa.parameters:
            draws[name] = np.concatenate([np.full(n, np.nan if p is None else p) for p in group])
        starts += np.split(start_costs(draws, n * len(group)), len(group))
    own = starts[0]
    return np.stack([psa.cost + start - own for start in starts[1:]])


def voi_by_price_table(
    inputs: ModelInputs, psa: PsaResult, thresholds: pd.DataFrame | None, with_evsi: bool
) -> pd.DataFrame:
    """voi_by_price.csv: price, wtp, evpi_per_patient, evpi_population, best_strategy,
    prob_best, and with EVSI: optimal_n_per_arm, evsi_per_patient, evsi_se,
    evsi_population, enbs (at the ENBS-maximising trial size; all 0 when no size has a
    positive ENBS: the best choice is then no trial, which gives no information)."""
    settings = inputs.settings
    name = settings.threshold_parameter
    base = float(evaluate_parameters(inputs)[name][0])
    prices = price_grid(inputs, thresholds, base)
    costs = costs_at_prices(inputs, psa, prices)
    effect = psa.effect(settings.effect_measure)
    wtp = np.asarray(settings.wtp, dtype=float)
    keys = list(psa.strategies)
    values = evaluate_parameters(inputs, psa.parameters, psa.n_samples) if with_evsi else None
    rows = []
    evsi_by_price = [None] * len(prices)
    if with_evsi:
        from costmodel.voi_regression import spline_bases_kept  # ~0.2 s to import: when used

        with spline_bases_kept():  # each trial size's simulated data: the same at every price
            evsi_by_price = map_on_cores(
                lambda cost: evsi_table(inputs, psa, cost, values, se_of_best_only=True), costs
            )
    for price, cost, evsi in zip(prices, costs, evsi_by_price, strict=True):
        evpi = cea.evpi(cost, effect, wtp)
        acceptability = cea.ceac(cost, effect, wtp)
        best = cea.ceaf(cost, effect, wtp)
        for w, value in enumerate(evpi):
            row = {
                "parameter": name,
                "parameter_unit": inputs.parameter(name).unit,
                "price": price,
                "is_base_price": bool(np.isclose(price, base)),
                "wtp": wtp[w],
                "evpi_per_patient": value,
                "evpi_population": value * population(inputs),
                "best_strategy": keys[best[w]],
                "prob_best": acceptability[w, best[w]],
            }
            if evsi is not None:
                at = evsi[np.isclose(evsi.wtp, wtp[w])]
                top = at.loc[at.enbs.idxmax()]
                trial = top.enbs > 0  # else the best choice is no trial: no information
                row.update(
                    optimal_n_per_arm=int(top.n_per_arm) if trial else 0,
                    evsi_per_patient=top.evsi_per_patient if trial else 0.0,
                    evsi_se=top.se if trial else 0.0,
                    evsi_population=top.evsi_population if trial else 0.0,
                    enbs=max(float(top.enbs), 0.0),
                    evsi_samples_used=int(top.samples_used),
                )
            rows.append(row)
    return pd.DataFrame(rows)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """voi_by_price.csv, when run_voi_by_price is on and the run has a PSA."""
    inputs = ctx.inputs
    if ctx.psa is None or not ctx.options.voi or not inputs.settings.run_voi_by_price:
        return {}
    with_evsi = inputs.settings.run_evsi
    with one_blas_thread():
        table = voi_by_price_table(inputs, ctx.psa, ctx.tables.get("threshold"), with_evsi)
    return {"voi_by_price": table}
