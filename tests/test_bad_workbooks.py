"""Malformed workbooks are refused with exit code 2 and a located message, never a traceback.

The contract (issue "Robustness"): for bad input, ``costmodel validate`` and ``costmodel run``
exit with code 2 and print every problem as ``<file>: <Sheet>!<Cell>: what is wrong``
(or ``<file>: <Sheet>: ...`` when no single cell applies), sorted by sheet and cell, without a
traceback. Each case below edits a copy of a committed workbook in ``tmp_path`` (never
``inputs/``) with openpyxl, runs the command line in-process and checks exit code, location
and a phrase that says what is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from costmodel.api import run_workbook
from costmodel.cli import main
from tests.conftest import HIV_WORKBOOK, ROOT

MSC_WORKBOOK = ROOT / "inputs" / "msc_covid19.xlsx"

# ---------------------------------------------------------------------------- helpers


def _header_index(ws: Worksheet, column: str) -> int:
    """1-based index of the column whose header is ``column`` (case-insensitive)."""
    headers = [str(c.value).strip().lower() if c.value is not None else "" for c in ws[1]]
    return headers.index(column.lower()) + 1


def _last_row(ws: Worksheet) -> int:
    """Last row holding any value (committed sheets carry formatted blank rows below)."""
    last = 1
    for row in ws.iter_rows(min_row=2):
        if any(c.value is not None for c in row):
            last = row[0].row
    return last


def _row_of(ws: Worksheet, key: str, nth: int = 1) -> int:
    """Row whose first cell is ``key`` (the ``nth`` such row)."""
    seen = 0
    for row in ws.iter_rows(min_row=2):
        if row[0].value is not None and str(row[0].value).strip() == key:
            seen += 1
            if seen == nth:
                return row[0].row
    raise KeyError(f"{ws.title}: no row {key!r}")


def address(wb: Workbook, sheet: str, key: str, column: str, nth: int = 1) -> str:
    """'Sheet!B14' of the cell in row ``key`` and column ``column``."""
    ws = wb[sheet]
    letter = get_column_letter(_header_index(ws, column))
    return f"{sheet}!{letter}{_row_of(ws, key, nth)}"


def put(wb: Workbook, sheet: str, key: str, column: str, value: object, nth: int = 1) -> str:
    """Set one cell addressed by row key and column header; return its 'Sheet!A1' address."""
    ws = wb[sheet]
    col = _header_index(ws, column)
    row = _row_of(ws, key, nth)
    ws.cell(row=row, column=col).value = value  # cell(value=None) would not blank it
    return f"{sheet}!{get_column_letter(col)}{row}"


def append(wb: Workbook, sheet: str, values: dict[str, object]) -> int:
    """Write a new record below the last non-blank row; return its row number."""
    ws = wb[sheet]
    row = _last_row(ws) + 1
    for column, value in values.items():
        ws.cell(row=row, column=_header_index(ws, column)).value = value
    return row


def add_column(wb: Workbook, sheet: str, header: str) -> str:
    """Add a header in the first free column; return its letter."""
    ws = wb[sheet]
    col = max(c.column for c in ws[1] if c.value is not None) + 1
    ws.cell(row=1, column=col, value=header)
    return get_column_letter(col)


def add_parameter(wb: Workbook, **values: object) -> str:
    """Append a Parameters row; return the address of its value cell."""
    row = append(wb, "Parameters", values)
    return f"Parameters!{get_column_letter(_header_index(wb['Parameters'], 'value'))}{row}"


def add_sheet(wb: Workbook, name: str, header: list[str], rows: list[list[object]]) -> None:
    """A sheet with these rows only (an existing sheet of that name is replaced)."""
    if name in wb.sheetnames:
        del wb[name]
    ws = wb.create_sheet(name)
    ws.append(header)
    for row in rows:
        ws.append(row)


# ---------------------------------------------------------------------------- the contract

LOCATED = r"[A-Za-z][A-Za-z0-9_ ]*(![A-Z]{0,3}[0-9]+)?[:,]"


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


PROGRESS = re.compile(r"^(\[\d+/\d+\] |PSA: \d+% of )")  # the run's progress lines


def error_lines(err: str) -> list[str]:
    return [
        line
        for line in err.splitlines()
        if line.strip() and not line.startswith("warning:") and not PROGRESS.match(line)
    ]


def assert_refused(
    code: int,
    out: str,
    err: str,
    file: str,
    location: str | tuple[str, ...],
    phrase: str | tuple[str, ...],
) -> list[str]:
    """Exit 2, no traceback, every problem located, one at ``location`` (or at one of several
    acceptable locations) saying ``phrase`` (every part of it)."""
    output = out + err
    assert "Traceback" not in output, output
    assert code == 2, f"exit code {code}, expected 2:\n{output}"
    lines = error_lines(err)
    assert lines, f"nothing printed on stderr:\n{output}"
    for line in lines:
        assert re.match(rf"{re.escape(file)}: {LOCATED} ", line), f"no sheet/cell: {line!r}"
    phrases = (phrase,) if isinstance(phrase, str) else phrase
    locations = (location,) if isinstance(location, str) else location
    pattern = "|".join(
        re.escape(where) + ("[:,]" if "!" in where else "[:,!]") for where in locations
    )
    wanted = [line for line in lines if re.match(rf"{re.escape(file)}: (?:{pattern})", line)]
    assert wanted, f"no problem located at {' or '.join(locations)}:\n{err}"
    assert any(all(p in line for p in phrases) for line in wanted), (
        f"no problem at {' or '.join(locations)} says {phrases}:\n{err}"
    )
    return lines


@dataclass(frozen=True)
class Case:
    """One malformed workbook: ``edit`` changes a copy and returns the expected location."""

    id: str
    source: Path
    edit: Callable[[Workbook], str | tuple[str, ...]]
    phrase: str | tuple[str, ...]
    command: str = "validate"  # or "run" for problems only a model run can find
    dsa: bool = False  # `run` must include the deterministic analyses to meet the problem
    psa_samples: int = 0  # likewise the PSA (and value of information)


HIV, MSC = HIV_WORKBOOK, MSC_WORKBOOK


# ---------------------------------------------------------------------------- edits


def _missing_sheet(wb: Workbook) -> str:
    del wb["States"]
    return "States"


def _missing_column(wb: Workbook) -> str:
    ws = wb["Transitions"]
    ws.cell(row=1, column=_header_index(ws, "probability"), value="prob")
    return "Transitions"


def _duplicate_header(wb: Workbook) -> str:
    letter = add_column(wb, "States", "utility")
    return f"States!{letter}1"


def _duplicate_parameter(wb: Workbook) -> str:
    row = append(wb, "Parameters", {"name": "c_lamivudine", "value": 1})
    return f"Parameters!A{row}"


def _duplicate_state(wb: Workbook) -> str:
    row = append(wb, "States", {"key": "state_b", "alive": "yes", "utility": 1})
    return f"States!A{row}"


def _duplicate_strategy(wb: Workbook) -> str:
    row = append(wb, "Strategies", {"key": "combination", "rr": "1", "c_drugs": "c_zidovudine"})
    return f"Strategies!A{row}"


def _duplicate_setting(wb: Workbook) -> str:
    row = append(wb, "Settings", {"setting": "seed", "value": 7})
    return f"Settings!A{row}"


def _duplicate_transition(wb: Workbook) -> str:
    row = append(wb, "Transitions", {"from": "state_b", "to": "death", "probability": "0.01"})
    return f"Transitions!A{row}"


def _set(
    sheet: str, key: str, column: str, value: object, nth: int = 1
) -> Callable[[Workbook], str]:
    return lambda wb: put(wb, sheet, key, column, value, nth)


def _located(edit: Callable[[Workbook], str], where: str | Callable[[Workbook], str]):
    """``edit``, but the problem is expected at ``where`` (an address, a sheet, or a function
    of the edited workbook returning one)."""

    def run(wb: Workbook) -> str:
        edit(wb)
        return where(wb) if callable(where) else where

    return run


def _value_cell(name: str) -> Callable[[Workbook], str]:
    """Distribution and naming problems are reported at the parameter's value cell."""
    return lambda wb: address(wb, "Parameters", name, "value")


