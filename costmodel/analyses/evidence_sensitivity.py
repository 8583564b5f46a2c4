"""How much the decision leans on each trial: the synthesis re-run leaving one trial out,
without high risk-of-bias trials, without back-calculated counts, and the largest trial alone,
each with the ICER it gives (DSA strategy versus the reference)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.dsa import increments, run_overrides
from costmodel.cea import comparison
from costmodel.evidence import Selection, Synthesis, describe_method
from costmodel.inputs import ModelInputs
from costmodel.validate.trials import run_synthesis


def _variants(synthesis: Synthesis) -> list[tuple[str, Selection]]:
    """(label, selection) of each sensitivity analysis of the synthesis."""
    base = synthesis.selection
    ids = [s.trial_id for s in synthesis.studies]
    variants = [("as selected", base)]
    variants += [
        (f"without {trial}", replace(base, trial_ids=tuple(i for i in ids if i != trial)))
        for trial in ids
        if len(ids) > 1
    ]
    variants.append(("without high risk of bias", replace(base, exclude_high_risk_of_bias=True)))
    variants.append(("without derived counts", replace(base, exclude_derived_counts=True)))
    largest = max(synthesis.studies, key=lambda s: s.n_msc + s.n_control)
    alone = replace(base, trial_ids=(largest.trial_id,))
    variants.append((f"largest trial alone ({largest.trial_id})", alone))
    return variants


def evidence_sensitivity_table(inputs: ModelInputs) -> pd.DataFrame:
    """evidence_sensitivity.csv: analysis, trials, k, rr, ci_low, ci_high, pi_low, pi_high,
    tau2, i2, method, then inc_cost, inc_effect, icer, inmb of the DSA strategy versus the
    reference with that RR (first WTP)."""
    synthesis = inputs.synthesis
    assert synthesis is not None
    rows = []
    for label, selection in _variants(synthesis):
        try:
            pooled = run_synthesis(list(inputs.trials), inputs.settings, selection)
        except ValueError as exc:  # e.g. no trial left, or HKSJ with a single trial
            if "at least 2" not in str(exc):
                rows.append({"analysis": label, "note": str(exc)})
                continue
            single = replace(inputs.settings, synthesis_interval="wald")
            pooled = run_synthesis(list(inputs.trials), single, selection)
        dl = pooled.dl
        rows.append(
            {
                "analysis": label,
                "trials": ", ".join(s.trial_id for s in pooled.studies),
                "k": dl.k,
                "rr": dl.rr,
                "ci_low": dl.ci_low,
                "ci_high": dl.ci_high,
                "pi_low": dl.pi_low,
                "pi_high": dl.pi_high,
                "tau2": dl.tau2,
                "i2": dl.i2,
                "method": describe_method(dl),
                "note": "",
            }
        )
    table = pd.DataFrame(rows)
    effect = inputs.settings.effect_parameter
    if effect and len(inputs.strategies) > 1 and "rr" in table:
        valid = table["rr"].notna()
        outcomes = run_overrides(inputs, [{effect: rr} for rr in table.loc[valid, "rr"]])
        d_cost, d_effect, icer, inmb = increments(inputs, outcomes, inputs.dsa_strategy)
        computed = {
            "inc_cost": d_cost,
            "inc_effect": d_effect,
            "icer": icer,
            "inmb": inmb,
            "comparison": comparison(d_cost, d_effect),
        }
        for column, values in computed.items():
            table.loc[valid, column] = values
        table["strategy"] = inputs.dsa_strategy
        table["comparator"] = inputs.reference_strategy
        table["wtp"] = inputs.settings.wtp[0]
    return table


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """evidence_sensitivity.csv, when the workbook pools a Trials sheet into its effect."""
    inputs = ctx.inputs
    if inputs.synthesis is None or not inputs.trials or not ctx.options.deterministic:
        return {}
    return {"evidence_sensitivity": evidence_sensitivity_table(inputs)}
