"""The Python API: overrides, a choice of analyses, and the Model-level call (issue #17)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costmodel.api import Model, run_workbook
from costmodel.errors import OptionError

ROOT = Path(__file__).resolve().parents[1]
HIV = ROOT / "inputs" / "examples" / "chancellor_hiv.xlsx"
QUICK = {"psa_samples": 0, "deterministic": False, "voi": False}


def test_overrides_that_remove_the_treatment_give_zero_increments():
    """With no risk reduction and a free lamivudine, combination therapy is monotherapy."""
    result = run_workbook(HIV, overrides={"rr_combination": 1, "c_lamivudine": 0}, **QUICK)
    table = result.base_case.set_index("strategy")
    for column in ("cost", "ly", "qaly"):
        assert table.loc["combination", column] == pytest.approx(
            table.loc["monotherapy", column], rel=1e-12
        )
    assert result.summary["overrides"] == {"rr_combination": 1.0, "c_lamivudine": 0.0}


def test_an_overridden_parameter_is_fixed_in_the_psa():
    result = run_workbook(HIV, overrides={"rr_combination": 0.6}, psa_samples=50, voi=False)
    assert np.all(result.psa.parameters.get("rr_combination", np.array([0.6])) == 0.6)
    baseline = run_workbook(HIV, psa_samples=50, voi=False)
    assert np.ptp(baseline.psa.parameters["rr_combination"]) > 0.05  # sampled without it


def test_a_settings_override():
    """At 0% the discounted costs are the undiscounted sums."""
    result = run_workbook(HIV, overrides={"discount_rate_costs": 0.0}, **QUICK)
    table = result.base_case
    np.testing.assert_allclose(table["cost"], table["cost_undiscounted"], rtol=1e-12)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"c_lamivudin": 1}, r"neither a parameter nor a setting.*Did you mean c_lamivudine"),
        ({"n_ab": 300}, r"Dirichlet set 'from_a'"),
        ({"c_lamivudine": "cheap"}, r"needs a number"),
        ({"c_lamivudine": float("nan")}, r"finite"),
    ],
)
def test_bad_overrides_are_refused(overrides, message):
    with pytest.raises(OptionError, match=message):
        run_workbook(HIV, overrides=overrides, **QUICK)


def test_a_choice_of_analyses():
    result = run_workbook(HIV, analyses=["dsa"], psa_samples=100)
    assert "dsa_oneway" in result.tables and "ceac" not in result.tables
    assert result.psa is None and result.summary["psa_samples"] == 0
    with pytest.raises(OptionError, match="unknown tornado"):
        run_workbook(HIV, analyses=["tornado"])


def test_model_evaluate_base_case_is_the_published_model():
    """Briggs et al. exercise 2.5: £44,663 and 7.991 LY (monotherapy), £50,602 and 8.937."""
    model = Model(HIV)
    out = model.evaluate().set_index("strategy")
    assert abs(out.loc["monotherapy", "cost"] - 44_663) <= 0.5
    assert abs(out.loc["combination", "cost"] - 50_602) <= 0.5
    assert abs(out.loc["monotherapy", "ly"] - 7.991) <= 0.0005
    assert abs(out.loc["combination", "ly"] - 8.937) <= 0.0005
    assert "c_lamivudine" in set(model.parameters["name"])


def test_model_evaluate_of_sampled_sets_equals_the_psa():
    """The same seed gives the same draws and the same outcomes as the run's PSA."""
    model = Model(HIV)
    draws = model.sample(20, seed=7)
    out = model.evaluate(draws)
    psa = run_workbook(HIV, seed=7, psa_samples=20, deterministic=False, voi=False).psa
    for s, key in enumerate(psa.strategies):
        rows = out[out["strategy"] == key]
        np.testing.assert_allclose(rows["cost"], psa.cost[:, s], rtol=1e-12)
        np.testing.assert_allclose(rows["ly"], psa.ly[:, s], rtol=1e-12)


def test_model_evaluate_vectors_and_errors():
    model = Model(HIV)
    out = model.evaluate({"rr_combination": [1.0, 0.509], "c_lamivudine": 0})
    assert len(out) == 4
    first = out[out["sample"] == 0].set_index("strategy")
    assert first.loc["combination", "ly"] == pytest.approx(first.loc["monotherapy", "ly"])
    with pytest.raises(OptionError, match="not a parameter"):
        model.evaluate({"rr": 1})
    with pytest.raises(OptionError, match="different lengths"):
        model.evaluate({"rr_combination": [1, 2], "c_lamivudine": [1, 2, 3]})


