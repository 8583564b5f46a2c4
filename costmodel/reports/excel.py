"""results.xlsx: the saved tables of an output folder as one Excel workbook with native charts.

Writers never compute. Every number in the workbook is read from a ``<name>.csv`` or from
``summary.json`` in the output folder; the only arithmetic is the per-sample difference of two
saved columns (strategy minus reference) that places PSA samples on the cost-effectiveness
plane. Charts are openpyxl charts, drawn by Excel or LibreOffice from cells, not pictures. Their
series point at a ``chart_data`` sheet holding copies of saved values (the CEAC pivoted to one
column per strategy, the tornado's top parameters, the budget impact), so sorting or filtering a
table sheet never scrambles a chart.

The workbook is streamed (openpyxl write-only mode), so a 100,000-row ``psa_samples`` sheet needs
no cell object per value, and it replaces ``path`` atomically (temp file + os.replace). Only
plain features are used (no merged cells, no formulas, no defined names beyond the sheet-local
filter ranges openpyxl writes) so that Excel and LibreOffice open it without a repair prompt.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.chart.data_source import AxDataSource, NumRef, StrRef
from openpyxl.chart.marker import Marker
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.drawing.line import LineProperties
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.exceptions import InvalidFileException

from costmodel.errors import CostModelError
from costmodel.files import atomic_write
from costmodel.results import PROVENANCE_KEYS

RESULTS_WORKBOOK = "results.xlsx"
PSA_SAMPLES_MAX_ROWS = 25_000  # psa_samples is left out above this (writing time, file size)
CE_PLANE_MAX_SAMPLES = 2_000
TORNADO_PARAMETERS = 15
EXCEL_MAX_ROWS = 1_048_576
SHEET_TITLE_MAX = 31
MIN_COLUMN_WIDTH = 8
MAX_COLUMN_WIDTH = 60
WIDTH_SAMPLE_ROWS = 2_000  # column widths are fitted on the first rows (plus numeric extremes)
ROW_CHUNK = 10_000  # rows converted to cells at a time: bounds memory on large tables

PALETTE = ("4472C4", "ED7D31", "70AD47", "FFC000", "5B9BD5", "A5A5A5", "264478", "9E480E")

CURRENCY_FORMAT = "#,##0"
EFFECT_FORMAT = "0.000"
PERCENT_FORMAT = "0.0%"
DAYS_FORMAT = "0.0"

SUMMARY_SHEET = "Summary"
CE_PLANE_SHEET = "ce_plane"
CHART_DATA_SHEET = "chart_data"
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
PSA_TABLES = ("psa_summary", "ceac", CE_PLANE_SHEET, "evpi", "evppi", "evsi", "psa_samples")

_INVALID_TITLE_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_FORMAT_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), fmt)
    for pattern, fmt in (
        (r"prob_.*|deaths_(averted_)?day_\d+|i2", PERCENT_FORMAT),
        (
            r"(inc_)?cost(_.*)?|c_.*|n?nmb(_.*)?|inmb(_.*)?|expected_nmb|icer(_.*)?"
            r"|evpi(_.*)?|evppi(_.*)?|evsi(_.*)?|wtp",
            CURRENCY_FORMAT,
        ),
        (
            r"(inc_)?(qaly|ly|effect)(_.*)?|time_years|rr|hr|or|log_rr|se_log_rr"
            r"|ci_(low|high)|pi_(low|high)",
            EFFECT_FORMAT,
        ),
        (r"time_days|days_.*|nnt_.*", DAYS_FORMAT),
    )
)
_PERCENT_BY_TABLE = {"calibration": frozenset({"target", "model", "difference", "tolerance"})}


class ExcelReportError(CostModelError):
    """results.xlsx cannot be written from this folder."""


def number_format(table: str, column: str) -> str | None:
    """Excel number format of a numeric result column; ``None`` leaves Excel's General format.

    The one rule for every sheet (values are never rounded, only displayed):

    - ``'0.0%'`` probabilities and proportions: ``prob_*`` (``prob_ce``, ``prob_cost_saving``),
      ``deaths_day_*``, ``deaths_averted_day_*``, ``i2``, and in ``calibration`` the
      ``target``, ``model``, ``difference`` and ``tolerance`` columns.
    - ``'#,##0'`` money: ``cost``, ``cost_*``, ``inc_cost*``, ``c_*`` (cost parameters),
      ``nmb*``, ``inmb*``, ``expected_nmb``, ``icer*``, ``evpi*``, ``evppi*``, ``evsi*``, ``wtp``
      and every column of ``budget_impact`` except ``year``.
    - ``'0.000'`` health effects and ratios: ``qaly*``, ``ly*``, ``inc_qaly*``, ``inc_ly*``,
      ``inc_effect*``, ``effect*``, ``time_years``, ``rr``, ``hr``, ``or``, ``log_rr``,
      ``se_log_rr``, ``ci_low/high``, ``pi_low/high``.
    - ``'0.0'`` days and counts per patient: ``time_days``, ``days_*``, ``nnt_*``.

    Anything else (cycles, samples, parameter values of mixed units, state occupancy) keeps
    General, which shows up to 11 significant digits.
    """
    name = column.strip().lower()
    if name in _PERCENT_BY_TABLE.get(table, ()):
        return PERCENT_FORMAT
    if table == "budget_impact" and name != "year":
        return CURRENCY_FORMAT
    for pattern, fmt in _FORMAT_RULES:
        if pattern.fullmatch(name):
            return fmt
    return None


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
    ``psa_samples`` with more than 100,000 rows is left out (noted on the Summary sheet); the
    CE plane still shows its first 2,000 samples. NaN and infinite values become empty cells;
    strings are always stored as text, never as formulas.
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
    atomic_write(path, _build_workbook(plan).save)


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
# Values


def _text(value: str) -> str:
    # XML 1.0 forbids control characters; Excel cells hold at most 32,767 characters.
    return ILLEGAL_CHARACTERS_RE.sub("", value)[:32767]


def _plain(value: object) -> object:
    """A value as Excel can hold it: ``None`` for missing, NaN or infinite."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, datetime | time):
        # Excel has no time zones: an aware value is kept as ISO text rather than shifted.
        return value if value.tzinfo is None else value.isoformat()
    if isinstance(value, date | timedelta):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    formula = getattr(value, "text", None)  # openpyxl ArrayFormula from a read workbook
    return _text(formula if isinstance(formula, str) else str(value))


