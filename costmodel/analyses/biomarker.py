"""A responder biomarker: test-and-treat versus treat-all versus the reference strategy.

Patients are biomarker-positive with prevalence π. Treatment works with risk ratio RR+ in
positives and RR− in negatives; by default the workbook defines RR− so that the population
average equals the pooled effect, π RR+ + (1 − π) RR− = RR (the user may override the cell).
The biomarker is assumed predictive, not prognostic: both groups have the same course under
the reference strategy. Test-and-treat treats test-positives (sensitivity se, specificity
sp) and costs c_test per patient tested. Because the cohort model is linear in the groups it
mixes, each strategy's outcome is the share-weighted sum of whole-cohort runs with the effect
set to RR+ and to RR−:

    treat-all      = π O(RR+) + (1 − π) O(RR−)
    test-and-treat = π se O(RR+) + (1 − π)(1 − sp) O(RR−) + [π(1 − se) + (1 − π) sp] O(ref)
                     + c_test
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.cea import compute_icer_table
from costmodel.errors import CostModelError
from costmodel.inputs import ModelInputs
from costmodel.model import run_model
from costmodel.model.dependence import dependent_names
from costmodel.outcomes import ModelOutcomes, resolves_day, share_at_day
from costmodel.parameters import evaluate_parameters
from costmodel.schema import BIOMARKER_PARAMETERS

PARAMETERS = BIOMARKER_PARAMETERS
STRATEGIES = ("reference", "treat_all", "test_and_treat")


def check_biomarker_inputs(inputs: ModelInputs) -> None:
    names = {p.name for p in inputs.parameters}
    missing = [n for n in PARAMETERS if n not in names]
    if missing or not inputs.settings.effect_parameter:
        raise CostModelError(
            f"{inputs.file}: run_biomarker needs the parameters {', '.join(PARAMETERS)} "
            f"(missing: {', '.join(missing) or 'none'}) and the setting effect_parameter."
        )


def biomarker_strategy(inputs: ModelInputs) -> str:
    """The strategy the biomarker selects patients for (treat-all)."""
    return inputs.settings.biomarker_strategy or inputs.dsa_strategy


def effect_values(
    inputs: ModelInputs, values: dict[str, np.ndarray]
) -> tuple[ModelInputs, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The biomarker strategy alone (inputs with that one strategy) and its parameter values
    with the effect set to RR+ and to RR−, for the parameter values ``values``: every value
    that does not follow from the effect is kept as given (sampled draws, and inputs set to
    other values, such as the price in the value of information by price); those that
    follow from it are computed anew."""
    check_biomarker_inputs(inputs)
    n = len(next(iter(values.values())))
    effect = inputs.settings.effect_parameter
    arm = inputs.with_strategies([biomarker_strategy(inputs)])
    follows = dependent_names(inputs, effect)
    kept = {name: value for name, value in values.items() if name not in follows}

    def with_effect(rr: np.ndarray) -> dict[str, np.ndarray]:
        return evaluate_parameters(arm, {**kept, effect: np.broadcast_to(rr, (n,))}, n)

    pos, neg = values["rr_death_biomarker_pos"], values["rr_death_biomarker_neg"]
    return arm, with_effect(pos), with_effect(neg)


def effect_runs(
    inputs: ModelInputs, values: dict[str, np.ndarray], keep_trace: bool = False
) -> tuple[ModelOutcomes, ModelOutcomes]:
    """Whole-cohort runs of the biomarker strategy alone (one outcome column) with the effect
    set to RR+ and to RR−, for the parameter samples ``values`` (each (n_samples,))."""
    arm, pos, neg = effect_values(inputs, values)
    return run_model(arm, pos, keep_trace=keep_trace), run_model(arm, neg, keep_trace=keep_trace)


