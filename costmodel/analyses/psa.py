"""Probabilistic sensitivity analysis: the batched model run over parameter draws, and the
PSA tables (summary, CEAC/CEAF, EVPI, samples).

Draws come from :func:`costmodel.parameters.sample_parameters` (one random stream per block
of samples), so results depend only on the seed and the sample index, never on chunking.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel import cea
from costmodel.analyses.base import AnalysisContext
from costmodel.cea_icer import compute_icer_table
from costmodel.cores import (
    LOCK_WAIT_S,
    Forked,
    HelperLostError,
    acquire_watching,
    cores,
    fork_processes,
    in_forked_child,
    one_blas_thread,
    shared_zeros,
)
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


def regression_rows(n_samples: int) -> slice:
    """The PSA samples the EVPPI and EVSI regressions use: the first
    VOI_REGRESSION_MAX_SAMPLES."""
    return slice(0, min(n_samples, VOI_REGRESSION_MAX_SAMPLES))


def run_psa(
    inputs: ModelInputs,
    n_samples: int,
    seed: int,
    *,
    chunk_size: int = RUN_CHUNK,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
    processes: int | None = None,
) -> PsaResult:
    """Sample, evaluate and run the model for ``n_samples`` draws, in chunks.

    A large PSA runs its chunks in ``processes`` processes (default: one per core on Linux,
    see :func:`costmodel.cores.fork_processes`): forked helpers write their chunks into
    shared memory (100,000 samples: 9.6 s against 11.9 s on threads, which wait for each
    other at the GIL between NumPy calls). Otherwise the chunks run on ``threads`` threads (default:
    one per core). Each chunk has its own random streams and every cohort is computed on its
    own, so the result is the same bits whatever the processes, threads and chunking (tests).
    """
    if n_samples < 1:
        raise ValueError("n_samples must be >= 1")
    compiled = use_compiled(inputs, n_samples)  # one choice for every chunk
    processes = fork_processes() if processes is None else processes
    with one_blas_thread():  # the chunks share the cores: BLAS threads would only spin
        if processes > 1 and n_samples >= MIN_PROCESS_SAMPLES and not in_forked_child():
            return _psa_on_processes(
                inputs, n_samples, seed, chunk_size, compiled, progress, processes
            )
        return _psa_on_threads(inputs, n_samples, seed, chunk_size, compiled, progress, threads)


# Below this many samples the PSA runs on threads: forking and the probe run cost more.
MIN_PROCESS_SAMPLES = 4_096


def _run_chunk(
    inputs: ModelInputs, seed: int, start: int, stop: int, compiled: bool
) -> tuple[dict[str, np.ndarray], ModelOutcomes]:
    """Draws and model outcomes of samples ``start`` to ``stop`` (exclusive)."""
    draws = sample_parameters(inputs, seed, start, stop)
    values = evaluate_parameters(inputs, draws, stop - start)
    return draws, run_model(inputs, values, compiled=compiled, threads=1)


def _psa_on_threads(inputs, n_samples, seed, chunk_size, compiled, progress, threads):
    """The PSA's chunks on ``threads`` threads, each stored as it comes back (in order)."""
    workers = max(1, cores() if threads is None else threads)
    size = thread_chunk_size(n_samples, chunk_size, workers)
    starts = list(range(0, n_samples, size))
    workers = min(workers, len(starts))

    def run_chunk(start: int) -> tuple[dict[str, np.ndarray], ModelOutcomes]:
        with kernel_threads(1 if workers > 1 else None):
            return _run_chunk(inputs, seed, start, min(start + size, n_samples), compiled)

    arrays = None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start, (draws, outcomes) in zip(starts, pool.map(run_chunk, starts), strict=True):
            if arrays is None:  # the first chunk gives the names and types
                arrays = _PsaArrays.like(draws, outcomes, n_samples, np.empty)
            arrays.store(start, draws, outcomes)
            if progress is not None:
                progress(start + len(outcomes.cost), n_samples)
    return arrays.result(seed, inputs.strategy_keys)


