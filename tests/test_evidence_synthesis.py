"""Random-effects pooling in costmodel.evidence checked against published worked examples.

Data: the 13 BCG vaccine trials of Colditz et al. (1994), JAMA 271(9):698-702,
doi:10.1001/jama.1994.03510330076038, as distributed with metafor (``dat.bcg``: TB cases and
non-cases in the vaccinated and control arms). Counts, and the log risk ratios and variances
``escalc(measure="RR")`` derives from them, are printed in the metafor README.

Published results (every number below is copied from one of these, never from this code):

[README]  metafor README, https://github.com/wviechtb/metafor/blob/master/README.md (stored
          copy at commit 0014f62b): the dat.bcg table with yi/vi to 4 dp; output of
          ``rma(yi, vi, data=dat, test="knha")`` (REML + Hartung-Knapp) and of
          ``predict(res, transf=exp, digits=2)``.
[METAN]   metafor test comparing rma.uni with Stata ``metan`` on dat.bcg,
          https://github.com/wviechtb/metafor/blob/master/tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r
          (DerSimonian-Laird, log RR; same file on rdrr.io/cran/metafor).
[CONFINT] https://github.com/wviechtb/metafor/blob/master/tests/testthat/test_misc_confint.r
          (DL tau², I², H²; Mantel-Haenszel RR and CI).
[RMAUNI]  https://github.com/wviechtb/metafor/blob/master/tests/testthat/test_misc_rma_uni.r:
          tau² = 0.3181 for method="SJIT" (all stored versions) and "DLIT" (the version at
          commit 191d2cb; an older one expected 0.1576 for DLIT). At convergence both solve
          the generalized Q equation Q(tau²) = k - 1, i.e. they are the Paule-Mandel
          estimate (metafor R/rma.uni.r: "DL estimator with iteration (when this converges,
          same as PM)"). No page printing method="PM" on dat.bcg was found.
[ROBMA]   RoBMA vignette "Bayesian Meta-Analysis" (F. Bartoš), rendered page
          https://fbartos.github.io/RoBMA/articles/02-bayesian-meta-analysis.html (address
          inferred from the page's own links), printing ``metafor::rma(yi, vi, data=dat,
          method="REML")`` on dat.bcg (Wald/z interval) and ``confint()``. Its tau² and
          estimate agree with [README].

Tolerances are half a unit in the last published decimal (5e-5 for 4 dp, 5e-3 for 2 dp).
Where no published figure exists (k = 1, k = 2, equal variances, no heterogeneity) the
expected values are worked by hand in closed form in the test.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from costmodel.evidence import (
    Pooled,
    Selection,
    Trial,
    dersimonian_laird,
    mantel_haenszel,
    random_effects,
    study_log_rr,
    synthesize,
    tau2_estimate,
)

DP4 = 5e-5  # half a unit in the 4th decimal
DP2 = 5e-3

# dat.bcg [README]: trial, author, year, tpos, tneg, cpos, cneg
BCG = [
    (1, "Aronson", 1948, 4, 119, 11, 128),
    (2, "Ferguson & Simes", 1949, 6, 300, 29, 274),
    (3, "Rosenthal et al", 1960, 3, 228, 11, 209),
    (4, "Hart & Sutherland", 1977, 62, 13536, 248, 12619),
    (5, "Frimodt-Moller et al", 1973, 33, 5036, 47, 5761),
    (6, "Stein & Aronson", 1953, 180, 1361, 372, 1079),
    (7, "Vandiviere et al", 1973, 8, 2537, 10, 619),
    (8, "TPT Madras", 1980, 505, 87886, 499, 87892),
    (9, "Coetzee & Berjak", 1968, 29, 7470, 45, 7232),
    (10, "Rosenthal et al", 1961, 17, 1699, 65, 1600),
    (11, "Comstock et al", 1974, 186, 50448, 141, 27197),
    (12, "Comstock & Webster", 1969, 5, 2493, 3, 2338),
    (13, "Comstock et al", 1976, 27, 16886, 29, 17825),
]
# escalc(measure="RR") yi and vi printed in [README]
BCG_YI = [
    -0.8893,
    -1.5854,
    -1.3481,
    -1.4416,
    -0.2175,
    -0.7861,
    -1.6209,
    0.0120,
    -0.4694,
    -1.3713,
    -0.3394,
    0.4459,
    -0.0173,
]
BCG_VI = [
    0.3256,
    0.1946,
    0.4154,
    0.0200,
    0.0512,
    0.0069,
    0.2230,
    0.0040,
    0.0564,
    0.0730,
    0.0124,
    0.5325,
    0.0714,
]


def _counts() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    table = np.array([row[3:] for row in BCG], dtype=float)
    tpos, tneg, cpos, cneg = table.T
    return tpos, tpos + tneg, cpos, cpos + cneg


@pytest.fixture(scope="module")
def bcg() -> tuple[np.ndarray, np.ndarray]:
    log_rr, variance, informative = study_log_rr(*_counts())
    assert informative.all()
    return log_rr, variance


def _log_ci(p: Pooled) -> tuple[float, float]:
    return math.log(p.ci_low), math.log(p.ci_high)


def _identical(a: Pooled | None, b: Pooled | None) -> bool:
    """Field-by-field equality with NaN equal to NaN (dataclass == relies on identity)."""
    if a is None or b is None:
        return a is b
    pairs = zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True)
    return all(x == y or (x != x and y != y) for x, y in pairs)


# ---------------------------------------------------------------- published: BCG / metafor


def test_study_log_rr_reproduces_metafor_escalc(bcg):
    log_rr, variance = bcg
    assert log_rr == pytest.approx(BCG_YI, abs=DP4)
    assert variance == pytest.approx(BCG_VI, abs=DP4)


def test_dersimonian_laird_matches_metafor_and_stata_metan(bcg):
    """[METAN]: estimate -0.7141, CI (-1.0644, -0.3638), z -3.9952, tau² 0.3088,
    I² 92.1173%, RR 0.4896 (0.3449, 0.6950), Q 152.2330; [CONFINT]: H² 12.6861."""
    for p in (dersimonian_laird(*bcg), random_effects(*bcg, tau2_method="DL", interval="wald")):
        assert p.log_rr == pytest.approx(-0.7141, abs=DP4)
        assert _log_ci(p) == pytest.approx((-1.0644, -0.3638), abs=DP4)
        assert p.log_rr / p.se_log == pytest.approx(-3.9952, abs=DP4)
        assert p.tau2 == pytest.approx(0.3088, abs=DP4)
        assert 100 * p.i2 == pytest.approx(92.1173, abs=DP4)
        assert 1 / (1 - p.i2) == pytest.approx(12.6861, abs=DP4)
        assert (p.rr, p.ci_low, p.ci_high) == pytest.approx((0.4896, 0.3449, 0.6950), abs=DP4)
        assert p.q == pytest.approx(152.2330, abs=DP4)
    assert tau2_estimate(*bcg, "DL") == pytest.approx(0.3088, abs=DP4)


def test_reml_with_wald_interval_matches_metafor(bcg):
    """[ROBMA] (metafor output): tau² 0.3132, I² 92.2214%, H² 12.8558, Q 152.2330,
    estimate -0.7145, se 0.1798, z -3.9744, CI (-1.0669, -0.3622)."""
    p = random_effects(*bcg, tau2_method="REML", interval="wald")
    assert (p.method, p.interval, p.k) == ("REML", "wald", 13)
    assert p.tau2 == pytest.approx(0.3132, abs=DP4)
    assert tau2_estimate(*bcg, "REML") == pytest.approx(0.3132, abs=DP4)
    assert 100 * p.i2 == pytest.approx(92.2214, abs=DP4)
    assert 1 / (1 - p.i2) == pytest.approx(12.8558, abs=DP4)
    assert p.q == pytest.approx(152.2330, abs=DP4)
    assert p.log_rr == pytest.approx(-0.7145, abs=DP4)
    assert p.se_log == pytest.approx(0.1798, abs=DP4)
    assert p.log_rr / p.se_log == pytest.approx(-3.9744, abs=DP4)
    assert _log_ci(p) == pytest.approx((-1.0669, -0.3622), abs=DP4)
    assert math.isnan(p.hksj_scale)


def test_reml_with_hksj_interval_matches_metafor_readme(bcg):
    """[README] rma(yi, vi, test="knha"): tau² 0.3132, I² 92.22%, estimate -0.7145,
    se 0.1808, t -3.9522 on 12 df, CI (-1.1084, -0.3206); predict(transf=exp, digits=2):
    0.49 (0.33, 0.73), PI (0.14, 1.76). The PI uses t on k - 1 = 12 df with the HKSJ SE,
    as metafor's predict.rma does for test="knha" (t on 11 df would give 0.13 to 1.79)."""
    p = random_effects(*bcg)  # defaults: REML + untruncated HKSJ
    assert (p.method, p.interval) == ("REML", "HKSJ")
    assert p.tau2 == pytest.approx(0.3132, abs=DP4)
    assert round(100 * p.i2, 2) == 92.22
    assert p.log_rr == pytest.approx(-0.7145, abs=DP4)
    assert p.se_log == pytest.approx(0.1808, abs=DP4)
    assert p.log_rr / p.se_log == pytest.approx(-3.9522, abs=DP4)
    assert _log_ci(p) == pytest.approx((-1.1084, -0.3206), abs=DP4)
    assert (p.rr, p.ci_low, p.ci_high) == pytest.approx((0.49, 0.33, 0.73), abs=DP2)
    assert (p.pi_low, p.pi_high) == pytest.approx((0.14, 1.76), abs=DP2)
    # the scale factor is what turns metafor's Wald SE into its HKSJ SE
    wald = random_effects(*bcg, tau2_method="REML", interval="wald")
    assert p.se_log == pytest.approx(wald.se_log * math.sqrt(p.hksj_scale), rel=1e-12)
    assert p.hksj_scale > 1  # q > 1 here, so the ad hoc floor changes nothing
    adhoc = random_effects(*bcg, tau2_method="REML", interval="HKSJ-adhoc")
    assert (adhoc.ci_low, adhoc.ci_high) == pytest.approx((p.ci_low, p.ci_high), rel=1e-12)


