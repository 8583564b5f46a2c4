"""Cost-effectiveness decision maths: ICER tables, net monetary benefit, CEAC, CEAF and EVPI.

Arrays in, tables out. Nothing here knows about workbooks or the engine, in the spirit of
dampack's ``calculate_icers`` and hesim's ``cea``: any cost and effect per strategy (base case
or PSA means) can be analysed.

The ICER table, net monetary benefit and comparison with a reference strategy live in
:mod:`costmodel.cea_icer` and are re-exported here; this module holds the probabilistic
sensitivity analysis summaries. Import either from ``costmodel.cea``.

References
----------
Cantor SB. Cost-effectiveness analysis, extended dominance, and ethics: a quantitative
assessment. Med Decis Making 1994;14(3):259-265. doi:10.1177/0272989X9401400308
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from costmodel.cea_icer import (
    STATUS_DOMINATED,
    STATUS_EXTENDED,
    STATUS_NON_DOMINATED,
    compute_icer_table,
    icer_where_trade_off,
    name_problems,
    net_monetary_benefit,
)
from costmodel.cea_icer import compare_to_reference as compare_to_reference
from costmodel.cea_icer import comparison as comparison

__all__ = [
    "STATUS_DOMINATED",
    "STATUS_EXTENDED",
    "STATUS_NON_DOMINATED",
    "ceac",
    "ceac_table",
    "ceaf",
    "compute_icer_table",
    "evpi",
    "evpi_table",
    "net_monetary_benefit",
    "on_frontier",
    "population_multiplier",
    "psa_summary",
]

# --- Probabilistic sensitivity analysis: CEAC, CEAF, EVPI -------------------------------------
#
# References
# Van Hout BA, Al MJ, Gordon GS, Rutten FF. Costs, effects and C/E-ratios alongside a clinical
#   trial. Health Econ 1994;3(5):309-319. doi:10.1002/hec.4730030505 (CEAC)
# Fenwick E, Claxton K, Sculpher M. Representing uncertainty: the role of cost-effectiveness
#   acceptability curves. Health Econ 2001;10(8):779-787. doi:10.1002/hec.635 (CEAF)
# Claxton K. The irrelevance of inference: a decision-making approach to the stochastic
#   evaluation of health care technologies. J Health Econ 1999;18(3):341-364.
#   doi:10.1016/S0167-6296(98)00039-3 (EVPI)

# Upper bound on the number of float64 net-benefit values (threshold x strategy x sample) held
# at once, about 32 MB. Thresholds are processed in blocks; each threshold's result is the same
# whatever the block size.
_BLOCK_ELEMENTS = 1 << 22


def ceac(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    """Cost-effectiveness acceptability curves: probability each strategy is optimal.

    Parameters
    ----------
    cost : array_like, shape (n_samples, n_strategies)
        PSA sample of costs [currency]; finite.
    effect : array_like, shape (n_samples, n_strategies)
        PSA sample of effects [e.g. QALYs]; finite.
    wtp : array_like, shape (n_wtp,)
        Willingness-to-pay thresholds [currency per unit effect]; finite.

    Returns
    -------
    numpy.ndarray, shape (n_wtp, n_strategies), float
        Share of samples in which each strategy has the highest net monetary benefit
        ``wtp * effect - cost`` [probability]. Within a sample, strategies with equal highest
        net benefit are resolved in declared order (the lowest column index wins), so every
        sample counts for exactly one strategy: each row is ``counts / n_samples`` with
        integer counts summing to ``n_samples``, and the row sums to 1 up to rounding.

    Raises
    ------
    ValueError
        If `cost` and `effect` are not finite 2-D arrays of the same shape with at least one
        sample and one strategy, or `wtp` is not a 1-D array of finite numbers.

    Examples
    --------
    >>> ceac([[0.0, 10.0], [0.0, 30.0]], [[0.0, 1.0], [0.0, 1.0]], [20.0]).tolist()
    [[0.5, 0.5]]
    """
    cost_arr, effect_arr = _validate_psa(cost, effect, "ceac")
    wtp_arr = _validate_thresholds(wtp, "ceac")
    expected = _expected_nmb(cost_arr, effect_arr, wtp_arr)
    wins, _ = _sample_statistics(cost_arr, effect_arr, wtp_arr, np.argmax(expected, axis=1))
    return wins / cost_arr.shape[0]


def ceaf(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    """Cost-effectiveness acceptability frontier: the strategy with the highest expected NMB.

    Parameters
    ----------
    cost : array_like, shape (n_samples, n_strategies)
        PSA sample of costs [currency]; finite.
    effect : array_like, shape (n_samples, n_strategies)
        PSA sample of effects [e.g. QALYs]; finite.
    wtp : array_like, shape (n_wtp,)
        Willingness-to-pay thresholds [currency per unit effect]; finite.

    Returns
    -------
    numpy.ndarray, shape (n_wtp,), int
        Column index of the strategy with the highest expected net monetary benefit
        ``wtp * mean(effect) - mean(cost)`` [currency] at each threshold; equal expected
        net benefits are resolved in declared order (lowest index). The frontier is the
        CEAC of this strategy (Fenwick et al. 2001): the decision-maker adopts the strategy
        with the highest expected net benefit, which need not be the one most likely to be
        cost-effective.

    Raises
    ------
    ValueError
        As :func:`ceac`.

    See Also
    --------
    on_frontier : the same as a boolean (n_wtp, n_strategies) matrix.
    """
    cost_arr, effect_arr = _validate_psa(cost, effect, "ceaf")
    wtp_arr = _validate_thresholds(wtp, "ceaf")
    return np.argmax(_expected_nmb(cost_arr, effect_arr, wtp_arr), axis=1)


def on_frontier(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    """Which strategy is on the cost-effectiveness acceptability frontier at each threshold.

    Parameters
    ----------
    cost, effect, wtp
        As :func:`ceaf`.

    Returns
    -------
    numpy.ndarray, shape (n_wtp, n_strategies), bool
        ``True`` exactly once per row, in the column :func:`ceaf` returns.
    """
    best = ceaf(cost, effect, wtp)
    n_strategies = np.shape(cost)[1]
    return best[:, None] == np.arange(n_strategies)[None, :]


def evpi(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike) -> np.ndarray:
    """Expected value of perfect information per patient at each threshold.

    Parameters
    ----------
    cost : array_like, shape (n_samples, n_strategies)
        PSA sample of costs [currency]; finite.
    effect : array_like, shape (n_samples, n_strategies)
        PSA sample of effects [e.g. QALYs]; finite.
    wtp : array_like, shape (n_wtp,)
        Willingness-to-pay thresholds [currency per unit effect]; finite.

    Returns
    -------
    numpy.ndarray, shape (n_wtp,), float
        ``E[max_s NMB_s] - max_s E[NMB_s]`` [currency per patient], the Monte Carlo estimate
        over the samples, with ``NMB = wtp * effect - cost``.

    Raises
    ------
    ValueError
        As :func:`ceac`.

    Notes
    -----
    Computed as the mean opportunity loss ``E[max_s NMB_s - NMB_d]``, where ``d`` is the
    strategy :func:`ceaf` chooses; this equals the definition above. Every term of the mean is
    >= 0 in floating point, so the result is never negative and no clipping is needed, and it
    avoids subtracting two large, nearly equal means. With one strategy every term is exactly
    0, so the EVPI is exactly 0. Costs and thresholds both multiplied by ``k > 0`` give the EVPI
    times ``k`` up to rounding.

    Examples
    --------
    >>> evpi([[0.0, 10.0], [0.0, 30.0]], [[0.0, 1.0], [0.0, 1.0]], [20.0]).tolist()
    [5.0]
    """
    cost_arr, effect_arr = _validate_psa(cost, effect, "evpi")
    wtp_arr = _validate_thresholds(wtp, "evpi")
    expected = _expected_nmb(cost_arr, effect_arr, wtp_arr)
    _, loss = _sample_statistics(cost_arr, effect_arr, wtp_arr, np.argmax(expected, axis=1))
    return loss


def population_multiplier(
    population_per_year: float, horizon_years: int, discount_rate: float
) -> float:
    """Discounted number of patients affected by the decision over its time horizon.

    ``sum over t = 0 .. horizon_years - 1 of population_per_year / (1 + discount_rate) ** t``:
    each year's patients are discounted to the start of that year, so the first year's are not
    discounted. Multiply the per-patient EVPI by it to get the population EVPI.

    Parameters
    ----------
    population_per_year : float
        Patients facing the decision each year [patients per year]; finite, >= 0.
    horizon_years : int
        Years for which the decision applies [years]; >= 1.
    discount_rate : float
        Annual discount rate as a fraction (0.035 for 3.5%) [per year]; in [0, 1).

    Returns
    -------
    float
        Discounted patient count [patients].

    Raises
    ------
    ValueError
        If an argument is out of range or of the wrong type.

    Examples
    --------
    >>> round(population_multiplier(1000.0, 3, 0.035), 4)
    2899.6943
    """
    problems: list[str] = []
    if not _is_real(population_per_year) or not (
        np.isfinite(population_per_year) and population_per_year >= 0
    ):
        problems.append(
            f"population_per_year must be a finite number >= 0; got {population_per_year!r}."
        )
    if not isinstance(horizon_years, int | np.integer) or isinstance(horizon_years, bool):
        problems.append(f"horizon_years must be a whole number of years; got {horizon_years!r}.")
    elif horizon_years < 1:
        problems.append(f"horizon_years must be at least 1; got {horizon_years}.")
    if not _is_real(discount_rate) or not np.isfinite(discount_rate):
        problems.append(f"discount_rate must be a finite number; got {discount_rate!r}.")
    elif not 0 <= discount_rate < 1:
        hint = (
            f" Enter {discount_rate / 100:g}, not a percentage." if 1 <= discount_rate < 100 else ""
        )
        problems.append(
            f"discount_rate must be a fraction in [0, 1) per year; got {discount_rate}.{hint}"
        )
    if problems:
        raise ValueError("population_multiplier: " + " ".join(problems))
    factors = (1.0 + float(discount_rate)) ** -np.arange(int(horizon_years), dtype=float)
    return float(population_per_year) * float(factors.sum())


def psa_summary(
    strategies: Sequence[str],
    cost: ArrayLike,
    effect: ArrayLike,
    *,
    reference: int = 0,
    effect_name: str = "qaly",
) -> pd.DataFrame:
    """Means, 95% intervals and increments versus a reference strategy from a PSA sample.

    Parameters
    ----------
    strategies : sequence of str, length n_strategies
        Unique, non-blank strategy names, in column order.
    cost : array_like, shape (n_samples, n_strategies)
        PSA sample of costs [currency]; finite.
    effect : array_like, shape (n_samples, n_strategies)
        PSA sample of effects [unit named by `effect_name`]; finite.
    reference : int, keyword-only
        Column index of the comparator for the increments.
    effect_name : str, keyword-only
        Name of the effect in column names (``"qaly"``, ``"ly"``...): a lower-case Python
        identifier other than ``"cost"``.

    Returns
    -------
    pandas.DataFrame, n_strategies rows in declared order
        With ``E`` the `effect_name`, columns:

        - ``strategy``;
        - ``cost_mean, cost_low, cost_high`` [currency] and ``E_mean, E_low, E_high``
          [effect units]: mean, 2.5th and 97.5th percentiles over samples;
        - ``inc_cost_mean, inc_cost_low, inc_cost_high`` and
          ``inc_E_mean, inc_E_low, inc_E_high``: the same statistics of the per-sample
          differences ``strategy - reference``;
        - ``icer_of_means = inc_cost_mean / inc_E_mean`` [currency per unit effect], NaN when
          ``inc_E_mean`` is exactly 0; its sign must be read with the increments (a negative
          value is a dominant or a dominated strategy);
        - ``prob_cost_saving`` = share of samples with ``inc_cost < 0`` and
          ``prob_more_effective`` = share with ``inc_E > 0`` (strict inequalities).

        All increment, ICER and probability columns are NaN on the reference row.
        Percentiles use linear interpolation between order statistics (numpy's default,
        R's type 7).

    Raises
    ------
    ValueError
        If names are not unique non-blank strings matching the number of columns, the arrays
        are invalid (as :func:`ceac`), `reference` is not a valid column index, or
        `effect_name` is not a valid name.
    """
    cost_arr, effect_arr = _validate_psa(cost, effect, "psa_summary")
    names = _validate_names(strategies, cost_arr.shape[1], "psa_summary")
    _validate_summary_options(reference, effect_name, cost_arr.shape[1])

    columns: dict[str, object] = {"strategy": pd.Series(names, dtype=object)}
    inc_cost = cost_arr - cost_arr[:, [reference]]
    inc_effect = effect_arr - effect_arr[:, [reference]]
    for label, values in (
        ("cost", cost_arr),
        (effect_name, effect_arr),
        ("inc_cost", inc_cost),
        (f"inc_{effect_name}", inc_effect),
    ):
        low, high = np.percentile(values, [2.5, 97.5], axis=0)
        columns[f"{label}_mean"] = values.mean(axis=0)
        columns[f"{label}_low"] = low
        columns[f"{label}_high"] = high
    inc_cost_mean = columns["inc_cost_mean"]
    inc_effect_mean = columns[f"inc_{effect_name}_mean"]
    # a trade-off only (cea_icer.icer_where_trade_off): no negative ratio of means
    columns["icer_of_means"] = icer_where_trade_off(inc_cost_mean, inc_effect_mean)
    columns["prob_cost_saving"] = (inc_cost < 0).mean(axis=0)
    columns["prob_more_effective"] = (inc_effect > 0).mean(axis=0)
    columns["comparison_of_means"] = comparison(inc_cost_mean, inc_effect_mean)

    table = pd.DataFrame(columns)
    versus = [c for c in table.columns if c.startswith("inc_")]
    versus += ["icer_of_means", "prob_cost_saving", "prob_more_effective"]
    table.loc[reference, versus] = np.nan
    table.loc[reference, "comparison_of_means"] = ""
    return table


def ceac_table(
    strategies: Sequence[str], cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike
) -> pd.DataFrame:
    """CEAC, CEAF and expected net benefit in long form, ready to plot or write.

    Parameters
    ----------
    strategies : sequence of str, length n_strategies
        Unique, non-blank strategy names, in column order.
    cost, effect, wtp
        As :func:`ceac`.

    Returns
    -------
    pandas.DataFrame, n_wtp * n_strategies rows
        Columns ``wtp`` [currency per unit effect], ``strategy``, ``prob_ce`` (:func:`ceac`),
        ``on_frontier`` (:func:`on_frontier`, bool), ``expected_nmb``
        (``wtp * mean(effect) - mean(cost)`` [currency]) and ``expected_loss`` (mean over
        samples of the best NMB minus the strategy's NMB [currency]: the expected-loss curve,
        whose minimum over strategies is the EVPI). Rows by threshold in the given order,
        then strategies in declared order.

    Raises
    ------
    ValueError
        As :func:`ceac`, or if the names are not unique non-blank strings, one per column.
    """
    cost_arr, effect_arr = _validate_psa(cost, effect, "ceac_table")
    wtp_arr = _validate_thresholds(wtp, "ceac_table")
    n_strategies = cost_arr.shape[1]
    names = _validate_names(strategies, n_strategies, "ceac_table")
    expected = _expected_nmb(cost_arr, effect_arr, wtp_arr)
    best = np.argmax(expected, axis=1)
    wins, evpi_values = _sample_statistics(cost_arr, effect_arr, wtp_arr, best)
    frontier = best[:, None] == np.arange(n_strategies)[None, :]
    # E[max_s NMB_s] - E[NMB_s]: the loss expected from choosing s; its minimum is the EVPI
    best_expected = np.take_along_axis(expected, best[:, None], axis=1)
    loss = (evpi_values[:, None] + best_expected) - expected
    return pd.DataFrame(
        {
            "wtp": np.repeat(wtp_arr, n_strategies),
            "strategy": pd.Series(names * wtp_arr.size, dtype=object),
            "prob_ce": (wins / cost_arr.shape[0]).ravel(),
            "on_frontier": frontier.ravel(),
            "expected_nmb": expected.ravel(),
            "expected_loss": loss.ravel(),
        }
    )


def evpi_table(
    cost: ArrayLike,
    effect: ArrayLike,
    wtp: ArrayLike,
    *,
    population_multiplier: float = 1.0,
) -> pd.DataFrame:
    """EVPI per patient and for the population at each threshold.

    Parameters
    ----------
    cost, effect, wtp
        As :func:`evpi`.
    population_multiplier : float, keyword-only
        Discounted number of patients affected by the decision [patients], e.g. from
        :func:`population_multiplier`; finite, >= 0. The default 1 gives per-patient values.

    Returns
    -------
    pandas.DataFrame, n_wtp rows
        Columns ``wtp`` [currency per unit effect], ``evpi_per_patient`` (:func:`evpi`)
        [currency per patient] and ``evpi_population = evpi_per_patient *
        population_multiplier`` [currency].

    Raises
    ------
    ValueError
        As :func:`evpi`, or if `population_multiplier` is not a finite number >= 0.
    """
    multiplier = population_multiplier  # the parameter shadows the module-level function
    if not _is_real(multiplier) or not (np.isfinite(multiplier) and multiplier >= 0):
        raise ValueError(
            f"evpi_table: population_multiplier must be a finite number >= 0; got {multiplier!r}."
        )
    per_patient = evpi(cost, effect, wtp)
    return pd.DataFrame(
        {
            "wtp": np.asarray(wtp, dtype=float),
            "evpi_per_patient": per_patient,
            "evpi_population": per_patient * float(multiplier),
        }
    )


def _expected_nmb(cost: np.ndarray, effect: np.ndarray, wtp: np.ndarray) -> np.ndarray:
    """(n_samples, n_strategies) x2, (n_wtp,) -> (n_wtp, n_strategies) mean NMB [currency]."""
    return wtp[:, None] * effect.mean(axis=0)[None, :] - cost.mean(axis=0)[None, :]


def _sample_statistics(
    cost: np.ndarray, effect: np.ndarray, wtp: np.ndarray, chosen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-threshold statistics over samples of the net monetary benefit.

    Returns (wins, loss): wins (n_wtp, n_strategies) int, the number of samples in which each
    strategy has the highest NMB (first in declared order among equals); loss (n_wtp,), the
    mean of ``max_s NMB_s - NMB_chosen`` over samples, with `chosen` (n_wtp,) column indices.
    """
    n_strategies = cost.shape[1]
    wins = np.zeros((wtp.size, n_strategies), dtype=np.int64)
    loss = np.zeros(wtp.size)
    # Samples on the last, contiguous axis: each threshold's mean is then summed in the same
    # order whatever the block size.
    cost_t = np.ascontiguousarray(cost.T)
    effect_t = np.ascontiguousarray(effect.T)
    strategy_index = np.arange(n_strategies)[None, :, None]
    block = max(1, _BLOCK_ELEMENTS // cost.size)
    for start in range(0, wtp.size, block):
        stop = min(start + block, wtp.size)
        nmb = wtp[start:stop, None, None] * effect_t[None] - cost_t[None]  # (b, s, n)
        best = np.argmax(nmb, axis=1)  # (b, n); argmax returns the first of equal maxima
        wins[start:stop] = (best[:, None, :] == strategy_index).sum(axis=2)
        top = nmb.max(axis=1)
        picked = np.take_along_axis(nmb, chosen[start:stop, None, None], axis=1)[:, 0, :]
        loss[start:stop] = (top - picked).mean(axis=1)
    return wins, loss


def _validate_psa(cost: ArrayLike, effect: ArrayLike, caller: str) -> tuple[np.ndarray, np.ndarray]:
    problems: list[str] = []
    arrays: dict[str, np.ndarray] = {}
    for label, values in (("cost", cost), ("effect", effect)):
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as exc:
            problems.append(f"{label} must be numbers; {exc}.")
            continue
        if arr.ndim != 2:
            problems.append(
                f"{label} must be 2-D with shape (n_samples, n_strategies); got shape "
                f"{arr.shape}. A single set of values is one sample: shape (1, n_strategies)."
            )
        elif 0 in arr.shape:
            problems.append(
                f"{label} needs at least one sample and one strategy; got shape {arr.shape}."
            )
        else:
            bad_samples, bad_strategies = np.nonzero(~np.isfinite(arr))
            if bad_samples.size:
                i, j = bad_samples[0], bad_strategies[0]
                problems.append(
                    f"{label} must be finite; {bad_samples.size} value(s) are not, the first "
                    f"at sample {i}, strategy {j} ({arr[i, j]})."
                )
        arrays[label] = arr
    if not problems and arrays["cost"].shape != arrays["effect"].shape:
        problems.append(
            f"cost shape {arrays['cost'].shape} and effect shape {arrays['effect'].shape} "
            "differ; both must be (n_samples, n_strategies)."
        )
    if problems:
        raise ValueError(f"{caller}: " + " ".join(problems))
    return arrays["cost"], arrays["effect"]


def _validate_summary_options(reference: int, effect_name: str, n_strategies: int) -> None:
    """psa_summary's `reference` and `effect_name`; all problems in one ValueError."""
    problems: list[str] = []
    if not isinstance(reference, int | np.integer) or isinstance(reference, bool):
        problems.append(f"reference must be a column index (int); got {reference!r}.")
    elif not 0 <= reference < n_strategies:
        problems.append(
            f"reference must be in 0..{n_strategies - 1} (one of {n_strategies} strategies); "
            f"got {reference}."
        )
    if (
        not isinstance(effect_name, str)
        or not effect_name.isidentifier()
        or effect_name != effect_name.lower()
        or effect_name == "cost"
    ):
        problems.append(
            "effect_name must be a lower-case identifier such as 'qaly' or 'ly', and not "
            f"'cost'; got {effect_name!r}."
        )
    if problems:
        raise ValueError("psa_summary: " + " ".join(problems))


def _validate_thresholds(wtp: ArrayLike, caller: str) -> np.ndarray:
    try:
        wtp_arr = np.asarray(wtp, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{caller}: wtp must be numbers; {exc}.") from None
    if wtp_arr.ndim != 1:
        raise ValueError(
            f"{caller}: wtp must be 1-D with shape (n_wtp,); got shape {wtp_arr.shape}. "
            "Wrap a single threshold in a list."
        )
    if not np.isfinite(wtp_arr).all():
        raise ValueError(f"{caller}: wtp must be finite; got {wtp_arr.tolist()}.")
    return wtp_arr


def _validate_names(strategies: Sequence[str], n_strategies: int, caller: str) -> list[str]:
    if isinstance(strategies, str):
        raise ValueError(
            f"{caller}: strategies must be a sequence of names, not a single string; got "
            f"{strategies!r}. Wrap a single name in a list."
        )
    names = list(strategies)
    problems: list[str] = []
    if len(names) != n_strategies:
        problems.append(
            f"{len(names)} strategy names for {n_strategies} columns of cost and effect; give "
            "one name per column."
        )
    problems += name_problems(names)
    if problems:
        raise ValueError(f"{caller}: " + " ".join(problems))
    return names


def _is_real(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