def _column_values(column: pd.Series) -> list[object]:
    if pd.api.types.is_bool_dtype(column):
        return [bool(v) for v in column.tolist()]
    if pd.api.types.is_integer_dtype(column):
        return [int(v) for v in column.tolist()]
    if pd.api.types.is_float_dtype(column):
        numbers = column.to_numpy(dtype=float)
        values: list[object] = numbers.tolist()
        for i in np.flatnonzero(~np.isfinite(numbers)):
            values[i] = None
        return values
    return [_plain(v) for v in column.tolist()]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _display_length(value: object, fmt: str | None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        return 5
    if _is_number(value):
        if fmt == CURRENCY_FORMAT:
            return len(f"{value:,.0f}")
        if fmt == PERCENT_FORMAT:
            return len(f"{100 * value:.1f}%")
        if fmt == EFFECT_FORMAT:
            return len(f"{value:.3f}")
        if fmt == DAYS_FORMAT:
            return len(f"{value:.1f}")
        return len(f"{value:.10g}")
    if isinstance(value, datetime | date | time | timedelta):
        return 19
    return max((len(line) for line in str(value).splitlines()), default=0)


def _fit_width(lengths: Iterable[int]) -> float:
    return float(min(MAX_COLUMN_WIDTH, max(MIN_COLUMN_WIDTH, max(lengths, default=0) + 2)))


# --------------------------------------------------------------------------------------------
# Plan: what goes on which sheet, decided before the first row is streamed


@dataclass(frozen=True)
class _Styled:
    """A value with a style on the Summary or chart_data sheet."""

    value: object
    fmt: str | None = None
    bold: bool = False
    fit: bool = True  # False: a title or note that may overflow; it does not widen its column


@dataclass
class _TableSheet:
    """A table with a header row: frozen, filtered, number-formatted by column."""

    title: str
    table_name: str  # for number_format and sheet order
    table: pd.DataFrame
    source: str
    charts: list[object] = field(default_factory=list)


@dataclass
class _GridSheet:
    """A small sheet written from rows of values (Summary, chart_data, input echoes)."""

    title: str
    rows: list[list[object]]
    source: str
    freeze: str | None = None
    charts: list[object] = field(default_factory=list)


@dataclass(frozen=True)
class _Block:
    """A table placed on chart_data: its title in row 1, header in row 2, data from row 3."""

    title: str
    table: pd.DataFrame
    table_name: str
    first_col: int = 1

    def ref(self, column: str, *, header: bool = False) -> Reference:
        col = get_column_letter(self.first_col + list(self.table.columns).index(column))
        first = 2 if header else 3
        last = max(first, 2 + len(self.table))
        return Reference(
            range_string=f"{quote_sheetname(CHART_DATA_SHEET)}!${col}${first}:${col}${last}"
        )

    def cols(self, first: str, last: str) -> Reference:
        columns = list(self.table.columns)
        a = get_column_letter(self.first_col + columns.index(first))
        b = get_column_letter(self.first_col + columns.index(last))
        return Reference(
            range_string=f"{quote_sheetname(CHART_DATA_SHEET)}!${a}$2:${b}${2 + len(self.table)}"
        )


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
    for reserved in (SUMMARY_SHEET, CE_PLANE_SHEET, CHART_DATA_SHEET):
        titles.claim(reserved)
    settings = summary.get("settings") or {}
    currency = str(settings.get("currency") or "")
    effect = _effect_measure(settings)
    notes = list(notes)
    sheets = {
        name: _TableSheet(titles.claim(name), name, table, f"{name}.csv")
        for name, table in tables.items()
        if table is not None
    }
    blocks = _chart_blocks(sheets, currency, effect)
    ordered: list[_TableSheet | _GridSheet] = list(sheets.values())

    ce_plane = _ce_plane_table(folder, tables.get("psa_samples"), settings)
    if ce_plane is not None:
        frame, reference, comparisons, effect_column = ce_plane
        source = f"psa_samples.csv: first {len(frame):,} samples, each strategy minus {reference}"
        sheet = _TableSheet(CE_PLANE_SHEET, CE_PLANE_SHEET, frame, source)
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
            _GridSheet(CHART_DATA_SHEET, _blocks_rows(blocks), f"{names} (for charts)", "A3")
        )
    for sheet_name, rows in inputs:
        source = f"{inputs_workbook.name}!{sheet_name} (values; formulas as text)"
        ordered.append(_GridSheet(titles.claim(INPUT_PREFIX + sheet_name), rows, source))

    sources = [(s.title, s.source) for s in ordered]
    summary_sheet = _GridSheet(SUMMARY_SHEET, _summary_rows(summary, notes, sources), "")
    return [summary_sheet, *ordered]


