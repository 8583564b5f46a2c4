"""Writers: a run's output folder (CSV tables, figures, summary.json, report.html,
cheers.csv, results.xlsx), written atomically. Reports are built only from a saved folder, so
``costmodel report OUTDIR`` rebuilds them without re-running the model.

The figure, xlsx and HTML writers (matplotlib, openpyxl: ~0.4 s) are imported when first
used, so that importing this package (or its output-folder checks) costs nothing before a run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import pandas as pd

from costmodel.files import write_csv, write_json
from costmodel.reports.folder import OutputError, write_output_folder
from costmodel.reports.jobs import Job, raise_if_stopped, run_jobs
from costmodel.results import AnalysisResult

INPUT_COPY = "input_workbook.xlsx"  # the modelled workbook's bytes, for the reports' echo


class Running(Protocol):
    """A run that may still be computing some steps elsewhere
    (:class:`costmodel.analyses.run.RunningAnalyses`)."""

    def ready(self) -> AnalysisResult: ...  # what is known now
    def finish(  # the whole result (waits, calling while_waiting, which may raise)
        self, while_waiting: Callable[[], None] | None = None
    ) -> AnalysisResult: ...
    def cancel(self) -> None: ...  # stop what still runs


class Finished:
    """A finished result as a :class:`Running` run."""

    def __init__(self, result: AnalysisResult) -> None:
        self._result = result

    def ready(self) -> AnalysisResult:
        return self._result

    def finish(self, while_waiting: Callable[[], None] | None = None) -> AnalysisResult:
        return self._result

    def cancel(self) -> None:
        pass


def write_result(result: AnalysisResult, out_dir: str | Path, *, reports: bool = True) -> Path:
    """Write every table (also under tables/), figures, summary.json, report.html, cheers.csv
    and results.xlsx into ``out_dir``, replacing a previous costmodel output atomically;
    ``reports=False`` writes the tables and summary.json only. The pieces are written on
    every core (:mod:`costmodel.reports.jobs`); the files do not depend on it."""
    return write_running(Finished(result), out_dir, reports=reports)[1]


def write_running(
    running: Running,
    out_dir: str | Path,
    *,
    reports: bool = True,
    summary_notes: Mapping[str, object] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> tuple[AnalysisResult, Path]:
    """:func:`write_result` of a run whose forked steps (EVPPI, EVSI) may still be running:
    this process waits for them while helper processes write the tables and figures that do
    not need them; then come their own tables and figures, summary.json (with
    ``summary_notes`` added) and the reports, which read every table. The folder is the same,
    byte for byte, as :func:`write_result` of the finished run (tested). Returns the finished
    result and the folder; ``on_step(name)`` is called as writing starts and as the reports
    are started. Whatever fails, the forked steps are stopped."""
    finished: list[AnalysisResult] = []

    def collect(folder: Path) -> None:
        try:
            result = running.finish(raise_if_stopped)  # a helper's failure ends the wait
        except OSError as exc:  # the analyses' own: not a folder error (write_output_folder's)
            raise RuntimeError(
                f"the value of information (EVPPI, EVSI) computed beside the writing failed: {exc}"
            ) from exc
        result.summary.update(summary_notes or {})
        for name in result.tables.keys() - ready.tables.keys():
            _write_table(folder, name, result.tables[name])
        write_json(folder / "summary.json", result.summary)
        finished.append(result)
        if on_step is not None:
            on_step("writing figures and reports" if reports else "writing the last tables")

    def late_figures(folder: Path) -> None:
        from costmodel.reports.figures import figures_for
        from costmodel.reports.plots import save_figure

        drawn = figures_for(ready).keys()
        for name, draw in figures_for(finished[0]).items():
            if name not in drawn:
                save_figure(draw(), folder / "figures" / name)

    def extras(folder: Path) -> None:
        (folder / "tables").mkdir()
        if reports:
            (folder / "figures").mkdir()
            if ready.inputs.source_data:
                (folder / INPUT_COPY).write_bytes(ready.inputs.source_data)
        # this process takes the first job: it waits for the forked steps while the helpers
        # take the tables and figures (each process takes the first job it may start)
        first = Job("collect the forked steps", lambda: collect(folder), here=True)
        tables = _table_jobs(ready, folder)
        jobs = [first, *tables]
        if reports:
            csvs = (first.name, *(job.name for job in tables))
            figures = _figure_jobs(ready, folder)
            late = Job(
                "figures of the forked steps",
                lambda: late_figures(folder),
                (first.name,),
                here=True,
            )
            names = (*(job.name for job in figures), late.name)
            cheers, excel, report = _report_jobs(folder, csvs, names)
            # the figures only this process can draw first, so that the others, which any
            # process may take, fill the cores to the end
            jobs += [late, cheers, excel, *figures, report]
        run_jobs(jobs)

    try:
        ready = running.ready()  # waits for the steps that ran beside the PSA
        if on_step is not None:
            on_step("writing tables and figures" if reports else "writing tables")
        # the tables are written by the jobs (so that they share the cores with the figures)
        folder = write_output_folder(out_dir, {}, None, extras)
    finally:
        running.cancel()  # whatever failed, the forked steps stop
    return finished[0], folder


def _write_table(folder: Path, name: str, table: pd.DataFrame) -> None:
    """``name``.csv, and the same bytes under tables/ (copied)."""
    write_csv(folder / f"{name}.csv", table)
    shutil.copyfile(folder / f"{name}.csv", folder / "tables" / f"{name}.csv")


def _table_jobs(result: AnalysisResult, folder: Path) -> list[Job]:
    """One job per table, largest first."""
    names = sorted(result.tables, key=lambda n: -result.tables[n].size)
    return [
        Job(f"{name}.csv", lambda name=name: _write_table(folder, name, result.tables[name]))
        for name in names
    ]


def _figure_jobs(result: AnalysisResult, folder: Path) -> list[Job]:
    """One job per figure (PNG and SVG)."""
    from costmodel.reports.figures import figures_for
    from costmodel.reports.plots import save_figure

    return [
        Job(
            f"figure {name}",
            lambda name=name, draw=draw: save_figure(draw(), folder / "figures" / name),
        )
        for name, draw in figures_for(result).items()
    ]


def _report_jobs(folder: Path, csvs: tuple[str, ...], figures: tuple[str, ...]) -> list[Job]:
    """cheers.csv, results.xlsx (reads every CSV, cheers.csv too) and report.html (reads the
    CSVs and the figures), after the jobs that write what they read."""
    from costmodel.reports.excel import write_results_workbook
    from costmodel.reports.html import write_cheers, write_report

    cheers = Job("cheers.csv", lambda: write_cheers(folder), csvs)
    excel = Job(
        "results.xlsx",
        lambda: write_results_workbook(
            folder, folder / "results.xlsx", inputs_workbook=checked_copy(folder)
        ),
        (*csvs, cheers.name),
    )
    report = Job("report.html", lambda: write_report(folder), (*csvs, cheers.name, *figures))
    return [cheers, excel, report]  # each process takes the first job it may start


REPORT_FILES = ("report.html", "cheers.csv", "results.xlsx")  # what write_reports writes


def write_reports(folder: Path) -> None:
    """report.html, cheers.csv and results.xlsx from a folder of saved results; the input
    sheets echoed in results.xlsx come from the folder's copy of the workbook, used only if
    its hash is the one summary.json records."""
    run_jobs(_report_jobs(folder, (), ()))


def checked_copy(folder: Path) -> Path | None:
    """The folder's copy of the input workbook (INPUT_COPY), or None when the run kept none;
    OutputError when it is not byte for byte the workbook the run hashed."""
    copy = folder / INPUT_COPY
    if not copy.is_file():
        return None
    summary = json.loads((folder / "summary.json").read_text())
    if hashlib.sha256(copy.read_bytes()).hexdigest() != summary.get("input_sha256"):
        raise OutputError(
            f"{copy}: not the workbook this run modelled (its SHA-256 differs from "
            "input_sha256 in summary.json); re-run the model instead of rebuilding the reports."
        )
    return copy


def write_user_cea(out_dir: str | Path, tables: dict, summary: dict) -> Path:
    """The output folder of ``costmodel cea``: its tables, summary.json, CEAC and EVPI."""

    def figures(folder: Path) -> None:
        from costmodel.reports import plots
        from costmodel.reports.plots import save_figure

        (folder / "figures").mkdir()
        save_figure(plots.plot_ceac(tables["ceac"], ""), folder / "figures" / "ceac")
        save_figure(plots.plot_evpi(tables["evpi"], "", False), folder / "figures" / "evpi")

    return write_output_folder(out_dir, tables, summary, figures)