def _excel_formula(wb: Workbook) -> str:
    where = put(wb, "Parameters", "c_dmed_a", "value", "=A1*2")
    cell = wb["Parameters"][where.split("!")[1]]
    assert cell.data_type == "f"  # a real formula cell, as Excel would store it
    return where


def _circular(wb: Workbook) -> str:
    put(wb, "Parameters", "n_a", "value", "n_aa + n_ab + n_ac + n_ad + p_ab")
    return address(wb, "Parameters", "n_a", "value")


def _division_by_zero(wb: Workbook) -> str:
    put(wb, "Parameters", "n_c", "value", "n_cc * 0")
    return address(wb, "Parameters", "p_cd", "value")  # p_cd = n_cd / n_c


def _second_complement(wb: Workbook) -> str:
    return put(wb, "Transitions", "state_a", "probability", "C", nth=2)


def _unknown_state_from(wb: Workbook) -> str:
    return put(wb, "Transitions", "state_b", "from", "state_z")


def _unknown_strategy(wb: Workbook) -> str:
    return put(wb, "Transitions", "state_c", "strategy", "combo", nth=2)


def _phase_crossing_transition(wb: Workbook) -> str:
    return put(wb, "Transitions", "o2", "to", "post_noimv")


def _extra_probability_parameter(**values: object) -> Callable[[Workbook], str]:
    return lambda wb: add_parameter(wb, name="p_extra", value=0.1, **values)


