"""Run-time checks of the numbers a model run builds, each naming the workbook cell to fix.

Probabilities in [0, 1], transition rows summing to 1, cohort mass conserved, rewards and
outcomes finite. Samples are flattened with strategies as b = sample * n_strategies + n.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from costmodel import engine
from costmodel.errors import ModelCheckError, NumericalError, cell_sort_key
from costmodel.model.expressions import Chunk
from costmodel.outcomes import ModelOutcomes
from costmodel.phases import ExpandedPhase

PROBABILITY_TOLERANCE = 1e-12
ROW_SUM_TOLERANCE = 1e-9

EntryMeta = dict[tuple[int, int], tuple[str, bool]]  # (strategy, entry) -> (cell, is C)


def cycle_label(starts: np.ndarray, u: int, n_cycles: int) -> str:
    """'cycle 3' or 'cycles 3-9': the cycles of segment ``u``."""
    first = int(starts[u]) + 1
    last = int(starts[u + 1]) if u + 1 < starts.size else n_cycles
    return f"cycle {first}" if first == last else f"cycles {first}-{last}"


def check_initial(chunk: Chunk, x0: np.ndarray, where_cells: list[str]) -> None:
    """Initial proportions (n_samples, n_strategies, K) sum to 1 for every strategy."""
    total = x0.sum(axis=2)
    bad = np.abs(total - 1.0) > ROW_SUM_TOLERANCE
    if bad.any():
        k, n = np.argwhere(bad)[0]
        raise ModelCheckError(
            f"{chunk.inputs.file}: {', '.join(where_cells)}: initial proportions for "
            f"strategy '{chunk.inputs.strategies[n].key}' sum to {total[k, n]:.12g}, not 1"
            f"{chunk.where(k)}. Make them add up to 1."
        )


def check_probabilities(
    chunk: Chunk,
    values: np.ndarray,
    phase: ExpandedPhase,
    rows_idx: np.ndarray,
    cols_idx: np.ndarray,
    meta: EntryMeta,
    starts: np.ndarray,
) -> None:
    """Every transition probability (S*N, U, E) is finite and within [0, 1]."""
    finite = np.isfinite(values)
    bad = ~finite | (values < -PROBABILITY_TOLERANCE) | (values > 1 + PROBABILITY_TOLERANCE)
    if not bad.any():
        return
    b, u, e = np.argwhere(bad)[0]
    s, n = divmod(int(b), chunk.n_strategies)
    value = values[b, u, e]
    cell, complement = meta.get((n, e), ("", False))
    context = (
        f"strategy '{chunk.inputs.strategies[n].key}', phase '{phase.phase.key}', "
        f"{cycle_label(starts, u, phase.phase.n_cycles)}, from "
        f"'{phase.labels[rows_idx[e]]}' to '{phase.labels[cols_idx[e]]}'"
    )
    prefix = f"{chunk.inputs.file}: {cell}: {context}"
    if not finite[b, u, e]:
        raise NumericalError(f"{prefix}: probability is {value}{chunk.where(s)}.")
    if complement:
        raise ModelCheckError(
            f"{prefix}: the other probabilities of the row sum to {1 - value:.6g}, more "
            f"than 1, so C would be {value:.6g}{chunk.where(s)}."
        )
    hint = " Enter probabilities as proportions (0.17, not 17)." if value > 1 else ""
    raise ModelCheckError(
        f"{prefix}: probability {value:.6g} is outside [0, 1]{chunk.where(s)}.{hint}"
    )


def check_row_sums(
    chunk: Chunk,
    sparse: engine.SparseTransitions,
    phase: ExpandedPhase,
    starts: np.ndarray,
    meta: EntryMeta,
) -> None:
    """Every row of every transition matrix sums to 1."""
    sums = sparse.row_sums()
    bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if not bad.any():
        return
    b, u, k = np.argwhere(bad)[0]
    s, n = divmod(int(b), chunk.n_strategies)
    # the probability cells of the row, for this strategy
    cells = sorted(
        {meta[(n, e)][0] for e in np.flatnonzero(sparse.rows == k) if (n, e) in meta},
        key=lambda c: cell_sort_key(*c.partition("!")[::2]),
    )
    where = ", ".join(cells) if cells else "Transitions"
    raise ModelCheckError(
        f"{chunk.inputs.file}: {where}: strategy '{chunk.inputs.strategies[n].key}', "
        f"phase '{phase.phase.key}', {cycle_label(starts, u, phase.phase.n_cycles)}: "
        f"probabilities from '{phase.labels[k]}' sum to {sums[b, u, k]:.12g}, not 1"
        f"{chunk.where(s)}. Use C for one transition of the row or fix the values."
    )


def check_final(
    chunk: Chunk, final: np.ndarray, phase: ExpandedPhase, trace: Callable[[], np.ndarray]
) -> None:
    """The cohort at the end of the phase (S*N, K) is finite and its mass is 1; ``trace``
    recomputes the whole trace (n_cycles + 1, S*N, K) to say where a problem started."""
    # NaN and inf propagate to the end of the trace, and with rows summing to 1 the mass
    # can only drift through rounding, so checking the final cycle suffices.
    if mass_conserved(final):
        return
    check_trace(chunk, trace(), phase)


def mass_conserved(final: np.ndarray) -> bool:
    """Every cohort at the end of a phase (B, K) is finite and its mass is 1."""
    mass = final.sum(axis=1)
    return bool(np.isfinite(mass).all() and np.abs(mass - 1.0).max() <= ROW_SUM_TOLERANCE)


def check_trace(chunk: Chunk, trace: np.ndarray, phase: ExpandedPhase) -> None:
    """The cohort trace (n_cycles + 1, S*N, K) is finite and its mass stays 1."""
    final = trace[-1].sum(axis=1)
    if np.isfinite(final).all() and np.abs(final - 1.0).max() <= ROW_SUM_TOLERANCE:
        return
    strategies = chunk.inputs.strategies
    if not np.isfinite(trace).all():
        c, b, k = np.argwhere(~np.isfinite(trace))[0]
        s, n = divmod(int(b), chunk.n_strategies)
        raise NumericalError(
            f"{chunk.inputs.file}: non-finite cohort share in strategy "
            f"'{strategies[n].key}', phase '{phase.phase.key}', cycle {c}, "
            f"state '{phase.labels[k]}'{chunk.where(s)}."
        )
    mass = trace.sum(axis=2)  # (n + 1, B)
    bad = np.abs(mass - 1.0) > ROW_SUM_TOLERANCE
    if bad.any():
        c, b = np.argwhere(bad)[0]
        s, n = divmod(int(b), chunk.n_strategies)
        raise ModelCheckError(
            f"{chunk.inputs.file}: cohort mass is {mass[c, b]:.12g}, not 1, in strategy "
            f"'{strategies[n].key}', phase '{phase.phase.key}', cycle {c}{chunk.where(s)}."
        )


def check_finite(
    chunk: Chunk, phase: ExpandedPhase, array: np.ndarray, what: str, strategy: int | None = None
) -> None:
    """A reward array has no NaN or inf: (S*N, ...) flattened over samples and strategies,
    or, for one ``strategy``, (samples or 1, ...)."""
    if np.isfinite(array).all():
        return
    index = int(np.argwhere(~np.isfinite(array))[0][0])
    s, n = divmod(index, chunk.n_strategies) if strategy is None else (index, strategy)
    raise NumericalError(
        f"{chunk.inputs.file}: {what} is not finite in strategy "
        f"'{chunk.inputs.strategies[n].key}', phase '{phase.phase.key}'{chunk.where(s)}."
    )


def check_outcomes(chunk: Chunk, outcomes: ModelOutcomes) -> None:
    """Cost, QALYs and LYs of every sample and strategy are finite."""
    for name in ("cost", "qaly", "ly"):
        values = getattr(outcomes, name)
        if not np.isfinite(values).all():
            s, n = np.argwhere(~np.isfinite(values))[0]
            raise NumericalError(
                f"{chunk.inputs.file}: {name} is not finite for strategy "
                f"'{outcomes.strategies[n]}'{chunk.where(int(s))}."
            )
