"""Probabilistic sensitivity analysis: the batched model run over parameter draws, and the
PSA tables (summary, CEAC/CEAF, EVPI, samples).

Draws come from :func:`costmodel.parameters.sample_parameters` (one random stream per block
of samples), so results depend only on the seed and the sample index, never on chunking.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from costmodel import cea
from costmodel.analyses.base import AnalysisContext
from costmodel.inputs import ModelInputs
from costmodel.model import run_model, use_compiled
from costmodel.outcomes import PsaResult
from costmodel.parameters import evaluate_parameters, sample_parameters
from costmodel.results import psa_samples_table

RUN_CHUNK = 16_384  # samples per model call (bounds memory; results do not depend on it)


def run_psa(
    inputs: ModelInputs,
    n_samples: int,
    seed: int,
    *,
    chunk_size: int = RUN_CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> PsaResult:
    """Sample, evaluate and run the model for ``n_samples`` draws, in chunks."""
    if n_samples < 1:
        raise ValueError("n_samples must be >= 1")
    n_strategies = len(inputs.strategies)
    cost = np.empty((n_samples, n_strategies))
    qaly = np.empty_like(cost)
    ly = np.empty_like(cost)
    undiscounted = {name: np.empty_like(cost) for name in ("cost", "qaly", "ly")}
    sampled: dict[str, list[np.ndarray]] = {}
    strata: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    compiled = use_compiled(inputs, n_samples)  # one choice for every chunk
    for start in range(0, n_samples, chunk_size):
        stop = min(start + chunk_size, n_samples)
        draws = sample_parameters(inputs, seed, start, stop)
        values = evaluate_parameters(inputs, draws, stop - start)
        outcomes = run_model(inputs, values, compiled=compiled)
        cost[start:stop] = outcomes.cost
        qaly[start:stop] = outcomes.qaly
        ly[start:stop] = outcomes.ly
        undiscounted["cost"][start:stop] = outcomes.cost_undiscounted
        undiscounted["qaly"][start:stop] = outcomes.qaly_undiscounted
        undiscounted["ly"][start:stop] = outcomes.ly_undiscounted
        for name, value in draws.items():
            sampled.setdefault(name, []).append(value)
        for state, part in (outcomes.by_entry or {}).items():
            strata.setdefault(state, []).append((part.cost, part.qaly, part.ly))
        if progress is not None:
            progress(stop, n_samples)
    parameters = {k: np.concatenate(v) for k, v in sampled.items()}
    by_entry = {
        state: tuple(np.concatenate([c[i] for c in chunks]) for i in range(3))
        for state, chunks in strata.items()
    }
    return PsaResult(
        seed, inputs.strategy_keys, parameters, cost, qaly, ly, by_entry or None, undiscounted
    )


CEAC_POINTS = 61  # WTP points of the acceptability curves, from 0 to twice the largest WTP
PSA_SAMPLES_CSV_LIMIT = 200_000  # psa_samples.csv is skipped above this (summary tables only)


def wtp_grid(wtp: tuple[float, ...]) -> np.ndarray:
    """CEAC_POINTS thresholds from 0 to 2 × max(wtp) [currency per unit effect], plus ``wtp``."""
    top = 2.0 * max(wtp) if max(wtp) > 0 else 1.0
    return np.unique(np.concatenate([np.linspace(0.0, top, CEAC_POINTS), wtp]))


def population(inputs: ModelInputs) -> float:
    """Patients affected by the decision over its horizon, discounted (EVPI multiplier)."""
    settings = inputs.settings
    return cea.population_multiplier(
        settings.population_size, settings.decision_horizon_years, settings.discount_rate_costs
    )


def psa_tables(inputs: ModelInputs, psa: PsaResult) -> dict[str, pd.DataFrame]:
    """psa_summary, ceac (with CEAF), evpi and (up to PSA_SAMPLES_CSV_LIMIT) psa_samples."""
    settings = inputs.settings
    keys = list(psa.strategies)
    effect = psa.effect(settings.effect_measure)
    grid = wtp_grid(settings.wtp)
    tables = {
        "psa_summary": cea.psa_summary(
            keys,
            psa.cost,
            effect,
            reference=keys.index(inputs.reference_strategy),
            effect_name=settings.effect_measure,
        ),
        "ceac": cea.ceac_table(keys, psa.cost, effect, grid),
        "evpi": cea.evpi_table(psa.cost, effect, grid, population_multiplier=population(inputs)),
    }
    if psa.n_samples <= PSA_SAMPLES_CSV_LIMIT:
        tables["psa_samples"] = psa_samples_table(psa)
    return tables


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """The PSA tables, when the run has a PSA."""
    return {} if ctx.psa is None else psa_tables(ctx.inputs, ctx.psa)