def test_paule_mandel_matches_metafor_iterated_estimators(bcg):
    """[RMAUNI]: SJIT/DLIT converge to the Paule-Mandel root, tau² = 0.3181."""
    assert tau2_estimate(*bcg, "PM") == pytest.approx(0.3181, abs=DP4)
    p = random_effects(*bcg, tau2_method="PM", interval="wald")
    assert p.tau2 == pytest.approx(0.3181, abs=DP4)


def test_mantel_haenszel_matches_metafor():
    """[CONFINT] rma.mh(measure="RR") on dat.bcg: RR 0.6353 (0.5881, 0.6862)."""
    p = mantel_haenszel(*_counts())
    assert (p.rr, p.ci_low, p.ci_high) == pytest.approx((0.6353, 0.5881, 0.6862), abs=DP4)


# ------------------------------------------------------- hand-computed closed-form examples


@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
def test_two_studies_closed_form(method):
    """k = 2, y = (0, 1), v = (0.1, 0.2), worked by hand. With d = y2 - y1, the DL and PM
    equations reduce to d² / (v1 + v2 + 2 tau²) = 1 and REML is the likelihood of the one
    contrast d ~ N(0, v1 + v2 + 2 tau²); all give tau² = (d² - v1 - v2) / 2 = 0.35. Then
    w = (1/0.45, 1/0.55), mu = 0.45 / (0.45 + 0.55) = 0.45, 1/Σw = 0.45·0.55 = 0.2475, and
    q = Q(tau²)/(k - 1) = 1, so the HKSJ SE equals the Wald SE and only the quantile
    changes (t on 1 df)."""
    y, v = np.array([0.0, 1.0]), np.array([0.1, 0.2])
    assert tau2_estimate(y, v, method) == pytest.approx(0.35, abs=1e-10)
    se = math.sqrt(0.2475)
    wald = random_effects(y, v, tau2_method=method, interval="wald")
    hksj = random_effects(y, v, tau2_method=method, interval="HKSJ")
    assert wald.log_rr == pytest.approx(0.45, abs=1e-10)
    assert wald.se_log == pytest.approx(se, rel=1e-9)
    assert math.isnan(wald.pi_low)  # Wald PI needs k >= 3 (t on k - 2 df)
    assert hksj.hksj_scale == pytest.approx(1.0, rel=1e-9)
    t1 = stats.t.ppf(0.975, 1)
    assert _log_ci(hksj) == pytest.approx((0.45 - t1 * se, 0.45 + t1 * se), rel=1e-9)
    half = t1 * math.sqrt(se**2 + 0.35)  # HKSJ PI: t on k - 1 = 1 df
    assert (math.log(hksj.pi_low), math.log(hksj.pi_high)) == pytest.approx(
        (0.45 - half, 0.45 + half), rel=1e-9
    )


