"""Value of information by nonparametric regression: EVPPI, EVSI and ENBS.

Decision maths on arrays only, like :mod:`costmodel.cea`: a PSA sample of costs and effects
(n_samples, n_strategies) and the sampled parameters (or simulated study summaries) go in;
arrays and tables come out. Nothing here knows about workbooks or the engine.

The regression method of Strong, Oakley & Brennan (2014) estimates the expected value of
partial perfect information (EVPPI) from the PSA sample alone: the conditional expectation of
each strategy's incremental net benefit given the parameters of interest is estimated by
regressing the sampled incremental net benefit on those parameters, and the fitted values
replace the inner expectation of the nested two-level Monte Carlo estimator. Regressing on a
simulated summary of a future study's data instead gives the expected value of sample
information (EVSI; Strong et al. 2015).

References
----------
Strong M, Oakley JE, Brennan A. Estimating multiparameter partial expected value of perfect
information from a probabilistic sensitivity analysis sample: a nonparametric regression
approach. Med Decis Making 2014;34(3):311-326. doi:10.1177/0272989X13505910

Strong M, Oakley JE, Brennan A, Breeze P. Estimating the expected value of sample information
using the probabilistic sensitivity analysis sample: a fast, nonparametric regression-based
method. Med Decis Making 2015;35(5):570-583. doi:10.1177/0272989X15575286

Ades AE, Lu G, Claxton K. Expected value of sample information calculations in medical
decision modeling. Med Decis Making 2004;24(2):207-227. doi:10.1177/0272989X04263162

Sweeting MJ, Sutton AJ, Lambert PC. What to add to nothing? Use and avoidance of continuity
corrections in meta-analysis of sparse data. Stat Med 2004;23(9):1351-1375.
doi:10.1002/sim.1761

Heath A, Kunst N, Jackson C (eds). Value of Information for Healthcare Decision-Making.
Chapman and Hall/CRC, 2024. doi:10.1201/9781003156109
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from costmodel.rng import Purpose, stream
from costmodel.voi_validation import METHODS as METHODS
from costmodel.voi_validation import (
    VoiError,
    _check_group_size,
    _choose_method,
    _is_int,
    _is_real,
    _validate_evppi,
    _validate_inputs,
    _validate_outcomes,
    _validate_wtp,
)

__all__ = [
    "EvppiResult",
    "VoiError",
    "enbs",
    "evppi",
    "evppi_table",
    "evsi_curve",
    "evsi_regression",
    "simulate_two_arm_trial",
]


@dataclass(frozen=True, eq=False)
class EvppiResult:
    """EVPPI of one group of parameters at each willingness-to-pay threshold.

    Attributes
    ----------
    parameters : tuple of str
        Names of the parameters in the group, in input column order.
    wtp : numpy.ndarray, shape (n_wtp,)
        Willingness-to-pay thresholds [currency per unit effect].
    evppi : numpy.ndarray, shape (n_wtp,)
        EVPPI [currency per patient]; 0 <= evppi <= EVPI of the same sample.
    se : numpy.ndarray, shape (n_wtp,)
        Standard error of `evppi` from the uncertainty in the fitted regression function
        [currency per patient]; see :func:`evppi`.
    method : str
        ``"spline"`` or ``"gp"``.
    clipped : numpy.ndarray of bool, shape (n_wtp,)
        Whether the regression's estimate exceeded the EVPI beyond rounding and was clipped
        to it (the regression over-fits the sample; default all False).

    Arrays are read-only.
    """

    parameters: tuple[str, ...]
    wtp: np.ndarray
    evppi: np.ndarray
    se: np.ndarray
    method: str
    clipped: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.clipped is None:
            object.__setattr__(self, "clipped", np.zeros(np.size(self.wtp), dtype=bool))
        flags = np.array(self.clipped, dtype=bool)
        flags.setflags(write=False)
        object.__setattr__(self, "clipped", flags)
        for name in ("wtp", "evppi", "se"):
            array = np.array(getattr(self, name), dtype=float)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        object.__setattr__(self, "parameters", tuple(self.parameters))


def _regression(*args):
    """:func:`costmodel.voi_regression._regression_voi`, imported on first use (it brings in
    scipy's optimiser, splines and LAPACK wrappers, which a run without a PSA never needs)."""
    from costmodel.voi_regression import _regression_voi

    return _regression_voi(*args)


def evppi(
    cost: np.ndarray,
    effect: np.ndarray,
    wtp: ArrayLike,
    inputs: np.ndarray,
    *,
    names: Sequence[str],
    method: str = "auto",
    max_gp_samples: int = 2000,
) -> EvppiResult:
    """Expected value of partial perfect information by nonparametric regression.

    Parameters
    ----------
    cost : numpy.ndarray, shape (n_samples, n_strategies)
        PSA sample of costs [currency]; finite. Column 0 is the reference strategy.
    effect : numpy.ndarray, shape (n_samples, n_strategies)
        PSA sample of effects [e.g. QALYs]; finite.
    wtp : array_like, shape (n_wtp,)
        Willingness-to-pay thresholds [currency per unit effect]; finite.
    inputs : numpy.ndarray, shape (n_samples, n_params) or (n_samples,)
        Sampled values of the parameters of interest, row i being the values behind row i of
        `cost` and `effect`; finite, none constant. The EVPPI is that of learning all of them
        together.
    names : sequence of str, length n_params, keyword-only
        Unique, non-blank names of the parameters, for the result.
    method : {"auto", "spline", "gp"}, keyword-only
        Regression method. ``"auto"`` uses ``"spline"`` for 1 to 4 parameters and ``"gp"``
        for 5 or more, as Strong et al. (2014) and the voi R package do.
    max_gp_samples : int, keyword-only
        The Gaussian process is fitted to a random subset (fixed seed) of at most this many
        samples [samples] and predicted at all of them.

    Returns
    -------
    EvppiResult
        EVPPI and its standard error per threshold [currency per patient].

    Raises
    ------
    VoiError
        If the arrays are malformed or not finite, names do not match the columns, a
        parameter is constant, the method is unknown, the group has too many parameters for
        the sample (``n_params >= n_samples / 10``; for the GP, ``n_params >=
        min(n_samples, max_gp_samples) / 10``), the spline is asked for more than 4
        parameters, or the Gaussian-process fit fails. The message says what to change.

    Warns
    -----
    RuntimeWarning
        If an estimate exceeds the EVPI of the same sample by more than 1% (the regression
        over-fits); the estimate is then clipped to the EVPI.

    Notes
    -----
    **Estimator.** With ``INB_s = wtp * (e_s - e_0) - (c_s - c_0)`` the incremental net
    benefit of strategy ``s`` versus strategy 0 [currency] and ``g_s`` its fitted value from a
    regression on the inputs, an estimate of ``E[INB_s | inputs]``::

        EVPPI = mean_i max(0, g_1i, ..., g_ki) - max(0, mean_i g_1i, ..., mean_i g_ki)

    computed as the mean opportunity loss ``mean_i (max_s g_si - g_di)``, ``d`` the strategy
    with the largest mean fitted value, so that every term is >= 0 (Jensen's inequality makes
    the EVPPI non-negative; the form keeps it so in floating point). The result is clipped to
    ``[0, EVPI]`` with the EVPI from :func:`costmodel.cea.evpi`. Unlike the nested Monte
    Carlo estimator this needs no model runs beyond the PSA, but it is biased upward when the
    regression chases noise and downward when it is too smooth; the noise-column and
    known-answer tests in ``tests/test_voi.py`` bound both.

    **Regressions and standard error** (details in :mod:`costmodel.voi_regression`):
    ``"spline"`` fits a tensor-product P-spline per strategy and threshold, smoothing chosen
    by generalised cross-validation; ``"gp"`` fits a Gaussian process with a linear mean to
    the incremental effects and costs. The standard error (Strong et al. 2014) is the
    standard deviation of the EVPPI over 100 seeded draws from the posterior of the
    regression function: the regression error, not the Monte Carlo error of the PSA sample.

    References
    ----------
    Strong M, Oakley JE, Brennan A. Med Decis Making 2014;34(3):311-326.
    doi:10.1177/0272989X13505910. Others in the docstrings of this module and of
    :mod:`costmodel.voi_regression`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> theta = rng.normal(0.0, 1.0, 2000)
    >>> cost = np.column_stack([np.zeros(2000), -theta - rng.normal(0.0, 1.0, 2000)])
    >>> result = evppi(cost, np.zeros((2000, 2)), [1.0], theta, names=["theta"])
    >>> result.method, bool(0.3 < result.evppi[0] < 0.5)  # exact: 1 / sqrt(2 pi) = 0.399
    ('spline', True)
    """
    cost_arr, effect_arr, wtp_arr, x, parameters, chosen = _validate_evppi(
        cost, effect, wtp, inputs, names, method, max_gp_samples
    )
    value, se, clipped = _regression(
        cost_arr, effect_arr, wtp_arr, x, chosen, max_gp_samples, "evppi"
    )
    return EvppiResult(
        parameters=parameters, wtp=wtp_arr, evppi=value, se=se, method=chosen, clipped=clipped
    )


def evppi_flags(result: EvppiResult) -> list[str]:
    """Per threshold, why an estimate should not be read at face value ('' when it can):
    clipped to the EVPI (the regression over-fits), or a standard error at least as large
    as a positive estimate (indistinguishable from noise)."""
    flags = []
    for value, se, clipped in zip(result.evppi, result.se, result.clipped, strict=True):
        if clipped:
            flags.append("clipped to the EVPI: the regression over-fits; use more samples")
        elif value > 0 and se >= value:
            flags.append("standard error >= estimate: not distinguishable from 0")
        else:
            flags.append("")
    return flags


def evppi_table(results: list[EvppiResult], population_multiplier: float = 1.0) -> pd.DataFrame:
    """EVPPI results in long form, per patient and for the population.

    Parameters
    ----------
    results : list of EvppiResult
        Results of :func:`evppi`, e.g. one per parameter group.
    population_multiplier : float
        Discounted number of patients affected by the decision [patients], e.g. from
        :func:`costmodel.cea.population_multiplier`; finite, >= 0.

    Returns
    -------
    pandas.DataFrame, sum of n_wtp over results rows
        Columns ``parameters`` (names joined by ``"+"``), ``wtp`` [currency per unit effect],
        ``evppi_per_patient`` [currency per patient], ``evppi_population =
        evppi_per_patient * population_multiplier`` [currency], ``se`` (standard error of
        ``evppi_per_patient`` [currency per patient]), ``method`` and ``flag`` (see
        :func:`evppi_flags`; empty when the estimate can be read as it is). Rows by result in
        the given order, then threshold.

    Raises
    ------
    VoiError
        If an item is not an :class:`EvppiResult` or the multiplier is not finite and >= 0.
    """
    multiplier = population_multiplier
    if (
        isinstance(multiplier, bool | np.bool_)
        or not isinstance(multiplier, int | float | np.integer | np.floating)
        or not (np.isfinite(multiplier) and multiplier >= 0)
    ):
        raise VoiError(
            f"evppi_table: population_multiplier must be a finite number >= 0; got {multiplier!r}."
        )
    bad = [i for i, r in enumerate(results) if not isinstance(r, EvppiResult)]
    if bad:
        raise VoiError(
            f"evppi_table: results must be EvppiResult objects from evppi(); item(s) {bad} are not."
        )
    columns = ["parameters", "wtp", "evppi_per_patient", "evppi_population", "se", "method"]
    columns.append("flag")
    frames = [
        pd.DataFrame(
            {
                "parameters": pd.Series(["+".join(r.parameters)] * r.wtp.size, dtype=object),
                "wtp": r.wtp,
                "evppi_per_patient": r.evppi,
                "evppi_population": r.evppi * float(multiplier),
                "se": r.se,
                "method": pd.Series([r.method] * r.wtp.size, dtype=object),
                "flag": pd.Series(evppi_flags(r), dtype=object),
            },
            columns=columns,
        )
        for r in results
    ]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    return pd.concat(frames, ignore_index=True)


def evsi_regression(
    cost: np.ndarray,
    effect: np.ndarray,
    wtp: ArrayLike,
    summary_statistic: np.ndarray,
    *,
    with_se: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Expected value of sample information by regression on a simulated study summary.

    Parameters
    ----------
    cost : numpy.ndarray, shape (n_samples, n_strategies)
        PSA sample of costs [currency]; finite. Column 0 is the reference strategy.
    effect : numpy.ndarray, shape (n_samples, n_strategies)
        PSA sample of effects [e.g. QALYs]; finite.
    wtp : array_like, shape (n_wtp,)
        Willingness-to-pay thresholds [currency per unit effect]; finite.
    summary_statistic : numpy.ndarray, shape (n_samples, d) or (n_samples,)
        Summary of one simulated data set of the future study per PSA sample, generated from
        that sample's parameter values (e.g. :func:`simulate_two_arm_trial`); finite, no
        column constant. A low-dimensional (near-)sufficient statistic works best.

    with_se : bool
        Also return the Monte Carlo standard error of each estimate (the SD of the EVSI over
        posterior draws of the regression function, as :func:`evppi`'s ``se``).

    Returns
    -------
    numpy.ndarray, shape (n_wtp,)
        EVSI [currency per patient], in ``[0, EVPI]``; with ``with_se``, a pair (EVSI, SE).

    Raises
    ------
    VoiError
        As :func:`evppi`, with the summary's columns as the parameters.

    Notes
    -----
    Strong et al. (2015): the expected net benefit of a decision taken after the study is
    ``E_X[max_s E[NB_s | X]]``; regressing each strategy's incremental net benefit on the
    simulated summary ``X`` estimates ``E[INB_s | X]``, and the EVSI is the same mean-max
    formula as :func:`evppi`, with the same regression (spline for ``d <= 4``, Gaussian
    process otherwise, default settings). Since ``X`` is noisier information than the
    parameters that generate it, the EVSI is at most the EVPPI of those parameters and
    approaches it as the study grows. The method is model-agnostic: only the PSA sample and
    one simulated summary per sample are needed.
    """
    cost_arr, effect_arr = _validate_outcomes(cost, effect, "evsi_regression")
    wtp_arr = _validate_wtp(wtp, "evsi_regression")
    x = _validate_inputs(summary_statistic, cost_arr.shape[0], "evsi_regression", "summary")
    labels = tuple(f"summary[{j}]" for j in range(x.shape[1]))
    chosen = _choose_method("auto", x.shape[1], "evsi_regression")
    _check_group_size(x, chosen, 2000, labels, "evsi_regression")
    value, se, _ = _regression(
        cost_arr, effect_arr, wtp_arr, x, chosen, 2000, "evsi_regression", with_se
    )
    return (value, se) if with_se else value


def simulate_two_arm_trial(
    p_control: np.ndarray, risk_ratio: np.ndarray, n_per_arm: int, rng: np.random.Generator
) -> np.ndarray:
    """Observed log risk ratio of a future two-arm trial with a binary outcome, per sample.

    Parameters
    ----------
    p_control : numpy.ndarray, shape (n_samples,)
        True risk of the outcome (e.g. day-28 mortality) in the control arm, per PSA sample
        [probability]; in [0, 1].
    risk_ratio : numpy.ndarray, shape (n_samples,)
        True risk ratio treatment / control per sample [ratio]; finite, > 0.
    n_per_arm : int
        Patients randomised to each arm [patients]; >= 1.
    rng : numpy.random.Generator
        Source of the binomial draws (control arm first, then treatment arm).

    Returns
    -------
    numpy.ndarray, shape (n_samples, 1)
        ``log((d_t + a) / (d_c + a))`` with ``d_c ~ Binomial(n, p_control)`` and ``d_t ~
        Binomial(n, min(p_control * risk_ratio, 1))`` deaths, and ``a = 0.5`` added to every
        cell of a sample's 2x2 table when any cell (deaths or survivors, either arm) is 0,
        else ``a = 0`` (the usual 0.5 continuity correction; Sweeting et al. 2004). With
        equal arms the denominators ``n + 2a`` cancel. Pass it to :func:`evsi_regression`.

    Raises
    ------
    VoiError
        If the arrays are not 1-D of equal length with values in range, `n_per_arm` is not a
        positive integer, or `rng` is not a Generator.
    """
    problems: list[str] = []
    p = np.asarray(p_control, dtype=float)
    rr = np.asarray(risk_ratio, dtype=float)
    if p.ndim != 1 or rr.ndim != 1 or p.shape != rr.shape or p.size == 0:
        problems.append(
            "p_control and risk_ratio must be 1-D arrays of the same length (n_samples,); got "
            f"shapes {p.shape} and {rr.shape}."
        )
    else:
        if not (np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))):
            problems.append("p_control must be probabilities in [0, 1].")
        if not (np.all(np.isfinite(rr)) and np.all(rr > 0)):
            problems.append("risk_ratio must be finite and > 0.")
    if not _is_int(n_per_arm) or n_per_arm < 1:
        problems.append(f"n_per_arm must be an integer >= 1; got {n_per_arm!r}.")
    if not isinstance(rng, np.random.Generator):
        problems.append(
            f"rng must be a numpy.random.Generator, e.g. np.random.default_rng(1); got {rng!r}."
        )
    if problems:
        raise VoiError("simulate_two_arm_trial: " + " ".join(problems))
    n = int(n_per_arm)
    deaths_control = rng.binomial(n, p)
    deaths_treated = rng.binomial(n, np.minimum(p * rr, 1.0))
    zero_cell = (
        (deaths_control == 0)
        | (deaths_treated == 0)
        | (deaths_control == n)
        | (deaths_treated == n)
    )
    a = np.where(zero_cell, 0.5, 0.0)
    return np.log((deaths_treated + a) / (deaths_control + a))[:, None]


def evsi_curve(
    cost: np.ndarray,
    effect: np.ndarray,
    wtp: float | Sequence[float],
    p_control: np.ndarray,
    risk_ratio: np.ndarray,
    n_grid: Sequence[int],
    seed: int,
    *,
    with_se: bool = True,
) -> pd.DataFrame:
    """EVSI of a two-arm trial of a binary outcome for several sample sizes.

    Parameters
    ----------
    cost, effect : numpy.ndarray, shape (n_samples, n_strategies)
        PSA sample [currency] and [e.g. QALYs], as :func:`evsi_regression`.
    wtp : float or sequence of float
        Willingness-to-pay threshold(s) [currency per unit effect]. With several, one
        regression per trial size serves all of them (the smoothing is chosen per threshold,
        so each value equals a single-threshold call).
    p_control, risk_ratio : numpy.ndarray, shape (n_samples,)
        The PSA sample's control-arm risk [probability] and risk ratio, as
        :func:`simulate_two_arm_trial`.
    n_grid : sequence of int
        Sample sizes per arm [patients], each >= 1.
    seed : int
        Seed (>= 0). The trial for size ``n`` is simulated from the stream
        stream ``costmodel.rng.stream(seed, Purpose.EVSI_TRIAL, n)``, so its EVSI does not
        depend on which other sizes are in the grid or their order, and never shares bits with
        a PSA sample block.
    with_se : bool, keyword-only
        Compute the standard errors (most of the work); without, ``se`` is NaN. A size's
        values are the same either way, and the same in a grid of that size alone.

    Returns
    -------
    pandas.DataFrame, len(n_grid) rows
        Columns ``n_per_arm`` [patients per arm], ``evsi_per_patient`` [currency per
        patient] and its Monte Carlo standard error ``se`` [currency per patient], in the
        order of `n_grid`; with a sequence of thresholds, a ``wtp`` column first and one row
        per threshold and size (threshold-major).

    Raises
    ------
    VoiError
        As :func:`simulate_two_arm_trial` and :func:`evsi_regression`, or if `wtp` is not a
        finite number or `seed` is not an integer >= 0.
    """
    several = not _is_real(wtp)
    thresholds = np.atleast_1d(np.asarray(wtp, dtype=float)) if several else np.array([wtp])
    if thresholds.ndim != 1 or not thresholds.size or not np.isfinite(thresholds).all():
        raise VoiError(f"evsi_curve: wtp must be finite numbers; got {wtp!r}.")
    if not _is_int(seed) or seed < 0:
        raise VoiError(f"evsi_curve: seed must be an integer >= 0; got {seed!r}.")
    sizes = list(n_grid)
    bad = [n for n in sizes if not _is_int(n) or n < 1]
    if bad or not sizes:
        raise VoiError(
            f"evsi_curve: n_grid must be a non-empty sequence of integers >= 1; got {sizes!r}."
        )
    values, errors = [], []
    for n in sizes:
        rng = stream(int(seed), Purpose.EVSI_TRIAL, int(n))
        summary = simulate_two_arm_trial(p_control, risk_ratio, int(n), rng)
        if with_se:
            value, se = evsi_regression(cost, effect, thresholds, summary, with_se=True)
        else:
            value = evsi_regression(cost, effect, thresholds, summary)
            se = np.full(thresholds.size, np.nan)
        values.append(value)
        errors.append(se)
    table = pd.DataFrame(
        {
            "n_per_arm": np.tile(np.array(sizes, dtype=np.int64), thresholds.size),
            "evsi_per_patient": np.array(values).T.ravel(),
            "se": np.array(errors).T.ravel(),
        }
    )
    if several:
        table.insert(0, "wtp", np.repeat(thresholds, len(sizes)))
    return table


def enbs(
    evsi_population: ArrayLike,
    fixed_cost: float,
    cost_per_patient: float,
    n_per_arm: ArrayLike,
) -> np.ndarray:
    """Expected net benefit of sampling of a two-arm trial.

    Parameters
    ----------
    evsi_population : array_like, shape (n,) or scalar
        EVSI for the whole population affected by the decision [currency], e.g.
        ``evsi_per_patient * population_multiplier``.
    fixed_cost : float
        Set-up cost of the trial [currency].
    cost_per_patient : float
        Marginal cost per patient recruited [currency per patient].
    n_per_arm : array_like, shape (n,) or scalar
        Patients per arm [patients]; broadcast against `evsi_population`.

    Returns
    -------
    numpy.ndarray, broadcast shape
        ``evsi_population - (fixed_cost + 2 * n_per_arm * cost_per_patient)`` [currency]; the
        trial is worth running where it is > 0 and the optimal size maximises it (Ades, Lu &
        Claxton 2004). Patients in the trial are counted as trial costs only: their own net
        benefit and the delay to the decision are ignored.

    Raises
    ------
    VoiError
        If any input is not finite or the shapes do not broadcast.
    """
    try:
        arrays = [np.asarray(a, dtype=float) for a in (evsi_population, n_per_arm)]
        fixed = float(fixed_cost)
        per_patient = float(cost_per_patient)
        np.broadcast_shapes(arrays[0].shape, arrays[1].shape)
    except (TypeError, ValueError) as exc:
        raise VoiError(f"enbs: inputs must be numbers of broadcastable shapes; {exc}.") from None
    if (
        not all(np.all(np.isfinite(a)) for a in arrays)
        or not np.isfinite([fixed, per_patient]).all()
    ):
        raise VoiError("enbs: evsi_population, costs and n_per_arm must be finite.")
    evsi_pop, n = arrays
    return evsi_pop - (fixed + 2.0 * n * per_patient)
