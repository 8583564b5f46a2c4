"""Shared test helpers: paths to committed workbooks and a cell editor for variants."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

ROOT = Path(__file__).resolve().parents[1]
HIV_WORKBOOK = ROOT / "inputs" / "examples" / "chancellor_hiv.xlsx"
DATA = Path(__file__).resolve().parent / "data"


def edit_workbook(source: Path, target: Path, edits: dict[tuple[str, str, str], object]) -> Path:
    """Copy ``source`` to ``target`` changing cells addressed as (sheet, row key, column).

    The row key is matched against the first column (parameter name, setting, state key...);
    the column by its header. A value of ``None`` blanks the cell.
    """
    shutil.copyfile(source, target)
    wb = load_workbook(target)
    for (sheet_name, key, column), value in edits.items():
        ws = wb[sheet_name]
        headers = [str(c.value).strip().lower() if c.value is not None else "" for c in ws[1]]
        col = headers.index(column) + 1
        for row in ws.iter_rows(min_row=2):
            if row[0].value is not None and str(row[0].value).strip() == key:
                ws.cell(row=row[0].row, column=col).value = value  # None blanks the cell
                break
        else:
            raise KeyError(f"{sheet_name}: no row {key!r}")
    wb.save(target)
    return target


@pytest.fixture
def hiv_variant(tmp_path):
    """Factory: a copy of the HIV workbook with some cells changed."""

    def make(edits: dict[tuple[str, str, str], object], name: str = "variant.xlsx") -> Path:
        return edit_workbook(HIV_WORKBOOK, tmp_path / name, edits)

    return make