@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
def test_equal_variances_give_the_one_sample_t_interval(method):
    """Equal v: every estimator gives tau² = max(0, S² - v). y = (0.1, 0.5, 1.2), v = 0.05:
    mean 0.6, squared deviations 0.25 + 0.01 + 0.36 = 0.62, S² = 0.31, tau² = 0.26. Weights
    are equal, so mu = 0.6, 1/Σw = (v + tau²)/3 = S²/3, q = 1, and the HKSJ CI is the
    classic t interval 0.6 ± t(2)·sqrt(0.31/3); Wald uses 1.96 instead of t(2). PIs:
    Wald t(1)·sqrt(S²/3 + tau²), HKSJ t(2)·sqrt(S²/3 + tau²)."""
    y, v = np.array([0.1, 0.5, 1.2]), np.full(3, 0.05)
    assert tau2_estimate(y, v, method) == pytest.approx(0.26, abs=1e-10)
    se, z = math.sqrt(0.31 / 3), stats.norm.ppf(0.975)
    t1, t2 = stats.t.ppf(0.975, 1), stats.t.ppf(0.975, 2)
    wald = random_effects(y, v, tau2_method=method, interval="wald")
    hksj = random_effects(y, v, tau2_method=method, interval="HKSJ")
    assert _log_ci(wald) == pytest.approx((0.6 - z * se, 0.6 + z * se), rel=1e-9)
    assert _log_ci(hksj) == pytest.approx((0.6 - t2 * se, 0.6 + t2 * se), rel=1e-9)
    sd_pred = math.sqrt(0.31 / 3 + 0.26)
    assert math.log(wald.pi_high) == pytest.approx(0.6 + t1 * sd_pred, rel=1e-9)
    assert math.log(hksj.pi_high) == pytest.approx(0.6 + t2 * sd_pred, rel=1e-9)


