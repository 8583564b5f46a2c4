"""Hidden sheets are never read silently (issue #16, item 2): a hidden 'parameters ' placed
first was the one modelled (monotherapy cost 2,171,099 instead of 44,663)."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from costmodel.errors import InputError
from costmodel.validate import load_inputs
from tests.conftest import HIV_WORKBOOK


def _with_sheet(tmp_path, title: str, state: str, index: int = 0):
    wb = load_workbook(HIV_WORKBOOK)
    ws = wb.copy_worksheet(wb["Parameters"])
    ws.title = title
    ws.sheet_state = state
    wb.move_sheet(ws, offset=-(len(wb.sheetnames) - 1 - index))
    ws["B2"] = 999_999  # a different value that must never reach the model
    path = tmp_path / "hidden.xlsx"
    wb.save(path)
    return path


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_named_like_a_model_sheet_is_refused(tmp_path, state):
    path = _with_sheet(tmp_path, "parameters ", state)
    with pytest.raises(InputError, match="is hidden and named like the parameters sheet"):
        load_inputs(path)


def test_an_unrelated_hidden_sheet_is_left_out_with_a_warning(tmp_path):
    path = _with_sheet(tmp_path, "old notes", "hidden")
    inputs = load_inputs(path)
    assert any("hidden sheet 'old notes' is not read" in w for w in inputs.warnings)
    assert inputs.parameter("c_dmed_a").expression.evaluate({}) == 1701  # the visible sheet


def test_two_visible_sheets_with_the_same_name_but_for_case_are_refused(tmp_path):
    path = _with_sheet(tmp_path, "parameters ", "visible")
    with pytest.raises(InputError, match="have the same name but for case or spaces"):
        load_inputs(path)
