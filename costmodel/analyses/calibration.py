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
    """One row per target: key, entry, strategy, outcome, day, target, model, difference,
    tolerance, within_tolerance, source (base case unless ``parameters`` are given)."""
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
        model = _model_share(inputs, target, run)
        rows.append(
            {
                "key": target.key,
                "entry": ", ".join(f"{s}: {w:g}" for s, w in target.entry) or "initial",
                "strategy": target.strategy,
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


def _model_share(inputs: ModelInputs, target: CalibrationTarget, run) -> float:
    n = inputs.strategy_keys.index(target.strategy)
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

    Least squares (scipy) on the logit scale of each probability, residuals scaled by each
    target's tolerance. Returns the fitted values and the final calibration table. The
    workbook is not changed: copy the values into it.
    """
    from scipy.optimize import least_squares
    from scipy.special import expit, logit

    if not inputs.calibration:
        raise ValueError("the workbook has no Calibration targets")
    base = evaluate_parameters(inputs)
    starting = [(start or {}).get(n, base[n][0]) for n in names]
    x0 = np.array([logit(np.clip(v, 1e-9, 1 - 1e-9)) for v in starting])
    tolerances = np.array([t.tolerance for t in inputs.calibration])

    def table(x: np.ndarray) -> pd.DataFrame:
        overrides = {n: np.array([expit(v)]) for n, v in zip(names, x, strict=True)}
        return compute_calibration(inputs, evaluate_parameters(inputs, overrides))

    def residuals(x: np.ndarray) -> np.ndarray:
        return table(x)["difference"].to_numpy() / tolerances

    fit = least_squares(residuals, x0, xtol=1e-12, ftol=1e-12, gtol=1e-12)
    values = {n: float(expit(v)) for n, v in zip(names, fit.x, strict=True)}
    return values, table(fit.x)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """calibration.csv, when the workbook has Calibration targets."""
    if not ctx.inputs.calibration:
        return {}
    return {"calibration": compute_calibration(ctx.inputs)}
