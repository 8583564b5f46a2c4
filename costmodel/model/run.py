"""Orchestrator: validated inputs + parameter values → outcomes per sample and strategy.

For each chunk of samples and each phase: assemble the arrays from the workbook's expressions
(:mod:`costmodel.model.assemble`), propagate the cohort and sum the rewards
(:mod:`costmodel.engine`), check the numbers (:mod:`costmodel.model.checks`). The base case is
simply one sample on the same path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from costmodel import cores, engine, kernel
from costmodel.inputs import ModelInputs
from costmodel.model import assemble, checks, rewards, sharing
from costmodel.model.expressions import Chunk, forget_stratum
from costmodel.outcomes import ModelOutcomes, combine_entries, concatenate_outcomes
from costmodel.parameters import evaluate_parameters
from costmodel.phases import ExpandedPhase, expand_phases, phase_map

CHUNK_BYTES = 192 * 1024 * 1024  # memory bound of one chunk's largest arrays
MAX_CHUNK = 8192  # samples per chunk at most (larger chunks gain nothing measurable)
MIN_THREAD_CHUNK = 256  # smallest chunk when chunks are shared by threads


def run_model(
    inputs: ModelInputs,
    parameters: dict[str, np.ndarray] | None = None,
    *,
    keep_trace: bool = False,
    chunk_size: int | None = None,
    entry_state: str | None = None,
    compiled: bool | None = None,
    threads: int | None = None,
) -> ModelOutcomes:
    """Run every strategy for every parameter sample.

    ``parameters`` maps each parameter name to (n_samples,) values (default: base case).
    ``entry_state`` starts the whole cohort in that first-phase state (as a calibration or a
    subgroup run would). When expressions use ``entry_<state>`` indicators, the cohort is run
    once per entry state and the results are weighted by the initial shares (the model is
    linear in the starting distribution, so this equals one run when indicators play no
    role); per-entry results are kept in ``by_entry``. ``compiled`` chooses the compiled
    kernel (default: when the run is large enough, see :func:`costmodel.kernel.worth_compiling`);
    callers that split one analysis into several runs pass one choice for all of them.
    With the kernel, chunks of samples run on ``threads`` threads (default: one per core;
    callers that run several models on threads of their own pass 1); the kernel and NumPy's
    array work release the GIL, and every cohort is computed on its own, so the result is
    the same bits whatever the threads.
    """
    if parameters is None:
        parameters = evaluate_parameters(inputs)
    if compiled is None:
        compiled = use_compiled(inputs, _n_samples(parameters))
    first_states = {s.key for s in inputs.states_in(inputs.phases[0].key)}
    if entry_state is not None and entry_state not in first_states:
        raise ValueError(f"{entry_state!r} is not a first-phase state")
    by_stratum = entry_state is None and inputs.uses_entry_indicators()
    # one run per entry stratum, weighted by the initial shares; else one run
    entries = inputs.entry_states if by_stratum else (entry_state,)
    shared = SharedPhases.for_run(inputs, len(entries), keep_trace)
    by_entry = _run_chunks(
        inputs, parameters, keep_trace, chunk_size, entries, compiled, shared, threads
    )
    if not by_stratum:
        return by_entry[entry_state]
    return combine_entries(by_entry, entry_shares(inputs, parameters))


@dataclass
class SharedPhases:
    """Phases run once per sample from each of their K states and shared by every strategy
    and entry stratum of a run (see :mod:`costmodel.model.sharing`): used where a sample has
    more than K cohorts. ``responses`` caches each chunk's unit outcomes for the next entry
    stratum (chunks are the same for every stratum) until the chunk is done."""

    keys: frozenset[str]
    responses: dict = field(default_factory=dict)  # (phase, first sample, n) -> unit response

    def forget(self, start: int, size: int) -> None:
        """Drop the unit responses of the chunk of samples ``start`` ... (all its strata have
        run)."""
        for key in self.keys:
            self.responses.pop((key, start, size), None)

    @classmethod
    def for_run(cls, inputs: ModelInputs, n_entries: int, keep_trace: bool) -> SharedPhases:
        """The phases worth sharing in a run of ``n_entries`` entry strata (none when the
        trace is kept: a shared phase has no per-cohort trace)."""
        if keep_trace or len(inputs.phases) < 2:
            return cls(frozenset())
        phases = expand_phases(inputs)
        cohorts = len(inputs.strategies) * n_entries
        free = sharing.strategy_free_phases(inputs, phases)
        return cls(
            frozenset(p.phase.key for p in phases if p.phase.key in free and cohorts > p.n_states)
        )


def start_cost_totals(inputs: ModelInputs, parameters: dict[str, np.ndarray]) -> np.ndarray:
    """One-off start costs of each sample and strategy, (n_samples, n_strategies) [currency
    per patient, at time 0 so the same discounted or not]: the part of a run's cost that
    :func:`run_model` adds before propagating, weighted over entry strata as it weights them.
    The cohort is not propagated."""
    n_samples = _n_samples(parameters)
    phases = expand_phases(inputs)

    def totals(entry: str | None) -> np.ndarray:
        chunk = Chunk(inputs, phases, parameters, n_samples, 0, n_samples, entry)
        phase = chunk.phases[0]
        namespaces = [chunk.namespace(phase, n) for n in range(chunk.n_strategies)]
        x0 = assemble.initial_distribution(chunk, phase, namespaces)
        start = assemble.start_costs(chunk, phase, namespaces, x0)  # (S*N, Z)
        return start.sum(axis=1).reshape(n_samples, chunk.n_strategies)

    if not inputs.uses_entry_indicators():
        return totals(None)
    shares = entry_shares(inputs, parameters)
    return sum(shares[:, :, e] * totals(state) for e, state in enumerate(inputs.entry_states))


def entry_shares(inputs: ModelInputs, parameters: dict[str, np.ndarray]) -> np.ndarray:
    """Initial share of each entry state, (n_samples, n_strategies, n_entry_states)."""
    n_samples = _n_samples(parameters)
    chunk = Chunk(inputs, expand_phases(inputs), parameters, n_samples, 0, n_samples)
    phase = chunk.phases[0]
    namespaces = [chunk.namespace(phase, n) for n in range(chunk.n_strategies)]
    x0 = assemble.initial_distribution(chunk, phase, namespaces)
    columns = [phase.index(e) for e in inputs.entry_states]
    return x0.reshape(n_samples, chunk.n_strategies, -1)[:, :, columns]


def _n_samples(parameters: dict[str, np.ndarray]) -> int:
    return len(next(iter(parameters.values()))) if parameters else 1


def _run_chunks(
    inputs: ModelInputs,
    parameters: dict[str, np.ndarray],
    keep_trace: bool,
    chunk_size: int | None,
    entries: tuple[str | None, ...],
    compiled: bool,
    shared: SharedPhases,
    threads: int | None = None,
) -> dict[str | None, ModelOutcomes]:
    """Outcomes of each entry stratum in ``entries``, chunk by chunk of samples: every
    stratum of a chunk in turn, sharing the expressions they evaluate alike."""
    n_samples = _n_samples(parameters)
    phases = expand_phases(inputs)
    if chunk_size is None:
        chunk_size = default_chunk_size(inputs, phases, compiled, shared.keys)
    workers = (cores.cores() if threads is None else threads) if compiled else 1
    chunk_size = thread_chunk_size(n_samples, chunk_size, workers)
    starts = list(range(0, n_samples, chunk_size))

    def run(start: int) -> dict[str | None, ModelOutcomes]:
        values = {k: np.asarray(v)[start : start + chunk_size] for k, v in parameters.items()}
        size = min(chunk_size, n_samples - start)
        evaluated: dict = {}  # shared by the strata of these samples
        out = {}
        with kernel.kernel_threads(1 if workers > 1 else None):
            for entry in entries:
                chunk = Chunk(inputs, phases, values, size, start, n_samples, entry, evaluated)
                out[entry] = run_chunk(chunk, keep_trace, compiled, shared)
                forget_stratum(evaluated)
        shared.forget(start, size)
        return out

    if workers <= 1 or len(starts) < 2:
        chunks = [run(start) for start in starts]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(starts))) as pool:
            chunks = list(pool.map(run, starts))
    return {e: concatenate_outcomes([c[e] for c in chunks]) for e in entries}


def thread_chunk_size(n_samples: int, chunk_size: int, workers: int) -> int:
    """Samples per chunk when ``workers`` threads share the chunks: at most chunk_size /
    workers (the chunks in flight together take the memory of one) and at least two chunks
    per thread, so that the threads finish together."""
    if workers <= 1:
        return chunk_size
    per_thread = -(-n_samples // (2 * workers))
    return max(MIN_THREAD_CHUNK, min(chunk_size // workers, per_thread))


def model_work(inputs: ModelInputs, n_samples: int) -> int:
    """Cohort × cycle × state updates of a run of ``n_samples`` (all strategies and entry
    strata): the size that decides whether the compiled kernel pays for itself."""
    cohorts = len(inputs.strategies) * max(len(inputs.entry_states), 1)
    per_cohort = sum(p.n_cycles * len(inputs.states_in(p.key)) for p in inputs.phases)
    return n_samples * cohorts * per_cohort


_numpy_only = threading.local()


@contextmanager
def numpy_engine() -> Iterator[None]:
    """Model runs in this block (this thread) use the NumPy path, never the compiled kernel:
    for analyses that may run in a forked process, where numba's thread pool is unusable,
    so that they give the same numbers wherever they run."""
    before = getattr(_numpy_only, "on", False)
    _numpy_only.on = True
    try:
        yield
    finally:
        _numpy_only.on = before


def use_compiled(inputs: ModelInputs, n_samples: int) -> bool:
    """Whether a run of ``n_samples`` is large enough for the compiled kernel, and its
    matrices large enough (batched dense NumPy products win for a handful of states);
    never inside :func:`numpy_engine` or in a forked process."""
    if getattr(_numpy_only, "on", False) or cores.in_forked_child():
        return False
    states = max(p.n_states for p in expand_phases(inputs))
    return states >= kernel.KERNEL_MIN_STATES and kernel.worth_compiling(
        model_work(inputs, n_samples)
    )


def default_chunk_size(
    inputs: ModelInputs,
    phases: tuple[ExpandedPhase, ...],
    compiled: bool,
    shared: frozenset[str] = frozenset(),
) -> int:
    """Samples per chunk so that the largest per-phase arrays, with the evaluated
    expressions a chunk keeps for all its phases, stay within CHUNK_BYTES (see
    :func:`bytes_per_sample`)."""
    largest, kept = bytes_per_sample(inputs, phases, compiled, shared)
    return max(1, min(MAX_CHUNK, CHUNK_BYTES // max(largest + kept, 1)))


def bytes_per_sample(
    inputs: ModelInputs,
    phases: tuple[ExpandedPhase, ...],
    compiled: bool,
    shared: frozenset[str] = frozenset(),
) -> tuple[int, int]:
    """Upper bounds of the memory per sample of a chunk [bytes]: (the largest phase's
    arrays, the evaluated expressions the chunk keeps for all its phases).

    Per cohort and time segment the transition entries (about 3 per state; a dense K × K
    matrix on the NumPy path), six occupancy sums and two reward temporaries per state, and
    the stored trace on the NumPy path (a ``shared`` phase runs K cohorts per sample), on
    the most time segments of any entry stratum. Kept: :meth:`Chunk.kept_bytes_per_sample`
    of every phase and distinct set of segments (values are kept by segments, and a
    stratum with segments of its own adds to what the earlier strata left)."""
    n_strategies = len(inputs.strategies)
    # segments may differ by stratum (an entry indicator times a time variable): a probe each
    entries = inputs.entry_states if inputs.uses_entry_indicators() else (None,)
    probes = [Chunk(inputs, phases, {}, 1, 0, 1, entry) for entry in entries]
    largest = kept = 0
    for p in phases:
        distinct = {probe.segments(p)[0].tobytes(): probe for probe in probes}.values()
        k, segments = p.n_states, max(probe.segments(p)[0].size for probe in distinct)
        transition_entries = 3 * k if compiled else k * k
        trace = 0 if compiled else 2 * (p.phase.n_cycles + 1) * k
        cells = segments * (transition_entries + 8 * k) + trace
        cohorts = k if p.phase.key in shared else n_strategies
        largest = max(largest, cohorts * 8 * cells)
        kept += sum(probe.kept_bytes_per_sample(p) for probe in distinct)
    return largest, kept


@dataclass
class _Totals:
    """Running sums over phases, each (S*N,) or (S*N, ...)."""

    cost_by_category: np.ndarray
    state_time: np.ndarray
    qaly: np.ndarray
    ly: np.ndarray
    ly_u: np.ndarray
    qaly_u: np.ndarray
    cost_u: np.ndarray  # (S*N, n_categories) undiscounted
    traces: list[np.ndarray] = field(default_factory=list)

    SUMMED = ("cost_by_category", "state_time", "qaly", "ly", "ly_u", "qaly_u", "cost_u")

    @classmethod
    def zeros(cls, batch: int, n_categories: int, n_states: int) -> _Totals:
        z = np.zeros
        return cls(
            z((batch, n_categories)),
            z((batch, n_states)),
            *(z(batch) for _ in range(4)),
            z((batch, n_categories)),
        )


def run_chunk(
    chunk: Chunk, keep_trace: bool, compiled: bool = False, shared: SharedPhases | None = None
) -> ModelOutcomes:
    """One chunk of samples through every phase and strategy."""
    inputs = chunk.inputs
    S, N = chunk.n_samples, chunk.n_strategies
    all_states = [s.key for s in inputs.states]
    totals = _Totals.zeros(S * N, len(chunk.categories), len(all_states))
    x0 = None
    for p_index, phase in enumerate(chunk.phases):
        if x0 is not None and shared is not None and phase.phase.key in shared.keys:
            final = _run_shared_phase(chunk, phase, x0, totals, all_states, compiled, shared)
            trace = None
        else:
            namespaces = [chunk.namespace(phase, n) for n in range(N)]
            if x0 is None:
                x0 = assemble.initial_distribution(chunk, phase, namespaces)
                start = assemble.start_costs(chunk, phase, namespaces, x0)  # at time 0
                totals.cost_by_category += start
                totals.cost_u += start
            final, trace = _run_phase(
                chunk, phase, namespaces, x0, totals, all_states, keep_trace, compiled
            )
        if trace is not None:
            agg = phase.aggregation()
            shape = (S, N, phase.phase.n_cycles + 1, -1)
            totals.traces.append(np.einsum("cbk,kd->bcd", trace, agg).reshape(shape))
        if p_index + 1 < len(chunk.phases):
            x0 = final @ phase_map(phase, chunk.phases[p_index + 1])
    outcomes = ModelOutcomes(
        strategies=inputs.strategy_keys,
        categories=chunk.categories,
        state_keys=tuple(all_states),
        cost=totals.cost_by_category.sum(axis=1).reshape(S, N),
        cost_by_category=totals.cost_by_category.reshape(S, N, -1),
        qaly=totals.qaly.reshape(S, N),
        ly=totals.ly.reshape(S, N),
        ly_undiscounted=totals.ly_u.reshape(S, N),
        qaly_undiscounted=totals.qaly_u.reshape(S, N),
        state_time=totals.state_time.reshape(S, N, -1),
        cost_by_category_undiscounted=totals.cost_u.reshape(S, N, -1),
        traces=tuple(totals.traces) if keep_trace else None,
    )
    checks.check_outcomes(chunk, outcomes)
    return outcomes


def _run_shared_phase(
    chunk: Chunk,
    phase: ExpandedPhase,
    x0: np.ndarray,
    totals: _Totals,
    all_states: list[str],
    compiled: bool,
    shared: SharedPhases,
) -> np.ndarray:
    """A phase that no strategy or entry stratum changes: its outcomes from each state (once
    per chunk of samples, cached for the other strata) weighted by the cohort's start
    distribution x0 (S*N, K); returns the final distribution (S*N, K)."""
    key = (phase.phase.key, chunk.sample_offset, chunk.n_samples)
    if key not in shared.responses:
        shared.responses[key] = _unit_response(chunk, phase, all_states, compiled)
    unit, unit_final = shared.responses[key]
    if unit is None:  # a problem in the phase: the direct run names the sample and strategy
        N = chunk.n_strategies
        namespaces = [chunk.namespace(phase, n) for n in range(N)]
        return _run_phase(chunk, phase, namespaces, x0, totals, all_states, False, compiled)[0]
    S, N, K = chunk.n_samples, chunk.n_strategies, phase.n_states
    start = x0.reshape(S, N, K)
    for name in _Totals.SUMMED:
        target = getattr(totals, name)
        outcome = getattr(unit, name).reshape(S, K, -1)
        target += np.einsum("snk,skd->snd", start, outcome).reshape(target.shape)
    return np.einsum("snk,skj->snj", start, unit_final.reshape(S, K, K)).reshape(S * N, K)


def _unit_response(
    chunk: Chunk, phase: ExpandedPhase, all_states: list[str], compiled: bool
) -> tuple[_Totals | None, np.ndarray | None]:
    """Outcomes (S*K rows) and final distributions (S*K, K) of unit cohorts starting in each
    of the phase's K states, with the first strategy's inputs (the phase's inputs are the
    same for all); (None, None) when the cohort's mass is not conserved."""
    unit = chunk.first_strategy_only()
    values = assemble.phase_values(unit, phase, [unit.namespace(phase, 0)])
    starts, segment = unit.segments(phase)
    sparse = assemble.sparse_transitions(unit, phase, values, starts, segment)
    S, K = unit.n_samples, phase.n_states
    x0 = np.tile(np.eye(K), (S, 1))
    weights = phase_weights(unit, phase, segment, False)
    varying = rewards.varying_rates(unit, phase, values.costs, values.utilities, starts.size, K)
    rates = None if varying is None else varying.rates
    sums = kernel.phase_sums(x0, sparse, weights, False, compiled, K, rates, keep_occupied=False)
    if not checks.mass_conserved(sums.final):
        return None, None
    totals = _Totals.zeros(S * K, len(unit.categories), len(all_states))
    add_state_rewards(unit, phase, values, sums, varying, totals, all_states)
    return totals, sums.final