def _correlations(rows: list[list[object]], location: str) -> Callable[[Workbook], str]:
    def edit(wb: Workbook) -> str:
        add_sheet(wb, "Correlations", ["parameter_a", "parameter_b", "correlation", "type"], rows)
        return location

    return edit


def _scenarios(rows: list[list[object]], location: str | tuple[str, ...]):
    def edit(wb: Workbook) -> str | tuple[str, ...]:
        add_sheet(wb, "Scenarios", ["scenario", "description", "target", "value"], rows)
        return location

    return edit


def _truncate_life_table(wb: Workbook) -> str:
    ws = wb["LifeTable"]
    first = _row_of(ws, "81") if _has_key(ws, "81") else _row_of_number(ws, 81)
    ws.delete_rows(first, _last_row(ws) - first + 1)
    return "LifeTable!A2"


def _has_key(ws: Worksheet, key: str) -> bool:
    try:
        _row_of(ws, key)
    except KeyError:
        return False
    return True


def _row_of_number(ws: Worksheet, number: int) -> int:
    for row in ws.iter_rows(min_row=2):
        if row[0].value is not None and float(row[0].value) == number:
            return row[0].row
    raise KeyError(number)


def _life_table_gap(wb: Workbook) -> str:
    ws = wb["LifeTable"]
    row = _row_of(ws, "40") if _has_key(ws, "40") else _row_of_number(ws, 40)
    ws.delete_rows(row)
    return f"LifeTable!A{row}"  # age 41 moves up into the deleted row


def _life_table_qx(wb: Workbook) -> str:
    ws = wb["LifeTable"]
    row = _row_of(ws, "70") if _has_key(ws, "70") else _row_of_number(ws, 70)
    col = _header_index(ws, "qx_male")
    ws.cell(row=row, column=col, value=12)
    return f"LifeTable!{get_column_letter(col)}{row}"


def _both_cycle_counts(wb: Workbook) -> str:
    put(wb, "Phases", "longterm", "n_cycles", 37)
    return address(wb, "Phases", "longterm", "n_cycles")


def _neither_cycle_count(wb: Workbook) -> str:
    put(wb, "Phases", "longterm", "until_age", None)
    return address(wb, "Phases", "longterm", "n_cycles")


def _unknown_scenario_target(wb: Workbook) -> str:
    row = append(wb, "Scenarios", {"scenario": "typo", "target": "smr_imv_y9", "value": "1"})
    return f"Scenarios!{get_column_letter(_header_index(wb['Scenarios'], 'target'))}{row}"


def _dirichlet_of_one(wb: Workbook) -> str:
    put(wb, "Parameters", "n_cd", "distribution", None)
    put(wb, "Parameters", "n_cd", "dirichlet", None)
    return address(wb, "Parameters", "n_cc", "value")


def _trial_deaths_above_n(wb: Workbook) -> str:
    return put(wb, "Trials", "SHU2020", "deaths_msc", 20)  # n_msc is 12


def _state_boolean_utility(wb: Workbook) -> str:
    return put(wb, "States", "state_b", "utility", True)


def _parameter_date(wb: Workbook) -> str:
    return put(wb, "Parameters", "c_dmed_b", "value", dt.datetime(2021, 3, 1))


