"""State rewards summed from occupancy, item by item, without stacking the reward arrays.

Most reward cells are constants (a state's cost in a category it does not incur is 0), so
each evaluated reward is multiplied into the occupancy sums as it is, (samples or 1,
segments or 1), and zero constants are skipped.
"""

from __future__ import annotations

import numpy as np

from costmodel.model import checks
from costmodel.model.expressions import Chunk
from costmodel.phases import ExpandedPhase


def state_reward_sums(
    chunk: Chunk,
    phase: ExpandedPhase,
    per_strategy: list[list[np.ndarray]],
    occupied: np.ndarray,
    items_per_state: int,
    what: str,
    over_segments: np.ndarray | None = None,
) -> np.ndarray:
    """Σ over segments and states of occupancy × reward, (S*N*G, items_per_state).

    ``per_strategy[n][k * items_per_state + z]`` is the reward of expanded state k, item z
    (a cost category, or the single utility), per cycle, shape (samples or 1, segments or 1);
    ``occupied`` (S*N*G, U, K) the weighted occupancy of each segment and state, G cohorts
    per sample and strategy (G > 1: cohorts from different start states, one set of rewards).
    ``over_segments``: ``occupied`` summed over segments (S*N*G, K), when already computed.
    """
    S, N = chunk.n_samples, len(per_strategy)
    _, U, K = occupied.shape
    occ = occupied.reshape(S, N, -1, U, K)
    G = occ.shape[2]
    if over_segments is None:
        over_segments = occupied.sum(axis=1)
    over_segments = over_segments.reshape(S, N, G, K)  # for rewards constant over time
    out = np.zeros((S, N, G, items_per_state))
    for n, items in enumerate(per_strategy):
        varying = None  # rewards that change over the segments, (S, U, K, items) for one sum
        for i, value in enumerate(items):
            if value.size == 1 and value.flat[0] == 0.0:
                continue
            checks.check_finite(chunk, phase, value, what, strategy=n)
            k, z = divmod(i, items_per_state)
            if value.shape[1] == 1:
                out[:, n, :, z] += over_segments[:, n, :, k] * value[:, :1]
            else:
                if varying is None:
                    varying = np.zeros((S, U, K, items_per_state))
                varying[:, :, k, z] = value
        if varying is not None:
            out[:, n] += np.einsum("sguk,sukz->sgz", occ[:, n], varying)
    return out.reshape(S * N * G, items_per_state)
