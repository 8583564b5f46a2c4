"""Numerical core of the cohort model: propagation, within-cycle weights, discounting.

Arrays are batched over a leading axis B (samples × strategies flattened by the caller).
Transition probabilities come as sparse entries: ``values`` shaped (B, C, E) for E entries
(from-state ``rows[e]``, to-state ``cols[e]``) and C = 1 (time-homogeneous) or n_cycles.
Python loops run over cycles only.

Within-cycle correction (per cycle k = 1..n of a phase, occupancy x_{k-1} at its start and
x_k at its end, discount factors d at the same time points): the reward of cycle k is
``r_k * (a_k * x_{k-1} * d_{k-1} + b_k * x_k * d_k)`` where r_k is the reward per cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAYS_PER_YEAR = 365.25


def correction_weights(method: str, n_cycles: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (a, b) on start- and end-of-cycle occupancy, each shape (n_cycles,).

    - ``none-start``: a = 1, b = 0 (state at the start of each cycle counts for the cycle).
    - ``none-end`` and ``dmhee``: a = 0, b = 1 (state after each transition counts; with the
      end-of-cycle discount factor this is Briggs, Claxton & Sculpher's convention).
    - ``half-cycle``: end-of-cycle counting plus half a cycle of the starting cohort minus
      half a cycle of the final cohort (Sonnenberg & Beck 1993): a_1 = 1/2, b_n = 1/2.
    - ``trapezoid``: a = b = 1/2 for every cycle (Elbasha & Chhatwal 2016).
    - ``simpson``: composite Simpson's 1/3 rule over the phase's time points (3/8 rule on
      the last three cycles when n is odd, trapezoid when n = 1); each interior point's
      weight is split equally between the two cycles it bounds.
    All methods integrate a constant occupancy exactly: sum(a + b) = n_cycles.
    """
    n = n_cycles
    a, b = np.zeros(n), np.zeros(n)
    if method == "none-start":
        a[:] = 1.0
    elif method in ("none-end", "dmhee"):
        b[:] = 1.0
    elif method == "half-cycle":
        b[:] = 1.0
        a[0] += 0.5
        b[-1] -= 0.5
    elif method == "trapezoid":
        a[:] = b[:] = 0.5
    elif method == "simpson":
        w = simpson_point_weights(n)
        a[:] = w[:-1] / 2.0
        b[:] = w[1:] / 2.0
        a[0] = w[0]
        b[-1] = w[-1]
    else:
        raise ValueError(f"unknown within-cycle correction {method!r}")
    return a, b


def simpson_point_weights(n_cycles: int) -> np.ndarray:
    """Composite Simpson weights on the n+1 time points, in units of one cycle."""
    n = n_cycles
    w = np.zeros(n + 1)
    if n == 1:
        w[:] = 0.5
        return w
    even = n if n % 2 == 0 else n - 3
    if even > 0:
        w[0 : even + 1 : 2] += 2.0 / 3.0
        w[1:even:2] += 4.0 / 3.0
        w[0] -= 1.0 / 3.0
        w[even] -= 1.0 / 3.0
    if even != n:
        w[even : n + 1] += np.array([3.0, 9.0, 9.0, 3.0]) / 8.0
    return w


def discount_factors(rate_per_year: float, times_years: np.ndarray) -> np.ndarray:
    """(1 + rate)^-t for elapsed times t in years (never by cycle index)."""
    return np.power(1.0 + rate_per_year, -np.asarray(times_years, dtype=float))


def transition_discount_times(method: str, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """When one-off transition rewards of each cycle are discounted: the end of the cycle for
    end-of-cycle counting, its start for ``none-start``, its middle otherwise."""
    if method in ("none-end", "dmhee"):
        return end
    if method == "none-start":
        return start
    return (start + end) / 2.0


@dataclass(frozen=True)
class SparseTransitions:
    """Per-cycle transition probabilities as entries of a K × K matrix."""

    rows: np.ndarray  # (E,) from-state index
    cols: np.ndarray  # (E,) to-state index
    values: np.ndarray  # (B, C, E) probability per cycle; C = 1 or n_cycles
    n_states: int

    def matrix(self, cycle: int) -> np.ndarray:
        """Dense (B, K, K) matrix of the cycle (0-based)."""
        c = cycle if self.values.shape[1] > 1 else 0
        batch = self.values.shape[0]
        P = np.zeros((batch, self.n_states, self.n_states))
        P[:, self.rows, self.cols] = self.values[:, c, :]
        return P

    def row_sums(self) -> np.ndarray:
        """(B, C, K) sum of each matrix row."""
        indicator = np.zeros((self.rows.size, self.n_states))
        indicator[np.arange(self.rows.size), self.rows] = 1.0
        return self.values @ indicator


def propagate(x0: np.ndarray, transitions: SparseTransitions, n_cycles: int) -> np.ndarray:
    """Cohort trace (B, n_cycles + 1, K) from start distribution x0 (B, K)."""
    batch, k = x0.shape
    trace = np.empty((batch, n_cycles + 1, k))
    trace[:, 0] = x0
    homogeneous = transitions.values.shape[1] == 1
    P = transitions.matrix(0) if homogeneous else None
    x = x0[:, None, :]
    for c in range(n_cycles):
        if not homogeneous:
            P = transitions.matrix(c)
        x = np.matmul(x, P)
        trace[:, c + 1] = x[:, 0]
    return trace


def occupancy_weights(
    trace: np.ndarray, a: np.ndarray, b: np.ndarray, discount: np.ndarray
) -> np.ndarray:
    """Cycles of occupancy credited to each cycle and state, (B, n, K), discounted.

    ``discount`` holds the factors at the n + 1 time points of the phase.
    """
    start = (a * discount[:-1])[None, :, None] * trace[:, :-1]
    end = (b * discount[1:])[None, :, None] * trace[:, 1:]
    return start + end


def accumulate_state_rewards(occupancy: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """Sum over cycles and states of occupancy (B, n, K) × reward per cycle.

    ``reward`` is (B, C, K, ...) with C = 1 (constant over cycles) or n; returns (B, ...).
    """
    if reward.shape[1] == 1:
        return np.einsum("bk,bk...->b...", occupancy.sum(axis=1), reward[:, 0])
    return np.einsum("bnk,bnk...->b...", occupancy, reward)


def accumulate_transition_rewards(
    trace: np.ndarray,
    transitions: SparseTransitions,
    reward: np.ndarray,
    discount: np.ndarray,
) -> np.ndarray:
    """One-off rewards on transitions: sum over cycles of flow × reward × discount.

    ``reward`` (B, C, E, ...) is the reward per unit of cohort making the transition;
    ``discount`` (n,) the factor applied to each cycle's transitions. Returns (B, ...).
    """
    start = trace[:, :-1][:, :, transitions.rows]  # (B, n, E) occupancy of the from-state
    flow = start * transitions.values * discount[None, :, None]
    if reward.shape[1] == 1:
        return np.einsum("be,be...->b...", flow.sum(axis=1), reward[:, 0])
    return np.einsum("bne,bne...->b...", flow, reward)
