"""Orchestrator: validated inputs + parameter values → outcomes per sample and strategy.

Builds, for each phase, the sparse transition entries and the rewards by evaluating the
workbook's expressions vectorized over samples (and cycles where they depend on time),
expands tunnel states, then calls the engine. Samples are processed in chunks to bound
memory; the base case is simply one sample on the same path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from costmodel import engine
from costmodel.errors import ModelCheckError, NumericalError, cell_sort_key
from costmodel.formula import Expression, ExpressionError, FunctionSpec
from costmodel.inputs import ModelInputs, Phase, State
from costmodel.lifetable import bind_life_table_functions
from costmodel.parameters import evaluate_parameters
from costmodel.validate import transitions_for

PROBABILITY_TOLERANCE = 1e-12
ROW_SUM_TOLERANCE = 1e-9
CHUNK_BYTES = 192 * 1024 * 1024


@dataclass(frozen=True)
class ExpandedPhase:
    """A phase with tunnel states expanded into one state per cycle in the tunnel."""

    phase: Phase
    states: tuple[State, ...]
    labels: tuple[str, ...]  # expanded labels, e.g. "imv[3]"
    state_of: np.ndarray  # (K,) index of the declared state within this phase
    position: np.ndarray  # (K,) time_in_state, 1-based
    start_years: float  # model time at the start of the phase

    @property
    def n_states(self) -> int:
        return int(self.state_of.size)

    def index(self, state: str, position: int = 1) -> int:
        return self._lookup[(state, position)]

    @property
    def _lookup(self) -> dict[tuple[str, int], int]:
        cached = self.__dict__.get("_lookup_cache")
        if cached is None:
            cached = {
                (self.states[s].key, int(q)): k
                for k, (s, q) in enumerate(zip(self.state_of, self.position, strict=True))
            }
            object.__setattr__(self, "_lookup_cache", cached)
        return cached

    def aggregation(self) -> np.ndarray:
        """(K, n_declared) 0/1 matrix summing tunnel positions back to declared states."""
        agg = np.zeros((self.n_states, len(self.states)))
        agg[np.arange(self.n_states), self.state_of] = 1.0
        return agg

    def time_points(self) -> np.ndarray:
        """Model time [years] at the n_cycles + 1 boundaries of the phase's cycles."""
        return self.start_years + self.phase.cycle_years * np.arange(self.phase.n_cycles + 1)


@dataclass(frozen=True)
class ModelOutcomes:
    """Per-patient outcomes, each (n_samples, n_strategies) unless stated.

    Costs in the workbook currency, discounted; QALYs and LYs discounted at the outcome rate;
    ``state_time`` undiscounted years in each declared state (n_samples, n_strategies,
    n_states); ``traces`` per phase (n_samples, n_strategies, n_cycles + 1, n_phase_states)
    when kept.
    """

    strategies: tuple[str, ...]
    categories: tuple[str, ...]
    state_keys: tuple[str, ...]
    cost: np.ndarray
    cost_by_category: np.ndarray  # (n_samples, n_strategies, n_categories)
    qaly: np.ndarray
    ly: np.ndarray
    ly_undiscounted: np.ndarray
    qaly_undiscounted: np.ndarray
    state_time: np.ndarray
    traces: tuple[np.ndarray, ...] | None = None
    by_entry: dict[str, ModelOutcomes] | None = None  # per entry state, when stratified
    entry_shares: np.ndarray | None = None  # (n_samples, n_strategies, n_entry_states)


def expand_phases(inputs: ModelInputs) -> tuple[ExpandedPhase, ...]:
    phases = []
    start = 0.0
    for phase in inputs.phases:
        states = inputs.states_in(phase.key)
        labels, state_of, position = [], [], []
        for i, s in enumerate(states):
            for k in range(1, s.tunnel_length + 1):
                labels.append(s.key if s.tunnel_length == 1 else f"{s.key}[{k}]")
                state_of.append(i)
                position.append(k)
        phases.append(
            ExpandedPhase(
                phase, states, tuple(labels), np.array(state_of), np.array(position), start
            )
        )
        start += phase.n_cycles * phase.cycle_years
    return tuple(phases)


