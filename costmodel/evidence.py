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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

CONTINUITY = 0.5
Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Pooled:
    """A pooled risk ratio. ``se_log`` is the SE of the pooled log RR; ``se_pred`` the SD
    of the predictive distribution of a new study's log RR (sqrt(se² + tau²))."""

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
        t = float(stats.t.ppf(0.975, k - 2))
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

    @property
    def has_counts(self) -> bool:
        return None not in (self.n_msc, self.deaths_msc, self.n_control, self.deaths_control)


@dataclass(frozen=True)
class Selection:
    """Which trials enter the synthesis (Settings synthesis_*)."""

    virus: str = "all"  # a virus label or "all"
    products: tuple[str, ...] = ()  # product types; empty = all
    randomized_only: bool = False

    def describe(self) -> str:
        parts = [f"virus={self.virus}", f"product={'+'.join(self.products) or 'all'}"]
        parts.append("randomized only" if self.randomized_only else "all designs")
        return "; ".join(parts)

    def admits(self, trial: Trial) -> bool:
        return (
            trial.include
            and trial.has_counts
            and (self.virus == "all" or trial.virus.lower() == self.virus.lower())
            and (not self.products or trial.product_type.lower() in self.products)
            and (trial.randomized or not self.randomized_only)
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


def synthesize(trials: list[Trial], selection: Selection) -> Synthesis:
    """DL random-effects pooled RR (and MH check) for the selected trials."""
    rows = pool_studies(trials, selection)
    if not rows:
        raise ValueError(f"no included trial with death counts matches ({selection.describe()})")
    counts = np.array([r[2:] for r in rows], dtype=float)
    a, n1, c, n2 = counts.T
    log_rr, variance, informative = study_log_rr(a, n1, c, n2)
    if not informative.any():
        raise ValueError(f"no deaths in any selected trial ({selection.describe()})")
    dl = dersimonian_laird(log_rr, variance)
    w = np.where(informative, 1.0 / (np.where(informative, variance, 1.0) + dl.tau2), 0.0)
    try:
        mh = mantel_haenszel(a, n1, c, n2)
    except ValueError:
        mh = None
    studies = tuple(
        Study(r[0], r[1], r[2], r[3], r[4], r[5], float(log_rr[i]), float(variance[i]),
              float(w[i] / w.sum()))
        for i, r in enumerate(rows)
    )  # fmt: skip
    return Synthesis(selection, studies, dl, mh)
