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


def first_bracket(x: np.ndarray, fx: np.ndarray) -> tuple[float, float, float, float] | None:
    """(low, high, f(low), f(high)) of the first neighbours of a grid ``x`` whose values
    ``fx`` change sign or touch zero, for :func:`bracketed_roots`; None when there is none."""
    changes = np.flatnonzero(np.sign(fx[:-1]) * np.sign(fx[1:]) <= 0)
    if changes.size == 0:
        return None
    i = int(changes[0])
    return x[i], x[i + 1], fx[i], fx[i + 1]


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
    return bracketed_roots(lambda xs: [f(xs[0])], [(low, high, f_low, f_high)], xtol, rtol)[0]


def bracketed_roots(
    f: Callable[[list[np.ndarray]], list[np.ndarray]],
    brackets: list[tuple[float, float, float, float]],
    xtol: float,
    rtol: float = 0.0,
) -> list[float]:
    """:func:`bracketed_root` of several functions at once, one call of ``f`` per round for
    all of them: ``f`` maps a list of x arrays (one per function, empty once its root is
    found) to the list of their values. Each bracket is (low, high, f(low), f(high)). Each
    root is the one :func:`bracketed_root` finds alone (the same points are evaluated)."""
    roots: list[float | None] = [None] * len(brackets)
    state = []
    for i, (low, high, f_low, f_high) in enumerate(brackets):
        if f_low == 0.0:
            roots[i] = float(low)
        elif f_high == 0.0:
            roots[i] = float(high)
        elif np.sign(f_low) == np.sign(f_high):
            raise ValueError("bracketed_root: f(low) and f(high) must have opposite signs")
        state.append([float(low), float(high), float(f_low), float(f_high)])
    for _ in range(MAX_ROUNDS):
        asked = [np.empty(0)] * len(brackets)
        for i, (a, b, fa, fb) in enumerate(state):
            if roots[i] is not None:
                continue
            secant = min(max(a - fa * (b - a) / (fb - fa), a), b)
            tol = max(xtol, rtol * abs(secant))
            if b - a <= 2.0 * tol:
                roots[i] = 0.5 * (a + b)
                continue
            points = np.concatenate(
                [
                    [secant - tol / 2, secant, secant + tol / 2],
                    np.linspace(a, b, SPREAD_POINTS + 2)[1:-1],
                ]
            )
            asked[i] = np.unique(points[(points > a) & (points < b)])
        if all(r is not None for r in roots):
            break
        answers = f(asked)
        for i, points in enumerate(asked):
            if roots[i] is not None:
                continue
            values = np.asarray(answers[i], dtype=float)
            zero = np.flatnonzero(values == 0.0)
            if zero.size:
                roots[i] = float(points[zero[0]])
                continue
            a, b, fa, fb = state[i]
            xs = np.concatenate([[a], points, [b]])
            fs = np.concatenate([[fa], values, [fb]])
            change = int(np.flatnonzero(np.sign(fs[:-1]) != np.sign(fs[1:]))[0])
            state[i] = [xs[change], xs[change + 1], fs[change], fs[change + 1]]
    return [0.5 * (a + b) if r is None else r for r, (a, b, _, _) in zip(roots, state, strict=True)]
