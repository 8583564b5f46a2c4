"""Orchestrator: validated inputs + parameter values → outcomes per sample and strategy.

Builds, for each phase, the sparse transition entries and the rewards by evaluating the
workbook's expressions vectorized over samples (and cycles where they depend on time),
expands tunnel states, then calls the engine. Samples are processed in chunks to bound
memory; the base case is simply one sample on the same path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodel import engine
from costmodel.errors import ModelCheckError, NumericalError
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
        s = next(i for i, st in enumerate(self.states) if st.key == state)
        return int(np.flatnonzero((self.state_of == s) & (self.position == position))[0])

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
) -> ModelOutcomes:
    """Run every strategy for every parameter sample.

    ``parameters`` maps each parameter name to (n_samples,) values (default: base case).
    """
    if parameters is None:
        parameters = evaluate_parameters(inputs)
    n_samples = len(next(iter(parameters.values()))) if parameters else 1
    phases = expand_phases(inputs)
    if chunk_size is None:
        chunk_size = _default_chunk_size(inputs, phases)
    parts = []
    for start in range(0, n_samples, chunk_size):
        chunk = {k: np.asarray(v)[start : start + chunk_size] for k, v in parameters.items()}
        size = min(chunk_size, n_samples - start)
        parts.append(_Run(inputs, phases, chunk, size, start, n_samples).run(keep_trace))
    return _concatenate(parts)


def _default_chunk_size(inputs: ModelInputs, phases: tuple[ExpandedPhase, ...]) -> int:
    n_strategies = len(inputs.strategies)
    per_sample = max(
        n_strategies * (p.phase.n_cycles + 1) * p.n_states * (p.n_states + 8) * 8 for p in phases
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
    ):
        self.inputs = inputs
        self.phases = phases
        self.S = n_samples
        self.N = len(inputs.strategies)
        self.offset = sample_offset
        self.total = total_samples
        self.params = {k: np.asarray(v, dtype=float).reshape(-1, 1) for k, v in parameters.items()}
        self.categories = inputs.cost_categories or ("other",)

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

    def _stack(self, values: list[list[np.ndarray]], trailing: tuple[int, ...]) -> np.ndarray:
        """values[strategy][item] 2-D arrays → (S, N, C, *trailing) with C = 1 or n_cycles."""
        n_cycles = max((v.shape[1] for row in values for v in row), default=1)
        out = np.zeros((self.S, self.N, n_cycles, int(np.prod(trailing))))
        for n, row in enumerate(values):
            for e, v in enumerate(row):
                out[:, n, :, e] = v
        return out.reshape((self.S, self.N, n_cycles, *trailing))

    # ------------------------------------------------------------------ run

    def run(self, keep_trace: bool) -> ModelOutcomes:
        inputs = self.inputs
        S, N = self.S, self.N
        Z = len(self.categories)
        all_states = [s.key for s in inputs.states]
        cost_by_cat = np.zeros((S * N, Z))
        qaly = np.zeros(S * N)
        ly = np.zeros(S * N)
        ly_u = np.zeros(S * N)
        qaly_u = np.zeros(S * N)
        state_time = np.zeros((S * N, len(all_states)))
        traces = []
        x0 = None
        settings = inputs.settings
        method = settings.within_cycle_correction
        for p_index, phase in enumerate(self.phases):
            namespaces = [self._namespace(phase, n) for n in range(N)]
            if x0 is None:
                x0 = self._initial(phase, namespaces)
            sparse = self._transitions(phase, namespaces)
            trace = engine.propagate(x0, sparse, phase.phase.n_cycles)
            self._check_trace(trace, phase)
            costs, utility = self._state_rewards(phase, namespaces)
            h = phase.phase.cycle_years
            times = phase.time_points()
            a, b = engine.correction_weights(method, phase.phase.n_cycles)
            d_cost = engine.discount_factors(settings.discount_rate_costs, times)
            d_out = engine.discount_factors(settings.discount_rate_outcomes, times)
            occ_cost = engine.occupancy_weights(trace, a, b, d_cost)
            occ_out = engine.occupancy_weights(trace, a, b, d_out)
            occ_u = engine.occupancy_weights(trace, a, b, np.ones_like(times))
            alive = np.array([phase.states[i].alive for i in phase.state_of], dtype=float)
            cost_by_cat += engine.accumulate_state_rewards(occ_cost, costs)
            qaly += engine.accumulate_state_rewards(occ_out, utility) * h
            qaly_u += engine.accumulate_state_rewards(occ_u, utility) * h
            ly += occ_out.sum(axis=1) @ alive * h
            ly_u += occ_u.sum(axis=1) @ alive * h
            columns = [all_states.index(s.key) for s in phase.states]
            agg = phase.aggregation()
            state_time[:, columns] += occ_u.sum(axis=1) @ agg * h
            rewards = self._transition_rewards(phase, namespaces, sparse)
            if rewards is not None:
                t_cost, t_qaly, _key = rewards
                when = engine.transition_discount_times(method, times[:-1], times[1:])
                cost_by_cat += engine.accumulate_transition_rewards(
                    trace,
                    sparse,
                    t_cost,
                    engine.discount_factors(settings.discount_rate_costs, when),
                )
                qaly += engine.accumulate_transition_rewards(
                    trace,
                    sparse,
                    t_qaly,
                    engine.discount_factors(settings.discount_rate_outcomes, when),
                )
                qaly_u += engine.accumulate_transition_rewards(
                    trace, sparse, t_qaly, np.ones_like(when)
                )
            if keep_trace:
                traces.append((trace @ agg).reshape(S, N, phase.phase.n_cycles + 1, -1))
            if p_index + 1 < len(self.phases):
                x0 = trace[:, -1] @ self._phase_map(phase, self.phases[p_index + 1])
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

    def _transitions(self, phase: ExpandedPhase, namespaces: list) -> engine.SparseTransitions:
        """Evaluate every strategy's transition entries and check them."""
        p = phase.phase
        pairs: dict[tuple[int, int], int] = {}
        per_strategy: list[dict[int, np.ndarray]] = []
        meta: dict[tuple[int, int], tuple[str, bool]] = {}  # (n, e) -> (cell, complement)
        phase_states = {s.key for s in phase.states}
        for n, strategy in enumerate(self.inputs.strategies):
            namespace, functions = namespaces[n]
            rows = transitions_for(self.inputs.transitions, strategy.key)
            values: dict[int, np.ndarray] = {}
            for s in phase.states:
                out = [t for (f, _), t in rows.items() if f == s.key and f in phase_states]
                complement = None
                computed: dict[int, list[np.ndarray]] = {}
                for t in out:
                    targets = [
                        phase.index(s.key, min(k + 1, s.tunnel_length))
                        if t.to_state == s.key
                        else phase.index(t.to_state)
                        for k in range(1, s.tunnel_length + 1)
                    ]
                    if t.probability is None:
                        complement = (t, targets)
                        continue
                    label = f"transition {t.from_state} -> {t.to_state}"
                    vals = self._by_position(
                        t.probability, s, namespace, functions, t.where["probability"], label
                    )
                    for k, (j, v) in enumerate(zip(targets, vals, strict=True)):
                        i = phase.index(s.key, k + 1)
                        e = pairs.setdefault((i, j), len(pairs))
                        values[e] = v
                        meta[(n, e)] = (t.where["probability"], False)
                        computed.setdefault(i, []).append(v)
                if complement is not None:
                    t, targets = complement
                    for k, j in enumerate(targets):
                        i = phase.index(s.key, k + 1)
                        others = computed.get(i, [])
                        rest = 1.0 - (
                            sum(np.broadcast_arrays(*others))
                            if len(others) > 1
                            else (others[0] if others else 0.0)
                        )
                        e = pairs.setdefault((i, j), len(pairs))
                        values[e] = _as_2d(rest)
                        meta[(n, e)] = (t.where["probability"], True)
            per_strategy.append(values)
        n_entries = len(pairs)
        stacked = self._stack(
            [[v.get(e, np.zeros((1, 1))) for e in range(n_entries)] for v in per_strategy],
            (n_entries,),
        )
        rows_idx = np.empty(n_entries, dtype=int)
        cols_idx = np.empty(n_entries, dtype=int)
        for (i, j), e in pairs.items():
            rows_idx[e], cols_idx[e] = i, j
        self._check_probabilities(stacked, phase, rows_idx, cols_idx, meta)
        np.clip(stacked, 0.0, 1.0, out=stacked)
        sparse = engine.SparseTransitions(
            rows_idx,
            cols_idx,
            stacked.reshape(self.S * self.N, stacked.shape[2], n_entries),
            phase.n_states,
        )
        self._check_row_sums(sparse, phase)
        del p
        return sparse

    def _check_probabilities(self, values, phase, rows_idx, cols_idx, meta) -> None:
        finite = np.isfinite(values)
        bad = ~finite | (values < -PROBABILITY_TOLERANCE) | (values > 1 + PROBABILITY_TOLERANCE)
        if not bad.any():
            return
        s, n, c, e = np.argwhere(bad)[0]
        value = values[s, n, c, e]
        cell, complement = meta.get((n, e), ("", False))
        context = (
            f"strategy '{self.inputs.strategies[n].key}', phase '{phase.phase.key}', cycle "
            f"{c + 1 if values.shape[2] > 1 else '(all)'}, from '{phase.labels[rows_idx[e]]}' "
            f"to '{phase.labels[cols_idx[e]]}'"
        )
        prefix = f"{self.inputs.file}: {cell}: {context}"
        if not finite[s, n, c, e]:
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

    def _check_row_sums(self, sparse: engine.SparseTransitions, phase: ExpandedPhase) -> None:
        sums = sparse.row_sums()
        bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
        if not bad.any():
            return
        b, c, k = np.argwhere(bad)[0]
        s, n = divmod(int(b), self.N)
        raise ModelCheckError(
            f"{self.inputs.file}: Transitions: strategy '{self.inputs.strategies[n].key}', "
            f"phase '{phase.phase.key}', cycle {c + 1 if sums.shape[1] > 1 else '(all)'}: "
            f"probabilities from '{phase.labels[k]}' sum to {sums[b, c, k]:.12g}, not 1"
            f"{self._where(s)}. Use C for one transition of the row or fix the values."
        )

    def _check_trace(self, trace: np.ndarray, phase: ExpandedPhase) -> None:
        if not np.isfinite(trace).all():
            b, c, k = np.argwhere(~np.isfinite(trace))[0]
            s, n = divmod(int(b), self.N)
            raise NumericalError(
                f"{self.inputs.file}: non-finite cohort share in strategy "
                f"'{self.inputs.strategies[n].key}', phase '{phase.phase.key}', cycle {c}, "
                f"state '{phase.labels[k]}'{self._where(s)}."
            )
        mass = trace.sum(axis=2)
        bad = np.abs(mass - 1.0) > ROW_SUM_TOLERANCE
        if bad.any():
            b, c = np.argwhere(bad)[0]
            s, n = divmod(int(b), self.N)
            raise ModelCheckError(
                f"{self.inputs.file}: cohort mass is {mass[b, c]:.12g}, not 1, in strategy "
                f"'{self.inputs.strategies[n].key}', phase '{phase.phase.key}', cycle {c}"
                f"{self._where(s)}."
            )

    def _state_rewards(self, phase: ExpandedPhase, namespaces: list) -> tuple[np.ndarray, ...]:
        """Costs (B, C, K, Z) per cycle and utilities (B, C, K) per year."""
        cost_values: list[list[np.ndarray]] = []
        utility_values: list[list[np.ndarray]] = []
        for n in range(self.N):
            namespace, functions = namespaces[n]
            costs_n: list[np.ndarray] = []
            utility_n: list[np.ndarray] = []
            for s in phase.states:
                per_cat = [
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
                    costs_n.extend(per_cat[z][k] for z in range(len(self.categories)))
                utility_n.extend(
                    self._by_position(
                        s.utility,
                        s,
                        namespace,
                        functions,
                        s.where.get("utility", ""),
                        f"utility of '{s.key}'",
                    )
                )
            cost_values.append(costs_n)
            utility_values.append(utility_n)
        K, Z = phase.n_states, len(self.categories)
        costs = self._stack(cost_values, (K, Z))
        utility = self._stack(utility_values, (K,))
        for name, array in (("cost", costs), ("utility", utility)):
            if not np.isfinite(array).all():
                index = np.argwhere(~np.isfinite(array))[0]
                raise NumericalError(
                    f"{self.inputs.file}: States: {name} of '{phase.labels[index[3]]}' is "
                    f"not finite for strategy '{self.inputs.strategies[index[1]].key}'"
                    f"{self._where(int(index[0]))}."
                )
        B = self.S * self.N
        return (
            costs.reshape(B, costs.shape[2], K, Z),
            utility.reshape(B, utility.shape[2], K),
        )

    def _transition_rewards(self, phase, namespaces, sparse) -> tuple | None:
        """One-off costs (B, C, E, Z) and QALYs (B, C, E) per transition, or None."""
        phase_states = {s.key for s in phase.states}
        rows_all = [
            t
            for t in self.inputs.transitions
            if t.from_state in phase_states and (t.costs or t.qaly is not None)
        ]
        if not rows_all:
            return None
        E = sparse.rows.size
        lookup = {
            (int(i), int(j)): e
            for e, (i, j) in enumerate(zip(sparse.rows, sparse.cols, strict=True))
        }
        Z = len(self.categories)
        cost_values: list[list[np.ndarray]] = []
        qaly_values: list[list[np.ndarray]] = []
        for n, strategy in enumerate(self.inputs.strategies):
            namespace, functions = namespaces[n]
            costs_n = [np.zeros((1, 1))] * (E * Z)
            qaly_n = [np.zeros((1, 1))] * E
            rows = transitions_for(self.inputs.transitions, strategy.key)
            for (f, to), t in rows.items():
                if f not in phase_states or not (t.costs or t.qaly is not None):
                    continue
                s = next(st for st in phase.states if st.key == f)
                label = f"transition {f} -> {to}"
                for z, category in enumerate(self.categories):
                    if category not in t.costs:
                        continue
                    column = "cost" if category == "other" else f"cost_{category}"
                    vals = self._by_position(
                        t.costs[category],
                        s,
                        namespace,
                        functions,
                        t.where.get(column, ""),
                        f"{column} of {label}",
                    )
                    for k, v in enumerate(vals):
                        e = self._entry(phase, s, to, k, lookup)
                        costs_n[e * Z + z] = v
                if t.qaly is not None:
                    vals = self._by_position(
                        t.qaly, s, namespace, functions, t.where.get("qaly", ""), f"qaly of {label}"
                    )
                    for k, v in enumerate(vals):
                        qaly_n[self._entry(phase, s, to, k, lookup)] = v
            cost_values.append(costs_n)
            qaly_values.append(qaly_n)
        B = self.S * self.N
        costs = self._stack(cost_values, (E, Z))
        qalys = self._stack(qaly_values, (E,))
        return costs.reshape(B, costs.shape[2], E, Z), qalys.reshape(B, qalys.shape[2], E), None

    @staticmethod
    def _entry(phase: ExpandedPhase, state: State, to: str, k: int, lookup: dict) -> int:
        i = phase.index(state.key, k + 1)
        j = (
            phase.index(state.key, min(k + 2, state.tunnel_length))
            if to == state.key
            else phase.index(to)
        )
        return lookup[(i, j)]

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
