"""Probabilistic sensitivity analysis: the batched model run over parameter draws, and the
PSA tables (summary, CEAC/CEAF, EVPI, samples).

Draws come from :func:`costmodel.parameters.sample_parameters` (one random stream per block
of samples), so results depend only on the seed and the sample index, never on chunking.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from costmodel import cea
from costmodel.analyses.base import AnalysisContext
from costmodel.cores import cores
from costmodel.inputs import ModelInputs
from costmodel.kernel import kernel_threads
from costmodel.model import run_model, use_compiled
from costmodel.model.run import thread_chunk_size
from costmodel.outcomes import ModelOutcomes, PsaResult
from costmodel.parameters import evaluate_parameters, sample_parameters
from costmodel.results import psa_samples_table

RUN_CHUNK = 16_384  # samples per model call (bounds memory; results do not depend on it)
# The regression estimates (EVPPI, EVSI) use at most the first this many PSA samples (they are
# independent draws): their memory and time grow with the sample, their Monte Carlo error
# (reported as se) is already small here; the EVPI and every other PSA output use all samples.
VOI_REGRESSION_MAX_SAMPLES = 100_000


def run_psa(
    inputs: ModelInputs,
    n_samples: int,
    seed: int,
    *,
    chunk_size: int = RUN_CHUNK,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
) -> PsaResult:
    """Sample, evaluate and run the model for ``n_samples`` draws, in chunks run on
    ``threads`` threads (default: one per core). The compiled kernel and NumPy's array work
    release the GIL; each chunk has its own random streams and every cohort is computed on
    its own, so the result is the same bits whatever the threads and the chunking (test)."""
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
    workers = max(1, cores() if threads is None else threads)
    size = thread_chunk_size(n_samples, chunk_size, workers)
    starts = list(range(0, n_samples, size))
    workers = min(workers, len(starts))

    def run_chunk(start: int) -> tuple[dict[str, np.ndarray], ModelOutcomes]:
        stop = min(start + size, n_samples)
        with kernel_threads(1 if workers > 1 else None):
            draws = sample_parameters(inputs, seed, start, stop)
            values = evaluate_parameters(inputs, draws, stop - start)
            return draws, run_model(inputs, values, compiled=compiled, threads=1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = 0
        for start, (draws, outcomes) in zip(starts, pool.map(run_chunk, starts), strict=True):
            stop = start + len(outcomes.cost)
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
            done += stop - start
            if progress is not None:
                progress(done, n_samples)
    # joined one at a time, each list of chunks dropped as it is joined: the chunks and the
    # joined arrays are never all in memory at once (a 1M-sample PSA: ~700 MB less at peak)
    parameters = {name: np.concatenate(sampled.pop(name)) for name in list(sampled)}
    by_entry = {}
    for state in list(strata):
        chunks = strata.pop(state)
        by_entry[state] = tuple(np.concatenate([c[i] for c in chunks]) for i in range(3))
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
