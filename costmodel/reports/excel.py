"""results.xlsx: the saved tables of an output folder as one Excel workbook with native charts.

Writers never compute. Every number in the workbook is read from a ``<name>.csv`` or from
``summary.json`` in the output folder; the only arithmetic is the per-sample difference of two
saved columns (strategy minus reference) that places PSA samples on the cost-effectiveness
plane. Charts are openpyxl charts, drawn by Excel or LibreOffice from cells, not pictures. Their
series point at a ``chart_data`` sheet holding copies of saved values (the CEAC pivoted to one
column per strategy, the tornado's top parameters, the budget impact), so sorting or filtering a
table sheet never scrambles a chart.

The workbook is streamed (openpyxl write-only mode); the rows of long table sheets (the
``psa_samples`` sheet holds up to PSA_SAMPLES_MAX_ROWS = 25,000 rows) are formatted as XML text
and added to the saved file (``excel_rows``), so no cell object is made per value; it replaces
``path`` atomically (temp file + os.replace). Only
plain features are used (no merged cells, no formulas, no defined names beyond the sheet-local
filter ranges openpyxl writes) so that Excel and LibreOffice open it without a repair prompt.

The helpers live beside this module, each with one job: ``excel_cells`` (number formats and
cell values), ``excel_sheets`` (sheet plans streamed into the workbook), ``excel_rows`` (long
sheets' rows as XML text, openpyxl's bytes), ``excel_charts`` (the chart_data blocks and native
charts) and ``excel_summary`` (the Summary sheet).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from costmodel.errors import CostModelError
from costmodel.files import atomic_write
from costmodel.reports.excel_cells import (
    CURRENCY_FORMAT,
    DAYS_FORMAT,
    EFFECT_FORMAT,
    MAX_COLUMN_WIDTH,
    MIN_COLUMN_WIDTH,
    PERCENT_FORMAT,
    _plain,
    _Styled,
    number_format,
)
from costmodel.reports.excel_charts import (
    CE_PLANE_SHEET,
    CE_PLANE_TITLE,
    CHART_DATA_SHEET,
    CHART_DATA_TITLE,
    PALETTE,
    TORNADO_PARAMETERS,
    _blocks_rows,
    _ce_plane_chart,
    _chart_blocks,
)
from costmodel.reports.excel_rows import splice_rows
from costmodel.reports.excel_sheets import (
    ROW_CHUNK,
    WIDTH_SAMPLE_ROWS,
    _build_workbook,
    _GridSheet,
    _Link,
    _TableSheet,
)
from costmodel.reports.excel_summary import _summary_rows

__all__ = [
    "CE_PLANE_MAX_SAMPLES",
    "CE_PLANE_SHEET",
    "CHART_DATA_SHEET",
    "CONTENTS_SHEET",
    "CURRENCY_FORMAT",
    "DAYS_FORMAT",
    "DETERMINISTIC_TABLES",
    "EFFECT_FORMAT",
    "EXCEL_MAX_ROWS",
    "INPUT_PREFIX",
    "MAX_COLUMN_WIDTH",
    "MIN_COLUMN_WIDTH",
    "PALETTE",
    "PERCENT_FORMAT",
    "PSA_SAMPLES_MAX_ROWS",
    "PSA_TABLES",
    "READABLE_TITLES",
    "RESULTS_WORKBOOK",
    "ROW_CHUNK",
    "SHEET_TITLE_MAX",
    "SUMMARY_SHEET",
    "TORNADO_PARAMETERS",
    "WIDTH_SAMPLE_ROWS",
    "ExcelReportError",
    "number_format",
    "sheet_title",
    "write_results_workbook",
]

RESULTS_WORKBOOK = "results.xlsx"
PSA_SAMPLES_MAX_ROWS = 25_000  # psa_samples is left out above this (writing time, file size)
CE_PLANE_MAX_SAMPLES = 2_000
EXCEL_MAX_ROWS = 1_048_576
SHEET_TITLE_MAX = 31

SUMMARY_SHEET = "Summary"
INPUT_PREFIX = "input_"

# Sheet order after Summary: the deterministic tables in pipeline order, then any table this
# module does not know (alphabetically), then the probabilistic ones; `twoway_2` follows `twoway`.
DETERMINISTIC_TABLES = (
    "base_case",
    "outcomes",
    "trace",
    "state_time",
    "evidence",
    "evidence_studies",
    "calibration",
    "biomarker",
    "dsa_oneway",
    "twoway",
    "threshold",
    "scenarios",
    "budget_impact",
)
PSA_TABLES = (
    "psa_summary",
    "threshold_psa",
    "ceac",
    CE_PLANE_SHEET,
    "evpi",
    "evppi",
    "evsi",
    "psa_samples",
)

CONTENTS_SHEET = "Contents"
# Sheet titles a reader understands (at most 31 characters); the CSV each sheet copies is
# named on the Contents sheet. Tables not listed keep their file name.
READABLE_TITLES = {
    "base_case": "ICER table",
    "outcomes": "Clinical outcomes",
    "trace": "Markov trace",
    "state_time": "Time in states",
    "evidence": "Evidence synthesis",
    "evidence_studies": "Pooled trials",
    "evidence_sensitivity": "Evidence sensitivity",
    "calibration": "Calibration",
    "biomarker": "Biomarker",
    "dsa_oneway": "One-way DSA",
    "twoway": "Two-way DSA",
    "threshold": "Threshold analysis",
    "scenarios": "Scenarios",
    "budget_impact": "Budget impact",
    "hypothetical": "Hypothetical strategies",
    "subgroups": "Subgroups",
    "parameters": "Parameters",
    "cheers": "CHEERS 2022 checklist",
    "psa_summary": "PSA summary",
    "threshold_psa": "Threshold price, PSA means",
    "ceac": "Acceptability curves",
    CE_PLANE_SHEET: CE_PLANE_TITLE,
    "evpi": "EVPI",
    "evppi": "EVPPI",
    "evsi": "EVSI and ENBS",
    "voi_by_price": "Value of research by price",
    "psa_samples": "PSA samples",
    CHART_DATA_SHEET: CHART_DATA_TITLE,
}


def sheet_title(table_name: str) -> str:
    """The results.xlsx sheet title of a table (``twoway_2`` -> ``Two-way DSA 2``)."""
    if table_name in READABLE_TITLES:
        return READABLE_TITLES[table_name]
    numbered = re.fullmatch(r"(.+)_(\d+)", table_name)
    if numbered and numbered.group(1) in READABLE_TITLES:
        return f"{READABLE_TITLES[numbered.group(1)]} {numbered.group(2)}"
    return table_name


_INVALID_TITLE_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


class ExcelReportError(CostModelError):
    """results.xlsx cannot be written from this folder."""


def write_results_workbook(
    folder: Path, path: Path, *, inputs_workbook: Path | None = None
) -> None:
    """Write ``results.xlsx`` from the saved tables of an output folder.

    Parameters
    ----------
    folder
        Output folder of a run: every ``<name>.csv`` becomes a sheet; ``summary.json`` (if
        present) fills the Summary sheet (provenance, ICER table, settings) and gives the
        currency and effect measure for axis titles. Nothing is recomputed.
    path
        Workbook to write, usually ``folder / "results.xlsx"``. Written to a temporary file in
        the same folder and moved into place with ``os.replace``, so an existing workbook is
        replaced whole or not at all.
    inputs_workbook
        The model workbook that was run. The values of each of its sheets are echoed into
        ``input_<sheet>`` sheets at the same cell addresses (formulas as text). It is opened
        read-only and never written.

    Notes
    -----
    ``psa_samples`` with more than PSA_SAMPLES_MAX_ROWS (25,000) rows is left out (noted on
    the Summary sheet); the CE plane still shows its first 2,000 samples. NaN and infinite
    values become empty cells; strings are always stored as text, never as formulas. Long
    tables' rows are formatted as XML text (:mod:`costmodel.reports.excel_rows`), the same
    bytes as streaming their cells.
    """
    folder, path = Path(folder), Path(path)
    if not folder.is_dir():
        raise ExcelReportError(f"{folder}: not an output folder; run `costmodel run` first.")
    if inputs_workbook is not None:
        inputs_workbook = Path(inputs_workbook)
        if path.resolve() == inputs_workbook.resolve():
            raise ExcelReportError(
                f"{path}: refusing to overwrite the input workbook; choose another path."
            )
    summary = _read_summary(folder / "summary.json")
    tables, notes = _read_tables(folder)
    inputs = _read_input_sheets(inputs_workbook) if inputs_workbook is not None else []
    plan = _plan(folder, summary, tables, notes, inputs_workbook, inputs)
    workbook, rows = _build_workbook(plan)
    moment = _run_time(summary.get("created_utc"))
    atomic_write(path, lambda tmp: _save_reproducibly(workbook, tmp, moment, rows))


# --------------------------------------------------------------------------------------------
# Reading


def _read_summary(path: Path) -> dict:
    if not path.exists():
        return {}
    content = json.loads(path.read_text())
    return content if isinstance(content, dict) else {}


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    # Only empty fields are missing: a strategy called "NA" or "None" stays a string.
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""], **kwargs)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _count_rows(path: Path) -> int:
    try:
        return sum(len(chunk) for chunk in pd.read_csv(path, usecols=[0], chunksize=200_000))
    except pd.errors.EmptyDataError:
        return 0


def _read_tables(folder: Path) -> tuple[dict[str, pd.DataFrame | None], list[str]]:
    """Every ``<name>.csv`` in sheet order; ``None`` for a table too large to copy."""
    tables: dict[str, pd.DataFrame | None] = {}
    notes: list[str] = []
    for csv in sorted(folder.glob("*.csv"), key=lambda p: _table_order(p.stem)):
        name = csv.stem
        if name == "psa_samples":
            n_rows = _count_rows(csv)
            if n_rows > PSA_SAMPLES_MAX_ROWS:
                tables[name] = None
                notes.append(
                    f"psa_samples.csv has {n_rows:,} rows (more than {PSA_SAMPLES_MAX_ROWS:,}):"
                    " not copied into this workbook; open the CSV file instead."
                )
                continue
        table = _read_csv(csv)
        if len(table) >= EXCEL_MAX_ROWS:
            tables[name] = None
            notes.append(f"{csv.name} has {len(table):,} rows, more than an Excel sheet holds.")
            continue
        tables[name] = table
    return tables, notes


def _table_order(name: str) -> tuple[int, int, str]:
    ranks = {n: i for i, n in enumerate(DETERMINISTIC_TABLES)}
    ranks.update({n: 1000 + i for i, n in enumerate(PSA_TABLES)})
    if name in ranks:
        return ranks[name], 0, name
    numbered = re.fullmatch(r"(.+)_(\d+)", name)
    if numbered and numbered.group(1) in ranks:
        return ranks[numbered.group(1)], int(numbered.group(2)), name
    return 500, 0, name


def _read_input_sheets(path: Path) -> list[tuple[str, list[list[object]]]]:
    """Cell values of each worksheet, at their addresses (row 1, column A first)."""
    if not path.is_file():
        raise ExcelReportError(f"{path}: input workbook not found.")
    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError) as error:
        raise ExcelReportError(f"{path}: cannot be read as an .xlsx workbook ({error}).") from error
    try:
        sheets = []
        for ws in workbook.worksheets:
            rows = [[_plain(v) for v in row] for row in ws.iter_rows(values_only=True)]
            for row in rows:
                while row and row[-1] is None:
                    row.pop()
            while rows and not rows[-1]:
                rows.pop()
            sheets.append((ws.title, rows))
        return sheets
    finally:
        workbook.close()


# --------------------------------------------------------------------------------------------
# Plan: what goes on which sheet, decided before the first row is streamed


class _Titles:
    """Unique, Excel-valid sheet titles (Excel compares titles case-insensitively)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, name: str) -> str:
        title = _INVALID_TITLE_CHARS.sub("_", name)[:SHEET_TITLE_MAX].strip("'") or "sheet"
        if title.casefold() == "history":  # reserved by Excel
            title += "_"
        candidate, n = title, 2
        while candidate.casefold() in self._taken:
            suffix = f"~{n}"
            candidate = title[: SHEET_TITLE_MAX - len(suffix)].rstrip("'") + suffix
            n += 1
        self._taken.add(candidate.casefold())
        return candidate


