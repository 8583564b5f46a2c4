"""Python API: load a workbook, run it, get pandas DataFrames.

>>> from costmodel.api import run_workbook                       # doctest: +SKIP
>>> result = run_workbook("inputs/examples/chancellor_hiv.xlsx")  # doctest: +SKIP
>>> result.base_case[["strategy", "cost", "ly", "icer", "status"]]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from costmodel.inputs import ModelInputs
from costmodel.model import ModelOutcomes, run_model
from costmodel.report import write_output_folder
from costmodel.results import base_case_table, state_time_table, summary, trace_table
from costmodel.validate import load_model


@dataclass(frozen=True)
class RunResult:
    """Base-case results of one workbook."""

    inputs: ModelInputs
    outcomes: ModelOutcomes
    base_case: pd.DataFrame
    trace: pd.DataFrame
    state_time: pd.DataFrame
    summary: dict

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"base_case": self.base_case, "trace": self.trace, "state_time": self.state_time}

    def write(self, out_dir: str | Path) -> Path:
        """Write the tables and summary.json atomically into ``out_dir``."""
        return write_output_folder(out_dir, self.tables(), self.summary)


def run_inputs(inputs: ModelInputs, *, seed: int | None = None) -> RunResult:
    outcomes = run_model(inputs, keep_trace=True)
    base = base_case_table(inputs, outcomes)
    return RunResult(
        inputs=inputs,
        outcomes=outcomes,
        base_case=base,
        trace=trace_table(inputs, outcomes),
        state_time=state_time_table(outcomes),
        summary=summary(inputs, base, seed=inputs.settings.seed if seed is None else seed),
    )


def run_workbook(path: str | Path, *, seed: int | None = None) -> RunResult:
    """Validate and run the base case of a workbook."""
    return run_inputs(load_model(path), seed=seed)
