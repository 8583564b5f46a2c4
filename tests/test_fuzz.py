"""Fuzzing: any cell of a workbook set to any value gives results or a CostModelError.

Random cells of the HIV workbook (and, in about one example in ten, of the MSC workbook) are
replaced by values a spreadsheet can hold: blanks, integers, floats including NaN, infinity,
huge and negative ones, text (Unicode, blanks, 'nan', '=1+1', '1e308'), booleans and dates.
Then ``load_model`` and ``run_model`` must either succeed or raise
:class:`costmodel.errors.CostModelError` (InputError, ModelCheckError); any other exception is
a bug, and hypothesis prints the smallest example that raises it.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from costmodel.errors import CostModelError
from costmodel.model import run_model
from costmodel.validate import load_inputs
from tests.conftest import HIV_WORKBOOK, ROOT

WORKBOOKS = {"hiv": HIV_WORKBOOK, "msc": ROOT / "inputs" / "msc_covid19.xlsx"}


@dataclass(frozen=True)
class Layout:
    """Where the data of one workbook is: per sheet, its data rows and header columns."""

    data: bytes
    sheets: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]
    values: tuple[object, ...]  # every value in the workbook: names and numbers out of place


@cache
def layout(name: str) -> Layout:
    data = WORKBOOKS[name].read_bytes()
    wb = load_workbook(io.BytesIO(data))
    sheets = []
    values: set[object] = set()
    for ws in wb.worksheets:
        columns = tuple(c.column for c in ws[1] if c.value is not None)
        rows = tuple(
            row[0].row for row in ws.iter_rows(min_row=2) if any(c.value is not None for c in row)
        )
        if columns and rows:
            sheets.append((ws.title, rows, columns))
        values.update(c.value for row in ws.iter_rows() for c in row if c.value is not None)
    return Layout(data, tuple(sheets), tuple(sorted(values, key=repr)))


SPECIAL_TEXT = [
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "=1+1",
    "=A1*2",
    "1e308",
    "1e309",
    "-1e308",
    "17%",
    "C",
    "c",
    "yes",
    "no",
    "TRUE",
    "0",
    "1",
    "-1",
    "0.5",
    "1,000",
    "1 000",
    "10**400",
    "9**9**9",
    "2 ^ 3",
    "a.b",
    "__import__('os')",
    "lambda: 1",
    "(" * 60 + "1" + ")" * 60,
    "1/0",
    "log(0)",
    "sqrt(-1)",
    "p_ab, p_ac",
    "state_a",
    "death",
    "monotherapy",
    "combination",
    "all",
    "beta",
    "dirichlet",
    "mean_se",
    "ci95",
    "year",
    "day",
    "ÄÖÜ ß 日本語 🙂",
    "\u00a0",
    "x" * 3000,
]

# openpyxl refuses control characters in cells (as Excel does), so leave them out.
printable = st.characters(blacklist_categories=("Cs", "Cc"))

cell_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, 1, -1, 2**31, 2**53 + 1, 10**20, -(10**20)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-320, 1e308, -1e308, 0.17, 17.0, 1.5, -0.5]),
    st.sampled_from(SPECIAL_TEXT),
    st.text(alphabet=printable, max_size=20),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.times(),
)


@st.composite
def mutations(draw, name: str) -> list[tuple[str, str, object]]:
    """One to three (sheet, cell address, value) edits on data rows of workbook ``name``."""
    sheets = layout(name).sheets
    edits = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        sheet, rows, columns = draw(st.sampled_from(sheets))
        row = draw(st.sampled_from(rows))
        column = draw(st.sampled_from(columns))
        value = draw(
            st.one_of(
                cell_values, st.sampled_from(SPECIAL_TEXT), st.sampled_from(layout(name).values)
            )
        )
        edits.append((sheet, f"{get_column_letter(column)}{row}", value))
    return edits


@st.composite
def mutated_workbooks(draw) -> tuple[str, list[tuple[str, str, object]]]:
    name = "msc" if draw(st.integers(min_value=0, max_value=9)) == 9 else "hiv"
    return name, draw(mutations(name))


def write_variant(name: str, edits: list[tuple[str, str, object]], folder: Path) -> Path:
    wb = load_workbook(io.BytesIO(layout(name).data))
    for sheet, cell, value in edits:
        wb[sheet][cell].value = value
    path = folder / f"fuzz_{name}.xlsx"
    wb.save(path)
    return path


def check_model_or_cost_model_error(path: Path) -> None:
    """The property: results, or an error a user can act on; nothing else."""
    try:
        inputs = load_inputs(path)
        outcomes = run_model(inputs)
    except CostModelError as exc:
        assert str(exc).strip(), "a CostModelError without a message"
        return
    assert outcomes.cost.shape == (1, len(inputs.strategies))


FUZZ = {
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "derandomize": True,  # the same examples on every run: no flaky suite (STYLE.md 8)
    "database": None,
}


@settings(max_examples=30, deadline=None, **FUZZ)
@given(variant=mutated_workbooks())
def test_mutated_workbook_runs_or_raises_cost_model_error(variant):
    name, edits = variant
    with tempfile.TemporaryDirectory() as folder:
        check_model_or_cost_model_error(write_variant(name, edits, Path(folder)))


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, **FUZZ)
@given(variant=mutated_workbooks())
def test_mutated_workbook_runs_or_raises_cost_model_error_long(variant):
    name, edits = variant
    with tempfile.TemporaryDirectory() as folder:
        check_model_or_cost_model_error(write_variant(name, edits, Path(folder)))
