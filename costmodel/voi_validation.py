"""Input checks of :mod:`costmodel.voi`, and its error type :class:`VoiError`.

Every check raises :class:`VoiError` with a message that says what was wrong and what to do;
``caller`` names the public function in the message.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from costmodel.errors import CostModelError

METHODS = ("auto", "spline", "gp")

# A regression needs this many samples per regressor (Strong et al. 2014 fit 10,000 samples
# to groups of up to about 20 parameters); below it, fitted values chase noise.
_SAMPLES_PER_PARAMETER = 10
# Parameters up to which "auto" picks the spline: the tensor basis grows as k**d.
_MAX_SPLINE_PARAMETERS = 4


class VoiError(CostModelError, ValueError):
    """Invalid input to a value-of-information calculation, or a regression that cannot work.

    The message says what was wrong and what to do (more samples, a smaller group, another
    method).
    """


def _validate_evppi(
    cost: ArrayLike,
    effect: ArrayLike,
    wtp: ArrayLike,
    inputs: ArrayLike,
    names: Sequence[str],
    method: str,
    max_gp_samples: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], str]:
    """evppi's arguments checked: cost, effect, wtp, inputs (n_samples, n_params), names and
    the method chosen ("spline" or "gp")."""
    cost_arr, effect_arr = _validate_outcomes(cost, effect, "evppi")
    wtp_arr = _validate_wtp(wtp, "evppi")
    x = _validate_inputs(inputs, cost_arr.shape[0], "evppi", "inputs")
    parameters = _validate_parameter_names(names, x.shape[1])
    chosen = _choose_method(method, x.shape[1], "evppi")
    _check_group_size(x, chosen, max_gp_samples, parameters, "evppi")
    return cost_arr, effect_arr, wtp_arr, x, parameters, chosen


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
