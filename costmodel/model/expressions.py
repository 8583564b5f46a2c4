"""One chunk of samples, and the workbook's expressions evaluated on it.

Expressions are evaluated vectorized: each value is a 2-D array (n_samples or 1, n_cycles or
1) so that a value constant over samples or time stays one column or row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from costmodel import engine
from costmodel.errors import ModelCheckError
from costmodel.formula import Expression, ExpressionError, FunctionSpec
from costmodel.inputs import ModelInputs, State
from costmodel.lifetable import bind_life_table_functions
from costmodel.model.effect import effect_after, effect_weight
from costmodel.phases import ExpandedPhase

Namespace = tuple[dict, dict]  # (names -> values, function specs)


def as_2d(value: object) -> np.ndarray:
    """A scalar, (n_samples,) or 2-D value as a 2-D float array."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    return array


@dataclass
class Chunk:
    """One chunk of samples run through every phase and strategy.

    ``n_samples`` samples (``sample_offset`` ... of ``total_samples``) × ``n_strategies``;
    ``entry`` starts the whole cohort in one first-phase state (None: initial proportions).
    """

    inputs: ModelInputs
    phases: tuple[ExpandedPhase, ...]
    params: dict[str, np.ndarray]  # name -> (n_samples, 1)
    n_samples: int
    sample_offset: int
    total_samples: int
    entry: str | None = None
    categories: tuple[str, ...] = field(init=False)
    _phase_cache: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.params = {k: np.asarray(v, dtype=float).reshape(-1, 1) for k, v in self.params.items()}
        self.categories = self.inputs.cost_categories or ("other",)

    @property
    def n_strategies(self) -> int:
        return len(self.inputs.strategies)

    def where(self, sample: int) -> str:
        """' (PSA sample k)' for messages about sample ``sample`` of this chunk."""
        return f" (PSA sample {self.sample_offset + sample + 1})" if self.total_samples > 1 else ""

    def evaluate(
        self,
        expr: Expression,
        namespace: dict,
        functions: dict[str, FunctionSpec],
        where: str,
        what: str,
    ) -> np.ndarray:
        """``expr`` as a 2-D array; an evaluation error names the cell ``where``."""
        try:
            return as_2d(expr.evaluate(namespace, functions))
        except ExpressionError as exc:
            raise ModelCheckError(f"{self.inputs.file}: {where}: {what}: {exc}") from None

    def namespace(self, phase: ExpandedPhase, strategy_index: int) -> Namespace:
        """Parameters, time variables and strategy variables for one strategy and phase."""
        if self._phase_cache is None or self._phase_cache[0] is not phase:
            self._phase_cache = (phase, *self._phase_namespace(phase))
        _, base, functions = self._phase_cache
        namespace = dict(base)
        strategy = self.inputs.strategies[strategy_index]
        for name in self.inputs.strategy_variables:
            namespace[name] = self.evaluate(
                strategy.variables[name],
                namespace,
                functions,
                strategy.where[name],
                f"strategy variable '{name}' of '{strategy.key}' in phase '{phase.phase.key}'",
            )
        return namespace, functions

    def _phase_namespace(self, phase: ExpandedPhase) -> Namespace:
        """Parameters, time variables, entry indicators and time-dependent parameters."""
        p = phase.phase
        settings = self.inputs.settings
        cycles = np.arange(1, p.n_cycles + 1, dtype=float).reshape(1, -1)
        time_years = phase.start_years + (cycles - 1.0) * p.cycle_years
        age = settings.start_age + time_years
        namespace: dict[str, object] = dict(self.params)
        namespace.update(
            cycle=cycles,
            time_years=time_years,
            time_days=time_years * engine.DAYS_PER_YEAR,
            age=age,
            cycle_years=p.cycle_years,
            cycle_days=p.cycle_years * engine.DAYS_PER_YEAR,
            time_in_state=1.0,
        )
        functions = bind_life_table_functions(
            self.inputs.life_table,
            start_age=settings.start_age,
            prop_female=settings.prop_female,
            age_now=age,
            cycle_years=p.cycle_years,
        )
        time_days = time_years * engine.DAYS_PER_YEAR
        namespace["effect_weight"] = effect_weight(time_days, settings)
        namespace["effect_after"] = effect_after(time_days, settings)
        namespace["start_age"] = settings.start_age
        namespace["prop_female"] = settings.prop_female
        for s in self.inputs.states_in(self.inputs.phases[0].key):
            namespace[f"entry_{s.key}"] = 1.0 if s.key == self.entry else 0.0
        for name in self.inputs.dynamic_parameters:
            parameter = self.inputs.parameter(name)
            namespace[name] = self.evaluate(
                parameter.expression,
                namespace,
                functions,
                parameter.where,
                f"parameter '{name}' in phase '{p.key}'",
            )
        return namespace, functions

    def by_position(
        self, expr: Expression | None, state: State, ns: Namespace, where: str, what: str
    ) -> list[np.ndarray]:
        """Values for each tunnel position of ``state`` (one 2-D array each)."""
        namespace, functions = ns
        if expr is None:
            return [np.zeros((1, 1))] * state.tunnel_length
        if "time_in_state" not in expr.names:
            value = self.evaluate(expr, namespace, functions, where, what)
            return [value] * state.tunnel_length
        values = []
        for k in range(1, state.tunnel_length + 1):
            namespace["time_in_state"] = float(k)
            values.append(self.evaluate(expr, namespace, functions, where, what))
        namespace["time_in_state"] = 1.0
        return values

    def stack(
        self, values: list[list[np.ndarray]], trailing: tuple[int, ...], starts: np.ndarray
    ) -> np.ndarray:
        """values[strategy][item] 2-D arrays → (S*N, U, *trailing), one slice per segment."""
        n_samples, n_strategies = self.n_samples, self.n_strategies
        items = len(values[0]) if values else 0
        out = np.empty((items, n_samples, n_strategies, starts.size))  # item-major fills
        for n, row in enumerate(values):
            for i, v in enumerate(row):
                out[i, :, n] = v[:, starts] if v.shape[1] > 1 else v
        out = np.moveaxis(out, 0, -1)  # (S, N, U, items), one copy below
        return out.reshape((n_samples * n_strategies, starts.size, *trailing))
