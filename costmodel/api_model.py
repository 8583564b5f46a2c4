"""A validated workbook as an object for users' own loops and notebooks: evaluate parameter
sets and get outcomes, nothing written.

>>> from costmodel.api import Model                               # doctest: +SKIP
>>> model = Model("inputs/examples/chancellor_hiv.xlsx")          # doctest: +SKIP
>>> model.evaluate({"c_lamivudine": 1500})                        # doctest: +SKIP
>>> model.evaluate({"rr_combination": [0.4, 0.5, 0.6]})           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel.errors import OptionError
from costmodel.inputs import ModelInputs
from costmodel.model import run_model
from costmodel.parameters import evaluate_parameters, sample_parameters
from costmodel.validate import load_inputs

MAX_SETS = 10_000_000  # the PSA's bound (costmodel.api.MAX_PSA_SAMPLES)


class Model:
    """The model of one workbook (its comparator strategies), validated once.

    :meth:`evaluate` runs any parameter values through it; :meth:`sample` draws the
    workbook's PSA distributions. Costs are in the workbook's currency, QALYs and LYs per
    person over the time horizon, discounted (``*_undiscounted`` columns: not)."""

    def __init__(self, path: str | Path) -> None:
        self.inputs: ModelInputs = load_inputs(Path(path)).decision_inputs()

    @property
    def strategies(self) -> tuple[str, ...]:
        return self.inputs.strategy_keys

    @property
    def parameters(self) -> pd.DataFrame:
        """One row per parameter: name, base value (time-dependent ones: NaN), unit,
        distribution, description."""
        base = evaluate_parameters(self.inputs)
        rows = [
            {
                "name": p.name,
                "value": float(base[p.name][0]) if p.name in base else np.nan,
                "unit": p.unit,
                "distribution": p.distribution,
                "description": p.description,
            }
            for p in self.inputs.parameters
        ]
        return pd.DataFrame(rows)

    def sample(self, n: int, seed: int = 1) -> pd.DataFrame:
        """``n`` draws of the workbook's PSA distributions (one column per sampled
        parameter), the same draws as a PSA with this seed."""
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_SETS:
            raise OptionError(f"n must be a whole number from 1 to {MAX_SETS:,}; got {n!r}.")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise OptionError(f"seed must be a whole number >= 0; got {seed!r}.")
        return pd.DataFrame(sample_parameters(self.inputs, seed, 0, n))

    def evaluate(
        self, values: Mapping[str, float | Sequence[float] | np.ndarray] | pd.DataFrame = None
    ) -> pd.DataFrame:
        """Outcomes for parameter sets: ``values`` maps names to a number or to n numbers
        (n sets; other parameters at their base case, derived ones recomputed); a DataFrame
        (e.g. from :meth:`sample`) gives one set per row. Returns one row per set and
        strategy: sample, strategy, cost, qaly, ly and their undiscounted sums, and
        cost_<category>."""
        arrays, n = self._arrays(values)
        parameters = evaluate_parameters(self.inputs, arrays, n)
        outcomes = run_model(self.inputs, parameters)
        frames = []
        for s, key in enumerate(outcomes.strategies):
            frame = {
                "sample": np.arange(n),
                "strategy": key,
                "cost": outcomes.cost[:, s],
                "qaly": outcomes.qaly[:, s],
                "ly": outcomes.ly[:, s],
                "qaly_undiscounted": outcomes.qaly_undiscounted[:, s],
                "ly_undiscounted": outcomes.ly_undiscounted[:, s],
                "cost_undiscounted": outcomes.cost_by_category_undiscounted[:, s].sum(axis=1),
            }
            for z, category in enumerate(outcomes.categories):
                frame[f"cost_{category}"] = outcomes.cost_by_category[:, s, z]
            frames.append(pd.DataFrame(frame))
        return pd.concat(frames).sort_values(["sample"], kind="stable").reset_index(drop=True)

    def _arrays(self, values) -> tuple[dict[str, np.ndarray], int]:
        """Values as (n,) float arrays and n; OptionError for unknown names, time-dependent
        parameters or sets of different lengths."""
        if values is None:
            return {}, 1
        if isinstance(values, pd.DataFrame):
            values = {c: values[c].to_numpy() for c in values.columns}
        if not isinstance(values, Mapping):
            raise OptionError(
                "values must map parameter names to numbers (a dict or a DataFrame); got "
                f"{type(values).__name__}."
            )
        parameters = {p.name: p for p in self.inputs.parameters}
        arrays: dict[str, np.ndarray] = {}
        for name, value in values.items():
            if name not in parameters:
                raise OptionError(f"'{name}' is not a parameter of {self.inputs.file}.")
            if name in self.inputs.dynamic_parameters:
                raise OptionError(
                    f"'{name}' depends on time; set the parameters it is computed from."
                )
            raw = np.atleast_1d(np.asarray(value))
            if raw.dtype.kind not in "iuf":  # booleans, text, objects: not numbers
                raise OptionError(f"'{name}' needs numbers; got {value!r}.")
            arrays[name] = raw.astype(float)
            if arrays[name].ndim != 1 or not np.isfinite(arrays[name]).all():
                raise OptionError(f"'{name}' needs finite numbers in one dimension.")
        _check_dirichlet_sets(parameters, arrays)
        sizes = {a.size for a in arrays.values()} - {1}
        if len(sizes) > 1:
            raise OptionError(f"parameter sets of different lengths: {sorted(sizes)}.")
        n = sizes.pop() if sizes else 1
        if n == 0:
            raise OptionError("no parameter sets: give at least one value per parameter.")
        if n > MAX_SETS:
            raise OptionError(f"{n:,} parameter sets: at most {MAX_SETS:,} per call.")
        return {k: np.broadcast_to(a, (n,)) for k, a in arrays.items()}, n


def _check_dirichlet_sets(parameters: dict, arrays: dict[str, np.ndarray]) -> None:
    """A Dirichlet set is given whole (as :meth:`Model.sample` draws it: proportions) or not
    at all: one member alone would mix a proportion with the other members' counts."""
    sets: dict[str, list[str]] = {}
    for p in parameters.values():
        if p.distribution == "dirichlet":
            sets.setdefault(p.dirichlet, []).append(p.name)
    for name, members in sets.items():
        given = [m for m in members if m in arrays]
        if given and len(given) < len(members):
            missing = ", ".join(m for m in members if m not in arrays)
            raise OptionError(
                f"Dirichlet set '{name}' is given in part ({', '.join(given)}): give all its "
                f"members (missing {missing}) as proportions, e.g. from Model.sample."
            )
