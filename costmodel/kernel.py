"""Compiled cohort propagation and occupancy sums (numba), with the NumPy path as oracle.

One phase of a batch of cohorts: propagate the start distribution x0 (B, K) through the
sparse per-segment transition entries and sum the weighted occupancy of every time point
into (segment, state) cells for M weight sets (discounted for costs, for outcomes,
undiscounted, one-off flows...). The compiled kernel never stores the trace (unless asked),
visits only the E non-zero entries of each matrix, and runs the cohorts of the batch on all
cores (in a forked process: its serial form, the same arithmetic; the numba code is in
:mod:`costmodel.kernel_compiled`); each cohort is computed independently, so results do not
depend on the batch size, the chunking, the threads or the process. The sums over segments
come with the occupancy (:class:`PhaseSums`). :func:`phase_sums_numpy` computes the same with
dense NumPy products (the tested oracle, and the path when numba is absent or the batch is
small enough that compiling would cost more than it saves).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import NamedTuple

import numpy as np

from costmodel import cores, engine, interrupts

# Below this much work (cohorts × cycles × states over a whole model run) the NumPy path is
# used: it needs no compiled code (numba's import and cache load take ~0.5 s, more than a
# small run). The choice is made once per run, never per chunk, so that results do not
# depend on how the samples are chunked.
KERNEL_MIN_WORK = 1_000_000
# With fewer (expanded) states than this, batched dense NumPy products beat the per-cohort
# kernel (measured: the 4-state HIV model, 10,000 samples, 19 ms NumPy against 30 ms).
KERNEL_MIN_STATES = 8
ENGINE_ENV = "COSTMODEL_ENGINE"  # "numpy" forces the NumPy path (for checks and debugging)


def worth_compiling(work: int) -> bool:
    """Whether a model run of ``work`` cohort × cycle × state updates uses the kernel."""
    return work >= KERNEL_MIN_WORK and _compiled() is not None


class PhaseSums(NamedTuple):
    """What a phase's propagation gives (B cohorts, M weight sets, U segments, K states)."""

    occupied: np.ndarray | None  # (M, B, U, K) weighted occupancy per segment, when kept
    final: np.ndarray  # (B, K) distribution at the end of the phase
    trace: np.ndarray | None  # (n + 1, B, K) when asked for
    over_segments: np.ndarray  # (M, B, K) occupied summed over the segments (u in order)
    rewarded: np.ndarray | None = None  # (M, B, R) occupied × reward rates, with rates


