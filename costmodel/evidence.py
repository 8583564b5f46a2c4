"""Pooling trial mortality into the treatment effect: random-effects meta-analysis of risk
ratios (DerSimonian–Laird) with a Mantel–Haenszel check. Arrays in, numbers out; no model.

Conventions (stated in the README):
- log risk ratios; studies with a zero cell get 0.5 added to all four cells (DL only);
  studies with no deaths in either arm carry no information on a ratio and are left out of
  DL (they contribute nothing to MH either);
- Mantel–Haenszel fixed-effect RR with the Greenland–Robins variance, no correction;
- DL between-study variance tau² from Cochran's Q; I² = max(0, (Q − df)/Q);
- 95% CI from the normal distribution; 95% prediction interval from a t distribution with
  k − 2 degrees of freedom (Higgins, Thompson & Spiegelhalter 2009), for k ≥ 3.

Those are the defaults of ``synthesize`` and exactly what ``dersimonian_laird`` returns.
``random_effects`` adds, as opt-in choices (see its docstring for formulas and references):

- tau² by DerSimonian–Laird, REML (Fisher scoring) or Paule–Mandel (``tau2_estimate``);
- a Wald (normal) or Hartung–Knapp–Sidik–Jonkman (t, k − 1 df) interval for the mean, with a
  prediction interval that follows metafor's ``predict.rma`` for HKSJ (t with k − 1 df).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from scipy import special

CONTINUITY = 0.5
Z95 = float(special.ndtri(0.975))  # standard normal 97.5% quantile

Tau2Method = Literal["DL", "REML", "PM"]
Interval = Literal["wald", "HKSJ", "HKSJ-adhoc"]
TAU2_METHODS: tuple[str, ...] = get_args(Tau2Method)
INTERVALS: tuple[str, ...] = get_args(Interval)


@dataclass(frozen=True)
class Pooled:
    """A pooled risk ratio. ``se_log`` is the SE of the pooled log RR; ``se_pred`` the SD
    of the predictive distribution of a new study's log RR (sqrt(se² + tau²)).

    ``method`` names the estimator ("DL", "REML", "PM" for random effects, "MH"). The
    fields after ``se_pred`` have defaults so positional construction keeps working:
    ``interval`` is how the CI was built ("wald", "HKSJ" or "HKSJ-adhoc") and ``hksj_scale``
    the HKSJ variance factor q = Σ w(y − μ)² / (k − 1) actually applied (NaN for Wald). For
    HKSJ, ``se_log`` is the scaled SE sqrt(q / Σw) and the CI uses t with k − 1 df.
    """

    method: str
    k: int
    rr: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    i2: float
    q: float
    se_log: float
    se_pred: float
    interval: str = "wald"
    hksj_scale: float = float("nan")

    @property
    def log_rr(self) -> float:
        return float(np.log(self.rr))


def study_log_rr(
    deaths_t: np.ndarray, n_t: np.ndarray, deaths_c: np.ndarray, n_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-study log RR and its variance, with 0.5 added to every cell of studies with a
    zero cell. Returns (log_rr, variance, informative) where ``informative`` is False for
    studies with no deaths in either arm (NaN there)."""
    a, n1, c, n2 = (np.asarray(x, dtype=float) for x in (deaths_t, n_t, deaths_c, n_c))
    b, d = n1 - a, n2 - c
    informative = (a + c) > 0
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    corr = np.where(zero, CONTINUITY, 0.0)
    a2, b2, c2, d2 = a + corr, b + corr, c + corr, d + corr
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rr = np.log(a2 / (a2 + b2)) - np.log(c2 / (c2 + d2))
        var = 1 / a2 - 1 / (a2 + b2) + 1 / c2 - 1 / (c2 + d2)
    log_rr = np.where(informative, log_rr, np.nan)
    var = np.where(informative, var, np.nan)
    return log_rr, var, informative


