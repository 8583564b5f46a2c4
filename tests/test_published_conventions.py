"""Published models written plainly, each with its timing convention picked by name, against
the tables their sources print (to the printed digits), and the conventions' weights by hand.

Sources: DARTH's Sick-Sicker tutorials (Alarid-Escudero et al., Med Decis Making 2023;43(1):
3-20, tables 5-6, and 21-41, table "table-cea"); heemod's vignette c_homogeneous (its printed
summary) and heemod's exact reproduction of Briggs et al.'s HIV model (tests/test_dmhee.R).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

from costmodel import engine
from costmodel.api import run_workbook
from costmodel.validate import load_inputs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "inputs" / "examples"

# (strategy, cost $, QALYs) as printed (whole dollars, 3 decimals), and the printed ICERs.
DARTH_1A = {"SoC": (151_580, 20.711), "A": (284_805, 21.499), "B": (259_100, 22.184),
            "AB": (378_875, 23.137)}  # fmt: skip
DARTH_1A_ICERS = {"B": 72_988, "AB": 125_764}
DARTH_1B = {"SoC": (116_374, 18.879), "A": (218_789, 19.636), "B": (202_536, 20.199),
            "AB": (296_300, 21.097)}  # fmt: skip
DARTH_1B_ICERS = {"B": 65_288, "AB": 104_461}


def _base_case(path: Path):
    result = run_workbook(path, psa_samples=0, deterministic=False, voi=False)
    table = result.base_case.set_index("strategy")  # with the ICERs along the frontier
    return table, table


@pytest.mark.parametrize(
    "workbook, published, icers",
    [
        ("darth_sick_sicker.xlsx", DARTH_1A, DARTH_1A_ICERS),
        ("darth_sick_sicker_age.xlsx", DARTH_1B, DARTH_1B_ICERS),
    ],
)
def test_darth_sick_sicker_tables(workbook, published, icers):
    base, table = _base_case(EXAMPLES / workbook)
    for strategy, (cost, qaly) in published.items():
        assert abs(base.loc[strategy, "cost"] - cost) <= 0.5, strategy
        assert abs(base.loc[strategy, "qaly"] - qaly) <= 0.0005, strategy
    for strategy, icer in icers.items():
        assert abs(table.loc[strategy, "icer"] - icer) <= 0.5, strategy
    assert table.loc["A", "status"] == "d"  # dominated (by B)


def test_heemod_c_homogeneous_printed_summary():
    """Printed for a cohort of 1,000: mono 48762093 / 8585.843, comb 92984848 / 17256.937;
    ICER 5100.02 per life-year (44222.75 / 8.671094 per person)."""
    base, table = _base_case(EXAMPLES / "heemod_hiv.xlsx")
    assert abs(base.loc["mono", "cost"] * 1000 - 48_762_093) <= 0.5
    assert abs(base.loc["comb", "cost"] * 1000 - 92_984_848) <= 0.5
    assert abs(base.loc["mono", "ly"] * 1000 - 8585.843) <= 0.0005
    assert abs(base.loc["comb", "ly"] * 1000 - 17256.937) <= 0.0005
    assert abs(table.loc["comb", "icer"] - 5100.02) <= 0.005


def _with_settings(source: Path, target: Path, values: dict[str, object]) -> Path:
    wb = load_workbook(source)
    ws = wb["Settings"]
    rows = {str(r[0].value).strip(): r[0].row for r in ws.iter_rows(min_row=2) if r[0].value}
    for key, value in values.items():
        if key in rows:
            ws.cell(row=rows[key], column=2).value = value
        else:
            ws.append([key, value])
    wb.save(target)
    return target


def test_heemod_end_with_cycle_end_discounting_reproduces_dmhee(tmp_path):
    """heemod (>= 0.14) method 'end' with discount(first = TRUE) reproduces Briggs et al.'s
    HIV model: heemod's tests/test_dmhee.R expects these values to 7 digits."""
    path = _with_settings(
        EXAMPLES / "chancellor_hiv.xlsx",
        tmp_path / "hiv.xlsx",
        {"within_cycle_correction": "heemod-end", "discount_timing": "cycle-end"},
    )
    base, table = _base_case(path)
    assert base.loc["monotherapy", "cost"] == pytest.approx(44663.4535637, abs=5e-8)
    assert base.loc["combination", "cost"] == pytest.approx(50601.6513312, abs=5e-8)
    assert base.loc["monotherapy", "ly"] == pytest.approx(7.9912066, abs=5e-8)
    assert base.loc["combination", "ly"] == pytest.approx(8.9373889, abs=5e-8)
    assert table.loc["combination", "icer"] == pytest.approx(6275.95560, abs=5e-6)


