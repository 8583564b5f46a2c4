"""EVSI and ENBS of a future two-arm trial of mortality, over the trial sizes in Settings.

The trial's simulated data come from the run's seed through
:func:`costmodel.rng.stream` (purpose EVSI_TRIAL), never from the PSA's streams.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from costmodel import voi
from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.psa import population, regression_rows
from costmodel.cores import one_blas_thread
from costmodel.errors import AnalysisWarning, CostModelError
from costmodel.inputs import ModelInputs
from costmodel.outcomes import PsaResult
from costmodel.parameters import evaluate_parameters


def evsi_table(
    inputs: ModelInputs,
    psa: PsaResult,
    cost: np.ndarray | None = None,
    values: dict[str, np.ndarray] | None = None,
    *,
    se_of_best_only: bool = False,
) -> pd.DataFrame:
    """evsi.csv: for every WTP in Settings and trial size: wtp, n_per_arm, evsi_per_patient,
    se (Monte Carlo SE), evsi_population, trial_cost, enbs, optimal [currency]. ``cost``
    replaces the PSA costs (e.g. at another product price); ``values`` are the PSA's evaluated
    parameters when already computed. ``se_of_best_only``: the SE only of each WTP's row of
    largest ENBS (the first, as ``idxmax``), NaN elsewhere; the same numbers as the full
    table, without the posterior draws of the other sizes (most of the work)."""
    from costmodel.voi_regression import spline_bases_kept  # scipy.optimize: ~0.2 s to import

    with spline_bases_kept():  # the best size's SE regresses again on the same trial data
        return _evsi_table(inputs, psa, cost, values, se_of_best_only)


def _evsi_table(
    inputs: ModelInputs,
    psa: PsaResult,
    cost: np.ndarray | None,
    values: dict[str, np.ndarray] | None,
    se_of_best_only: bool,
) -> pd.DataFrame:
    settings = inputs.settings
    rr_name, p_name = settings.effect_parameter, settings.trial_control_risk_parameter
    if not rr_name or not p_name or rr_name not in psa.parameters:
        raise CostModelError(
            f"{inputs.file}: run_evsi needs effect_parameter (with a PSA distribution) and "
            "trial_control_risk_parameter in Settings."
        )
    if values is None:
        values = evaluate_parameters(inputs, psa.parameters, psa.n_samples)
    sizes = [int(n) for n in settings.evsi_sample_sizes]
    effect = psa.effect(settings.effect_measure)
    cost = psa.cost if cost is None else cost
    rr = psa.parameters[rr_name]
    wtp = [float(w) for w in settings.wtp]
    rows = regression_rows(psa.n_samples)
    sample = (cost[rows], effect[rows], wtp, values[p_name][rows], rr[rows])
    table = voi.evsi_curve(*sample, sizes, seed=psa.seed, with_se=not se_of_best_only)
    table["samples_used"] = rows.stop
    table["evsi_population"] = table["evsi_per_patient"] * population(inputs)
    table["trial_cost"] = settings.trial_fixed_cost + 2 * table["n_per_arm"] * (
        settings.trial_cost_per_patient
    )
    table["enbs"] = voi.enbs(
        table["evsi_population"].to_numpy(),
        settings.trial_fixed_cost,
        settings.trial_cost_per_patient,
        table["n_per_arm"].to_numpy(),
    )
    # per WTP, the best size when any trial is worth its cost (ENBS > 0)
    best = table.groupby("wtp")["enbs"].transform("max")
    table["optimal"] = (table["enbs"] == best) & (table["enbs"] > 0)
    if se_of_best_only:  # each size's SE is that of the size alone (its own streams)
        top = table.groupby("wtp")["enbs"].idxmax()
        for n in sorted(set(table.loc[top, "n_per_arm"])):
            alone = voi.evsi_curve(*sample, [int(n)], seed=psa.seed)
            for row in top[table.loc[top, "n_per_arm"].to_numpy() == n]:
                at = alone.wtp.to_numpy() == table.at[row, "wtp"]  # the same Settings value
                table.at[row, "se"] = float(alone.loc[at, "se"].iloc[0])
    table["enbs_se"] = table["se"] * population(inputs)  # the trial's cost is fixed
    return table


def flag_uncertain_enbs(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (with a ``flag`` column) noting where the ENBS lies within 2 standard
    errors of 0: whether that trial is worth its cost is not settled by this PSA sample."""
    close = (table.enbs.abs() < 2 * table.enbs_se) & (table.enbs_se > 0)
    note = "ENBS within 2 SE of 0: worth running or not is uncertain; use more PSA samples"
    flag = table.flag.where(~close, table.flag.where(table.flag == "", table.flag + "; ") + note)
    return table.assign(flag=flag)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """evsi.csv, when the run has a PSA, value of information is on and run_evsi is set."""
    if ctx.psa is None or not ctx.options.voi or not ctx.inputs.settings.run_evsi:
        return {}
    with one_blas_thread():
        table = evsi_table(ctx.inputs, ctx.psa)
    table = flag_above_evppi(ctx.inputs, table, ctx.tables.get("evppi"))
    return {"evsi": flag_uncertain_enbs(table)}


def flag_above_evppi(
    inputs: ModelInputs, table: pd.DataFrame, evppi: pd.DataFrame | None
) -> pd.DataFrame:
    """``table`` with a ``flag`` column: where an EVSI estimate exceeds the EVPPI of the
    parameters the trial informs (an EVPPI group of exactly the effect and control-risk
    parameters, when the run has one), which no trial can: Monte Carlo noise of the
    regression estimates. Such rows are also reported as a warning."""
    table = table.assign(flag="")
    settings = inputs.settings
    informed = {settings.effect_parameter, settings.trial_control_risk_parameter}
    if evppi is None or evppi.empty or "parameters" not in evppi:
        return table
    group = evppi[evppi.parameters.map(lambda p: set(str(p).split("+")) == informed)]
    if group.empty:
        return table
    ceiling = group.groupby("wtp").evppi_per_patient.min()  # one group may repeat (--evppi)
    limit = table.wtp.map(ceiling)
    above = table.evsi_per_patient > limit * (1 + 1e-9)
    if above.any():
        name = group.group.iloc[0]
        table.loc[above, "flag"] = [
            f"above the EVPPI of '{name}' ({v:,.2f} per patient): Monte Carlo noise; use "
            "more PSA samples"
            for v in limit[above]
        ]
        warnings.warn(
            f"evsi.csv: {int(above.sum())} estimate(s) above the EVPPI of the parameters the "
            f"trial informs ('{name}'): Monte Carlo noise; see its flag column.",
            AnalysisWarning,
            stacklevel=2,
        )
    return table
