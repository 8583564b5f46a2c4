"""costmodel.roots: bracketed roots with several points per call, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.roots import bracketed_root


def _counted(f):
    calls = []

    def wrapped(x):
        calls.append(x.size)
        return f(x)

    return wrapped, calls


def test_a_straight_line_takes_one_call():
    """3x - 7 = 0 at x = 7/3 (a price enters cost linearly)."""
    f, calls = _counted(lambda x: 3.0 * x - 7.0)
    root = bracketed_root(f, 0.0, 10.0, -7.0, 23.0, xtol=1e-10, rtol=1e-12)
    assert root == pytest.approx(7 / 3, abs=1e-10)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "f, low, high, root",
    [
        (lambda x: x**3 - 2.0, 0.0, 2.0, 2.0 ** (1 / 3)),
        (lambda x: np.exp(-x) - 0.5, 0.0, 5.0, np.log(2.0)),
        (lambda x: 1.0 / (1.0 + x) - 0.2, 0.0, 100.0, 4.0),
    ],
)
def test_smooth_curves_to_the_tolerance_in_a_few_calls(f, low, high, root):
    g, calls = _counted(f)
    found = bracketed_root(g, low, high, float(f(np.array(low))), float(f(np.array(high))), 1e-10)
    assert found == pytest.approx(root, abs=1e-10)
    assert len(calls) <= 8


def test_endpoints_and_refusal():
    assert bracketed_root(lambda x: x, 0.0, 1.0, 0.0, 1.0, 1e-9) == 0.0
    with pytest.raises(ValueError, match="opposite signs"):
        bracketed_root(lambda x: x, 1.0, 2.0, 1.0, 2.0, 1e-9)


def test_several_roots_share_each_call_and_each_is_found_as_alone():
    """x^3 = 2, exp(-x) = 1/2, a straight line and a root at an end point, together."""
    from costmodel.roots import bracketed_roots

    functions = [
        (lambda x: x**3 - 2.0, 0.0, 2.0),
        (lambda x: np.exp(-x) - 0.5, 0.0, 5.0),
        (lambda x: 3.0 * x - 7.0, 0.0, 10.0),
        (lambda x: x, 0.0, 1.0),
    ]
    brackets = [(lo, hi, float(f(np.array(lo))), float(f(np.array(hi)))) for f, lo, hi in functions]
    calls = []

    def together(xs):
        calls.append([x.size for x in xs])
        return [f(x) for (f, _, _), x in zip(functions, xs, strict=True)]

    roots = bracketed_roots(together, brackets, xtol=1e-10)
    assert roots == pytest.approx([2.0 ** (1 / 3), np.log(2.0), 7 / 3, 0.0], abs=1e-10)
    pairs = zip(functions, brackets, strict=True)
    alone = [bracketed_root(f, *b, xtol=1e-10) for (f, _, _), b in pairs]
    assert roots == alone  # the same points evaluated: the same floats
    assert len(calls) <= 8
    assert all(sizes[3] == 0 for sizes in calls)  # a root at an end point asks for nothing
    assert calls[-1][2] == 0  # the straight line was done after the first call
