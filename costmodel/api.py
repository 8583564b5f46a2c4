"""Python API: load a workbook, run it, get pandas DataFrames.

>>> from costmodel.api import run_workbook                       # doctest: +SKIP
>>> result = run_workbook("inputs/examples/chancellor_hiv.xlsx")  # doctest: +SKIP
>>> result.base_case[["strategy", "cost", "ly", "icer", "status"]]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from costmodel.calibration import compute_calibration
from costmodel.inputs import ModelInputs
from costmodel.model import ModelOutcomes, run_model
from costmodel.outcomes import clinical_measures, outcomes_table
from costmodel.report import write_output_folder
from costmodel.results import (
    base_case_table,
    evidence_tables,
    state_time_table,
    summary,
    trace_table,
)
from costmodel.validate import load_model


@dataclass(frozen=True)
class RunResult:
    """Base-case results of one workbook."""

    inputs: ModelInputs
    outcomes: ModelOutcomes
    base_case: pd.DataFrame
    trace: pd.DataFrame
    state_time: pd.DataFrame
    clinical: pd.DataFrame
    summary: dict
    evidence: pd.DataFrame | None = None
    evidence_studies: pd.DataFrame | None = None
    calibration: pd.DataFrame | None = None
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        tables = {
            "base_case": self.base_case,
            "outcomes": self.clinical,
            "trace": self.trace,
            "state_time": self.state_time,
        }
        optional = {
            "evidence": self.evidence,
            "evidence_studies": self.evidence_studies,
            "calibration": self.calibration,
        }
        tables.update({k: v for k, v in optional.items() if v is not None})
        tables.update(self.extra_tables)
        return tables

    def write(self, out_dir: str | Path) -> Path:
        """Write the tables, figures and summary.json atomically into ``out_dir``."""
        return write_output_folder(out_dir, self.tables(), self.summary, self._write_figures)

    def _write_figures(self, folder: Path) -> None:
        from costmodel.plots import plot_forest, save_figure

        figures = folder / "figures"
        figures.mkdir()
        if self.inputs.synthesis is not None:
            save_figure(plot_forest(self.inputs.synthesis), figures / "forest")


def run_inputs(inputs: ModelInputs, *, seed: int | None = None) -> RunResult:
    outcomes = run_model(inputs, keep_trace=True)
    clinical = clinical_measures(inputs, outcomes)
    base = base_case_table(inputs, outcomes).merge(clinical, on="strategy", how="left")
    evidence, studies = evidence_tables(inputs)
    calibration = compute_calibration(inputs) if inputs.calibration else None
    return RunResult(
        inputs=inputs,
        outcomes=outcomes,
        base_case=base,
        trace=trace_table(inputs, outcomes),
        state_time=state_time_table(outcomes),
        clinical=outcomes_table(inputs, outcomes, base),
        summary=summary(inputs, base, seed=inputs.settings.seed if seed is None else seed),
        evidence=evidence,
        evidence_studies=studies,
        calibration=calibration,
    )


def run_workbook(path: str | Path, *, seed: int | None = None) -> RunResult:
    """Validate and run the base case of a workbook."""
    return run_inputs(load_model(path), seed=seed)
