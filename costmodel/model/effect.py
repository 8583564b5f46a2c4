"""How long a treatment effect lasts: the built-in variables effect_weight and effect_after.

effect_weight(t) is 0 before effect_start_day, 1 up to effect_end_day, then fades to 0 by
effect_waning_end_day: linearly, or exponentially with 1% left at that day (and 0 after).
Expressions use it as an exponent on a hazard ratio, ``hr ** effect_weight``, so the log
hazard ratio wanes. effect_after is 1 once the window and its waning are over.
"""

from __future__ import annotations

import numpy as np

from costmodel.inputs import Settings

RESIDUAL_AT_WANING_END = 0.01  # exponential waning: share of the effect left at its end day


def effect_weight(days: np.ndarray, settings: Settings) -> np.ndarray:
    """Share of the effect in force at model time ``days`` [days], same shape, in [0, 1]."""
    days = np.asarray(days, dtype=float)
    start, end = settings.effect_start_day, settings.effect_end_day
    weight = (days >= start).astype(float)
    if end is None:
        return weight
    after = days > end
    waning_end = settings.effect_waning_end_day
    if settings.effect_waning == "none" or waning_end is None:
        return np.where(after, 0.0, weight)
    fraction = np.clip((days - end) / (waning_end - end), 0.0, 1.0)
    if settings.effect_waning == "linear":
        faded = 1.0 - fraction
    else:
        faded = np.where(fraction < 1.0, RESIDUAL_AT_WANING_END**fraction, 0.0)
    return np.where(after, faded, weight)


def effect_after(days: np.ndarray, settings: Settings) -> np.ndarray:
    """1 where the effect window and its waning are over at ``days`` [days], else 0."""
    days = np.asarray(days, dtype=float)
    end = settings.effect_end_day
    if end is None:
        return np.zeros_like(days)
    last = end
    if settings.effect_waning != "none" and settings.effect_waning_end_day is not None:
        last = settings.effect_waning_end_day
    return (days > last).astype(float)
