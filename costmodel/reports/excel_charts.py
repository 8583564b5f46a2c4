"""results.xlsx charts: the chart_data blocks (copies and reshapes of saved tables) that chart
series point at, and the native openpyxl charts drawn from them (CEAC, CE plane, tornado,
budget impact)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pandas as pd
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.chart.data_source import AxDataSource, NumRef, StrRef
from openpyxl.chart.marker import Marker
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.drawing.line import LineProperties
from openpyxl.utils import get_column_letter, quote_sheetname

from costmodel.reports.excel_cells import (
    CURRENCY_FORMAT,
    _column_values,
    _is_number,
    _plain,
    _Styled,
    number_format,
)
from costmodel.reports.excel_sheets import _TableSheet
from costmodel.schema_types import effect_unit

TORNADO_PARAMETERS = 15

PALETTE = ("4472C4", "ED7D31", "70AD47", "FFC000", "5B9BD5", "A5A5A5", "264478", "9E480E")

CE_PLANE_SHEET = "ce_plane"  # table names (as CSV stems would be)
CHART_DATA_SHEET = "chart_data"
CE_PLANE_TITLE = "CE plane"  # their sheet titles, which the charts' series refer to
CHART_DATA_TITLE = "Chart data"


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
            range_string=f"{quote_sheetname(CHART_DATA_TITLE)}!${col}${first}:${col}${last}"
        )

    def cols(self, first: str, last: str) -> Reference:
        columns = list(self.table.columns)
        a = get_column_letter(self.first_col + columns.index(first))
        b = get_column_letter(self.first_col + columns.index(last))
        return Reference(
            range_string=f"{quote_sheetname(CHART_DATA_TITLE)}!${a}$2:${b}${2 + len(self.table)}"
        )


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
    evpi = sheets.get("evpi")
    if evpi is not None and {"wtp", "evpi_per_patient"} <= set(evpi.table.columns):
        block = _Block(
            "EVPI per patient (evpi.csv)", evpi.table[["wtp", "evpi_per_patient"]], "evpi"
        )
        specs.append((block, "evpi", lambda b: _evpi_chart(b, currency, effect)))
    evppi = sheets.get("evppi")
    if evppi is not None and (block := _evppi_block(evppi.table)) is not None:
        specs.append((block, "evppi", lambda b: _evppi_chart(b, currency)))
    evsi = sheets.get("evsi")
    if evsi is not None and (block := _evsi_block(evsi.table)) is not None:
        specs.append((block, "evsi", lambda b: _evsi_chart(b, currency)))
    placed, column = [], 1
    for block, name, make_chart in specs:
        block = replace(block, first_col=column)
        column += len(block.table.columns) + 1
        placed.append(block)
        sheets[name].charts.append(make_chart(block))
    return placed


def _effect_unit(effect: str, *, plural: bool = False) -> str:
    return effect_unit(effect, plural=plural)


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


def _evppi_block(evppi: pd.DataFrame) -> _Block | None:
    """EVPPI per patient of each group (rows) at each WTP (columns)."""
    if not {"group", "wtp", "evppi_per_patient"} <= set(evppi.columns) or evppi.empty:
        return None
    groups = list(dict.fromkeys(evppi["group"].astype(str)))
    table = evppi.assign(group=evppi["group"].astype(str)).drop_duplicates(["group", "wtp"])
    wide = table.pivot(index="group", columns="wtp", values="evppi_per_patient").loc[groups]
    wide.columns = [f"wtp {w:,.0f}" for w in wide.columns]
    return _Block("EVPPI per patient by group (evppi.csv)", wide.reset_index(), "evppi")


def _evsi_block(evsi: pd.DataFrame) -> _Block | None:
    """EVSI per patient by trial size (rows) at each WTP (columns)."""
    if not {"n_per_arm", "wtp", "evsi_per_patient"} <= set(evsi.columns) or evsi.empty:
        return None
    table = evsi.drop_duplicates(["n_per_arm", "wtp"])
    wide = table.pivot(index="n_per_arm", columns="wtp", values="evsi_per_patient")
    wide.columns = [f"wtp {w:,.0f}" for w in wide.columns]
    return _Block("EVSI per patient by trial size (evsi.csv)", wide.reset_index(), "evsi")


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
    sheet = quote_sheetname(CE_PLANE_TITLE)
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


def _evpi_chart(block: _Block, currency: str, effect: str) -> ScatterChart:
    chart = ScatterChart()
    chart.title = "Expected value of perfect information per patient"
    chart.scatterStyle = "lineMarker"
    _style_axes(
        chart,
        f"Willingness to pay ({currency + ' ' if currency else ''}per {_effect_unit(effect)})",
        f"EVPI per patient{_money(currency)}",
    )
    chart.x_axis.number_format = chart.y_axis.number_format = CURRENCY_FORMAT
    series = Series(
        block.ref("evpi_per_patient", header=True), block.ref("wtp"), title_from_data=True
    )
    series.marker = Marker(symbol="none")
    chart.series.append(series)
    chart.legend = None
    return chart


def _evppi_chart(block: _Block, currency: str) -> BarChart:
    chart = _clustered_bars(
        block,
        "bar",
        "EVPPI per patient by parameter group",
        "Parameter group",
        "EVPPI per patient",
        currency,
    )
    chart.x_axis.tickLblSkip = 1
    return chart


def _evsi_chart(block: _Block, currency: str) -> ScatterChart:
    chart = ScatterChart()
    chart.title = "Expected value of sample information per patient"
    chart.scatterStyle = "lineMarker"
    _style_axes(chart, "Patients per arm", f"EVSI per patient{_money(currency)}")
    chart.y_axis.number_format = CURRENCY_FORMAT
    x = block.ref("n_per_arm")
    for column in list(block.table.columns)[1:]:
        series = Series(block.ref(column, header=True), x, title_from_data=True)
        series.marker = Marker(symbol="circle", size=5)
        chart.series.append(series)
    return chart


def _budget_chart(block: _Block, currency: str) -> BarChart:
    category = str(block.table.columns[0])
    return _clustered_bars(
        block, "col", "Budget impact per year", category.capitalize(), "Budget", currency
    )


def _clustered_bars(
    block: _Block, kind: str, title: str, category_title: str, value_title: str, currency: str
) -> BarChart:
    """Bars ("bar" horizontal, "col" vertical) of every column after the block's first, by
    the categories of its first column, on a currency axis."""
    chart = BarChart()
    chart.type = kind  # set before the axes are positioned
    chart.grouping = "clustered"
    chart.title = title
    columns = list(block.table.columns)
    _style_axes(chart, category_title, f"{value_title}{_money(currency)}")
    chart.y_axis.number_format = CURRENCY_FORMAT
    chart.add_data(block.cols(columns[1], columns[-1]), titles_from_data=True)
    _set_categories(chart, block, columns[0])
    return chart