def _chart_blocks(sheets: dict[str, _TableSheet], currency: str, effect: str) -> list[_Block]:
    """Lay out the chart_data blocks side by side and attach their charts to table sheets."""
    specs: list[tuple[_Block, str, Callable[[_Block], object]]] = []
    if "ceac" in sheets and (ceac := _ceac_block(sheets["ceac"].table)) is not None:
        specs.append((ceac, "ceac", lambda b: _ceac_chart(b, currency, effect)))
    oneway = sheets.get("dsa_oneway")
    if oneway is not None and (tornado := _tornado_block(oneway.table)) is not None:
        block, caption, base = tornado
        wtp = _first_number(oneway.table, "wtp")
        specs.append(
            (block, "dsa_oneway", lambda b: _tornado_chart(b, caption, base, wtp, currency, effect))
        )
    budget = sheets.get("budget_impact")
    if budget is not None and (block := _budget_block(budget.table)) is not None:
        specs.append((block, "budget_impact", lambda b: _budget_chart(b, currency)))
    placed, column = [], 1
    for block, name, make_chart in specs:
        block = replace(block, first_col=column)
        column += len(block.table.columns) + 1
        placed.append(block)
        sheets[name].charts.append(make_chart(block))
    return placed


def _effect_measure(settings: dict) -> str:
    return str(settings.get("effect_measure") or "qaly").lower()


