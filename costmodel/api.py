"""Python API: load a workbook, run every analysis it enables, get pandas DataFrames.

>>> from costmodel.api import run_workbook                       # doctest: +SKIP
>>> result = run_workbook("inputs/examples/chancellor_hiv.xlsx")  # doctest: +SKIP
>>> result.base_case[["strategy", "cost", "ly", "icer", "status"]]  # doctest: +SKIP
>>> result.write("results/hiv")                                   # doctest: +SKIP

The steps are those of ``costmodel run``: read → validate → run_analyses → write
(``run_and_write`` writes while the last analyses finish).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from costmodel.analyses.base import RunOptions
from costmodel.analyses.run import STEP_KEYS, start_analyses
from costmodel.api_model import Model
from costmodel.errors import InputError, OptionError
from costmodel.inputs import ModelInputs
from costmodel.reports import write_reports, write_result, write_running
from costmodel.reports.folder import check_output_folder
from costmodel.results import AnalysisResult
from costmodel.rng import SeedLike, normalize_seed
from costmodel.schema import SETTINGS
from costmodel.validate import validate_workbook
from costmodel.workbook import RawRow, RawWorkbook, read_workbook

__all__ = [
    "Model",
    "RunResult",
    "load_workbook_inputs",
    "run_and_write",
    "run_checks",
    "run_inputs",
    "run_workbook",
    "with_overrides",
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
    analyses: Iterable[str] | None = None,
    out_dir: str | Path | None = None,
    reports: bool = True,
    summary_notes: Mapping[str, object] | None = None,
) -> RunResult:
    """Base case, deterministic sensitivity analyses, PSA and value of information, as the
    workbook asks. ``psa_samples`` and ``seed`` override the Settings values (0 samples
    disables the PSA); ``deterministic=False`` skips DSA/threshold/scenarios, ``voi=False``
    EVPPI/EVSI; ``fast=True`` runs the base case and one-way DSA only (no PSA);
    ``progress(done, total)`` follows the PSA and ``on_step(name)`` each analysis.

    With ``out_dir`` the results are also written there, as ``result.write(out_dir,
    reports=reports)`` writes them (the same files, ``summary_notes`` added to summary.json),
    but sooner: the outputs that need no forked step (EVPPI, EVSI) are written while those
    steps run (:func:`costmodel.reports.write_running`); a folder that would be refused
    (:func:`costmodel.reports.folder.check_output_folder`) is refused before the run."""
    settings = inputs.settings
    options = RunOptions(
        seed=_checked_seed(settings.seed if seed is None else seed),
        psa_samples=0
        if fast
        else _checked_samples(settings.psa_samples if psa_samples is None else psa_samples),
        deterministic=deterministic,
        voi=voi and not fast,
        fast=fast,
        evppi_groups=_checked_evppi_groups(inputs, evppi_groups),
        progress=progress,
        on_step=on_step,
        analyses=_checked_analyses(analyses),
    )
    if out_dir is None:
        return _run_result(start_analyses(inputs, options).finish())
    check_output_folder(out_dir)  # a folder that would be refused: before the run, not after
    running = start_analyses(inputs, options)
    result, _ = write_running(
        running, out_dir, reports=reports, summary_notes=summary_notes, on_step=on_step
    )
    return _run_result(result)


def run_and_write(
    inputs: ModelInputs,
    out_dir: str | Path,
    *,
    reports: bool = True,
    summary_notes: Mapping[str, object] | None = None,
    **options: Any,
) -> tuple[RunResult, Path]:
    """``run_inputs(inputs, out_dir=out_dir, ...)`` with ``options`` (its other keywords):
    the result and the folder, as `costmodel run` writes it."""
    result = run_inputs(
        inputs, out_dir=out_dir, reports=reports, summary_notes=summary_notes, **options
    )
    return result, Path(out_dir)


def _run_result(result: AnalysisResult) -> RunResult:
    return RunResult(result.inputs, result.outcomes, result.tables, result.summary, result.psa)


def _checked_evppi_groups(
    inputs: ModelInputs, groups: Iterable[Iterable[str]] | None
) -> tuple[tuple[str, ...], ...]:
    """EVPPI groups of parameter names, or OptionError for an empty name, an unknown name
    (with suggestions) or a parameter without a PSA distribution."""
    parameters = {p.name: p for p in inputs.parameters}
    checked = []
    for group in groups or ():
        names = tuple(n.strip() for n in group)
        if not names or any(not n for n in names):
            raise OptionError(f"--evppi {','.join(names)}: an empty parameter name.")
        for name in names:
            if name not in parameters:
                close = difflib.get_close_matches(name, parameters, n=3)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                raise OptionError(f"--evppi: '{name}' is not a parameter of {inputs.file}.{hint}")
            if not parameters[name].is_stochastic:
                raise OptionError(
                    f"--evppi: '{name}' has no PSA distribution (only sampled parameters carry "
                    "EVPPI)."
                )
        checked.append(names)
    return tuple(checked)


def _checked_analyses(analyses: Iterable[str] | None) -> frozenset[str] | None:
    """The chosen analysis steps, or OptionError naming the unknown ones."""
    if analyses is None:
        return None
    if isinstance(analyses, str):
        analyses = [analyses]
    try:
        chosen = frozenset(analyses)
    except TypeError:
        raise OptionError(
            f"analyses: a list of analysis names; got {analyses!r}. Choose from "
            f"{', '.join(STEP_KEYS)}."
        ) from None
    unknown = sorted(chosen - set(STEP_KEYS))
    if unknown:
        raise OptionError(
            f"analyses: unknown {', '.join(unknown)}; choose from {', '.join(STEP_KEYS)}."
        )
    return chosen


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
    overrides: Mapping[str, float] | None = None,
    seed: SeedLike = None,
    psa_samples: int | None = None,
    deterministic: bool = True,
    voi: bool = True,
    analyses: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Validate and run a workbook with the CLI's defaults: everything the workbook enables
    (its PSA sample size, DSA, scenarios, VOI).

    ``overrides`` fixes parameters at numbers (workbook units, e.g. ``{"c_msc_course":
    8000}``: base case, PSA without their distribution, scenarios that do not set them) or
    sets Settings values (``{"discount_rate_costs": 0.0}``). ``analyses`` runs only these
    steps besides the base case (keys of :data:`costmodel.analyses.run.STEP_KEYS`, e.g.
    ``["dsa", "psa"]``). ``psa_samples=0``, ``deterministic=False`` and ``voi=False`` skip
    parts; ``progress(done, total)`` follows the PSA samples. Tables are DataFrames named like
    the CSV files (``result.base_case``, ``result.ceac``); nothing is written until
    ``result.write(folder)``."""
    raw, inputs = load_workbook_inputs(_checked_path(path))
    inputs = with_overrides(raw, inputs, overrides or {})
    result = run_inputs(
        inputs,
        seed=seed,
        psa_samples=psa_samples,
        deterministic=deterministic,
        voi=voi,
        progress=progress,
        analyses=analyses,
    )
    if overrides:
        result.summary["overrides"] = {k: _plain(v) for k, v in overrides.items()}
    return result


