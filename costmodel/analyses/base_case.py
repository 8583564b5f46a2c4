"""Base-case tables: the ICER table with clinical measures, clinical outcomes, the cohort
trace, time in states, the parameter table and the evidence synthesis."""

from __future__ import annotations

import pandas as pd

from costmodel.analyses.base import AnalysisContext
from costmodel.clinical import clinical_measures, outcomes_table
from costmodel.results import (
    base_case_table,
    evidence_tables,
    parameters_table,
    state_time_table,
    trace_table,
)


def run(ctx: AnalysisContext) -> dict[str, pd.DataFrame]:
    """base_case, outcomes, trace, state_time, parameters (+ evidence, evidence_studies)."""
    inputs, outcomes = ctx.inputs, ctx.base
    clinical = clinical_measures(inputs, outcomes)
    base = base_case_table(inputs, outcomes).merge(clinical, on="strategy", how="left")
    tables = {
        "base_case": base,
        "outcomes": outcomes_table(inputs, outcomes, base),
        "trace": trace_table(inputs, outcomes),
        "state_time": state_time_table(outcomes),
        "parameters": parameters_table(inputs),
    }
    evidence, studies = evidence_tables(inputs)
    if evidence is not None:
        tables["evidence"], tables["evidence_studies"] = evidence, studies
    return tables