def _psa_on_processes(inputs, n_samples, seed, chunk_size, compiled, progress, processes):
    """The PSA's chunks shared by this process and ``processes - 1`` forked helpers, each
    taking the next chunk not yet taken and writing its draws and outcomes into arrays in
    shared memory (sized from a one-sample probe run)."""
    size = thread_chunk_size(n_samples, chunk_size, processes)
    starts = list(range(0, n_samples, size))
    probe_draws, probe = _run_chunk(inputs, seed, 0, 1, compiled=False)
    arrays = _PsaArrays.like(probe_draws, probe, n_samples, shared_zeros)
    helpers: list[Forked] = []
    here = os.getpid()

    def lost() -> str | None:  # only this process can look at its helpers
        return _killed_helper(helpers) if os.getpid() == here else None

    queue = _ChunkQueue(len(starts), lost)

    def work(report: Callable[[int, int], None] | None) -> None:
        while (i := queue.take()) is not None:
            start, stop = starts[i], min(starts[i] + size, n_samples)
            try:
                draws, outcomes = _run_chunk(inputs, seed, start, stop, compiled)
            except BaseException:
                queue.stop()
                raise
            arrays.store(start, draws, outcomes)
            done = queue.finished(stop - start)
            if report is not None:  # this process: report, and stop if a helper was killed
                report(done, n_samples)
                _raise_if_lost(lost)

    reported = 0

    def report(done: int, total: int) -> None:
        nonlocal reported
        reported = done
        if progress is not None:
            progress(done, total)

    helpers += [Forked(lambda: work(None)) for _ in range(processes - 1)]
    try:
        with kernel_threads(1):
            work(report)
        for helper in helpers:
            _wait_watching(helper, lost)  # it may wait for the lock of a killed one
        _raise_if_lost(lost)  # a killed helper's samples are missing
        for helper in helpers:
            helper.result()
    finally:
        for helper in helpers:
            helper.cancel()
    if progress is not None and reported < n_samples:
        progress(n_samples, n_samples)  # the helpers' last chunks, after this process's
    return arrays.result(seed, inputs.strategy_keys)


def _killed_helper(helpers: list[Forked]) -> str | None:
    """Why the PSA cannot finish if a helper was killed (exit code not 0: its samples are
    lost, and it may have held the queue's lock); None if none was."""
    for helper in helpers:
        if helper.stopped() and helper.exit_code != 0:
            return (
                f"a PSA process (pid {helper.pid}) was stopped from outside (exit code "
                f"{helper.exit_code}) in the middle of its samples. Run again; if it recurs, "
                "look for what kills processes on this machine (the kernel's out-of-memory "
                "killer logs in dmesg) or run fewer samples."
            )
    return None


def _raise_if_lost(lost: Callable[[], str | None]) -> None:
    """HelperLostError with ``lost()``'s reason, if a helper was killed."""
    if (why := lost()) is not None:
        raise HelperLostError(why)


def _wait_watching(helper: Forked, lost: Callable[[], str | None]) -> None:
    """Wait until ``helper`` has its result, raising HelperLostError if one was killed."""
    while not helper.wait(LOCK_WAIT_S):
        _raise_if_lost(lost)


# Outcome arrays (n_samples, n_strategies) of a PSA, as ModelOutcomes names them.
_OUTCOMES = ("cost", "qaly", "ly", "cost_undiscounted", "qaly_undiscounted", "ly_undiscounted")


