"""Writers: a run's output folder (CSV tables, figures, summary.json, report.html,
cheers.csv, results.xlsx), written atomically. Reports are built only from a saved folder, so
``costmodel report OUTDIR`` rebuilds them without re-running the model."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from costmodel.reports import plots
from costmodel.reports.excel import write_results_workbook
from costmodel.reports.figures import figures_for
from costmodel.reports.folder import OutputError, write_output_folder
from costmodel.reports.html import write_report
from costmodel.reports.plots import save_figure
from costmodel.results import AnalysisResult

INPUT_COPY = "input_workbook.xlsx"  # the modelled workbook's bytes, for the reports' echo


def write_result(result: AnalysisResult, out_dir: str | Path, *, reports: bool = True) -> Path:
    """Write every table (also under tables/), figures, summary.json, report.html, cheers.csv
    and results.xlsx into ``out_dir``, replacing a previous costmodel output atomically;
    ``reports=False`` writes the tables and summary.json only."""

    def extras(folder: Path) -> None:
        (folder / "tables").mkdir()
        for name in result.tables:  # the same bytes as the top-level CSVs, copied
            shutil.copyfile(folder / f"{name}.csv", folder / "tables" / f"{name}.csv")
        if not reports:
            return
        figures = folder / "figures"
        figures.mkdir()
        for name, draw in figures_for(result).items():
            save_figure(draw(), figures / name)
        if result.inputs.source_data:
            (folder / INPUT_COPY).write_bytes(result.inputs.source_data)
        write_reports(folder)

    return write_output_folder(out_dir, result.tables, result.summary, extras)


REPORT_FILES = ("report.html", "cheers.csv", "results.xlsx")  # what write_reports writes


def write_reports(folder: Path) -> None:
    """report.html, cheers.csv and results.xlsx from a folder of saved results; the input
    sheets echoed in results.xlsx come from the folder's copy of the workbook, used only if
    its hash is the one summary.json records."""
    write_report(folder)
    write_results_workbook(folder, folder / "results.xlsx", inputs_workbook=checked_copy(folder))


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
