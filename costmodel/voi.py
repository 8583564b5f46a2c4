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

Eilers PHC, Marx BD. Flexible smoothing with B-splines and penalties. Stat Sci
1996;11(2):89-121. doi:10.1214/ss/1038425655

Craven P, Wahba G. Smoothing noisy data with spline functions. Numer Math 1979;31:377-403.
doi:10.1007/BF01404567

Wahba G. Bayesian "confidence intervals" for the cross-validated smoothing spline. J R Stat
Soc B 1983;45(1):133-150. doi:10.1111/j.2517-6161.1983.tb01239.x

Wood SN. Low-rank scale-invariant tensor product smooths for generalized additive mixed
models. Biometrics 2006;62(4):1025-1036. doi:10.1111/j.1541-0420.2006.00574.x

Rasmussen CE, Williams CKI. Gaussian Processes for Machine Learning. MIT Press, 2006.
doi:10.7551/mitpress/3206.001.0001

Ades AE, Lu G, Claxton K. Expected value of sample information calculations in medical
decision modeling. Med Decis Making 2004;24(2):207-227. doi:10.1177/0272989X04263162

Sweeting MJ, Sutton AJ, Lambert PC. What to add to nothing? Use and avoidance of continuity
corrections in meta-analysis of sparse data. Stat Med 2004;23(9):1351-1375.
doi:10.1002/sim.1761

Heath A, Kunst N, Jackson C (eds). Value of Information for Healthcare Decision-Making.
Chapman and Hall/CRC, 2024. doi:10.1201/9781003156109
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize
from numpy.typing import ArrayLike
from scipy.interpolate import BSpline

from costmodel.cea import evpi as _evpi
from costmodel.errors import CostModelError
from costmodel.rng import Purpose, method_stream, stream

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

METHODS = ("auto", "spline", "gp")

# A regression needs this many samples per regressor (Strong et al. 2014 fit 10,000 samples
# to groups of up to about 20 parameters); below it, fitted values chase noise.
_SAMPLES_PER_PARAMETER = 10
# Parameters up to which "auto" picks the spline: the tensor basis grows as k**d.
_MAX_SPLINE_PARAMETERS = 4
# Basis functions per parameter (cubic B-splines, knots at quantiles) by group size, so the
# tensor basis stays at most a few hundred columns: 20, 8**2 = 64, 5**3 = 125, 4**4 = 256.
_MARGIN_BASIS = {1: 20, 2: 8, 3: 5, 4: 4}
# Grid of penalty ratios lambda_j / lambda_1 (j >= 2) searched by GCV, per group size.
_RATIO_GRID = {1: (), 2: np.logspace(-3, 3, 13), 3: np.logspace(-2, 2, 5), 4: np.logspace(-2, 2, 4)}
_N_LAMBDA = 120  # points of the log grid of the overall smoothing parameter
# Posterior draws of the regression function for the standard error.
_N_DRAWS = 100
# GP hyperparameters are estimated on at most this many of the training samples: each
# evaluation of the marginal likelihood costs O(m**3).
_GP_HYPER_SAMPLES = 300
_GP_CHUNK_ELEMENTS = 4_000_000  # prediction block: rows * training samples
_DRAW_BLOCK_ELEMENTS = 4_000_000  # spline posterior draws: samples * strategies * draws
# Relative excess of an estimate over the EVPI tolerated silently before clipping.
_EVPI_TOLERANCE = 0.01