def dersimonian_laird(log_rr: np.ndarray, variance: np.ndarray) -> Pooled:
    """Random-effects pooled RR from study log RRs and variances (non-informative NaN rows
    are dropped)."""
    keep = np.isfinite(log_rr) & np.isfinite(variance)
    y, v = np.asarray(log_rr)[keep], np.asarray(variance)[keep]
    k = int(y.size)
    if k == 0:
        raise ValueError("no informative studies to pool")
    w = 1.0 / v
    fixed = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - fixed) ** 2))
    df = k - 1
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - df) / c) if k > 1 and c > 0 else 0.0
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    w_star = 1.0 / (v + tau2)
    mu = float(np.sum(w_star * y) / np.sum(w_star))
    se = float(np.sqrt(1.0 / np.sum(w_star)))
    se_pred = float(np.sqrt(se**2 + tau2))
    if k >= 3:
        t = float(special.stdtrit(k - 2, 0.975))
        pi_low, pi_high = np.exp(mu - t * se_pred), np.exp(mu + t * se_pred)
    else:
        pi_low = pi_high = np.nan
    return Pooled(
        "DL",
        k,
        float(np.exp(mu)),
        float(np.exp(mu - Z95 * se)),
        float(np.exp(mu + Z95 * se)),
        float(pi_low),
        float(pi_high),
        tau2,
        i2,
        q,
        se,
        se_pred,
    )


# ------------------------------------------------------------------ random effects, opt-in