def run_model(
    inputs: ModelInputs,
    parameters: dict[str, np.ndarray] | None = None,
    *,
    keep_trace: bool = False,
    chunk_size: int | None = None,
    entry_state: str | None = None,
) -> ModelOutcomes:
    """Run every strategy for every parameter sample.

    ``parameters`` maps each parameter name to (n_samples,) values (default: base case).
    ``entry_state`` starts the whole cohort in that first-phase state (as a calibration or a
    subgroup run would). When expressions use ``entry_<state>`` indicators, the cohort is run
    once per entry state and the results are weighted by the initial shares (the model is
    linear in the starting distribution, so this equals one run when indicators play no
    role); per-entry results are kept in ``by_entry``.
    """
    if parameters is None:
        parameters = evaluate_parameters(inputs)
    if entry_state is not None:
        if entry_state not in inputs.entry_states and entry_state not in {
            s.key for s in inputs.states_in(inputs.phases[0].key)
        }:
            raise ValueError(f"{entry_state!r} is not a first-phase state")
        return _run_chunks(inputs, parameters, keep_trace, chunk_size, entry_state)
    if not inputs.uses_entry_indicators():
        return _run_chunks(inputs, parameters, keep_trace, chunk_size, None)
    shares = entry_shares(inputs, parameters)  # (S, N, n_entries)
    by_entry = {
        e: _run_chunks(inputs, parameters, keep_trace, chunk_size, e) for e in inputs.entry_states
    }
    return _combine_entries(by_entry, shares)


def entry_shares(inputs: ModelInputs, parameters: dict[str, np.ndarray]) -> np.ndarray:
    """Initial share of each entry state, (n_samples, n_strategies, n_entry_states)."""
    n_samples = _n_samples(parameters)
    run = _Run(inputs, expand_phases(inputs), parameters, n_samples, 0, n_samples)
    phase = run.phases[0]
    x0 = run._initial(phase, [run._namespace(phase, n) for n in range(run.N)])
    columns = [phase.index(e) for e in inputs.entry_states]
    return x0.reshape(n_samples, run.N, -1)[:, :, columns]


def _n_samples(parameters: dict[str, np.ndarray]) -> int:
    return len(next(iter(parameters.values()))) if parameters else 1


def _run_chunks(
    inputs: ModelInputs,
    parameters: dict[str, np.ndarray],
    keep_trace: bool,
    chunk_size: int | None,
    entry: str | None,
) -> ModelOutcomes:
    n_samples = _n_samples(parameters)
    phases = expand_phases(inputs)
    if chunk_size is None:
        chunk_size = _default_chunk_size(inputs, phases)
    parts = []
    for start in range(0, n_samples, chunk_size):
        chunk = {k: np.asarray(v)[start : start + chunk_size] for k, v in parameters.items()}
        size = min(chunk_size, n_samples - start)
        parts.append(_Run(inputs, phases, chunk, size, start, n_samples, entry).run(keep_trace))
    return _concatenate(parts)


def _combine_entries(by_entry: dict[str, ModelOutcomes], shares: np.ndarray) -> ModelOutcomes:
    """Share-weighted sum of per-entry outcomes."""
    parts = list(by_entry.values())
    first = parts[0]

    def weighted(name: str) -> np.ndarray:
        total = 0.0
        for e, part in enumerate(parts):
            value = getattr(part, name)
            w = shares[:, :, e].reshape(shares.shape[:2] + (1,) * (value.ndim - 2))
            total = total + w * value
        return total

    traces = None
    if first.traces is not None:
        traces = tuple(
            sum(
                shares[:, :, e, None, None] * part.traces[i]  # type: ignore[index]
                for e, part in enumerate(parts)
            )
            for i in range(len(first.traces))
        )
    return ModelOutcomes(
        first.strategies,
        first.categories,
        first.state_keys,
        weighted("cost"),
        weighted("cost_by_category"),
        weighted("qaly"),
        weighted("ly"),
        weighted("ly_undiscounted"),
        weighted("qaly_undiscounted"),
        weighted("state_time"),
        traces,
        by_entry=by_entry,
        entry_shares=shares,
    )


