"""Parameter values for model runs: base case, PSA draws, DSA ranges.

Values are arrays shaped (n_samples,). Parameters not overridden are computed from their
expressions in dependency order, so derived parameters follow sampled ones.

PSA draws: the sample axis is cut into fixed blocks of SAMPLE_BLOCK samples, each drawn from
its own stream (:func:`costmodel.rng.psa_block_stream`). Draws therefore depend only on the
seed and the sample index, never on how a run is chunked. Continuous parameters are drawn by
inverse CDF from uniforms; correlated ones through a Gaussian copula; Dirichlet sets from
gamma draws of the same stream.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import special

from costmodel.distributions import sample_dirichlet
from costmodel.errors import InputError, Problem
from costmodel.formula import ExpressionError
from costmodel.inputs import ModelInputs, Parameter
from costmodel.rng import psa_block_stream

SAMPLE_BLOCK = 2048  # samples per random stream


def evaluate_parameters(
    inputs: ModelInputs,
    overrides: Mapping[str, np.ndarray | float] | None = None,
    n_samples: int = 1,
) -> dict[str, np.ndarray]:
    """Values of every time-independent parameter, shape (n_samples,) each.

    ``overrides`` replace a parameter's expression (e.g. PSA draws, DSA low/high values);
    each is a scalar or an array of n_samples values, where NaN keeps the expression's value
    for that sample (so a one-way run can vary one input per sample).
    """
    overrides = overrides or {}
    unknown = set(overrides) - {p.name for p in inputs.parameters}
    if unknown:
        raise InputError(f"{inputs.file}: unknown parameter(s) {', '.join(sorted(unknown))}")
    values: dict[str, np.ndarray] = {}
    for p in inputs.parameters:
        if p.name in inputs.dynamic_parameters:
            continue  # evaluated by the model for every cycle
        override = None
        if p.name in overrides:
            override = np.broadcast_to(np.asarray(overrides[p.name], dtype=float), (n_samples,))
            if not np.isnan(override).any():
                values[p.name] = override.copy()
                continue
        try:
            value = p.expression.evaluate(values)
        except ExpressionError as exc:
            sheet, _, cell = p.where.partition("!")
            where = f" (with the values of one of {n_samples} samples)" if n_samples > 1 else ""
            raise InputError(
                Problem.at(inputs.file, sheet, cell, f"{p.name}: {exc}{where}")
            ) from None
        value = np.broadcast_to(np.asarray(value, dtype=float), (n_samples,)).copy()
        if override is not None:  # NaN entries keep the expression's value
            value = np.where(np.isnan(override), value, override)
        values[p.name] = value
    return values


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
    rng = psa_block_stream(seed, block)
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
        # standard normal quantile and distribution function (what scipy.stats.norm calls)
        z = special.ndtri(u[:, index]) @ np.linalg.cholesky(matrix).T
        u[:, index] = np.clip(special.ndtr(z), 1e-15, 1 - 1e-15)
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
