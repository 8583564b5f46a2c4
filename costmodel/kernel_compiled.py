"""The compiled cohort kernel (numba): see :mod:`costmodel.kernel`, which imports this module
only for runs large enough to pay for numba's import.

One cohort b of a batch: propagate its start distribution x0[b] through the sparse
per-segment transition entries (row b // group of ``values``) and add the weighted occupancy
of every time point to its (weight set, segment, state) cells of ``occ``. Two kernels run
the cohorts: on numba's thread pool, and in one thread (the one a forked process may call:
numba's OpenMP pool does not survive a fork). Both do the same arithmetic per cohort, so
their results are the same bits. The functions are at module level so that numba's on-disk
cache finds them again in a new process.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True, inline="always")
def cohort(b, x0, rows, cols, values, segment, pointer, seg_of, set_of, weight, occ,
           summed, final, scratch, trace, keep, group):  # fmt: skip
    """One cohort through the phase (``scratch[b]``: its two state vectors). Explicit loops,
    not slice assignments: outside a parallel loop numba lowers ``y[:] = 0.0`` through its
    array-expression machinery, which costs more than the work for a handful of states."""
    k = x0.shape[1]
    n = segment.size
    n_entries = rows.size
    row = b // group
    buf = scratch[b]  # (2, k): the state vector now and the next one, in turn
    for j in range(k):
        buf[0, j] = x0[b, j]
    now = 0
    for t in range(n + 1):
        if keep:
            for j in range(k):
                trace[t, b, j] = buf[now, j]
        for p in range(pointer[t], pointer[t + 1]):
            target = occ[b, set_of[p], seg_of[p]]
            w = weight[p]
            for j in range(k):
                target[j] += w * buf[now, j]
        if t < n:
            s = segment[t]
            nxt = 1 - now
            for j in range(k):
                buf[nxt, j] = 0.0
            for e in range(n_entries):
                buf[nxt, cols[e]] += buf[now, rows[e]] * values[row, s, e]
            now = nxt
    for j in range(k):
        final[b, j] = buf[now, j]
    for m in range(occ.shape[1]):  # each weight set summed over the segments, in order
        for u in range(occ.shape[2]):
            for j in range(k):
                summed[b, m, j] += occ[b, m, u, j]


@numba.njit(parallel=True, cache=True, nogil=True)
def kernel_on_threads(x0, rows, cols, values, segment, pointer, seg_of, set_of, weight,
                      occ, summed, final, scratch, trace, keep, group):  # fmt: skip
    """Every cohort of the batch, on numba's thread pool."""
    for b in numba.prange(x0.shape[0]):
        cohort(b, x0, rows, cols, values, segment, pointer, seg_of, set_of, weight, occ,
               summed, final, scratch, trace, keep, group)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def kernel_in_one_thread(x0, rows, cols, values, segment, pointer, seg_of, set_of, weight,
                         occ, summed, final, scratch, trace, keep, group):  # fmt: skip
    """Every cohort of the batch, one after another in this thread (no thread pool)."""
    for b in range(x0.shape[0]):
        cohort(b, x0, rows, cols, values, segment, pointer, seg_of, set_of, weight, occ,
               summed, final, scratch, trace, keep, group)  # fmt: skip