def _effect_unit(effect: str, *, plural: bool = False) -> str:
    unit = {"qaly": "QALY", "ly": "life-year"}.get(effect, effect)
    return unit + "s" if plural else unit


def _money(currency: str) -> str:
    return f" ({currency})" if currency else ""


def _first_number(table: pd.DataFrame, column: str) -> float | None:
    if column not in table.columns or table.empty:
        return None
    value = _plain(table[column].iloc[0])
    return float(value) if _is_number(value) else None


# --------------------------------------------------------------------------------------------
# Chart data: copies and reshapes of saved tables


def _ceac_block(ceac: pd.DataFrame) -> _Block | None:
    if not {"wtp", "strategy", "prob_ce"} <= set(ceac.columns) or ceac.empty:
        return None
    strategies = list(dict.fromkeys(ceac["strategy"].astype(str)))
    long = ceac.assign(strategy=ceac["strategy"].astype(str))
    long = long.drop_duplicates(["wtp", "strategy"])
    wide = long.pivot(index="wtp", columns="strategy", values="prob_ce")[strategies]
    wide = wide.reset_index()
    wide.columns = ["wtp", *strategies]
    return _Block("CEAC: prob_ce by wtp (ceac.csv)", wide, "ceac")


def _tornado_block(oneway: pd.DataFrame) -> tuple[_Block, str, float | None] | None:
    needed = {"parameter", "inmb_low", "inmb_high"}
    if not needed <= set(oneway.columns) or oneway.empty:
        return None
    rows = oneway
    caption = ""
    if {"strategy", "comparator"} <= set(oneway.columns):
        strategy, comparator = oneway["strategy"].iloc[0], oneway["comparator"].iloc[0]
        rows = oneway[(oneway["strategy"] == strategy) & (oneway["comparator"] == comparator)]
        caption = f"{strategy} vs {comparator}"
    if "inmb_range" in rows.columns:
        rows = rows.sort_values("inmb_range", ascending=False, kind="stable", na_position="last")
    top = rows.head(TORNADO_PARAMETERS)
    # A horizontal bar chart draws its first category at the bottom: widest bar last = on top.
    block_table = top[["parameter", "inmb_low", "inmb_high"]].iloc[::-1].reset_index(drop=True)
    block_table = block_table.assign(parameter=block_table["parameter"].astype(str))
    title = f"Tornado: top {len(top)} parameters by inmb_range ({caption or 'dsa_oneway.csv'})"
    return _Block(title, block_table, "dsa_oneway"), caption, _first_number(top, "inmb_base")


def _budget_block(budget: pd.DataFrame) -> _Block | None:
    values = [c for c in ("with_msc", "without_msc", "budget_impact", "cumulative") if c in budget]
    if not values or budget.empty:
        return None
    category = "year" if "year" in budget.columns else str(budget.columns[0])
    table = budget[[category, *values]].reset_index(drop=True)
    return _Block("Budget impact per year (budget_impact.csv)", table, "budget_impact")


def _blocks_rows(blocks: Sequence[_Block]) -> list[list[object]]:
    height = 2 + max(len(b.table) for b in blocks)
    width = blocks[-1].first_col + len(blocks[-1].table.columns) - 1
    rows: list[list[object]] = [[None] * width for _ in range(height)]
    for block in blocks:
        c0 = block.first_col - 1
        rows[0][c0] = _Styled(block.title, bold=True, fit=False)
        for j, column in enumerate(block.table.columns):
            fmt = number_format(block.table_name, str(column))
            rows[1][c0 + j] = _Styled(str(column), bold=True)
            for i, value in enumerate(_column_values(block.table[column])):
                rows[2 + i][c0 + j] = _Styled(value, fmt) if fmt else value
    return rows


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


