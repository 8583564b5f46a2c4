"""The CHEERS 2022 reporting checklist (cheers.csv and the report's last section): for each item,
whether and where report.html addresses it, given which analyses the run saved."""

from __future__ import annotations

import pandas as pd

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

# Items whose status does not depend on the run: (status, where the report addresses it or why not).
_FIXED_WHERE: dict[int, tuple[str, str]] = {
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
    19: ("not applicable", "No distributional cost-effectiveness analysis was performed."),
    21: ("user to complete", "Engagement with patients and others is outside the model."),
    22: ("addressed", "Section 'Inputs': values, ranges, distributions and sources."),
    23: ("addressed", "Section 'Base case': ICER table and clinical outcomes."),
    25: ("user to complete", "Engagement with patients and others is outside the model."),
    26: (
        "partly",
        "Section 'Limitations' lists, from this run, the weak inputs (evidence flags), the "
        "evidence synthesis, the effect duration, the baseline era and the hypothetical "
        "strategies; findings and generalizability remain for the authors.",
    ),
    27: ("user to complete", "Funding is not known to the software."),
    28: ("user to complete", "Conflicts of interest are not known to the software."),
}


def _run_dependent_where(has: set[str]) -> dict[int, tuple[str, str]]:
    """Items 18, 20 and 24, whose status depends on which analyses were run."""
    psa = "ceac" in has
    dsa = "dsa_oneway" in has
    return {
        18: (
            "partly" if "scenarios" in has else "user to complete",
            "Subgroups as entry strata and scenarios in 'Deterministic sensitivity'"
            if "scenarios" in has
            else "No subgroup analysis was run.",
        ),
        20: (
            "addressed" if (psa or dsa) else "user to complete",
            "Sections 'Deterministic sensitivity' and 'Probabilistic sensitivity'."
            if (psa or dsa)
            else "No sensitivity analysis was run.",
        ),
        24: (
            "addressed" if (psa or dsa) else "user to complete",
            "Sections 'Deterministic sensitivity' and 'Probabilistic sensitivity' (CE plane, "
            "CEAC, EVPI)."
            if (psa or dsa)
            else "No uncertainty results.",
        ),
    }


def cheers_checklist(summary: dict, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """cheers.csv: item, section, topic, status (addressed / partly / user to complete /
    not applicable) and where the report addresses it or why not."""
    where = {**_FIXED_WHERE, **_run_dependent_where(set(tables))}
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
