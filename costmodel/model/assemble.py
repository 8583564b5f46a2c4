"""Workbook expressions → the arrays the engine needs, for one phase of one chunk.

Transition probabilities become sparse entries (from, to) with values per sample, strategy
and time segment; state costs [currency per cycle] and utilities [per year], transition costs
and QALYs [one-off] become reward arrays; the first phase also gives the initial distribution
and start costs. Tunnel states are expanded (one state per cycle in the tunnel).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from costmodel import engine
from costmodel.errors import ModelCheckError
from costmodel.model import checks
from costmodel.model.expressions import Chunk, Namespace, as_2d
from costmodel.phases import ExpandedPhase


@dataclass
class PhaseValues:
    """Raw evaluated expressions of one phase, per strategy, before stacking."""

    pairs: dict[tuple[int, int], int] = field(default_factory=dict)  # (from, to) -> entry
    meta: checks.EntryMeta = field(default_factory=dict)
    probabilities: list[dict[int, np.ndarray]] = field(default_factory=list)
    costs: list[list[np.ndarray]] = field(default_factory=list)
    utilities: list[list[np.ndarray]] = field(default_factory=list)
    transition_costs: list[list[np.ndarray]] | None = None
    transition_qalys: list[list[np.ndarray]] | None = None
    reward_entries: np.ndarray | None = None  # entries (indices into pairs) with rewards

    def for_strategies(self, indices: np.ndarray) -> PhaseValues:
        """The values of the strategies at ``indices`` only (renumbered 0, 1, ... in that
        order; the entries stay as they are)."""
        new = {int(n): i for i, n in enumerate(indices)}

        def pick(per_strategy: list | None) -> list | None:
            return None if per_strategy is None else [per_strategy[n] for n in indices]

        return PhaseValues(
            self.pairs,
            {(new[n], e): v for (n, e), v in self.meta.items() if n in new},
            pick(self.probabilities),
            pick(self.costs),
            pick(self.utilities),
            pick(self.transition_costs),
            pick(self.transition_qalys),
            self.reward_entries,
        )


def initial_distribution(
    chunk: Chunk, phase: ExpandedPhase, namespaces: list[Namespace]
) -> np.ndarray:
    """Cohort shares at time 0, (S*N, K): one entry state, or the States' initial column."""
    S, N = chunk.n_samples, chunk.n_strategies
    if chunk.entry is not None:
        x0 = np.zeros((S * N, phase.n_states))
        x0[:, phase.index(chunk.entry)] = 1.0
        return x0
    x0 = np.zeros((S, N, phase.n_states))
    where_cells = []
    for s in phase.states:
        if s.initial is None:
            continue
        where = s.where["initial"]
        where_cells.append(where)
        i = phase.index(s.key)
        for n, (namespace, functions, *_) in enumerate(namespaces):
            value = chunk.evaluate(
                s.initial, namespace, functions, where, f"initial proportion of '{s.key}'"
            )
            x0[:, n, i] = np.broadcast_to(value[:, :1], (S, 1))[:, 0]
            bad = (x0[:, n, i] < 0) | (x0[:, n, i] > 1) | ~np.isfinite(x0[:, n, i])
            if bad.any():
                k = int(np.argmax(bad))
                raise ModelCheckError(
                    f"{chunk.inputs.file}: {where}: initial proportion of '{s.key}' must be "
                    f"in [0, 1]; got {x0[k, n, i]:g}{chunk.where(k)}."
                )
    checks.check_initial(chunk, x0, where_cells)
    return x0.reshape(S * N, -1)


def start_costs(
    chunk: Chunk, phase: ExpandedPhase, namespaces: list[Namespace], x0: np.ndarray
) -> np.ndarray:
    """One-off costs at time 0 of the cohort starting in each state, (S*N, Z): each start-cost
    cell evaluated once per strategy and weighted by the share starting there (empty cells,
    most of them, cost nothing)."""
    S, N, Z = chunk.n_samples, chunk.n_strategies, len(chunk.categories)
    out = np.zeros((S, N, Z))
    if not any(s.start_costs for s in phase.states):
        return out.reshape(S * N, Z)
    shares = x0.reshape(S, N, -1)
    for n, (namespace, functions, *_) in enumerate(namespaces):
        for s in phase.states:
            k = phase.index(s.key)  # the first tunnel position: the cost is paid on entry
            for z, category in enumerate(chunk.categories):
                expr = s.start_costs.get(category)
                if expr is None:
                    continue
                column = "start_cost" if category == "other" else f"start_cost_{category}"
                where = s.where.get(column, "")
                value = chunk.evaluate(expr, namespace, functions, where, f"{column} of '{s.key}'")[
                    :, :1
                ]
                checks.check_finite(chunk, phase, value, "start cost", strategy=n)
                out[:, n, z] += shares[:, n, k] * value[:, 0]
    return out.reshape(S * N, Z)


def phase_values(chunk: Chunk, phase: ExpandedPhase, namespaces: list[Namespace]) -> PhaseValues:
    """Evaluate every expression of the phase for every strategy (2-D arrays each)."""
    values = PhaseValues()
    for n in range(chunk.n_strategies):
        _transition_entries(chunk, phase, n, namespaces[n], values)
    for n in range(chunk.n_strategies):
        _state_reward_values(chunk, phase, namespaces[n], values)
    _transition_reward_values(chunk, phase, namespaces, values)
    return values


