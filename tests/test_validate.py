"""Bad workbooks are refused with every problem listed as file: Sheet!Cell: message."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from costmodel.api import run_workbook
from costmodel.cli import main
from costmodel.errors import InputError, ModelCheckError
from costmodel.validate import load_inputs
from tests.conftest import HIV_WORKBOOK


def _problems(path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_inputs(path)
    return [str(p) for p in info.value.problems]


def test_committed_hiv_workbook_is_valid():
    inputs = load_inputs(HIV_WORKBOOK)
    assert inputs.strategy_keys == ("monotherapy", "combination")
    assert inputs.cost_categories == ("community", "drug", "medical")
    assert inputs.warnings == ()


def test_several_problems_are_reported_together_sorted_by_sheet_and_cell(hiv_variant):
    path = hiv_variant(
        {
            ("Parameters", "p_ab", "value"): "n_ab / n_total",  # unknown name
            ("Parameters", "c_dmed_a", "value"): "17%",  # percentage
            ("States", "state_b", "alive"): "maybe",
            ("Transitions", "state_c", "probability"): 17,  # first state_c row: C -> 17
        }
    )
    problems = _problems(path)
    assert len(problems) == 4
    assert problems[0].startswith("variant.xlsx: Parameters!B")
    assert "unknown parameter 'n_total'" in problems[0] or "unknown" in " ".join(problems)
    assert any("0.17, not 17%" in p for p in problems)
    assert any(p.startswith("variant.xlsx: States!C3:") and "yes or no" in p for p in problems)
    assert any("Transitions!D" in p and "Enter 0.17, not a percentage" in p for p in problems)
    assert [p.split(":")[1] for p in problems] == sorted(
        [p.split(":")[1] for p in problems], key=lambda s: (s.split("!")[0],)
    )


def test_native_excel_formula_is_refused_with_advice(tmp_path):
    target = tmp_path / "formula.xlsx"
    wb = load_workbook(HIV_WORKBOOK)
    ws = wb["Parameters"]
    ws["B2"] = "=1000+251"
    wb.save(target)
    (problem,) = _problems(target)
    assert problem.startswith("formula.xlsx: Parameters!B2: ")
    assert "without '='" in problem


def test_circular_parameter_references_are_named(hiv_variant):
    path = hiv_variant(
        {("Parameters", "n_aa", "value"): "n_a - n_ab", ("Parameters", "n_ab", "value"): 350}
    )
    (problem,) = _problems(path)
    assert "circular parameter references" in problem
    assert "n_a" in problem and "n_aa" in problem


def test_missing_sheet_and_unknown_state(tmp_path, hiv_variant):
    path = hiv_variant({("Transitions", "death", "to"): "dead"})
    (problem,) = _problems(path)
    assert "Transitions!B11" in problem and "unknown state 'dead'" in problem
    assert "Did you mean 'death'?" in problem

    target = tmp_path / "nosheet.xlsx"
    wb = load_workbook(HIV_WORKBOOK)
    del wb["States"]
    wb.save(target)
    (problem,) = _problems(target)
    assert "required sheet 'States' is missing" in problem


def test_division_by_zero_in_a_parameter_names_its_cell(hiv_variant):
    path = hiv_variant(
        {
            ("Parameters", "n_c", "value"): "n_cc * 0",
        }
    )
    problems = _problems(path)
    assert any("division by zero" in p and "Parameters!" in p for p in problems)


def test_row_not_summing_to_one_is_caught_at_run_time_with_strategy_and_state(hiv_variant):
    path = hiv_variant({("Transitions", "state_c", "probability"): 0.5})  # C -> 0.5, no rest
    with pytest.raises(ModelCheckError) as info:
        run_workbook(path, psa_samples=0, deterministic=False)
    message = str(info.value)
    assert "strategy 'monotherapy'" in message and "from 'state_c'" in message
    assert "not 1" in message


def test_complement_below_zero_is_reported(hiv_variant):
    path = hiv_variant({("Parameters", "rr_combination", "value"): 4})
    with pytest.raises(ModelCheckError) as info:
        run_workbook(path, psa_samples=0, deterministic=False)
    message = str(info.value)
    assert "strategy 'combination'" in message and "cycles 1-2" in message
    assert "more than 1" in message


def test_cli_validate_exit_codes_and_output(capsys, hiv_variant):
    assert main(["validate", str(HIV_WORKBOOK)]) == 0
    assert "valid" in capsys.readouterr().out
    path = hiv_variant({("Settings", "wtp", "value"): "lots"})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("variant.xlsx: Settings!B12: setting 'wtp' must be a number")
    assert "Traceback" not in err


def test_not_an_xlsx_file_is_refused(tmp_path):
    fake = tmp_path / "table.xlsx"
    fake.write_text("a,b\n1,2\n")
    (problem,) = _problems(fake)
    assert "not an .xlsx workbook" in problem


def test_a_missing_column_does_not_hide_other_sheets_problems(tmp_path):
    """Issue #16, item 4: Transitions without its probability column, and a bad parameter
    cell: both are reported at once."""
    from openpyxl import load_workbook as open_workbook

    from costmodel.errors import InputError
    from costmodel.validate import load_inputs
    from tests.conftest import HIV_WORKBOOK

    wb = open_workbook(HIV_WORKBOOK)
    ws = wb["Transitions"]
    header = [c.value for c in ws[1]]
    ws.delete_cols(header.index("probability") + 1)
    wb["Parameters"]["B3"] = "2,0"
    path = tmp_path / "two_problems.xlsx"
    wb.save(path)
    with pytest.raises(InputError) as error:
        load_inputs(path)
    text = str(error.value)
    assert "Transitions!1: required column 'probability' is missing" in text
    assert "Parameters!B3" in text


def test_a_root_cause_comes_first_and_follow_ons_are_summarised(tmp_path):
    """Issue #16, item 10: a broken phase key makes dozens of follow-on problems (states of an
    unknown phase, calibration entries...). The Phases problem is listed first; past 25
    problems the rest is counted by sheet."""
    from openpyxl import load_workbook as open_workbook

    from costmodel.errors import MAX_LISTED_PROBLEMS, InputError
    from costmodel.validate import load_inputs
    from tests.test_msc_model import COVID

    wb = open_workbook(COVID)
    wb["Phases"]["A2"] = "acute phase"
    path = tmp_path / "broken_phase.xlsx"
    wb.save(path)
    with pytest.raises(InputError) as error:
        load_inputs(path)
    lines = str(error.value).splitlines()
    assert "Phases!A2" in lines[0]
    assert len(error.value.problems) > MAX_LISTED_PROBLEMS + 10
    summaries = lines[MAX_LISTED_PROBLEMS:]
    assert summaries and all("more problem(s) not listed" in line for line in summaries)
    counted = sum(int(line.split(": ")[2].split()[0]) for line in summaries)
    assert counted == len(error.value.problems) - MAX_LISTED_PROBLEMS


@pytest.mark.parametrize("sheet, column", [("States", "alive")])
def test_a_missing_column_does_not_hide_problems_of_the_sheets_that_refer_to_it(
    tmp_path, sheet, column
):
    """Issue #16, item 4: States without a required column and a broken transition
    probability: both are reported, and no follow-on of the missing column."""
    from openpyxl import load_workbook as open_workbook

    from costmodel.errors import InputError
    from costmodel.validate import load_inputs
    from tests.conftest import HIV_WORKBOOK

    wb = open_workbook(HIV_WORKBOOK)
    ws = wb[sheet]
    header = [c.value for c in ws[1]]
    ws.delete_cols(header.index(column) + 1)
    transitions = wb["Transitions"]
    probability = [c.value for c in transitions[1]].index("probability") + 1
    transitions.cell(row=3, column=probability).value = "p_ab *"
    path = tmp_path / "two_sheets.xlsx"
    wb.save(path)
    with pytest.raises(InputError) as error:
        load_inputs(path)
    text = str(error.value)
    assert f"{sheet}!1: required column '{column}' is missing" in text
    cell = f"Transitions!{transitions.cell(row=3, column=probability).coordinate}"
    assert cell in text
    assert text.count(f"{sheet}!") == 1, text  # the missing column only, no follow-ons
