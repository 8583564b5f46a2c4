"""What every analysis step receives and returns (one common signature).

An analysis is a module in :mod:`costmodel.analyses` with ``run(ctx) -> dict[name, table]``:
it reads the validated inputs, the run options, the base-case and PSA outcomes and the tables
of earlier steps from ``ctx``, and returns its own tables (empty when it does not apply).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from costmodel.inputs import ModelInputs
from costmodel.outcomes import ModelOutcomes, PsaResult


@dataclass(frozen=True)
class RunOptions:
    """What a run does beyond the base case; the CLI and the Python API share the defaults
    (everything the workbook enables)."""

    seed: int
    psa_samples: int
    deterministic: bool = True  # one-way, two-way, threshold, scenarios
    voi: bool = True  # EVPPI, EVSI
    evppi_groups: tuple[tuple[str, ...], ...] = ()  # extra EVPPI groups (command line)
    progress: Callable[[int, int], None] | None = None  # PSA progress (done, total)
    on_step: Callable[[str], None] | None = None  # called as each analysis step starts
    fast: bool = False  # base case and one-way DSA only (an iterate mode while editing)
    analyses: frozenset[str] | None = None  # run only these steps (keys of run.STEP_KEYS)


@dataclass
class AnalysisContext:
    """Inputs and results so far, handed to every analysis step."""

    inputs: ModelInputs  # the decision: comparator strategies only
    options: RunOptions
    base: ModelOutcomes  # base case of the comparators, with traces
    psa: PsaResult | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # of earlier steps
    all_inputs: ModelInputs | None = None  # with hypothetical strategies (default: inputs)
    biomarker_runs: tuple[ModelOutcomes, ModelOutcomes] | None = None  # PSA at RR+ and RR-
    tables_by_step: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # raised by the steps, for the record

    def add_tables(self, step: str, tables: dict[str, pd.DataFrame]) -> None:
        """Record the tables step ``step`` made (later steps read them in ``tables``)."""
        self.tables_by_step[step] = tables
        self.tables.update(tables)

    @property
    def workbook_inputs(self) -> ModelInputs:
        """Every strategy of the workbook, hypothetical ones included."""
        return self.all_inputs if self.all_inputs is not None else self.inputs
