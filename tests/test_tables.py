"""Tests for costmodel.tables: reading strategy tables and PSA samples from users' CSV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from costmodel.csv_tables import MAX_PROBLEMS, read_psa_samples, read_strategy_table
from costmodel.errors import InputError, Problem

DATA = Path(__file__).parent / "data"
WIDE_FIXTURES = ["voi_chemo_cea.csv", "bcea_vaccine_ce.csv", "bcea_smoking_ce.csv"]


def _write(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(reader, path: Path) -> list[Problem]:
    with pytest.raises(InputError) as info:
        reader(path)
    return info.value.problems


def _only_problem(reader, path: Path) -> Problem:
    problems = _problems(reader, path)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --- Strategy tables --------------------------------------------------------------------------


def test_strategy_table_headers_any_case_spaces_order_and_extra_columns(tmp_path: Path):
    path = _write(
        tmp_path,
        "\ufeff Effect ,notes,STRATEGY,Cost\n"  # Excel's CSV UTF-8 starts with a byte-order mark
        "1.5, cheap ,  Standard care ,1000\n"
        "\n"
        ",,,\n"
        "2.25,,New drug,2500.5\n",
    )
    names, cost, effect = read_strategy_table(path)
    assert names == ["Standard care", "New drug"]
    np.testing.assert_array_equal(cost, [1000.0, 2500.5])
    np.testing.assert_array_equal(effect, [1.5, 2.25])
    assert cost.dtype == float and effect.shape == (2,)


def test_strategy_table_windows_line_endings_and_quoted_fields(tmp_path: Path):
    path = tmp_path / "treeage.csv"
    path.write_bytes(b'"Strategy","Cost","Effect"\r\n"Drug A, 10 mg",100,1\r\nB,x,2\r\n')
    problem = _only_problem(read_strategy_table, path)
    assert (problem.cell, problem.message[:31]) == ("B3", "Cost must be a finite number; g")
    path.write_bytes(b'"Strategy","Cost","Effect"\r\n"Drug A, 10 mg",100,1\r\nB,200,2\r\n')
    names, cost, effect = read_strategy_table(path)
    assert names == ["Drug A, 10 mg", "B"]
    assert cost.tolist() == [100.0, 200.0] and effect.tolist() == [1.0, 2.0]


def test_strategy_table_reports_every_bad_cell_with_row_and_column(tmp_path: Path):
    # Row numbers are as Excel shows the file: header row 1, the blank line is row 3.
    path = _write(
        tmp_path,
        "strategy,cost,effect\na,abc,1\n\nb,,nan\nc,1e3,inf\na,5,1,\n".replace(",\n", "\n"),
        name="results.csv",
    )
    problems = _problems(read_strategy_table, path)
    located = [(p.sheet, p.cell) for p in problems]
    assert located == [
        ("results", "B2"),
        ("results", "B4"),
        ("results", "C4"),
        ("results", "C5"),
        ("results", "A6"),
    ]
    text = [str(p) for p in problems]
    assert text[0] == (
        "results.csv: results!B2: cost must be a finite number; got 'abc'. Enter a plain "
        "number (a dot for decimals, no thousands separators, currency signs or %)."
    )
    assert "got a blank cell" in text[1]
    assert "effect must be a finite number; got 'nan'" in text[2]
    assert "got 'inf'" in text[3]
    assert "strategy 'a' repeats row 2" in text[4]


def test_strategy_table_blank_name(tmp_path: Path):
    path = _write(tmp_path, "strategy,cost,effect\n ,1,2\n")
    problem = _only_problem(read_strategy_table, path)
    assert problem.cell == "A2"
    assert "strategy is blank" in problem.message


def test_strategy_table_missing_columns_says_what_is_needed(tmp_path: Path):
    path = _write(tmp_path, "Strategy,Costs,QALY\na,1,2\n")
    problem = _only_problem(read_strategy_table, path)
    assert problem.cell == ""
    assert "missing column(s) cost, effect" in problem.message
    assert "needs columns strategy, cost, effect" in problem.message
    assert "Found columns: Strategy, Costs, QALY." in problem.message


@pytest.mark.parametrize(
    "text, start",
    [
        ("strategy;cost;effect\na;1,5;2\n", "cannot read as CSV"),  # decimal commas
        ("strategy;cost;effect\na;1.5;2\n", "missing column(s) strategy, cost, effect"),
        ("strategy\tcost\teffect\na\t1.5\t2\n", "missing column(s)"),
    ],
)
def test_semicolon_or_tab_separated_file_gets_a_hint(tmp_path: Path, text: str, start: str):
    problem = _only_problem(read_strategy_table, _write(tmp_path, text))
    assert problem.message.startswith(start)
    assert problem.message.endswith(
        "The header is separated by semicolons or tabs, not commas: save the file as "
        "comma-separated CSV (in Excel: CSV UTF-8), with a dot for decimals."
    )


def test_duplicate_headers_ignoring_case_are_refused(tmp_path: Path):
    path = _write(tmp_path, "strategy,cost,effect,COST\na,1,2,3\n")
    problem = _only_problem(read_strategy_table, path)
    assert problem.cell == "D1"
    assert "'COST' repeats column B ('cost')" in problem.message


# --- File-level problems, both readers --------------------------------------------------------


@pytest.mark.parametrize("reader", [read_strategy_table, read_psa_samples])
def test_missing_file(tmp_path: Path, reader):
    problem = _only_problem(reader, tmp_path / "nope.csv")
    assert str(problem).startswith("nope.csv: file not found: ")


@pytest.mark.parametrize("reader", [read_strategy_table, read_psa_samples])
def test_directory_is_not_a_file(tmp_path: Path, reader):
    (tmp_path / "folder.csv").mkdir()
    assert "not a file" in _only_problem(reader, tmp_path / "folder.csv").message


@pytest.mark.parametrize("reader", [read_strategy_table, read_psa_samples])
def test_excel_workbook_is_not_a_csv(tmp_path: Path, reader):
    workbook = Workbook()
    workbook.active.append(["strategy", "cost", "effect"])
    path = tmp_path / "results.csv"  # a workbook saved under a .csv name
    workbook.save(path)
    assert "Excel workbook, not a CSV" in _only_problem(reader, path).message


@pytest.mark.parametrize(
    "payload, message",
    [
        ("strategy,cost,effect\na,1,2\n".encode("utf-16"), "UTF-16"),
        ("strategy,cost,effect\nsoins,1,2\nété,3,4\n".encode("latin-1"), "not UTF-8 text"),
        (b"", "the file is empty"),
        (b" \n\n", "the file is empty"),
        (b"strategy,cost\na,1\nb,2,3\n", "cannot read as CSV"),
    ],
)
@pytest.mark.parametrize("reader", [read_strategy_table, read_psa_samples])
def test_unreadable_or_empty_files(tmp_path: Path, reader, payload: bytes, message: str):
    path = tmp_path / "bad.csv"
    path.write_bytes(payload)
    assert message in _only_problem(reader, path).message


@pytest.mark.parametrize(
    "reader, text",
    [
        (read_strategy_table, "strategy,cost,effect\n"),
        (read_strategy_table, "strategy,cost,effect\n,,\n\n"),
        (read_psa_samples, "e_a,c_a\n"),
        (read_psa_samples, "e_a,c_a\n , \n"),
        (read_psa_samples, "Sample,Strategy,Cost,Effect\n"),
    ],
)
def test_header_without_data_rows(tmp_path: Path, reader, text: str):
    problem = _only_problem(reader, _write(tmp_path, text))
    assert problem.message == "no data rows below the header row; the table is empty."


# --- PSA samples, wide form -------------------------------------------------------------------


@pytest.mark.parametrize("name", WIDE_FIXTURES)
def test_wide_fixtures_read_as_pandas_reads_them(name: str):
    strategies, cost, effect = read_psa_samples(DATA / name)
    frame = pd.read_csv(DATA / name)
    expected = [c[2:] for c in frame.columns if c.startswith("e_")]
    assert strategies == expected
    assert cost.shape == effect.shape == (len(frame), len(expected))
    np.testing.assert_array_equal(cost, frame[[f"c_{s}" for s in expected]].to_numpy())
    np.testing.assert_array_equal(effect, frame[[f"e_{s}" for s in expected]].to_numpy())


def test_wide_fixture_names_and_size():
    strategies, cost, _ = read_psa_samples(DATA / "voi_chemo_cea.csv")
    assert strategies == ["SoC", "Novel"]
    assert cost.shape == (10_000, 2)
    assert read_psa_samples(DATA / "bcea_smoking_ce.csv")[0] == ["1", "2", "3", "4"]


def test_wide_headers_case_insensitive_order_by_first_column_extra_columns_ignored(
    tmp_path: Path,
):
    path = _write(
        tmp_path,
        "iteration, C_B ,E_a,e_b,c_A,note\n1,10,0.5,0.6,20,x\n2,11,0.4,0.7,21,\n",
    )
    strategies, cost, effect = read_psa_samples(path)
    assert strategies == ["B", "a"]
    np.testing.assert_array_equal(cost, [[10.0, 20.0], [11.0, 21.0]])
    np.testing.assert_array_equal(effect, [[0.6, 0.5], [0.7, 0.4]])


def test_wide_unpaired_columns_are_reported_at_their_headers(tmp_path: Path):
    path = _write(tmp_path, "e_SoC,c_SoC,e_Novel,c_Extra,e_\n1,2,3,4,5\n", name="psa.csv")
    problems = _problems(read_psa_samples, path)
    assert [p.cell for p in problems] == ["C1", "D1", "E1"]
    assert "e_Novel has no matching c_Novel column" in problems[0].message
    assert "add the cost column" in problems[0].message
    assert "c_Extra has no matching e_Extra column" in problems[1].message
    assert "add the effect column" in problems[1].message
    assert "'e_' has no strategy name" in problems[2].message


def test_wide_bad_values_name_row_and_column(tmp_path: Path):
    rows = ["e_SoC,e_Novel,c_SoC,c_Novel"] + [f"1,2,3,{i}" for i in range(12)]
    rows[11] = "1,2,3,n/a"  # spreadsheet row 12
    rows[4] = "1,,3,4"  # row 5
    path = _write(tmp_path, "\n".join(rows) + "\n", name="chemo.csv")
    problems = _problems(read_psa_samples, path)
    assert [str(p).split(": ")[1] for p in problems] == ["chemo!B5", "chemo!D12"]
    assert problems[1].message.startswith("c_Novel must be a finite number; got 'n/a'.")


def test_wide_many_bad_values_are_listed_up_to_a_limit(tmp_path: Path):
    rows = ["e_a,c_a"] + ["x,1"] * (MAX_PROBLEMS + 25)
    path = _write(tmp_path, "\n".join(rows) + "\n")
    problems = _problems(read_psa_samples, path)
    assert len(problems) == MAX_PROBLEMS + 1
    assert "25 more problem(s) not listed" in problems[0].message
    assert problems[1].cell == "A2" and problems[-1].cell == f"A{MAX_PROBLEMS + 1}"


def test_no_psa_columns_says_what_each_form_needs(tmp_path: Path):
    path = _write(tmp_path, "Sample,Strategy,QALYs,Costs\n1,a,1,2\n")
    problem = _only_problem(read_psa_samples, path)
    assert "e_<strategy> and c_<strategy>" in problem.message
    assert "sample, strategy, cost, effect" in problem.message
    assert "missing here: cost, effect" in problem.message
    assert "Found columns: Sample, Strategy, QALYs, Costs." in problem.message


# --- PSA samples, long form -------------------------------------------------------------------


@pytest.mark.parametrize("name", WIDE_FIXTURES)
def test_long_and_wide_forms_of_the_same_sample_read_identically(tmp_path: Path, name: str):
    strategies, cost, effect = read_psa_samples(DATA / name)
    wide = pd.read_csv(DATA / name)
    # Long form grouped by strategy (all samples of the first strategy, then the next...),
    # with headers in other cases and an extra column.
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    " Strategy": s,
                    "SAMPLE": np.arange(1, len(wide) + 1),
                    "Effect": wide[f"e_{s}"],
                    "note": "from wide",
                    "cost ": wide[f"c_{s}"],
                }
            )
            for s in strategies
        ]
    )
    path = tmp_path / "long.csv"
    long.to_csv(path, index=False)
    long_strategies, long_cost, long_effect = read_psa_samples(path)
    assert long_strategies == strategies
    np.testing.assert_array_equal(long_cost, cost)
    np.testing.assert_array_equal(long_effect, effect)


def test_long_form_orders_samples_and_strategies_by_first_appearance(tmp_path: Path):
    path = _write(
        tmp_path,
        "sample,strategy,cost,effect\ns2,B,21,0.21\ns1,A,10,0.10\ns1,B,11,0.11\ns2,A,20,0.20\n",
    )
    strategies, cost, effect = read_psa_samples(path)
    assert strategies == ["B", "A"]
    np.testing.assert_array_equal(cost, [[21.0, 20.0], [11.0, 10.0]])
    np.testing.assert_array_equal(effect, [[0.21, 0.20], [0.11, 0.10]])


def test_long_form_is_chosen_when_all_four_columns_are_present(tmp_path: Path):
    path = _write(tmp_path, "e_x,sample,strategy,cost,effect\n9,1,a,1,2\n")
    strategies, cost, effect = read_psa_samples(path)
    assert strategies == ["a"]
    assert cost.tolist() == [[1.0]] and effect.tolist() == [[2.0]]


def test_long_form_missing_and_duplicate_combinations(tmp_path: Path):
    path = _write(
        tmp_path,
        "sample,strategy,cost,effect\n"
        "1,a,1,1\n"
        "1,b,2,2\n"
        "2,a,3,3\n"  # sample 2 has no b
        "3,a,4,4\n"
        "3,b,5,5\n"
        "3,b,6,6\n",  # row 7 repeats row 6
        name="long.csv",
    )
    problems = _problems(read_psa_samples, path)
    assert [p.cell for p in problems] == ["A4", "B7"]
    assert problems[0].message.startswith(
        "sample '2' (first at row 4) has no row for strategy 'b'; every sample needs one row "
        "for each of the 2 strategies."
    )
    assert "sample '3', strategy 'b' appears again (first at row 6)" in problems[1].message


def test_long_form_blank_labels_and_bad_numbers_reported_together(tmp_path: Path):
    path = _write(tmp_path, "sample,strategy,cost,effect\n1,,1,1\n,b,x,1\n")
    problems = _problems(read_psa_samples, path)
    assert [(p.cell, p.message.split(";")[0]) for p in problems] == [
        ("B2", "strategy is blank"),
        ("A3", "sample is blank"),
        ("C3", "cost must be a finite number"),
    ]
