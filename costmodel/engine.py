"""Numerical core of the cohort model: propagation, within-cycle weights, discounting.

Arrays are batched over a leading axis B (samples × strategies flattened by the caller).
A phase's cycles are grouped into segments over which every input is constant; transition
probabilities come as sparse entries ``values`` shaped (B, U, E) for U segments and E
entries (from-state ``rows[e]``, to-state ``cols[e]``). Python loops run over cycles only.

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
    - ``darth-simpson``: the point weights of DARTH's ``gen_wcc(n, "Simpson1/3")``
      (:func:`darth_simpson_point_weights`), split like ``simpson``.
    - ``heemod-life-table``, ``heemod-beginning``, ``heemod-end``: heemod's counts of cycle
      k (heemod >= 0.14): the mean of x_{k-1} and x_k, x_{k-1}, x_k.
    All methods but ``darth-simpson`` (with odd n) integrate a constant occupancy exactly:
    sum(a + b) = n_cycles.
    """
    n = n_cycles
    a, b = np.zeros(n), np.zeros(n)
    if method in ("none-start", "heemod-beginning"):
        a[:] = 1.0
    elif method in ("none-end", "dmhee", "heemod-end"):
        b[:] = 1.0
    elif method == "half-cycle":
        b[:] = 1.0
        a[0] += 0.5
        b[-1] -= 0.5
    elif method in ("trapezoid", "heemod-life-table"):
        a[:] = b[:] = 0.5
    elif method in ("simpson", "darth-simpson"):
        w = simpson_point_weights(n) if method == "simpson" else darth_simpson_point_weights(n)
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


def darth_simpson_point_weights(n_cycles: int) -> np.ndarray:
    """DARTH's ``gen_wcc(n, "Simpson1/3")`` weights on the time points t = 0..n: 1/3 at both
    ends, 2/3 at odd and 4/3 at even interior t (Alarid-Escudero et al., Med Decis Making
    2023). With odd n the weights do not sum to n (75 cycles: 74.667), as in the source."""
    t = np.arange(n_cycles + 1)
    w = np.where(t % 2 == 1, 2.0 / 3.0, 4.0 / 3.0)
    w[0] = w[-1] = 1.0 / 3.0
    return w


DISCOUNT_TIMINGS = ("method", "time-point", "cycle-start", "cycle-end")  # Settings choices
HEEMOD_METHODS = ("heemod-life-table", "heemod-beginning", "heemod-end")


def discount_timing(method: str, timing: str) -> str:
    """The discount timing used: ``timing`` unless it is ``method`` (the method's own: the
    heemod methods discount each cycle's value at the cycle's start, heemod's
    ``discount(first = FALSE)``; the others each time point at its own time)."""
    if timing != "method":
        return timing
    return "cycle-start" if method in HEEMOD_METHODS else "time-point"


def discount_factors(rate_per_year: float, times_years: np.ndarray) -> np.ndarray:
    """(1 + rate)^-t for elapsed times t in years (never by cycle index)."""
    return np.power(1.0 + rate_per_year, -np.asarray(times_years, dtype=float))


def transition_discount_times(
    method: str, start: np.ndarray, end: np.ndarray, timing: str = "method"
) -> np.ndarray:
    """When one-off transition rewards of each cycle are discounted: at the cycle's start or
    end when ``timing`` says so; else the end of the cycle for end-of-cycle counting and
    ``darth-simpson`` (DARTH counts a cycle's flows at its end point), its start for
    ``none-start``, its middle otherwise."""
    timing = discount_timing(method, timing)
    if timing == "cycle-start" or (timing == "time-point" and method == "none-start"):
        return start
    if timing == "cycle-end" or method in ("none-end", "dmhee", "darth-simpson"):
        return end
    return (start + end) / 2.0


def transition_flow_factors(method: str, n_cycles: int) -> np.ndarray:
    """(n_cycles,) factor on each cycle's one-off transition rewards: 1, except with
    ``darth-simpson``, where DARTH weights the flows of the cycle ending at t by the
    within-cycle weight of time point t."""
    if method == "darth-simpson":
        return darth_simpson_point_weights(n_cycles)[1:]
    return np.ones(n_cycles)


