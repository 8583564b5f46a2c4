"""The analysis pipeline as named steps, in the spirit of pvlib's ``ModelChain.run_model``:
simulate (base case, PSA) → analyse (each step in :data:`STEPS`) → summarise.

Adding an analysis: write ``analyses/<name>.py`` with ``run(ctx) -> dict[name, table]`` and
add it to STEPS; its figure (if any) goes in :mod:`costmodel.reports.figures`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from costmodel.analyses import (
    base_case,
    biomarker,
    budget,
    calibration,
    dsa,
    evidence_sensitivity,
    evppi,
    evsi,
    hypothetical,
    psa,
    scenarios,
    subgroups,
    test_and_treat,
    threshold,
    threshold_psa,
    voi_by_price,
)
from costmodel.analyses.base import AnalysisContext, RunOptions
from costmodel.cores import Forked, one_blas_thread
from costmodel.errors import AnalysisWarning
from costmodel.inputs import ModelInputs
from costmodel.model import numpy_engine, run_model
from costmodel.parameters import evaluate_parameters
from costmodel.results import AnalysisResult, prob_ce_at_wtp, summary

Step = Callable[[AnalysisContext], dict[str, pd.DataFrame]]

#: Analyses in the order their tables appear in the output folder.
STEPS: tuple[tuple[str, Step], ...] = (
    ("base case", base_case.run),
    ("calibration", calibration.run),
    ("one-way and two-way DSA", dsa.run),
    ("threshold", threshold.run),
    ("evidence sensitivity", evidence_sensitivity.run),
    ("scenarios", scenarios.run),
    ("hypothetical strategies", hypothetical.run),
    ("budget impact", budget.run),
    ("biomarker", biomarker.run),
    ("PSA tables", psa.run),
    ("threshold price at the PSA means", threshold_psa.run),
    ("EVPPI", evppi.run),
    ("EVSI", evsi.run),
    ("subgroups", subgroups.run),
    ("value of information by price", voi_by_price.run),
)

#: Steps that need no PSA: run while the PSA is simulated.
BESIDE_PSA = frozenset(
    {
        "base case",
        "calibration",
        "one-way and two-way DSA",
        "threshold",
        "evidence sensitivity",
        "scenarios",
        "hypothetical strategies",
        "budget impact",
        "biomarker",
    }
)
#: Tables a step reads from earlier steps (it waits for the forked steps that make them).
NEEDS_TABLES = {"value of information by price": frozenset({"threshold"})}

#: Steps that read only the PSA sample and never run the model: computed on another core
#: alongside the steps that re-run the model.
ALONGSIDE = frozenset({"EVPPI", "EVSI"})

#: The steps of a fast run (``costmodel run --fast``): base case and one-way DSA.
FAST_STEPS = frozenset({"base case", "one-way and two-way DSA"})

#: Short names of the steps, as the Python API's ``analyses=`` takes them.
STEP_KEYS: dict[str, str] = {
    "base_case": "base case",
    "calibration": "calibration",
    "dsa": "one-way and two-way DSA",
    "threshold": "threshold",
    "evidence_sensitivity": "evidence sensitivity",
    "scenarios": "scenarios",
    "hypothetical": "hypothetical strategies",
    "budget_impact": "budget impact",
    "biomarker": "biomarker",
    "psa": "PSA tables",
    "threshold_psa": "threshold price at the PSA means",
    "evppi": "EVPPI",
    "evsi": "EVSI",
    "subgroups": "subgroups",
    "voi_by_price": "value of information by price",
}
#: Steps that use the PSA samples (the PSA is simulated only when one of them runs).
PSA_STEP_KEYS = frozenset(
    {"psa", "threshold_psa", "evppi", "evsi", "subgroups", "voi_by_price", "biomarker"}
)


def _selected(name: str, options: RunOptions) -> bool:
    """Whether step ``name`` runs: every step, the fast ones with ``fast``, the base case
    and the chosen ones with ``analyses``."""
    if options.fast and name not in FAST_STEPS:
        return False
    if options.analyses is None or name == "base case":
        return True
    return name in {STEP_KEYS[k] for k in options.analyses}


def run_analyses(inputs: ModelInputs, options: RunOptions) -> AnalysisResult:
    """Base case, PSA and every analysis the workbook enables and ``options`` allow:
    :func:`start_analyses`, then :meth:`RunningAnalyses.finish`."""
    return start_analyses(inputs, options).finish()


def start_analyses(inputs: ModelInputs, options: RunOptions) -> RunningAnalyses:
    """Run every step this process computes; the steps that only read the PSA sample
    (ALONGSIDE: EVPPI, EVSI) may still be running in a forked process when it returns.

    On two or more cores the steps that need no PSA (BESIDE_PSA) run in a forked process
    while this one simulates the PSA, and the ALONGSIDE steps in another while this one runs
    those that re-run the model; each forked group is reported, its waiting time timed, when
    its tables are collected. Tables are kept in STEPS order; the numbers do not depend on
    the number of processes.

    BLAS runs on one thread throughout (forked processes inherit it): the work is spread over
    the cores by processes and threads already, and BLAS threads on small matrices only spin
    (the steps beside the PSA: 2.0 s of CPU with two BLAS threads, 1.2 s with one, the same
    wall time and the same bits).
    """
    with one_blas_thread():
        return _start_analyses(inputs, options)


class RunningAnalyses:
    """A run whose in-process steps are done while its forked steps may still be running:
    :meth:`ready` is what is known now, :meth:`finish` the whole result. Meanwhile this
    process is free: the command line writes the outputs that need no forked step then
    (:func:`costmodel.reports.write_running`). :meth:`finish` or :meth:`cancel` must be
    called: it stops the forked processes."""

    def __init__(self, ctx: AnalysisContext, chosen: list[str], groups: list[_Group]) -> None:
        self._ctx = ctx
        self._chosen = chosen
        self._groups = groups

    def ready(self) -> AnalysisResult:
        """The result without the ALONGSIDE steps' tables (EVPPI, EVSI); the other forked
        steps are waited for (they ran beside the PSA and are done long before)."""
        with one_blas_thread():
            _collect(self._groups, self._ctx, until=frozenset(self._chosen) - ALONGSIDE)
        return self._result()

    def finish(self, while_waiting: Callable[[], None] | None = None) -> AnalysisResult:
        """The whole result, once every forked step has been collected. While it waits,
        ``while_waiting()`` is called every 0.1 s: an exception it raises abandons the wait
        (the forked steps are stopped), e.g. when the writing it overlaps has failed."""
        try:
            with one_blas_thread():
                _collect(self._groups, self._ctx, while_waiting=while_waiting)
        finally:
            self.cancel()
        return self._result()

    def cancel(self) -> None:
        """Stop the forked steps still running (a failure or Ctrl-C stops them too)."""
        for group in self._groups:
            group.forked.cancel()

    def _result(self) -> AnalysisResult:
        ctx = self._ctx
        done = ctx.tables_by_step
        tables = {key: t for name in self._chosen if name in done for key, t in done[name].items()}
        decision, options = ctx.inputs, ctx.options
        result_summary = summary(decision, tables["base_case"], seed=options.seed)
        result_summary["psa_samples"] = options.psa_samples if ctx.psa is not None else 0
        recorded = result_summary["warnings"]  # the workbook's, then the analyses' own
        recorded += [w for w in dict.fromkeys(ctx.warnings) if w not in recorded]
        if ctx.psa is not None and "ceac" in tables:
            wtp = ctx.workbook_inputs.settings.wtp
            result_summary["prob_cost_effective"] = prob_ce_at_wtp(tables["ceac"], wtp)
        return AnalysisResult(decision, ctx.base, tables, result_summary, ctx.psa)


def _start_analyses(inputs: ModelInputs, options: RunOptions) -> RunningAnalyses:
    decision = inputs.decision_inputs()  # hypothetical strategies never enter the decision
    base = run_model(decision, keep_trace=True)
    if test_and_treat.in_decision(decision):
        base = test_and_treat.extend_outcomes(decision, base, evaluate_parameters(decision))
    ctx = AnalysisContext(decision, options, base=base, all_inputs=inputs)
    chosen = [(name, step) for name, step in STEPS if _selected(name, options)]
    groups: list[_Group] = []
    wants_psa = options.analyses is None or bool(PSA_STEP_KEYS & set(options.analyses))
    with_psa = options.psa_samples > 0 and wants_psa
    elsewhere = BESIDE_PSA | ALONGSIDE if with_psa else frozenset()  # else all run here
    try:
        if with_psa:
            beside = [(n, s) for n, s in chosen if n in BESIDE_PSA]
            if beside:
                groups.append(_fork_group(ctx, beside, "the PSA"))
            n, seed = options.psa_samples, options.seed
            ctx.psa = psa.run_psa(decision, n, seed, progress=options.progress)
            if decision.settings.run_biomarker:  # the runs serve the biomarker EVPPI too
                ctx.biomarker_runs = test_and_treat.psa_runs(decision, ctx.psa)
            if test_and_treat.in_decision(decision):
                ctx.psa = test_and_treat.extend_psa(decision, ctx.psa, ctx.biomarker_runs)
            alongside = [(n, s) for n, s in chosen if n in ALONGSIDE]
            if alongside:
                groups.append(_fork_group(ctx, alongside, "the later steps and the writing"))
        for name, step in chosen:
            if name in elsewhere:
                continue
            if name in NEEDS_TABLES:  # collect the forked steps whose tables it reads
                _collect(groups, ctx, until=NEEDS_TABLES[name])
            if options.on_step is not None:
                options.on_step(name)
            with _recording_warnings(ctx):
                ctx.add_tables(name, step(ctx))
    except BaseException:
        for group in groups:
            group.forked.cancel()
        raise
    return RunningAnalyses(ctx, [name for name, _ in chosen], groups)


@dataclass(frozen=True)
class _Group:
    """Steps computed one after another in a forked process, beside ``beside``."""

    steps: list[str]
    beside: str
    forked: Forked


def _fork_group(ctx: AnalysisContext, steps: list[tuple[str, Step]], beside: str) -> _Group:
    """The steps run one after another in a forked process, on the NumPy engine path also
    when they run here, so that their numbers never depend on where they ran (their model
    runs are small: the compiled kernel would save nothing)."""

    def run_group() -> dict[str, dict[str, pd.DataFrame]]:
        tables: dict[str, dict[str, pd.DataFrame]] = {}
        with numpy_engine():
            for name, step in steps:
                tables[name] = step(ctx)
                ctx.add_tables(name, tables[name])  # (the child's copy) later steps read it
        return tables

    return _Group([name for name, _ in steps], beside, Forked(run_group))


@contextmanager
def _recording_warnings(ctx: AnalysisContext) -> Iterator[None]:
    """Warnings raised in the block are issued again as they were (the user's filters
    apply; also when the block fails), and costmodel's own (AnalysisWarning) are kept in
    ``ctx.warnings`` for summary.json, the report's Warnings and results.xlsx."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:  # outside the block, whose filters are gone: the user's apply
        for warning in caught:
            if isinstance(warning.message, AnalysisWarning):
                ctx.warnings.append(str(warning.message))
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _collect(
    groups: list[_Group],
    ctx: AnalysisContext,
    until: frozenset[str] | None = None,
    while_waiting: Callable[[], None] | None = None,
) -> None:
    """Wait for the forked groups (only those with a step in ``until``, when given) and add
    their tables; each step is reported as it is collected. ``while_waiting()`` is called
    every 0.1 s of waiting (it may raise to abandon the wait)."""
    on_step = ctx.options.on_step
    for group in groups:
        names = group.steps
        if names[0] in ctx.tables_by_step or (until is not None and not until & set(names)):
            continue
        if on_step is not None:
            on_step(f"{names[0]} (ran beside {group.beside})")
        while while_waiting is not None and not group.forked.wait(0.1):
            while_waiting()
        with _recording_warnings(ctx):  # the forked steps' warnings are issued here
            tables = group.forked.result()
        for i, name in enumerate(names):
            if i and on_step is not None:
                on_step(f"{name} (ran beside {group.beside})")
            ctx.add_tables(name, tables[name])
