"""report.html sections, one builder each, in report order.

Every builder takes the folder, its summary.json and its CSV tables and returns the section as
(anchor, title, body HTML), or ``None`` when the run saved nothing for it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from costmodel import schema_types
from costmodel.inputs import DERIVED_STRATEGY_LABELS
from costmodel.reports.cheers import cheers_checklist
from costmodel.reports.html_elements import _figure, _table, fixed, header_label
from costmodel.results import PROVENANCE_KEYS
from costmodel.schema import plain_value

Section = tuple[str, str, str]  # anchor, title, body HTML
Tables = dict[str, pd.DataFrame]
SectionBuilder = Callable[[Path, dict, Tables], Section | None]


def effect_unit(settings: dict) -> str:
    """'QALY' or 'LY': what the ICERs and WTPs of the run are per (Settings effect_measure)."""
    return schema_types.effect_unit(effect_measure(settings))


def effect_measure(settings: dict) -> str:
    """'qaly' or 'ly': the run's effect measure (Settings effect_measure)."""
    return "ly" if settings.get("effect_measure") == "ly" else "qaly"


def money_prefix(settings: dict) -> str:
    """What goes before an amount: 'GBP ' ('GBP 20,000 per QALY'), or '' without a currency."""
    currency = settings.get("currency", "")
    return f"{currency} " if currency else ""


def bullet_list(items: list[str], empty: str) -> str:
    """Items (HTML already) as a list, or the paragraph ``empty`` when there are none."""
    if not items:
        return f"<p>{empty}</p>"
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def status_in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its 'Status' column's codes (nd, ed, d) in words, if it has one."""
    if "Status" in frame:
        frame["Status"] = _codes_in_words(frame["Status"])
    return frame


def _codes_in_words(codes: pd.Series) -> pd.Series:
    """ICER-table status codes (nd, ed, d) in words; anything else as it is."""
    return codes.map(lambda code: STATUS_WORDS.get(code, code))


_STRATEGY_COLUMNS = (
    "strategy",
    "comparator",
    "comparator_of_means",
    "frontier_comparator",
    "best_strategy",
    "relative_to",
)
_STATUS_COLUMNS = ("status", "status_of_means")  # ICER-table codes, shown in words
# the biomarker analysis's own arm, and test-and-treat where it is outside the decision
# (and so not in base_case.csv)
_DERIVED_LABELS = {"treat_all": "Treat all", **DERIVED_STRATEGY_LABELS}


