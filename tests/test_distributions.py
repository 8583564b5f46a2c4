"""Tests for costmodel.distributions: closed-form moments, quantiles against scipy.stats,
seeded Monte Carlo, method-of-moments conversions and every validation message."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats

from costmodel.distributions import (
    FAMILIES,
    FAMILY_DOCS,
    Distribution,
    DistributionError,
    check_use,
    make_distribution,
    sample_dirichlet,
)

N_MC = 200_000
U3 = np.array([0.025, 0.5, 0.975])


def _truncnorm_moments(mean: float, sd: float, lower: float, upper: float) -> tuple[float, float]:
    """Mean and sd of a truncated normal from the textbook formulas."""
    a, b = (lower - mean) / sd, (upper - mean) / sd
    z = stats.norm.cdf(b) - stats.norm.cdf(a)
    pa, pb = stats.norm.pdf(a), stats.norm.pdf(b)
    shift = (pa - pb) / z
    var = sd**2 * (1.0 + (a * pa - b * pb) / z - shift**2)
    return mean + sd * shift, math.sqrt(var)


# (family, native numbers, analytic mean, analytic sd)
CLOSED_FORMS = [
    ("fixed", (3.5,), 3.5, 0.0),
    ("beta", (298, 981), 298 / 1279, math.sqrt(298 * 981 / (1279**2 * 1280))),
    ("gamma", (100, 18.81), 1881.0, 188.1),
    (
        "lognormal",
        (0.1, 0.5),
        math.exp(0.1 + 0.125),
        math.sqrt((math.exp(0.25) - 1.0) * math.exp(0.2 + 0.25)),
    ),
    ("normal", (10, 2), 10.0, 2.0),
    # half-normal: mean sqrt(2/pi), sd sqrt(1 - 2/pi)
    ("truncnormal", (0, 1, 0, None), math.sqrt(2 / math.pi), math.sqrt(1 - 2 / math.pi)),
    ("truncnormal", (1, 2, 0, 3), *_truncnorm_moments(1, 2, 0, 3)),
    ("uniform", (2, 8), 5.0, 6 / math.sqrt(12)),
    ("triangular", (1, 2, 6), (1 + 2 + 6) / 3, math.sqrt(21 / 18)),
    # PERT(1, 2, 6) = 1 + 5 Beta(1.8, 4.2): sd = 5 sqrt(1.8 * 4.2 / (6^2 * 7)) = 5 sqrt(0.03)
    ("pert", (1, 2, 6), (1 + 4 * 2 + 6) / 6, 5 * math.sqrt(0.03)),
]
IDS = [f"{f}{n}" for f, n, _, _ in CLOSED_FORMS]


@pytest.mark.parametrize(("family", "numbers", "mean", "sd"), CLOSED_FORMS, ids=IDS)
def test_mean_and_sd_match_closed_forms(family, numbers, mean, sd):
    dist = make_distribution(family, numbers)
    assert dist.mean() == pytest.approx(mean, rel=1e-12)
    assert dist.sd() == pytest.approx(sd, rel=1e-12, abs=1e-15)


def test_gamma_and_beta_headline_values():
    gamma = make_distribution("gamma", [100, 18.81])
    assert gamma.mean() == pytest.approx(1881.0, rel=1e-12)
    assert gamma.sd() == pytest.approx(188.1, rel=1e-12)
    assert make_distribution("beta", [298, 981]).mean() == pytest.approx(298 / 1279, rel=1e-12)


def _truncnorm_ppf(u, mean, sd, lower, upper):
    """Inverse CDF of a truncated normal written from its definition."""
    lo, hi = stats.norm.cdf((lower - mean) / sd), stats.norm.cdf((upper - mean) / sd)
    return mean + sd * stats.norm.ppf(lo + u * (hi - lo))


SCIPY_EQUIVALENTS = [
    ("beta", (298, 981), stats.beta(298, 981).ppf),
    ("gamma", (100, 18.81), stats.gamma(100, scale=18.81).ppf),
    ("lognormal", (0.1, 0.5), stats.lognorm(s=0.5, scale=math.exp(0.1)).ppf),
    ("normal", (10, 2), stats.norm(10, 2).ppf),
    ("truncnormal", (1, 2, 0, 3), lambda u: _truncnorm_ppf(u, 1, 2, 0, 3)),
    ("truncnormal", (0, 1, 0, None), lambda u: _truncnorm_ppf(u, 0, 1, 0, math.inf)),
    ("uniform", (2, 8), stats.uniform(2, 6).ppf),
    ("triangular", (1, 2, 6), stats.triang(0.2, loc=1, scale=5).ppf),
    ("triangular", (1, 1, 6), stats.triang(0.0, loc=1, scale=5).ppf),
    ("triangular", (1, 6, 6), stats.triang(1.0, loc=1, scale=5).ppf),
    ("pert", (1, 2, 6), stats.beta(1.8, 4.2, loc=1, scale=5).ppf),
]


@pytest.mark.parametrize(
    ("family", "numbers", "reference"),
    SCIPY_EQUIVALENTS,
    ids=[f"{f}{n}" for f, n, _ in SCIPY_EQUIVALENTS],
)
def test_ppf_matches_scipy(family, numbers, reference):
    got = make_distribution(family, numbers).ppf(U3)
    np.testing.assert_allclose(got, reference(U3), rtol=1e-10)


def test_ppf_keeps_shape_and_fixed_is_constant():
    u = np.full((4, 3), 0.3)
    u[0, 0] = 0.999
    assert make_distribution("normal", [0, 1]).ppf(u).shape == (4, 3)
    np.testing.assert_array_equal(make_distribution("fixed", [2.5]).ppf(u), np.full((4, 3), 2.5))


def test_zero_spread_is_constant():
    u = np.array([1e-9, 0.5, 1 - 1e-9])
    np.testing.assert_array_equal(make_distribution("normal", [4, 0]).ppf(u), [4, 4, 4])
    np.testing.assert_allclose(make_distribution("lognormal", [1, 0]).ppf(u), [math.e] * 3)
    assert make_distribution("lognormal", [1, 0]).sd() == 0.0


MC_CASES = [c for c in CLOSED_FORMS if c[0] != "fixed"]


@pytest.mark.parametrize(
    ("family", "numbers", "mean", "sd"), MC_CASES, ids=[f"{f}{n}" for f, n, _, _ in MC_CASES]
)
def test_monte_carlo_moments(family, numbers, mean, sd):
    u = np.random.default_rng(1).random(N_MC)
    x = make_distribution(family, numbers).ppf(u)
    assert abs(x.mean() - mean) < 4 * sd / math.sqrt(N_MC)
    assert x.std(ddof=1) == pytest.approx(sd, rel=0.02)


@pytest.mark.parametrize(
    ("family", "mean", "se"),
    [
        ("beta", 0.233, 0.0118),
        ("gamma", 1881.0, 188.1),
        ("lognormal", 7.7, 0.28),
        ("normal", -3.0, 0.5),
    ],
)
def test_mean_se_round_trip(family, mean, se):
    dist = make_distribution(family, [mean, se], "mean_se")
    assert dist.mean() == pytest.approx(mean, rel=1e-12)
    assert dist.sd() == pytest.approx(se, rel=1e-12)


def test_mean_se_native_parameters():
    # k = 0.25 / 0.01 - 1 = 24
    assert make_distribution("beta", [0.5, 0.1], "mean_se").params == pytest.approx((12, 12))
    gamma = make_distribution("gamma", [1881, 188.1], "mean_se")
    assert gamma.params == pytest.approx((100, 18.81), rel=1e-12)
    trunc = make_distribution("truncnormal", [0.3, 0.1, 0, 1], "mean_se")
    assert trunc.params == (0.3, 0.1, 0.0, 1.0)


def test_lognormal_ci95_published_relative_risk():
    """A relative risk reported as 7.7 (95% CI 7.2 to 8.3), read as a lognormal."""
    dist = make_distribution("lognormal", [7.2, 8.3], "ci95")
    meanlog, sdlog = dist.params
    assert meanlog == pytest.approx(math.log(math.sqrt(7.2 * 8.3)), rel=1e-12)
    assert sdlog == pytest.approx((math.log(8.3) - math.log(7.2)) / 3.92, rel=1e-12)
    assert round(sdlog, 4) == 0.0363
    assert sdlog == pytest.approx(0.03627, abs=5e-6)
    # back to the printed digits: median 7.7, 95% interval 7.2 to 8.3
    assert round(math.exp(meanlog), 1) == 7.7
    lower, upper = dist.interval(0.95)
    assert (round(lower, 1), round(upper, 1)) == (7.2, 8.3)


def test_ci95_normal_beta_gamma_uniform():
    normal = make_distribution("normal", [-1, 3], "ci95")
    assert normal.params == pytest.approx((1.0, 4 / 3.92), rel=1e-12)
    beta = make_distribution("beta", [0.2, 0.3], "ci95", base_value=0.24)
    assert beta.mean() == pytest.approx(0.24, rel=1e-12)
    assert beta.sd() == pytest.approx(0.1 / 3.92, rel=1e-12)
    midpoint = make_distribution("beta", [0.2, 0.3], "ci95")
    assert midpoint.mean() == pytest.approx(0.25, rel=1e-12)
    gamma = make_distribution("gamma", [1500, 2300], "ci95", base_value=1881)
    assert gamma.mean() == pytest.approx(1881, rel=1e-12)
    assert gamma.sd() == pytest.approx(800 / 3.92, rel=1e-12)
    assert make_distribution("uniform", [2, 8], "ci95").params == (2.0, 8.0)


def test_interval_of_standard_normal():
    lower, upper = make_distribution("normal", [0, 1]).interval(0.95)
    assert lower == pytest.approx(-1.959964, abs=1e-6)
    assert upper == pytest.approx(1.959964, abs=1e-6)
    assert make_distribution("normal", [0, 1]).interval(0.5) == pytest.approx(
        (-0.6744898, 0.6744898), abs=1e-7
    )
    assert make_distribution("fixed", [2]).interval() == (2.0, 2.0)


def test_pert_and_triangular_means():
    for low, mode, high in [(0, 1, 10), (100, 250, 300), (-5, -5, 5)]:
        pert = make_distribution("pert", [low, mode, high])
        tri = make_distribution("triangular", [low, mode, high])
        assert pert.mean() == pytest.approx((low + 4 * mode + high) / 6, rel=1e-12)
        assert tri.mean() == pytest.approx((low + mode + high) / 3, rel=1e-12)
        # the pert mean is also the mean of its scaled beta
        a, b = 1 + 4 * (mode - low) / (high - low), 1 + 4 * (high - mode) / (high - low)
        assert pert.mean() == pytest.approx(stats.beta(a, b, loc=low, scale=high - low).mean())


@pytest.mark.parametrize(
    "numbers", [(1, 2, 0, 3), (0.5, 1, 0, None), (0.5, 1, None, 0.2), (0, 1, 5, None)]
)
def test_truncnormal_samples_within_bounds(numbers):
    dist = make_distribution("truncnormal", numbers)
    u = np.concatenate([np.random.default_rng(1).random(N_MC), [1e-12, 1 - 1e-12]])
    x = dist.ppf(u)
    lower, upper = dist.support()
    assert np.all(np.isfinite(x))
    assert np.all((x >= lower) & (x <= upper))
    assert lower == (-math.inf if numbers[2] is None else numbers[2])
    assert upper == (math.inf if numbers[3] is None else numbers[3])


def test_fixed_uses_base_value_when_blank():
    assert make_distribution("fixed", [None, None, None], base_value=0.17).params == (0.17,)
    assert make_distribution("fixed", [], base_value=0.17).mean() == 0.17
    assert make_distribution("fixed", [0.2], base_value=0.17).params == (0.2,)


def test_family_and_param_type_are_read_loosely():
    assert make_distribution(" Beta ", [2, 3], "") == Distribution("beta", (2.0, 3.0))
    gamma = make_distribution("GAMMA", [0.5, 0.1], " Mean_SE ")
    assert gamma.params == pytest.approx((25.0, 0.02), rel=1e-12)


def test_trailing_blank_numbers_are_ignored():
    """The Parameters sheet always hands over param1..param4."""
    assert make_distribution("beta", (2, 3, None, None)) == Distribution("beta", (2.0, 3.0))
    trunc = make_distribution("truncnormal", (0, 1, None, None))
    assert trunc.support() == (-math.inf, math.inf)
    assert trunc.mean() == pytest.approx(0.0, abs=1e-12)
    assert trunc.sd() == pytest.approx(1.0, rel=1e-12)


def test_str_names_parameters():
    assert str(make_distribution("beta", [298, 981])) == "beta(alpha=298, beta=981)"


def test_support():
    assert make_distribution("beta", [2, 3]).support() == (0.0, 1.0)
    assert make_distribution("gamma", [2, 3]).support() == (0.0, math.inf)
    assert make_distribution("normal", [2, 3]).support() == (-math.inf, math.inf)
    assert make_distribution("pert", [1, 2, 6]).support() == (1.0, 6.0)


@pytest.mark.parametrize(
    ("family", "numbers"),
    [
        ("normal", (0.2, 0.05)),
        ("lognormal", (-1.6, 0.2)),
        ("gamma", (2, 0.1)),
        ("uniform", (-0.1, 0.5)),
        ("uniform", (0.5, 1.2)),
        ("truncnormal", (0.2, 0.1, 0, None)),
        ("triangular", (0, 0.5, 1.2)),
        ("fixed", (17,)),
    ],
)
def test_check_use_refuses_unbounded_probability(family, numbers):
    dist = make_distribution(family, numbers)
    with pytest.raises(DistributionError, match=r"'p_death'.*probability.*use beta"):
        check_use(dist, is_probability=True, name="p_death")
    check_use(dist, is_probability=False, name="c_icu_day")  # fine when not a probability


@pytest.mark.parametrize(
    ("family", "numbers"),
    [
        ("beta", (2, 8)),
        ("uniform", (0.1, 0.3)),
        ("truncnormal", (0.2, 0.1, 0, 1)),
        ("triangular", (0, 0.2, 1)),
        ("pert", (0, 0.2, 0.5)),
        ("fixed", (0.3,)),
        ("normal", (0.3, 0)),
    ],
)
def test_check_use_accepts_bounded_probability(family, numbers):
    check_use(make_distribution(family, numbers), is_probability=True, name="p_death")


def _dirichlet_moments(alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = alphas.sum()
    return alphas / total, np.sqrt(alphas * (total - alphas) / (total**2 * (total + 1)))


@pytest.mark.parametrize("alphas", [[20.0, 5.0, 75.0], [0.01, 0.02, 5.0], [0.5, 0.5]])
def test_dirichlet_rows_and_moments(alphas):
    alphas = np.array(alphas)
    draws = sample_dirichlet(alphas, np.random.default_rng(1), N_MC)
    assert draws.shape == (N_MC, alphas.size)
    assert np.all(np.isfinite(draws)) and np.all((draws >= 0) & (draws <= 1))
    np.testing.assert_allclose(draws.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    mean, sd = _dirichlet_moments(alphas)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * sd / math.sqrt(N_MC))
    np.testing.assert_allclose(draws.std(axis=0, ddof=1), sd, rtol=0.02)


def test_dirichlet_same_seed_same_draws():
    alphas = np.array([3.0, 4.0, 5.0])
    first = sample_dirichlet(alphas, np.random.default_rng(7), 50)
    second = sample_dirichlet(alphas, np.random.default_rng(7), 50)
    np.testing.assert_array_equal(first, second)
    assert sample_dirichlet(alphas, np.random.default_rng(7), 0).shape == (0, 3)


@pytest.mark.parametrize(
    ("alphas", "n", "message"),
    [
        ([3.0, 0.0], 10, "every alpha > 0 and finite; got 3, 0"),
        ([3.0, -1.0], 10, "every alpha > 0"),
        ([3.0, math.nan], 10, "every alpha > 0"),
        ([[1.0, 2.0]], 10, "a list of alphas"),
        ([], 10, "a list of alphas"),
        ([1.0, 2.0], -1, "whole number >= 0; got -1"),
        ([1.0, 2.0], 2.5, "whole number >= 0; got 2.5"),
    ],
)
def test_dirichlet_errors(alphas, n, message):
    with pytest.raises(DistributionError, match=re.escape(message)):
        sample_dirichlet(np.array(alphas), np.random.default_rng(1), n)


# (family, numbers, param_type, base_value, expected message fragment)
ERRORS = [
    ("beta", (-1, 3), "native", None, "beta needs alpha > 0 and beta > 0; got alpha=-1, beta=3"),
    ("beta", (2, 0), "native", None, "got alpha=2, beta=0"),
    (
        "beta",
        (1.2, 0.1),
        "mean_se",
        None,
        "beta from mean 1.2 and SE 0.1: the mean must be strictly between 0 and 1",
    ),
    ("beta", (0, 0.1), "mean_se", None, "the mean must be strictly between 0 and 1"),
    (
        "beta",
        (0.5, 0.6),
        "mean_se",
        None,
        "beta from mean 0.5 and SE 0.6: the SE is larger than possible for that mean",
    ),
    ("beta", (0.5, 0.5), "mean_se", None, "needs SE < sqrt(mean x (1 - mean)) = 0.5"),
    ("beta", (0.5, 0), "mean_se", None, "the SE must be > 0"),
    ("beta", (0.2, 0.3), "ci95", 0.5, "the base value 0.5 lies outside the interval"),
    ("beta", (20, 30), "ci95", 0.25, "the base value 0.25 lies outside the interval"),
    ("beta", (0.3, 0.2), "ci95", None, "the lower limit must be below the upper limit"),
    ("beta", (0.5, 1.5), "ci95", None, "beta from 95% CI 0.5 to 1.5 (mean 1, SE 0.2551)"),
    ("gamma", (0, 18.81), "native", None, "gamma needs shape > 0 and scale > 0; got shape=0"),
    ("gamma", (-5, 1), "mean_se", None, "gamma from mean -5 and SE 1: the mean must be > 0"),
    ("gamma", (5, 0), "mean_se", None, "gamma from mean 5 and SE 0: the SE must be > 0"),
    ("lognormal", (0, -0.1), "native", None, "needs sdlog >= 0; got meanlog=0, sdlog=-0.1"),
    ("lognormal", (0, 0.1), "mean_se", None, "the mean must be > 0"),
    ("lognormal", (1, -0.1), "mean_se", None, "the SE must be >= 0"),
    ("lognormal", (0, 8.3), "ci95", None, "from 95% CI 0 to 8.3: needs 0 < lower < upper"),
    ("lognormal", (-1, 8.3), "ci95", None, "needs 0 < lower < upper"),
    ("lognormal", (8.3, 7.2), "ci95", None, "the lower limit must be below the upper limit"),
    ("normal", (0, -1), "native", None, "normal needs sd >= 0; got mean=0, sd=-1"),
    ("normal", (1, -1), "mean_se", None, "normal from mean 1 and SE -1: the SE must be >= 0"),
    ("normal", (2, 2), "ci95", None, "normal from 95% CI 2 to 2: the lower limit must be below"),
    ("normal", (3, 2), "ci95", None, "the lower limit must be below the upper limit"),
    ("truncnormal", (0, 1, 2, 1), "native", None, "truncnormal needs lower < upper; got"),
    ("truncnormal", (0, 0, 0, 1), "native", None, "truncnormal needs sd > 0"),
    ("truncnormal", (0, 1, 1, 1), "mean_se", None, "truncnormal needs lower < upper"),
    ("uniform", (5, 5), "native", None, "uniform needs min < max; got min=5, max=5"),
    ("uniform", (6, 5), "native", None, "uniform needs min < max; got min=6, max=5"),
    ("uniform", (5, 1), "mean_se", None, "mean_se is not defined for uniform"),
    ("triangular", (1, 7, 6), "native", None, "triangular needs min <= mode <= max and min < max"),
    ("triangular", (2, 2, 2), "native", None, "got min=2, mode=2, max=2"),
    ("triangular", (1, 6), "ci95", None, "ci95 is not defined for triangular"),
    ("pert", (1, 0, 6), "native", None, "pert needs min <= mode <= max and min < max"),
    ("pert", (1, 2, 6), "mean_se", None, "mean_se is not defined for pert"),
    ("truncnormal", (0, 1), "ci95", None, "ci95 is not defined for truncnormal"),
    ("fixed", (1,), "mean_se", None, "mean_se is not defined for fixed"),
    ("weibull", (1, 2), "native", None, "unknown distribution 'weibull'; use one of fixed, beta"),
    ("beta", (1, 2), "median_iqr", None, "unknown param_type 'median_iqr'"),
    ("beta", (0.3, None), "native", None, "param2 (beta) is blank"),
    ("beta", (), "native", None, "beta needs param1 = alpha and param2 = beta; param1 (alpha)"),
    ("gamma", (None, 5), "mean_se", None, "gamma needs param1 = mean and param2 = SE; param1"),
    ("lognormal", (7.2,), "ci95", None, "param2 (upper 95% limit) is blank"),
    ("triangular", (1, None, 6), "native", None, "param2 (mode) is blank"),
    ("truncnormal", (None, 1, 0, 1), "native", None, "param1 (mean) is blank"),
    ("fixed", (None,), "native", None, "fixed needs param1 = value or a base value"),
    ("beta", (2, 3, 7), "native", None, "param3 must be blank, got 7"),
    ("normal", (2, 3, None, 4), "native", None, "normal uses only param1 = mean, param2 = sd"),
    ("beta", (math.nan, 3), "native", None, "param1 must be a number; got nan"),
    ("beta", ("ten", 3), "native", None, "param1 must be a number; got 'ten'"),
    ("normal", (math.inf, 3), "native", None, "param1 (mean) must be finite; got inf"),
]


@pytest.mark.parametrize(
    ("family", "numbers", "param_type", "base_value", "message"),
    ERRORS,
    ids=[f"{e[0]}-{e[2]}-{i}" for i, e in enumerate(ERRORS)],
)
def test_error_messages(family, numbers, param_type, base_value, message):
    with pytest.raises(DistributionError, match=re.escape(message)):
        make_distribution(family, numbers, param_type, base_value=base_value)


def test_distribution_error_is_value_error():
    assert issubclass(DistributionError, ValueError)


def test_direct_construction_is_validated():
    with pytest.raises(DistributionError, match=re.escape("got alpha=-1, beta=3")):
        Distribution("beta", (-1, 3))
    with pytest.raises(DistributionError, match="unknown distribution 'weibull'"):
        Distribution("weibull", (1, 2))
    with pytest.raises(DistributionError, match=re.escape("beta has 2 parameter(s)")):
        Distribution("beta", (1, 2, 3))


def test_interval_level_must_be_a_fraction():
    with pytest.raises(DistributionError, match="level must be in"):
        make_distribution("normal", [0, 1]).interval(95)


def test_family_docs_cover_every_family():
    assert set(FAMILY_DOCS) == set(FAMILIES)
    for family, line in FAMILY_DOCS.items():
        assert line.startswith(family) and "param1" in line and "\n" not in line
