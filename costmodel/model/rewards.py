"""State rewards summed from occupancy, item by item, without stacking the reward arrays.

Most reward cells are constants (a state's cost in a category it does not incur is 0): each
reward constant over time is multiplied into the occupancy summed over the segments as it is,
(samples or 1, 1), and zero constants are skipped. Rewards that change over the segments
(utilities by age) become rates (:func:`varying_rates`) that the propagation sums with the
occupancy of each segment (:class:`costmodel.kernel.RewardRates`), so that the occupancy per
segment is never stored. One-off transition rewards become rates on the states they leave
(:func:`transition_rates`), summed with the start-of-cycle flows in the same way.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from costmodel.engine import SparseTransitions
from costmodel.kernel import RewardRates
from costmodel.model import checks
from costmodel.model.expressions import Chunk
from costmodel.phases import ExpandedPhase


class VaryingRewards(NamedTuple):
    """State rewards that change over the segments: ``rates`` for the propagation, whose
    columns are ``columns`` of (cost categories..., utility)."""

    rates: RewardRates
    columns: tuple[int, ...]

    def sums(self, rewarded: np.ndarray, n_columns: int) -> np.ndarray:
        """The propagation's sums (M, B, len(columns)) in all ``n_columns`` columns (zero
        where no reward changes over time)."""
        out = np.zeros((*rewarded.shape[:2], n_columns))
        out[:, :, list(self.columns)] = rewarded
        return out


def varying_rates(
    chunk: Chunk,
    phase: ExpandedPhase,
    costs: list[list[np.ndarray]],
    utilities: list[list[np.ndarray]],
    n_segments: int,
    group: int = 1,
) -> VaryingRewards | None:
    """The state rewards that change over the phase's segments as rates (rows, U, K, C) for
    the C columns of (cost categories [currency per cycle]..., utility [per year]) where one
    does, zero where a reward is constant; None when every reward is constant over time.

    ``costs[n][k * Z + z]`` and ``utilities[n][k]`` as :func:`state_reward_sums` takes them;
    ``group`` cohorts in a row per sample and strategy. Rows per sample and strategy when a
    changing reward depends on the sample, else one per strategy."""
    S, N, K, Z = chunk.n_samples, len(costs), phase.n_states, len(chunk.categories)
    varying = []  # (strategy, state, column, value, what)
    for n in range(N):
        varying += [(n, *divmod(i, Z), v, "cost") for i, v in enumerate(costs[n]) if v.shape[1] > 1]
        varying += [(n, k, Z, v, "utility") for k, v in enumerate(utilities[n]) if v.shape[1] > 1]
    if not varying:
        return None
    columns = tuple(sorted({column for _, _, column, _, _ in varying}))
    by_sample = any(value.shape[0] > 1 for *_, value, _ in varying)
    rates = np.zeros((S if by_sample else 1, N, n_segments, K, len(columns)))
    for n, k, column, value, what in varying:
        checks.check_finite(chunk, phase, value, what, strategy=n)
        rates[:, n, :, k, columns.index(column)] = value
    rows = rates.shape[0] * N
    values = rates.reshape(rows, n_segments, K, len(columns))
    return VaryingRewards(RewardRates(values, group, rows), columns)


def state_reward_sums(
    chunk: Chunk,
    phase: ExpandedPhase,
    per_strategy: list[list[np.ndarray]],
    over_segments: np.ndarray,
    varying: np.ndarray | None,
    items_per_state: int,
    what: str,
) -> np.ndarray:
    """Σ over segments and states of occupancy × reward, (S*N*G, items_per_state).

    ``per_strategy[n][k * items_per_state + z]`` is the reward of expanded state k, item z
    (a cost category, or the single utility), per cycle, shape (samples or 1, segments or 1);
    ``over_segments`` (S*N*G, K) the weighted occupancy of each state summed over the
    segments, G cohorts per sample and strategy (G > 1: cohorts from different start states,
    one set of rewards). Rewards constant over time are summed here; ``varying`` (S*N*G,
    items_per_state) is the part of the rewards that change over the segments, summed by the
    propagation (None: there are none).
    """
    S, N = chunk.n_samples, len(per_strategy)
    K = over_segments.shape[1]
    over_segments = over_segments.reshape(S, N, -1, K)
    G = over_segments.shape[2]
    out = np.zeros((S, N, G, items_per_state))
    for n, items in enumerate(per_strategy):
        for i, value in enumerate(items):
            if value.shape[1] > 1 or (value.size == 1 and value.flat[0] == 0.0):
                continue  # changing over time: in ``varying``; or zero
            checks.check_finite(chunk, phase, value, what, strategy=n)
            k, z = divmod(i, items_per_state)
            out[:, n, :, z] += over_segments[:, n, :, k] * value[:, :1]
    out = out.reshape(S * N * G, items_per_state)
    if varying is not None:
        out += varying
    return out


def transition_rates(
    chunk: Chunk,
    phase: ExpandedPhase,
    transition_costs: list[list[np.ndarray]],
    transition_qalys: list[list[np.ndarray]],
    reward_entries: np.ndarray,
    transitions: SparseTransitions,
) -> np.ndarray:
    """One-off transition rewards as rates on the state they leave, (S*N, U, K, Z + 1): the
    cost categories [currency per transition], then the QALYs. Within a segment a cohort
    moving along entry e (from state k) makes occupancy[k] × P[e] transitions, so the rate
    of state k is Σ over its rewarded entries of P[e] × reward[e]; summed with the
    start-of-cycle flows (discounted when the transitions occur) they give the rewards.

    ``transition_costs[n][i * Z + z]`` and ``transition_qalys[n][i]``: the reward of
    ``reward_entries[i]`` for strategy n, (samples or 1, segments or 1)."""
    S, N, Z = chunk.n_samples, len(transition_costs), len(chunk.categories)
    _, U, _ = transitions.values.shape
    probability = transitions.values.reshape(S, N, U, -1)
    rates = np.zeros((S, N, U, transitions.n_states, Z + 1))
    for n in range(N):
        for i, e in enumerate(reward_entries):
            k = transitions.rows[e]
            items = [(z, transition_costs[n][i * Z + z], "transition cost") for z in range(Z)]
            items.append((Z, transition_qalys[n][i], "transition qaly"))
            for column, value, what in items:
                if value.size == 1 and value.flat[0] == 0.0:
                    continue
                checks.check_finite(chunk, phase, value, what, strategy=n)
                rates[:, n, :, k, column] += probability[:, n, :, e] * value
    return rates.reshape(S * N, U, transitions.n_states, Z + 1)