def _readable(frame: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """``frame`` for display: strategy keys (in strategy, comparator... columns) replaced
    by their labels from the base case, also inside a ``note`` column, and status codes (nd,
    ed, d) by words; the CSVs keep the keys and codes."""
    base = tables.get("base_case")
    labels = {**_DERIVED_LABELS, **(strategy_labels(base) if base is not None else {})}
    shown = frame.copy()
    for column in _STRATEGY_COLUMNS:
        if column in shown and not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(lambda key: labels.get(key, key))
    for column in _STATUS_COLUMNS:
        if column in shown and not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = _codes_in_words(shown[column])
    if "note" in shown and labels and not pd.api.types.is_numeric_dtype(shown["note"]):
        keys = re.compile(r"\b(" + "|".join(map(re.escape, sorted(labels, key=len)[::-1])) + r")\b")
        shown["note"] = shown["note"].map(
            lambda text: (
                keys.sub(lambda m: labels[m.group(1)], text) if isinstance(text, str) else text
            )
        )
    return shown


def strategy_labels(base: pd.DataFrame) -> dict[str, str]:
    """Strategy key → display label, from the base-case table."""
    if "label" not in base:
        return {}
    return dict(zip(base.strategy, base.label, strict=True))


def reference_key(base: pd.DataFrame, settings: dict) -> str:
    """The strategy increments are measured against (Settings reference_strategy or the
    first strategy of the table)."""
    reference = settings.get("reference_strategy") or ""
    return reference if reference in set(base.strategy) else str(base.strategy.iloc[0])


# the ICER table's status codes (cea_icer) in words, where a decision maker reads them
STATUS_WORDS = {"nd": "frontier", "ed": "extendedly dominated", "d": "dominated"}


def parameter_label(tables: Tables, name: str) -> str:
    """A parameter's description from parameters.csv (its name when it has none)."""
    parameters = tables.get("parameters")
    if parameters is not None and "description" in parameters:
        found = parameters.loc[parameters.name == name, "description"]
        if len(found) and isinstance(found.iloc[0], str) and found.iloc[0].strip():
            return found.iloc[0].strip()
    return name


def decision_problem(folder: Path, summary: dict, tables: Tables) -> Section:
    settings = summary.get("settings", {})
    currency = settings.get("currency", "")
    strategies = tables.get("base_case", pd.DataFrame())
    described = ", ".join(
        f"{r.label} ({r.strategy})" for r in strategies.itertuples() if hasattr(r, "label")
    )
    return (
        "problem",
        "Decision problem",
        (
            f"<p>{html.escape(str(settings.get('description', '')))}</p>"
            f"<p><b>Strategies:</b> {html.escape(described)}.<br>"
            f"<b>Perspective:</b> {html.escape(str(settings.get('perspective', '')))}; "
            f"<b>currency:</b> {html.escape(currency)} ({settings.get('price_year', '')} prices); "
            f"<b>cohort:</b> age {settings.get('start_age', '')}, "
            f"{100 * float(settings.get('prop_female', 0)):.0f}% female; "
            f"<b>willingness to pay:</b> {', '.join(fixed(w, 0) for w in settings.get('wtp', []))} "
            f"{html.escape(currency)} per {settings.get('effect_measure', 'qaly').upper()}.</p>"
        ),
    )


def model(folder: Path, summary: dict, tables: Tables) -> Section:
    settings = summary.get("settings", {})
    phases = pd.DataFrame(summary.get("phases", []))
    return (
        "model",
        "Model",
        (
            "<p>Markov cohort state-transition model. Discount rates: costs "
            f"{100 * float(settings.get('discount_rate_costs', 0)):.1f}%, outcomes "
            f"{100 * float(settings.get('discount_rate_outcomes', 0)):.1f}% per year; within-cycle "
            f"correction: {html.escape(str(settings.get('within_cycle_correction', '')))}.</p>"
            + (_table(_labelled(phases, PHASE_COLUMNS)) if len(phases) else "")
            + _figure(folder, "state_diagram")
            + _figure(folder, "trace")
        ),
    )


PHASE_COLUMNS = {
    "key": "Phase",
    "label": "Label",
    "cycle_length": "Cycle length",
    "cycle_unit": "Cycle unit",
    "n_cycles": "Cycles",
}
INPUT_COLUMNS = {
    "name": "Parameter",
    "description": "Description",
    "value": "Base value",
    "distribution": "Distribution",
    "low": "Low",
    "high": "High",
    "unit": "Unit",
    "source": "Source",
    "evidence_flags": "Evidence flags",
    "weak": "Weak evidence",
}
CALIBRATION_COLUMNS = {
    "key": "Target",
    "entry": "Cohort (entry mix)",
    "strategy": "Strategy",
    "relative_to": "Relative to",
    "outcome": "Outcome",
    "day": "Day",
    "target": "Target value",
    "model": "Model value",
    "difference": "Difference",
    "tolerance": "Tolerance",
    "within_tolerance": "Within tolerance",
    "source": "Source",
}


def inputs(folder: Path, summary: dict, tables: Tables) -> Section | None:
    if "parameters" not in tables:
        return None
    params = _labelled(tables["parameters"], INPUT_COLUMNS)
    source = str(summary.get("settings", {}).get("life_table_source") or "").strip()
    mortality = f"<p>Background mortality (LifeTable): {html.escape(source)}.</p>" if source else ""
    return (
        "inputs",
        "Inputs",
        (
            "<p>Rows shaded yellow rest on weak evidence ([R] recalled, [A] assumption, [GAP], "
            "or a source that calls itself weak). Flags: [V] seen in the source, [S] secondary "
            "source, [D] derived.</p>"
            + mortality
            + _table(params, max_rows=500, weak_column="Weak evidence")
        ),
    )


def evidence(folder: Path, summary: dict, tables: Tables) -> Section | None:
    if "evidence" not in tables:
        return None
    body = (
        _figure(folder, "forest")
        + _table(tables["evidence"])
        + _table(tables.get("evidence_studies", pd.DataFrame()))
    )
    if "evidence_sensitivity" in tables:
        body += (
            "<h3>How much the effect leans on each trial</h3><p>The synthesis re-run without "
            "each trial, without high risk-of-bias trials, without back-calculated counts, "
            "and with the largest trial alone; the ICER of the DSA strategy for each.</p>"
            + _table(_readable(tables["evidence_sensitivity"], tables))
        )
    return ("evidence", "Evidence synthesis", body)


def _labelled(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The columns a reader needs, under their display labels (in ``columns`` order)."""
    present = {k: v for k, v in columns.items() if k in frame.columns}
    return frame[list(present)].rename(columns=present)


HYPOTHETICAL_COLUMNS = {
    "label": "Strategy",
    "wtp": "WTP",
    "inc_cost": "Incremental cost",
    "inc_effect": "Incremental QALYs",
    "icer": "ICER vs reference",
    "comparison": "Versus reference",
    "price_base": "Price assumed",
    "threshold_price": "Threshold price",
    "effect_base": "RR assumed",
    "threshold_effect": "Threshold RR",
    "note": "Note",
}


def _subgroup_columns(settings: dict) -> dict[str, str]:
    """Display labels of the subgroups' strategy rows: the run's effect beside its ICERs."""
    effect, unit = effect_measure(settings), effect_unit(settings)
    cur, money = settings.get("currency", ""), money_prefix(settings)
    return {
        "subgroup": "Subgroup",
        "label": "Strategy",
        "cost": f"Cost ({cur})" if cur else "Cost",
        effect: schema_types.effect_unit(effect, plural=True),
        "icer": f"ICER ({money}per {unit})",
        "status": "Status",
    }


def _subgroup_values(table: pd.DataFrame, settings: dict, tables: Tables) -> pd.DataFrame:
    """One row per subgroup: the threshold price of the DSA strategy and the EVPI per
    patient at each WTP (the same on each of its strategy rows in subgroups.csv)."""
    unit, cur, money = effect_unit(settings), settings.get("currency", ""), money_prefix(settings)
    name = settings.get("threshold_parameter") or ""
    price_unit = _parameter_unit(tables, name) or cur
    columns = {"subgroup": "Subgroup"}
    for column in table.columns:
        for prefix, what in (
            ("threshold_price_", f"Threshold price ({price_unit})"),
            ("evpi_per_patient_", f"EVPI per patient ({cur})" if cur else "EVPI per patient"),
        ):
            if column.startswith(prefix):
                wtp = float(column[len(prefix) :])
                columns[column] = f"{what} at {money}{fixed(wtp, 0)} per {unit}"
    rows = table.drop_duplicates("subgroup").copy()
    for column in [c for c in columns if c.startswith("evpi_per_patient_")]:
        rows[column] = rows[column].round(0)  # whole currency units, like the prices
    return _labelled(rows, columns) if len(columns) > 1 else pd.DataFrame()


def _parameter_unit(tables: Tables, name: str) -> str:
    """A parameter's unit from parameters.csv ('' when unknown)."""
    parameters = tables.get("parameters")
    if parameters is None or "unit" not in parameters or not name:
        return ""
    found = parameters.loc[parameters.name == name, "unit"]
    return str(found.iloc[0]) if len(found) and isinstance(found.iloc[0], str) else ""


def hypothetical(folder: Path, summary: dict, tables: Tables) -> Section | None:
    if "hypothetical" not in tables:
        return None
    unit = effect_unit(summary.get("settings", {}))
    columns = {**HYPOTHETICAL_COLUMNS, "inc_effect": f"Incremental {unit}s"}
    return (
        "hypothetical",
        "Hypothetical strategies: what they would be worth",
        "<p>These strategies have no evidence of their own (effect and price are assumptions), "
        "so they are left out of the ICER table, the acceptability curves and the value of "
        "information. Each is compared with the reference alone: its ICER as assumed, the price "
        "at which it would be cost-effective and the risk ratio of death it would need at its "
        "assumed price.</p>" + _table(_labelled(tables["hypothetical"], columns)),
    )


def subgroups(folder: Path, summary: dict, tables: Tables) -> Section | None:
    if "subgroups" not in tables:
        return None
    settings, table = summary.get("settings", {}), tables["subgroups"]
    rows = status_in_words(_labelled(table, _subgroup_columns(settings)))
    values = _subgroup_values(table, settings, tables)
    body = (
        "<p>Each subgroup is the cohort started in one respiratory-support state (or a mix); "
        "the whole cohort is their entry-weighted sum. Fully incremental analysis within each "
        "subgroup (a strategy that is the same as another within a subgroup, as one "
        "treating only other patients is, is listed as dominated).</p>" + _table(rows)
    )
    if len(values):
        body += (
            "<p>Per subgroup: the threshold price of the DSA strategy versus the reference, "
            "and the EVPI per patient, at each WTP.</p>" + _table(values)
        )
    return ("subgroups", "Subgroups", body)


def calibration(folder: Path, summary: dict, tables: Tables) -> Section | None:
    if "calibration" not in tables:
        return None
    body = _figure(folder, "calibration") + _table(
        _labelled(_readable(tables["calibration"], tables), CALIBRATION_COLUMNS)
    )
    return ("calibration", "Calibration", body)


def base_case(folder: Path, summary: dict, tables: Tables) -> Section:
    settings = summary.get("settings", {})
    currency = settings.get("currency", "")
    base_body = ""
    if "base_case" in tables:
        base = tables["base_case"]
        icer_columns = [
            c
            for c in (
                "strategy",
                "cost",
                "qaly",
                "ly",
                "inc_cost",
                f"inc_{effect_measure(settings)}",
                "icer",
                "status",
                "comparator",
            )
            if c in base.columns
        ]
        base_body += (
            f"<p>Per patient, discounted, {html.escape(currency)}. Status: nd on the "
            "frontier, ed extendedly dominated, d dominated.</p>"
            + _table(_readable(base[icer_columns], tables))
        )
    if "outcomes" in tables:
        outcomes = tables["outcomes"]
        by = "label" if "label" in outcomes.columns else "strategy"  # strategy labels as headers
        wide = outcomes.pivot_table(
            index="measure", columns=by, values="per_1000_patients", sort=False
        ).reset_index()
        wide = wide.dropna(how="all", subset=wide.columns[1:])
        wide["measure"] = wide["measure"].map(header_label)  # deaths_day_28 -> Deaths day 28
        numbers = wide.columns[1:]
        wide[numbers] = wide[numbers].round(1)  # one decimal in every strategy's column
        base_body += "<h3>Outcomes per 1,000 patients</h3>" + _table(wide)
    return ("base", "Base case", base_body)


def deterministic_sensitivity(folder: Path, summary: dict, tables: Tables) -> Section | None:
    if not {"dsa_oneway", "scenarios", "threshold", "twoway"} & set(tables):
        return None
    body = _figure(folder, "tornado")
    if "dsa_oneway" in tables:
        oneway = tables["dsa_oneway"].drop(columns=["description"], errors="ignore")
        body += _table(_readable(oneway, tables), max_rows=20)
    body += _figure(folder, "twoway")
    if "threshold" in tables:
        body += "<h3>Threshold analysis</h3>" + _table(_readable(tables["threshold"], tables))
    if "scenarios" in tables:
        body += "<h3>Scenarios</h3>" + _scenarios_caption(tables)
        body += _table(_once_per_scenario(_readable(tables["scenarios"], tables)), max_rows=200)
    return ("dsa", "Deterministic sensitivity", body)


def _once_per_scenario(table: pd.DataFrame) -> pd.DataFrame:
    """The scenarios table for display: each scenario's name and description on its first
    row only (the description, repeated on every strategy's row, made the table pages
    long)."""
    if "scenario" not in table:
        return table
    shown = table.copy()
    repeated = shown.scenario.eq(shown.scenario.shift())
    for column in ("scenario", "description"):
        if column in shown:
            shown[column] = shown[column].astype(object).where(~repeated, "")
    return shown


def _scenarios_caption(tables: Tables) -> str:
    """What the scenarios' columns compare: increments versus the reference at the first
    WTP; status, frontier and the optimal strategy at each WTP among the decision's
    strategies."""
    if "status" not in tables["scenarios"]:
        return ""
    return (
        "<p>Increments, ICER and INMB versus the reference at the first willingness to pay; "
        "the status, frontier ICER and optimal strategy at each willingness to pay among all "
        "the strategies of the decision, as in the ICER table.</p>"
    )


def _percentiles_named(table: pd.DataFrame) -> pd.DataFrame:
    """psa_summary for display: its ``*_low``/``*_high`` columns named as the 2.5th and
    97.5th percentiles over the samples they are ('Cost low' said neither)."""
    names = {}
    for column in table.columns:
        for end, words in (("_low", "2.5th percentile"), ("_high", "97.5th percentile")):
            if column.endswith(end):
                names[column] = f"{header_label(column.removesuffix(end))}, {words}"
    return table.rename(columns=names)


def probabilistic_sensitivity(folder: Path, summary: dict, tables: Tables) -> Section | None:
    if "ceac" not in tables:
        return None
    settings = summary.get("settings", {})
    figures = ("ce_plane", "ceac", "expected_loss", "evpi", "convergence")
    body = "".join(_figure(folder, f) for f in figures)
    body += _table(_percentiles_named(_readable(tables.get("psa_summary", pd.DataFrame()), tables)))
    if "threshold_psa" in tables:
        body += "<h3>Threshold price at the PSA means</h3>" + _table(
            _readable(tables["threshold_psa"], tables)
        )
    evpi = tables.get("evpi")
    if evpi is not None:
        wtps = settings.get("wtp", [])
        body += "<h3>EVPI at the thresholds</h3>" + _table(evpi[evpi.wtp.isin(wtps)])
    return ("psa", f"Probabilistic sensitivity ({summary.get('psa_samples', '')} samples)", body)


def _figure_and_table(
    name: str, title: str, shown: Callable[[pd.DataFrame], pd.DataFrame] | None = None
) -> SectionBuilder:
    """A section of one analysis: its figure (if drawn) and its table (through ``shown``,
    for display), when the table exists."""

    def build(folder: Path, summary: dict, tables: Tables) -> Section | None:
        if name not in tables:
            return None
        table = _readable(tables[name], tables)
        table = shown(table) if shown is not None else table
        return (name, title, _figure(folder, name) + _table(table))

    return build


def _max_test_cost_in_words(table: pd.DataFrame) -> pd.DataFrame:
    """The biomarker table with a negative largest test cost (test-and-treat not optimal
    even with a free test) said in words, not as a negative price, and deaths per 1,000
    patients (one decimal, as in the clinical results)."""
    shown = table.copy()
    for column in [c for c in shown.columns if c.startswith("deaths_day_")]:
        day = column.rsplit("_", 1)[1]
        shown[column] = (shown[column] * 1000).round(1)
        shown = shown.rename(columns={column: f"Deaths by day {day} (per 1,000)"})
    for column in [c for c in shown.columns if c.startswith("max_test_cost_")]:
        shown[column] = (
            shown[column]
            .astype(object)
            .where(~(shown[column] < 0), "none: not optimal even with a free test")
        )
    return shown


NO_TRIAL_COLUMNS = ("evsi_per_patient", "evsi_se", "evsi_population", "enbs")


def _no_trial_in_words(table: pd.DataFrame) -> pd.DataFrame:
    """voi_by_price for display: where no trial is worth its cost the trial size reads
    'none worth running' and its EVSI and ENBS '—' (the CSV keeps 0: no trial, no
    information)."""
    if "optimal_n_per_arm" not in table:
        return table
    shown = table.copy()
    none = shown.optimal_n_per_arm == 0
    shown["optimal_n_per_arm"] = shown.optimal_n_per_arm.astype(object).where(
        ~none, "none worth running"
    )
    for column in [c for c in NO_TRIAL_COLUMNS if c in shown]:
        shown[column] = shown[column].astype(object).where(~none, "—")
    return shown


@dataclass(frozen=True)
class TreatAllGap:
    """The biomarker's treat-all arm (biomarker.csv) and the base case's row of the same
    strategy (base_case.csv) where their effects differ by more than 1% of the strategy's
    effect gain over the reference."""

    arm: pd.Series
    same: pd.Series
    label: str  # the strategy's label, HTML-escaped
    share: float  # |effect gap| / the base case's effect gain over the reference
    measure: str  # 'qaly' or 'ly'


def treat_all_gap(summary: dict, tables: Tables) -> TreatAllGap | None:
    """:class:`TreatAllGap` of a run, None when they agree or a table is missing."""
    biomarker, base = tables.get("biomarker"), tables.get("base_case")
    settings = summary.get("settings", {})
    key = settings.get("biomarker_strategy") or settings.get("dsa_strategy") or ""
    measure = effect_measure(settings)
    if biomarker is None or base is None or measure not in base:
        return None
    arm = biomarker[biomarker.strategy == "treat_all"]
    same = base[base.strategy == key]
    ref = base[base.strategy == reference_key(base, settings)]
    if arm.empty or same.empty or ref.empty or "effect" not in arm:
        return None
    arm, same, ref = arm.iloc[0], same.iloc[0], ref.iloc[0]
    gain = same[measure] - ref[measure]
    gap = arm.effect - same[measure]
    if not gain > 0 or abs(gap) <= 0.01 * gain:
        return None
    label = html.escape(strategy_labels(base).get(key, key))
    return TreatAllGap(arm, same, label, abs(gap) / gain, measure)


def treat_all_vs_base_case(summary: dict, tables: Tables) -> str:
    """Where the biomarker analysis's treat-all arm (runs at RR+ and RR- whose shares average
    the pooled RR) departs from the base case's run of the same strategy at the pooled RR
    (:func:`treat_all_gap`): both, with the deaths by day that show why (HTML; '' else)."""
    found = treat_all_gap(summary, tables)
    if found is None:
        return ""
    arm, same = found.arm, found.same
    settings = summary.get("settings", {})
    unit, money = effect_unit(settings), money_prefix(settings)
    in_decision = "test_and_treat" in set(tables["base_case"].strategy)
    decision = ", test-and-treat's place in the decision included," if in_decision else ""
    days = [c for c in arm.index if c.startswith("deaths_day_") and c in same.index]
    deaths = "; ".join(
        f"deaths by day {c.rsplit('_', 1)[1]}: {1000 * arm[c]:.0f} against "
        f"{1000 * same[c]:.0f} per 1,000"
        for c in days
    )
    return (
        f"The biomarker analysis's treat-all arm gives everyone {found.label}, as the base case "
        "does, but as runs with the effect at RR+ in biomarker-positive and RR- in negative "
        "patients whose shares average the pooled RR. It does not reproduce the base case: "
        f"{arm.effect:.3f} against {same[found.measure]:.3f} {unit}s ({found.share:.0%} of the "
        f"base case's gain over the reference), {money}{fixed(arm.cost, 0)} against "
        f"{money}{fixed(same.cost, 0)}" + (f"; {deaths}" if deaths else "") + ". The model's "
        "outcomes are not linear in the effect (the deaths by day show when the two part), so "
        "splitting the same average effect between two groups changes them. The biomarker's "
        f"results{decision} depend on that split, which is assumed."
    )


def _biomarker(folder: Path, summary: dict, tables: Tables) -> Section | None:
    """The biomarker table (largest test costs in words) after what treat-all is, and where
    it differs from the base case."""
    built = _figure_and_table("biomarker", "Responder biomarker", _max_test_cost_in_words)(
        folder, summary, tables
    )
    if built is None:
        return None
    name, title, body = built
    consistency = treat_all_vs_base_case(summary, tables)
    return (name, title, (f"<p>{consistency}</p>" if consistency else "") + body)


FURTHER_ANALYSES: tuple[SectionBuilder, ...] = (
    _figure_and_table("evppi", "Expected value of partial perfect information"),
    _figure_and_table("evsi", "Expected value of sample information"),
    _figure_and_table("voi_by_price", "Value of research by product price", _no_trial_in_words),
    _biomarker,
    _figure_and_table("budget_impact", "Budget impact"),
)


def run_warnings(folder: Path, summary: dict, tables: Tables) -> Section:
    found = [html.escape(w) for w in summary.get("warnings", [])]
    return ("warnings", "Warnings", bullet_list(found, "None."))


def provenance(folder: Path, summary: dict, tables: Tables) -> Section:
    settings = summary.get("settings", {})
    items = {k: summary.get(k) for k in PROVENANCE_KEYS}
    items.update({f"setting: {k}": v for k, v in settings.items()})
    return (
        "provenance",
        "Provenance",
        _table(
            pd.DataFrame({"item": list(items), "value": [plain_value(v) for v in items.values()]})
        ),
    )


def cheers_section(folder: Path, summary: dict, tables: Tables) -> Section:
    return (
        "cheers",
        "CHEERS 2022 checklist",
        (
            "<p>Husereau et al. CHEERS 2022, BMJ 2022;376:e067975. Where this report addresses "
            "each item, or why it cannot.</p>" + _table(cheers_checklist(summary, tables))
        ),
    )
