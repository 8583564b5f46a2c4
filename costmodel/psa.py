"""Probabilistic sensitivity analysis: correlated parameter draws and the batched model run.

Randomness: the sample axis is cut into fixed blocks of SAMPLE_BLOCK samples, each drawn from
its own stream ``SeedSequence(seed, spawn_key=(block,))``. Draws therefore depend only on the
seed and the sample index, never on how a run is chunked. Continuous parameters are drawn by
inverse CDF from uniforms; correlated ones through a Gaussian copula; Dirichlet sets from
gamma draws of the same stream.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from costmodel.distributions import sample_dirichlet
from costmodel.inputs import ModelInputs
from costmodel.model import run_model
from costmodel.parameters import evaluate_parameters

SAMPLE_BLOCK = 2048
RUN_CHUNK = 16_384  # samples per model call (bounds memory; results do not depend on it)


@dataclass(frozen=True)
class PsaResult:
    """Per-sample outcomes (n_samples, n_strategies) and the sampled parameters (n_samples,)."""

    seed: int
    strategies: tuple[str, ...]
    parameters: dict[str, np.ndarray]
    cost: np.ndarray
    qaly: np.ndarray
    ly: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.cost.shape[0])

    def effect(self, measure: str) -> np.ndarray:
        return self.qaly if measure == "qaly" else self.ly


def sample_parameters(
    inputs: ModelInputs, seed: int, start: int, stop: int
) -> dict[str, np.ndarray]:
    """Draws of every stochastic parameter for samples ``start`` to ``stop`` (exclusive)."""
    first, last = start // SAMPLE_BLOCK, (stop - 1) // SAMPLE_BLOCK
    blocks = [_sample_block(inputs, seed, b) for b in range(first, last + 1)]
    offset = first * SAMPLE_BLOCK
    return {
        name: np.concatenate([b[name] for b in blocks])[start - offset : stop - offset]
        for name in blocks[0]
    }


def _sample_block(inputs: ModelInputs, seed: int, block: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
    continuous = [p for p in inputs.parameters if p.dist is not None]
    u = rng.random((SAMPLE_BLOCK, len(continuous)))
    np.clip(u, 1e-15, 1 - 1e-15, out=u)
    if inputs.correlations:
        names = [p.name for p in continuous]
        members = sorted({n for c in inputs.correlations for n in (c.parameter_a, c.parameter_b)})
        index = [names.index(m) for m in members]
        matrix = np.eye(len(members))
        for c in inputs.correlations:
            i, j = members.index(c.parameter_a), members.index(c.parameter_b)
            matrix[i, j] = matrix[j, i] = c.correlation
        z = stats.norm.ppf(u[:, index]) @ np.linalg.cholesky(matrix).T
        u[:, index] = np.clip(stats.norm.cdf(z), 1e-15, 1 - 1e-15)
    values = {p.name: p.dist.ppf(u[:, i]) for i, p in enumerate(continuous)}  # type: ignore[union-attr]
    sets: dict[str, list] = {}
    for p in inputs.parameters:
        if p.distribution == "dirichlet":
            sets.setdefault(p.dirichlet, []).append(p)
    for name in sorted(sets):
        members = sets[name]
        alphas = np.array([p.dist_params[0] for p in members], dtype=float)
        draws = sample_dirichlet(alphas, rng, SAMPLE_BLOCK)
        for i, p in enumerate(members):
            values[p.name] = draws[:, i]
    return values


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
    sampled: dict[str, list[np.ndarray]] = {}
    for start in range(0, n_samples, chunk_size):
        stop = min(start + chunk_size, n_samples)
        draws = sample_parameters(inputs, seed, start, stop)
        values = evaluate_parameters(inputs, draws, stop - start)
        outcomes = run_model(inputs, values)
        cost[start:stop], qaly[start:stop], ly[start:stop] = (
            outcomes.cost, outcomes.qaly, outcomes.ly
        )  # fmt: skip
        for name, value in draws.items():
            sampled.setdefault(name, []).append(value)
        if progress is not None:
            progress(stop, n_samples)
    parameters = {k: np.concatenate(v) for k, v in sampled.items()}
    return PsaResult(seed, inputs.strategy_keys, parameters, cost, qaly, ly)


def console_progress(label: str) -> Callable[[int, int], None]:
    """A progress callback printing 'label: 40% (4000/10000)' to stderr."""

    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else "\r"
        print(f"{label}: {100 * done // total:3d}% ({done}/{total})", end=end, file=sys.stderr)

    return report