@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
def test_no_heterogeneity_untruncated_hksj_is_narrower_than_wald(method):
    """y = (-0.1, 0, 0.1), v = 1: S² = 0.01 < v, so tau² = 0 and q = S²/v = 0.01. The
    untruncated HKSJ half-width t(2)·sqrt(0.01/3) = 0.248 is far below Wald's
    1.96·sqrt(1/3) = 1.13: studies agreeing better than their variances imply shrink the
    HKSJ interval (documented metafor behaviour). The ad hoc floor max(1, q) restores the
    Wald SE, and with t(2) is then wider than Wald."""
    y, v = np.array([-0.1, 0.0, 0.1]), np.ones(3)
    wald = random_effects(y, v, tau2_method=method, interval="wald")
    hksj = random_effects(y, v, tau2_method=method, interval="HKSJ")
    adhoc = random_effects(y, v, tau2_method=method, interval="HKSJ-adhoc")
    assert wald.tau2 == hksj.tau2 == 0.0
    assert hksj.hksj_scale == pytest.approx(0.01, rel=1e-12)
    assert adhoc.hksj_scale == 1.0

    def width(p: Pooled) -> float:
        return math.log(p.ci_high) - math.log(p.ci_low)

    t2 = stats.t.ppf(0.975, 2)
    assert width(hksj) == pytest.approx(2 * t2 * math.sqrt(0.01 / 3), rel=1e-9)
    assert width(wald) == pytest.approx(2 * stats.norm.ppf(0.975) * math.sqrt(1 / 3), rel=1e-9)
    assert width(hksj) < width(wald) < width(adhoc)
    assert width(adhoc) == pytest.approx(2 * t2 * math.sqrt(1 / 3), rel=1e-9)
    # with tau² = 0 the HKSJ prediction interval is the confidence interval (metafor)
    assert (hksj.pi_low, hksj.pi_high) == pytest.approx((hksj.ci_low, hksj.ci_high), rel=1e-12)


# ----------------------------------------------------------------------- edge cases, input


def test_single_study():
    """k = 1: no between-study information, tau² = 0; the Wald CI is the study's own CI and
    no PI; HKSJ (t on k - 1 = 0 df) is undefined and raises."""
    y, v = np.array([-0.5]), np.array([0.04])
    for method in ("DL", "REML", "PM"):
        assert tau2_estimate(y, v, method) == 0.0
        p = random_effects(y, v, tau2_method=method, interval="wald")
        assert (p.k, p.tau2, p.i2, p.q) == (1, 0.0, 0.0, 0.0)
        z = stats.norm.ppf(0.975)
        assert _log_ci(p) == pytest.approx((-0.5 - z * 0.2, -0.5 + z * 0.2), rel=1e-12)
        assert math.isnan(p.pi_low) and math.isnan(p.pi_high)
        for interval in ("HKSJ", "HKSJ-adhoc"):
            with pytest.raises(ValueError, match="at least 2 studies"):
                random_effects(y, v, tau2_method=method, interval=interval)


def test_non_informative_rows_are_dropped_and_bad_input_rejected(bcg):
    log_rr, variance = bcg
    padded_y, padded_v = np.append(log_rr, np.nan), np.append(variance, np.nan)
    full, padded = random_effects(log_rr, variance), random_effects(padded_y, padded_v)
    assert _identical(padded, full)
    with pytest.raises(ValueError, match="no informative"):
        random_effects([np.nan], [np.nan])
    with pytest.raises(ValueError, match="> 0"):
        tau2_estimate([0.1, 0.2], [0.1, 0.0], "REML")
    with pytest.raises(ValueError, match="tau² method"):
        tau2_estimate(log_rr, variance, "HE")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval"):
        random_effects(log_rr, variance, interval="t")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ invariants


