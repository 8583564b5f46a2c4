"""Writers: a run's output folder (CSV tables, figures, summary.json, report.html,
cheers.csv, results.xlsx), written atomically. Reports are built only from a saved folder, so
``costmodel report OUTDIR`` rebuilds them without re-running the model."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from costmodel.files import write_csv
from costmodel.reports import plots
from costmodel.reports.excel import write_results_workbook
from costmodel.reports.figures import figures_for
from costmodel.reports.folder import OutputError, write_output_folder
from costmodel.reports.html import write_cheers, write_report
from costmodel.reports.jobs import Job, run_jobs
from costmodel.reports.plots import save_figure
from costmodel.results import AnalysisResult

INPUT_COPY = "input_workbook.xlsx"  # the modelled workbook's bytes, for the reports' echo


def write_result(result: AnalysisResult, out_dir: str | Path, *, reports: bool = True) -> Path:
    """Write every table (also under tables/), figures, summary.json, report.html, cheers.csv
    and results.xlsx into ``out_dir``, replacing a previous costmodel output atomically;
    ``reports=False`` writes the tables and summary.json only. The pieces are written on
    every core (:mod:`costmodel.reports.jobs`); the files do not depend on it."""

    def extras(folder: Path) -> None:
        (folder / "tables").mkdir()
        if reports:
            (folder / "figures").mkdir()
            if result.inputs.source_data:
                (folder / INPUT_COPY).write_bytes(result.inputs.source_data)
        run_jobs(_result_jobs(result, folder, reports))

    # the tables are written by the jobs (so that they share the cores with the figures)
    return write_output_folder(out_dir, {}, result.summary, extras)


def _result_jobs(result: AnalysisResult, folder: Path, reports: bool) -> list[Job]:
    """Tables (largest first), then the reports that read them and the figures."""
    names = sorted(result.tables, key=lambda n: -result.tables[n].size)

    def table_job(name: str) -> Job:
        def write() -> None:
            write_csv(folder / f"{name}.csv", result.tables[name])
            # the same bytes under tables/, copied
            shutil.copyfile(folder / f"{name}.csv", folder / "tables" / f"{name}.csv")

        return Job(f"{name}.csv", write)

    jobs = [table_job(name) for name in names]
    if not reports:
        return jobs
    csvs = tuple(job.name for job in jobs)
    figures = [
        Job(
            f"figure {name}",
            lambda name=name, draw=draw: save_figure(draw(), folder / "figures" / name),
        )
        for name, draw in figures_for(result).items()
    ]
    cheers, excel, report = _report_jobs(folder, csvs, tuple(job.name for job in figures))
    return [*jobs, cheers, excel, *figures, report]


def _report_jobs(folder: Path, csvs: tuple[str, ...], figures: tuple[str, ...]) -> list[Job]:
    """cheers.csv, results.xlsx (reads every CSV, cheers.csv too) and report.html (reads the
    CSVs and the figures), after the jobs that write what they read."""
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
        (folder / "figures").mkdir()
        save_figure(plots.plot_ceac(tables["ceac"], ""), folder / "figures" / "ceac")
        save_figure(plots.plot_evpi(tables["evpi"], "", False), folder / "figures" / "evpi")

    return write_output_folder(out_dir, tables, summary, figures)