@dataclass
class _PsaArrays:
    """A PSA's result arrays, each chunk written in place (no chunk lists joined at the end:
    the peak memory of a large PSA is the results themselves)."""

    outcomes: dict[str, np.ndarray]  # _OUTCOMES, each (n_samples, n_strategies)
    parameters: dict[str, np.ndarray]  # each sampled parameter's draws, (n_samples,)
    by_entry: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # cost, qaly, ly

    @classmethod
    def like(cls, draws, outcomes: ModelOutcomes, n_samples: int, make) -> _PsaArrays:
        """Arrays for ``n_samples`` with the names and types of one chunk's ``draws`` and
        ``outcomes``, made by ``make(shape, dtype)`` (np.empty, or shared memory)."""
        shape = (n_samples, outcomes.cost.shape[1])
        return cls(
            {name: make(shape, np.float64) for name in _OUTCOMES},
            {name: make((n_samples,), value.dtype) for name, value in draws.items()},
            {
                state: tuple(make(shape, np.float64) for _ in range(3))
                for state in (outcomes.by_entry or {})
            },
        )

    def store(self, start: int, draws, outcomes: ModelOutcomes) -> None:
        """One chunk's draws and outcomes, from sample ``start``."""
        stop = start + len(outcomes.cost)
        for name in _OUTCOMES:
            self.outcomes[name][start:stop] = getattr(outcomes, name)
        for name, value in draws.items():
            self.parameters[name][start:stop] = value
        for state, part in (outcomes.by_entry or {}).items():
            cost, qaly, ly = self.by_entry[state]
            cost[start:stop], qaly[start:stop], ly[start:stop] = part.cost, part.qaly, part.ly

    def result(self, seed: int, strategies: tuple[str, ...]) -> PsaResult:
        out = self.outcomes
        undiscounted = {key: out[f"{key}_undiscounted"] for key in ("cost", "qaly", "ly")}
        return PsaResult(
            seed,
            strategies,
            self.parameters,
            out["cost"],
            out["qaly"],
            out["ly"],
            self.by_entry or None,
            undiscounted,
        )


class _ChunkQueue:
    """Which chunk to take next, and how many samples are done (shared by forked processes).
    Its lock is waited for in steps, between which ``lost()`` may raise HelperLostError: a
    helper killed while holding it would otherwise block every other process for ever."""

    def __init__(self, n_chunks: int, lost: Callable[[], str | None] = lambda: None) -> None:
        context = multiprocessing.get_context("fork")
        self._lock = context.Lock()
        self._next = context.RawValue("q", 0)
        self._done = context.RawValue("q", 0)
        self._stopped = context.RawValue("b", 0)
        self._n_chunks = n_chunks
        self._lost = lost

    def take(self) -> int | None:
        acquire_watching(self._lock, self._lost)
        try:
            if self._stopped.value or self._next.value >= self._n_chunks:
                return None
            self._next.value += 1
            return self._next.value - 1
        finally:
            self._lock.release()

    def finished(self, samples: int) -> int:
        acquire_watching(self._lock, self._lost)
        try:
            self._done.value += samples
            return self._done.value
        finally:
            self._lock.release()

    def stop(self) -> None:
        self._stopped.value = 1


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
    summary = cea.psa_summary(
        keys,
        psa.cost,
        effect,
        reference=keys.index(inputs.reference_strategy),
        effect_name=settings.effect_measure,
    )
    tables = {
        "psa_summary": with_frontier_of_means(summary, psa.cost, effect),
        "ceac": cea.ceac_table(keys, psa.cost, effect, grid),
        "evpi": cea.evpi_table(psa.cost, effect, grid, population_multiplier=population(inputs)),
    }
    if psa.n_samples <= PSA_SAMPLES_CSV_LIMIT:
        tables["psa_samples"] = psa_samples_table(psa)
    return tables


def with_frontier_of_means(
    summary: pd.DataFrame, cost: np.ndarray, effect: np.ndarray
) -> pd.DataFrame:
    """psa_summary with the fully incremental analysis of the PSA means (the probabilistic
    ICER table, which NICE's reference case reports): ``status_of_means`` (nd, ed, d),
    ``comparator_of_means`` and ``frontier_icer_of_means`` [currency per unit effect] against
    the previous strategy on the frontier of the means (blank off it and for the first)."""
    keys = list(summary.strategy)
    frontier = compute_icer_table(keys, cost.mean(axis=0), effect.mean(axis=0))
    frontier = frontier.set_index("strategy").loc[keys]
    out = summary.copy()
    out["status_of_means"] = frontier.status.to_numpy()
    out["comparator_of_means"] = frontier.comparator.to_numpy()
    out["frontier_icer_of_means"] = frontier.icer.to_numpy()
    return out


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """The PSA tables, when the run has a PSA."""
    return {} if ctx.psa is None else psa_tables(ctx.inputs, ctx.psa)
