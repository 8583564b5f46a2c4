"""report.html's Limitations section (CHEERS item 26): what is weak in a run, each item
generated from the run's own outputs by one check."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from costmodel.reports.html_elements import fixed
from costmodel.reports.html_sections import (
    Section,
    Tables,
    bullet_list,
    effect_measure,
    effect_unit,
    strategy_labels,
    treat_all_gap,
)
from costmodel.results import evidence_flags


def limitations(folder: Path, summary: dict, tables: Tables) -> Section:
    """What is weak in this run, generated from its own outputs (CHEERS item 26)."""
    items = [item for item in (check(summary, tables) for check in LIMITATION_CHECKS) if item]
    return ("limitations", "Limitations", bullet_list(items, "None found by the automatic checks."))


def _weak_inputs(summary: dict, tables: Tables) -> str:
    parameters = tables.get("parameters")
    if parameters is None or "evidence_flags" not in parameters:
        return ""
    flags = parameters.evidence_flags.astype("string").fillna("")
    kinds = (  # (flag, one, several)
        ("[A]", "rests on an assumption [A]", "rest on assumptions [A]"),
        ("[GAP]", "is an evidence gap [GAP]", "are evidence gaps [GAP]"),
        ("[R]", "is a recalled value to verify [R]", "are recalled values to verify [R]"),
    )
    groups = [(words, flags.str.contains(flag, regex=False)) for flag, *words in kinds]
    if "weak" in parameters:  # weak by their source's own words ('[V secondary; weak]')
        flagged = pd.concat([rows for _, rows in groups], axis=1).any(axis=1)
        weak = parameters.weak.astype("boolean").fillna(False).astype(bool)
        words = ["is marked weak by its source", "are marked weak by their source"]
        groups.append((words, weak & ~flagged))
    parts = []
    for (one, several), rows in groups:  # each kind with its own parameters, 12 at most
        names = parameters[rows].name.tolist()
        if names:
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            parts.append(
                f"{len(names)} {one if len(names) == 1 else several} ({html.escape(shown)})"
            )
    if not parts:
        return ""
    return (
        f"Weak inputs: {'; '.join(parts)}. See 'Inputs' and the one-way analysis for how much "
        "each matters."
    )


def _life_table(summary: dict, tables: Tables) -> str:
    """The LifeTable's source (Settings life_table_source) when it carries a weak flag."""
    source = str(summary.get("settings", {}).get("life_table_source") or "").strip()
    if not evidence_flags(source)[1]:
        return ""
    return f"Background mortality: {html.escape(source)}."


def _synthesis(summary: dict, tables: Tables) -> str:
    evidence = tables.get("evidence")
    if evidence is None or evidence.empty:
        return ""
    pooled = evidence.iloc[0]
    studies = tables.get("evidence_studies", pd.DataFrame())
    high = int((studies.get("risk_of_bias", pd.Series(dtype=str)) == "high").sum())
    derived = int(studies.get("counts_derived", pd.Series(dtype=bool)).fillna(False).sum())
    text = (
        f"Effect from {int(pooled.k)} small trials ({html.escape(str(pooled.method))}): RR "
        f"{pooled.rr:.2f} ({pooled.ci_low:.2f}-{pooled.ci_high:.2f}), I² "
        f"{100 * pooled.i2:.0f}%; {high} pooled trial(s) at high risk of bias, {derived} with "
        "back-calculated counts."
    )
    sensitivity = tables.get("evidence_sensitivity")
    if sensitivity is not None and "icer" in sensitivity:
        alone = sensitivity[sensitivity.analysis.str.startswith("largest trial alone")]
        if len(alone):
            row = alone.iloc[0]
            result = (
                f"an ICER of {fixed(row.icer, 0)}"
                if row.icer == row.icer
                else f"no ICER ({_comparison_words(row)})"
            )
            text += f" The largest trial alone gives RR {row.rr:.2f} and {result}."
    return text


def _effect_duration(summary: dict, tables: Tables) -> str:
    settings = summary.get("settings", {})
    end, waning = settings.get("effect_end_day"), settings.get("effect_waning", "none")
    if end is None and waning == "none" and settings.get("effect_start_day", 0) == 0:
        return (
            "No effect duration is set in Settings (effect_start_day, effect_end_day, "
            "effect_waning): the treatment effect lasts as long as the model's own "
            "expressions apply it; check that this matches the evidence."
        )
    text = (
        f"Effect duration: full effect from day {settings.get('effect_start_day', 0):g} to day "
        f"{end:g}, waning {html.escape(str(waning))}."
        if end is not None
        else ""
    )
    calibration = tables.get("calibration")
    if calibration is not None and "relative_to" in calibration:
        ratios = calibration[calibration.relative_to.notna()]
        shown = "; ".join(
            f"day {r.day:g} RR {r.model:.3f} (target {r.target:.3f})" for r in ratios.itertuples()
        )
        if shown:
            text += f" The model reproduces {shown}; beyond that the effect is extrapolated."
    return text