class VoiError(CostModelError, ValueError):
    """Invalid input to a value-of-information calculation, or a regression that cannot work.

    The message says what was wrong and what to do (more samples, a smaller group, another
    method).
    """


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

    Arrays are read-only.
    """

    parameters: tuple[str, ...]
    wtp: np.ndarray
    evppi: np.ndarray
    se: np.ndarray
    method: str

    def __post_init__(self) -> None:
        for name in ("wtp", "evppi", "se"):
            array = np.array(getattr(self, name), dtype=float)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        object.__setattr__(self, "parameters", tuple(self.parameters))


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

    **Spline regression** (``"spline"``), one regression per strategy and threshold.
    Each parameter gets a cubic B-spline basis with knots at quantiles of its sample (20
    functions for one parameter; a parameter with no more distinct values than that gets one
    indicator per value); a group of 2 to 4 parameters gets the tensor product of these
    marginal bases (8, 5 and 4 functions per parameter: 64, 125 and 256 columns). Second
    differences of the coefficients along each parameter are penalised (P-splines; Eilers &
    Marx 1996), with one smoothing parameter per parameter as in mgcv's ``te()`` (Wood 2006),
    which voi uses for groups of up to four parameters. The tensor product, rather than an
    additive model with pairwise interactions, is used because incremental net benefit is
    typically a product of parameters (a probability times a cost, a risk ratio times a
    baseline risk) and because its penalty null space keeps all products of linear terms
    (``1, x1, x2, x1*x2, ...``), so a bilinear net benefit is fitted without bias; with
    quantile knots the fit does not change when a parameter is rescaled linearly.
    Smoothing parameters minimise generalised cross-validation (Craven & Wahba 1979): the
    ratios between the per-parameter penalties over a small log grid, the overall level over
    a log grid of 120 values. In the orthonormal eigenbasis of the penalty, the fitted values,
    residual sum of squares and effective degrees of freedom for every smoothing parameter
    and every response are closed forms, so the search costs one small eigendecomposition
    per ratio and is vectorised over samples and thresholds.

    **Gaussian-process regression** (``"gp"``, as in Strong et al. 2014): a linear mean in
    the inputs (least squares) plus a zero-mean GP with squared-exponential covariance with
    one length scale per parameter (ARD) and a noise variance, on inputs standardised to unit
    variance. Hyperparameters maximise the log marginal likelihood (L-BFGS-B with its
    analytic gradient, on log scale; a second start only if the first fails) on at most 300
    of the training samples; the posterior mean is then computed from at most
    `max_gp_samples` training samples and evaluated at all samples. Because the optimisation
    costs O(m^3) per step, the GP regresses the incremental effects ``e_s - e_0`` and costs
    ``c_s - c_0`` (2 (n_strategies - 1) fits) and combines the fitted values linearly for each
    threshold: conditional expectation is linear, so ``wtp * E[de | x] - E[dc | x]`` equals
    ``E[INB | x]`` exactly (voi does the same for cost-effectiveness inputs).

    **Standard error** (as proposed by Strong et al. 2014): the EVPPI is recomputed for 100
    draws (fixed seed) from the posterior distribution of the regression function and the
    standard deviation of these values is reported. For the spline this is the Bayesian
    posterior of the penalised regression (Wahba 1983; mgcv's ``Vp``) with the residual
    variance from the fit, drawn exactly and evaluated at all samples. For the GP it is the
    posterior of the latent function at the training samples, drawn with Matheron's rule from
    the Cholesky factors already computed, and the EVPPI of each draw is evaluated at those
    training samples; the uncertainty in the linear mean and the hyperparameters is ignored.
    Either way the standard error measures the regression error, not the Monte Carlo error
    of the PSA sample itself (which also shifts the EVPI). With 100 draws the standard error
    is itself uncertain by about 7%; draws are seeded, so a result is reproducible on one
    machine, but a different BLAS build or thread count can rotate the eigenvectors of
    repeated penalty eigenvalues and so change the draws (not the EVPPI) at that level.

    References
    ----------
    Strong M, Oakley JE, Brennan A. Med Decis Making 2014;34(3):311-326.
    doi:10.1177/0272989X13505910. Others in the module docstring.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> theta = rng.normal(0.0, 1.0, 2000)
    >>> cost = np.column_stack([np.zeros(2000), -theta - rng.normal(0.0, 1.0, 2000)])
    >>> result = evppi(cost, np.zeros((2000, 2)), [1.0], theta, names=["theta"])
    >>> result.method, bool(0.3 < result.evppi[0] < 0.5)  # exact: 1 / sqrt(2 pi) = 0.399
    ('spline', True)
    """
    cost_arr, effect_arr = _validate_outcomes(cost, effect, "evppi")
    wtp_arr = _validate_wtp(wtp, "evppi")
    x = _validate_inputs(inputs, cost_arr.shape[0], "evppi", "inputs")
    parameters = _validate_parameter_names(names, x.shape[1])
    chosen = _choose_method(method, x.shape[1], "evppi")
    _check_group_size(x, chosen, max_gp_samples, parameters, "evppi")
    value, se = _regression_voi(cost_arr, effect_arr, wtp_arr, x, chosen, max_gp_samples, "evppi")
    return EvppiResult(parameters=parameters, wtp=wtp_arr, evppi=value, se=se, method=chosen)


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
        ``evppi_per_patient`` [currency per patient]) and ``method``. Rows by result in the
        given order, then threshold.

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
    frames = [
        pd.DataFrame(
            {
                "parameters": pd.Series(["+".join(r.parameters)] * r.wtp.size, dtype=object),
                "wtp": r.wtp,
                "evppi_per_patient": r.evppi,
                "evppi_population": r.evppi * float(multiplier),
                "se": r.se,
                "method": pd.Series([r.method] * r.wtp.size, dtype=object),
            },
            columns=columns,
        )
        for r in results
    ]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    return pd.concat(frames, ignore_index=True)


