"""Parameter distributions for probabilistic sensitivity analysis (PSA).

A Parameters row gives a ``distribution`` family, up to four numbers ``param1..param4`` and a
``param_type`` saying how to read them:

- ``native``: the family's own parameters (alpha/beta, shape/scale, meanlog/sdlog, ...);
- ``mean_se``: a mean and its standard error, converted by the method of moments;
- ``ci95``: lower and upper 95% limits, with SE = (U - L) / 3.92.

:func:`make_distribution` converts and validates once; a :class:`Distribution` then holds
native parameters only. Sampling is by inverse CDF (:meth:`Distribution.ppf`) of uniforms so a
Gaussian copula can correlate parameters; Dirichlet rows use gamma draws
(:func:`sample_dirichlet`).

References
----------
Briggs A, Claxton K, Sculpher M. *Decision Modelling for Health Economic Evaluation*. Oxford
University Press, 2006, ch. 4 (choosing distributions; method of moments).
Higgins JPT et al. (eds). *Cochrane Handbook for Systematic Reviews of Interventions*, v6,
section 6.3 (standard errors from 95% confidence intervals: (U - L) / 3.92).
Marsaglia G, Tsang WW. A simple method for generating gamma variables. ACM Trans Math Softw
2000;26(3):363-372. doi:10.1145/358407.358414 (Gamma(a) = Gamma(a + 1) * U^(1/a)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

import numpy as np
from scipy import special

__all__ = [
    "FAMILIES",
    "FAMILY_DOCS",
    "PARAM_TYPES",
    "Distribution",
    "DistributionError",
    "check_use",
    "make_distribution",
    "sample_dirichlet",
]

FAMILIES: tuple[str, ...] = (
    "fixed",
    "beta",
    "gamma",
    "lognormal",
    "normal",
    "truncnormal",
    "uniform",
    "triangular",
    "pert",
)
PARAM_TYPES: tuple[str, ...] = ("native", "mean_se", "ci95")

# Width of a 95% interval in standard errors, as printed in the Cochrane Handbook
# (2 x 1.96); used so that workbook conversions match hand calculations.
CI95_WIDTH_IN_SE = 3.92

# Native parameter names, in param1..param4 order.
_NATIVE_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "fixed": ("value",),
        "beta": ("alpha", "beta"),
        "gamma": ("shape", "scale"),
        "lognormal": ("meanlog", "sdlog"),
        "normal": ("mean", "sd"),
        "truncnormal": ("mean", "sd", "lower", "upper"),
        "uniform": ("min", "max"),
        "triangular": ("min", "mode", "max"),
        "pert": ("min", "mode", "max"),
    }
)
# Numbers that may be left blank (meaning: no bound).
_OPTIONAL = frozenset({("truncnormal", "lower"), ("truncnormal", "upper")})

_MEAN_SE_FAMILIES = ("beta", "gamma", "lognormal", "normal", "truncnormal")
_CI95_FAMILIES = ("beta", "gamma", "lognormal", "normal", "uniform")

FAMILY_DOCS: Mapping[str, str] = MappingProxyType(
    {
        "fixed": "fixed: param1 = value (blank: the base value); not sampled.",
        "beta": (
            "beta (probabilities, utilities): native param1 = alpha > 0, param2 = beta > 0 "
            "(e.g. events, non-events); mean_se param1 = mean in (0, 1), param2 = SE; ci95 "
            "param1 = lower, param2 = upper 95% limit (mean = base value, else the midpoint)."
        ),
        "gamma": (
            "gamma (costs, rates, durations): native param1 = shape > 0, param2 = scale > 0 "
            "(mean = shape x scale); mean_se param1 = mean > 0, param2 = SE; ci95 param1 = "
            "lower, param2 = upper 95% limit (mean = base value, else the midpoint)."
        ),
        "lognormal": (
            "lognormal (relative risks, hazard and odds ratios): native param1 = meanlog, "
            "param2 = sdlog >= 0 (on the log scale); mean_se param1 = mean > 0, param2 = SE "
            "(natural scale); ci95 param1 = lower > 0, param2 = upper 95% limit."
        ),
        "normal": (
            "normal: native param1 = mean, param2 = sd >= 0; mean_se param1 = mean, param2 = SE; "
            "ci95 param1 = lower, param2 = upper 95% limit (mean = midpoint)."
        ),
        "truncnormal": (
            "truncnormal: native param1 = mean, param2 = sd > 0 of the normal before "
            "truncation, param3 = lower, param4 = upper bound (blank = unbounded on that side); "
            "mean_se reads param1/param2 as that mean and SE."
        ),
        "uniform": (
            "uniform: native param1 = min, param2 = max (min < max); ci95 reads param1/param2 "
            "as the same limits."
        ),
        "triangular": (
            "triangular: native param1 = min, param2 = mode, param3 = max "
            "(min <= mode <= max, min < max); native only."
        ),
        "pert": (
            "pert: native param1 = min, param2 = mode (most likely), param3 = max "
            "(min <= mode <= max, min < max; lambda = 4, mean = (min + 4 mode + max) / 6); "
            "native only."
        ),
    }
)


class DistributionError(ValueError):
    """Invalid distribution input; the message is for a health economist.

    The caller adds the workbook, sheet and cell.
    """


def _fmt(x: float | None) -> str:
    return "blank" if x is None else f"{x:.10g}"


def _got(names: Sequence[str], values: Sequence[float]) -> str:
    return "got " + ", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, values, strict=True))


@dataclass(frozen=True)
class Distribution:
    """A parameter distribution in native parameters (see :data:`FAMILY_DOCS`).

    Values are in the unit of the parameter the distribution belongs to. Construct with
    :func:`make_distribution` to read workbook numbers; direct construction validates too.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    params : tuple of float
        fixed (value,); beta (alpha, beta); gamma (shape, scale); lognormal (meanlog, sdlog);
        normal (mean, sd); truncnormal (mean, sd, lower, upper) with infinite bounds for
        one-sided truncation; uniform (min, max); triangular and pert (min, mode, max).
    """

    family: str
    params: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise DistributionError(_unknown_family(self.family))
        names = _NATIVE_NAMES[self.family]
        if len(self.params) != len(names):
            raise DistributionError(
                f"{self.family} has {len(names)} parameter(s) ({', '.join(names)}); "
                f"got {len(self.params)}"
            )
        params = tuple(
            (-math.inf if name == "lower" else math.inf)
            if value is None and (self.family, name) in _OPTIONAL
            else float(value)
            for name, value in zip(names, self.params, strict=True)
        )
        object.__setattr__(self, "params", params)
        _check_native(self.family, params)

    def __str__(self) -> str:
        names = _NATIVE_NAMES[self.family]
        inner = ", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, self.params, strict=True))
        return f"{self.family}({inner})"

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF (quantile function), vectorized.

        Parameters
        ----------
        u : ndarray, any shape
            Probabilities in (0, 1); at 0 or 1 the result is the support's bound (maybe
            infinite).

        Returns
        -------
        ndarray, same shape as ``u``
            Quantiles [unit of the parameter].
        """
        u = np.asarray(u, dtype=float)
        p = self.params
        match self.family:
            case "fixed":
                return np.full(u.shape, p[0])
            case "beta":
                return special.betaincinv(p[0], p[1], u)
            case "gamma":
                return p[1] * special.gammaincinv(p[0], u)
            case "lognormal":
                if p[1] == 0.0:
                    return np.full(u.shape, math.exp(p[0]))
                return np.exp(p[0] + p[1] * special.ndtri(u))
            case "normal":
                if p[1] == 0.0:
                    return np.full(u.shape, p[0])
                return p[0] + p[1] * special.ndtri(u)
            case "truncnormal":
                return np.asarray(self._truncnorm().ppf(u), dtype=float)
            case "uniform":
                return p[0] + u * (p[1] - p[0])
            case "triangular":
                a, c, b = p
                left = a + np.sqrt(u * (b - a) * (c - a))
                right = b - np.sqrt((1.0 - u) * (b - a) * (b - c))
                return np.where(u < (c - a) / (b - a), left, right)
            case _:  # pert
                a, _, b = p
                alpha, beta = _pert_shapes(*p)
                return a + (b - a) * special.betaincinv(alpha, beta, u)

    def mean(self) -> float:
        """Expected value [unit of the parameter]."""
        p = self.params
        match self.family:
            case "fixed" | "normal":
                return p[0]
            case "beta":
                return p[0] / (p[0] + p[1])
            case "gamma":
                return p[0] * p[1]
            case "lognormal":
                return math.exp(p[0] + p[1] ** 2 / 2.0)
            case "truncnormal":
                return float(self._truncnorm().mean())
            case "uniform":
                return (p[0] + p[1]) / 2.0
            case "triangular":
                return (p[0] + p[1] + p[2]) / 3.0
            case _:  # pert
                return (p[0] + 4.0 * p[1] + p[2]) / 6.0

    def sd(self) -> float:
        """Standard deviation [unit of the parameter]."""
        p = self.params
        match self.family:
            case "fixed":
                return 0.0
            case "beta":
                return _beta_sd(p[0], p[1])
            case "gamma":
                return math.sqrt(p[0]) * p[1]
            case "lognormal":
                return math.sqrt(math.expm1(p[1] ** 2)) * self.mean()
            case "normal":
                return p[1]
            case "truncnormal":
                return float(self._truncnorm().std())
            case "uniform":
                return (p[1] - p[0]) / math.sqrt(12.0)
            case "triangular":
                a, c, b = p
                return math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18.0)
            case _:  # pert
                return (p[2] - p[0]) * _beta_sd(*_pert_shapes(*p))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Central interval holding ``level`` of the probability, e.g. 2.5th/97.5th percentiles.

        Parameters
        ----------
        level : float
            Coverage in (0, 1).

        Returns
        -------
        (lower, upper) : tuple of float
            [unit of the parameter].
        """
        if not 0.0 < level < 1.0:
            raise DistributionError(f"interval level must be in (0, 1); got {_fmt(level)}")
        lower, upper = self.ppf(np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0]))
        return float(lower), float(upper)

    def support(self) -> tuple[float, float]:
        """Smallest closed interval holding every value :meth:`ppf` can return.

        A distribution with zero spread (fixed, sd = 0, sdlog = 0) has a one-point support.
        """
        p = self.params
        match self.family:
            case "fixed":
                return p[0], p[0]
            case "beta":
                return 0.0, 1.0
            case "gamma":
                return 0.0, math.inf
            case "lognormal":
                return (math.exp(p[0]),) * 2 if p[1] == 0.0 else (0.0, math.inf)
            case "normal":
                return (p[0], p[0]) if p[1] == 0.0 else (-math.inf, math.inf)
            case "truncnormal":
                return p[2], p[3]
            case "uniform":
                return p[0], p[1]
            case _:  # triangular, pert
                return p[0], p[2]

    def _truncnorm(self):  # -> scipy frozen truncnorm
        mean, sd, lower, upper = self.params
        from scipy import stats  # imported when needed: scipy.stats takes ~0.3 s to import

        return stats.truncnorm((lower - mean) / sd, (upper - mean) / sd, loc=mean, scale=sd)


def _beta_sd(alpha: float, beta: float) -> float:
    total = alpha + beta
    return math.sqrt(alpha * beta / (total * total * (total + 1.0)))


def _pert_shapes(low: float, mode: float, high: float) -> tuple[float, float]:
    """Beta shapes of a PERT distribution with lambda = 4 (Vose's parameterization)."""
    width = high - low
    return 1.0 + 4.0 * (mode - low) / width, 1.0 + 4.0 * (high - mode) / width


def _unknown_family(family: str) -> str:
    return f"unknown distribution '{family}'; use one of {', '.join(FAMILIES)}"


def _check_native(family: str, p: tuple[float, ...]) -> None:
    """Raise DistributionError unless native parameters ``p`` are valid for ``family``."""
    names = _NATIVE_NAMES[family]
    for name, value in zip(names, p, strict=True):
        bound = (family, name) in _OPTIONAL
        if math.isnan(value) or (math.isinf(value) and not bound):
            raise DistributionError(f"{family} needs a finite {name}; got {name}={_fmt(value)}")
    got = _got(names, p)
    match family:
        case "beta" if not (p[0] > 0 and p[1] > 0):
            raise DistributionError(f"beta needs alpha > 0 and beta > 0; {got}")
        case "gamma" if not (p[0] > 0 and p[1] > 0):
            raise DistributionError(f"gamma needs shape > 0 and scale > 0; {got}")
        case "lognormal" if p[1] < 0:
            raise DistributionError(f"lognormal needs sdlog >= 0; {got}")
        case "normal" if p[1] < 0:
            raise DistributionError(f"normal needs sd >= 0; {got}")
        case "truncnormal" if not p[1] > 0:
            raise DistributionError(f"truncnormal needs sd > 0 (for a constant use fixed); {got}")
        case "truncnormal" if not p[2] < p[3]:
            raise DistributionError(f"truncnormal needs lower < upper; {got}")
        case "uniform" if not p[0] < p[1]:
            raise DistributionError(f"uniform needs min < max; {got}")
        case "triangular" | "pert" if not (p[0] <= p[1] <= p[2] and p[0] < p[2]):
            raise DistributionError(f"{family} needs min <= mode <= max and min < max; {got}")


def _input_names(family: str, param_type: str) -> tuple[str, ...]:
    """What param1..param4 mean for this family and param_type."""
    if param_type == "mean_se":
        return ("mean", "SE") + (("lower", "upper") if family == "truncnormal" else ())
    if param_type == "ci95":
        return ("lower 95% limit", "upper 95% limit")
    return _NATIVE_NAMES[family]


def _read_numbers(
    family: str, numbers: Sequence[float | None], names: tuple[str, ...]
) -> list[float | None]:
    """Check blanks, extras, types and finiteness; return one value (or None) per name."""
    values: list[float | None] = []
    for i, raw in enumerate(numbers):
        if raw is None:
            values.append(None)
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise DistributionError(f"param{i + 1} must be a number; got {raw!r}") from None
        if math.isnan(value):
            raise DistributionError(f"param{i + 1} must be a number; got nan")
        values.append(value)
    extra = [(i, v) for i, v in enumerate(values) if i >= len(names) and v is not None]
    if extra:
        used = ", ".join(f"param{i + 1} = {n}" for i, n in enumerate(names))
        i, v = extra[0]
        raise DistributionError(
            f"{family} uses only {used}; param{i + 1} must be blank, got {_fmt(v)}"
        )
    values = (values + [None] * len(names))[: len(names)]
    missing = [i for i, n in enumerate(names) if values[i] is None and (family, n) not in _OPTIONAL]
    if missing and family != "fixed":
        need = " and ".join(f"param{i + 1} = {n}" for i, n in enumerate(names))
        blank = ", ".join(f"param{i + 1} ({names[i]})" for i in missing)
        raise DistributionError(f"{family} needs {need}; {blank} is blank")
    for i, (n, v) in enumerate(zip(names, values, strict=True)):
        if v is not None and math.isinf(v) and (family, n) not in _OPTIONAL:
            raise DistributionError(f"param{i + 1} ({n}) must be finite; got {_fmt(v)}")
    return values


def _beta_from_moments(m: float, s: float, source: str) -> tuple[float, float]:
    if not 0.0 < m < 1.0:
        raise DistributionError(f"beta from {source}: the mean must be strictly between 0 and 1")
    if not s > 0.0:
        raise DistributionError(
            f"beta from {source}: the SE must be > 0 (for a constant probability use fixed)"
        )
    limit = math.sqrt(m * (1.0 - m))
    if s >= limit:
        raise DistributionError(
            f"beta from {source}: the SE is larger than possible for that mean; a beta with "
            f"mean {_fmt(m)} needs SE < sqrt(mean x (1 - mean)) = {limit:.4g}. Check that "
            "the SE is on the scale of the mean (e.g. 0.05, not 5 for 5%)"
        )
    k = m * (1.0 - m) / (s * s) - 1.0
    return m * k, (1.0 - m) * k


def _gamma_from_moments(m: float, s: float, source: str) -> tuple[float, float]:
    if not m > 0.0:
        raise DistributionError(f"gamma from {source}: the mean must be > 0")
    if not s > 0.0:
        raise DistributionError(
            f"gamma from {source}: the SE must be > 0 (for a constant use fixed)"
        )
    return (m / s) ** 2, s * s / m


def _lognormal_from_moments(m: float, s: float, source: str) -> tuple[float, float]:
    if not m > 0.0:
        raise DistributionError(f"lognormal from {source}: the mean must be > 0")
    if s < 0.0:
        raise DistributionError(f"lognormal from {source}: the SE must be >= 0")
    var_log = math.log1p((s / m) ** 2)
    return math.log(m) - var_log / 2.0, math.sqrt(var_log)


def _check_param_type(family: str, param_type: str) -> None:
    for kind, families in (("mean_se", _MEAN_SE_FAMILIES), ("ci95", _CI95_FAMILIES)):
        if param_type == kind and family not in families:
            raise DistributionError(
                f"{kind} is not defined for {family}; use native parameters "
                f"({kind} works for {', '.join(families)})"
            )


def _from_mean_se(
    family: str, m: float, s: float, bounds: list[float | None]
) -> tuple[float | None, ...]:
    source = f"mean {_fmt(m)} and SE {_fmt(s)}"
    match family:
        case "beta":
            return _beta_from_moments(m, s, source)
        case "gamma":
            return _gamma_from_moments(m, s, source)
        case "lognormal":
            return _lognormal_from_moments(m, s, source)
    # normal or truncnormal (_check_param_type has refused the rest): the untruncated moments
    if s < 0.0:
        raise DistributionError(f"{family} from {source}: the SE must be >= 0")
    return (m, s, *bounds)


def _from_ci95(family: str, lo: float, hi: float, base_value: float | None) -> tuple[float, ...]:
    source = f"95% CI {_fmt(lo)} to {_fmt(hi)}"
    if not lo < hi:
        raise DistributionError(
            f"{family} from {source}: the lower limit must be below the upper limit"
        )
    se = (hi - lo) / CI95_WIDTH_IN_SE
    match family:
        case "uniform":
            return lo, hi
        case "normal":
            return (lo + hi) / 2.0, se
        case "lognormal":
            if not lo > 0.0:
                raise DistributionError(
                    f"lognormal from {source}: needs 0 < lower < upper (ratios are positive)"
                )
            log_lo, log_hi = math.log(lo), math.log(hi)
            return (log_lo + log_hi) / 2.0, (log_hi - log_lo) / CI95_WIDTH_IN_SE
    if base_value is None:
        mean = (lo + hi) / 2.0
    elif lo <= base_value <= hi:
        mean = base_value
    else:
        raise DistributionError(
            f"{family} from {source}: the base value {_fmt(base_value)} lies outside the "
            "interval; check the units (e.g. a percentage against a fraction)"
        )
    source += f" (mean {_fmt(mean)}, SE {se:.4g})"
    if family == "beta":
        return _beta_from_moments(mean, se, source)
    return _gamma_from_moments(mean, se, source)


def make_distribution(
    family: str,
    numbers: Sequence[float | None],
    param_type: str = "native",
    *,
    base_value: float | None = None,
) -> Distribution:
    """Build a distribution from the workbook's numbers.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES` (case and surrounding spaces ignored).
    numbers : sequence of float or None
        param1, param2, ... as entered; None = blank. Trailing blanks may be omitted.
    param_type : {"native", "mean_se", "ci95"}
        How to read the numbers (see :data:`FAMILY_DOCS`); blank means native.
    base_value : float, optional
        The parameter's base-case value [unit of the parameter]: the value of a ``fixed``
        distribution with blank numbers, and the mean of a beta or gamma given by ``ci95``
        (the interval's midpoint when omitted).

    Returns
    -------
    Distribution
        With native parameters.

    Raises
    ------
    DistributionError
        With what is wrong and the values found; the caller adds sheet and cell.
    """
    family = str(family).strip().lower()
    if family not in FAMILIES:
        raise DistributionError(_unknown_family(family))
    param_type = str(param_type or "native").strip().lower()
    if param_type not in PARAM_TYPES:
        raise DistributionError(
            f"unknown param_type '{param_type}'; use one of {', '.join(PARAM_TYPES)}"
        )
    if family == "fixed":
        return _make_fixed(numbers, param_type, base_value)
    _check_param_type(family, param_type)
    values = _read_numbers(family, numbers, _input_names(family, param_type))
    # _read_numbers has refused blanks in the first two places for every non-fixed family.
    first, second = cast(float, values[0]), cast(float, values[1])
    if param_type == "mean_se":
        native: tuple[float | None, ...] = _from_mean_se(family, first, second, values[2:])
    elif param_type == "ci95":
        native = _from_ci95(family, first, second, base_value)
    else:
        native = tuple(values)
    return Distribution(family, native)  # type: ignore[arg-type]  # None bounds become inf


def _make_fixed(
    numbers: Sequence[float | None], param_type: str, base_value: float | None
) -> Distribution:
    if param_type != "native":
        raise DistributionError(f"{param_type} is not defined for fixed; give param1 = value")
    (value,) = _read_numbers("fixed", numbers, ("value",))
    if value is None:
        if base_value is None:
            raise DistributionError("fixed needs param1 = value or a base value; both are blank")
        value = float(base_value)
    return Distribution("fixed", (value,))


def check_use(dist: Distribution, *, is_probability: bool, name: str) -> None:
    """Refuse a distribution that can leave [0, 1] for a parameter that is a probability.

    Parameters
    ----------
    dist : Distribution
    is_probability : bool
        Whether the parameter must stay in [0, 1] (a probability or proportion).
    name : str
        Parameter name, used in the message.

    Raises
    ------
    DistributionError
        E.g. for normal, lognormal, gamma, or a uniform with bounds outside [0, 1].
    """
    if not is_probability:
        return
    low, high = dist.support()
    if low >= 0.0 and high <= 1.0:
        return
    raise DistributionError(
        f"'{name}' is a probability but {dist} can produce values outside [0, 1] (its range is "
        f"{_fmt(low)} to {_fmt(high)}); use beta instead, e.g. param_type mean_se with "
        "param1 = mean and param2 = SE, or native alpha = events and beta = non-events"
    )


def sample_dirichlet(alphas: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw ``n`` probability vectors from Dirichlet(alphas) via gamma variates.

    Each Gamma(a) draw is taken as Gamma(a + 1) * U^(1/a) in log space (Marsaglia & Tsang
    2000), so rows stay well defined when some alphas are far below 1 and plain gamma draws
    would underflow to an all-zero row.

    Parameters
    ----------
    alphas : ndarray, shape (k,)
        Concentration parameters, all > 0 (e.g. observed counts of each transition).
    rng : numpy.random.Generator
    n : int
        Number of samples, >= 0.

    Returns
    -------
    ndarray, shape (n, k)
        Rows of probabilities summing to 1.
    """
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0:
        raise DistributionError(f"dirichlet needs a list of alphas; got shape {alphas.shape}")
    if not np.all(np.isfinite(alphas) & (alphas > 0)):
        got = ", ".join(_fmt(a) for a in alphas)
        raise DistributionError(f"dirichlet needs every alpha > 0 and finite; got {got}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise DistributionError(f"number of samples must be a whole number >= 0; got {n!r}")
    log_gamma = np.log(rng.standard_gamma(alphas + 1.0, size=(n, alphas.size)))
    # 1 - U lies in (0, 1], so the log is finite.
    log_gamma += np.log1p(-rng.random((n, alphas.size))) / alphas
    log_gamma -= log_gamma.max(axis=1, keepdims=True)
    weights = np.exp(log_gamma)
    return weights / weights.sum(axis=1, keepdims=True)
