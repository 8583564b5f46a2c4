"""report.html and the CHEERS 2022 checklist, built only from a run's saved output folder.

The report is one self-contained file: figures are embedded as base64 SVG images with alt
text, styles are inline, and nothing is fetched from the network. It can be rebuilt at any
time from the folder (`costmodel report OUTDIR`).

The sections are built in ``html_sections`` (one builder each), from the tables, figures and
style of ``html_elements``; the checklist is ``cheers``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from costmodel.files import atomic_write, atomic_write_text, write_csv
from costmodel.reports import html_sections as sections
from costmodel.reports.cheers import CHEERS_ITEMS, cheers_checklist
from costmodel.reports.html_elements import CSS, FIGURE_TEXT, RASTER_FIGURES
from costmodel.reports.html_limitations import limitations
from costmodel.reports.html_summary import decision_summary

__all__ = [
    "CHEERS_ITEMS",
    "CSS",
    "FIGURE_TEXT",
    "RASTER_FIGURES",
    "SECTIONS",
    "build_report",
    "cheers_checklist",
    "write_cheers",
    "write_report",
]

# The report's sections in order; a builder returns None when the run saved nothing for it.
SECTIONS: tuple[sections.SectionBuilder, ...] = (
    decision_summary,
    sections.decision_problem,
    sections.model,
    sections.inputs,
    sections.evidence,
    sections.calibration,
    sections.base_case,
    sections.hypothetical,
    sections.subgroups,
    sections.deterministic_sensitivity,
    sections.probabilistic_sensitivity,
    *sections.FURTHER_ANALYSES,
    limitations,
    sections.run_warnings,
    sections.provenance,
    sections.cheers_section,
)


def _read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every CSV of the folder; a file without columns reads as an empty table."""
    tables = {}
    for path in sorted(folder.glob("*.csv")):
        try:
            tables[path.stem] = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            tables[path.stem] = pd.DataFrame()
    return tables


def build_report(folder: Path) -> str:
    """The report's HTML text from the folder's summary.json, CSV tables and SVG figures."""
    summary = json.loads((folder / "summary.json").read_text())
    tables = _read_tables(folder)
    built = [s for s in (build(folder, summary, tables) for build in SECTIONS) if s is not None]
    parts = "".join(
        f"<section id='{anchor}'><h2>{html.escape(title)}</h2>{body}</section>"
        for anchor, title, body in built
    )
    nav = (
        "<nav><ol>"
        + "".join(f"<li><a href='#{a}'>{html.escape(t)}</a></li>" for a, t, _ in built)
        + "</ol></nav>"
    )
    title = html.escape(str(summary.get("model", "Cost-effectiveness results")))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        f"<h1>{title}</h1><p class='note'>costmodel {summary.get('costmodel_version', '')}, "
        f"{summary.get('created_utc', '')}; input {html.escape(str(summary.get('input_file')))}"
        f" (SHA-256 {summary.get('input_sha256', '')}).</p>{nav}{parts}</body></html>"
    )


def write_cheers(folder: Path) -> Path:
    """Write cheers.csv (the CHEERS 2022 checklist of the folder's run) atomically."""
    summary = json.loads((folder / "summary.json").read_text())
    tables = _read_tables(folder)
    tables.pop("cheers", None)
    checklist = cheers_checklist(summary, tables)
    atomic_write(folder / "cheers.csv", lambda tmp: write_csv(tmp, checklist))
    return folder / "cheers.csv"


def write_report(folder: Path) -> Path:
    """Write report.html into ``folder`` atomically (after cheers.csv and the figures)."""
    atomic_write_text(folder / "report.html", build_report(folder))
    return folder / "report.html"
