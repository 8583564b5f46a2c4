"""The compiled cohort kernel (numba): see :mod:`costmodel.kernel`, which imports this module
only for runs large enough to pay for numba's import.

Each cohort b of a batch: propagate its start distribution x0[b] through the sparse
per-segment transition entries (row b // group of ``values``), add the weighted occupancy of
every time point to its (weight set, segment, state) cells of ``occ`` and, at the end, those
cells summed over the segments (in segment order) to ``summed`` and, for the reward rates
``rates`` (rows, segment, state, R), the occupancy × rate summed over segments and states to
``rewarded`` (cohort b uses row (b // rate_div) % rate_mod); the cells themselves are written
to ``occ`` only when ``keep_occ`` (they are the largest output). Cohorts are computed n_lanes
at a time, side by side, so that the innermost loops run over the lanes (SIMD) rather than
over a handful of states (:func:`costmodel.kernel.lanes_per_block` chooses n_lanes); each
lane does exactly the arithmetic of one cohort alone, in the same order, so results do not
depend on the lanes, the batch or the threads.

Two kernels run the blocks of cohorts: on numba's thread pool, and in one thread (the one a
forked process may call: numba's OpenMP pool does not survive a fork). The functions are at
module level so that numba's on-disk cache finds them again in a new process.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _block(b0, n_lanes, x0, rows, cols, values, segment, pointer, seg_of, set_of, weight,
           occ, summed, final, trace, keep, group, rates, rate_div, rate_mod, rewarded,
           keep_occ):  # fmt: skip
    """Cohorts b0 to b0 + n_lanes - 1 (those that exist) through the phase."""
    lanes = min(n_lanes, x0.shape[0] - b0)
    v, buf = _lanes_in(b0, lanes, n_lanes, x0, values, group, rows.size)
    acc = np.zeros((occ.shape[1], occ.shape[2], x0.shape[1], n_lanes))
    now = _propagate(b0, lanes, v, buf, acc, rows, cols, segment, pointer, seg_of, set_of,
                     weight, trace, keep)  # fmt: skip
    _lanes_out(b0, lanes, buf[now], acc, occ, summed, final, keep_occ)
    if rates.shape[3] > 0:
        _rewards_out(b0, lanes, acc, rates, rate_div, rate_mod, rewarded)


@numba.njit(cache=True, nogil=True, inline="always")
def _lanes_in(b0, lanes, n_lanes, x0, values, group, n_entries):
    """The lanes' transition values side by side (n_value_segments, E, n_lanes) and state
    vectors (2, K, n_lanes), the first holding x0; a missing lane repeats the last cohort."""
    v = np.empty((values.shape[1], n_entries, n_lanes))
    for lane in range(n_lanes):
        row = (b0 + min(lane, lanes - 1)) // group
        for s in range(values.shape[1]):
            for e in range(n_entries):
                v[s, e, lane] = values[row, s, e]
    buf = np.empty((2, x0.shape[1], n_lanes))
    for j in range(x0.shape[1]):
        for lane in range(n_lanes):
            buf[0, j, lane] = x0[b0 + min(lane, lanes - 1), j]
    return v, buf


@numba.njit(cache=True, nogil=True, inline="always")
def _propagate(b0, lanes, v, buf, acc, rows, cols, segment, pointer, seg_of, set_of, weight,
               trace, keep):  # fmt: skip
    """The time loop: occupancy of each point into ``acc``, then one cycle's transitions;
    returns which of the two state vectors in ``buf`` holds the final distribution."""
    k = buf.shape[1]
    n_lanes = buf.shape[2]
    n = segment.size
    now = 0
    for t in range(n + 1):
        if keep:
            for lane in range(lanes):
                for j in range(k):
                    trace[t, b0 + lane, j] = buf[now, j, lane]
        cur = buf[now]
        for p in range(pointer[t], pointer[t + 1]):
            w = weight[p]
            a = acc[set_of[p], seg_of[p]]
            for j in range(k):
                for lane in range(n_lanes):
                    a[j, lane] += w * cur[j, lane]
        if t < n:
            s = segment[t]
            nxt = 1 - now
            for j in range(k):
                for lane in range(n_lanes):
                    buf[nxt, j, lane] = 0.0
            for e in range(rows.size):
                r, c = rows[e], cols[e]
                for lane in range(n_lanes):
                    buf[nxt, c, lane] += buf[now, r, lane] * v[s, e, lane]
            now = nxt
    return now


@numba.njit(cache=True, nogil=True, inline="always")
def _lanes_out(b0, lanes, x, acc, occ, summed, final, keep_occ):
    """Each existing lane's final distribution, occupancy cells (when kept) and their sums
    over the segments (in segment order, summed lane by lane: the lane axis is innermost)."""
    n_sets, n_segments, k, n_lanes = acc.shape
    total = np.zeros((n_sets, k, n_lanes))
    for m in range(n_sets):
        for u in range(n_segments):
            for j in range(k):
                for lane in range(n_lanes):
                    total[m, j, lane] += acc[m, u, j, lane]
    for lane in range(lanes):
        b = b0 + lane
        for j in range(k):
            final[b, j] = x[j, lane]
        for m in range(n_sets):
            for j in range(k):
                summed[b, m, j] += total[m, j, lane]
    if keep_occ:
        for lane in range(lanes):
            b = b0 + lane
            for m in range(n_sets):
                for u in range(n_segments):
                    for j in range(k):
                        occ[b, m, u, j] = acc[m, u, j, lane]


@numba.njit(cache=True, nogil=True, inline="always")
def _rewards_out(b0, lanes, acc, rates, rate_div, rate_mod, rewarded):
    """Each existing lane's occupancy cells × its row of reward rates, summed over segments
    (in order) and states into (weight set, rate column)."""
    n_sets, n_segments, k, n_lanes = acc.shape
    n_rates = rates.shape[3]
    row = np.empty(n_lanes, dtype=np.int64)
    for lane in range(n_lanes):
        row[lane] = ((b0 + min(lane, lanes - 1)) // rate_div) % rate_mod
    rate = np.empty((n_rates, n_lanes))
    total = np.zeros((n_sets, n_rates, n_lanes))
    for u in range(n_segments):
        for j in range(k):
            for r in range(n_rates):
                for lane in range(n_lanes):
                    rate[r, lane] = rates[row[lane], u, j, r]
            for m in range(n_sets):
                for r in range(n_rates):
                    for lane in range(n_lanes):
                        total[m, r, lane] += acc[m, u, j, lane] * rate[r, lane]
    for lane in range(lanes):
        b = b0 + lane
        for m in range(n_sets):
            for r in range(n_rates):
                rewarded[b, m, r] += total[m, r, lane]


@numba.njit(parallel=True, cache=True, nogil=True)
def kernel_on_threads(x0, rows, cols, values, segment, pointer, seg_of, set_of, weight,
                      occ, summed, final, trace, keep, group, rates, rate_div, rate_mod,
                      rewarded, keep_occ, n_lanes):  # fmt: skip
    """Every cohort of the batch, blocks of n_lanes cohorts on numba's thread pool."""
    for i in numba.prange((x0.shape[0] + n_lanes - 1) // n_lanes):
        _block(i * n_lanes, n_lanes, x0, rows, cols, values, segment, pointer, seg_of, set_of,
               weight, occ, summed, final, trace, keep, group, rates, rate_div, rate_mod,
               rewarded, keep_occ)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def kernel_in_one_thread(x0, rows, cols, values, segment, pointer, seg_of, set_of, weight,
                         occ, summed, final, trace, keep, group, rates, rate_div, rate_mod,
                         rewarded, keep_occ, n_lanes):  # fmt: skip
    """Every cohort of the batch, blocks of n_lanes cohorts one after another (no pool)."""
    for i in range((x0.shape[0] + n_lanes - 1) // n_lanes):
        _block(i * n_lanes, n_lanes, x0, rows, cols, values, segment, pointer, seg_of, set_of,
               weight, occ, summed, final, trace, keep, group, rates, rate_div, rate_mod,
               rewarded, keep_occ)  # fmt: skip
