"""The command line: run writes the contract files atomically; template writes a valid model."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from costmodel.api import run_workbook
from costmodel.cli import main
from costmodel.errors import InputError
from costmodel.reports.folder import MARKER
from tests.conftest import HIV_WORKBOOK


def test_run_writes_contract_files_and_prints_icer_table(tmp_path, capsys):
    before = hashlib.sha256(HIV_WORKBOOK.read_bytes()).hexdigest()
    out = tmp_path / "hiv"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "combination" in printed and "6,276" in printed
    base = pd.read_csv(out / "base_case.csv")
    for column in ("strategy", "cost", "qaly", "ly", "inc_cost", "inc_qaly", "icer", "status"):
        assert column in base.columns
    assert set(base.status) <= {"nd", "ed", "d"}
    assert base.loc[base.strategy == "combination", "icer"].iloc[0] == pytest.approx(6276, abs=0.5)
    trace = pd.read_csv(out / "trace.csv")
    assert list(trace.columns[:4]) == ["strategy", "phase", "cycle", "time_years"]
    assert len(trace) == 2 * 21  # two strategies, cycles 0..20
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input_sha256"] == before
    assert {"costmodel_version", "seed", "created_utc", "settings", "icer_table"} <= set(summary)
    assert (out / MARKER).exists()
    # the input workbook is never written
    assert hashlib.sha256(HIV_WORKBOOK.read_bytes()).hexdigest() == before


def test_rerun_replaces_previous_output_and_refuses_foreign_folders(tmp_path):
    out = tmp_path / "hiv"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hiv")]  # no temp leftovers
    # a file the user put there is not costmodel's to delete (issue #16): the run refuses
    (out / "stale.csv").write_text("old")
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 1
    assert (out / "stale.csv").read_text() == "old"

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("precious")
    assert main(["run", str(HIV_WORKBOOK), "--out", str(foreign), "--psa-samples", "0"]) == 1
    assert (foreign / "thesis.docx").read_text() == "precious"


def test_failed_run_leaves_previous_results_intact(tmp_path, hiv_variant):
    out = tmp_path / "hiv"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0
    previous = (out / "base_case.csv").read_bytes()
    broken = hiv_variant({("Transitions", "state_c", "probability"): 0.5})
    assert main(["run", str(broken), "--out", str(out)]) == 2
    assert (out / "base_case.csv").read_bytes() == previous


def test_template_is_a_valid_runnable_model(tmp_path, capsys):
    path = tmp_path / "starter.xlsx"
    assert main(["template", str(path)]) == 0
    assert main(["template", str(path)]) == 1  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    result = run_workbook(path, psa_samples=0, deterministic=False)
    table = result.base_case.set_index("strategy")
    # treatment slows progression, so it must add QALYs and cost
    assert table.loc["treatment", "qaly"] > table.loc["no_treatment", "qaly"]
    assert table.loc["treatment", "cost"] > table.loc["no_treatment", "cost"]
    wb = load_workbook(path)
    ws = wb["Parameters"]
    assert ws["A1"].comment is not None and "snake_case" in ws["A1"].comment.text
    assert ws["B2"].fill.start_color.rgb.endswith("FFF2CC")  # input cells styled
    validations = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert any("beta" in f and "lognormal" in f for f in validations)
    assert ws.freeze_panes == "A2"


def test_template_refuses_to_write_excel_formulas(tmp_path):
    from costmodel.template import write_workbook

    with pytest.raises(ValueError, match="Excel formula"):
        write_workbook(tmp_path / "x.xlsx", {"Parameters": (["name", "value"], [["a", "=1+1"]])})


def test_unknown_setting_is_an_input_error(hiv_variant):
    from costmodel.validate import load_inputs

    path = hiv_variant({("Settings", "seed", "setting"): "sead"})
    with pytest.raises(InputError, match="Did you mean 'seed'"):
        load_inputs(path)


def test_results_hidden_by_a_kill_mid_swap_are_restored(tmp_path):
    """SIGKILL between the two renames leaves the previous folder as .NAME.old-*/NAME; the
    next write puts it back before replacing it, and the folder is readable by others."""
    import os

    from costmodel.reports.folder import _recover_interrupted_swap

    out = tmp_path / "hiv"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0
    assert os.stat(out).st_mode & 0o055  # not 0700
    previous = (out / "base_case.csv").read_bytes()
    aside = tmp_path / ".hiv.old-abc"
    aside.mkdir()
    os.replace(out, aside / "hiv")
    _recover_interrupted_swap(out)
    assert (out / "base_case.csv").read_bytes() == previous
    assert not aside.exists()


def test_python_api_runs_what_the_cli_runs_by_default(tmp_path):
    """run_workbook(path) has the CLI's defaults: the workbook's PSA (1,000 samples in the HIV
    example) and the deterministic analyses, with the same tables as `costmodel run`."""

    result = run_workbook(HIV_WORKBOOK)
    assert result.summary["psa_samples"] == 1000
    assert result.psa is not None and result.psa.n_samples == 1000
    out = tmp_path / "cli"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out)]) == 0
    written = {p.stem for p in out.glob("*.csv")} - {"cheers"}
    assert written == set(result.tables)
    cli_ceac = pd.read_csv(out / "ceac.csv")
    assert np.allclose(cli_ceac.prob_ce, result.ceac.prob_ce, rtol=0, atol=0)


def test_run_reports_progress_for_every_stage_unless_quiet(tmp_path, capsys):
    """In a log (no terminal) each analysis step and the writing of outputs get a line."""
    from costmodel.analyses.run import STEPS

    out = tmp_path / "hiv"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "100"]) == 0
    err = capsys.readouterr().err
    total = len(STEPS) + 1
    for i, (name, _) in enumerate(STEPS, start=1):
        assert f"[{i}/{total}] {name}" in err
    assert f"[{total}/{total}] writing" in err
    assert "PSA: 100% of 100 samples" in err
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "100", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_run_options_are_checked_the_same_way_in_the_cli_and_the_api(tmp_path, capsys):
    """Issue #16: one validation of seed and PSA size for both front doors (exit 2, no
    traceback)."""
    from costmodel.errors import OptionError

    out = str(tmp_path / "x")
    assert main(["run", str(HIV_WORKBOOK), "--out", out, "--seed", "-1"]) == 2
    assert "seed must be an integer >= 0" in capsys.readouterr().err
    assert main(["run", str(HIV_WORKBOOK), "--out", out, "--psa-samples", "-5"]) == 2
    assert "psa_samples must be >= 0" in capsys.readouterr().err
    for kwargs in ({"psa_samples": -5}, {"psa_samples": 2.5}, {"seed": -1}, {"seed": "7"}):
        with pytest.raises(OptionError):
            run_workbook(HIV_WORKBOOK, deterministic=False, **kwargs)
    with pytest.raises(OptionError, match="path must be"):
        run_workbook(None)


def test_an_unwritable_output_location_is_a_clear_error(tmp_path, capsys):
    """--out below an ordinary file: a message naming the path, exit 1, no traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["run", str(HIV_WORKBOOK), "--out", str(blocker / "out"), "--psa-samples", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot write the results" in err and "Traceback" not in err


def test_validate_refuses_what_run_would_refuse(tmp_path, capsys):
    """Issue #16 item 4: a probability of 17 in a transition and initial shares that do not
    add up passed `validate` and failed `run`; `validate` now builds and runs the base case."""
    from tests.conftest import edit_workbook

    bad_probability = edit_workbook(
        HIV_WORKBOOK, tmp_path / "p17.xlsx", {("Parameters", "rr_combination", "value"): 17}
    )
    assert main(["validate", str(bad_probability)]) == 2
    err = capsys.readouterr().err
    assert "Transitions!" in err and "outside [0, 1]" in err
    no_start = edit_workbook(
        HIV_WORKBOOK, tmp_path / "start.xlsx", {("States", "state_a", "initial"): 0}
    )
    assert main(["validate", str(no_start)]) == 2
    assert "initial proportions" in capsys.readouterr().err
    assert main(["validate", str(HIV_WORKBOOK)]) == 0