class RewardRates(NamedTuple):
    """Reward rates per time segment and state, (rows, U, K, R) for R rewards, that the
    propagation sums with the occupancy: Σ over segments and states of occupancy × rate, per
    cohort and weight set. Cohort b uses row (b // divisor) % modulus: divisor = the cohorts
    that share a row of transitions, modulus = the rows (the strategies' rows repeat for
    every sample when the rates do not depend on the sample)."""

    values: np.ndarray
    divisor: int = 1
    modulus: int = 1

    def per_cohort(self, batch: int) -> np.ndarray:
        """(B, U, K, R): each cohort's row."""
        return self.values[(np.arange(batch) // self.divisor) % self.modulus]


def phase_sums(
    x0: np.ndarray,
    transitions: engine.SparseTransitions,
    weights: np.ndarray,
    keep_trace: bool = False,
    compiled: bool = True,
    group: int = 1,
    rates: RewardRates | None = None,
    keep_occupied: bool = True,
) -> PhaseSums:
    """Occupancy (M, B, U, K), its sums over segments, final distribution (B, K), trace and
    occupancy × reward ``rates``.

    ``weights`` (M, U, n + 1): weight of time point t in segment u for weight set m, as
    :func:`costmodel.engine.occupancy_weights` and :func:`~costmodel.engine.flow_weights`
    build them. ``compiled`` chooses the kernel (when numba is available) over NumPy.
    ``group`` cohorts in a row share one row of ``transitions.values`` (B / group rows):
    cohort b moves with row b // group (several start distributions, one set of matrices).
    Without ``keep_occupied`` the occupancy per segment (the largest output) is not returned.
    """
    # numba's thread pool does not survive a fork: a forked process uses the serial kernel
    kernel = None
    if compiled:
        kernel = _compiled_serial() if cores.in_forked_child() else _compiled()
    if kernel is None:
        if group > 1:
            repeated = np.repeat(transitions.values, group, axis=0)
            transitions = dataclasses.replace(transitions, values=repeated)
        sums = phase_sums_numpy(x0, transitions, weights, keep_trace, rates)
        return sums if keep_occupied else sums._replace(occupied=None)
    # Weight sets that are the same (costs and outcomes discounted at one rate) are summed
    # once: the same arithmetic, so the copies are the same bits.
    m = len(weights)
    same_as = [
        next(j for j in range(i + 1) if np.array_equal(weights[j], weights[i])) for i in range(m)
    ]
    kept = [i for i in range(m) if same_as[i] == i]
    sums = _phase_sums_compiled(
        kernel, x0, transitions, weights[kept], keep_trace, group, rates, keep_occupied
    )
    if len(kept) == m:
        return sums
    back = [kept.index(j) for j in same_as]
    return sums._replace(
        occupied=None if sums.occupied is None else sums.occupied[back],
        over_segments=sums.over_segments[back],
        rewarded=None if sums.rewarded is None else sums.rewarded[back],
    )


def phase_sums_numpy(
    x0: np.ndarray,
    transitions: engine.SparseTransitions,
    weights: np.ndarray,
    keep_trace: bool = False,
    rates: RewardRates | None = None,
) -> PhaseSums:
    """:func:`phase_sums` with dense NumPy products over the stored trace."""
    trace = engine.propagate(x0, transitions)
    m, u, points = weights.shape
    occupied = engine.occupancy(trace, weights.reshape(m * u, points))  # (B, M*U, K)
    occupied = occupied.reshape(occupied.shape[0], m, u, -1).transpose(1, 0, 2, 3)
    summed = np.einsum("mbuk->mbk", occupied)  # u in order, as the kernel adds them
    rewarded = None
    if rates is not None:
        per_cohort = rates.per_cohort(x0.shape[0])
        rewarded = np.einsum("mbuk,bukr->mbr", occupied, per_cohort)
    return PhaseSums(occupied, trace[-1], trace if keep_trace else None, summed, rewarded)


@contextmanager
def kernel_threads(n: int | None) -> Iterator[None]:
    """The compiled kernel on ``n`` threads in this block, for this thread only (None: as
    configured). For callers that already run the kernel on several threads of their own."""
    if n is None or cores.in_forked_child() or _compiled() is None:
        yield  # (a forked process never touches numba's thread pool: its kernel is serial)
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(min(n, before))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def compiled_available() -> bool:
    """True when the numba kernel can be used (numba installed, not switched off)."""
    return _compiled() is not None


def _phase_sums_compiled(
    kernel, x0, transitions, weights, keep_trace, group, rates=None, keep_occupied=True
):
    batch, k = x0.shape
    m, u, points = weights.shape
    # Non-zero weights as flat (segment, set, weight) triples grouped by time point (usually
    # one or two segments per point): the inner loop has no branches.
    t_index, seg_index, set_index = np.nonzero(weights.transpose(2, 1, 0) != 0.0)  # t-major
    pointer = np.searchsorted(t_index, np.arange(points + 1)).astype(np.int64)
    flat_weight = weights[set_index, seg_index, t_index]
    occupied = np.zeros((batch if keep_occupied else 0, m, u, k))  # its shape gives M and U
    summed = np.zeros((batch, m, k))
    final = np.empty((batch, k))
    trace = np.empty((points, batch, k)) if keep_trace else np.empty((1, 1, 1))
    if rates is None:
        rates = RewardRates(np.empty((1, 1, 1, 0)))
    rewarded = np.zeros((batch, m, rates.values.shape[3]))
    n_lanes = lanes_per_block(m * u * k + transitions.values.shape[1] * transitions.rows.size)
    kernel(
        np.ascontiguousarray(x0, dtype=np.float64),
        transitions.rows.astype(np.int64),
        transitions.cols.astype(np.int64),
        np.ascontiguousarray(transitions.values, dtype=np.float64),
        transitions.segment.astype(np.int64),
        pointer,
        seg_index.astype(np.int64),
        set_index.astype(np.int64),
        flat_weight,
        occupied,
        summed,
        final,
        trace,
        keep_trace,
        group,
        np.ascontiguousarray(rates.values, dtype=np.float64),
        rates.divisor,
        rates.modulus,
        rewarded,
        keep_occupied,
        n_lanes,
    )
    interrupts.check()  # a Ctrl-C that arrived while numba compiled or loaded the kernel
    return PhaseSums(
        occupied.transpose(1, 0, 2, 3) if keep_occupied else None,
        final,
        trace if keep_trace else None,
        summed.transpose(1, 0, 2),
        rewarded.transpose(1, 0, 2) if rates.values.shape[3] > 0 else None,
    )


# Cohorts side by side in the compiled kernel: LLVM vectorizes the lane loops at 64 (at 8 to
# 32 it unrolled them into scalar code: an acute MSC cohort 7.6 -> 4.1 us). Fewer when a
# block's scratch arrays (occupancy cells and transition values, per lane) would pass
# BLOCK_BYTES per thread, as in a model whose rewards change every cycle; never fewer than 8.
MAX_LANES = 64
MIN_LANES = 8
BLOCK_BYTES = 4 << 20


def lanes_per_block(values_per_lane: int) -> int:
    """Lanes per block of the compiled kernel for a block holding ``values_per_lane`` float64
    scratch values per lane (weight sets × segments × states + segments × entries)."""
    lanes = MAX_LANES
    while lanes > MIN_LANES and lanes * values_per_lane * 8 > BLOCK_BYTES:
        lanes //= 2
    return lanes


@cache
def _compiled():
    """The jitted kernel, its cohorts on numba's thread pool, or None without numba (or with
    COSTMODEL_ENGINE=numpy)."""
    kernels = None if _switched_off() else _kernels()
    return None if kernels is None else kernels[0]


@cache
def _compiled_serial():
    """The same kernel with its cohorts in one thread and no thread pool: the one a forked
    process may call (numba's OpenMP pool does not survive a fork). The same numbers."""
    kernels = None if _switched_off() else _kernels()
    return None if kernels is None else kernels[1]


def _switched_off() -> bool:
    return os.environ.get(ENGINE_ENV, "").lower() == "numpy"


@cache
def _kernels():
    """(parallel kernel, serial kernel) from :mod:`costmodel.kernel_compiled`, or None
    without numba. Imported only when a run is large enough (numba's import and cache load
    take ~0.5 s)."""
    try:
        from costmodel import kernel_compiled
    except ImportError:  # pragma: no cover - numba is a dependency; the fallback is tested
        return None
    return kernel_compiled.kernel_on_threads, kernel_compiled.kernel_in_one_thread
