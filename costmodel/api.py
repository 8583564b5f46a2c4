"""Python API: load a workbook, run every analysis it enables, get pandas DataFrames.

>>> from costmodel.api import run_workbook                       # doctest: +SKIP
>>> result = run_workbook("inputs/examples/chancellor_hiv.xlsx")  # doctest: +SKIP
>>> result.base_case[["strategy", "cost", "ly", "icer", "status"]]  # doctest: +SKIP
>>> result.write("results/hiv")                                   # doctest: +SKIP

The steps are those of ``costmodel run``: read → validate → run_analyses → write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel.analyses.base import RunOptions
from costmodel.analyses.run import run_analyses
from costmodel.errors import OptionError
from costmodel.inputs import ModelInputs
from costmodel.reports import write_reports, write_result
from costmodel.results import AnalysisResult
from costmodel.rng import SeedLike, normalize_seed
from costmodel.validate import validate_workbook
from costmodel.workbook import RawWorkbook, read_workbook

__all__ = [
    "RunResult",
    "load_workbook_inputs",
    "run_checks",
    "run_inputs",
    "run_workbook",
    "write_reports",
]


@dataclass(frozen=True)
class RunResult(AnalysisResult):
    """An :class:`~costmodel.results.AnalysisResult` whose tables read as attributes
    (``result.base_case``) and that writes itself (``result.write(folder)``)."""

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        aliases = {"clinical": "outcomes"}
        if name in aliases and aliases[name] in tables:
            return tables[aliases[name]]
        raise AttributeError(name)

    def write(self, out_dir: str | Path, *, reports: bool = True) -> Path:
        """Write tables (also under tables/), figures, summary.json, report.html, cheers.csv
        and results.xlsx, atomically, into ``out_dir``; ``reports=False`` writes the tables
        and summary.json only."""
        return write_result(self, out_dir, reports=reports)


def run_checks(inputs: ModelInputs) -> list[str]:
    """What `costmodel run` would refuse before its PSA: the base case of every strategy
    (hypothetical ones too) and of every scenario is built and run, and every model check
    (probabilities, row sums, mass, finite rewards) applied. One message per failing case."""
    from costmodel.errors import ModelCheckError
    from costmodel.model import run_model

    cases = [("base case", inputs)]
    variants = zip(inputs.scenarios, inputs.scenario_variants, strict=True)
    cases += [(f"scenario '{s.name}'", v) for s, v in variants]
    problems = []
    for name, case in cases:
        try:
            run_model(case, keep_trace=True)
        except ModelCheckError as exc:
            problems.append(str(exc) if name == "base case" else f"{exc} [{name}]")
    return problems


def load_workbook_inputs(path: str | Path) -> tuple[RawWorkbook, ModelInputs]:
    """The raw workbook (cells and hash) and its validated inputs."""
    raw = read_workbook(path)
    return raw, validate_workbook(raw)


def run_inputs(
    inputs: ModelInputs,
    *,
    seed: SeedLike = None,
    psa_samples: int | None = None,
    deterministic: bool = True,
    progress: Callable[[int, int], None] | None = None,
    evppi_groups: list[list[str]] | None = None,
    voi: bool = True,
    on_step: Callable[[str], None] | None = None,
    fast: bool = False,
) -> RunResult:
    """Base case, deterministic sensitivity analyses, PSA and value of information, as the
    workbook asks. ``psa_samples`` and ``seed`` override the Settings values (0 samples
    disables the PSA); ``deterministic=False`` skips DSA/threshold/scenarios, ``voi=False``
    EVPPI/EVSI; ``fast=True`` runs the base case and one-way DSA only (no PSA);
    ``progress(done, total)`` follows the PSA and ``on_step(name)`` each analysis."""
    settings = inputs.settings
    options = RunOptions(
        seed=_checked_seed(settings.seed if seed is None else seed),
        psa_samples=0
        if fast
        else _checked_samples(settings.psa_samples if psa_samples is None else psa_samples),
        deterministic=deterministic,
        voi=voi and not fast,
        fast=fast,
        evppi_groups=tuple(tuple(g) for g in evppi_groups or ()),
        progress=progress,
        on_step=on_step,
    )
    result = run_analyses(inputs, options)
    return RunResult(result.inputs, result.outcomes, result.tables, result.summary, result.psa)


MAX_PSA_SAMPLES = 10_000_000  # beyond this a run takes hours and tens of GB of results


def _checked_seed(seed: SeedLike) -> int:
    """The run's seed, or OptionError: an int >= 0, a numpy Generator or None."""
    try:
        return normalize_seed(seed)
    except ValueError as exc:
        raise OptionError(f"seed: {exc}.") from None


def _checked_samples(n: object) -> int:
    """The number of PSA samples, or OptionError: an int from 0 (no PSA) to MAX_PSA_SAMPLES."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise OptionError(f"psa_samples must be a whole number >= 0; got {n!r}.")
    if n < 0:
        raise OptionError(f"psa_samples must be >= 0 (0 = no PSA); got {n}.")
    if n > MAX_PSA_SAMPLES:
        raise OptionError(
            f"psa_samples {n:,} is more than {MAX_PSA_SAMPLES:,}: the run would take hours and "
            "its outputs tens of GB. Use fewer samples (100,000 gives EVPI to about 1%)."
        )
    return int(n)


def _checked_path(path: object) -> Path:
    if not isinstance(path, str | Path) or not str(path):
        raise OptionError(f"path must be a workbook path (str or Path); got {path!r}.")
    return Path(path)


def run_workbook(
    path: str | Path,
    *,
    seed: SeedLike = None,
    psa_samples: int | None = None,
    deterministic: bool = True,
    voi: bool = True,
) -> RunResult:
    """Validate and run a workbook with the CLI's defaults: everything the workbook enables
    (its PSA sample size, DSA, scenarios, VOI). ``psa_samples=0``, ``deterministic=False`` and
    ``voi=False`` skip parts."""
    _, inputs = load_workbook_inputs(_checked_path(path))
    return run_inputs(
        inputs, seed=seed, psa_samples=psa_samples, deterministic=deterministic, voi=voi
    )
