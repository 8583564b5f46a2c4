"""One chunk of samples, and the workbook's expressions evaluated on it.

Expressions are evaluated vectorized: each value is a 2-D array (n_samples or 1, n_cycles or
1) so that a value constant over samples or time stays one column or row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from costmodel import engine
from costmodel.errors import ModelCheckError
from costmodel.formula import BUILTIN_FUNCTIONS, Expression, ExpressionError, FunctionSpec
from costmodel.inputs import ModelInputs, State
from costmodel.lifetable import IMPLICIT_AGE_FUNCTIONS, bind_life_table_functions
from costmodel.model.effect import effect_after, effect_weight
from costmodel.model.segments import TimeDependence
from costmodel.phases import ExpandedPhase


class Namespace(NamedTuple):
    """What one strategy's expressions in one phase are evaluated with."""

    values: dict  # names -> values, (n_samples or 1, n_segments or 1)
    functions: dict  # function specs
    phase: str = ""  # the phase's key
    segments: bytes = b""  # the starts of its time segments (as found for the entry stratum)
    strategy: str = ""  # the strategy's key ("" for the phase's common part)


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
    ``shared_values``: evaluated expressions shared by the chunks of the same samples (the
    entry strata, the strategies): each expression is evaluated once for every strategy
    and stratum whose inputs to it are the same (see :meth:`by_position`).
    """

    inputs: ModelInputs
    phases: tuple[ExpandedPhase, ...]
    params: dict[str, np.ndarray]  # name -> (n_samples, 1)
    n_samples: int
    sample_offset: int
    total_samples: int
    entry: str | None = None
    shared_values: dict | None = field(default=None, repr=False)
    categories: tuple[str, ...] = field(init=False)
    _phase_cache: tuple | None = field(default=None, init=False, repr=False)  # per phase
    _segments: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.params = {k: np.asarray(v, dtype=float).reshape(-1, 1) for k, v in self.params.items()}
        self.categories = self.inputs.cost_categories or ("other",)

    @property
    def n_strategies(self) -> int:
        return len(self.inputs.strategies)

    def first_strategy_only(self) -> Chunk:
        """The same samples with only the first strategy (for a phase no strategy changes);
        time segments are shared with this chunk."""
        return self.with_strategies([0])

    def with_strategies(self, indices: list[int] | np.ndarray) -> Chunk:
        """The same samples with only the strategies at ``indices`` (increasing), for the
        cohorts of a phase that differ; time segments are shared with this chunk."""
        inputs = self.inputs.with_strategies([self.inputs.strategies[i].key for i in indices])
        chunk = Chunk(
            inputs,
            self.phases,
            self.params,
            self.n_samples,
            self.sample_offset,
            self.total_samples,
            self.entry,
            self.shared_values,
        )
        chunk._segments = self._segments
        return chunk

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
        """Parameters, time variables and strategy variables for one strategy and phase,
        on the phase's time segments (values are (n_samples or 1, n_segments or 1))."""
        base, functions, _, segments, _ = self._phase_context(phase)
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
        return Namespace(namespace, functions, phase.phase.key, segments, strategy.key)

    def segments(self, phase: ExpandedPhase) -> tuple[np.ndarray, np.ndarray]:
        """(starts, segment) of the phase: the first cycle (0-based) of each time segment and
        the segment of each cycle (see :mod:`costmodel.model.segments`); they depend on the
        workbook and the entry state, never on the parameter values."""
        found = self._segments.get(phase.phase.key)
        if found is None:
            key = ("segments", phase.phase.key, self.entry)
            found = self.inputs.run_cache.get(key)
            if found is None:
                found = self._find_segments(phase, *self._time_inputs(phase))
                for array in found:
                    array.setflags(write=False)  # shared by every later run of these inputs
                self.inputs.run_cache[key] = found
            self._segments[phase.phase.key] = found
        return found

    def _phase_context(self, phase: ExpandedPhase) -> Namespace:
        if self._phase_cache is None or self._phase_cache[0] is not phase:
            self._phase_cache = (phase, self._phase_namespace(phase))
        return self._phase_cache[1]

    def _time_inputs(self, phase: ExpandedPhase) -> tuple[dict[str, np.ndarray], dict]:
        """Time variables over the phase's cycles, (1, n_cycles) each, and the names that
        are constant over samples and cycles."""
        p = phase.phase
        settings = self.inputs.settings
        cycles = np.arange(1, p.n_cycles + 1, dtype=float).reshape(1, -1)
        time_years = phase.start_years + (cycles - 1.0) * p.cycle_years
        time_days = time_years * engine.DAYS_PER_YEAR
        over_cycles = {
            "cycle": cycles,
            "time_years": time_years,
            "time_days": time_days,
            "age": settings.start_age + time_years,
            "effect_weight": effect_weight(time_days, settings),
            "effect_after": effect_after(time_days, settings),
        }
        constants: dict[str, float] = {
            "cycle_years": p.cycle_years,
            "cycle_days": p.cycle_years * engine.DAYS_PER_YEAR,
            "time_in_state": 1.0,
            "start_age": settings.start_age,
            "prop_female": settings.prop_female,
        }
        for s in self.inputs.states_in(self.inputs.phases[0].key):
            constants[f"entry_{s.key}"] = 1.0 if s.key == self.entry else 0.0
        return over_cycles, constants

    def _phase_namespace(self, phase: ExpandedPhase) -> Namespace:
        """Namespace on the phase's time segments: parameters, time variables at the first
        cycle of each segment, entry indicators and time-dependent parameters."""
        p = phase.phase
        settings = self.inputs.settings
        over_cycles, constants = self._time_inputs(phase)
        starts, _ = self.segments(phase)
        functions = bind_life_table_functions(
            self.inputs.life_table,
            start_age=settings.start_age,
            prop_female=settings.prop_female,
            age_now=over_cycles["age"][:, starts],
            cycle_years=p.cycle_years,
        )
        namespace: dict[str, object] = dict(self.params)
        namespace.update({name: value[:, starts] for name, value in over_cycles.items()})
        namespace.update(constants)
        for name in self.inputs.dynamic_parameters:
            parameter = self.inputs.parameter(name)
            namespace[name] = self.evaluate(
                parameter.expression,
                namespace,
                functions,
                parameter.where,
                f"parameter '{name}' in phase '{p.key}'",
            )
        return Namespace(namespace, functions, p.key, starts.tobytes())

    def _find_segments(
        self, phase: ExpandedPhase, over_cycles: dict[str, np.ndarray], constants: dict
    ) -> tuple[np.ndarray, np.ndarray]:
        inputs = self.inputs
        n = phase.phase.n_cycles
        age = over_cycles["age"]
        functions = bind_life_table_functions(
            inputs.life_table,
            start_age=inputs.settings.start_age,
            prop_female=inputs.settings.prop_female,
            age_now=age,
            cycle_years=phase.phase.cycle_years,
        )
        derived: dict[str, list[Expression]] = {
            name: [inputs.parameter(name).expression] for name in inputs.dynamic_parameters
        }
        for name in inputs.strategy_variables:
            derived[name] = [s.variables[name] for s in inputs.strategies]
        implicit = {name: np.floor(age) for name in IMPLICIT_AGE_FUNCTIONS if name in functions}
        dependence = TimeDependence(
            n, over_cycles, constants, derived, {**BUILTIN_FUNCTIONS, **functions}, implicit
        )
        dependence.add(phase_expressions(inputs, phase))
        return dependence.segments()

    def by_position(
        self, expr: Expression | None, state: State, ns: Namespace, where: str, what: str
    ) -> list[np.ndarray]:
        """Values for each tunnel position of ``state`` (one 2-D array each, read-only when
        shared with other strategies or chunks). An expression that uses ``time_in_state``
        is evaluated once for all positions (time_in_state an array along a third axis)."""
        if expr is None:
            return [np.zeros((1, 1))] * state.tunnel_length
        if "time_in_state" not in expr.names:
            return [self._evaluate_shared(expr, ns, where, what, 0)] * state.tunnel_length
        value = self._evaluate_shared(expr, ns, where, what, state.tunnel_length)
        if value.ndim < 3:
            return [value] * state.tunnel_length
        return list(np.broadcast_to(value, (state.tunnel_length, *value.shape[1:])))

    def _evaluate_shared(
        self, expr: Expression, ns: Namespace, where: str, what: str, positions: int
    ) -> np.ndarray:
        """``expr`` as a 2-D array or, over ``positions`` tunnel positions (time_in_state =
        1, 2, ...), a 3-D one (positions first); from ``shared_values`` when a chunk of the
        same samples evaluated it with the same inputs: the same phase segments, and the
        same strategy and entry stratum where its names depend on them."""
        key = None
        if self.shared_values is not None:
            by_strategy, by_entry = self._dependence()
            key = (
                ns.phase,
                ns.segments,
                expr,
                positions,
                ns.strategy if expr.names & by_strategy else None,
                self.entry if expr.names & by_entry else None,
            )
            value = self.shared_values.get(key)
            if value is not None:
                return value
        if positions:
            ns.values["time_in_state"] = np.arange(1.0, positions + 1).reshape(-1, 1, 1)
        try:
            value = self.evaluate(expr, ns.values, ns.functions, where, what)
        finally:
            ns.values["time_in_state"] = 1.0
        if key is not None:
            value.setflags(write=False)
            self.shared_values[key] = value
        return value

    def kept_bytes_per_sample(self, phase: ExpandedPhase) -> int:
        """Upper bound of the bytes per sample that ``shared_values`` keeps for ``phase``
        (for the memory budget of a chunk): each distinct phase expression on every time
        segment, for each tunnel position when it uses time_in_state, for each strategy
        when its names depend on the strategy, one entry stratum at a time."""
        by_strategy, _ = self._dependence()
        segments = self.segments(phase)[0].size
        kept = set()
        for state, expr in _phase_expressions_by_state(self.inputs, phase):
            if expr is None:
                continue
            positions = state.tunnel_length if "time_in_state" in expr.names else 1
            copies = self.n_strategies if expr.names & by_strategy else 1
            kept.add((expr, positions, copies))
        return 8 * segments * sum(positions * copies for _, positions, copies in kept)

    def _dependence(self) -> tuple[frozenset[str], frozenset[str]]:
        """The names whose values may differ between strategies (strategy variables), and
        between entry strata (entry indicators and what is computed from them)."""
        found = self.inputs.run_cache.get("name dependence")
        if found is None:
            inputs = self.inputs
            by_strategy = set(inputs.strategy_variables)
            by_entry = {f"entry_{s.key}" for s in inputs.states_in(inputs.phases[0].key)}
            for name in inputs.dynamic_parameters:  # in order: each may use the earlier ones
                if inputs.parameter(name).expression.names & by_entry:
                    by_entry.add(name)
            for name in inputs.strategy_variables:  # likewise
                if any(s.variables[name].names & by_entry for s in inputs.strategies):
                    by_entry.add(name)
            found = (frozenset(by_strategy), frozenset(by_entry))
            inputs.run_cache["name dependence"] = found
        return found

    def stack(
        self, values: list[list[np.ndarray]], trailing: tuple[int, ...], starts: np.ndarray
    ) -> np.ndarray:
        """values[strategy][item] 2-D arrays (samples or 1, segments or 1) → (S*N, U,
        *trailing), U = starts.size."""
        n_samples, n_strategies = self.n_samples, self.n_strategies
        items = len(values[0]) if values else 0
        out = np.empty((items, n_samples, n_strategies, starts.size))  # item-major fills
        for n, row in enumerate(values):
            for i, v in enumerate(row):
                out[i, :, n] = v
        out = np.moveaxis(out, 0, -1)  # (S, N, U, items), one copy below
        return out.reshape((n_samples * n_strategies, starts.size, *trailing))


