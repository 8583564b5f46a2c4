"""report.html and the CHEERS 2022 checklist, built only from a run's saved output folder.

The report is one self-contained file: figures are embedded as base64 SVG images with alt
text, styles are inline, and nothing is fetched from the network. It can be rebuilt at any
time from the folder (`costmodel report OUTDIR`).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel.files import atomic_write, atomic_write_text, write_csv
from costmodel.results import PROVENANCE_KEYS

CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:62rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.7rem}h2{border-bottom:2px solid #ccd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.82rem;font-family:Arial,sans-serif}
th,td{border:1px solid #bbb;padding:.2rem .45rem;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}th{background:#eef1f6}
td{max-width:22rem;overflow-wrap:anywhere}
tr.weak td{background:#fff4d6}.note{color:#555;font-size:.9rem}
figure{margin:1rem 0;page-break-inside:avoid}figure img{max-width:100%}
figcaption{font-size:.85rem;color:#444}
nav ol{columns:2;font-size:.9rem}
@media print{nav{display:none}h2{page-break-before:auto}table{page-break-inside:auto}
tr{page-break-inside:avoid}body{max-width:none;margin:0}}
"""

FIGURE_TEXT = {
    "state_diagram": "State diagram: the model's health states by phase with the possible "
    "transitions between them.",
    "forest": "Forest plot of the risk ratio of death in each trial with the pooled "
    "random-effects estimate, its prediction interval and the Mantel-Haenszel estimate.",
    "tornado": "Tornado diagram: incremental net monetary benefit when each parameter is set "
    "to its low and high value, largest effects at the top.",
    "twoway": "Two-way sensitivity analysis: incremental net monetary benefit over a grid of "
    "two parameters, with the line where it is zero.",
    "ce_plane": "Cost-effectiveness plane: incremental costs and effects of each strategy "
    "versus the reference in every PSA sample, with willingness-to-pay lines.",
    "ceac": "Cost-effectiveness acceptability curves of each strategy and the acceptability "
    "frontier over willingness to pay.",
    "evpi": "Expected value of perfect information over willingness to pay.",
    "convergence": "Running mean of incremental net monetary benefit over PSA samples with "
    "its 95% Monte Carlo band.",
    "evppi": "Expected value of partial perfect information of parameter groups.",
    "evsi": "Expected value of sample information and expected net benefit of sampling over "
    "the size of a future trial.",
    "budget_impact": "Budget impact per year with and without MSC.",
}

# CHEERS 2022 (Husereau et al., BMJ 2022;376:e067975): item, section, topic.
CHEERS_ITEMS = [
    (1, "Title", "Title"),
    (2, "Abstract", "Abstract"),
    (3, "Introduction", "Background and objectives"),
    (4, "Methods", "Health economic analysis plan"),
    (5, "Methods", "Study population"),
    (6, "Methods", "Setting and location"),
    (7, "Methods", "Comparators"),
    (8, "Methods", "Perspective"),
    (9, "Methods", "Time horizon"),
    (10, "Methods", "Discount rate"),
    (11, "Methods", "Selection of outcomes"),
    (12, "Methods", "Measurement of outcomes"),
    (13, "Methods", "Valuation of outcomes"),
    (14, "Methods", "Measurement and valuation of resources and costs"),
    (15, "Methods", "Currency, price date, and conversion"),
    (16, "Methods", "Rationale and description of model"),
    (17, "Methods", "Analytics and assumptions"),
    (18, "Methods", "Characterizing heterogeneity"),
    (19, "Methods", "Characterizing distributional effects"),
    (20, "Methods", "Characterizing uncertainty"),
    (21, "Methods", "Approach to engagement with patients and others affected by the study"),
    (22, "Results", "Study parameters"),
    (23, "Results", "Summary of main results"),
    (24, "Results", "Effect of uncertainty"),
    (25, "Results", "Effect of engagement with patients and others affected by the study"),
    (26, "Discussion", "Study findings, limitations, generalizability, and current knowledge"),
    (27, "Other relevant information", "Source of funding"),
    (28, "Other relevant information", "Conflicts of interest"),
]


def _read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))}


