"""ICER tables and net monetary benefit: dominance, extended dominance and increments.

Arrays in, tables out, like the rest of :mod:`costmodel.cea` (which re-exports every public
name here): any cost and effect per strategy (base case or PSA means) can be analysed.

References
----------
Cantor SB. Cost-effectiveness analysis, extended dominance, and ethics: a quantitative
assessment. Med Decis Making 1994;14(3):259-265. doi:10.1177/0272989X9401400308
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

STATUS_NON_DOMINATED = "nd"
STATUS_EXTENDED = "ed"
STATUS_DOMINATED = "d"

_ICER_COLUMNS = [
    "strategy",
    "cost",
    "effect",
    "inc_cost",
    "inc_effect",
    "icer",
    "status",
    "comparator",
]


def compute_icer_table(
    strategies: Sequence[str],
    cost: ArrayLike,
    effect: ArrayLike,
    *,
    wtp: Sequence[float] = (),
) -> pd.DataFrame:
    """Classify strategies as non-dominated or (extendedly) dominated and compute ICERs.

    Parameters
    ----------
    strategies : sequence of str, length n_strategies
        Unique, non-blank strategy names.
    cost : array_like, shape (n_strategies,)
        Cost of each strategy [currency]; finite.
    effect : array_like, shape (n_strategies,)
        Effect of each strategy [e.g. QALYs]; finite.
    wtp : sequence of float, shape (n_wtp,), keyword-only
        Willingness-to-pay thresholds [currency per unit effect]; one ``nmb_<w>`` column each.

    Returns
    -------
    pandas.DataFrame, n_strategies rows
        Columns ``strategy, cost, effect, inc_cost, inc_effect, icer, status, comparator``
        then ``nmb_<w>`` for each ``w`` in `wtp`, where ``nmb_<w> = w * effect - cost``
        [currency]. The column is named with the integer when ``w`` is integral
        (``nmb_20000``), else with the float's repr (``nmb_2500.5``). Rows: non-dominated
        strategies by increasing cost, then extendedly dominated, then dominated, each group
        in the sort order of rule 1 (dampack's row order). The index is 0..n_strategies-1.

    Raises
    ------
    ValueError
        If names are not unique non-blank strings, `cost` and `effect` are not 1-D of the
        same length as `strategies`, any cost or effect is not finite, or `wtp` is not a 1-D
        sequence of finite numbers with distinct column names. All problems in one message.

    Notes
    -----
    Comparisons are exact floating-point comparisons.

    1. Sort by cost ascending; ties in cost by effect descending, then by declared order.
    2. Status ``"d"`` (strictly dominated): another strategy has cost <= and effect >= with
       at least one inequality strict. Of exact duplicates (equal cost and equal effect) the
       one declared first is kept and the later ones are ``"d"``.
    3. Status ``"ed"`` (extendedly dominated): take the remaining strategies in sort order
       (cost and effect now both strictly increase) and compute each one's ICER against its
       predecessor. Every strategy whose ICER is strictly greater than the next strategy's
       ICER is ``"ed"``; remove all of them and repeat until no strategy is removed. Equal
       successive ICERs (collinear strategies) are all kept. Each removed strategy lies
       strictly above the chord joining its neighbours, so it is not on the lower-right
       convex hull of the cost-effectiveness plane and removing it leaves the hull
       unchanged; when the loop stops the ICERs are non-decreasing, so the survivors are
       exactly the strategies on that hull. The result therefore does not depend on how many
       offenders are removed per pass (dampack removes all of them, as here).
    4. The survivors are ``"nd"``. Each ``"nd"`` row has ``inc_cost``, ``inc_effect`` and
       ``icer = inc_cost / inc_effect`` [currency per unit effect] against the previous
       ``"nd"`` strategy, whose name is in ``comparator``. The cheapest ``"nd"`` row and all
       ``"ed"`` and ``"d"`` rows have NaN increments and ICER, and comparator ``""``.

    Input order matters only through the tie-breaks above. ICERs scale with costs (costs times
    ``k > 0`` give ICERs times ``k``) and are unchanged by adding a constant to all costs, up
    to rounding.

    Examples
    --------
    >>> table = compute_icer_table(["a", "b", "c"], [0.0, 100.0, 300.0], [0.0, 1.0, 1.5])
    >>> table["icer"].tolist()[1:]
    [100.0, 400.0]
    """
    names, cost_arr, effect_arr = _validate_strategies(strategies, cost, effect)
    wtp_arr, nmb_names = _validate_wtp(wtp)

    n = len(names)
    order = np.lexsort((np.arange(n), -effect_arr, cost_arr))  # rule 1; last key is primary
    cost_sorted = cost_arr[order]
    effect_sorted = effect_arr[order]
    status, nd_pos, rows = _classify(cost_sorted, effect_sorted)
    inc_cost, inc_effect, icer = _increments(cost_sorted, effect_sorted, nd_pos)
    comparator = np.full(n, "", dtype=object)
    comparator[nd_pos[1:]] = [names[i] for i in order[nd_pos[:-1]]]

    table = pd.DataFrame(
        {
            "strategy": pd.Series([names[i] for i in order[rows]], dtype=object),
            "cost": cost_sorted[rows],
            "effect": effect_sorted[rows],
            "inc_cost": inc_cost[rows],
            "inc_effect": inc_effect[rows],
            "icer": icer[rows],
            "status": status[rows],
            "comparator": comparator[rows],
        },
        columns=_ICER_COLUMNS,
    )
    nmb = net_monetary_benefit(table["cost"].to_numpy(), table["effect"].to_numpy(), wtp_arr)
    for k, column in enumerate(nmb_names):
        table[column] = nmb[k]
    return table


def net_monetary_benefit(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    """Net monetary benefit of each strategy at each willingness-to-pay threshold.

    Parameters
    ----------
    cost : array_like, shape (..., n_strategies)
        Costs [currency], e.g. (n_samples, n_strategies) from a PSA.
    effect : array_like, shape (..., n_strategies)
        Effects [e.g. QALYs]; broadcast against `cost`.
    wtp : array_like, shape (n_wtp,)
        Willingness-to-pay thresholds [currency per unit effect].

    Returns
    -------
    numpy.ndarray, shape (..., n_wtp, n_strategies)
        ``wtp * effect - cost`` [currency]. Values are not checked: NaN propagates.

    Raises
    ------
    ValueError
        If `wtp` is not 1-D, `cost` or `effect` is 0-D, or they do not broadcast.
    """
    cost_arr = np.asarray(cost, dtype=float)
    effect_arr = np.asarray(effect, dtype=float)
    wtp_arr = np.asarray(wtp, dtype=float)
    if wtp_arr.ndim != 1:
        raise ValueError(f"wtp must be 1-D with shape (n_wtp,); got shape {wtp_arr.shape}.")
    if cost_arr.ndim == 0 or effect_arr.ndim == 0:
        raise ValueError(
            "cost and effect must have a last axis of strategies, shape (..., n_strategies); "
            f"got shapes {cost_arr.shape} and {effect_arr.shape}."
        )
    try:
        np.broadcast_shapes(cost_arr.shape, effect_arr.shape)
    except ValueError:
        raise ValueError(
            f"cost shape {cost_arr.shape} and effect shape {effect_arr.shape} do not broadcast."
        ) from None
    return wtp_arr[:, None] * effect_arr[..., None, :] - cost_arr[..., None, :]


def compare_to_reference(
    cost: ArrayLike, effect: ArrayLike, reference: int, wtp: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each strategy versus one reference strategy, sample by sample.

    Parameters
    ----------
    cost, effect : array_like, shape (n_samples, n_strategies)
        Per-patient cost [currency] and effect [e.g. QALYs].
    reference : int
        Column of the reference strategy.
    wtp : float
        Willingness to pay [currency per unit effect] for the incremental net monetary benefit.

    Returns
    -------
    inc_cost, inc_effect, icer, inmb : numpy.ndarray, shape (n_samples, n_strategies)
        Δcost [currency], Δeffect, ICER = Δcost / Δeffect [currency per unit effect] where it
        is a trade-off (see :func:`icer_where_trade_off`; NaN where one dominates, and in the
        reference column) and INMB = wtp·Δeffect − Δcost [currency]; Δ are 0 in the
        reference column. :func:`comparison` names the quadrant.
    """
    cost = np.asarray(cost, dtype=float)
    effect = np.asarray(effect, dtype=float)
    inc_cost = cost - cost[:, [reference]]
    inc_effect = effect - effect[:, [reference]]
    icer = icer_where_trade_off(inc_cost, inc_effect)
    icer[:, reference] = np.nan
    return inc_cost, inc_effect, icer, wtp * inc_effect - inc_cost


_SAME_EFFECT = 1e-12  # |Δeffect| at or below this is no difference in effect


def icer_where_trade_off(inc_cost: ArrayLike, inc_effect: ArrayLike) -> np.ndarray:
    """Δcost / Δeffect [currency per unit effect] where it prices a trade-off (more costly
    and more effective, or less costly and less effective); NaN where one strategy
    dominates the other (Δcost <= 0 < Δeffect, or Δeffect < 0 <= Δcost) or the effects are
    the same (|Δeffect| <= 1e-12). A negative ratio is never shown: -43,676 per QALY could
    be a dominant or a dominated strategy."""
    inc_cost = np.asarray(inc_cost, dtype=float)
    inc_effect = np.asarray(inc_effect, dtype=float)
    trade_off = ((inc_effect > _SAME_EFFECT) & (inc_cost > 0)) | (
        (inc_effect < -_SAME_EFFECT) & (inc_cost < 0)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(trade_off, inc_cost / inc_effect, np.nan)


COMPARISONS = (
    "more costly, more effective",
    "less costly, less effective",
    "dominant",
    "dominated",
    "same effect",
)


def comparison(inc_cost: ArrayLike, inc_effect: ArrayLike) -> np.ndarray:
    """How a strategy compares with its comparator, element by element (one of
    COMPARISONS): the ICER quadrant, 'dominant' (no more costly, more effective),
    'dominated' (no less costly, less effective), 'same effect' (|Δeffect| <= 1e-12), or ''
    where either difference is NaN."""
    inc_cost = np.asarray(inc_cost, dtype=float)
    inc_effect = np.asarray(inc_effect, dtype=float)
    more, less = inc_effect > _SAME_EFFECT, inc_effect < -_SAME_EFFECT
    unknown = np.isnan(inc_cost) | np.isnan(inc_effect)
    return np.select(
        [unknown, more & (inc_cost > 0), less & (inc_cost < 0), more, less],
        ["", *COMPARISONS[:4]],
        default=COMPARISONS[4],
    )


def _classify(
    cost_sorted: np.ndarray, effect_sorted: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rules 2 and 3, and rule 4's statuses, on (n,) costs and effects in rule-1 order.

    Returns (status, nd_pos, rows): status (n,) object, each strategy's ``"nd"``, ``"ed"`` or
    ``"d"``; nd_pos, the positions of the ``"nd"`` strategies, increasing; rows (n,), every
    position in table order: the ``"nd"``, ``"ed"`` and ``"d"`` groups, each in rule-1 order.
    """
    n = cost_sorted.size
    dominated = _strictly_dominated(effect_sorted)
    candidates = np.flatnonzero(~dominated)
    frontier = _efficient_frontier(cost_sorted[candidates], effect_sorted[candidates])
    nd_pos = candidates[frontier]
    is_nd = np.zeros(n, dtype=bool)
    is_nd[nd_pos] = True
    is_ed = ~dominated & ~is_nd

    status = np.full(n, STATUS_DOMINATED, dtype=object)
    status[is_ed] = STATUS_EXTENDED
    status[is_nd] = STATUS_NON_DOMINATED
    rows = np.concatenate([nd_pos, np.flatnonzero(is_ed), np.flatnonzero(dominated)])
    return status, nd_pos, rows


def _increments(
    cost_sorted: np.ndarray, effect_sorted: np.ndarray, nd_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rule 4: (n,) inc_cost, inc_effect and icer of each ``"nd"`` strategy (positions
    `nd_pos`, increasing) against the previous one; NaN elsewhere and on the first."""
    n = cost_sorted.size
    inc_cost = np.full(n, np.nan)
    inc_effect = np.full(n, np.nan)
    inc_cost[nd_pos[1:]] = np.diff(cost_sorted[nd_pos])
    inc_effect[nd_pos[1:]] = np.diff(effect_sorted[nd_pos])
    with np.errstate(invalid="ignore"):  # NaN / NaN on rows without a comparator
        icer = inc_cost / inc_effect
    return inc_cost, inc_effect, icer


def _strictly_dominated(effect_sorted: np.ndarray) -> np.ndarray:
    """Rule 2 on strategies in rule-1 order: (n,) effects -> (n,) bool.

    Every strategy before position j costs no more than j, and a predecessor with equal cost
    has effect >= j's or is an earlier-declared duplicate; so j is dominated exactly when some
    predecessor has effect >= j's.
    """
    dominated = np.zeros(effect_sorted.shape, dtype=bool)
    best_before = np.maximum.accumulate(effect_sorted)[:-1]
    dominated[1:] = effect_sorted[1:] <= best_before
    return dominated


def _efficient_frontier(cost: np.ndarray, effect: np.ndarray) -> np.ndarray:
    """Rule 3 on non-dominated strategies (cost and effect strictly increasing).

    Returns the positions (into the inputs, increasing) of the strategies that are not
    extendedly dominated.
    """
    keep = np.arange(cost.size)
    while keep.size > 2:
        icer = np.diff(cost[keep]) / np.diff(effect[keep])  # icer[i] belongs to keep[i + 1]
        offenders = np.flatnonzero(icer[:-1] > icer[1:]) + 1
        if offenders.size == 0:
            break
        keep = np.delete(keep, offenders)
    return keep


def _validate_strategies(
    strategies: Sequence[str], cost: ArrayLike, effect: ArrayLike
) -> tuple[list[str], np.ndarray, np.ndarray]:
    problems: list[str] = []
    if isinstance(strategies, str):
        raise ValueError(
            f"strategies must be a sequence of names, not a single string; got {strategies!r}. "
            "Wrap a single name in a list."
        )
    names = list(strategies)
    if not names:
        problems.append("at least one strategy is needed; got none.")
    problems += name_problems(names)

    arrays: dict[str, np.ndarray] = {}
    for label, values in (("cost", cost), ("effect", effect)):
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as exc:
            problems.append(f"{label} must be numbers; {exc}.")
            continue
        if arr.ndim != 1:
            problems.append(f"{label} must be 1-D (one value per strategy); got shape {arr.shape}.")
        elif arr.size != len(names):
            problems.append(
                f"{label} has {arr.size} values but there are {len(names)} strategies; "
                "give one value per strategy."
            )
        else:
            bad = [f"{names[i]!r} ({arr[i]})" for i in np.flatnonzero(~np.isfinite(arr))]
            if bad:
                problems.append(f"{label} must be finite; got {', '.join(bad)}.")
        arrays[label] = arr

    if problems:
        raise ValueError("compute_icer_table: " + " ".join(problems))
    return names, arrays["cost"], arrays["effect"]


def _validate_wtp(wtp: Sequence[float]) -> tuple[np.ndarray, list[str]]:
    try:
        wtp_arr = np.asarray(wtp, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"wtp must be numbers; {exc}.") from None
    if wtp_arr.ndim != 1:
        raise ValueError(f"wtp must be a 1-D sequence of thresholds; got shape {wtp_arr.shape}.")
    if not np.isfinite(wtp_arr).all():
        raise ValueError(f"wtp must be finite; got {wtp_arr.tolist()}.")
    names = [_nmb_column(w) for w in wtp_arr.tolist()]
    if len(set(names)) != len(names):
        raise ValueError(f"wtp values must be distinct; got {wtp_arr.tolist()}.")
    return wtp_arr, names


def _nmb_column(w: float) -> str:
    # tolist() gives Python floats, so repr is "2500.5", never "np.float64(2500.5)".
    return f"nmb_{int(w)}" if float(w).is_integer() else f"nmb_{w!r}"


def name_problems(names: list) -> list[str]:
    """What is wrong with a list of strategy names: non-strings, blanks, duplicates."""
    problems: list[str] = []
    for i, name in enumerate(names):
        if not isinstance(name, str):
            problems.append(f"strategy name {i} must be a str; got {name!r}.")
        elif not name.strip():
            problems.append(f"strategy name {i} is blank; give every strategy a name.")
    counts = Counter(n for n in names if isinstance(n, str))
    duplicates = sorted(n for n, count in counts.items() if count > 1)
    if duplicates:
        problems.append(f"strategy names must be unique; repeated: {', '.join(duplicates)}.")
    return problems


def add_reference_columns(
    table: pd.DataFrame,
    strategies: Sequence[str],
    cost: ArrayLike,
    effect: ArrayLike,
    reference: str,
    wtp: Sequence[float] = (),
) -> pd.DataFrame:
    """The ICER table with each strategy versus one chosen ``reference`` (BCEA's pairwise
    convention) beside the frontier ICERs: ``reference``, ``inc_cost_vs_reference``,
    ``inc_effect_vs_reference``, ``icer_vs_reference`` (only for a trade-off, see
    :func:`icer_where_trade_off`: NaN for the reference itself and where one dominates),
    ``comparison_vs_reference`` (:func:`comparison`), and the net health benefit ``nhb_<w>``
    = effect − cost / w [effect units] for each w > 0 in ``wtp``. ``cost``/``effect`` are
    the means per strategy, in the order of ``strategies``."""
    names = list(strategies)
    if reference not in names:
        raise ValueError(f"reference {reference!r} is not a strategy ({', '.join(names)})")
    cost = np.asarray(cost, dtype=float)
    effect = np.asarray(effect, dtype=float)
    inc_cost, inc_effect, icer, _ = compare_to_reference(
        cost[None, :], effect[None, :], names.index(reference), 0.0
    )
    row = [names.index(s) for s in table.strategy]
    out = table.copy()
    out["reference"] = reference
    out["inc_cost_vs_reference"] = inc_cost[0, row]
    out["inc_effect_vs_reference"] = inc_effect[0, row]
    out["icer_vs_reference"] = icer[0, row]
    out["comparison_vs_reference"] = comparison(inc_cost[0, row], inc_effect[0, row])
    out.loc[out.strategy == reference, "comparison_vs_reference"] = ""
    for w in wtp:
        if w > 0:
            out["nhb_" + _nmb_column(float(w)).removeprefix("nmb_")] = effect[row] - cost[row] / w
    return out