def _default_chunk_size(inputs: ModelInputs, phases: tuple[ExpandedPhase, ...]) -> int:
    """Samples per chunk so that the largest per-phase arrays (trace, occupancies, one dense
    matrix per segment, rewards) stay within CHUNK_BYTES."""
    n_strategies = len(inputs.strategies)
    z = max(len(inputs.cost_categories), 1)
    per_sample = max(
        n_strategies
        * 8
        * (
            6 * (p.phase.n_cycles + 1) * p.n_states
            + 2 * p.n_states * p.n_states
            + 8 * p.n_states * (z + 2)
        )
        for p in phases
    )
    return max(1, min(100_000, CHUNK_BYTES // max(per_sample, 1)))


def _concatenate(parts: list[ModelOutcomes]) -> ModelOutcomes:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts], axis=0)

    traces = None
    if first.traces is not None:
        traces = tuple(
            np.concatenate([p.traces[i] for p in parts], axis=0)  # type: ignore[index]
            for i in range(len(first.traces))
        )
    return ModelOutcomes(
        first.strategies,
        first.categories,
        first.state_keys,
        cat("cost"),
        cat("cost_by_category"),
        cat("qaly"),
        cat("ly"),
        cat("ly_undiscounted"),
        cat("qaly_undiscounted"),
        cat("state_time"),
        traces,
    )


def _as_2d(value: object) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    return array


@dataclass
class _PhaseValues:
    """Raw evaluated expressions of one phase, per strategy, before stacking."""

    pairs: dict[tuple[int, int], int] = field(default_factory=dict)  # (from, to) -> entry
    meta: dict[tuple[int, int], tuple[str, bool]] = field(default_factory=dict)
    probabilities: list[dict[int, np.ndarray]] = field(default_factory=list)
    costs: list[list[np.ndarray]] = field(default_factory=list)
    utilities: list[list[np.ndarray]] = field(default_factory=list)
    transition_costs: list[list[np.ndarray]] | None = None
    transition_qalys: list[list[np.ndarray]] | None = None
    reward_entries: np.ndarray | None = None  # entries (indices into pairs) with rewards

    def arrays(self) -> list[np.ndarray]:
        groups = [list(p.values()) for p in self.probabilities] + self.costs + self.utilities
        groups += (self.transition_costs or []) + (self.transition_qalys or [])
        return [v for group in groups for v in group]