# --------------------------------------------------------------------------------------------
# Charts


def _style_axes(chart: ScatterChart | BarChart, x_title: str, y_title: str) -> None:
    chart.x_axis.title = x_title
    chart.y_axis.title = y_title
    # openpyxl 3.1 marks axes deleted unless told otherwise: Excel would hide them.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    # A horizontal bar chart has its category (x) axis on the left; every other chart below.
    horizontal = isinstance(chart, BarChart) and chart.type == "bar"
    chart.x_axis.axPos, chart.y_axis.axPos = ("l", "b") if horizontal else ("b", "l")
    chart.legend.position = "b"
    chart.width, chart.height = 20, 11


def _set_categories(chart: BarChart, block: _Block, column: str) -> None:
    """Category labels: a string reference for text (openpyxl's default is numeric)."""
    ref = str(block.ref(column))
    text = not pd.api.types.is_numeric_dtype(block.table[column])
    for series in chart.series:
        series.cat = (
            AxDataSource(strRef=StrRef(f=ref)) if text else AxDataSource(numRef=NumRef(f=ref))
        )


def _ceac_chart(block: _Block, currency: str, effect: str) -> ScatterChart:
    chart = ScatterChart()
    chart.title = "Cost-effectiveness acceptability curves"
    chart.scatterStyle = "smoothMarker"
    _style_axes(
        chart,
        f"Willingness to pay ({currency + ' ' if currency else ''}per {_effect_unit(effect)})",
        "Probability cost-effective",
    )
    chart.x_axis.number_format = CURRENCY_FORMAT
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    wtp = block.table["wtp"].dropna()
    if not wtp.empty:
        chart.x_axis.scaling.min, chart.x_axis.scaling.max = float(wtp.min()), float(wtp.max())
    x = block.ref("wtp")
    for strategy in list(block.table.columns)[1:]:
        series = Series(block.ref(strategy, header=True), x, title_from_data=True)
        series.smooth = True
        series.marker = Marker(symbol="none")
        chart.series.append(series)
    return chart


def _ce_plane_chart(
    frame: pd.DataFrame, reference: str, comparisons: list[str], effect: str, currency: str
) -> ScatterChart:
    chart = ScatterChart()
    chart.title = f"Cost-effectiveness plane vs {reference} ({len(frame):,} PSA samples)"
    chart.scatterStyle = "lineMarker"
    _style_axes(
        chart,
        f"Incremental {_effect_unit(effect, plural=True)}",
        f"Incremental cost{_money(currency)}",
    )
    chart.x_axis.number_format = "0.00"
    chart.y_axis.number_format = CURRENCY_FORMAT
    # The axes cross at the origin (quadrants of the plane); their labels go to the edges.
    chart.x_axis.tickLblPos = chart.y_axis.tickLblPos = "low"
    columns = list(frame.columns)
    last = len(frame) + 1
    sheet = quote_sheetname(CE_PLANE_SHEET)
    for s in comparisons:
        x = get_column_letter(columns.index(f"inc_{effect}_{s}") + 1)
        y = get_column_letter(columns.index(f"inc_cost_{s}") + 1)
        series = Series(
            Reference(range_string=f"{sheet}!${y}$2:${y}${last}"),
            Reference(range_string=f"{sheet}!${x}$2:${x}${last}"),
            title=f"{s} vs {reference}",
        )
        # Explicit colours: a marker without a fill is drawn invisible by LibreOffice.
        colour = PALETTE[len(chart.series) % len(PALETTE)]
        series.marker = Marker(
            symbol="circle",
            size=4,
            spPr=GraphicalProperties(solidFill=colour, ln=LineProperties(solidFill=colour)),
        )
        series.graphicalProperties = GraphicalProperties(ln=LineProperties(noFill=True))
        chart.series.append(series)
    return chart