def test_darth_simpson_weights_by_hand():
    """gen_wcc(4, 'Simpson1/3') = 1/3, 2/3, 4/3, 2/3, 1/3 (odd t 2/3, even t 4/3); with 75
    cycles the source's weights sum to 74 2/3, not 75."""
    np.testing.assert_allclose(
        engine.darth_simpson_point_weights(4), [1 / 3, 2 / 3, 4 / 3, 2 / 3, 1 / 3], rtol=1e-15
    )
    assert engine.darth_simpson_point_weights(75).sum() == pytest.approx(74 + 2 / 3, rel=1e-14)
    a, b = engine.correction_weights("darth-simpson", 4)
    np.testing.assert_allclose(a, [1 / 3, 1 / 3, 2 / 3, 1 / 3], rtol=1e-15)
    np.testing.assert_allclose(b, [1 / 3, 2 / 3, 1 / 3, 1 / 3], rtol=1e-15)


@pytest.mark.parametrize(
    "method, a_first, b_first",
    [("heemod-life-table", 0.5, 0.5), ("heemod-beginning", 1.0, 0.0), ("heemod-end", 0.0, 1.0)],
)
def test_heemod_counts_and_discount_timing_by_hand(method, a_first, b_first):
    """Cycle k of heemod counts (x_{k-1} + x_k) / 2, x_{k-1} or x_k, the whole cycle
    discounted by (1 + r)^-(k-1) ('method' = 'cycle-start'), by (1 + r)^-k with
    'cycle-end', and each time point at its own time with 'time-point'."""
    a, b = engine.correction_weights(method, 3)
    assert (a[0], b[0]) == (a_first, b_first)
    assert engine.discount_timing(method, "method") == "cycle-start"
    d = engine.discount_factors(0.06, np.arange(4.0))
    segment = np.zeros(3, dtype=int)
    start = engine.occupancy_weights(a, b, d, segment, "cycle-start")[0]
    # cycle 2 (k = 2) contributes a_2 / 1.06 on point 1 and b_2 / 1.06 on point 2
    expected = np.zeros(4)
    for k in range(3):
        expected[k] += a[k] / 1.06**k
        expected[k + 1] += b[k] / 1.06**k
    np.testing.assert_allclose(start, expected, rtol=1e-15)
    end = engine.occupancy_weights(a, b, d, segment, "cycle-end")[0]
    np.testing.assert_allclose(end, expected / 1.06, rtol=1e-15)
    assert engine.discount_timing("half-cycle", "method") == "time-point"


def test_life_table_as_one_rate_column_equals_the_same_probabilities_by_sex(tmp_path):
    """A single mx column becomes qx = 1 - exp(-mx) for both sexes: the DARTH 1b model with
    its Total rates written as qx_male = qx_female gives the same results."""
    source = EXAMPLES / "darth_sick_sicker_age.xlsx"
    wb = load_workbook(source)
    ws = wb["LifeTable"]
    ws.cell(row=1, column=2).value = "qx_male"
    ws.cell(row=1, column=3).value = "qx_female"
    for row in ws.iter_rows(min_row=2):
        if row[1].value is None:
            continue
        q = -np.expm1(-float(row[1].value))
        row[1].value = q
        ws.cell(row=row[0].row, column=3).value = q
    wb.save(tmp_path / "qx.xlsx")
    by_rate = load_inputs(source).life_table
    by_probability = load_inputs(tmp_path / "qx.xlsx").life_table
    np.testing.assert_allclose(by_rate.qx_male, by_probability.qx_male, rtol=1e-15)
    np.testing.assert_allclose(by_rate.qx_female, by_rate.qx_male, rtol=0)
    assert by_rate.qx_male[25] == pytest.approx(0.0010134861, abs=5e-11)  # DARTH's p_HD, 25