def _plan(
    folder: Path,
    summary: dict,
    tables: dict[str, pd.DataFrame | None],
    notes: list[str],
    inputs_workbook: Path | None,
    inputs: list[tuple[str, list[list[object]]]],
) -> list[_TableSheet | _GridSheet]:
    """Every sheet in workbook order, with its charts, before the first row is streamed."""
    titles = _Titles()
    for reserved in (SUMMARY_SHEET, CONTENTS_SHEET, CE_PLANE_SHEET, CHART_DATA_SHEET):
        titles.claim(sheet_title(reserved))
    settings = summary.get("settings") or {}
    currency = str(settings.get("currency") or "")
    effect = _effect_measure(settings)
    notes = list(notes)
    sheets = {
        name: _TableSheet(titles.claim(sheet_title(name)), name, table, f"{name}.csv")
        for name, table in tables.items()
        if table is not None
    }
    blocks = _chart_blocks(sheets, currency, effect)
    ordered: list[_TableSheet | _GridSheet] = list(sheets.values())

    ce_plane = _ce_plane_table(folder, tables.get("psa_samples"), settings)
    if ce_plane is not None:
        frame, reference, comparisons, effect_column = ce_plane
        source = f"psa_samples.csv: first {len(frame):,} samples, each strategy minus {reference}"
        sheet = _TableSheet(sheet_title(CE_PLANE_SHEET), CE_PLANE_SHEET, frame, source)
        sheet.charts.append(_ce_plane_chart(frame, reference, comparisons, effect_column, currency))
        ordered.append(sheet)
        notes.append(
            f"ce_plane: incremental cost and {effect_column} of each strategy minus {reference}"
            f" for the first {len(frame):,} PSA samples (at most {CE_PLANE_MAX_SAMPLES:,})."
        )
    ordered.sort(key=lambda s: _table_order(s.table_name))

    if blocks:
        names = ", ".join(b.table_name for b in blocks)
        notes.append("Charts read their series from the chart_data sheet (copies, not formulas).")
        ordered.append(
            _GridSheet(
                sheet_title(CHART_DATA_SHEET), _blocks_rows(blocks), f"{names} (for charts)", "A3"
            )
        )
    for sheet_name, rows in inputs:
        name = summary.get("input_file") or inputs_workbook.name
        source = f"{name}!{sheet_name} (values; formulas as text)"
        ordered.append(_GridSheet(titles.claim(INPUT_PREFIX + sheet_name), rows, source))

    sources = [(s.title, s.source) for s in ordered]
    summary_sheet = _GridSheet(SUMMARY_SHEET, _summary_rows(summary, notes, sources), "")
    contents = _GridSheet(CONTENTS_SHEET, _contents_rows([summary_sheet, *ordered]), "", "A2")
    return [summary_sheet, contents, *ordered]