def _baseline_era(summary: dict, tables: Tables) -> str:
    scenarios = tables.get("scenarios")
    if scenarios is None or "scenario" not in scenarios:
        return ""
    era = scenarios[
        (scenarios.scenario == "current_era_baseline") & scenarios.inc_cost.notna()
    ]  # the strategies compared with the reference
    if era.empty:
        return ""
    base = tables.get("base_case")
    labels = strategy_labels(base) if base is not None else {}
    cur = summary.get("settings", {}).get("currency", "")
    shown = ", ".join(
        f"{html.escape(labels.get(r.strategy, r.strategy))} "
        + (f"{cur} {fixed(r.icer, 0)}" if r.icer == r.icer else _comparison_words(r))
        for r in era.itertuples()
    )
    return (
        "Baseline risk is that of the calibration cohort; with current-era standard-care "
        f"mortality (scenario 'current_era_baseline') the ICERs versus the reference are: "
        f"{shown}."
    )


def _comparison_words(row) -> str:
    """Why a row has no ICER, in words: 'dominated', 'dominant' or 'the same effect'."""
    found = getattr(row, "comparison", "")
    if found in ("dominant", "dominated"):
        return found
    return "the same effect" if found == "same effect" else "no ICER"


def _hypothetical(summary: dict, tables: Tables) -> str:
    table = tables.get("hypothetical")
    if table is None or table.empty:
        return ""
    names = ", ".join(sorted(set(table.label.astype(str))))
    return (
        f"Hypothetical strategies ({html.escape(names)}) rest on assumed effects and prices and "
        "are reported only as what they would be worth, never in the decision."
    )


def _deterministic_vs_probabilistic(summary: dict, tables: Tables) -> str:
    """Strategies whose probabilistic ICER versus the reference (ICER of the PSA means)
    differs from the deterministic one by more than 10%: the model is non-linear in its
    uncertain inputs, and the mean over the PSA is the expected value."""
    base, psa = tables.get("base_case"), tables.get("psa_summary")
    settings = summary.get("settings", {})
    column = f"icer_per_{effect_measure(settings)}_vs_reference"
    if base is None or psa is None or column not in base or "icer_of_means" not in psa:
        return ""
    deterministic = base.set_index("strategy")[column]
    labels, cur = strategy_labels(base), settings.get("currency", "")
    parts = []
    for row in psa.itertuples():
        det = deterministic.get(row.strategy)
        prob = row.icer_of_means
        if det is None or det != det or det <= 0:
            continue
        if prob != prob:  # no trade-off at the means: dominated or dominant there
            why = getattr(row, "comparison_of_means", "")
            if why in ("dominated", "dominant"):
                name = html.escape(labels.get(row.strategy, row.strategy))
                parts.append(f"{name} {cur} {fixed(det, 0)} deterministic, {why} at the PSA means")
            continue
        if abs(prob - det) > 0.1 * det:
            parts.append(
                f"{html.escape(labels.get(row.strategy, row.strategy))} {cur} {fixed(det, 0)} "
                f"deterministic, {cur} {fixed(prob, 0)} probabilistic "
                f"({100 * (prob / det - 1):+.0f}%)"
            )
    if not parts:
        return ""
    return (
        "The ICERs versus the reference differ between the base case and the PSA means: "
        f"{'; '.join(parts)}. The model is non-linear in its uncertain inputs, so the PSA "
        "mean, not the base case at the mean inputs, is the expected value."
    )


def _biomarker_split(summary: dict, tables: Tables) -> str:
    """The biomarker's treat-all arm against the base case (:func:`treat_all_gap`), in one
    sentence pointing to the biomarker section."""
    found = treat_all_gap(summary, tables)
    if found is None:
        return ""
    unit = effect_unit(summary.get("settings", {}))
    return (
        f"The biomarker analysis's treat-all arm ({found.label} for everyone, its effect split "
        f"between biomarker-positive and negative patients) differs from the base case by "
        f"{found.share:.0%} of its {unit} gain: the biomarker's results depend on "
        "that assumed split (see 'Responder biomarker')."
    )


def _frontier_deterministic_vs_probabilistic(summary: dict, tables: Tables) -> str:
    """Strategies whose ICER along the frontier (or whose place on it) differs between the
    base case and the PSA means by more than 10%: the committee reads the frontier ICER."""
    base, psa = tables.get("base_case"), tables.get("psa_summary")
    if base is None or psa is None or "frontier_icer_of_means" not in psa:
        return ""
    labels, cur = strategy_labels(base), summary.get("settings", {}).get("currency", "")
    means = psa.set_index("strategy")
    parts = []
    for row in base.itertuples():
        if row.strategy not in means.index:
            continue
        mean = means.loc[row.strategy]
        det, prob = row.icer, mean.frontier_icer_of_means
        name = html.escape(labels.get(row.strategy, row.strategy))

        def versus(key: object) -> str:
            return html.escape(labels.get(str(key), str(key)))

        if row.status != mean.status_of_means and "nd" in (row.status, mean.status_of_means):
            where = "on" if mean.status_of_means == "nd" else "off"
            parts.append(f"{name} is {where} the frontier of the PSA means, not in the base case")
        elif det == det and prob == prob and abs(prob - det) > 0.1 * det:
            parts.append(
                f"{name} {cur} {fixed(det, 0)} versus {versus(row.comparator)} deterministic, "
                f"{cur} {fixed(prob, 0)} versus {versus(mean.comparator_of_means)} at the PSA "
                f"means ({100 * (prob / det - 1):+.0f}%)"
            )
    if not parts:
        return ""
    return f"Along the frontier: {'; '.join(parts)}."


LIMITATION_CHECKS = (
    _weak_inputs,
    _life_table,
    _synthesis,
    _effect_duration,
    _baseline_era,
    _hypothetical,
    _deterministic_vs_probabilistic,
    _frontier_deterministic_vs_probabilistic,
    _biomarker_split,
)