def test_life_table_with_two_kinds_of_columns_is_refused(tmp_path):
    from costmodel.errors import InputError

    wb = load_workbook(EXAMPLES / "darth_sick_sicker_age.xlsx")
    ws = wb["LifeTable"]
    ws.cell(row=1, column=3).value = "qx"
    for row in ws.iter_rows(min_row=2):
        if row[0].value is not None:
            ws.cell(row=row[0].row, column=3).value = 0.01
    wb.save(tmp_path / "both.xlsx")
    with pytest.raises(InputError, match=r"LifeTable.*several sets of value columns"):
        load_inputs(tmp_path / "both.xlsx")


def test_example_without_any_range_runs_from_the_command_line(tmp_path, capsys):
    """None of heemod's inputs has a DSA range: dsa_oneway.csv keeps its header (it was an
    empty file that stopped the report with a traceback) and the report is written."""
    from costmodel.cli import main

    out = tmp_path / "heemod"
    assert main(["run", str(EXAMPLES / "heemod_hiv.xlsx"), "--out", str(out), "-q"]) == 0
    header = (out / "dsa_oneway.csv").read_text().splitlines()
    assert header[0].startswith("parameter,description,strategy") and len(header) == 1
    assert (out / "report.html").stat().st_size > 10_000
    assert "5,100" in capsys.readouterr().out


@pytest.mark.parametrize(
    "method, mono, comb",
    [
        ("heemod-beginning", (49_932.14571, 9.0858385), (93_936.08032, 17.7511080)),
        ("heemod-end", (47_592.04038, 8.0858478), (92_033.61529, 16.7627663)),
    ],
)
def test_heemod_other_counting_methods_on_c_homogeneous(tmp_path, method, mono, comb):
    """heemod prints only life-table for this vignette; these per-person values were computed
    independently from heemod's definitions (trace rows 0..n-1 for 'beginning', 1..n for
    'end', each cycle discounted by 1.06^-(k-1)) in a separate NumPy script, not by costmodel."""
    path = _with_settings(
        EXAMPLES / "heemod_hiv.xlsx", tmp_path / "h.xlsx", {"within_cycle_correction": method}
    )
    base, _ = _base_case(path)
    for strategy, (cost, ly) in (("mono", mono), ("comb", comb)):
        assert base.loc[strategy, "cost"] == pytest.approx(cost, abs=5e-6)
        assert base.loc[strategy, "ly"] == pytest.approx(ly, abs=5e-8)


def _life_table_variant(tmp_path, edit) -> Path:
    wb = load_workbook(EXAMPLES / "darth_sick_sicker_age.xlsx")
    edit(wb["LifeTable"])
    path = tmp_path / "variant.xlsx"
    wb.save(path)
    return path


def _problems(path) -> str:
    from costmodel.errors import InputError

    with pytest.raises(InputError) as error:
        load_inputs(path)
    return str(error.value)


def test_life_table_problems_are_named_at_the_sheet_not_as_a_missing_sheet(tmp_path):
    """An unreadable LifeTable is not also reported as absent, a bad value cell does not
    make the next age look out of order, and a stray column of another kind is refused
    (found by an adversarial pass)."""

    def only_male_rates(ws):
        ws.cell(row=1, column=2).value = "mx_male"

    text = _problems(_life_table_variant(tmp_path, only_male_rates))
    assert "needs one set of value columns" in text and "no LifeTable sheet" not in text

    def bad_value(ws):
        ws["B40"] = "abc"

    text = _problems(_life_table_variant(tmp_path, bad_value))
    assert "LifeTable!B40" in text and "consecutive" not in text

    def stray_column(ws):
        ws.cell(row=1, column=3).value = "qx_male"
        ws.cell(row=2, column=3).value = 0.01

    text = _problems(_life_table_variant(tmp_path, stray_column))
    assert "has mx and also qx_male" in text
