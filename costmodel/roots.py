"""The root of a function that is expensive per call but cheap per extra point (a model run
over many parameter values at once): bracketed, several points per call.

Each round evaluates, in one call, the secant estimate of the root, two points just either
side of it, and a few points spread over the bracket, then keeps the smallest bracket with a
sign change. A root of a straight line (cost and effect are linear in a price) is found in one
call; a smooth curve in a few. Unlike sequential Brent steps, every round is one model run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SPREAD_POINTS = 14  # points spread over the bracket per round, besides the secant ones
MAX_ROUNDS = 60


def bracketed_root(
    f: Callable[[np.ndarray], np.ndarray],
    low: float,
    high: float,
    f_low: float,
    f_high: float,
    xtol: float,
    rtol: float = 0.0,
) -> float:
    """x in [low, high] with f(x) = 0 within max(xtol, rtol |x|), given f(low) and f(high)
    of opposite signs (or one of them 0). ``f`` maps an array of x to an array of f(x)."""
    if f_low == 0.0:
        return float(low)
    if f_high == 0.0:
        return float(high)
    if np.sign(f_low) == np.sign(f_high):
        raise ValueError("bracketed_root: f(low) and f(high) must have opposite signs")
    a, b, fa, fb = float(low), float(high), float(f_low), float(f_high)
    for _ in range(MAX_ROUNDS):
        secant = a - fa * (b - a) / (fb - fa)
        secant = min(max(secant, a), b)
        tol = max(xtol, rtol * abs(secant))
        if b - a <= 2.0 * tol:
            return 0.5 * (a + b)
        points = np.concatenate(
            [
                [secant - tol / 2, secant, secant + tol / 2],
                np.linspace(a, b, SPREAD_POINTS + 2)[1:-1],
            ]
        )
        points = np.unique(points[(points > a) & (points < b)])
        values = np.asarray(f(points), dtype=float)
        zero = np.flatnonzero(values == 0.0)
        if zero.size:
            return float(points[zero[0]])
        xs = np.concatenate([[a], points, [b]])
        fs = np.concatenate([[fa], values, [fb]])
        change = int(np.flatnonzero(np.sign(fs[:-1]) != np.sign(fs[1:]))[0])
        a, b, fa, fb = xs[change], xs[change + 1], fs[change], fs[change + 1]
    return 0.5 * (a + b)
