"""Results by subgroup (Subgroups sheet): who benefits.

A subgroup is the cohort started in a weighted mix of first-phase states (e.g. patients on
IMV at entry). The model is linear in its starting distribution, so a subgroup's outcomes are
the weighted sum of runs started in each state; the whole cohort is the same sum with the
workbook's initial shares, which makes subgroup results add up to the whole-cohort result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel import cea
from costmodel.analyses.base import AnalysisContext
from costmodel.analyses.threshold import THRESHOLD_GRID, threshold_range
from costmodel.inputs import ModelInputs, Subgroup
from costmodel.model import run_model, use_compiled
from costmodel.outcomes import ModelOutcomes, PsaResult, combine_entries
from costmodel.parameters import evaluate_parameters
from costmodel.results import base_case_table
from costmodel.roots import bracketed_roots, first_bracket

Arrays = tuple[np.ndarray, np.ndarray]  # cost, effect: (n_samples, n_strategies)


def by_entry_state(
    inputs: ModelInputs, states: set[str], values: dict[str, np.ndarray] | None = None
) -> dict[str, ModelOutcomes]:
    """Outcomes of the cohort started entirely in each of ``states``."""
    return {s: run_model(inputs, values, entry_state=s) for s in sorted(states)}


def mix(subgroup: Subgroup, runs: dict[str, ModelOutcomes]) -> ModelOutcomes:
    """The subgroup's outcomes: its entry weights applied to the per-state runs."""
    weights = subgroup.weights
    first = next(iter(runs.values()))
    n_samples, n_strategies = first.cost.shape
    parts = {s: runs[s] for s in weights}
    shares = np.stack([np.full((n_samples, n_strategies), w) for w in weights.values()], axis=2)
    return combine_entries(parts, shares)


def _effect(inputs: ModelInputs, outcomes: ModelOutcomes) -> np.ndarray:
    return outcomes.effect(inputs.settings.effect_measure)


def subgroup_threshold(
    inputs: ModelInputs, subgroup: Subgroup, parameter: str, wtp: float
) -> float:
    """Value of ``parameter`` at which the DSA strategy's INMB versus the reference is zero in
    the subgroup (NaN when there is none in the Settings search range)."""
    return subgroup_thresholds(inputs, [subgroup], parameter)[(subgroup.name, wtp)]


def _increments(
    inputs: ModelInputs, parameter: str, asked: list[tuple[Subgroup, np.ndarray]]
) -> list[Arrays]:
    """(Δcost, Δeffect) of the DSA strategy versus the reference in each subgroup at each of
    its values of ``parameter``, from one model run per entry state for all of them."""
    s = inputs.strategy_keys.index(inputs.dsa_strategy)
    r = inputs.strategy_keys.index(inputs.reference_strategy)
    runs, where = {}, {}  # entry state -> outcomes; (problem, state) -> its samples
    # the engine the largest of them alone would use (kernel and NumPy agree to 1e-12 only)
    compiled = use_compiled(inputs, max((x.size for _, x in asked), default=1))
    for state in sorted({st for g, x in asked if x.size for st in g.weights}):
        points, start = [], 0
        for k, (g, x) in enumerate(asked):
            if x.size and state in g.weights:
                points.append(x)
                where[k, state] = slice(start, start + x.size)
                start += x.size
        x = np.concatenate(points)
        values = evaluate_parameters(inputs, {parameter: x}, x.size)
        runs[state] = run_model(inputs, values, entry_state=state, compiled=compiled)
    out = []
    for k, (g, x) in enumerate(asked):
        if not x.size:
            out.append((np.empty(0), np.empty(0)))
            continue
        cost = effect = 0.0  # the subgroup's mix of entry states, as :func:`mix` sums it
        for state, w in g.weights.items():
            part = runs[state]
            rows = where[k, state]
            cost = cost + w * part.cost[rows]
            effect = effect + w * _effect(inputs, part)[rows]
        out.append((cost[:, s] - cost[:, r], effect[:, s] - effect[:, r]))  # type: ignore[index]
    return out