def _transition_entries(
    chunk: Chunk, phase: ExpandedPhase, n: int, ns: Namespace, values: PhaseValues
) -> None:
    """Probabilities of strategy ``n`` as sparse entries; C rows get 1 - the others."""
    rows = chunk.inputs.transitions_for(chunk.inputs.strategies[n].key)
    entries: dict[int, np.ndarray] = {}
    for s in phase.states:
        complement = None
        computed: dict[int, list[np.ndarray]] = {}
        for (f, to), t in rows.items():
            if f != s.key:
                continue
            targets = [phase.target(s, to, k) for k in range(s.tunnel_length)]
            if t.probability is None:
                complement = (t, targets)
                continue
            label = f"transition {t.from_state} -> {t.to_state}"
            cell = t.where["probability"]
            probabilities = chunk.by_position(t.probability, s, ns, cell, label)
            for k, (j, v) in enumerate(zip(targets, probabilities, strict=True)):
                i = phase.index(s.key, k + 1)
                e = values.pairs.setdefault((i, j), len(values.pairs))
                entries[e] = v
                values.meta[(n, e)] = (cell, False)
                computed.setdefault(i, []).append(v)
        if complement is not None:
            t, targets = complement
            for k, j in enumerate(targets):
                i = phase.index(s.key, k + 1)
                others = np.broadcast_arrays(*computed.get(i, [np.zeros((1, 1))]))
                e = values.pairs.setdefault((i, j), len(values.pairs))
                entries[e] = as_2d(1.0 - np.sum(others, axis=0))
                values.meta[(n, e)] = (t.where["probability"], True)
    values.probabilities.append(entries)


def sparse_transitions(
    chunk: Chunk,
    phase: ExpandedPhase,
    values: PhaseValues,
    starts: np.ndarray,
    segment: np.ndarray,
) -> engine.SparseTransitions:
    """Checked transition matrices of the phase, one per time segment, in sparse form."""
    n_entries = len(values.pairs)
    zero = np.zeros((1, 1))
    per_strategy = [[v.get(e, zero) for e in range(n_entries)] for v in values.probabilities]
    stacked = chunk.stack(per_strategy, (n_entries,), starts)
    rows_idx = np.empty(n_entries, dtype=int)
    cols_idx = np.empty(n_entries, dtype=int)
    for (i, j), e in values.pairs.items():
        rows_idx[e], cols_idx[e] = i, j
    checks.check_probabilities(chunk, stacked, phase, rows_idx, cols_idx, values.meta, starts)
    np.clip(stacked, 0.0, 1.0, out=stacked)
    sparse = engine.SparseTransitions(rows_idx, cols_idx, stacked, phase.n_states, segment)
    checks.check_row_sums(chunk, sparse, phase, starts, values.meta)
    return sparse


def _state_reward_values(
    chunk: Chunk, phase: ExpandedPhase, ns: Namespace, values: PhaseValues
) -> None:
    """Costs per cycle (K*Z items, k-major) and utilities per year (K items)."""
    costs: list[np.ndarray] = []
    utilities: list[np.ndarray] = []
    for s in phase.states:
        per_category = [
            chunk.by_position(
                s.costs.get(z),
                s,
                ns,
                s.where.get("cost" if z == "other" else f"cost_{z}", ""),
                f"cost of '{s.key}'",
            )
            for z in chunk.categories
        ]
        for k in range(s.tunnel_length):
            costs.extend(per_category[z][k] for z in range(len(chunk.categories)))
        utility_cell = s.where.get("utility", "")
        utilities.extend(chunk.by_position(s.utility, s, ns, utility_cell, f"utility of '{s.key}'"))
    values.costs.append(costs)
    values.utilities.append(utilities)


def _transition_reward_values(
    chunk: Chunk, phase: ExpandedPhase, namespaces: list[Namespace], values: PhaseValues
) -> None:
    """One-off costs (E*Z items) and QALYs (E items) per strategy, if any are given."""
    phase_states = {s.key: s for s in phase.states}
    inputs = chunk.inputs
    if not any(
        t.from_state in phase_states and (t.costs or t.qaly is not None) for t in inputs.transitions
    ):
        return
    Z = len(chunk.categories)
    zero = np.zeros((1, 1))
    per_strategy: list[tuple[dict, dict]] = []
    for n, strategy in enumerate(inputs.strategies):
        costs: dict[tuple[int, int], np.ndarray] = {}  # (entry, category) -> value
        qalys: dict[int, np.ndarray] = {}
        for (f, to), t in inputs.transitions_for(strategy.key).items():
            s = phase_states.get(f)
            if s is None:
                continue
            label = f"transition {f} -> {to}"
            entry = [
                values.pairs[(phase.index(f, k + 1), phase.target(s, to, k))]
                for k in range(s.tunnel_length)
            ]
            for z, category in enumerate(chunk.categories):
                if category in t.costs:
                    column = "cost" if category == "other" else f"cost_{category}"
                    cell = t.where.get(column, "")
                    what = f"{column} of {label}"
                    amounts = chunk.by_position(t.costs[category], s, namespaces[n], cell, what)
                    for e, v in zip(entry, amounts, strict=True):
                        costs[(e, z)] = v
            if t.qaly is not None:
                amounts = chunk.by_position(
                    t.qaly, s, namespaces[n], t.where.get("qaly", ""), f"qaly of {label}"
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