def _run_phase(
    chunk: Chunk,
    phase: ExpandedPhase,
    namespaces: list,
    x0: np.ndarray,
    totals: _Totals,
    all_states: list[str],
    keep_trace: bool,
    compiled: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Propagate the cohort through one phase and add its rewards to ``totals``; returns the
    final distribution (S*N, K) and, with ``keep_trace``, the trace (n_cycles + 1, S*N, K).

    A strategy whose cohort is identical in this phase to an earlier one's (the MSC arms that
    treat only early patients are standard care in the ventilated stratum) is not assembled,
    propagated or rewarded again: its rows are copies of the earlier strategy's."""
    values = assemble.phase_values(chunk, phase, namespaces)
    same_as = identical_strategies(chunk, values, x0)
    if same_as is None:
        return _run_phase_values(chunk, phase, values, x0, totals, all_states, keep_trace, compiled)
    S, N = chunk.n_samples, chunk.n_strategies
    kept = np.flatnonzero(same_as == np.arange(N))
    rows = (np.arange(S)[:, None] * N + kept[None, :]).ravel()
    distinct = _Totals.zeros(rows.size, len(chunk.categories), len(all_states))
    final, trace = _run_phase_values(
        chunk.with_strategies(kept),
        phase,
        values.for_strategies(kept),
        x0[rows],
        distinct,
        all_states,
        keep_trace,
        compiled,
    )
    back = (np.arange(S)[:, None] * kept.size + np.searchsorted(kept, same_as)[None, :]).ravel()
    for name in _Totals.SUMMED:
        getattr(totals, name)[...] += getattr(distinct, name)[back]
    return final[back], None if trace is None else trace[:, back]