@pytest.mark.parametrize(
    "values, message",
    [
        ({"c_lamivudine": []}, "no parameter sets"),
        ([1, 2, 3], "must map parameter names"),
        ("c_lamivudine", "must map parameter names"),
        ({"c_lamivudine": [[1, 2], [3, 4]]}, "one dimension"),
        ({"c_lamivudine": "abc"}, "needs numbers"),
    ],
)
def test_model_evaluate_refuses_what_is_not_parameter_sets(values, message):
    with pytest.raises(OptionError, match=message):
        Model(HIV).evaluate(values)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"c_lamivudine": True}, "needs numbers"),
        ({"c_lamivudine": "1500"}, "needs numbers"),
        ({"n_aa": 2500}, r"Dirichlet set 'from_a' is given in part .*missing n_ab"),
    ],
)
def test_model_evaluate_refuses_booleans_text_and_part_of_a_dirichlet_set(values, message):
    with pytest.raises(OptionError, match=message):
        Model(HIV).evaluate(values)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"effect_measure": "bogus"}, r"Settings!B\d+: setting 'effect_measure' must be one of"),
        ({"discount_timing": "bogus"}, "must be one of method, time-point"),
        ({"discount_rate_costs": -0.99}, "must be >= 0"),
        ({"wtp": "abc"}, "must be a number"),
        ({"wtp": []}, "needs at least one number"),
        ({"reference_strategy": "nope"}, "is not a strategy"),
        ({"psa_samples": 5.5}, "must be a whole number"),
    ],
)
def test_settings_overrides_get_the_workbook_checks(overrides, message):
    """A Settings override is validated as if typed into the Settings sheet (helper-found
    defects: effect_measure 'QALY' silently became LY, bad values gave tracebacks)."""
    with pytest.raises(OptionError, match=message):
        run_workbook(HIV, overrides=overrides, **QUICK)


def test_settings_overrides_mean_what_the_cell_would_mean():
    """'QALY' in a cell means qaly, 'Cycle-Start' cycle-start; n_cycles is a setting too."""
    darth = ROOT / "inputs" / "examples" / "darth_sick_sicker.xlsx"
    base = run_workbook(darth, overrides={"effect_measure": "QALY"}, **QUICK).base_case
    assert base.set_index("strategy").loc["B", "icer"] == pytest.approx(72_988, abs=0.5)
    shorter = run_workbook(HIV, overrides={"n_cycles": 10}, **QUICK).base_case
    full = run_workbook(HIV, **QUICK).base_case
    assert (shorter.cost < full.cost).all()
    with pytest.raises(OptionError, match="a list of analysis names"):
        run_workbook(HIV, analyses=42)


def test_the_api_imports_the_figure_writers_and_the_regressions_only_when_used():
    """`import costmodel.api` leaves matplotlib, the report writers and the value-of-information
    regressions (scipy.optimize: ~0.2 s) unimported: a run imports each when it uses it."""
    import subprocess
    import sys

    modules = ["matplotlib", "costmodel.reports.plots", "costmodel.reports.excel"]
    modules += ["costmodel.reports.html", "scipy.optimize"]
    code = (
        "import sys, costmodel.api as api\n"
        f"print(*[m in sys.modules for m in {modules!r}])\n"
        "print(callable(api.write_reports))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"] * len(modules) + ["True"]


def test_run_and_write_returns_the_result_of_run_inputs_and_notes_its_summary(tmp_path):
    from costmodel.api import load_workbook_inputs, run_and_write, run_inputs

    _, inputs = load_workbook_inputs(HIV)
    steps: list[str] = []
    result, folder = run_and_write(
        inputs,
        tmp_path / "out",
        reports=False,
        summary_notes={"scenario": "a note"},
        psa_samples=200,
        seed=5,
        on_step=steps.append,
    )
    plain = run_inputs(inputs, psa_samples=200, seed=5)
    assert folder == tmp_path / "out" and (folder / "ceac.csv").is_file()
    assert list(result.tables) == list(plain.tables)
    assert all(result.tables[name].equals(plain.tables[name]) for name in plain.tables)
    assert result.summary["scenario"] == "a note"
    assert '"scenario": "a note"' in (folder / "summary.json").read_text()
    assert "writing tables" in steps and not (folder / "report.html").exists()
    with pytest.raises(TypeError, match="psa_sample"):
        run_and_write(inputs, tmp_path / "x", psa_sample=3)


def test_a_run_of_value_of_information_alone_has_no_acceptability_in_its_summary():
    """analyses=['evsi'] simulates the PSA without its tables: the summary then has no
    probabilities cost-effective (they are read off the CEAC, not computed here)."""
    result = run_workbook(HIV, analyses=["evsi"], psa_samples=200, seed=2)
    assert "ceac" not in result.tables and result.summary["psa_samples"] == 200
    assert "prob_cost_effective" not in result.summary
    full = run_workbook(HIV, analyses=["psa"], psa_samples=200, seed=2)
    assert set(full.summary["prob_cost_effective"]) == {"20000", "30000"}  # Settings wtp


def test_run_and_write_refuses_a_foreign_output_folder_before_running(tmp_path):
    """A folder the results would not be allowed to replace (here: a user's file in a folder
    costmodel did not write) is refused before any analysis runs, with the same message as
    at the end of a run; the folder is left as it was."""
    from costmodel.api import load_workbook_inputs, run_and_write
    from costmodel.reports.folder import OutputError

    _, inputs = load_workbook_inputs(HIV)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    steps: list[str] = []
    with pytest.raises(OutputError, match="was not written by costmodel"):
        run_and_write(inputs, out, psa_samples=100, on_step=steps.append)
    assert steps == []  # nothing ran
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