def biomarker_outcomes(
    inputs: ModelInputs,
    values: dict[str, np.ndarray],
    runs: tuple[ModelOutcomes, ModelOutcomes] | None = None,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cost and effect (n_samples, 3) of reference, treat-all and test-and-treat for the
    parameter samples ``values``; ``runs`` as :func:`effect_runs` and ``reference`` (cost,
    effect) of the reference strategy when already computed (in the PSA)."""
    check_biomarker_inputs(inputs)
    n = len(next(iter(values.values())))
    measure = inputs.settings.effect_measure
    if runs is None:
        runs = effect_runs(inputs, values)
    if reference is None:
        alone = inputs.with_strategies([inputs.reference_strategy])
        outcome = run_model(alone, values)
        reference = outcome.cost[:, 0], getattr(outcome, measure)[:, 0]
    pos, neg = runs
    ref_c, ref_e = reference
    pos_c, pos_e = pos.cost[:, 0], getattr(pos, measure)[:, 0]
    neg_c, neg_e = neg.cost[:, 0], getattr(neg, measure)[:, 0]
    cost = np.column_stack([ref_c, *mix(values, ref_c, pos_c, neg_c)])
    cost[:, 2] += values["c_test"]
    effect = np.column_stack([ref_e, *mix(values, ref_e, pos_e, neg_e)])
    return cost.reshape(n, 3), effect.reshape(n, 3)


def test_and_treat_shares(
    values: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shares of the cohort under test-and-treat (n_samples,): treated and biomarker-positive
    (π se), treated and negative (false positives, (1 − π)(1 − sp)), untreated."""
    pi = values["biomarker_prevalence"]
    se, sp = values["test_sensitivity"], values["test_specificity"]
    positive, negative = pi * se, (1 - pi) * (1 - sp)
    return positive, negative, 1 - positive - negative


def mix(
    values: dict[str, np.ndarray], reference: np.ndarray, pos: np.ndarray, neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Treat-all and test-and-treat (test cost not included) of one outcome (n_samples,)
    from the reference strategy's and the biomarker strategy's runs at RR+ and RR-."""
    pi = values["biomarker_prevalence"]
    treated_pos, treated_neg, untreated = test_and_treat_shares(values)
    treat_all = pi * pos + (1 - pi) * neg
    return treat_all, treated_pos * pos + treated_neg * neg + untreated * reference


def biomarker_table(inputs: ModelInputs) -> pd.DataFrame:
    """biomarker.csv: the ICER table of the three strategies (base case) and, per WTP, the
    largest test cost at which test-and-treat has the highest net benefit."""
    values = evaluate_parameters(inputs)
    if np.any(values["rr_death_biomarker_neg"] <= 0):
        raise CostModelError(
            f"{inputs.file}: rr_death_biomarker_neg is {values['rr_death_biomarker_neg'][0]:g}: "
            "with this prevalence and RR+ the pooled effect cannot be reproduced; lower "
            "the prevalence or the effect in positives, or set RR- directly."
        )
    runs = effect_runs(inputs, values, keep_trace=True)
    alone = inputs.with_strategies([inputs.reference_strategy])
    reference_run = run_model(alone, values, keep_trace=True)
    measure = inputs.settings.effect_measure
    reference = reference_run.cost[:, 0], getattr(reference_run, measure)[:, 0]
    cost, effect = biomarker_outcomes(inputs, values, runs, reference)
    names = [inputs.reference_strategy, "treat_all", "test_and_treat"]
    table = compute_icer_table(names, cost[0], effect[0], wtp=inputs.settings.wtp)
    deaths = _deaths_by_day(inputs, values, runs, reference_run)
    order = table.strategy.map({name: i for i, name in enumerate(names)}).to_numpy()
    for column, shares in deaths.items():
        table[column] = shares[order]
    c_test = float(values["c_test"][0])
    for w in inputs.settings.wtp:
        nmb = w * effect[0] - cost[0]
        best_other = max(nmb[0], nmb[1])
        table[f"max_test_cost_{w:g}"] = np.where(
            table.strategy == "test_and_treat", c_test + nmb[2] - best_other, np.nan
        )
    return table


def _deaths_by_day(
    inputs: ModelInputs,
    values: dict[str, np.ndarray],
    runs: tuple[ModelOutcomes, ModelOutcomes],
    reference_run: ModelOutcomes,
) -> dict[str, np.ndarray]:
    """deaths_day_<d> (cumulative share dead at each Settings outcome day the cycles
    resolve) → (3,) for reference, treat-all and test-and-treat in the base case, mixed with
    the same shares as the costs and effects (runs with traces)."""
    dead = tuple(s.key for s in inputs.states if not s.alive)
    found: dict[str, np.ndarray] = {}
    for day in inputs.settings.outcome_days:
        if not resolves_day(inputs, day):
            continue
        ref, pos, neg = (
            share_at_day(inputs, run, dead, day)[:, 0] for run in (reference_run, *runs)
        )
        found[f"deaths_day_{day:g}"] = np.array(
            [ref[0], *(m[0] for m in mix(values, ref, pos, neg))]
        )
    return found


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """biomarker.csv, when Settings run_biomarker is on."""
    if not ctx.inputs.settings.run_biomarker:
        return {}
    return {"biomarker": biomarker_table(ctx.inputs)}