def _informative_pairs(log_rr: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite (log RR, variance) pairs as float arrays; NaN rows (non-informative studies)
    are dropped as in ``dersimonian_laird``. Raises ValueError when nothing is left or a
    variance is not positive (REML and Paule–Mandel need v > 0)."""
    y_all = np.asarray(log_rr, dtype=float).ravel()
    v_all = np.asarray(variance, dtype=float).ravel()
    if y_all.shape != v_all.shape:
        raise ValueError(f"log_rr has {y_all.size} values but variance has {v_all.size}")
    keep = np.isfinite(y_all) & np.isfinite(v_all)
    y, v = y_all[keep], v_all[keep]
    if y.size == 0:
        raise ValueError("no informative studies to pool")
    if np.any(v <= 0):
        raise ValueError("every within-study variance must be > 0")
    return y, v


def _weighted_mean(y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * y) / np.sum(w))


def _generalized_q(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """Q(tau²) = Σ w (y − μ_w)² with w = 1 / (v + tau²); Cochran's Q at tau² = 0."""
    w = 1.0 / (v + tau2)
    return float(np.sum(w * (y - _weighted_mean(y, w)) ** 2))


def _tau2_dl(y: np.ndarray, v: np.ndarray) -> float:
    """DerSimonian–Laird moment estimator, truncated at 0 (same formula as
    ``dersimonian_laird``)."""
    w = 1.0 / v
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    if y.size < 2 or c <= 0:
        return 0.0
    return max(0.0, (_generalized_q(y, v, 0.0) - (y.size - 1)) / c)


def _reml_step(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """Fisher-scoring step for the REML tau² of an intercept-only model (metafor
    ``rma.uni``): (y'PPy − tr P) / tr(PP) with P = W − w wᵀ / Σw, w = 1 / (v + tau²). Its
    numerator is twice the REML score, so a zero step is the REML estimating equation."""
    w = 1.0 / (v + tau2)
    sw, sw2 = float(np.sum(w)), float(np.sum(w**2))
    py = w * (y - _weighted_mean(y, w))  # P y
    tr_p = sw - sw2 / sw
    tr_pp = sw2 - 2.0 * float(np.sum(w**3)) / sw + (sw2 / sw) ** 2
    return (float(np.sum(py**2)) - tr_p) / tr_pp


def _tau2_reml(y: np.ndarray, v: np.ndarray, tol: float, max_iter: int) -> float:
    """REML by Fisher scoring as metafor: start at max(0, Hedges' estimate), halve a step
    that would make tau² negative. A run that converges onto the boundary (within 100·tol
    of 0, with a non-positive score at 0) returns exactly 0."""
    k = y.size
    tau2 = max(0.0, float(np.sum((y - y.mean()) ** 2)) / (k - 1) - float(v.mean()))
    for _ in range(max_iter):
        adj = _reml_step(y, v, tau2)
        while tau2 + adj < 0.0:
            adj /= 2.0
        tau2 += adj
        if abs(adj) <= tol * max(1.0, tau2):
            if tau2 <= 100.0 * tol and _reml_step(y, v, 0.0) <= 0.0:
                return 0.0
            return tau2
    raise RuntimeError(f"REML Fisher scoring did not converge in {max_iter} iterations")


def _tau2_pm(y: np.ndarray, v: np.ndarray, tol: float) -> float:
    """Paule–Mandel: the root of Q(tau²) = k − 1 (Q decreases in tau²), 0 if Q(0) ≤ k − 1.
    metafor finds the root with ``uniroot``; here Brent's method on a doubling bracket."""
    target = y.size - 1.0

    def excess(tau2: float) -> float:
        return _generalized_q(y, v, tau2) - target

    if excess(0.0) <= 0.0:
        return 0.0
    upper = max(1.0, float(np.var(y)))
    for _ in range(200):
        if excess(upper) < 0.0:
            from scipy import optimize  # imported when needed (start-up time)

            return float(optimize.brentq(excess, 0.0, upper, xtol=tol, rtol=1e-15))
        upper *= 2.0
    raise RuntimeError("Paule-Mandel: no upper bracket for tau² found")


def tau2_estimate(
    log_rr: np.ndarray,
    variance: np.ndarray,
    method: Tau2Method = "DL",
    *,
    tol: float = 1e-12,
    max_iter: int = 1000,
) -> float:
    """Between-study variance tau² of log risk ratios.

    Parameters
    ----------
    log_rr, variance : array_like, shape (k,)
        Per-study log RR and its within-study variance (log scale, variance > 0). Rows
        where either is NaN (studies with no events) are dropped.
    method : {"DL", "REML", "PM"}
        ``"DL"``: DerSimonian & Laird (1986), doi:10.1016/0197-2456(86)90046-2, the
        moment estimator (Q − (k − 1)) / (Σw − Σw²/Σw) truncated at 0.
        ``"REML"``: restricted maximum likelihood by Fisher scoring as in metafor's
        ``rma.uni`` (Viechtbauer 2005, doi:10.3102/10769986030003261; Viechtbauer 2010,
        doi:10.18637/jss.v036.i03), started at Hedges' estimate, kept ≥ 0 by step halving.
        ``"PM"``: Paule & Mandel (1982), doi:10.6028/jres.087.022, the tau² ≥ 0 solving the
        generalized Q equation Σ (y − μ̂)² / (v + tau²) = k − 1; equal to the converged
        iterated DL estimator (DerSimonian & Kacker 2007, doi:10.1016/j.cct.2006.04.004).
    tol : float
        Convergence tolerance on tau² (absolute below 1, relative above) for REML and PM.
        Tighter than metafor's default (1e-5 on the REML step), so results agree with
        metafor's printed 4 decimals.
    max_iter : int
        Iteration cap for REML Fisher scoring.

    Returns
    -------
    float
        tau² ≥ 0 on the log-RR scale (squared log units). 0.0 for a single study, which
        carries no information on between-study variation.

    Raises
    ------
    ValueError
        Unknown method, no informative study, or a non-positive variance.
    RuntimeError
        REML did not converge within ``max_iter`` iterations.

    Notes
    -----
    metafor additionally checks that the REML log likelihood at tau² = 0 is not higher than
    at the Fisher-scoring solution (a local maximum); that check is not made here.
    """
    if method not in TAU2_METHODS:
        raise ValueError(f"tau² method must be one of {TAU2_METHODS}, not {method!r}")
    y, v = _informative_pairs(log_rr, variance)
    if y.size == 1:
        return 0.0
    if method == "DL":
        return _tau2_dl(y, v)
    if method == "REML":
        return _tau2_reml(y, v, tol, max_iter)
    return _tau2_pm(y, v, tol)


def _i_squared(v: np.ndarray, tau2: float) -> float:
    """I² = tau² / (tau² + v_typ) with v_typ = (k − 1) / (Σw − Σw²/Σw), w = 1/v (Higgins &
    Thompson 2002, doi:10.1002/sim.1186; metafor's definition for every tau² estimator).
    For DL with tau² > 0 this equals (Q − df) / Q."""
    w = 1.0 / v
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    if v.size < 2 or c <= 0 or tau2 <= 0:
        return 0.0
    return tau2 / (tau2 + (v.size - 1) / c)


def _mean_interval(
    y: np.ndarray, v: np.ndarray, tau2: float, interval: Interval
) -> tuple[float, float, float, float, int]:
    """(mu, se, critical value, HKSJ scale or NaN, prediction-interval df) for the pooled
    mean. Wald: normal quantile, PI df k − 2 (Higgins et al. 2009). HKSJ: se² scaled by
    q = Σ w (y − mu)² / (k − 1) (floored at 1 for "HKSJ-adhoc"), t quantile with k − 1 df,
    PI df k − 1 (metafor ``predict.rma`` for test="knha"/"adhoc")."""
    k = y.size
    w = 1.0 / (v + tau2)
    mu = _weighted_mean(y, w)
    se = float(np.sqrt(1.0 / np.sum(w)))
    if interval == "wald":
        return mu, se, Z95, float("nan"), k - 2
    if k < 2:
        raise ValueError(
            "the HKSJ interval needs at least 2 studies (its t distribution has k - 1 = 0 "
            "degrees of freedom for one study); use interval='wald' for a single study"
        )
    scale = float(np.sum(w * (y - mu) ** 2)) / (k - 1)
    if interval == "HKSJ-adhoc":
        scale = max(1.0, scale)
    crit = float(special.stdtrit(k - 1, 0.975))
    return mu, se * float(np.sqrt(scale)), crit, scale, k - 1


def random_effects(
    log_rr: np.ndarray,
    variance: np.ndarray,
    *,
    tau2_method: Tau2Method = "REML",
    interval: Interval = "HKSJ",
) -> Pooled:
    """Random-effects pooled risk ratio with a choice of tau² estimator and CI.

    Parameters
    ----------
    log_rr, variance : array_like, shape (k,)
        Per-study log RR and within-study variance (variance > 0); NaN rows (studies with
        no events, see ``study_log_rr``) are dropped.
    tau2_method : {"REML", "DL", "PM"}
        Between-study variance estimator, see ``tau2_estimate``.
    interval : {"HKSJ", "wald", "HKSJ-adhoc"}
        ``"wald"``: mu ± z₀.₉₇₅ / sqrt(Σw), w = 1/(v + tau²) (metafor test="z"). ``"HKSJ"``
        (Hartung & Knapp 2001, doi:10.1002/sim.791; Sidik & Jonkman 2002,
        doi:10.1002/sim.1262): se² = q / Σw, q = Σ w(y − mu)² / (k − 1) *untruncated* as
        metafor test="knha", t₀.₉₇₅ on k − 1 df; q < 1 makes it narrower than Wald.
        ``"HKSJ-adhoc"``: q → max(1, q) (metafor test="adhoc"; Röver, Knapp & Friede 2015,
        doi:10.1186/s12874-015-0091-1).

    Returns
    -------
    Pooled
        ``method`` = tau2_method; RR-scale ``rr``/``ci_*``/``pi_*``; ``se_log`` the SE used
        for the CI (HKSJ-scaled for HKSJ); ``se_pred`` = sqrt(se_log² + tau²); ``q``
        Cochran's Q; ``i2`` a fraction. 95% PI exp(mu ± t · se_pred): Wald uses t on k − 2
        df (Higgins, Thompson & Spiegelhalter 2009, doi:10.1111/j.1467-985X.2008.00552.x;
        metafor pi.type="Riley"), NaN for k < 3; HKSJ uses t on k − 1 df with the HKSJ SE,
        as metafor's ``predict.rma`` for test="knha" (PI = CI when tau² = 0). DL + Wald
        agrees with ``dersimonian_laird`` to rounding.

    Raises
    ------
    ValueError
        Unknown method or interval, no informative study, a non-positive variance, or HKSJ
        with a single study (k − 1 = 0 df).
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, not {interval!r}")
    tau2 = tau2_estimate(log_rr, variance, tau2_method)
    y, v = _informative_pairs(log_rr, variance)
    mu, se, crit, scale, pi_df = _mean_interval(y, v, tau2, interval)
    se_pred = float(np.sqrt(se**2 + tau2))
    pi_low = pi_high = float("nan")
    if pi_df >= 1:
        t = float(special.stdtrit(pi_df, 0.975))
        pi_low, pi_high = float(np.exp(mu - t * se_pred)), float(np.exp(mu + t * se_pred))
    return Pooled(
        method=tau2_method,
        k=int(y.size),
        rr=float(np.exp(mu)),
        ci_low=float(np.exp(mu - crit * se)),
        ci_high=float(np.exp(mu + crit * se)),
        pi_low=pi_low,
        pi_high=pi_high,
        tau2=tau2,
        i2=_i_squared(v, tau2),
        q=_generalized_q(y, v, 0.0),
        se_log=se,
        se_pred=se_pred,
        interval=interval,
        hksj_scale=scale,
    )


def mantel_haenszel(
    deaths_t: np.ndarray, n_t: np.ndarray, deaths_c: np.ndarray, n_c: np.ndarray
) -> Pooled:
    """Fixed-effect Mantel–Haenszel RR with the Greenland–Robins variance (no correction)."""
    a, n1, c, n2 = (np.asarray(x, dtype=float) for x in (deaths_t, n_t, deaths_c, n_c))
    n = n1 + n2
    r = np.sum(a * n2 / n)
    s = np.sum(c * n1 / n)
    if r <= 0 or s <= 0:
        raise ValueError("Mantel-Haenszel RR is not estimable (no deaths in one arm overall)")
    p = np.sum((n1 * n2 * (a + c) - a * c * n) / n**2)
    se = float(np.sqrt(p / (r * s)))
    rr = float(r / s)
    k = int(np.sum((a + c) > 0))
    return Pooled(
        "MH",
        k,
        rr,
        float(np.exp(np.log(rr) - Z95 * se)),
        float(np.exp(np.log(rr) + Z95 * se)),
        np.nan,
        np.nan,
        np.nan,
        np.nan,
        np.nan,
        se,
        se,
    )


def risk_ratio_to_hazard_ratio(rr: np.ndarray | float, baseline_risk: np.ndarray | float):
    """Hazard ratio giving the same risk at the trial's time point under proportional
    hazards: HR = ln(1 − RR·p0) / ln(1 − p0), with p0 the control-arm risk."""
    rr, p0 = np.asarray(rr, dtype=float), np.asarray(baseline_risk, dtype=float)
    return np.log1p(-rr * p0) / np.log1p(-p0)


# ----------------------------------------------------------------------------- trial table


@dataclass(frozen=True)
class Trial:
    """One row of the Trials sheet: an MSC arm against a control arm.

    Rows sharing a ``trial_id`` are arms of one multi-arm trial with a shared control.
    """

    trial_id: str
    arm: str
    include: bool
    virus: str
    randomized: bool
    product_type: str
    n_msc: int | None
    deaths_msc: int | None
    n_control: int | None
    deaths_control: int | None
    timepoint_days: float | None
    source: str
    where: str = ""
    risk_of_bias: str = ""  # low | some concerns | high ("" = not assessed)
    counts_derived: bool = False  # death counts back-calculated (e.g. from percentages)

    @property
    def has_counts(self) -> bool:
        return None not in (self.n_msc, self.deaths_msc, self.n_control, self.deaths_control)


@dataclass(frozen=True)
class Selection:
    """Which trials enter the synthesis (Settings synthesis_*)."""

    virus: str = "all"  # a virus label or "all"
    products: tuple[str, ...] = ()  # product types; empty = all
    randomized_only: bool = False
    exclude_high_risk_of_bias: bool = False
    exclude_derived_counts: bool = False
    trial_ids: tuple[str, ...] = ()  # only these trials; empty = all

    def describe(self) -> str:
        parts = [f"virus={self.virus}", f"product={'+'.join(self.products) or 'all'}"]
        parts.append("randomized only" if self.randomized_only else "all designs")
        if self.exclude_high_risk_of_bias:
            parts.append("no high risk of bias")
        if self.exclude_derived_counts:
            parts.append("no derived counts")
        if self.trial_ids:
            parts.append("trials " + ", ".join(self.trial_ids))
        return "; ".join(parts)

    def admits(self, trial: Trial) -> bool:
        return (
            trial.include
            and trial.has_counts
            and (self.virus == "all" or trial.virus.lower() == self.virus.lower())
            and (not self.products or trial.product_type.lower() in self.products)
            and (trial.randomized or not self.randomized_only)
            and not (self.exclude_high_risk_of_bias and trial.risk_of_bias == "high")
            and not (self.exclude_derived_counts and trial.counts_derived)
            and (not self.trial_ids or trial.trial_id in self.trial_ids)
        )


@dataclass(frozen=True)
class Study:
    """A trial as pooled: arms selected from one trial are merged against its control once."""

    trial_id: str
    arms: str
    deaths_msc: int
    n_msc: int
    deaths_control: int
    n_control: int
    log_rr: float
    variance: float
    weight_dl: float  # share of the random-effects weight (0 for non-informative studies)


@dataclass(frozen=True)
class Synthesis:
    selection: Selection
    studies: tuple[Study, ...]
    dl: Pooled
    mh: Pooled | None


def pool_studies(
    trials: list[Trial], selection: Selection
) -> list[tuple[str, str, int, int, int, int]]:
    """Selected rows grouped by trial: MSC arms summed, the shared control counted once.

    Returns (trial_id, arms, deaths_msc, n_msc, deaths_control, n_control) per trial, in
    first-appearance order. Raises ValueError if arms of one trial disagree on the control.
    """
    grouped: dict[str, list[Trial]] = {}
    for t in trials:
        if selection.admits(t):
            grouped.setdefault(t.trial_id, []).append(t)
    rows = []
    for trial_id, arms in grouped.items():
        controls = {(a.deaths_control, a.n_control) for a in arms}
        if len(controls) > 1:
            raise ValueError(
                f"trial {trial_id}: arms share a control but give different control counts "
                f"{sorted(controls)}"
            )
        ((deaths_c, n_c),) = controls
        rows.append(
            (
                trial_id,
                " + ".join(a.arm or a.product_type for a in arms),
                sum(a.deaths_msc for a in arms),  # type: ignore[misc]
                sum(a.n_msc for a in arms),  # type: ignore[misc]
                int(deaths_c),  # type: ignore[arg-type]
                int(n_c),  # type: ignore[arg-type]
            )
        )
    return rows


def synthesize(
    trials: list[Trial],
    selection: Selection,
    *,
    tau2_method: Tau2Method = "DL",
    interval: Interval = "wald",
) -> Synthesis:
    """Random-effects pooled RR (and MH check) for the selected trials.

    The defaults (DerSimonian–Laird tau², Wald CI, t(k − 2) prediction interval) go through
    ``dersimonian_laird`` and give exactly the numbers of earlier versions; any other
    ``tau2_method``/``interval`` (see ``random_effects``) is opt-in. ``Synthesis.dl`` holds
    the random-effects pool whichever estimator was chosen (its ``method`` says which), and
    ``Study.weight_dl`` the study's share of the weights 1 / (v + tau²).
    """
    if tau2_method not in TAU2_METHODS:
        raise ValueError(f"tau² method must be one of {TAU2_METHODS}, not {tau2_method!r}")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, not {interval!r}")
    rows = pool_studies(trials, selection)
    if not rows:
        raise ValueError(f"no included trial with death counts matches ({selection.describe()})")
    counts = np.array([r[2:] for r in rows], dtype=float)
    a, n1, c, n2 = counts.T
    log_rr, variance, informative = study_log_rr(a, n1, c, n2)
    if not informative.any():
        raise ValueError(f"no deaths in any selected trial ({selection.describe()})")
    if (tau2_method, interval) == ("DL", "wald"):
        dl = dersimonian_laird(log_rr, variance)
    else:
        dl = random_effects(log_rr, variance, tau2_method=tau2_method, interval=interval)
    w = np.where(informative, 1.0 / (np.where(informative, variance, 1.0) + dl.tau2), 0.0)
    try:
        mh = mantel_haenszel(a, n1, c, n2)
    except ValueError:
        mh = None
    studies = tuple(
        Study(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            float(log_rr[i]),
            float(variance[i]),
            float(w[i] / w.sum()),
        )
        for i, r in enumerate(rows)
    )
    return Synthesis(selection, studies, dl, mh)


def describe_method(pooled: Pooled) -> str:
    """The estimator in words, e.g. 'DerSimonian-Laird tau², HKSJ interval'."""
    if pooled.method == "MH":
        return "Mantel-Haenszel (fixed effect)"
    names = {"DL": "DerSimonian-Laird", "REML": "REML", "PM": "Paule-Mandel"}
    interval = "Wald" if pooled.interval == "wald" else pooled.interval
    return f"{names.get(pooled.method, pooled.method)} tau², {interval} interval"