class _Run:
    """One chunk of samples through every phase and strategy."""

    def __init__(
        self,
        inputs: ModelInputs,
        phases: tuple[ExpandedPhase, ...],
        parameters: dict[str, np.ndarray],
        n_samples: int,
        sample_offset: int,
        total_samples: int,
        entry: str | None = None,
    ):
        self.inputs = inputs
        self.entry = entry
        self.phases = phases
        self.S = n_samples
        self.N = len(inputs.strategies)
        self.offset = sample_offset
        self.total = total_samples
        self.params = {k: np.asarray(v, dtype=float).reshape(-1, 1) for k, v in parameters.items()}
        self.categories = inputs.cost_categories or ("other",)
        self._phase_cache: tuple | None = None

    # ------------------------------------------------------------------ helpers

    def _where(self, sample: int) -> str:
        return f" (PSA sample {self.offset + sample + 1})" if self.total > 1 else ""

    def _evaluate(
        self,
        expr: Expression,
        namespace: dict,
        functions: dict[str, FunctionSpec],
        where: str,
        what: str,
    ) -> np.ndarray:
        try:
            value = _as_2d(expr.evaluate(namespace, functions))
        except ExpressionError as exc:
            raise ModelCheckError(f"{self.inputs.file}: {where}: {what}: {exc}") from None
        return value

    def _namespace(self, phase: ExpandedPhase, strategy_index: int) -> tuple[dict, dict]:
        """Parameters, time variables and strategy variables for one strategy and phase."""
        if self._phase_cache is None or self._phase_cache[0] is not phase:
            self._phase_cache = (phase, *self._phase_namespace(phase))
        _, base, functions = self._phase_cache
        namespace = dict(base)
        p = phase.phase
        strategy = self.inputs.strategies[strategy_index]
        for name in self.inputs.strategy_variables:
            expr = strategy.variables[name]
            namespace[name] = self._evaluate(
                expr,
                namespace,
                functions,
                strategy.where[name],
                f"strategy variable '{name}' of '{strategy.key}' in phase '{p.key}'",
            )
        return namespace, functions

    def _phase_namespace(self, phase: ExpandedPhase) -> tuple[dict, dict]:
        """Parameters, time variables, entry indicators and time-dependent parameters."""
        p = phase.phase
        cycles = np.arange(1, p.n_cycles + 1, dtype=float).reshape(1, -1)
        time_years = phase.start_years + (cycles - 1.0) * p.cycle_years
        age = self.inputs.settings.start_age + time_years
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
            start_age=self.inputs.settings.start_age,
            prop_female=self.inputs.settings.prop_female,
            age_now=age,
            cycle_years=p.cycle_years,
        )
        namespace["start_age"] = self.inputs.settings.start_age
        namespace["prop_female"] = self.inputs.settings.prop_female
        first = self.inputs.phases[0].key
        for s in self.inputs.states_in(first):
            namespace[f"entry_{s.key}"] = 1.0 if s.key == self.entry else 0.0
        for name in self.inputs.dynamic_parameters:
            parameter = self.inputs.parameter(name)
            namespace[name] = self._evaluate(
                parameter.expression,
                namespace,
                functions,
                parameter.where,
                f"parameter '{name}' in phase '{p.key}'",
            )
        return namespace, functions

    def _by_position(
        self,
        expr: Expression | None,
        state: State,
        namespace: dict,
        functions: dict,
        where: str,
        what: str,
    ) -> list[np.ndarray]:
        """Values for each tunnel position of ``state`` (one array each, 2-D)."""
        if expr is None:
            return [np.zeros((1, 1))] * state.tunnel_length
        if "time_in_state" not in expr.names:
            value = self._evaluate(expr, namespace, functions, where, what)
            return [value] * state.tunnel_length
        values = []
        for k in range(1, state.tunnel_length + 1):
            namespace["time_in_state"] = float(k)
            values.append(self._evaluate(expr, namespace, functions, where, what))
        namespace["time_in_state"] = 1.0
        return values

    def _stack(
        self, values: list[list[np.ndarray]], trailing: tuple[int, ...], starts: np.ndarray
    ) -> np.ndarray:
        """values[strategy][item] 2-D arrays → (S*N, U, *trailing), one slice per segment."""
        items = len(values[0]) if values else 0
        out = np.empty((items, self.S, self.N, starts.size))  # item-major: contiguous fills
        for n, row in enumerate(values):
            for i, v in enumerate(row):
                out[i, :, n] = v[:, starts] if v.shape[1] > 1 else v
        out = np.moveaxis(out, 0, -1)  # (S, N, U, items), one copy below
        return out.reshape((self.S * self.N, starts.size, *trailing))

    # ------------------------------------------------------------------ run

    def run(self, keep_trace: bool) -> ModelOutcomes:
        inputs = self.inputs
        S, N = self.S, self.N
        B, Z = S * N, len(self.categories)
        all_states = [s.key for s in inputs.states]
        cost_by_cat = np.zeros((B, Z))
        qaly, ly, ly_u, qaly_u = np.zeros(B), np.zeros(B), np.zeros(B), np.zeros(B)
        state_time = np.zeros((B, len(all_states)))
        traces = []
        x0 = None
        settings = inputs.settings
        method = settings.within_cycle_correction
        for p_index, phase in enumerate(self.phases):
            n_cycles, h, K = phase.phase.n_cycles, phase.phase.cycle_years, phase.n_states
            namespaces = [self._namespace(phase, n) for n in range(N)]
            if x0 is None:
                x0 = self._initial(phase, namespaces)
                cost_by_cat += self._start_costs(phase, namespaces, x0)
            values = self._phase_values(phase, namespaces)
            starts, segment = engine.segment_starts(values.arrays(), n_cycles)
            sparse = self._sparse_transitions(phase, values, starts, segment)
            trace = engine.propagate(x0, sparse)
            self._check_trace(trace, phase)
            costs = self._stack(values.costs, (K, Z), starts)
            utility = self._stack(values.utilities, (K,), starts)
            self._check_finite(phase, costs, "cost")
            self._check_finite(phase, utility, "utility")

            times = phase.time_points()
            a, b = engine.correction_weights(method, n_cycles)
            d_cost = engine.discount_factors(settings.discount_rate_costs, times)
            d_out = engine.discount_factors(settings.discount_rate_outcomes, times)
            weights = np.concatenate(
                [
                    engine.occupancy_weights(a, b, d, segment)
                    for d in (d_cost, d_out, 1.0 + 0 * d_out)
                ]
            )
            occ_cost, occ_out, occ_u = np.split(engine.occupancy(trace, weights), 3, axis=1)
            alive = np.array([phase.states[i].alive for i in phase.state_of], dtype=float)
            cost_by_cat += engine.accumulate_state_rewards(occ_cost, costs)
            qaly += engine.accumulate_state_rewards(occ_out, utility) * h
            qaly_u += engine.accumulate_state_rewards(occ_u, utility) * h
            ly += occ_out.sum(axis=1) @ alive * h
            ly_u += occ_u.sum(axis=1) @ alive * h
            columns = [all_states.index(s.key) for s in phase.states]
            agg = phase.aggregation()
            state_time[:, columns] += occ_u.sum(axis=1) @ agg * h

            if values.transition_costs is not None:
                E = values.reward_entries.size  # type: ignore[union-attr]
                t_cost = self._stack(values.transition_costs, (E, Z), starts)
                t_qaly = self._stack(values.transition_qalys, (E,), starts)
                self._check_finite(phase, t_cost, "transition cost")
                self._check_finite(phase, t_qaly, "transition qaly")
                when = engine.transition_discount_times(method, times[:-1], times[1:])

                def flows(rate: float, when=when, segment=segment) -> np.ndarray:
                    return engine.flow_weights(engine.discount_factors(rate, when), segment)

                rewarded = sparse.subset(values.reward_entries)  # type: ignore[arg-type]
                cost_by_cat += engine.accumulate_transition_rewards(
                    trace, rewarded, t_cost, flows(settings.discount_rate_costs)
                )
                qaly += engine.accumulate_transition_rewards(
                    trace, rewarded, t_qaly, flows(settings.discount_rate_outcomes)
                )
                qaly_u += engine.accumulate_transition_rewards(trace, rewarded, t_qaly, flows(0.0))
            if keep_trace:
                traces.append(np.einsum("cbk,kd->bcd", trace, agg).reshape(S, N, n_cycles + 1, -1))
            if p_index + 1 < len(self.phases):
                x0 = trace[-1] @ self._phase_map(phase, self.phases[p_index + 1])
        outcomes = ModelOutcomes(
            strategies=inputs.strategy_keys,
            categories=self.categories,
            state_keys=tuple(all_states),
            cost=cost_by_cat.sum(axis=1).reshape(S, N),
            cost_by_category=cost_by_cat.reshape(S, N, Z),
            qaly=qaly.reshape(S, N),
            ly=ly.reshape(S, N),
            ly_undiscounted=ly_u.reshape(S, N),
            qaly_undiscounted=qaly_u.reshape(S, N),
            state_time=state_time.reshape(S, N, -1),
            traces=tuple(traces) if keep_trace else None,
        )
        self._check_outcomes(outcomes)
        return outcomes

    def _initial(self, phase: ExpandedPhase, namespaces: list) -> np.ndarray:
        if self.entry is not None:
            x0 = np.zeros((self.S * self.N, phase.n_states))
            x0[:, phase.index(self.entry)] = 1.0
            return x0
        x0 = np.zeros((self.S, self.N, phase.n_states))
        where_cells = []
        for s in phase.states:
            if s.initial is None:
                continue
            where = s.where["initial"]
            where_cells.append(where)
            i = phase.index(s.key)
            for n, (namespace, functions) in enumerate(namespaces):
                value = self._evaluate(
                    s.initial, namespace, functions, where, f"initial proportion of '{s.key}'"
                )
                x0[:, n, i] = np.broadcast_to(value[:, :1], (self.S, 1))[:, 0]
                bad = (x0[:, n, i] < 0) | (x0[:, n, i] > 1) | ~np.isfinite(x0[:, n, i])
                if bad.any():
                    k = int(np.argmax(bad))
                    raise ModelCheckError(
                        f"{self.inputs.file}: {where}: initial proportion of '{s.key}' must be "
                        f"in [0, 1]; got {x0[k, n, i]:g}{self._where(k)}."
                    )
        total = x0.sum(axis=2)
        bad = np.abs(total - 1.0) > ROW_SUM_TOLERANCE
        if bad.any():
            k, n = np.argwhere(bad)[0]
            raise ModelCheckError(
                f"{self.inputs.file}: {', '.join(where_cells)}: initial proportions for "
                f"strategy '{self.inputs.strategies[n].key}' sum to {total[k, n]:.12g}, not 1"
                f"{self._where(k)}. Make them add up to 1."
            )
        return x0.reshape(self.S * self.N, -1)

    def _start_costs(self, phase: ExpandedPhase, namespaces: list, x0: np.ndarray) -> np.ndarray:
        """One-off costs at time 0 of the cohort starting in each state, (B, Z)."""
        if not any(s.start_costs for s in phase.states):
            return np.zeros((x0.shape[0], len(self.categories)))
        values = []
        for namespace, functions in namespaces:
            row = []
            for s in phase.states:
                for k in range(s.tunnel_length):
                    for z in self.categories:
                        expr = s.start_costs.get(z) if k == 0 else None
                        column = "start_cost" if z == "other" else f"start_cost_{z}"
                        if expr is None:
                            row.append(np.zeros((1, 1)))
                            continue
                        value = self._evaluate(
                            expr,
                            namespace,
                            functions,
                            s.where.get(column, ""),
                            f"{column} of '{s.key}'",
                        )
                        row.append(value[:, :1])
            values.append(row)
        start = self._stack(values, (phase.n_states, len(self.categories)), np.array([0]))
        self._check_finite(phase, start, "start cost")
        return np.einsum("bk,bkz->bz", x0, start[:, 0])

    def _phase_values(self, phase: ExpandedPhase, namespaces: list) -> _PhaseValues:
        """Evaluate every expression of the phase for every strategy (2-D arrays each)."""
        values = _PhaseValues()
        for n in range(self.N):
            self._transition_entries(phase, n, namespaces[n], values)
        for n in range(self.N):
            self._state_reward_values(phase, namespaces[n], values)
        self._transition_reward_values(phase, namespaces, values)
        return values

    def _transition_entries(
        self, phase: ExpandedPhase, n: int, ns: tuple[dict, dict], values: _PhaseValues
    ) -> None:
        namespace, functions = ns
        rows = transitions_for(self.inputs.transitions, self.inputs.strategies[n].key)
        entries: dict[int, np.ndarray] = {}
        for s in phase.states:
            complement = None
            computed: dict[int, list[np.ndarray]] = {}
            for (f, to), t in rows.items():
                if f != s.key:
                    continue
                targets = [self._target(phase, s, to, k) for k in range(s.tunnel_length)]
                if t.probability is None:
                    complement = (t, targets)
                    continue
                label = f"transition {t.from_state} -> {t.to_state}"
                probabilities = self._by_position(
                    t.probability, s, namespace, functions, t.where["probability"], label
                )
                for k, (j, v) in enumerate(zip(targets, probabilities, strict=True)):
                    i = phase.index(s.key, k + 1)
                    e = values.pairs.setdefault((i, j), len(values.pairs))
                    entries[e] = v
                    values.meta[(n, e)] = (t.where["probability"], False)
                    computed.setdefault(i, []).append(v)
            if complement is not None:
                t, targets = complement
                for k, j in enumerate(targets):
                    i = phase.index(s.key, k + 1)
                    others = np.broadcast_arrays(*computed.get(i, [np.zeros((1, 1))]))
                    e = values.pairs.setdefault((i, j), len(values.pairs))
                    entries[e] = _as_2d(1.0 - np.sum(others, axis=0))
                    values.meta[(n, e)] = (t.where["probability"], True)
        values.probabilities.append(entries)

    @staticmethod
    def _target(phase: ExpandedPhase, state: State, to: str, k: int) -> int:
        """Expanded index reached from tunnel position k (0-based) of ``state`` going to
        ``to``: staying advances the tunnel, leaving enters position 1."""
        if to == state.key:
            return phase.index(state.key, min(k + 2, state.tunnel_length))
        return phase.index(to)

    def _sparse_transitions(
        self,
        phase: ExpandedPhase,
        values: _PhaseValues,
        starts: np.ndarray,
        segment: np.ndarray,
    ) -> engine.SparseTransitions:
        n_entries = len(values.pairs)
        zero = np.zeros((1, 1))
        per_strategy = [[v.get(e, zero) for e in range(n_entries)] for v in values.probabilities]
        stacked = self._stack(per_strategy, (n_entries,), starts)
        rows_idx = np.empty(n_entries, dtype=int)
        cols_idx = np.empty(n_entries, dtype=int)
        for (i, j), e in values.pairs.items():
            rows_idx[e], cols_idx[e] = i, j
        self._check_probabilities(stacked, phase, rows_idx, cols_idx, values.meta, starts)
        np.clip(stacked, 0.0, 1.0, out=stacked)
        sparse = engine.SparseTransitions(rows_idx, cols_idx, stacked, phase.n_states, segment)
        self._check_row_sums(sparse, phase, starts, values.meta)
        return sparse

    def _cycle_label(self, starts: np.ndarray, u: int, n_cycles: int) -> str:
        first = int(starts[u]) + 1
        last = int(starts[u + 1]) if u + 1 < starts.size else n_cycles
        return f"cycle {first}" if first == last else f"cycles {first}-{last}"

    def _check_probabilities(self, values, phase, rows_idx, cols_idx, meta, starts) -> None:
        finite = np.isfinite(values)
        bad = ~finite | (values < -PROBABILITY_TOLERANCE) | (values > 1 + PROBABILITY_TOLERANCE)
        if not bad.any():
            return
        b, u, e = np.argwhere(bad)[0]
        s, n = divmod(int(b), self.N)
        value = values[b, u, e]
        cell, complement = meta.get((n, e), ("", False))
        context = (
            f"strategy '{self.inputs.strategies[n].key}', phase '{phase.phase.key}', "
            f"{self._cycle_label(starts, u, phase.phase.n_cycles)}, from "
            f"'{phase.labels[rows_idx[e]]}' to '{phase.labels[cols_idx[e]]}'"
        )
        prefix = f"{self.inputs.file}: {cell}: {context}"
        if not finite[b, u, e]:
            raise NumericalError(f"{prefix}: probability is {value}{self._where(s)}.")
        if complement:
            raise ModelCheckError(
                f"{prefix}: the other probabilities of the row sum to {1 - value:.6g}, more "
                f"than 1, so C would be {value:.6g}{self._where(s)}."
            )
        hint = " Enter probabilities as proportions (0.17, not 17)." if value > 1 else ""
        raise ModelCheckError(
            f"{prefix}: probability {value:.6g} is outside [0, 1]{self._where(s)}.{hint}"
        )

    def _check_row_sums(
        self,
        sparse: engine.SparseTransitions,
        phase: ExpandedPhase,
        starts: np.ndarray,
        meta: dict[tuple[int, int], tuple[str, bool]],
    ) -> None:
        sums = sparse.row_sums()
        bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
        if not bad.any():
            return
        b, u, k = np.argwhere(bad)[0]
        s, n = divmod(int(b), self.N)
        # the probability cells of the row, for this strategy
        cells = sorted(
            {meta[(n, e)][0] for e in np.flatnonzero(sparse.rows == k) if (n, e) in meta},
            key=lambda c: cell_sort_key(*c.partition("!")[::2]),
        )
        where = ", ".join(cells) if cells else "Transitions"
        raise ModelCheckError(
            f"{self.inputs.file}: {where}: strategy '{self.inputs.strategies[n].key}', "
            f"phase '{phase.phase.key}', {self._cycle_label(starts, u, phase.phase.n_cycles)}: "
            f"probabilities from '{phase.labels[k]}' sum to {sums[b, u, k]:.12g}, not 1"
            f"{self._where(s)}. Use C for one transition of the row or fix the values."
        )

    def _check_trace(self, trace: np.ndarray, phase: ExpandedPhase) -> None:
        # NaN and inf propagate to the end of the trace, and with rows summing to 1 the mass
        # can only drift through rounding, so checking the final cycle suffices; the full
        # trace is searched only to say where a problem started.
        final = trace[-1].sum(axis=1)
        if np.isfinite(final).all() and np.abs(final - 1.0).max() <= ROW_SUM_TOLERANCE:
            return
        if not np.isfinite(trace).all():
            c, b, k = np.argwhere(~np.isfinite(trace))[0]
            s, n = divmod(int(b), self.N)
            raise NumericalError(
                f"{self.inputs.file}: non-finite cohort share in strategy "
                f"'{self.inputs.strategies[n].key}', phase '{phase.phase.key}', cycle {c}, "
                f"state '{phase.labels[k]}'{self._where(s)}."
            )
        mass = trace.sum(axis=2)  # (n + 1, B)
        bad = np.abs(mass - 1.0) > ROW_SUM_TOLERANCE
        if bad.any():
            c, b = np.argwhere(bad)[0]
            s, n = divmod(int(b), self.N)
            raise ModelCheckError(
                f"{self.inputs.file}: cohort mass is {mass[c, b]:.12g}, not 1, in strategy "
                f"'{self.inputs.strategies[n].key}', phase '{phase.phase.key}', cycle {c}"
                f"{self._where(s)}."
            )

    def _check_finite(self, phase: ExpandedPhase, array: np.ndarray, what: str) -> None:
        if np.isfinite(array).all():
            return
        index = np.argwhere(~np.isfinite(array))[0]
        s, n = divmod(int(index[0]), self.N)
        raise NumericalError(
            f"{self.inputs.file}: {what} is not finite in strategy "
            f"'{self.inputs.strategies[n].key}', phase '{phase.phase.key}'{self._where(s)}."
        )

    def _state_reward_values(
        self, phase: ExpandedPhase, ns: tuple[dict, dict], values: _PhaseValues
    ) -> None:
        """Costs per cycle (K*Z items, k-major) and utilities per year (K items)."""
        namespace, functions = ns
        costs: list[np.ndarray] = []
        utilities: list[np.ndarray] = []
        for s in phase.states:
            per_category = [
                self._by_position(
                    s.costs.get(z),
                    s,
                    namespace,
                    functions,
                    s.where.get("cost" if z == "other" else f"cost_{z}", ""),
                    f"cost of '{s.key}'",
                )
                for z in self.categories
            ]
            for k in range(s.tunnel_length):
                costs.extend(per_category[z][k] for z in range(len(self.categories)))
            utilities.extend(
                self._by_position(
                    s.utility,
                    s,
                    namespace,
                    functions,
                    s.where.get("utility", ""),
                    f"utility of '{s.key}'",
                )
            )
        values.costs.append(costs)
        values.utilities.append(utilities)

    def _transition_reward_values(
        self, phase: ExpandedPhase, namespaces: list, values: _PhaseValues
    ) -> None:
        """One-off costs (E*Z items) and QALYs (E items) per strategy, if any are given."""
        phase_states = {s.key: s for s in phase.states}
        if not any(
            t.from_state in phase_states and (t.costs or t.qaly is not None)
            for t in self.inputs.transitions
        ):
            return
        Z = len(self.categories)
        zero = np.zeros((1, 1))
        per_strategy: list[tuple[dict, dict]] = []
        for n, strategy in enumerate(self.inputs.strategies):
            namespace, functions = namespaces[n]
            costs: dict[tuple[int, int], np.ndarray] = {}  # (entry, category) -> value
            qalys: dict[int, np.ndarray] = {}
            for (f, to), t in transitions_for(self.inputs.transitions, strategy.key).items():
                s = phase_states.get(f)
                if s is None:
                    continue
                label = f"transition {f} -> {to}"
                entry = [
                    values.pairs[(phase.index(f, k + 1), self._target(phase, s, to, k))]
                    for k in range(s.tunnel_length)
                ]
                for z, category in enumerate(self.categories):
                    if category in t.costs:
                        column = "cost" if category == "other" else f"cost_{category}"
                        amounts = self._by_position(
                            t.costs[category],
                            s,
                            namespace,
                            functions,
                            t.where.get(column, ""),
                            f"{column} of {label}",
                        )
                        for e, v in zip(entry, amounts, strict=True):
                            costs[(e, z)] = v
                if t.qaly is not None:
                    amounts = self._by_position(
                        t.qaly,
                        s,
                        namespace,
                        functions,
                        t.where.get("qaly", ""),
                        f"qaly of {label}",
                    )
                    for e, v in zip(entry, amounts, strict=True):
                        qalys[e] = v
            per_strategy.append((costs, qalys))
        # Only entries that carry a reward in some strategy are kept (usually a handful).
        entries = sorted({e for c, q in per_strategy for e in (*(k[0] for k in c), *q)})
        values.reward_entries = np.array(entries, dtype=int)
        values.transition_costs = [
            [c.get((e, z), zero) for e in entries for z in range(Z)] for c, _ in per_strategy
        ]
        values.transition_qalys = [[q.get(e, zero) for e in entries] for _, q in per_strategy]

    @staticmethod
    def _phase_map(phase: ExpandedPhase, next_phase: ExpandedPhase) -> np.ndarray:
        """(K_p, K_next) matrix moving each expanded state's cohort to its next_state."""
        mapping = np.zeros((phase.n_states, next_phase.n_states))
        for i, s in enumerate(phase.state_of):
            target = phase.states[s].next_state
            mapping[i, next_phase.index(target)] = 1.0  # type: ignore[arg-type]
        return mapping

    def _check_outcomes(self, outcomes: ModelOutcomes) -> None:
        for name in ("cost", "qaly", "ly"):
            values = getattr(outcomes, name)
            if not np.isfinite(values).all():
                s, n = np.argwhere(~np.isfinite(values))[0]
                raise NumericalError(
                    f"{self.inputs.file}: {name} is not finite for strategy "
                    f"'{outcomes.strategies[n]}'{self._where(int(s))}."
                )