def _random_meta(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 15))
    v = rng.uniform(0.005, 0.5, k)
    tau = rng.choice([0.0, 0.1, 0.5])
    return rng.normal(-0.3, np.sqrt(v + tau**2)), v


@pytest.mark.parametrize("seed", range(40))
def test_estimators_solve_their_own_equations(seed):
    """tau² >= 0 always; DL and PM are 0 exactly when Q <= k - 1; a positive PM solves
    Q(tau²) = k - 1 (so its HKSJ scale is exactly 1); a positive REML solves the REML score
    equation y'PPy = tr P with P = W - w wᵀ/Σw, and REML = 0 only where that score is
    <= 0 at tau² = 0."""
    y, v = _random_meta(seed)
    k = y.size
    q = dersimonian_laird(y, v).q
    for method in ("DL", "REML", "PM"):
        assert tau2_estimate(y, v, method) >= 0.0
    dl, pm, reml = (tau2_estimate(y, v, m) for m in ("DL", "PM", "REML"))
    assert (dl == 0.0) == (q <= k - 1) == (pm == 0.0)
    if pm > 0:
        w = 1 / (v + pm)
        mu = np.sum(w * y) / np.sum(w)
        assert np.sum(w * (y - mu) ** 2) == pytest.approx(k - 1, rel=1e-9)
        hksj = random_effects(y, v, tau2_method="PM", interval="HKSJ")
        assert hksj.hksj_scale == pytest.approx(1.0, rel=1e-9)
    w = 1 / (v + reml)
    mu = np.sum(w * y) / np.sum(w)
    score, tr_p = np.sum((w * (y - mu)) ** 2), np.sum(w) - np.sum(w**2) / np.sum(w)
    if reml > 0:
        assert score == pytest.approx(tr_p, rel=1e-8)
    else:
        assert score <= tr_p


@pytest.mark.parametrize("seed", range(10))
def test_dl_wald_agrees_with_dersimonian_laird(seed):
    y, v = _random_meta(seed)
    old = dersimonian_laird(y, v)
    new = random_effects(y, v, tau2_method="DL", interval="wald")
    for field in ("rr", "ci_low", "ci_high", "tau2", "i2", "q", "se_log", "se_pred"):
        assert getattr(new, field) == pytest.approx(getattr(old, field), rel=1e-12, abs=1e-15)
    if y.size >= 3:
        assert (new.pi_low, new.pi_high) == pytest.approx((old.pi_low, old.pi_high), rel=1e-12)


# ----------------------------------------------------------------------------- synthesize


def _bcg_trials() -> list[Trial]:
    return [
        Trial(
            f"{author} {year}",
            "BCG",
            True,
            "tb",
            True,
            "vaccine",
            tpos + tneg,
            tpos,
            cpos + cneg,
            cpos,
            None,
            "Colditz 1994 via metafor dat.bcg",
        )
        for _, author, year, tpos, tneg, cpos, cneg in BCG
    ]


def test_synthesize_defaults_are_unchanged_and_options_opt_in(bcg):
    trials, selection = _bcg_trials(), Selection()
    default = synthesize(trials, selection)
    assert _identical(default.dl, dersimonian_laird(*bcg))  # exact: same code path as before
    explicit = synthesize(trials, selection, tau2_method="DL", interval="wald")
    assert _identical(explicit.dl, default.dl) and _identical(explicit.mh, default.mh)
    hksj = synthesize(trials, selection, tau2_method="REML", interval="HKSJ")
    p = hksj.dl
    assert (p.method, p.interval) == ("REML", "HKSJ")
    # [README] predict(res, transf=exp, digits=2)
    assert (p.rr, p.ci_low, p.ci_high) == pytest.approx((0.49, 0.33, 0.73), abs=DP2)
    assert (p.pi_low, p.pi_high) == pytest.approx((0.14, 1.76), abs=DP2)
    weights = np.array([s.weight_dl for s in hksj.studies])
    expected = 1 / (np.array(BCG_VI) + p.tau2)
    assert weights.sum() == pytest.approx(1.0)
    assert weights == pytest.approx(expected / expected.sum(), abs=1e-3)  # vi are rounded
    assert _identical(hksj.mh, default.mh)
    with pytest.raises(ValueError, match="tau² method"):
        synthesize(trials, selection, tau2_method="ML")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval"):
        synthesize(trials, selection, interval="knha")  # type: ignore[arg-type]
