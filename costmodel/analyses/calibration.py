"""Compare the model with the workbook's calibration targets (Calibration sheet).

For each target the reference (or named) strategy is run from the target's starting mix and
the share of the cohort in the outcome states at the target day is read off the trace.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.inputs import CalibrationTarget, ModelInputs
from costmodel.model import run_model
from costmodel.outcomes import ModelOutcomes, share_at_day
from costmodel.parameters import evaluate_parameters

CALIBRATION_COLUMNS = (
    "key",
    "entry",
    "strategy",
    "relative_to",
    "outcome",
    "day",
    "target",
    "model",
    "difference",
    "tolerance",
    "within_tolerance",
    "source",
)


def compute_calibration(
    inputs: ModelInputs, parameters: dict[str, np.ndarray] | None = None
) -> pd.DataFrame:
    """One row per target: key, entry, strategy, relative_to, outcome, day, target, model,
    difference, tolerance, within_tolerance, source (base case unless ``parameters`` are
    given). With relative_to, target and model are ratios of shares between two strategies."""
    if not inputs.calibration:
        return pd.DataFrame(columns=list(CALIBRATION_COLUMNS))
    if parameters is None:
        parameters = evaluate_parameters(inputs)
    runs: dict[str | None, ModelOutcomes] = {}

    def run(entry: str | None) -> ModelOutcomes:
        if entry not in runs:
            runs[entry] = run_model(inputs, parameters, keep_trace=True, entry_state=entry)
        return runs[entry]

    rows = []
    for target in inputs.calibration:
        model = _model_value(inputs, target, run)
        rows.append(
            {
                "key": target.key,
                "entry": ", ".join(f"{s}: {w:g}" for s, w in target.entry) or "initial",
                "strategy": target.strategy,
                "relative_to": target.relative_to,
                "outcome": ", ".join(target.outcome),
                "day": target.day,
                "target": target.target,
                "model": model,
                "difference": model - target.target,
                "tolerance": target.tolerance,
                "within_tolerance": bool(abs(model - target.target) <= target.tolerance),
                "source": target.source,
            }
        )
    return pd.DataFrame(rows)


def _model_value(inputs: ModelInputs, target: CalibrationTarget, run) -> float:
    """The model's share of the target (or the ratio of two strategies' shares)."""
    share = _model_share(inputs, target, run, target.strategy)
    if not target.relative_to:
        return share
    return share / _model_share(inputs, target, run, target.relative_to)


def _model_share(inputs: ModelInputs, target: CalibrationTarget, run, strategy: str) -> float:
    n = inputs.strategy_keys.index(strategy)
    if not target.entry:
        return float(share_at_day(inputs, run(None), target.outcome, target.day)[0, n])
    total = sum(w for _, w in target.entry)
    return float(
        sum(
            w / total * share_at_day(inputs, run(state), target.outcome, target.day)[0, n]
            for state, w in target.entry
        )
    )


def fit_calibration(
    inputs: ModelInputs, names: list[str], *, start: dict[str, float] | None = None
) -> tuple[dict[str, float], pd.DataFrame]:
    """Fit per-cycle probabilities ``names`` so the model meets the Calibration targets.

    Least squares (scipy) on the logit scale of each probability (names starting ``p_``) and
    the log scale of anything else (hazard ratios, rates), residuals scaled by each target's
    tolerance. Returns the fitted values and the final calibration table. The
    workbook is not changed: copy the values into it.
    """
    from scipy.optimize import least_squares
    from scipy.special import expit, logit

    if not inputs.calibration:
        raise ValueError("the workbook has no Calibration targets")
    base = evaluate_parameters(inputs)
    starting = [(start or {}).get(n, base[n][0]) for n in names]
    is_probability = [n.startswith("p_") for n in names]

    def to_scale(value: float, probability: bool) -> float:
        return logit(np.clip(value, 1e-9, 1 - 1e-9)) if probability else np.log(value)

    def from_scale(x: np.ndarray) -> list[float]:
        return [
            float(expit(v)) if probability else float(np.exp(v))
            for v, probability in zip(x, is_probability, strict=True)
        ]

    x0 = np.array([to_scale(v, p) for v, p in zip(starting, is_probability, strict=True)])
    tolerances = np.array([t.tolerance for t in inputs.calibration])

    def table(x: np.ndarray) -> pd.DataFrame:
        values = from_scale(x)
        overrides = {n: np.array([v]) for n, v in zip(names, values, strict=True)}
        return compute_calibration(inputs, evaluate_parameters(inputs, overrides))

    def residuals(x: np.ndarray) -> np.ndarray:
        return table(x)["difference"].to_numpy() / tolerances

    fit = least_squares(residuals, x0, xtol=1e-12, ftol=1e-12, gtol=1e-12)
    values = dict(zip(names, from_scale(fit.x), strict=True))
    return values, table(fit.x)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """calibration.csv, when the workbook has Calibration targets."""
    inputs = ctx.workbook_inputs  # targets may name any strategy
    if not inputs.calibration:
        return {}
    return {"calibration": compute_calibration(inputs)}
