"""Numbers typed as text are read as written or refused, never guessed (issue #16, item 3):
'20,000' in a list was [20, 0], n_cycles '2,0' ran 20 cycles and '2_0' was accepted as 20."""

from __future__ import annotations

import pytest

from costmodel.errors import InputError
from costmodel.validate import load_inputs
from tests.conftest import HIV_WORKBOOK, edit_workbook


def _settings(tmp_path, setting: str, value: object):
    path = edit_workbook(
        HIV_WORKBOOK, tmp_path / "numbers.xlsx", {("Settings", setting, "value"): value}
    )
    return load_inputs(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20000, 30000", (20000.0, 30000.0)),
        ("20000; 30000", (20000.0, 30000.0)),
        ("20,000", (20000.0,)),
        ("20,000; 30,000", (20000.0, 30000.0)),
        ("20,000, 30,000", (20000.0, 30000.0)),
    ],
)
def test_wtp_lists_read_as_written(tmp_path, text, expected):
    inputs = _settings(tmp_path, "wtp", text)
    assert inputs.settings.wtp == expected
    if "," in text.replace(", ", ""):
        assert any("thousands separator" in w for w in inputs.warnings)


@pytest.mark.parametrize(
    ("setting", "text", "hint"),
    [
        ("n_cycles", "2,0", "no thousands separator"),
        ("n_cycles", "2_0", "digits only"),
        ("discount_rate_costs", "0,06", "point for decimals"),
        ("wtp", "20000,30000", "point for decimals"),
        ("n_cycles", "20 0", "digits only"),
    ],
)
def test_ambiguous_numbers_are_refused_at_their_cell(tmp_path, setting, text, hint):
    with pytest.raises(InputError) as caught:
        _settings(tmp_path, setting, text)
    message = str(caught.value)
    assert "Settings!B" in message and hint in message and repr(text) in message
