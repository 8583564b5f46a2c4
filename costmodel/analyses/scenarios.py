"""Scenario analysis: base case and every scenario (validated with the workbook, kept in
``inputs.scenario_variants``), each strategy versus the reference at the first WTP.

Scenarios that change only what the model reads as parameter values (Parameters values, and
the Settings that choose the trials pooled, which reach the model through the effect
parameter) run together with the base case, one sample each, in one model run; the others
(time horizon, discounting, effect duration...) run one by one. Both give the same numbers:
every sample of a run is computed on its own.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd

from costmodel.analyses import test_and_treat
from costmodel.analyses.base import AnalysisContext
from costmodel.cea import compare_to_reference, comparison
from costmodel.cea_icer import compute_icer_table
from costmodel.errors import ModelCheckError
from costmodel.inputs import ModelInputs
from costmodel.model import run_model, use_compiled
from costmodel.outcomes import ModelOutcomes
from costmodel.parameters import evaluate_parameters

# ModelInputs fields a scenario may change and still run as a sample of the base model: what
# the model reads of them is in the values evaluate_parameters returns (the Scenarios rows
# themselves it never reads)
_VALUE_FIELDS = {"parameters", "synthesis", "trials", "warnings", "sha256", "scenarios"}
# Settings that act on the model only through parameter values (the evidence synthesis)
_VALUE_SETTINGS_PREFIX = "synthesis_"


def runs_as_a_sample(base: ModelInputs, variant: ModelInputs) -> bool:
    """Whether ``variant`` is ``base`` with other parameter values only, so that running the
    base model on the variant's values gives the variant's results."""
    for f in fields(base):
        if not f.compare or f.name in _VALUE_FIELDS:
            continue
        a, b = getattr(base, f.name), getattr(variant, f.name)
        if f.name == "settings":
            if any(
                getattr(a, s.name) != getattr(b, s.name)
                for s in fields(a)
                if not s.name.startswith(_VALUE_SETTINGS_PREFIX)
            ):
                return False
        elif f.name == "life_table":
            if (a is None) != (b is None) or (
                a is not None
                and not all(
                    np.array_equal(getattr(a, t.name), getattr(b, t.name)) for t in fields(a)
                )
            ):
                return False
        elif a != b:
            return False
    # the model evaluates time-dependent parameters from their own expressions
    dynamic = set(base.dynamic_parameters)
    mine = {p.name: p for p in base.parameters if p.name in dynamic}
    theirs = {p.name: p for p in variant.parameters if p.name in dynamic}
    names = {p.name for p in base.parameters} == {p.name for p in variant.parameters}
    return names and mine == theirs


def _run_cases(
    inputs: ModelInputs, cases: list[ModelInputs], names: list[str]
) -> list[tuple[ModelOutcomes, int]]:
    """Each case's outcomes and its row in them: the cases that run as samples of ``inputs``
    share one run (a row each), the others run alone (row 0). Where test-and-treat is in the
    decision it is a column of each case's outcomes, from that case's values."""
    together = [i for i, case in enumerate(cases) if runs_as_a_sample(inputs, case)]
    outcomes: list[tuple[ModelOutcomes, int] | None] = [None] * len(cases)
    if len(together) > 1:
        values = [evaluate_parameters(cases[i]) for i in together]
        stacked = {name: np.concatenate([v[name] for v in values]) for name in values[0]}
        try:
            batch = run_model(inputs, stacked, compiled=use_compiled(inputs, 1))  # as alone
            batch = _with_test_and_treat(inputs, batch, stacked)
        except ModelCheckError:
            together = []  # run one by one below, to name the scenario that fails
        else:
            for k, i in enumerate(together):
                outcomes[i] = (batch, k)
    for i, case in enumerate(cases):
        if outcomes[i] is None:
            try:
                outcomes[i] = (_with_test_and_treat(case, run_model(case)), 0)
            except ModelCheckError as exc:
                file, where, message = [*str(exc).split(": ", 2), "", ""][:3]
                raise type(exc)(f"{file}: {where}: scenario '{names[i]}': {message}") from None
    return outcomes  # type: ignore[return-value]


def _with_test_and_treat(
    case: ModelInputs, out: ModelOutcomes, values: dict[str, np.ndarray] | None = None
) -> ModelOutcomes:
    """``out`` with the test_and_treat column when it is in the case's decision (from the
    case's parameter ``values``, default its base case)."""
    if not test_and_treat.in_decision(case):
        return out
    return test_and_treat.extend_outcomes(case, out, values or evaluate_parameters(case))


def run_scenarios(inputs: ModelInputs) -> pd.DataFrame:
    """scenarios.csv: base case and every scenario, each strategy of the decision (test-and-
    treat included where it is in it) versus the reference (at the first WTP), its place on
    the scenario's frontier (status, frontier_comparator, frontier_icer) and whether it has
    the highest net benefit at each WTP (optimal_<wtp>)."""
    cases = [("base case", "", inputs)]
    cases += [
        (s.name, s.description, variant)
        for s, variant in zip(inputs.scenarios, inputs.scenario_variants, strict=True)
    ]
    runs = _run_cases(inputs, [case for _, _, case in cases], [name for name, _, _ in cases])
    rows = []
    for (name, description, case), (out, k) in zip(cases, runs, strict=True):
        keys = list(out.strategies)  # test_and_treat too, where it is in the decision
        r = keys.index(case.reference_strategy)
        wtp = case.settings.wtp[0]
        cost, qaly, ly = out.cost[k : k + 1], out.qaly[k : k + 1], out.ly[k : k + 1]
        effect = out.effect(case.settings.effect_measure)[k : k + 1]
        inc_cost, inc_effect, icer, inmb = compare_to_reference(cost, effect, r, wtp)
        quadrant = comparison(inc_cost, inc_effect)
        frontier = compute_icer_table(keys, cost[0], effect[0], wtp=case.settings.wtp)
        frontier = frontier.set_index("strategy").loc[keys]
        best = {w: keys[int(np.argmax(w * effect[0] - cost[0]))] for w in case.settings.wtp}
        for s, strategy in enumerate(keys):
            is_reference = s == r
            on_frontier = {
                "status": frontier.status.iloc[s],
                "frontier_comparator": frontier.comparator.iloc[s],
                "frontier_icer": frontier.icer.iloc[s],
                **{f"optimal_{w:g}": best[w] == strategy for w in case.settings.wtp},
            }
            rows.append(
                {
                    "scenario": name,
                    "description": description,
                    "strategy": strategy,
                    "cost": cost[0, s],
                    "qaly": qaly[0, s],
                    "ly": ly[0, s],
                    "inc_cost": np.nan if is_reference else inc_cost[0, s],
                    "inc_effect": np.nan if is_reference else inc_effect[0, s],
                    "icer": icer[0, s],
                    "inmb": np.nan if is_reference else inmb[0, s],
                    "wtp": wtp,
                    "comparison": "" if is_reference else quadrant[0, s],
                    **on_frontier,
                }
            )
    return pd.DataFrame(rows)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """scenarios.csv, when deterministic analyses are on and the workbook has scenarios."""
    inputs = ctx.inputs
    if not ctx.options.deterministic or len(inputs.strategies) < 2 or not inputs.scenarios:
        return {}
    return {"scenarios": run_scenarios(inputs)}