def _tornado_chart(
    block: _Block,
    caption: str,
    base: float | None,
    wtp: float | None,
    currency: str,
    effect: str,
) -> BarChart:
    chart = BarChart()
    chart.type = "bar"  # horizontal: the type must be set before the axes are positioned
    chart.grouping = "clustered"
    chart.overlap = 100  # low and high bars of a parameter share one row
    chart.gapWidth = 40
    unit = f" {currency}" if currency else ""
    value_title = f"Incremental net monetary benefit{_money(currency)}"
    if wtp is not None:
        value_title += f" at {wtp:,.0f}{unit} per {_effect_unit(effect)}"
    title = f"Tornado: {caption}" if caption else "Tornado"
    if base is not None:
        title += f" (bars from the base case, {base:,.0f}{unit})"
    chart.title = title
    _style_axes(chart, "Parameter", value_title)
    chart.y_axis.number_format = CURRENCY_FORMAT
    if base is not None:
        # Bars grow from where the category axis crosses the value axis: the base-case INMB.
        chart.x_axis.crosses = None
        chart.x_axis.crossesAt = base
        chart.x_axis.tickLblPos = "low"
    chart.x_axis.tickLblSkip = 1  # every parameter named, none skipped for lack of room
    chart.height = max(chart.height, 4 + 0.7 * len(block.table))
    chart.add_data(block.cols("inmb_low", "inmb_high"), titles_from_data=True)
    _set_categories(chart, block, "parameter")
    return chart


def _budget_chart(block: _Block, currency: str) -> BarChart:
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "clustered"
    chart.title = "Budget impact per year"
    columns = list(block.table.columns)
    _style_axes(chart, columns[0].capitalize(), f"Budget{_money(currency)}")
    chart.y_axis.number_format = CURRENCY_FORMAT
    chart.add_data(block.cols(columns[1], columns[-1]), titles_from_data=True)
    _set_categories(chart, block, columns[0])
    return chart


# --------------------------------------------------------------------------------------------
# Summary sheet


_RUN_KEYS = PROVENANCE_KEYS


