"""Write input workbooks styled from the schema: the starter template and the examples.

Input cells are filled light yellow, each header carries a comment with its meaning and
unit, enumerated fields get dropdowns, and the header row is frozen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from costmodel import schema
from costmodel.files import atomic_write

HEADER_FILL = PatternFill("solid", start_color="FFD9D9D9")
INPUT_FILL = PatternFill("solid", start_color="FFFFF2CC")
SPARE_ROWS = 20  # styled empty rows below the data, inviting input

SheetRows = Sequence[Sequence[object]]


def _column_spec(sheet: schema.Sheet, header: str) -> schema.Column | None:
    for column in sheet.columns:
        if header == column.name or (column.prefix and header.startswith(column.name + "_")):
            return column
    return None


def _comment(sheet: schema.Sheet, header: str) -> str:
    column = _column_spec(sheet, header)
    if column is None:
        return "Strategy variable: an expression per strategy." if sheet.extra_columns else ""
    unit = f" Unit: {column.unit}." if column.unit else ""
    required = " Required." if column.required else ""
    return f"{column.description}{unit}{required}"


def write_workbook(path: str | Path, sheets: Mapping[str, tuple[Sequence[str], SheetRows]]) -> None:
    """Write ``{sheet name: (headers, rows)}`` as a styled workbook, atomically.

    Cell values are written as given: numbers stay numbers, expressions stay text.
    """
    specs = {s.name: s for s in schema.ALL_SHEETS}
    wb = Workbook()
    wb.remove(wb.active)
    for name, (headers, rows) in sheets.items():
        for row in rows:
            for value in row:
                if isinstance(value, str) and value.startswith("="):
                    raise ValueError(f"{name}: {value!r} would be written as an Excel formula")
        ws = wb.create_sheet(name)
        spec = specs.get(name)
        ws.append(list(headers))
        for row in rows:
            ws.append(list(row))
        n_rows = len(rows) + SPARE_ROWS
        for c, header in enumerate(headers, start=1):
            cell = ws.cell(row=1, column=c)
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            if spec is not None and (text := _comment(spec, header)):
                cell.comment = Comment(text, "costmodel", width=320, height=110)
            width = max([len(str(header))] + [len(str(r[c - 1])) for r in rows if len(r) >= c])
            ws.column_dimensions[get_column_letter(c)].width = min(max(width + 2, 10), 60)
            for r in range(2, n_rows + 2):
                ws.cell(row=r, column=c).fill = INPUT_FILL
            column = _column_spec(spec, header) if spec is not None else None
            choices = column.choices if column is not None else ()
            if column is not None and column.kind == schema.BOOL:
                choices = schema.YES_NO
            if choices:
                _dropdown(
                    ws, choices, f"{get_column_letter(c)}2:{get_column_letter(c)}{n_rows + 1}"
                )
        if name == schema.SETTINGS_SHEET.name:
            _settings_dropdowns(ws, rows)
        ws.freeze_panes = "A2"
    atomic_write(path, wb.save)


def _dropdown(ws, choices: Sequence[str], cells: str) -> None:
    validation = DataValidation(
        type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True
    )
    validation.add(cells)
    ws.add_data_validation(validation)


def _settings_dropdowns(ws, rows: SheetRows) -> None:
    specs = schema.settings_by_key()
    for r, row in enumerate(rows, start=2):
        spec = specs.get(str(row[0]))
        if spec is not None and spec.choices:
            _dropdown(ws, spec.choices, f"B{r}")
        if spec is not None:
            unit = f" Unit: {spec.unit}." if spec.unit else ""
            ws.cell(row=r, column=1).comment = Comment(
                f"{spec.description}{unit}", "costmodel", width=320, height=90
            )


# The starter workbook: a small valid model (healthy / sick / dead, two strategies), one
# function per sheet, each returning (headers, rows) as fresh lists.

_Sheet = tuple[list[str], list[list[object]]]

# Rows of the starter Parameters sheet, in the columns of _starter_parameters (name, value,
# distribution, param1..3, low, high, unit, group, description, source); copied into fresh
# lists on each call.
_STARTER_PARAMETERS: tuple[tuple[object, ...], ...] = (
    (
        "p_progress",
        0.15,
        "beta",
        15,
        85,
        None,
        0.1,
        0.2,
        "probability per year",
        "clinical",
        "Annual probability healthy -> sick",
        "Assumption [A]",
    ),
    (
        "p_death_sick",
        0.2,
        "beta",
        20,
        80,
        None,
        0.15,
        0.25,
        "probability per year",
        "clinical",
        "Annual probability of death when sick",
        "Assumption [A]",
    ),
    (
        "rr_treatment",
        0.7,
        "lognormal",
        -0.3567,
        0.1,
        None,
        0.55,
        0.9,
        "risk ratio",
        "effect",
        "Effect of treatment on progression",
        "Assumption [A]",
    ),
    (
        "c_treatment",
        1000,
        None,
        None,
        None,
        None,
        500,
        2000,
        "GBP per year",
        "costs",
        "Annual treatment cost",
        "Assumption [A]",
    ),
    (
        "c_sick",
        5000,
        "gamma",
        100,
        50,
        None,
        4000,
        6000,
        "GBP per year",
        "costs",
        "Annual cost of the sick state",
        "Assumption [A]",
    ),
    (
        "u_healthy",
        0.85,
        "beta",
        85,
        15,
        None,
        0.8,
        0.9,
        "utility",
        "utilities",
        "Utility when healthy",
        "Assumption [A]",
    ),
    (
        "u_sick",
        0.6,
        "beta",
        60,
        40,
        None,
        0.5,
        0.7,
        "utility",
        "utilities",
        "Utility when sick",
        "Assumption [A]",
    ),
)


def starter_sheets() -> dict[str, tuple[list[str], list[list[object]]]]:
    """A small valid model (healthy / sick / dead, two strategies) to start from."""
    return {
        "Settings": _starter_settings(),
        "Parameters": _starter_parameters(),
        "Phases": _starter_phases(),
        "States": _starter_states(),
        "Transitions": _starter_transitions(),
        "Strategies": _starter_strategies(),
        "LifeTable": _starter_life_table(),
    }


def _starter_settings() -> _Sheet:
    settings = [
        ["name", "Starter model: treatment slowing progression", ""],
        ["description", "Replace with your decision problem.", ""],
        ["perspective", "Health-care payer", ""],
        ["currency", "GBP", ""],
        ["price_year", 2024, ""],
        ["discount_rate_costs", 0.035, "NICE reference case"],
        ["discount_rate_outcomes", 0.035, "NICE reference case"],
        ["within_cycle_correction", "half-cycle", ""],
        ["discount_timing", "method", "the correction method's own timing"],
        ["start_age", 60, ""],
        ["prop_female", 0.5, ""],
        ["wtp", "20000, 30000", "GBP per QALY"],
        ["effect_measure", "qaly", ""],
        ["psa_samples", 1000, ""],
        ["seed", 1, ""],
    ]
    return ["setting", "value", "description"], settings


# The Parameters columns a workbook usually needs, in the order workbooks write them (the
# starter template and the scripts that build the committed workbooks share it).
PARAMETER_HEADERS = (
    "name",
    "value",
    "distribution",
    "param1",
    "param2",
    "param3",
    "low",
    "high",
    "unit",
    "group",
    "description",
    "source",
)


def _starter_parameters() -> _Sheet:
    return list(PARAMETER_HEADERS), [list(row) for row in _STARTER_PARAMETERS]


def _starter_phases() -> _Sheet:
    return (
        ["key", "label", "cycle_length", "cycle_unit", "n_cycles", "until_age"],
        [["lifetime", "Lifetime", 1, "year", None, 100]],
    )


def _starter_states() -> _Sheet:
    states = [
        ["healthy", "Healthy", "yes", "u_healthy", "c_drug", None, 1, "Not progressed"],
        ["sick", "Sick", "yes", "u_sick", "c_sick", None, None, "Progressed"],
        ["dead", "Dead", "no", 0, 0, None, None, "Absorbing"],
    ]
    return (
        ["key", "label", "alive", "utility", "cost", "tunnel_length", "initial", "description"],
        states,
    )


def _starter_transitions() -> _Sheet:
    transitions = [
        ["healthy", "sick", None, "p_progress * rr", None, "Treatment slows progression"],
        ["healthy", "dead", None, "p_background_death()", None, "Life-table mortality"],
        ["healthy", "healthy", None, "C", None, "Stay (the rest of the row)"],
        ["sick", "dead", None, "max(p_death_sick, p_background_death())", None, ""],
        ["sick", "sick", None, "C", None, ""],
        ["dead", "dead", None, 1, None, "Absorbing"],
    ]
    return ["from", "to", "strategy", "probability", "cost", "description"], transitions


def _starter_strategies() -> _Sheet:
    strategies = [
        ["no_treatment", "No treatment", "Current care", "1", "0"],
        ["treatment", "Treatment", "Current care plus treatment", "rr_treatment", "c_treatment"],
    ]
    return ["key", "label", "description", "rr", "c_drug"], strategies


def _starter_life_table() -> _Sheet:
    """An illustrative life table (qx rising 9% a year of age); replace it with a real one."""
    life_table = [
        [age, round(0.0005 * 1.09 ** (age - 20), 6), round(0.0004 * 1.09 ** (age - 20), 6)]
        for age in range(20, 101)
    ]
    for row in life_table:
        row[1], row[2] = min(row[1], 1.0), min(row[2], 1.0)
    return ["age", "qx_male", "qx_female"], life_table


def write_template(path: str | Path) -> None:
    """Write the starter workbook (an illustrative life table; replace it with a real one)."""
    write_workbook(path, starter_sheets())