def cheers_checklist(summary: dict, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """cheers.csv: item, section, topic, status (addressed / partly / user to complete /
    not applicable) and where the report addresses it or why not."""
    has = set(tables)
    psa = "ceac" in has
    dsa = "dsa_oneway" in has
    where: dict[int, tuple[str, str]] = {
        1: (
            "user to complete",
            "The report is titled with the model name; a publication title "
            "must identify the study as an economic evaluation and name the interventions.",
        ),
        2: (
            "user to complete",
            "No structured abstract is generated: the Base case and "
            "Uncertainty sections hold its numbers.",
        ),
        3: (
            "partly",
            "Section 'Decision problem' (Settings description); the context and the "
            "policy question are for the author to add.",
        ),
        4: (
            "user to complete",
            "Whether a health economic analysis plan was written, and "
            "where, is not known to the software.",
        ),
        5: (
            "addressed",
            "Sections 'Decision problem' (cohort age, sex mix, entry mix) and 'Model'.",
        ),
        6: (
            "partly",
            "Perspective and currency in 'Decision problem'; the setting's "
            "description is in the workbook description.",
        ),
        7: ("addressed", "Section 'Decision problem': strategies compared."),
        8: ("addressed", "Section 'Decision problem': perspective."),
        9: ("addressed", "Section 'Model': phases, cycle lengths and horizon."),
        10: ("addressed", "Section 'Model': discount rates for costs and outcomes."),
        11: ("addressed", "Section 'Base case': QALYs, life-years, costs and clinical outcomes."),
        12: ("addressed", "Section 'Inputs': parameter table with sources."),
        13: ("addressed", "Section 'Inputs': utility parameters and their sources."),
        14: (
            "addressed",
            "Section 'Inputs': cost parameters and sources; costs by category in 'Base case'.",
        ),
        15: (
            "partly",
            "Currency and price year in 'Decision problem'; conversions are in the "
            "parameter table where used.",
        ),
        16: ("addressed", "Section 'Model' with the state diagram."),
        17: (
            "addressed",
            "Sections 'Model' (within-cycle correction, phases) and 'Inputs' "
            "(every value with its source and evidence flag).",
        ),
        18: (
            "partly" if "scenarios" in has else "user to complete",
            "Subgroups as entry strata and scenarios in 'Deterministic sensitivity'"
            if "scenarios" in has
            else "No subgroup analysis was run.",
        ),
        19: ("not applicable", "No distributional cost-effectiveness analysis was performed."),
        20: (
            "addressed" if (psa or dsa) else "user to complete",
            "Sections 'Deterministic sensitivity' and 'Probabilistic sensitivity'."
            if (psa or dsa)
            else "No sensitivity analysis was run.",
        ),
        21: ("user to complete", "Engagement with patients and others is outside the model."),
        22: ("addressed", "Section 'Inputs': values, ranges, distributions and sources."),
        23: ("addressed", "Section 'Base case': ICER table and clinical outcomes."),
        24: (
            "addressed" if (psa or dsa) else "user to complete",
            "Sections 'Deterministic sensitivity' and 'Probabilistic sensitivity' (CE plane, "
            "CEAC, EVPI)."
            if (psa or dsa)
            else "No uncertainty results.",
        ),
        25: ("user to complete", "Engagement with patients and others is outside the model."),
        26: (
            "user to complete",
            "Findings, limitations and generalizability are for the "
            "authors; weak inputs are flagged in 'Inputs' and warnings are listed.",
        ),
        27: ("user to complete", "Funding is not known to the software."),
        28: ("user to complete", "Conflicts of interest are not known to the software."),
    }
    rows = [
        {
            "item": n,
            "section": section,
            "topic": topic,
            "status": where[n][0],
            "where_or_why": where[n][1],
        }
        for n, section, topic in CHEERS_ITEMS
    ]
    return pd.DataFrame(rows)


def _table(frame: pd.DataFrame, *, max_rows: int = 60, weak_column: str | None = None) -> str:
    shown = frame.head(max_rows)
    header = "".join(f"<th scope='col'>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for _, row in shown.iterrows():
        weak = weak_column is not None and bool(row.get(weak_column))
        cells = "".join(
            f"<td class='num'>{html.escape(_format(v))}</td>"
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            else f"<td>{html.escape(_format(v))}</td>"
            for v in row.to_numpy()
        )
        body.append(f"<tr class='weak'>{cells}</tr>" if weak else f"<tr>{cells}</tr>")
    note = (
        f"<p class='note'>First {max_rows} of {len(frame)} rows; all rows are in the CSV.</p>"
        if len(frame) > max_rows
        else ""
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def _format(value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        magnitude = abs(float(value))
        if float(value).is_integer() and magnitude < 1e15:
            return f"{value:,.0f}"
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 1 or magnitude == 0:
            return f"{value:.3f}".rstrip("0").rstrip(".") if magnitude < 100 else f"{value:.1f}"
        return f"{value:.4g}"
    return str(value)


RASTER_FIGURES = ("ce_plane", "convergence")  # thousands of points: PNG keeps the file small


def _figure(folder: Path, name: str) -> str:
    kind = "png" if name in RASTER_FIGURES else "svg"
    path = folder / "figures" / f"{name}.{kind}"
    if not path.exists():
        return ""
    mime = "image/png" if kind == "png" else "image/svg+xml"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = FIGURE_TEXT.get(name, name.replace("_", " "))
    return (
        f"<figure><img src='data:{mime};base64,{data}' alt='{html.escape(alt)}'>"
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


def build_report(folder: Path) -> str:
    """The report's HTML text from the folder's summary.json, CSV tables and SVG figures."""
    summary = json.loads((folder / "summary.json").read_text())
    tables = _read_tables(folder)
    settings = summary.get("settings", {})
    currency = settings.get("currency", "")
    parts: list[str] = []
    sections: list[tuple[str, str]] = []

    def section(anchor: str, title: str, body: str) -> None:
        sections.append((anchor, title))
        parts.append(f"<section id='{anchor}'><h2>{html.escape(title)}</h2>{body}</section>")

    strategies = tables.get("base_case", pd.DataFrame())
    described = ", ".join(
        f"{r.label} ({r.strategy})" for r in strategies.itertuples() if hasattr(r, "label")
    )
    section(
        "problem",
        "Decision problem",
        (
            f"<p>{html.escape(str(settings.get('description', '')))}</p>"
            f"<p><b>Strategies:</b> {html.escape(described)}.<br>"
            f"<b>Perspective:</b> {html.escape(str(settings.get('perspective', '')))}; "
            f"<b>currency:</b> {html.escape(currency)} ({settings.get('price_year', '')} prices); "
            f"<b>cohort:</b> age {settings.get('start_age', '')}, "
            f"{100 * float(settings.get('prop_female', 0)):.0f}% female; "
            f"<b>willingness to pay:</b> {', '.join(f'{w:,.0f}' for w in settings.get('wtp', []))} "
            f"{html.escape(currency)} per {settings.get('effect_measure', 'qaly').upper()}.</p>"
        ),
    )
    phases = pd.DataFrame(summary.get("phases", []))
    section(
        "model",
        "Model",
        (
            "<p>Markov cohort state-transition model. Discount rates: costs "
            f"{100 * float(settings.get('discount_rate_costs', 0)):.1f}%, outcomes "
            f"{100 * float(settings.get('discount_rate_outcomes', 0)):.1f}% per year; within-cycle "
            f"correction: {html.escape(str(settings.get('within_cycle_correction', '')))}.</p>"
            + (_table(phases) if len(phases) else "")
            + _figure(folder, "state_diagram")
        ),
    )
    if "parameters" in tables:
        params = tables["parameters"]
        columns = [
            c
            for c in (
                "name",
                "value",
                "distribution",
                "low",
                "high",
                "unit",
                "source",
                "evidence_flags",
                "weak",
            )
            if c in params.columns
        ]
        section(
            "inputs",
            "Inputs",
            (
                "<p>Rows shaded yellow rest on weak evidence ([R] recalled, [A] assumption or "
                "[GAP]). Flags: [V] seen in the source, [S] secondary source, [D] derived.</p>"
                + _table(params[columns], max_rows=500, weak_column="weak")
            ),
        )
    if "evidence" in tables:
        section(
            "evidence",
            "Evidence synthesis",
            _figure(folder, "forest")
            + _table(tables["evidence"])
            + _table(tables.get("evidence_studies", pd.DataFrame())),
        )
    if "calibration" in tables:
        section("calibration", "Calibration", _table(tables["calibration"]))
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
                "inc_qaly",
                "icer",
                "status",
                "comparator",
            )
            if c in base.columns
        ]
        base_body += (
            f"<p>Per patient, discounted, {html.escape(currency)}. Status: nd on the "
            "frontier, ed extendedly dominated, d dominated.</p>" + _table(base[icer_columns])
        )
    if "outcomes" in tables:
        outcomes = tables["outcomes"]
        wide = outcomes.pivot_table(
            index="measure", columns="strategy", values="per_1000_patients", sort=False
        ).reset_index()
        base_body += "<h3>Outcomes per 1,000 patients</h3>" + _table(
            wide.dropna(how="all", subset=wide.columns[1:])
        )
    section("base", "Base case", base_body)
    if {"dsa_oneway", "scenarios", "threshold", "twoway"} & set(tables):
        body = _figure(folder, "tornado")
        if "dsa_oneway" in tables:
            body += _table(
                tables["dsa_oneway"].drop(columns=["description"], errors="ignore"), max_rows=20
            )
        body += _figure(folder, "twoway")
        if "threshold" in tables:
            body += "<h3>Threshold analysis</h3>" + _table(tables["threshold"])
        if "scenarios" in tables:
            body += "<h3>Scenarios</h3>" + _table(tables["scenarios"])
        section("dsa", "Deterministic sensitivity", body)
    if "ceac" in tables:
        body = "".join(_figure(folder, f) for f in ("ce_plane", "ceac", "evpi", "convergence"))
        body += _table(tables.get("psa_summary", pd.DataFrame()))
        evpi = tables.get("evpi")
        if evpi is not None:
            wtps = settings.get("wtp", [])
            body += "<h3>EVPI at the thresholds</h3>" + _table(evpi[evpi.wtp.isin(wtps)])
        section(
            "psa", f"Probabilistic sensitivity ({summary.get('psa_samples', '')} samples)", body
        )
    for name, title in (
        ("evppi", "Expected value of partial perfect information"),
        ("evsi", "Expected value of sample information"),
        ("biomarker", "Responder biomarker"),
        ("budget_impact", "Budget impact"),
    ):
        if name in tables:
            section(name, title, _figure(folder, name) + _table(tables[name]))
    warnings = summary.get("warnings", [])
    section(
        "warnings",
        "Warnings",
        "<ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul>"
        if warnings
        else "<p>None.</p>",
    )
    provenance = {k: summary.get(k) for k in PROVENANCE_KEYS}
    provenance.update({f"setting: {k}": v for k, v in settings.items()})
    section(
        "provenance",
        "Provenance",
        _table(
            pd.DataFrame({"item": list(provenance), "value": [str(v) for v in provenance.values()]})
        ),
    )
    section(
        "cheers",
        "CHEERS 2022 checklist",
        (
            "<p>Husereau et al. CHEERS 2022, BMJ 2022;376:e067975. Where this report addresses "
            "each item, or why it cannot.</p>" + _table(cheers_checklist(summary, tables))
        ),
    )
    nav = (
        "<nav><ol>"
        + "".join(f"<li><a href='#{a}'>{html.escape(t)}</a></li>" for a, t in sections)
        + "</ol></nav>"
    )
    title = html.escape(str(summary.get("model", "Cost-effectiveness results")))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        f"<h1>{title}</h1><p class='note'>costmodel {summary.get('costmodel_version', '')}, "
        f"{summary.get('created_utc', '')}; input {html.escape(str(summary.get('input_file')))}"
        f" (SHA-256 {summary.get('input_sha256', '')}).</p>{nav}{''.join(parts)}</body></html>"
    )


def write_report(folder: Path) -> Path:
    """Write report.html and cheers.csv into ``folder`` (each atomically)."""

    summary = json.loads((folder / "summary.json").read_text())
    tables = _read_tables(folder)
    tables.pop("cheers", None)
    checklist = cheers_checklist(summary, tables)
    atomic_write(folder / "cheers.csv", lambda tmp: write_csv(tmp, checklist))
    atomic_write_text(folder / "report.html", build_report(folder))
    return folder / "report.html"