def phase_expressions(inputs: ModelInputs, phase: ExpandedPhase) -> list[Expression | None]:
    """Every expression evaluated for the phase: its states' and transitions' cells (all
    strategies' rows); parameters and strategy variables enter through their names."""
    return [expr for _, expr in _phase_expressions_by_state(inputs, phase)]


def _phase_expressions_by_state(
    inputs: ModelInputs, phase: ExpandedPhase
) -> list[tuple[State, Expression | None]]:
    """(state, expression) for every expression of :func:`phase_expressions`: the state
    whose cells hold it, or the state a transition leaves."""
    by_key = {s.key: s for s in phase.states}
    pairs: list[tuple[State, Expression | None]] = []
    for s in phase.states:
        pairs += [(s, e) for e in (s.utility, s.initial, *s.costs.values())]
        pairs += [(s, e) for e in s.start_costs.values()]
    for t in inputs.transitions:
        if t.from_state in by_key:
            state = by_key[t.from_state]
            pairs += [(state, e) for e in (t.probability, t.qaly, *t.costs.values())]
    return pairs


def forget_stratum(shared_values: dict) -> None:
    """Drop from a chunk's ``shared_values`` what only one entry stratum can use (the keys of
    :meth:`Chunk._evaluate_shared` that hold a stratum), once that stratum is done."""
    for key in [k for k in shared_values if k[-1] is not None]:
        del shared_values[key]