CASES = [
    # --- sheets and columns
    Case("missing sheet", HIV, _missing_sheet, "required sheet 'States' is missing"),
    Case("missing column", HIV, _missing_column, "required column 'probability' is missing"),
    Case("duplicate header", HIV, _duplicate_header, "duplicate column header"),
    # --- keys
    Case("duplicate parameter", HIV, _duplicate_parameter, "'c_lamivudine' is defined twice"),
    Case("duplicate state", HIV, _duplicate_state, "state 'state_b' is declared twice"),
    Case("duplicate strategy", HIV, _duplicate_strategy, "'combination' is declared twice"),
    Case("duplicate setting", HIV, _duplicate_setting, "setting 'seed' is given twice"),
    Case("duplicate transition", HIV, _duplicate_transition, "is given twice"),
    Case(
        "invalid parameter name",
        HIV,
        _set("Parameters", "c_dmed_a", "name", "1st cost"),
        "must be a name of letters",
    ),
    Case(
        "reserved parameter name",
        HIV,
        _located(_set("Parameters", "c_dmed_a", "name", "cycle"), _value_cell("cycle")),
        "'cycle' is a reserved name",
    ),
    # --- references
    Case(
        "unknown parameter",
        HIV,
        _set("Parameters", "p_ab", "value", "n_ab / n_total"),
        "unknown parameter 'n_total'",
    ),
    Case(
        "unknown name in transition",
        HIV,
        _set("Transitions", "state_a", "probability", "p_ab * rr_typo", nth=2),
        "unknown name 'rr_typo'",
    ),
    Case(
        "unknown name in state cost",
        HIV,
        _set("States", "state_b", "cost_medical", "c_dmed_x"),
        ("unknown name 'c_dmed_x'", "Did you mean"),
    ),
    Case(
        "unknown state in transitions",
        HIV,
        _set("Transitions", "death", "to", "dead"),
        ("unknown state 'dead'", "Did you mean 'death'"),
    ),
    Case("unknown from state", HIV, _unknown_state_from, "unknown state 'state_z'"),
    Case("unknown strategy in transitions", HIV, _unknown_strategy, "unknown strategy 'combo'"),
    Case("two complements in a row", HIV, _second_complement, "more than one C"),
    Case(
        "transition across phases",
        MSC,
        _phase_crossing_transition,
        "are in different phases",
    ),
    # --- expressions
    Case(
        "syntax error",
        HIV,
        _set("Parameters", "p_ab", "value", "n_ab / (n_a"),
        "cannot parse",
    ),
    Case("caret for power", HIV, _set("Parameters", "c_dmed_a", "value", "41 ^ 2"), "use **"),
    Case("excel formula", HIV, _excel_formula, "native Excel formulas are not evaluated"),
    Case("circular references", HIV, _circular, "circular parameter references"),
    Case("division by zero", HIV, _division_by_zero, "division by zero"),
    Case(
        "attribute access",
        HIV,
        _set("Parameters", "p_ab", "value", "n_ab.real"),
        "attribute access",
    ),
    Case(
        "dunder name",
        HIV,
        _set("Parameters", "p_ab", "value", "__import__('os')"),
        "names starting with '_' are not allowed",
    ),
    Case("lambda", HIV, _set("Parameters", "p_ab", "value", "lambda: 1"), "lambda"),
    Case(
        "huge exponent",
        HIV,
        _set("Parameters", "c_lamivudine", "value", "10**400"),
        "overflow",
    ),
    Case("huge literal", HIV, _set("Parameters", "c_lamivudine", "value", "1e400"), "too large"),
    Case(
        "boolean where an expression belongs",
        HIV,
        _state_boolean_utility,
        "must be a number or an expression",
    ),
    Case("date as a parameter value", HIV, _parameter_date, "must be a number or an expression"),
    Case(
        "blank strategy variable",
        HIV,
        _set("Strategies", "combination", "c_drugs", None),
        "strategy variable 'c_drugs' is blank for strategy 'combination'",
    ),
    # --- probabilities and numbers
    Case(
        "probability 17",
        HIV,
        _set("Transitions", "state_c", "probability", 17, nth=2),
        ("probability must be in [0, 1]", "Enter 0.17, not a percentage"),
    ),
    Case(
        "division by zero in a constant transition probability",
        HIV,
        _set("Transitions", "state_c", "probability", "1/0", nth=2),
        "division by zero",
    ),
    Case(
        "overflow in a constant transition probability",
        HIV,
        _set("Transitions", "state_c", "probability", "1e308 * 10", nth=2),
        "overflow",
    ),
    Case(
        "percent text in transition",
        HIV,
        _set("Transitions", "state_c", "probability", "17%", nth=2),
        "write percentages as proportions: 0.17",
    ),
    Case(
        "percent text in parameter",
        HIV,
        _set("Parameters", "c_dmed_a", "value", "17%"),
        "write percentages as proportions",
    ),
    Case(
        "row not summing to 1",
        HIV,
        # C -> 0.5: nothing takes the rest of the row; no single cell is wrong
        _located(_set("Transitions", "state_c", "probability", 0.5), "Transitions"),
        ("strategy 'monotherapy'", "cycle", "from 'state_c'", "not 1"),
        command="run",
    ),
    Case(
        "complement negative",
        HIV,
        # reported at the C that would become negative
        _located(
            _set("Parameters", "rr_combination", "value", 4),
            lambda wb: address(wb, "Transitions", "state_a", "probability"),
        ),
        ("strategy 'combination'", "cycles 1-2", "more than 1", "C would be -"),
        command="run",
    ),
    Case(
        "initial proportions not summing to 1",
        HIV,
        _set("States", "state_a", "initial", 0.5),
        ("initial proportions", "sum to 0.5", "not 1"),
        command="run",
    ),
    Case(
        "text in numeric column",
        HIV,
        _set("Parameters", "rr_combination", "param1", "abc"),
        "param1 of 'rr_combination' must be a number",
    ),
    Case(
        "text in integer column",
        MSC,
        _set("Phases", "acute", "n_cycles", "ninety"),
        "n_cycles must be a number",
    ),
    # --- distributions
    Case(
        "unknown distribution",
        HIV,
        _set("Parameters", "rr_combination", "distribution", "lognorm"),
        ("must be one of", "Did you mean 'lognormal'"),
    ),
    Case(
        "beta alpha <= 0",
        HIV,
        _extra_probability_parameter(distribution="beta", param1=0, param2=5),
        "alpha > 0",
    ),
    Case(
        "beta mean_se mean > 1",
        HIV,
        _extra_probability_parameter(
            distribution="beta", param1=1.2, param2=0.1, param_type="mean_se"
        ),
        "the mean must be strictly between 0 and 1",
    ),
    Case(
        "beta mean_se SE too large",
        HIV,
        _extra_probability_parameter(
            distribution="beta", param1=0.5, param2=0.6, param_type="mean_se"
        ),
        "the SE is larger than possible",
    ),
    Case(
        "normal on a probability",
        HIV,
        _extra_probability_parameter(distribution="normal", param1=0.1, param2=0.05),
        "can produce values outside [0, 1]",
    ),
    Case(
        "beta on a value above 1",
        HIV,
        lambda wb: add_parameter(
            wb, name="p_extra", value=17, distribution="beta", param1=17, param2=83
        ),
        "Enter 0.17, not 17",
    ),
    Case(
        "distribution on a time-dependent parameter",
        HIV,
        lambda wb: add_parameter(
            wb, name="p_age", value="0.001 * age", distribution="beta", param1=1, param2=99
        ),
        "changes over time (it uses time, age, the life table or entry indicators)",
    ),
    Case(
        "gamma without its parameters",
        HIV,
        _located(_set("Parameters", "c_dmed_a", "distribution", "gamma"), _value_cell("c_dmed_a")),
        ("gamma needs", "is blank"),
    ),
    Case(
        "gamma with negative scale",
        HIV,
        lambda wb: add_parameter(
            wb, name="c_extra", value=100, distribution="gamma", param1=4, param2=-25
        ),
        "gamma needs shape > 0 and scale > 0",
    ),
    Case(
        "lognormal ci95 with lower bound 0",
        HIV,
        _located(_set("Parameters", "rr_combination", "param1", 0), _value_cell("rr_combination")),
        ("lognormal from 95% CI", "0 < lower < upper"),
    ),
    Case(
        "unknown param_type",
        HIV,
        _set("Parameters", "rr_combination", "param_type", "ci90"),
        "param_type must be one of",
    ),
    Case("dirichlet set of one", HIV, _dirichlet_of_one, "dirichlet set 'from_c' has one"),
    Case(
        "correlation matrix not positive definite",
        MSC,
        _correlations(
            [
                ["p_niv_o2", "p_step_death", 0.9, "pearson"],
                ["p_niv_o2", "c_day_ward", 0.9, "pearson"],
                ["p_step_death", "c_day_ward", -0.9, "pearson"],
            ],
            "Correlations",
        ),
        "is not positive definite",
    ),
    Case(
        "contradicting correlations named at their cells, an unrelated one left out",
        MSC,
        _correlations(
            [
                ["p_niv_o2", "p_step_death", 0.9, "pearson"],
                ["c_day_icu", "c_day_niv", 0.3, "pearson"],
                ["p_niv_o2", "c_day_ward", 0.9, "pearson"],
                ["p_step_death", "c_day_ward", -0.9, "pearson"],
            ],
            "Correlations!C2",
        ),
        "the correlations in C2, C4, C5 contradict each other",
    ),
    Case(
        "correlation 1.5",
        MSC,
        _correlations([["p_niv_o2", "p_step_death", 1.5, "rank"]], "Correlations!C2"),
        "strictly between -1 and 1",
    ),
    Case(
        "correlation with an unknown parameter",
        MSC,
        _correlations([["p_niv_o2", "p_nothing", 0.5, "rank"]], "Correlations!B2"),
        "unknown parameter 'p_nothing'",
    ),
    # --- trials and calibration
    Case("trial deaths > n", MSC, _trial_deaths_above_n, "deaths_msc (20) is larger than n_msc"),
    Case(
        "trial count not a number",
        MSC,
        _set("Trials", "BOWDISH2023", "n_msc", "a hundred"),
        "n_msc must be a number",
    ),
    Case(
        "empty trials selection",
        MSC,
        lambda wb: put(wb, "Settings", "synthesis_virus", "value", "ebola"),
        "evidence synthesis",
    ),
    Case(
        "calibration target > 1",
        MSC,
        _set("Calibration", "death_d28_imv", "target", 50.7),
        "target must be a proportion in [0, 1]",
    ),
    Case(
        "calibration unknown outcome state",
        MSC,
        _set("Calibration", "death_d28_imv", "outcome", "deceased"),
        "unknown state 'deceased'",
    ),
    Case("scenario target unknown", MSC, _unknown_scenario_target, "neither a parameter nor"),
    # --- settings
    Case("wtp blank", HIV, _set("Settings", "wtp", "value", None), "setting 'wtp' is required"),
    Case("wtp not numbers", HIV, _set("Settings", "wtp", "value", "lots"), "must be a number"),
    Case("wtp only separators", HIV, _set("Settings", "wtp", "value", ", ;"), "at least one"),
    Case("wtp negative", HIV, _set("Settings", "wtp", "value", "-20000"), "must be >= 0"),
    Case(
        "wtp repeated",
        HIV,
        _set("Settings", "wtp", "value", "20000, 20000"),
        ("wtp", "20000"),
        psa_samples=20,
    ),
    Case(
        "discount rate in percent",
        HIV,
        _set("Settings", "discount_rate_costs", "value", 3.5),
        ("must be <=", "0.035 for 3.5%"),
    ),
    Case(
        "unknown setting",
        HIV,
        _set("Settings", "seed", "setting", "sead"),
        ("unknown setting 'sead'", "Did you mean 'seed'"),
    ),
    Case(
        "unknown within-cycle correction",
        HIV,
        _set("Settings", "within_cycle_correction", "value", "halfcycle"),
        "Did you mean 'half-cycle'",
    ),
    Case(
        "prop_female in percent",
        HIV,
        _set("Settings", "prop_female", "value", 38),
        "must be <= 1",
    ),
    Case(
        "required setting blank",
        HIV,
        _set("Settings", "currency", "value", None),
        "setting 'currency' is required",
    ),
    Case(
        "reference strategy unknown",
        MSC,
        _set("Settings", "reference_strategy", "value", "usual_care"),
        "reference_strategy 'usual_care' is not a strategy",
    ),
    Case(
        "effect parameter unknown",
        MSC,
        _set("Settings", "effect_parameter", "value", "rr_death"),
        "effect_parameter 'rr_death' is not a parameter",
    ),
    # --- cycles and phases
    Case(
        "cycle_length 0 in Settings",
        HIV,
        _set("Settings", "cycle_length", "value", 0),
        "cycle_length must be > 0",
    ),
    Case(
        "cycle_length 0 in Phases",
        MSC,
        _set("Phases", "acute", "cycle_length", 0),
        "cycle_length must be > 0",
    ),
    Case(
        "n_cycles and until_age both given",
        MSC,
        _both_cycle_counts,
        "exactly one of n_cycles and until_age",
    ),
    Case(
        "neither n_cycles nor until_age",
        MSC,
        _neither_cycle_count,
        "exactly one of n_cycles and until_age",
    ),
    Case(
        "until_age below start_age",
        MSC,
        _set("Phases", "longterm", "until_age", 50),
        "needs at least 1",
    ),
    Case(
        "unknown cycle unit",
        MSC,
        _set("Phases", "acute", "cycle_unit", "days"),
        ("cycle_unit must be one of", "Did you mean 'day'"),
    ),
    # --- life table
    Case(
        "life table does not reach the horizon",
        MSC,
        _truncate_life_table,
        ("the life table covers ages 18-80", "extend the table"),
    ),
    Case("life table with a gap", MSC, _life_table_gap, "consecutive"),
    Case("life table qx above 1", MSC, _life_table_qx, "qx_male must be a probability"),
    # --- states
    Case(
        "unknown phase in States",
        MSC,
        _set("States", "dead", "phase", "acutee"),
        "unknown phase 'acutee'",
    ),
    Case(
        "next_state of the wrong phase",
        MSC,
        _set("States", "o2", "next_state", "niv"),
        "next_state of 'o2' must be a state of phase 'longterm'",
    ),
    Case(
        "next_state in the last phase",
        MSC,
        _set("States", "post_imv", "next_state", "post_noimv"),
        "next_state must be blank",
    ),
    Case("blank alive", HIV, _set("States", "state_b", "alive", None), "alive is blank"),
    Case("alive not yes or no", HIV, _set("States", "state_b", "alive", "maybe"), "yes or no"),
    Case(
        "tunnel_length 0",
        MSC,
        _set("States", "imv", "tunnel_length", 0),
        "tunnel_length must be between 1 and 10000",
    ),
    Case(
        "tunnel_length fractional",
        MSC,
        _set("States", "imv", "tunnel_length", 2.5),
        "must be a whole number",
    ),
    Case(
        "initial outside the first phase",
        MSC,
        _set("States", "post_imv", "initial", 0.1),
        "only first-phase states take an initial proportion",
    ),
    # --- settings used by the sensitivity analyses (checked by validate, met by run's DSA)
    Case(
        "twoway names an unknown parameter",
        HIV,
        _set("Settings", "twoway", "value", "rr_combination, c_lamivudin"),
        "c_lamivudin",
        dsa=True,
    ),
    Case(
        "twoway parameter without a range",
        HIV,
        _set("Settings", "twoway", "value", "rr_combination, c_dmed_a"),
        ("c_dmed_a", "low/high"),
        dsa=True,
    ),
    Case(
        "dsa_strategy unknown",
        HIV,
        lambda wb: (
            f"Settings!B{append(wb, 'Settings', {'setting': 'dsa_strategy', 'value': 'combo'})}"
        ),
        "combo",
        dsa=True,
    ),
    Case(
        "threshold_parameter unknown",
        HIV,
        _set("Settings", "threshold_parameter", "value", "c_lamivudin"),
        "c_lamivudin",
        dsa=True,
    ),
    Case(
        "scenario value does not parse",
        HIV,
        _scenarios([["cheap", "lamivudine price cut", "c_lamivudine", "1000 +"]], "Scenarios!D2"),
        "cannot parse",
        dsa=True,
    ),
    Case(
        "scenario discount rate in percent",
        HIV,
        _scenarios([["nice", None, "discount_rate_costs", "3.5"]], "Scenarios!D2"),
        "0.035 for 3.5%",
        dsa=True,
    ),
    Case(
        "scenario breaking a transition row",
        HIV,
        _scenarios([["strong", None, "rr_combination", "4"]], ("Scenarios!D2", "Transitions!D2")),
        ("strong", "more than 1"),
        command="run",
        dsa=True,
    ),
    Case(
        "run_biomarker without the biomarker parameters",
        HIV,
        lambda wb: (
            "Settings!B" + str(append(wb, "Settings", {"setting": "run_biomarker", "value": "yes"}))
        ),
        ("run_biomarker", "biomarker_prevalence"),
    ),
    Case(
        "outcome day beyond the horizon",
        HIV,
        lambda wb: (
            "Settings!B"
            + str(append(wb, "Settings", {"setting": "outcome_days", "value": "28, 100000"}))
        ),
        ("outcome_days", "horizon"),
    ),
    Case(
        "decision horizon of 1e308 years",
        HIV,
        lambda wb: (
            "Settings!B"
            + str(append(wb, "Settings", {"setting": "decision_horizon_years", "value": "1e308"}))
        ),
        "decision_horizon_years",
        psa_samples=20,
    ),
    # --- values that only break the arithmetic
    Case(
        "calibration entry weight zero",
        MSC,
        _set("Calibration", "death_d28_imv", "entry", "imv: 0"),
        "weight",
    ),
    Case(
        "cost near the float limit",
        HIV,
        _located(
            _set("Parameters", "c_dmed_a", "value", 1e308),
            lambda wb: (address(wb, "Parameters", "c_dmed_a", "value"), "States!F2"),
        ),
        "beyond the plausible range",
        command="run",
    ),
]