def _contents_rows(sheets: list[_TableSheet | _GridSheet]) -> list[list[object]]:
    """One row per sheet: its title (a link to it), what it holds and where it comes from."""
    rows: list[list[object]] = [
        [_Styled("sheet", bold=True), _Styled("rows", bold=True), _Styled("source", bold=True)]
    ]
    for sheet in sheets:
        n = len(sheet.table) if isinstance(sheet, _TableSheet) else len(sheet.rows)
        source = sheet.source or "summary.json: provenance, settings, ICER table, notes"
        rows.append([_Link(sheet.title, f"'{sheet.title}'!A1"), n, source])
    return rows


def _effect_measure(settings: dict) -> str:
    return str(settings.get("effect_measure") or "qaly").lower()


def _ce_plane_table(
    folder: Path, samples: pd.DataFrame | None, settings: dict
) -> tuple[pd.DataFrame, str, list[str], str] | None:
    """Incremental cost and effect per sample, strategy minus reference, first samples only."""
    path = folder / "psa_samples.csv"
    if samples is None:
        if not path.exists():
            return None
        samples = _read_first_samples(path, CE_PLANE_MAX_SAMPLES)
    effect = _effect_measure(settings)
    if effect not in samples.columns:
        effect = next((e for e in ("qaly", "ly") if e in samples.columns), "")
    if not effect or not {"sample", "strategy", "cost"} <= set(samples.columns):
        return None
    first = pd.unique(samples["sample"])[:CE_PLANE_MAX_SAMPLES]
    rows = samples[samples["sample"].isin(first)].drop_duplicates(["sample", "strategy"])
    strategies = list(dict.fromkeys(rows["strategy"].astype(str)))
    if len(strategies) < 2:
        return None
    reference = str(settings.get("reference_strategy") or "")
    if reference not in strategies:
        reference = strategies[0]  # the declared first strategy, as the engine defaults
    rows = rows.assign(strategy=rows["strategy"].astype(str))
    wide = rows.pivot(index="sample", columns="strategy", values=["cost", effect]).reindex(first)
    comparisons = [s for s in strategies if s != reference]
    columns: dict[str, object] = {"sample": first}
    for s in comparisons:
        columns[f"inc_{effect}_{s}"] = (wide[(effect, s)] - wide[(effect, reference)]).to_numpy()
        columns[f"inc_cost_{s}"] = (wide[("cost", s)] - wide[("cost", reference)]).to_numpy()
    return pd.DataFrame(columns), reference, comparisons, effect