def evsi_regression(
    cost: np.ndarray, effect: np.ndarray, wtp: ArrayLike, summary_statistic: np.ndarray
) -> np.ndarray:
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

    Returns
    -------
    numpy.ndarray, shape (n_wtp,)
        EVSI [currency per patient], in ``[0, EVPI]``.

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
    value, _ = _regression_voi(cost_arr, effect_arr, wtp_arr, x, chosen, 2000, "evsi_regression")
    return value


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
    wtp: float,
    p_control: np.ndarray,
    risk_ratio: np.ndarray,
    n_grid: Sequence[int],
    seed: int,
) -> pd.DataFrame:
    """EVSI of a two-arm trial of a binary outcome for several sample sizes.

    Parameters
    ----------
    cost, effect : numpy.ndarray, shape (n_samples, n_strategies)
        PSA sample [currency] and [e.g. QALYs], as :func:`evsi_regression`.
    wtp : float
        Willingness-to-pay threshold [currency per unit effect].
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

    Returns
    -------
    pandas.DataFrame, len(n_grid) rows
        Columns ``n_per_arm`` [patients per arm] and ``evsi_per_patient`` [currency per
        patient], in the order of `n_grid`.

    Raises
    ------
    VoiError
        As :func:`simulate_two_arm_trial` and :func:`evsi_regression`, or if `wtp` is not a
        finite number or `seed` is not an integer >= 0.
    """
    if not _is_real(wtp) or not np.isfinite(wtp):
        raise VoiError(f"evsi_curve: wtp must be one finite number; got {wtp!r}.")
    if not _is_int(seed) or seed < 0:
        raise VoiError(f"evsi_curve: seed must be an integer >= 0; got {seed!r}.")
    sizes = list(n_grid)
    bad = [n for n in sizes if not _is_int(n) or n < 1]
    if bad or not sizes:
        raise VoiError(
            f"evsi_curve: n_grid must be a non-empty sequence of integers >= 1; got {sizes!r}."
        )
    values = []
    for n in sizes:
        rng = stream(int(seed), Purpose.EVSI_TRIAL, int(n))
        summary = simulate_two_arm_trial(p_control, risk_ratio, int(n), rng)
        values.append(evsi_regression(cost, effect, [float(wtp)], summary)[0])
    return pd.DataFrame(
        {"n_per_arm": np.array(sizes, dtype=np.int64), "evsi_per_patient": np.array(values)}
    )


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


# --- Shared estimator -----------------------------------------------------------------------


