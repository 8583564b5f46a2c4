"""Writers: a run's output folder (CSV tables, figures, summary.json, report.html,
cheers.csv, results.xlsx), written atomically. Reports are built only from a saved folder, so
``costmodel report OUTDIR`` rebuilds them without re-running the model."""

from __future__ import annotations

import shutil
from pathlib import Path

from costmodel.reports import plots
from costmodel.reports.excel import write_results_workbook
from costmodel.reports.figures import figures_for
from costmodel.reports.folder import write_output_folder
from costmodel.reports.html import write_report
from costmodel.reports.plots import save_figure
from costmodel.results import AnalysisResult


def write_result(result: AnalysisResult, out_dir: str | Path) -> Path:
    """Write every table (also under tables/), figures, summary.json, report.html, cheers.csv
    and results.xlsx into ``out_dir``, replacing a previous costmodel output atomically."""

    def extras(folder: Path) -> None:
        figures = folder / "figures"
        figures.mkdir()
        for name, draw in figures_for(result).items():
            save_figure(draw(), figures / name)
        (folder / "tables").mkdir()
        for name in result.tables:  # the same bytes as the top-level CSVs, copied
            shutil.copyfile(folder / f"{name}.csv", folder / "tables" / f"{name}.csv")
        write_reports(folder, inputs_workbook=result.inputs.source)

    return write_output_folder(out_dir, result.tables, result.summary, extras)


def write_reports(folder: Path, *, inputs_workbook: Path | None = None) -> None:
    """report.html, cheers.csv and results.xlsx from a folder of saved results."""
    write_report(folder)
    workbook = inputs_workbook if inputs_workbook is not None and inputs_workbook.exists() else None
    write_results_workbook(folder, folder / "results.xlsx", inputs_workbook=workbook)


def write_user_cea(out_dir: str | Path, tables: dict, summary: dict) -> Path:
    """The output folder of ``costmodel cea``: its tables, summary.json, CEAC and EVPI."""

    def figures(folder: Path) -> None:
        (folder / "figures").mkdir()
        save_figure(plots.plot_ceac(tables["ceac"], ""), folder / "figures" / "ceac")
        save_figure(plots.plot_evpi(tables["evpi"], "", False), folder / "figures" / "evpi")

    return write_output_folder(out_dir, tables, summary, figures)