def _read_first_samples(path: Path, n_samples: int) -> pd.DataFrame:
    header = _read_csv(path, nrows=0).columns
    wanted = [c for c in ("sample", "strategy", "cost", "qaly", "ly") if c in header]
    frames, seen = [], set()
    for chunk in pd.read_csv(
        path, usecols=wanted, chunksize=50_000, keep_default_na=False, na_values=[""]
    ):
        frames.append(chunk)
        seen.update(chunk["sample"].unique().tolist() if "sample" in chunk else [])
        if len(seen) > n_samples:
            break
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=wanted)


def _run_time(created_utc: object) -> datetime | None:
    if not isinstance(created_utc, str):
        return None
    try:
        return datetime.strptime(created_utc, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None


def _save_reproducibly(
    workbook, path: Path, moment: datetime | None, rows: dict[str, str] | None = None
) -> None:
    """Save ``workbook`` dated by the run, not by the writing: document properties and zip
    entry times are the run's time, so rebuilding the report of one run (or rerunning with
    SOURCE_DATE_EPOCH) gives the same bytes. ``rows``: XML rows to add to sheets by title
    (:func:`costmodel.reports.excel_rows.splice_rows`)."""
    if moment is None and not rows:
        workbook.save(path)
        return
    if moment is not None:
        workbook.properties.created = moment
    buffer = io.BytesIO()
    workbook.save(buffer)
    parts = splice_rows(buffer.getvalue(), rows) if rows else {}
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = parts.get(info.filename) or source.read(info.filename)
            if moment is None:
                out.writestr(info, data)
                continue
            if info.filename == "docProps/core.xml":  # openpyxl sets 'modified' to now on save
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    data,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=moment.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            out.writestr(entry, data)
