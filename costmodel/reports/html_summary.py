"""report.html's summary for decision makers: the decision in one paragraph, the key results
per strategy (deterministic and at the PSA means), clinical results, threshold price, EVPI
and the biggest one-way drivers."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from costmodel import schema_types
from costmodel.reports.html_elements import _table, fixed
from costmodel.reports.html_sections import (
    Section,
    Tables,
    effect_measure,
    effect_unit,
    money_prefix,
    parameter_label,
    reference_key,
    status_in_words,
    strategy_labels,
)


def decision_summary(folder: Path, summary: dict, tables: Tables) -> Section | None:
    """The decision first: one paragraph, the key results, threshold price, EVPI, drivers."""
    base = tables.get("base_case")
    if base is None or base.empty:
        return None
    settings = summary.get("settings", {})
    currency = settings.get("currency", "")
    wtps = [float(w) for w in settings.get("wtp", [])]
    unit = effect_unit(settings)
    body = f"<p>{html.escape(_decision_sentence(base, tables, wtps, currency, unit))}</p>"
    body += _table(
        _key_results(base, tables.get("ceac"), wtps, settings, tables.get("psa_summary"))
    )
    clinical = _clinical_results(base, settings)
    if clinical is not None:
        reference = base.loc[base.strategy == reference_key(base, settings), "label"]
        name = reference.iloc[0] if len(reference) else "the reference"
        body += f"<p><b>Clinical results versus {html.escape(str(name))}</b> (per 1,000 patients; "
        body += (
            "NNT: patients managed with the strategy per death averted, counting those it "
            "leaves untreated, as a strategy is adopted for all eligible patients).</p>"
            + _table(clinical)
        )
    threshold = tables.get("threshold")
    name = settings.get("threshold_parameter")
    if threshold is not None and name:
        rows = threshold[threshold.parameter == name]
        parts = [
            f"{currency} {fixed(r.threshold_value, 0)} at {currency} {fixed(r.wtp, 0)} per {unit}"
            if r.threshold_value == r.threshold_value
            else f"none in the search range at {currency} {fixed(r.wtp, 0)}"
            for r in rows.itertuples()
        ]
        if parts:
            labels = strategy_labels(base)
            strategy, comparator = rows.strategy.iloc[0], rows.comparator.iloc[0]
            body += (
                f"<p><b>Threshold price</b> ({html.escape(parameter_label(tables, name))}, base "
                f"{currency} {fixed(rows.base_value.iloc[0], 0)}): {'; '.join(parts)}. "
                "At that price, "
                f"{html.escape(labels.get(strategy, strategy))}'s ICER versus "
                f"{html.escape(labels.get(comparator, comparator))} equals the willingness to "
                "pay; to be the most cost-effective strategy it must also beat the others."
                f"{_threshold_at_means(tables, labels, currency, unit)}</p>"
            )
    evpi = tables.get("evpi")
    if evpi is not None:
        at = evpi[evpi.wtp.isin(wtps)]
        with_population = bool((evpi.evpi_population > 0).any())  # else no population set
        parts = [
            f"{currency} {fixed(r.evpi_per_patient, 0)} per patient"
            + (f" ({currency} {fixed(r.evpi_population, 0)} population)" if with_population else "")
            + f" at {currency} {fixed(r.wtp, 0)}"
            for r in at.itertuples()
        ]
        if parts:
            body += (
                f"<p><b>Expected value of perfect information:</b> {'; '.join(parts)}"
                f"{_population_words(evpi, settings)}.</p>"
            )
    drivers = _drivers(tables, settings.get("dsa_strategy") or "")
    if drivers:
        body += f"<p><b>Biggest drivers</b> (one-way, INMB range): {html.escape(drivers)}.</p>"
    return ("summary", "Summary for decision makers", body)


def _decision_sentence(
    base: pd.DataFrame, tables: Tables, wtps: list[float], cur: str, unit: str = "QALY"
) -> str:
    """The decision in one paragraph: the strategy with the highest net benefit at the first
    WTP and its probability of being cost-effective, the frontier ICERs deterministic and at
    the PSA means, and what stands outside the decision or rests on assumptions."""
    if not wtps or "label" not in base:
        return ""
    column = f"nmb_{wtps[0]:g}"
    if column not in base:
        return ""
    best = base.loc[base[column].idxmax()]
    text = (
        f"At {cur} {fixed(wtps[0], 0)} per {unit}, {best.label} has the highest expected net "
        "benefit in the base case"
    )
    ceac = tables.get("ceac")
    if ceac is not None:
        rows = ceac[(ceac.wtp == wtps[0]) & (ceac.strategy == best.strategy)]
        if len(rows):
            probability = rows.prob_ce.iloc[0]
            text += f"; the probability that it is the most cost-effective is {probability:.2f}"
    frontier = base[(base.status == "nd") & base.icer.notna()]
    if len(frontier):
        steps = ", ".join(
            f"{r.label} {cur} {fixed(r.icer, 0)} per {unit}" for r in frontier.itertuples()
        )
        text += f". Incremental cost-effectiveness ratios along the frontier: {steps}"
    means = _frontier_of_means(base, tables)
    if means:
        text += (
            "; at the means of the PSA (the expected values; they differ because the model is "
            "not linear in its uncertain inputs): "
            + ", ".join(f"{label} {cur} {fixed(icer, 0)} per {unit}" for label, icer in means)
        )
    if "hypothetical" in tables:
        text += ". Hypothetical strategies are reported separately, never in this decision"
    if "biomarker" in tables and "test_and_treat" in set(base.strategy):
        assumed = _assumed(tables, BIOMARKER_INPUTS)
        if assumed:
            label = strategy_labels(base).get("test_and_treat", "test_and_treat")
            text += (
                f". {label} rests on assumed inputs ({', '.join(assumed)} are [A]): its gain "
                "and the certainty of it come from these assumptions, as no validated responder "
                "biomarker exists"
            )
    elif "biomarker" in tables:
        text += (
            ". Test-and-treat with a responder biomarker is reported separately, outside this "
            "decision (Settings biomarker_in_decision is no)"
        )
    return text + "."


def _threshold_at_means(tables: Tables, labels: dict[str, str], cur: str, unit: str) -> str:
    """threshold_psa.csv in words: the threshold price at the PSA means and the prices at
    which the strategy has the highest expected net benefit of all ('' without it)."""
    table = tables.get("threshold_psa")
    if table is None or table.empty or table.threshold_value.isna().all():
        return ""
    strategy = table.strategy.iloc[0]
    name = html.escape(labels.get(strategy, strategy))

    def prices(row) -> str:
        low, high = row.optimal_from, row.optimal_up_to
        if low != low:
            return "at no price"
        if high != high:  # no upper limit
            return f"from {cur} {fixed(low, 0)}"
        if low == 0:
            return f"up to {cur} {fixed(high, 0)}"
        return f"from {cur} {fixed(low, 0)} to {cur} {fixed(high, 0)}"

    rows = list(table.itertuples())
    at = "; ".join(
        f"{cur} {fixed(r.threshold_value, 0)} at {cur} {fixed(r.wtp, 0)} per {unit}" for r in rows
    )
    best = "; ".join(f"{prices(r)} at {cur} {fixed(r.wtp, 0)} per {unit}" for r in rows)
    return (
        f" At the means of the PSA (the expected values) the threshold price is {at}, and "
        f"{name} has the highest expected net benefit of all strategies {best}."
    )


def _population_words(evpi: pd.DataFrame, settings: dict) -> str:
    """How the population values were scaled, in words: '. Population: 93,462 patients
    (20,000 a year for 5 years, each year discounted at 3.5% to its start)'; '' when the
    EVPI is zero everywhere."""
    positive = evpi[(evpi.evpi_per_patient > 0) & (evpi.evpi_population > 0)]
    if positive.empty:  # no EVPI, or no population (Settings population_size blank or 0)
        return ""
    row = positive.iloc[0]
    patients = row.evpi_population / row.evpi_per_patient
    per_year, years = settings.get("population_size"), settings.get("decision_horizon_years")
    rate = settings.get("discount_rate_costs")
    how = ""
    if per_year and years:
        plural = "s" if years != 1 else ""
        how = f" ({fixed(float(per_year), 0)} a year for {int(years)} year{plural}"
        how += f", each year discounted at {100 * float(rate):g}% to its start)" if rate else ")"
    return f". Population: {fixed(patients, 0)} patients{how}"


BIOMARKER_INPUTS = (
    "rr_death_biomarker_pos",
    "biomarker_prevalence",
    "test_sensitivity",
    "test_specificity",
    "c_test",
)


def _frontier_of_means(base: pd.DataFrame, tables: Tables) -> list[tuple[str, float]]:
    """(label, ICER) of each strategy with an ICER on the frontier of the PSA means
    (psa_summary.csv's fully incremental analysis), cheapest first; [] without a PSA."""
    psa = tables.get("psa_summary")
    if psa is None or "frontier_icer_of_means" not in psa:
        return []
    labels = strategy_labels(base)
    on = psa[(psa.status_of_means == "nd") & psa.frontier_icer_of_means.notna()]
    on = on.sort_values("cost_mean")
    return [(labels.get(r.strategy, r.strategy), r.frontier_icer_of_means) for r in on.itertuples()]


def _assumed(tables: Tables, names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` whose evidence flags in parameters.csv include [A], by their
    descriptions."""
    parameters = tables.get("parameters")
    if parameters is None or "evidence_flags" not in parameters:
        return []
    flags = parameters.set_index("name").evidence_flags.astype("string").fillna("")
    return [
        _in_sentence(parameter_label(tables, n))
        for n in names
        if n in flags.index and "[A]" in str(flags[n])
    ]


def _in_sentence(text: str) -> str:
    """``text`` inside a sentence: its first letter in lower case unless it starts an
    acronym ('Risk ratio of death with MSC' -> 'risk ratio of death with MSC'; 'ICU day
    cost' stays)."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def _clinical_results(base: pd.DataFrame, settings: dict) -> pd.DataFrame | None:
    """Deaths, deaths averted, NNT and cost per death averted at each reported day, and the
    ICER per life-year, for each strategy versus the reference (None without day measures)."""
    days = [int(c.rsplit("_", 1)[1]) for c in base.columns if c.startswith("deaths_day_")]
    if not days or "label" not in base:
        return None
    others = base[base.strategy != reference_key(base, settings)]
    table = pd.DataFrame({"Strategy": others.label.to_numpy()})
    for d in days:  # one decimal for counts per 1,000 and NNTs, whole currency units
        table[f"Deaths by day {d}"] = (others[f"deaths_day_{d}"] * 1000).round(1).to_numpy()
        averted = others[f"deaths_averted_day_{d}"] * 1000
        table[f"Deaths averted by day {d}"] = averted.round(1).to_numpy()
        table[f"NNT (day {d})"] = others[f"nnt_day_{d}"].round(1).to_numpy()
        table[f"Cost per death averted (day {d})"] = (
            others[f"cost_per_death_averted_day_{d}"].round(0).to_numpy()
        )
    if "icer_per_ly_vs_reference" in others:
        table["ICER per LY vs reference"] = others.icer_per_ly_vs_reference.round(0).to_numpy()
    return table


def _key_results(
    base: pd.DataFrame,
    ceac: pd.DataFrame | None,
    wtps: list[float],
    settings: dict,
    psa: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The key results per strategy for the summary: costs [currency], effects, ICERs versus
    the reference and along the frontier (deterministic and, with ``psa`` = psa_summary, at
    the PSA means) [currency per unit effect], status in words, and per WTP the NMB
    [currency], NHB [effect units] and probability cost-effective (from ``ceac``)."""
    effect, unit = effect_measure(settings), effect_unit(settings)
    cur, money = settings.get("currency", ""), money_prefix(settings)
    columns = {
        "label": "Strategy",
        "cost": f"Cost ({cur})" if cur else "Cost",
        "qaly": schema_types.effect_unit("qaly", plural=True),
        "ly": schema_types.effect_unit("ly", plural=True),
        # per the run's effect, as the frontier's ICERs (an LY model's were per QALY here)
        f"icer_per_{effect}_vs_reference": f"ICER vs reference ({money}per {unit})",
        "icer": f"ICER along the frontier ({money}per {unit})",
        "status": "Status",
    }
    table = status_in_words(base[[c for c in columns if c in base]].rename(columns=columns))
    if psa is not None and "frontier_icer_of_means" in psa:
        icers = psa.set_index("strategy").frontier_icer_of_means
        at = table.columns.get_loc("Status") if "Status" in table else len(table.columns)
        table.insert(
            at,
            f"ICER along the frontier, PSA means ({money}per {unit})",
            base.strategy.map(icers).to_numpy(),
        )
    for w in wtps:
        at = f"at {money}{fixed(w, 0)} per {unit}"
        if f"nmb_{w:g}" in base:
            table[f"NMB ({cur}) {at}" if cur else f"NMB {at}"] = base[f"nmb_{w:g}"].to_numpy()
        if w > 0 and {effect, "cost"} <= set(base.columns):
            table[f"NHB ({unit}s) {at}"] = (base[effect] - base.cost / w).to_numpy()
        if ceac is not None:
            p = ceac[ceac.wtp == w].set_index("strategy").prob_ce
            table[f"P(cost-effective) {at}"] = base.strategy.map(p).to_numpy()
    return table


def _drivers(tables: Tables, strategy: str) -> str:
    """The three inputs whose range moves the DSA strategy's INMB most, by their labels."""
    oneway = tables.get("dsa_oneway")
    if oneway is None or oneway.empty or "inmb_range" not in oneway:
        return ""
    strategy = strategy if strategy in set(oneway.strategy) else oneway.strategy.iloc[0]
    top = oneway[oneway.strategy == strategy].nlargest(3, "inmb_range")

    def number(v: float) -> str:
        return f"{fixed(v, 0)}" if abs(v) >= 100 else f"{v:.3g}"

    return "; ".join(
        f"{parameter_label(tables, r.parameter)} ({number(r.low_value)} to "
        f"{number(r.high_value)}: INMB {fixed(r.inmb_low, 0)} to {fixed(r.inmb_high, 0)})"
        for r in top.itertuples()
    )
