"""The functions that workbook expressions may call, and the types that describe them.

:class:`FunctionSpec` declares a callable function with its arities; :data:`BUILTIN_FUNCTIONS`
holds the built-in ones (exp, log, rate_to_prob, ...), each an elementwise numpy
implementation that raises :class:`ExpressionError` for invalid arguments. The parser and
evaluator in :mod:`costmodel.formula` use them, and re-export every public name here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

# max_args at or above this means "any number of arguments" (formula's _MAX_NODES: no
# expression has more parts than that).
_VARIADIC = 1000


class ExpressionError(ValueError):
    """An expression cannot be parsed or evaluated.

    The message is written for the workbook author; the caller adds file, sheet and cell.
    """


@dataclass(frozen=True)
class FunctionSpec:
    """A function that expressions may call.

    Attributes
    ----------
    name : str
        Name used in expressions.
    min_args, max_args : int
        Allowed number of positional arguments.
    impl : callable
        Elementwise implementation taking floats or float64 arrays. It may raise
        :class:`ExpressionError` for invalid arguments; the caller's sub-expression is appended.
    doc : str
        One line with the formula and units, used for the README table.
    """

    name: str
    min_args: int
    max_args: int
    impl: Callable[..., np.ndarray | float]
    doc: str

    def __post_init__(self) -> None:
        if not 0 <= self.min_args <= self.max_args:
            raise ValueError(f"{self.name}: need 0 <= min_args <= max_args")


def _example(x: Any, bad: np.ndarray) -> float:
    """One element of ``x`` (broadcast to ``bad.shape``) where ``bad`` is true."""
    return float(np.broadcast_to(np.asarray(x, dtype=np.float64), bad.shape)[bad][0])


def _require(bad: Any, x: Any, message: str) -> None:
    """Raise ``message`` with an example value if any element of ``bad`` is true."""
    bad = np.asarray(bad)
    if bad.any():
        raise ExpressionError(f"{message}; got {_example(x, bad):.6g}")


def _check_prob(name: str, p: Any, *, allow_one: bool = True) -> None:
    if allow_one:
        _require((p < 0) | (p > 1), p, f"{name} needs a probability p with 0 <= p <= 1")
    else:
        _require((p < 0) | (p >= 1), p, f"{name} needs a probability p with 0 <= p < 1")


def _log(x: Any, base: Any = None) -> Any:
    _require(x <= 0, x, "log needs a positive number")
    if base is None:
        return np.log(x)
    _require((base <= 0) | (base == 1), base, "log needs a positive base other than 1")
    return np.log(x) / np.log(base)


def _sqrt(x: Any) -> Any:
    _require(x < 0, x, "sqrt needs a number >= 0")
    return np.sqrt(x)


def _where(cond: Any, a: Any, b: Any) -> Any:
    return np.where(np.not_equal(cond, 0), a, b)


def _clip(x: Any, lo: Any, hi: Any) -> Any:
    _require(np.greater(lo, hi), lo, "clip needs lo <= hi, but lo is above hi")
    return np.minimum(np.maximum(x, lo), hi)


def _rate_to_prob(rate: Any, t: Any = 1.0) -> Any:
    return -np.expm1(-np.multiply(rate, t))


def _prob_to_rate(p: Any, t: Any = 1.0) -> Any:
    _check_prob("prob_to_rate", p, allow_one=False)
    _require(t <= 0, t, "prob_to_rate needs a period t > 0")
    return -np.log1p(-p) / t


def _rescale_prob(p: Any, from_t: Any, to_t: Any) -> Any:
    _check_prob("rescale_prob", p)
    _require(from_t <= 0, from_t, "rescale_prob needs from_t > 0")
    _require(to_t < 0, to_t, "rescale_prob needs to_t >= 0")
    return 1 - np.power(1 - p, np.divide(to_t, from_t))


def _hr_to_prob(p: Any, hr: Any) -> Any:
    _check_prob("hr_to_prob", p)
    _require(hr < 0, hr, "hr_to_prob needs a hazard ratio >= 0")
    return 1 - np.power(1 - p, hr)


def _or_to_prob(p: Any, odds_ratio: Any) -> Any:
    _check_prob("or_to_prob", p)
    _require(odds_ratio < 0, odds_ratio, "or_to_prob needs an odds ratio >= 0")
    # odds_to_prob(p / (1 - p) * OR), rearranged so that p = 1 gives 1 instead of inf / inf.
    return np.divide(np.multiply(p, odds_ratio), 1 - p + np.multiply(p, odds_ratio))


def _prob_to_odds(p: Any) -> Any:
    _check_prob("prob_to_odds", p, allow_one=False)
    return np.divide(p, 1 - p)


def _odds_to_prob(odds: Any) -> Any:
    _require(odds < 0, odds, "odds_to_prob needs odds >= 0")
    return np.divide(odds, 1 + odds)


def _builtins() -> dict[str, FunctionSpec]:
    rows: list[tuple[str, int, int, Callable[..., Any], str]] = [
        ("exp", 1, 1, np.exp, "exp(x): e ** x"),
        ("log", 1, 2, _log, "log(x, base=e): logarithm of x > 0; natural log unless base given"),
        ("sqrt", 1, 1, _sqrt, "sqrt(x): square root of x >= 0"),
        ("abs", 1, 1, np.abs, "abs(x): absolute value of x"),
        ("floor", 1, 1, np.floor, "floor(x): largest whole number <= x"),
        ("ceil", 1, 1, np.ceil, "ceil(x): smallest whole number >= x"),
        (
            "min",
            1,
            _VARIADIC,
            lambda *xs: functools.reduce(np.minimum, xs),
            "min(a, b, ...): elementwise minimum of the arguments",
        ),
        (
            "max",
            1,
            _VARIADIC,
            lambda *xs: functools.reduce(np.maximum, xs),
            "max(a, b, ...): elementwise maximum of the arguments",
        ),
        (
            "where",
            3,
            3,
            _where,
            "where(cond, a, b): a where cond is true (non-zero), else b; a and b are both "
            "evaluated everywhere",
        ),
        ("clip", 3, 3, _clip, "clip(x, lo, hi): x limited to the range [lo, hi]"),
        (
            "rate_to_prob",
            1,
            2,
            _rate_to_prob,
            "rate_to_prob(rate, t=1): 1 - exp(-rate*t); rate per unit time, t in the same unit",
        ),
        (
            "prob_to_rate",
            1,
            2,
            _prob_to_rate,
            "prob_to_rate(p, t=1): -log(1 - p) / t; p (0 <= p < 1) over a period t, "
            "rate per unit time",
        ),
        (
            "rescale_prob",
            3,
            3,
            _rescale_prob,
            "rescale_prob(p, from_t, to_t): 1 - (1 - p) ** (to_t / from_t); probability over "
            "from_t to probability over to_t (constant hazard; from_t, to_t in the same unit)",
        ),
        (
            "rr_to_prob",
            2,
            2,
            np.multiply,
            "rr_to_prob(p, rr): p * rr; risk ratio applied to a probability (not clipped)",
        ),
        (
            "hr_to_prob",
            2,
            2,
            _hr_to_prob,
            "hr_to_prob(p, hr): 1 - (1 - p) ** hr; hazard ratio applied to a probability "
            "(proportional hazards, same period)",
        ),
        (
            "or_to_prob",
            2,
            2,
            _or_to_prob,
            "or_to_prob(p, odds_ratio): odds_to_prob(prob_to_odds(p) * odds_ratio); odds ratio "
            "applied to a probability",
        ),
        ("prob_to_odds", 1, 1, _prob_to_odds, "prob_to_odds(p): p / (1 - p); 0 <= p < 1"),
        ("odds_to_prob", 1, 1, _odds_to_prob, "odds_to_prob(o): o / (1 + o); odds o >= 0"),
    ]
    return {name: FunctionSpec(name, lo, hi, impl, doc) for name, lo, hi, impl, doc in rows}


_BUILTINS = _builtins()
BUILTIN_FUNCTIONS: Mapping[str, FunctionSpec] = MappingProxyType(_BUILTINS)