def _regression_voi(
    cost: np.ndarray,
    effect: np.ndarray,
    wtp: np.ndarray,
    x: np.ndarray,
    method: str,
    max_gp_samples: int,
    caller: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean-max estimate and standard error per threshold: (n_wtp,), (n_wtp,)."""
    n_samples, n_strategies = cost.shape
    if n_strategies == 1:  # one option: nothing to learn
        return np.zeros(wtp.size), np.zeros(wtp.size)
    d_effect = effect[:, 1:] - effect[:, :1]  # (n, k - 1)
    d_cost = cost[:, 1:] - cost[:, :1]
    n_inc = n_strategies - 1
    value = np.empty(wtp.size)
    se = np.empty(wtp.size)
    if method == "spline":
        # Responses ordered (threshold, strategy): column w * n_inc + s.
        inb = wtp[None, :, None] * d_effect[:, None, :] - d_cost[:, None, :]
        fit = _SplineFit(x, inb.reshape(n_samples, wtp.size * n_inc), caller)
        rng = method_stream(Purpose.SPLINE_DRAWS)
        # Posterior draws are evaluated in blocks so that memory stays bounded in n_samples.
        block = max(1, _DRAW_BLOCK_ELEMENTS // (n_samples * n_inc))
        for w in range(wtp.size):
            cols = np.arange(w * n_inc, (w + 1) * n_inc)
            value[w] = _mean_max_gain(fit.fitted(cols))
            coef = fit.draw_coefficients(cols, _N_DRAWS, rng)  # (q, n_inc, B)
            gains = [
                _mean_max_gain(fit.evaluate(coef[:, :, start : start + block]))
                for start in range(0, _N_DRAWS, block)
            ]
            se[w] = np.std(np.concatenate(gains), ddof=1)
    else:
        fitted, draws = _gp_fit(x, np.hstack([d_effect, d_cost]), max_gp_samples)
        for w in range(wtp.size):
            value[w] = _mean_max_gain(wtp[w] * fitted[:, :n_inc] - fitted[:, n_inc:])
            g_draws = wtp[w] * draws[:, :n_inc] - draws[:, n_inc:]  # (m, n_inc, B)
            se[w] = np.std(_mean_max_gain(g_draws), ddof=1)
    return _clip_to_evpi(value, cost, effect, wtp, caller), se


def _mean_max_gain(g: np.ndarray) -> np.ndarray | float:
    """mean_i max(0, g_i) - max(0, mean_i g_i) over strategies, as a mean opportunity loss.

    g: (n, n_inc) fitted incremental net benefits, or (n, n_inc, B) draws -> float or (B,).
    """
    zero = np.zeros((g.shape[0], 1, *g.shape[2:]))
    full = np.concatenate([zero, g], axis=1)  # baseline strategy has INB 0
    chosen = np.argmax(full.mean(axis=0), axis=0)  # first of equal means: declared order
    picked = np.take_along_axis(full, np.broadcast_to(chosen, (1, *full.shape[2:]))[None], 1)
    return (full.max(axis=1) - picked[:, 0]).mean(axis=0)


def _clip_to_evpi(
    value: np.ndarray, cost: np.ndarray, effect: np.ndarray, wtp: np.ndarray, caller: str
) -> np.ndarray:
    """Clip to [0, EVPI]; warn when the excess over the EVPI is beyond rounding."""
    bound = _evpi(cost, effect, wtp)
    scale = np.abs(wtp[:, None] * effect.mean(axis=0) - cost.mean(axis=0)).max(axis=1)
    excess = value - bound
    tolerance = _EVPI_TOLERANCE * bound + 1e-9 * scale
    if np.any(excess > tolerance):
        worst = int(np.argmax(excess - tolerance))
        warnings.warn(
            f"{caller}: regression estimate {value[worst]:.6g} exceeds the EVPI "
            f"{bound[worst]:.6g} at wtp {wtp[worst]:g}: the regression over-fits the sample; "
            "clipped to the EVPI. Use a larger PSA sample or fewer parameters.",
            RuntimeWarning,
            stacklevel=4,  # the caller of evppi / evsi_regression
        )
    return np.clip(value, 0.0, bound)


# --- Penalised regression splines ------------------------------------------------------------


class _SplineFit:
    """Tensor-product P-spline fits of every column of Y on x, smoothing chosen by GCV.

    With B = U S V' (thin SVD, numerically null directions dropped) and gamma = S V' beta,
    the fitted values are U gamma and the penalty gamma' M gamma. With M = W diag(s) W' and
    z = W' U' y, the penalised least-squares coefficients are theta = z / (1 + lambda s) in
    the orthonormal basis U W, so RSS and EDF are closed forms for any lambda.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, caller: str) -> None:
        n, d = x.shape
        margins = [_marginal_basis(x[:, j], _MARGIN_BASIS[d]) for j in range(d)]
        basis = margins[0][0]
        for b, _ in margins[1:]:  # row-wise Kronecker product
            basis = (basis[:, :, None] * b[:, None, :]).reshape(n, -1)
        sizes = [b.shape[1] for b, _ in margins]
        if basis.shape[1] * 2 > n:
            raise VoiError(
                f"{caller}: the spline basis for {d} parameter(s) has {basis.shape[1]} "
                f"coefficients, more than half of the {n} samples; use a larger PSA sample or "
                "fewer parameters."
            )
        penalties = [_kron_penalty(pen, j, sizes) for j, (_, pen) in enumerate(margins)]
        u, sv, vt = np.linalg.svd(basis, full_matrices=False)
        keep = sv > sv[0] * 1e-8
        self.u = u[:, keep]
        to_gamma = vt[keep].T / sv[keep]  # beta = to_gamma @ gamma
        uy = self.u.T @ y  # (q, r)
        resid_perp = np.sum((y - self.u @ uy) ** 2, axis=0)  # outside the basis
        n_resp = y.shape[1]
        ratios = list(product(*[_RATIO_GRID[d]] * (d - 1))) if d > 1 else [()]
        best_gcv = np.full(n_resp, np.inf)
        self.rotation: list[np.ndarray] = []
        self.which = np.zeros(n_resp, dtype=np.int64)
        self.theta = np.zeros((uy.shape[0], n_resp))
        self.sd = np.zeros((uy.shape[0], n_resp))
        for r, ratio in enumerate(ratios):
            penalty = penalties[0] + sum(c * p for c, p in zip(ratio, penalties[1:], strict=True))
            m = to_gamma.T @ penalty @ to_gamma
            s, w = np.linalg.eigh((m + m.T) / 2)
            s = np.clip(s, 0.0, None)
            self.rotation.append(w)
            z = w.T @ uy  # (q, r)
            lam = _lambda_grid(s)
            shrink = 1.0 / (1.0 + lam[:, None] * s[None, :])  # (n_lambda, q)
            edf = shrink.sum(axis=1)
            rss = resid_perp[None, :] + ((1.0 - shrink) ** 2) @ (z**2)  # (n_lambda, r)
            gcv = n * rss / (n - edf[:, None]) ** 2
            pick = np.argmin(gcv, axis=0)
            score = gcv[pick, np.arange(n_resp)]
            better = score < best_gcv
            if np.any(better):
                cols = np.flatnonzero(better)
                f = shrink[pick[cols]].T  # (q, cols)
                sigma2 = rss[pick[cols], cols] / (n - edf[pick[cols]])
                best_gcv[cols] = score[cols]
                self.which[cols] = r
                self.theta[:, cols] = f * z[:, cols]
                self.sd[:, cols] = np.sqrt(f * np.clip(sigma2, 0.0, None)[None, :])

    def _coefficients(self, cols: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """theta (q, len(cols), ...) in each column's eigenbasis -> coefficients on U."""
        out = np.empty_like(theta)
        for r in np.unique(self.which[cols]):
            sel = self.which[cols] == r
            out[:, sel] = np.tensordot(self.rotation[r], theta[:, sel], axes=1)
        return out

    def fitted(self, cols: np.ndarray) -> np.ndarray:
        """(n, len(cols)) fitted values."""
        return self.u @ self._coefficients(cols, self.theta[:, cols])

    def draw_coefficients(
        self, cols: np.ndarray, n_draws: int, rng: np.random.Generator
    ) -> np.ndarray:
        """(q, len(cols), n_draws) posterior draws of the coefficients on U."""
        q = self.theta.shape[0]
        noise = rng.standard_normal((q, cols.size, n_draws))
        theta = self.theta[:, cols, None] + self.sd[:, cols, None] * noise
        return self._coefficients(cols, theta)

    def evaluate(self, coef: np.ndarray) -> np.ndarray:
        """Coefficients (q, ...) -> fitted values (n, ...)."""
        return np.tensordot(self.u, coef, axes=1)


def _marginal_basis(values: np.ndarray, n_basis: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,) values -> basis (n, p) and second-difference matrix (max(p - 2, 0), p).

    Cubic B-splines with interior knots at quantiles; a variable with at most `n_basis`
    distinct values gets one indicator per value (ordered), smoothed across neighbours.
    """
    levels = np.unique(values)
    if levels.size <= n_basis:
        basis = (values[:, None] == levels[None, :]).astype(float)
    else:
        lo, hi = levels[0], levels[-1]
        probs = np.linspace(0.0, 1.0, n_basis - 2)[1:-1]
        interior = np.unique(np.quantile(values, probs))
        interior = interior[(interior > lo) & (interior < hi)]
        knots = np.concatenate([[lo] * 4, interior, [hi] * 4])
        basis = BSpline.design_matrix(values, knots, 3).toarray()
    p = basis.shape[1]
    diff = np.diff(np.eye(p), 2, axis=0) if p >= 3 else np.zeros((0, p))
    return basis, diff


def _kron_penalty(diff: np.ndarray, j: int, sizes: list[int]) -> np.ndarray:
    """Penalty on margin j of a tensor basis: I x ... x D'D x ... x I."""
    out = np.ones((1, 1))
    for k, size in enumerate(sizes):
        out = np.kron(out, diff.T @ diff if k == j else np.eye(size))
    return out


def _lambda_grid(s: np.ndarray) -> np.ndarray:
    """Log grid of smoothing parameters from no smoothing to full shrinkage of s > 0."""
    positive = s[s > s.max() * 1e-10] if s.max() > 0 else s[:0]
    if positive.size == 0:
        return np.zeros(1)
    return np.logspace(np.log10(1e-6 / positive.max()), np.log10(1e6 / positive.min()), _N_LAMBDA)


# --- Gaussian-process regression -------------------------------------------------------------


def _gp_fit(x: np.ndarray, y: np.ndarray, max_gp_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """GP regression of each column of y on x.

    Returns fitted values at all samples (n, r) and posterior draws of the regression function
    at the training samples (m, r, B).
    """
    n = x.shape[0]
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    m = min(n, int(max_gp_samples))
    train = method_stream(Purpose.GP_SUBSET).permutation(n)[:m]
    x_train = xs[train]
    h_train = np.column_stack([np.ones(m), x_train])
    h_all = np.column_stack([np.ones(n), xs])
    n_hyper = min(m, _GP_HYPER_SAMPLES)
    draw_rng = method_stream(Purpose.GP_DRAWS)
    fitted = np.empty(y.shape)
    draws = np.empty((m, y.shape[1], _N_DRAWS))
    for j in range(y.shape[1]):  # one regression per response, each with its hyperparameters
        y_train = y[train, j]
        beta = np.linalg.lstsq(h_train, y_train, rcond=None)[0]
        resid = y_train - h_train @ beta
        scale = resid.std()
        fitted[:, j] = h_all @ beta
        draws[:, j, :] = (h_train @ beta)[:, None]
        if scale <= 1e-12 * max(1.0, np.abs(y_train).max()):
            continue  # exactly linear in the inputs: nothing left for the GP
        r = resid / scale
        length, sf2, sn2 = _gp_hyperparameters(x_train[:n_hyper], r[:n_hyper])
        xl = x_train / length
        chol = _cholesky(sf2 * _sq_exp(xl, xl) + sn2 * np.eye(m))
        alpha = scipy.linalg.cho_solve((chol, True), r)
        block = max(1, _GP_CHUNK_ELEMENTS // m)
        for start in range(0, n, block):  # blocks of samples bound the memory
            stop = min(n, start + block)
            k_star = sf2 * _sq_exp(xs[start:stop] / length, xl)
            fitted[start:stop, j] += scale * (k_star @ alpha)
        # Matheron's rule: f0 ~ N(0, K), e ~ N(0, sn2 I); mean + f0 - K A^-1 (f0 + e) is a draw
        # from the posterior of the latent function, = mean - e + sn2 A^-1 (f0 + e).
        k_train = sf2 * _sq_exp(xl, xl)
        mean = k_train @ alpha
        chol_k = _cholesky(k_train + 0.01 * sn2 * np.eye(m))
        f0 = chol_k @ draw_rng.standard_normal((m, _N_DRAWS))
        e = np.sqrt(sn2) * draw_rng.standard_normal((m, _N_DRAWS))
        latent = mean[:, None] - e + sn2 * scipy.linalg.cho_solve((chol, True), f0 + e)
        draws[:, j, :] += scale * latent
    return fitted, draws


def _sq_exp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """exp(-|a_i - b_j|^2 / 2) for rows already divided by the length scales."""
    sq = (a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.exp(-0.5 * np.clip(sq, 0.0, None))


def _cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, adding diagonal jitter when rounding makes `a` indefinite."""
    scale = np.mean(np.diag(a))
    for jitter in (0.0, 1e-10, 1e-8, 1e-6, 1e-4):
        try:
            return scipy.linalg.cholesky(a + jitter * scale * np.eye(a.shape[0]), lower=True)
        except np.linalg.LinAlgError:
            continue
    raise VoiError(
        "Gaussian-process regression failed: the covariance matrix is not positive definite "
        "even with jitter. Remove duplicated or collinear parameters from the group, or use "
        "method='spline' for groups of up to 4 parameters."
    )


def _gp_hyperparameters(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Length scales (d,), signal and noise variances maximising the log marginal likelihood.

    x: (h, d) standardised inputs; r: (h,) standardised residuals of the linear mean.
    Parameters on log scale: log length scales, log signal sd, log noise sd.
    """
    h, d = x.shape
    # Squared differences per parameter, (d, h * h): the length-scale gradient is one product.
    diffs = np.stack([((x[:, k, None] - x[None, :, k]) ** 2).ravel() for k in range(d)])
    eye = np.eye(h)

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        length = np.exp(params[:d])
        sf2, sn2 = np.exp(2.0 * params[d]), np.exp(2.0 * params[d + 1])
        k = sf2 * _sq_exp(x / length, x / length)
        try:
            chol = scipy.linalg.cholesky(k + sn2 * eye, lower=True)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros(d + 2)
        alpha = scipy.linalg.cho_solve((chol, True), r)
        nll = 0.5 * r @ alpha + np.log(np.diag(chol)).sum() + 0.5 * h * np.log(2.0 * np.pi)
        inner = np.outer(alpha, alpha) - scipy.linalg.cho_solve((chol, True), eye)
        gk = inner * k
        grad = np.empty(d + 2)
        grad[:d] = -0.5 * (diffs @ gk.ravel()) / length**2
        grad[d] = -np.sum(gk)
        grad[d + 1] = -sn2 * np.trace(inner)
        return float(nll), grad

    bounds = [(np.log(0.05), np.log(100.0))] * d + [
        (np.log(1e-2), np.log(1e2)),
        (np.log(1e-3), np.log(10.0)),
    ]
    best = None
    # The second start is tried only if the first fails (no positive-definite matrix along
    # its path): each start costs tens of O(h^3) evaluations.
    for length0, noise0 in ((np.sqrt(d), 0.3), (1.0, 0.03)):
        start = np.concatenate([np.full(d, np.log(length0)), [0.0, np.log(noise0)]])
        res = scipy.optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds)
        if np.isfinite(res.fun) and res.fun < 1e10:
            best = res
            break
    if best is None:
        raise VoiError(
            "Gaussian-process regression failed: no hyperparameters give a positive definite "
            "covariance. Remove duplicated parameters from the group or use a larger sample."
        )
    p = best.x
    return np.exp(p[:d]), float(np.exp(2.0 * p[d])), float(np.exp(2.0 * p[d + 1]))


# --- Validation ------------------------------------------------------------------------------


def _validate_outcomes(cost: ArrayLike, effect: ArrayLike, caller: str) -> tuple[np.ndarray, ...]:
    """The decision-maths checks of cea.py, reported as VoiError."""
    from costmodel.cea import _validate_psa

    try:
        return _validate_psa(cost, effect, caller)
    except ValueError as exc:
        raise VoiError(str(exc)) from None


def _validate_wtp(wtp: ArrayLike, caller: str) -> np.ndarray:
    try:
        arr = np.asarray(wtp, dtype=float)
    except (TypeError, ValueError) as exc:
        raise VoiError(f"{caller}: wtp must be numbers; {exc}.") from None
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise VoiError(
            f"{caller}: wtp must be a non-empty 1-D array of finite thresholds (n_wtp,); got "
            f"{arr!r}. Wrap a single threshold in a list."
        )
    return arr


def _validate_inputs(values: ArrayLike, n_samples: int, caller: str, label: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise VoiError(f"{caller}: {label} must be numbers; {exc}.") from None
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != n_samples or x.shape[1] == 0:
        raise VoiError(
            f"{caller}: {label} must have shape (n_samples, n_params) with n_samples = "
            f"{n_samples}, one row per PSA sample; got shape {np.shape(values)}."
        )
    if not np.all(np.isfinite(x)):
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise VoiError(f"{caller}: {label} must be finite; sample {i}, column {j} is {x[i, j]}.")
    constant = [j for j in range(x.shape[1]) if np.all(x[:, j] == x[0, j])]
    if constant and label == "summary":
        raise VoiError(
            f"{caller}: summary column(s) {constant} are the same in every simulated study, so "
            "the study carries no information (EVSI 0); check the simulation of its data."
        )
    if constant:
        raise VoiError(
            f"{caller}: {label} column(s) {constant} are constant in the sample, so learning "
            "them is worth nothing; drop them from the group."
        )
    return x


def _validate_parameter_names(names: Sequence[str], n_params: int) -> tuple[str, ...]:
    if isinstance(names, str):
        raise VoiError(f"evppi: names must be a sequence of names; got the string {names!r}.")
    out = tuple(names)
    if len(out) != n_params:
        raise VoiError(f"evppi: {len(out)} names for {n_params} input columns; give one each.")
    if any(not isinstance(s, str) or not s.strip() for s in out) or len(set(out)) != len(out):
        raise VoiError(f"evppi: names must be unique non-blank strings; got {list(out)!r}.")
    return out


def _choose_method(method: str, n_params: int, caller: str) -> str:
    if method not in METHODS:
        raise VoiError(f"{caller}: method must be one of {METHODS}; got {method!r}.")
    if method == "auto":
        return "spline" if n_params <= _MAX_SPLINE_PARAMETERS else "gp"
    if method == "spline" and n_params > _MAX_SPLINE_PARAMETERS:
        raise VoiError(
            f"{caller}: the tensor-product spline handles at most {_MAX_SPLINE_PARAMETERS} "
            f"parameters; got {n_params}. Use method='gp' (the default for 5 or more)."
        )
    return method


def _check_group_size(
    x: np.ndarray, method: str, max_gp_samples: int, names: Sequence[str], caller: str
) -> None:
    n, d = x.shape
    if method == "gp":
        if not _is_int(max_gp_samples) or max_gp_samples < 2:
            raise VoiError(
                f"{caller}: max_gp_samples must be an integer >= 2; got {max_gp_samples!r}."
            )
        n = min(n, int(max_gp_samples))
    if d * _SAMPLES_PER_PARAMETER >= n:
        where = "" if n == x.shape[0] else f" (max_gp_samples = {max_gp_samples})"
        raise VoiError(
            f"{caller}: a group of {d} parameters ({'+'.join(names)}) is too large for "
            f"{n} samples{where}: the regression needs more than {_SAMPLES_PER_PARAMETER} "
            "samples per parameter. Use a larger PSA sample, split the group, or, for the "
            "value of learning every parameter, use costmodel.cea.evpi."
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