def _scalar(value: object) -> object:
    if isinstance(value, list | tuple) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join("" if v is None else f"{v:g}" if _is_number(v) else str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return _plain(value)


def _section(title: str) -> list[list[object]]:
    return [[], [_Styled(title, bold=True, fit=False)]]


def _records_rows(records: list[dict], table_name: str) -> list[list[object]]:
    columns = list(dict.fromkeys(k for r in records for k in r))
    rows: list[list[object]] = [[_Styled(c, bold=True) for c in columns]]
    formats = [number_format(table_name, c) for c in columns]
    for record in records:
        values = [_scalar(record.get(c)) for c in columns]
        rows.append(
            [
                _Styled(v, f) if f and _is_number(v) else v
                for v, f in zip(values, formats, strict=True)
            ]
        )
    return rows


def _summary_rows(
    summary: dict, notes: list[str], sources: list[tuple[str, str]]
) -> list[list[object]]:
    rows: list[list[object]] = [[_Styled("Run", bold=True, fit=False)]]
    if not summary:
        rows.append(["summary.json", "not found in the output folder"])
    keys = [k for k in _RUN_KEYS if k in summary]
    keys += [k for k in summary if k not in keys and not isinstance(summary[k], dict | list)]
    rows += [[key, _scalar(summary[key])] for key in keys]

    icer = summary.get("icer_table")
    if isinstance(icer, list) and icer and all(isinstance(r, dict) for r in icer):
        rows += _section("ICER table (summary.json icer_table)")
        rows += _records_rows(icer, "base_case")

    prob = summary.get("prob_cost_effective")
    if isinstance(prob, dict) and prob and all(isinstance(v, dict) for v in prob.values()):
        rows += _section("Probability cost-effective at each willingness to pay")
        records = [
            {"wtp": _wtp_number(w), **{f"prob_ce {s}": p for s, p in v.items()}}
            for w, v in prob.items()
        ]
        rows += _records_rows(records, "prob_cost_effective")

    handled = {*keys, "icer_table", "prob_cost_effective", "warnings"}
    for key, value in summary.items():
        if key in handled:
            continue
        if isinstance(value, dict):
            rows += _section(key)
            rows += [[k, _scalar(v)] for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            rows += _section(key)
            rows += _records_rows(value, key)
        elif isinstance(value, list):
            rows += _section(key)
            rows += [[_scalar(v)] for v in value]

    warnings = summary.get("warnings") or []
    rows += _section("Warnings")
    rows += [[_Styled(_scalar(w), fit=False)] for w in warnings] or [["none"]]
    if notes:
        rows += _section("Notes")
        rows += [[_Styled(note, fit=False)] for note in notes]
    rows += _section("Sheets")
    rows += [[_Styled("sheet", bold=True), _Styled("source", bold=True)]]
    rows += [[title, source] for title, source in sources]
    return rows


def _wtp_number(key: str) -> object:
    try:
        return float(key)
    except ValueError:
        return key


# --------------------------------------------------------------------------------------------
# Writing


class _Cells:
    """Cells for streaming: plain values where possible, styled Cells where needed.

    One style template per (number format, bold, text) combination, so a 100,000-row sheet
    registers a handful of styles rather than one per cell.
    """

    def __init__(self) -> None:
        self._templates: dict[tuple[str | None, bool, bool], object] = {}

    def _style(self, ws, fmt: str | None, bold: bool, text: bool) -> object:
        key = (fmt, bold, text)
        if key not in self._templates:
            cell = Cell(ws)
            if fmt:
                cell.number_format = fmt
            if bold:
                cell.font = Font(bold=True)
            if text:
                cell.quotePrefix = True  # Excel keeps the text as text when it is edited, too
            self._templates[key] = cell._style
        return self._templates[key]

    def make(self, ws, value: object, fmt: str | None = None, bold: bool = False) -> object:
        """``value`` itself when it needs no cell object, else a styled Cell."""
        if isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES):
            cell = Cell(ws, 1, 1, value, style_array=self._style(ws, None, bold, True))
            cell.data_type = "s"  # stored as text: never a formula, never an error value
            return cell
        number_fmt = fmt if fmt is not None and _is_number(value) else None
        if value is None or not (number_fmt or bold):
            return value
        return Cell(ws, 1, 1, value, style_array=self._style(ws, number_fmt, bold, False))


def _build_workbook(plan: list[_TableSheet | _GridSheet]) -> Workbook:
    workbook = Workbook(write_only=True)
    cells = _Cells()
    for sheet in plan:
        ws = workbook.create_sheet(sheet.title)
        if isinstance(sheet, _TableSheet):
            _write_table(ws, sheet, cells)
        else:
            _write_grid(ws, sheet, cells)
    return workbook


def _write_table(ws, sheet: _TableSheet, cells: _Cells) -> None:
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
    for start in range(0, len(table), ROW_CHUNK):
        chunk = table.iloc[start : start + ROW_CHUNK]
        columns = [_column_values(chunk[c]) for c in chunk.columns]
        for row in zip(*columns, strict=True):
            ws.append([cells.make(ws, v, f) for v, f in zip(row, formats, strict=True)])
    _anchor_charts(ws, sheet.charts, len(headers))


def _write_grid(ws, sheet: _GridSheet, cells: _Cells) -> None:
    width = max((len(r) for r in sheet.rows), default=0)
    lengths: list[list[int]] = [[] for _ in range(width)]
    for row in sheet.rows:
        for j, item in enumerate(row):
            if not isinstance(item, _Styled):
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
    if isinstance(item, _Styled):
        return cells.make(ws, _plain(item.value), item.fmt, item.bold)
    return cells.make(ws, _plain(item))


def _anchor_charts(ws, charts: list[object], n_columns: int) -> None:
    row = 2
    for chart in charts:
        ws.add_chart(chart, f"{get_column_letter(n_columns + 2)}{row}")
        row += 24