def _build(case: Case, tmp_path: Path) -> tuple[Path, str | tuple[str, ...]]:
    wb = load_workbook(case.source)
    location = case.edit(wb)
    target = tmp_path / f"bad_{case.source.stem}.xlsx"
    wb.save(target)
    return target, location


def test_there_are_at_least_forty_distinct_cases():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


def _run_argv(case: Case, path: Path, tmp_path: Path) -> list[str]:
    argv = [
        "run",
        str(path),
        "--out",
        str(tmp_path / "out"),
        "--psa-samples",
        str(case.psa_samples),
    ]
    return argv if case.dsa else [*argv, "--no-dsa"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_workbook_is_refused_with_a_located_message(case, tmp_path, capsys):
    path, location = _build(case, tmp_path)
    if case.command == "validate":
        code, out, err = run_cli(["validate", str(path)], capsys)
        assert_refused(code, out, err, path.name, location, case.phrase)
    # `run` refuses the workbook the same way and writes nothing
    code, out, err = run_cli(_run_argv(case, path, tmp_path), capsys)
    assert_refused(code, out, err, path.name, location, case.phrase)
    assert not (tmp_path / "out").exists()
    if case.command == "run":  # a problem only a model run meets: validate may accept it
        code, out, err = run_cli(["validate", str(path)], capsys)
        assert code in (0, 2) and "Traceback" not in out + err


def test_every_problem_is_reported_at_once_sorted_by_sheet_then_cell(tmp_path, capsys):
    # sheets in reading order since issue #16 (a root cause before its follow-ons)
    wb = load_workbook(HIV)
    expected = [
        put(wb, "Transitions", "state_c", "probability", 17, nth=2),
        put(wb, "Parameters", "c_dmed_a", "value", "17%"),
        put(wb, "States", "state_b", "alive", "maybe"),
        put(wb, "Settings", "discount_rate_costs", "value", 3.5),
        put(wb, "Parameters", "p_ab", "value", "n_ab / n_total"),
        put(wb, "Parameters", "rr_combination", "distribution", "lognorm"),
        put(wb, "Strategies", "combination", "c_drugs", None),
        put(wb, "Parameters", "c_ccare_c", "value", "2059 ^ 1"),
    ]
    path = tmp_path / "several.xlsx"
    wb.save(path)
    code, out, err = run_cli(["validate", str(path)], capsys)
    assert "Traceback" not in out + err
    assert code == 2
    lines = error_lines(err)
    located = [line.split(": ")[1] for line in lines]
    assert sorted(expected, key=_sheet_cell_key) == [loc for loc in located if loc in expected]
    assert set(expected) <= set(located)
    assert located == sorted(located, key=_sheet_cell_key)


def _sheet_cell_key(location: str) -> tuple:
    """Sheets in reading order (a root cause before its follow-ons, issue #16), then cell."""
    from costmodel.errors import SHEET_ORDER

    sheet, _, cell = location.partition("!")
    letters = "".join(ch for ch in cell if ch.isalpha())
    column = 0
    for ch in letters:
        column = column * 26 + ord(ch) - 64
    digits = "".join(ch for ch in cell if ch.isdigit())
    rank = SHEET_ORDER.index(sheet) if sheet in SHEET_ORDER else len(SHEET_ORDER)
    return (rank, sheet, int(digits or 0), column)


def test_negative_state_cost_is_accepted_as_a_saving(tmp_path, capsys):
    """A negative cost is legal (a saving, a rebate): costmodel accepts it and the sign carries
    through. This is the actual contract, so it is not among the refused cases."""
    wb = load_workbook(HIV)
    put(wb, "Parameters", "c_ccare_a", "value", -1055)
    path = tmp_path / "negative_cost.xlsx"
    wb.save(path)
    code, out, err = run_cli(["validate", str(path)], capsys)
    assert code == 0, err
    assert "Traceback" not in out + err
    saving = (
        run_workbook(path, psa_samples=0, deterministic=False).base_case.set_index("strategy").cost
    )
    usual = (
        run_workbook(HIV, psa_samples=0, deterministic=False).base_case.set_index("strategy").cost
    )
    assert (saving < usual).all()


@pytest.mark.parametrize(
    "value, expected, absent",
    [
        (17, "Enter 0.17, not 17.", None),
        (1.7, "(if 1.7 is a percentage: 0.017)", "0.17"),
        (250, "Enter a probability between 0 and 1.", "2.5"),
    ],
)
def test_percentage_hints_match_the_value_typed(tmp_path, value, expected, absent):
    from costmodel.validate.parameter_sheets import percentage_hint

    hint = percentage_hint(value)
    assert expected in hint
    assert absent is None or absent not in hint.replace("0.017", "")