@dataclass(frozen=True)
class SparseTransitions:
    """Per-cycle transition probabilities as entries of a K × K matrix, by segment."""

    rows: np.ndarray  # (E,) from-state index
    cols: np.ndarray  # (E,) to-state index
    values: np.ndarray  # (B, U, E) probability per cycle in each segment
    n_states: int
    segment: np.ndarray  # (n_cycles,) segment of each cycle

    def matrix(self, segment: int) -> np.ndarray:
        """Dense (B, K, K) matrix of one segment."""
        batch = self.values.shape[0]
        P = np.zeros((batch, self.n_states, self.n_states))
        P[:, self.rows, self.cols] = self.values[:, segment, :]
        return P

    def row_sums(self) -> np.ndarray:
        """(B, U, K) sum of each matrix row."""
        indicator = np.zeros((self.rows.size, self.n_states))
        indicator[np.arange(self.rows.size), self.rows] = 1.0
        return self.values @ indicator


def propagate(x0: np.ndarray, transitions: SparseTransitions) -> np.ndarray:
    """Cohort trace (n_cycles + 1, B, K) from start distribution x0 (B, K).

    Cycle-major layout: each cycle is one contiguous write, and occupancy weights contract
    the cycle axis in a single matrix product.
    """
    n_cycles = transitions.segment.size
    batch, k = x0.shape
    trace = np.empty((n_cycles + 1, batch, k))
    trace[0] = x0
    current, P = -1, None
    # Batched vector-matrix products: einsum beats matmul's per-matrix overhead for tiny K.
    step = _step_einsum if k <= SMALL_STATE_COUNT else _step_matmul
    for c in range(n_cycles):
        if transitions.segment[c] != current:
            current = int(transitions.segment[c])
            P = transitions.matrix(current)
        trace[c + 1] = step(trace[c], P)
    return trace


SMALL_STATE_COUNT = 6


def _step_einsum(x: np.ndarray, P: np.ndarray) -> np.ndarray:
    return np.einsum("bk,bkj->bj", x, P)


def _step_matmul(x: np.ndarray, P: np.ndarray) -> np.ndarray:
    return np.matmul(x[:, None, :], P)[:, 0]


def occupancy_weights(
    a: np.ndarray,
    b: np.ndarray,
    discount: np.ndarray,
    segment: np.ndarray,
    timing: str = "time-point",
) -> np.ndarray:
    """(U, n + 1) weights turning a trace into discounted cycles of occupancy per segment.

    Row u sums, over the cycles k of segment u, a_k d on time point k-1 and b_k d' on time
    point k; ``discount`` holds the factors at the n + 1 time points. ``timing``
    ``time-point``: d = d_{k-1}, d' = d_k (each point discounted at its own time);
    ``cycle-start``: both d_{k-1}; ``cycle-end``: both d_k.
    """
    n = segment.size
    at_start = discount[1:] if timing == "cycle-end" else discount[:-1]
    at_end = discount[:-1] if timing == "cycle-start" else discount[1:]
    weights = np.zeros((int(segment[-1]) + 1, n + 1))
    np.add.at(weights, (segment, np.arange(n)), a * at_start)
    np.add.at(weights, (segment, np.arange(1, n + 1)), b * at_end)
    return weights


def flow_weights(discount: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """(U, n + 1) weights summing start-of-cycle occupancy × the cycle's discount factor per
    segment, for one-off transition rewards (the last time point gets weight 0)."""
    n = segment.size
    weights = np.zeros((int(segment[-1]) + 1, n + 1))
    np.add.at(weights, (segment, np.arange(n)), discount)
    return weights


def occupancy(trace: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted occupancy per segment and state, (B, U, K), from a trace (n + 1, B, K): one
    matrix product over all samples and states."""
    points, batch, k = trace.shape
    product = weights @ trace.reshape(points, batch * k)  # (U, B*K)
    return product.reshape(-1, batch, k).transpose(1, 0, 2)
