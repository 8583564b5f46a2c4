"""results.xlsx sheets: a table sheet or a grid of values, each with its charts, streamed into a
write-only openpyxl workbook row by row (frozen header, filter, widths, number formats)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from costmodel.reports.excel_cells import (
    _Cells,
    _column_values,
    _display_length,
    _fit_width,
    _plain,
    _Styled,
    number_format,
)
from costmodel.reports.excel_rows import BULK_MIN_ROWS, rows_xml

WIDTH_SAMPLE_ROWS = 2_000  # column widths are fitted on the first rows (plus numeric extremes)
ROW_CHUNK = 10_000  # rows converted to cells at a time: bounds memory on large tables


@dataclass
class _TableSheet:
    """A table with a header row: frozen, filtered, number-formatted by column."""

    title: str
    table_name: str  # for number_format and sheet order
    table: pd.DataFrame
    source: str
    charts: list[object] = field(default_factory=list)


@dataclass(frozen=True)
class _Link:
    """A grid cell showing ``text`` that links to ``location`` in the workbook ('Sheet'!A1)."""

    text: str
    location: str


@dataclass
class _GridSheet:
    """A small sheet written from rows of values (Summary, chart_data, input echoes)."""

    title: str
    rows: list[list[object]]
    source: str
    freeze: str | None = None
    charts: list[object] = field(default_factory=list)


def _build_workbook(plan: list[_TableSheet | _GridSheet]) -> tuple[Workbook, dict[str, str]]:
    """The streamed workbook, and the rows of its long table sheets as XML text by sheet
    title (:mod:`costmodel.reports.excel_rows`: added to the saved file)."""
    workbook = Workbook(write_only=True)
    cells = _Cells()
    spliced: dict[str, str] = {}
    for sheet in plan:
        ws = workbook.create_sheet(sheet.title)
        _print_setup(ws, repeat_header=isinstance(sheet, _TableSheet))
        if isinstance(sheet, _TableSheet):
            rows = _write_table(ws, sheet, cells)
            if rows is not None:
                spliced[sheet.title] = rows
        else:
            _write_grid(ws, sheet, cells)
    return workbook, spliced


def _print_setup(ws, *, repeat_header: bool) -> None:
    """Landscape A4, fitted to the page width (as many pages down as needed), the header
    row repeated on every printed page of a table."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4 (ECMA-376 paper size code)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    if repeat_header:
        ws.print_title_rows = "1:1"


def _write_table(ws, sheet: _TableSheet, cells: _Cells) -> str | None:
    """Stream the table's header and rows into ``ws``; a long table's rows are returned as
    XML text instead (to be added to the saved sheet)."""
    table = sheet.table
    headers = [str(c) for c in table.columns]
    numeric = [
        pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
        for c in table.columns
    ]
    formats = [
        number_format(sheet.table_name, h) if n else None
        for h, n in zip(headers, numeric, strict=True)
    ]
    for j, (header, column, fmt) in enumerate(zip(headers, table.columns, formats, strict=True), 1):
        sample = _column_values(table[column].iloc[:WIDTH_SAMPLE_ROWS])
        if numeric[j - 1] and len(table) > WIDTH_SAMPLE_ROWS:
            sample += _column_values(table[column].agg(["min", "max"]).astype(float))
        width = _fit_width([len(header) + 1, *(_display_length(v, fmt) for v in sample)])
        ws.column_dimensions[get_column_letter(j)].width = width
    if headers:
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(table) + 1}"
    ws.append([cells.make(ws, _plain(h), bold=True) for h in headers])
    _anchor_charts(ws, sheet.charts, len(headers))
    if len(table) >= BULK_MIN_ROWS:
        rows = rows_xml(table, formats, lambda fmt: cells.number_style_id(ws, fmt))
        if rows is not None:
            return rows
    for start in range(0, len(table), ROW_CHUNK):
        chunk = table.iloc[start : start + ROW_CHUNK]
        columns = [_column_values(chunk[c]) for c in chunk.columns]
        for row in zip(*columns, strict=True):
            ws.append([cells.make(ws, v, f) for v, f in zip(row, formats, strict=True)])
    return None


def _write_grid(ws, sheet: _GridSheet, cells: _Cells) -> None:
    width = max((len(r) for r in sheet.rows), default=0)
    lengths: list[list[int]] = [[] for _ in range(width)]
    for row in sheet.rows:
        for j, item in enumerate(row):
            if isinstance(item, _Link):
                lengths[j].append(len(item.text) + 1)
            elif not isinstance(item, _Styled):
                lengths[j].append(_display_length(item, None))
            elif item.fit:
                lengths[j].append(_display_length(item.value, item.fmt))
    for j, column in enumerate(lengths, 1):
        ws.column_dimensions[get_column_letter(j)].width = _fit_width(column)
    if sheet.freeze:
        ws.freeze_panes = sheet.freeze
    for row in sheet.rows:
        ws.append([_grid_cell(ws, item, cells) for item in row])
    _anchor_charts(ws, sheet.charts, width)


def _grid_cell(ws, item: object, cells: _Cells) -> object:
    if isinstance(item, _Link):
        cell = WriteOnlyCell(ws, value=item.text)
        cell.hyperlink = Hyperlink(ref="", location=item.location, display=item.text)
        cell.font = Font(color="1F4E9A", underline="single")
        return cell
    if isinstance(item, _Styled):
        return cells.make(ws, _plain(item.value), item.fmt, item.bold)
    return cells.make(ws, _plain(item))


def _anchor_charts(ws, charts: list[object], n_columns: int) -> None:
    row = 2
    for chart in charts:
        ws.add_chart(chart, f"{get_column_letter(n_columns + 2)}{row}")
        row += 24
