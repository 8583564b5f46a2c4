"""Parameter values for model runs: base case (one sample) or many samples with overrides.

Values are arrays shaped (n_samples,). Parameters not overridden are computed from their
expressions in dependency order, so derived parameters follow sampled ones.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from costmodel.errors import InputError, Problem
from costmodel.formula import ExpressionError
from costmodel.inputs import ModelInputs


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
