"""EVPPI by parameter group: the Parameters sheet's groups, groups named on the command line,
and the biomarker parameters for the test-and-treat decision.

Policy: the default smoother (spline GAM); the Gaussian process when the spline basis is too
large for the sample; else the group is reported as skipped, with the reason, in the table.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from costmodel import voi
from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.biomarker import PARAMETERS as BIOMARKER_PARAMETERS
from costmodel.analyses.biomarker import biomarker_outcomes
from costmodel.analyses.psa import population, regression_rows
from costmodel.cores import map_on_cores, one_blas_thread
from costmodel.errors import AnalysisWarning, CostModelError
from costmodel.inputs import ModelInputs
from costmodel.outcomes import PsaResult
from costmodel.parameters import evaluate_parameters


def evppi_groups(
    inputs: ModelInputs, psa: PsaResult, extra_groups: tuple[tuple[str, ...], ...]
) -> dict[str, list[str]]:
    """Label → sampled parameter names: Parameters groups (with run_evppi) and extra groups."""
    sampled = psa.parameters
    groups: dict[str, list[str]] = {}
    if inputs.settings.run_evppi:
        used = inputs.model_parameters()
        for p in inputs.parameters:
            if p.name in sampled and p.group and p.name in used:
                groups.setdefault(p.group, []).append(p.name)
    for group in extra_groups:
        unknown = [n for n in group if n not in sampled]
        if unknown:
            raise CostModelError(
                f"{inputs.file}: --evppi {','.join(group)}: {', '.join(unknown)} "
                "has no PSA distribution (only sampled parameters carry EVPPI)."
            )
        groups["+".join(group)] = list(group)
    return groups


def _evppi_or_note(cost, effect, wtp, x, names) -> tuple[voi.EvppiResult | None, str]:
    """EVPPI with the default smoother, else the GP, else None and the reason."""
    try:
        return voi.evppi(cost, effect, wtp, x, names=names), ""
    except voi.VoiError:
        try:
            return voi.evppi(cost, effect, wtp, x, names=names, method="gp"), ""
        except voi.VoiError as exc:
            return None, str(exc)


def evppi_table(
    inputs: ModelInputs, psa: PsaResult, extra_groups=(), biomarker_runs=None
) -> pd.DataFrame | None:
    """evppi.csv: one row per group and WTP (per patient, population, SE, method); skipped
    groups carry the reason in ``method``. None when there is nothing to compute."""
    settings = inputs.settings
    effect = psa.effect(settings.effect_measure)
    wtp = np.asarray(settings.wtp, dtype=float)
    sampled = psa.parameters
    tasks = [
        (label, psa.cost, effect, names)
        for label, names in evppi_groups(inputs, psa, extra_groups).items()
    ]
    if settings.run_biomarker:
        names = [n for n in BIOMARKER_PARAMETERS if n in sampled]
        if names:
            values = evaluate_parameters(inputs, sampled, psa.n_samples)
            r = list(psa.strategies).index(inputs.reference_strategy)
            reference = (psa.cost[:, r], effect[:, r]) if biomarker_runs is not None else None
            b_cost, b_effect = biomarker_outcomes(inputs, values, biomarker_runs, reference)
            tasks.append(("biomarker (test-and-treat decision)", b_cost, b_effect, names))
    results, skipped = [], []

    rows = regression_rows(psa.n_samples)

    def estimate(task) -> tuple[voi.EvppiResult | None, str]:
        _, cost, eff, names = task
        x = np.column_stack([sampled[n][rows] for n in names])
        return _evppi_or_note(cost[rows], eff[rows], wtp, x, names)

    for (label, _, _, names), (result, reason) in zip(
        tasks, map_on_cores(estimate, tasks), strict=True
    ):
        if result is not None:
            results.append((label, result))
        else:
            skipped.append(("+".join(names), f"{label}: {reason}"))
    if not results and not skipped:
        return None
    table = pd.DataFrame()
    if results:
        table = voi.evppi_table([r for _, r in results], population_multiplier=population(inputs))
        table.insert(0, "group", np.repeat([label for label, _ in results], len(wtp)))
        table["samples_used"] = rows.stop  # of psa.n_samples (regression sample, first ones)
        flagged = table[table.flag != ""]
        if len(flagged):
            warnings.warn(
                f"evppi.csv: {len(flagged)} estimate(s) flagged ({flagged.group.iloc[0]}: "
                f"{flagged.flag.iloc[0]}); see its flag column.",
                AnalysisWarning,
                stacklevel=2,
            )
    if not skipped:
        return table
    notes = pd.DataFrame(
        [
            {
                "group": note.split(":")[0],
                "parameters": names,
                "wtp": w,
                "evppi_per_patient": np.nan,
                "evppi_population": np.nan,
                "se": np.nan,
                "method": f"skipped: {note}",
                "samples_used": rows.stop,
            }
            for names, note in skipped
            for w in wtp
        ]
    )
    return pd.concat([table, notes], ignore_index=True)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """evppi.csv, when the run has a PSA and value of information is on."""
    if ctx.psa is None or not ctx.options.voi:
        return {}
    with one_blas_thread():
        groups, runs = ctx.options.evppi_groups, ctx.biomarker_runs
        table = evppi_table(ctx.inputs, ctx.psa, groups, runs)
    return {} if table is None else {"evppi": table}