def subgroup_thresholds(
    inputs: ModelInputs, subgroups: list[Subgroup], parameter: str
) -> dict[tuple[str, float], float]:
    """:func:`subgroup_threshold` of every subgroup at every WTP, (subgroup name, WTP) ->
    value: the grid in one model run per entry state, then each round of all the root
    searches in one more (each search evaluates the points it would alone)."""
    low, high = threshold_range(inputs, parameter)
    grid = np.linspace(low, high, THRESHOLD_GRID)
    on_grid = _increments(inputs, parameter, [(g, grid) for g in subgroups])
    found: dict[tuple[str, float], float] = {}
    brackets, problems = [], []
    for g, (d_cost, d_effect) in zip(subgroups, on_grid, strict=True):
        for wtp in inputs.settings.wtp:
            bracket = first_bracket(grid, wtp * d_effect - d_cost)
            found[g.name, wtp] = float("nan")
            if bracket is not None:
                brackets.append(bracket)
                problems.append((g, wtp))

    def inmb(points: list[np.ndarray]) -> list[np.ndarray]:
        asked = [(g, x) for (g, _), x in zip(problems, points, strict=True)]
        sums = _increments(inputs, parameter, asked)
        return [wtp * de - dc for (_, wtp), (dc, de) in zip(problems, sums, strict=True)]

    roots = bracketed_roots(inmb, brackets, xtol=1e-8)
    for (g, wtp), root in zip(problems, roots, strict=True):
        found[g.name, wtp] = root
    return found


def psa_arrays(inputs: ModelInputs, psa: PsaResult, subgroup: Subgroup) -> Arrays:
    """The subgroup's PSA cost and effect, from the PSA's own parameter draws (its per-entry
    outcomes when the PSA kept them)."""
    n = len(inputs.strategies)
    kept = psa.by_entry or {}
    if all(state in kept for state in subgroup.weights):
        measure = 1 if inputs.settings.effect_measure == "qaly" else 2
        cost = sum(w * kept[s][0][:, :n] for s, w in subgroup.weights.items())
        effect = sum(w * kept[s][measure][:, :n] for s, w in subgroup.weights.items())
        return cost, effect
    values = evaluate_parameters(inputs, psa.parameters, psa.n_samples)
    out = mix(subgroup, by_entry_state(inputs, set(subgroup.weights), values))
    return out.cost, _effect(inputs, out)


def subgroups_table(inputs: ModelInputs, psa: PsaResult | None) -> pd.DataFrame:
    """subgroups.csv: per subgroup the ICER table (base_case columns), and per WTP the
    threshold price (threshold_price_<wtp>) and EVPI per patient (evpi_per_patient_<wtp>)."""
    states = {s for g in inputs.subgroups for s in g.weights}
    runs = by_entry_state(inputs, states)
    price = inputs.settings.threshold_parameter
    thresholds = {}
    if price and len(inputs.strategies) > 1:
        thresholds = subgroup_thresholds(inputs, list(inputs.subgroups), price)
    frames = []
    for subgroup in inputs.subgroups:
        table = base_case_table(inputs, mix(subgroup, runs))
        table.insert(0, "subgroup", subgroup.name)
        table.insert(1, "entry", ", ".join(f"{s}: {w:g}" for s, w in subgroup.entry))
        evpi = None
        if psa is not None:
            cost, effect = psa_arrays(inputs, psa, subgroup)
            evpi = cea.evpi(cost, effect, np.asarray(inputs.settings.wtp, dtype=float))
        for w, wtp in enumerate(inputs.settings.wtp):
            if price and len(inputs.strategies) > 1:
                table[f"threshold_price_{wtp:g}"] = thresholds[subgroup.name, wtp]
            if evpi is not None:
                table[f"evpi_per_patient_{wtp:g}"] = evpi[w]
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """subgroups.csv, when the workbook has a Subgroups sheet."""
    if not ctx.inputs.subgroups:
        return {}
    return {"subgroups": subgroups_table(ctx.inputs, ctx.psa)}