def with_overrides(
    raw: RawWorkbook, inputs: ModelInputs, overrides: Mapping[str, object]
) -> ModelInputs:
    """``inputs`` with Settings replaced and parameters fixed at numbers; OptionError for an
    unknown name, a Dirichlet member or a value the workbook itself would refuse.

    Settings values are written into the Settings sheet of the workbook as read and the whole
    workbook is validated again, so an override gets exactly the checks (kinds, bounds,
    references to strategies and parameters) and the meaning a typed cell gets."""
    parameters = {p.name: p for p in inputs.parameters}
    settings = {s.key for s in SETTINGS}
    values: dict[str, float] = {}
    changes: dict[str, object] = {}
    for name, value in overrides.items():
        if name in parameters:
            values[name] = _parameter_value(parameters[name], value)
        elif name in settings:
            changes[name] = value
        else:
            close = difflib.get_close_matches(name, [*parameters, *settings], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise OptionError(
                f"overrides: '{name}' is neither a parameter nor a setting of {inputs.file}.{hint}"
            )
    if changes:
        try:
            inputs = validate_workbook(_with_settings_cells(raw, changes))
        except InputError as exc:
            raise OptionError(f"overrides: {exc}") from None
    return inputs.with_parameter_values(values) if values else inputs


def _parameter_value(parameter, value: object) -> float:
    """A parameter override as a float, or OptionError (Dirichlet member, not a number)."""
    name = parameter.name
    if parameter.distribution == "dirichlet":
        raise OptionError(
            f"overrides: '{name}' belongs to the Dirichlet set '{parameter.dirichlet}'; "
            "change its count in the workbook."
        )
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise OptionError(f"overrides: '{name}' needs a number; got {value!r}.")
    if not np.isfinite(float(value)):
        raise OptionError(f"overrides: '{name}' needs a finite number; got {value!r}.")
    return float(value)


def _with_settings_cells(raw: RawWorkbook, changes: Mapping[str, object]) -> RawWorkbook:
    """The workbook as read with some Settings values replaced (or added as new rows), as if
    typed in the Settings sheet's value column; a list becomes '20000; 30000'."""
    sheet = raw.sheet("Settings")
    if sheet is None:  # validation reports the missing sheet
        return raw
    rows = list(sheet.rows)
    value_column = sheet.headers.get("value", "B")
    by_key = {str(r.get("setting")).strip(): i for i, r in enumerate(rows)}
    last = max((r.row for r in rows), default=1)
    for key, value in changes.items():
        if isinstance(value, list | tuple):
            value = "; ".join(str(v) for v in value)
        if key in by_key:
            row = rows[by_key[key]]
            rows[by_key[key]] = replace(row, values={**row.values, "value": value})
        else:
            last += 1
            cells = {"setting": f"A{last}", "value": f"{value_column}{last}"}
            rows.append(RawRow(last, {"setting": key, "value": value}, cells))
    sheets = {
        name: (replace(s, rows=tuple(rows)) if s is sheet else s) for name, s in raw.sheets.items()
    }
    return replace(raw, sheets=sheets)


def _plain(value: object) -> object:
    """A JSON-friendly copy of an override value."""
    if isinstance(value, list | tuple):
        return [float(v) for v in value]
    return value if isinstance(value, bool | str) else float(value)  # type: ignore[arg-type]