def _run_phase_values(
    chunk: Chunk,
    phase: ExpandedPhase,
    values: assemble.PhaseValues,
    x0: np.ndarray,
    totals: _Totals,
    all_states: list[str],
    keep_trace: bool,
    compiled: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`_run_phase` from the phase's evaluated expressions, every cohort propagated."""
    starts, segment = chunk.segments(phase)
    sparse = assemble.sparse_transitions(chunk, phase, values, starts, segment)
    rewarded = values.transition_costs is not None
    weights = phase_weights(chunk, phase, segment, rewarded)
    varying = rewards.varying_rates(chunk, phase, values.costs, values.utilities, starts.size)
    rates = None if varying is None else varying.rates
    if rewarded:  # after the state rewards' columns: the transition rewards' (Z + 1)
        one_off = rewards.transition_rates(
            chunk,
            phase,
            values.transition_costs,
            values.transition_qalys,
            values.reward_entries,
            sparse,
        )
        if rates is not None:
            one_off = np.concatenate([rates.per_cohort(len(one_off)), one_off], axis=3)
        rates = kernel.RewardRates(one_off, 1, len(one_off))
    sums = kernel.phase_sums(
        x0, sparse, weights, keep_trace, compiled, rates=rates, keep_occupied=False
    )
    checks.check_final(chunk, sums.final, phase, lambda: engine.propagate(x0, sparse))
    add_state_rewards(chunk, phase, values, sums, varying, totals, all_states)
    if rewarded:  # the start-of-cycle flows (weight sets 3 to 5) × the transition rates
        Z = len(chunk.categories)
        flow_cost, flow_out, flow_u = sums.rewarded[3:, :, -(Z + 1) :]
        totals.cost_by_category += flow_cost[:, :Z]
        totals.qaly += flow_out[:, Z]
        totals.qaly_u += flow_u[:, Z]
        totals.cost_u += flow_u[:, :Z]
    return sums.final, sums.trace


def identical_strategies(
    chunk: Chunk, values: assemble.PhaseValues, x0: np.ndarray
) -> np.ndarray | None:
    """For each strategy, the first strategy whose cohort in this phase is the same for every
    sample of the chunk (start distribution and every evaluated expression: transition
    probabilities, state and transition rewards), or None when no two are the same. Exact:
    arrays compared as evaluated (the same numbers in another shape count as different)."""
    S, N = chunk.n_samples, chunk.n_strategies
    if N < 2:
        return None
    start = x0.reshape(S, N, -1)
    per_strategy = [values.costs, values.utilities]
    if values.transition_costs is not None:
        per_strategy += [values.transition_costs, values.transition_qalys]

    def equal(a: np.ndarray, b: np.ndarray) -> bool:
        return a is b or (a.shape == b.shape and bool((a == b).all()))

    def same(n: int, m: int) -> bool:
        p, q = values.probabilities[n], values.probabilities[m]
        return (
            np.array_equal(start[:, n], start[:, m])
            and p.keys() == q.keys()
            and all(equal(p[e], q[e]) for e in p)
            and all(
                len(items[n]) == len(items[m])
                and all(equal(a, b) for a, b in zip(items[n], items[m], strict=True))
                for items in per_strategy
            )
        )

    same_as = np.arange(N)
    for n in range(1, N):
        same_as[n] = next((m for m in range(n) if same_as[m] == m and same(n, m)), n)
    return same_as if (same_as != np.arange(N)).any() else None


def phase_weights(
    chunk: Chunk, phase: ExpandedPhase, segment: np.ndarray, rewarded: bool
) -> np.ndarray:
    """(M, U, n_cycles + 1) weights of each time point in each segment: occupancy discounted
    for costs, for outcomes and undiscounted, then (with one-off transition rewards) the
    start-of-cycle flows discounted when they occur, in the same three ways."""
    settings = chunk.inputs.settings
    times = phase.time_points()
    method = settings.within_cycle_correction
    timing = engine.discount_timing(method, settings.discount_timing)
    n = phase.phase.n_cycles
    a, b = engine.correction_weights(method, n)
    rates = (settings.discount_rate_costs, settings.discount_rate_outcomes, 0.0)
    weights = [
        engine.occupancy_weights(a, b, engine.discount_factors(r, times), segment, timing)
        for r in rates
    ]
    if rewarded:  # one-off transition rewards: start-of-cycle flows, discounted when they occur
        when = engine.transition_discount_times(method, times[:-1], times[1:], timing)
        factor = engine.transition_flow_factors(method, n)
        weights += [
            engine.flow_weights(factor * engine.discount_factors(r, when), segment) for r in rates
        ]
    return np.stack(weights)


def add_state_rewards(
    chunk: Chunk,
    phase: ExpandedPhase,
    values: assemble.PhaseValues,
    sums: kernel.PhaseSums,
    varying: rewards.VaryingRewards | None,
    totals: _Totals,
    all_states: list[str],
) -> None:
    """Add costs, QALYs, LYs and time in state to ``totals`` from the phase's sums: weight
    sets 0 to 2 are occupancy discounted for costs, for outcomes, and undiscounted, summed
    over the segments, and occupancy × the ``varying`` rewards (those that change over
    time)."""
    Z, h = len(chunk.categories), phase.phase.cycle_years
    sum_cost, sum_out, sum_u = sums.over_segments[:3]
    cost_cost = cost_u = utility_out = utility_u = None
    if varying is not None:  # columns: cost categories, then utility
        by_column = varying.sums(sums.rewarded[:3, :, : len(varying.columns)], Z + 1)
        cost_cost, _, cost_u = by_column[:, :, :Z]
        _, utility_out, utility_u = by_column[:, :, Z:]
    alive = np.array([phase.states[i].alive for i in phase.state_of], dtype=float)
    state_sums = rewards.state_reward_sums
    totals.cost_by_category += state_sums(
        chunk, phase, values.costs, sum_cost, cost_cost, Z, "cost"
    )
    totals.cost_u += state_sums(chunk, phase, values.costs, sum_u, cost_u, Z, "cost")
    for summed, varying, total in (
        (sum_out, utility_out, totals.qaly),
        (sum_u, utility_u, totals.qaly_u),
    ):
        total += state_sums(chunk, phase, values.utilities, summed, varying, 1, "utility")[:, 0] * h
    totals.ly += sum_out @ alive * h
    totals.ly_u += sum_u @ alive * h
    columns = [all_states.index(s.key) for s in phase.states]
    totals.state_time[:, columns] += sum_u @ phase.aggregation() * h
