"""The command line: run writes the contract files atomically; template writes a valid model."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from costmodel import cores
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
    """In a log (no terminal) each analysis step and the writing of outputs get a line,
    numbered 1..total; a step run in a forked process is named as it is collected, with
    what it ran beside."""
    from costmodel.analyses.run import ALONGSIDE, BESIDE_PSA, STEPS

    out = tmp_path / "hiv"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "100"]) == 0
    err = capsys.readouterr().err
    total = len(STEPS) + 2  # and the two stages of writing
    lines = re.findall(r"^\[(\d+)/(\d+)\] (.+)$", err, flags=re.MULTILINE)
    assert [int(i) for i, _, _ in lines] == list(range(1, total + 1))
    assert {int(n) for _, n, _ in lines} == {total}
    named = {text.split(" (ran beside")[0]: text for _, _, text in lines}
    for name, _ in STEPS:
        assert name in named
        forked = name in BESIDE_PSA | ALONGSIDE
        assert ("(ran beside" in named[name]) == (forked and cores.fork_processes() > 1)
    texts = [text for _, _, text in lines]  # EVPPI and EVSI, forked, end while writing
    assert "writing tables and figures" in texts[-5:]
    assert texts[-1] == "writing figures and reports"
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


def test_python_dash_m_runs_the_command_line():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "costmodel", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("costmodel ")


def test_the_version_is_the_installed_packages():
    """costmodel.__version__ is written once (pyproject.toml reads it): what summary.json and
    --version report is the version pip installed."""
    from importlib.metadata import version

    import costmodel

    assert costmodel.__version__ == version("costmodel")
    assert costmodel.__version__.count(".") == 2


def test_the_command_leaves_at_once_with_its_output_and_exit_code(tmp_path):
    """console_main skips the interpreter's teardown (os._exit) after flushing the streams:
    output to a pipe (block-buffered) arrives whole, and the exit code is main's."""
    import subprocess
    import sys

    out = tmp_path / "run"
    run = [sys.executable, "-m", "costmodel", "run", str(HIV_WORKBOOK), "--out", str(out)]
    done = subprocess.run([*run, "--fast", "--no-report", "-q"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "ICER table" in done.stdout
    assert done.stdout.splitlines()[-1].startswith(f"Results written to {out}/ (tables only;")
    assert (out / "summary.json").is_file()
    missing = tmp_path / "missing.xlsx"
    failed = subprocess.run(
        [sys.executable, "-m", "costmodel", "validate", str(missing)],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2
    assert "file not found" in failed.stderr


def test_fast_no_report_and_wtp_options(tmp_path, capsys):
    out = tmp_path / "fast"
    args = ["run", str(HIV_WORKBOOK), "--out", str(out), "--fast", "--no-report", "-q"]
    assert main([*args, "--wtp", "10000", "50000"]) == 0
    written = {p.name for p in out.iterdir()}
    assert {"base_case.csv", "dsa_oneway.csv", "summary.json", "tables"} <= written
    # --fast: no PSA, two-way, threshold; --no-report: no figures, report or workbook
    assert not written & {"ceac.csv", "twoway.csv", "threshold.csv", "psa_summary.csv"}
    assert not written & {"figures", "report.html", "results.xlsx", "cheers.csv"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["psa_samples"] == 0
    base = pd.read_csv(out / "base_case.csv")
    assert {"nmb_10000", "nmb_50000"} <= set(base.columns)
    assert "nmb_20000" not in base.columns


def test_bad_wtp_and_unknown_scenario_are_option_errors(tmp_path, capsys):
    out = str(tmp_path / "x")
    assert main(["run", str(HIV_WORKBOOK), "--out", out, "--wtp", "-5", "-q"]) == 2
    assert "willingness to pay must be a number >= 0" in capsys.readouterr().err
    assert main(["run", str(HIV_WORKBOOK), "--out", out, "--scenario", "nope", "-q"]) == 2
    assert "no such scenario (none in this workbook)" in capsys.readouterr().err


def test_verbose_prints_stage_durations(tmp_path, capsys):
    out = str(tmp_path / "v")
    assert main(["run", str(HIV_WORKBOOK), "--out", out, "--fast", "--no-report", "-v"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^  base case: \d+\.\d s$", err, flags=re.MULTILINE)


def test_icers_out_is_a_folder(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("strategy,cost,effect\nA,100,1\nB,300,2\n")
    assert main(["icers", str(table), "--out", str(tmp_path / "folder")]) == 0
    written = pd.read_csv(tmp_path / "folder" / "icers.csv")
    assert written.icer.iloc[1] == pytest.approx(200.0)  # (300 - 100) / (2 - 1)


def test_scenario_option_runs_a_scenario_as_the_base_case(tmp_path):
    from tests.test_msc_model import COVID

    runs = {}
    for name in (None, "permanent_effect"):
        out = tmp_path / str(name)
        extra = ["--scenario", name] if name else []
        args = ["run", str(COVID), "--out", str(out), "--fast", "--no-report", "-q", *extra]
        assert main(args) == 0
        runs[name] = pd.read_csv(out / "base_case.csv").set_index("strategy")
    assert (
        json.loads((tmp_path / "permanent_effect" / "summary.json").read_text())["scenario"]
        == "permanent_effect"
    )
    # a lifelong effect gains more QALYs with the cells than one that ends at day 28
    gain = {k: t.loc["msc_cells", "qaly"] - t.loc["standard_care", "qaly"] for k, t in runs.items()}
    assert gain["permanent_effect"] > gain[None] > 0


def test_no_absolute_path_in_any_output_and_report_uses_the_hashed_copy(tmp_path, capsys):
    import shutil
    import zipfile

    from costmodel.reports import INPUT_COPY

    source = tmp_path / "private" / "folder" / "hiv.xlsx"
    source.parent.mkdir(parents=True)
    shutil.copyfile(HIV_WORKBOOK, source)
    out = tmp_path / "out"
    assert main(["run", str(source), "--out", str(out), "--psa-samples", "50", "-q"]) == 0
    secret = str(source.parent)
    for path in out.rglob("*"):
        if path.suffix in (".csv", ".json", ".html", ".svg"):
            assert secret not in path.read_text(errors="replace"), path
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    assert secret.encode() not in archive.read(name), (path, name)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input_file"] == "hiv.xlsx" and "input_path" not in summary
    # `report` rebuilds from the folder's copy, even when the original is gone
    source.unlink()
    assert (out / INPUT_COPY).read_bytes() == HIV_WORKBOOK.read_bytes()
    assert main(["report", str(out)]) == 0
    # a copy that is not the workbook the run hashed is refused, not parsed
    (out / INPUT_COPY).write_bytes(b"PK\x03\x04 not the modelled workbook")
    capsys.readouterr()
    assert main(["report", str(out)]) != 0
    assert "not the workbook this run modelled" in capsys.readouterr().err


def test_printed_table_shows_the_increment_the_icer_divides_by(tmp_path, capsys):
    """The HIV workbook's effect measure is LY: the table shows inc_ly, and ICER = Δcost/ΔLY."""
    out = tmp_path / "ly"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--fast", "--no-report", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "ICER per LY gained" in printed and "inc_ly" in printed and "inc_qaly" not in printed
    row = pd.read_csv(out / "base_case.csv").set_index("strategy").loc["combination"]
    assert row.icer == pytest.approx(row.inc_cost / row.inc_ly, rel=1e-9)
    assert f"{row.inc_ly:.3f}" in printed


def test_icers_pairwise_versus_a_reference_and_net_health_benefit(tmp_path, capsys):
    """BCEA's convention beside the frontier: every strategy against one reference."""
    table = tmp_path / "t.csv"
    table.write_text("strategy,cost,effect\nA,100,1\nB,300,2\nC,700,2.5\n")
    args = ["icers", str(table), "--wtp", "400", "--reference", "A", "--out", str(tmp_path)]
    assert main(args) == 0
    out = pd.read_csv(tmp_path / "icers.csv").set_index("strategy")
    # C vs A: (700 - 100) / (2.5 - 1) = 400; along the frontier C vs B: 400 / 0.5 = 800
    assert out.loc["C", "icer_vs_reference"] == pytest.approx(400.0)
    assert out.loc["C", "icer"] == pytest.approx(800.0)
    assert np.isnan(out.loc["A", "icer_vs_reference"])
    # net health benefit at 400 per unit: effect - cost / 400
    assert out.loc["B", "nhb_400"] == pytest.approx(2 - 300 / 400)
    assert main(["icers", str(table), "--reference", "Z"]) == 2


def test_reports_added_later_do_not_block_the_next_run(tmp_path, capsys):
    """run --no-report, then `costmodel report`, then run again into the same folder: the
    report files are listed in the folder's marker, so the folder stays replaceable."""
    out = tmp_path / "out"
    assert (
        main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0", "--no-report"])
        == 0
    )
    assert "tables only" in capsys.readouterr().out
    assert not (out / "report.html").exists()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").exists()
    assert "report.html" in (out / ".costmodel-output").read_text()
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--evppi", "nope"], "'nope' is not a parameter"),
        (["--evppi", "rr_combination,,c_lamivudine"], "an empty parameter name"),
        (["--evppi", "n_a"], "'n_a' has no PSA distribution"),
        (["--scenario", ""], "--scenario : no such scenario"),
        (["--out", ""], "--out: an empty folder name"),
    ],
)
def test_run_options_are_checked_before_running(args, message, capsys):
    """Found by an adversarial pass: these ran (or failed late with exit 1)."""
    argv = ["run", str(HIV_WORKBOOK), "--psa-samples", "50", *args]
    if "--out" not in args:
        argv += ["--out", "/nonexistent-never-written"]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cea_and_icers_refuse_a_negative_wtp(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("strategy,cost,effect\nA,1,1\nB,2,2\n")
    assert main(["icers", str(table), "--wtp", "-1"]) == 2
    assert "willingness to pay must be a number >= 0" in capsys.readouterr().err


def test_an_empty_optional_sheet_is_left_out_with_a_warning(tmp_path, capsys):
    from openpyxl import load_workbook as open_workbook

    wb = open_workbook(HIV_WORKBOOK)
    wb.create_sheet("Scenarios")
    path = tmp_path / "empty_scenarios.xlsx"
    wb.save(path)
    assert main(["validate", str(path)]) == 0
    assert "Scenarios!A1: the sheet is empty: it is left out." in capsys.readouterr().out


def test_costmodel_warnings_are_plain_warning_lines_others_keep_python_form(capsys):
    """A warning raised in costmodel's code (the EVPPI flag, re-issued from a forked helper
    with the helper's file and line) prints as one 'warning:' line, without the source line
    Python's form adds; another package's warning keeps Python's form."""
    import warnings

    from costmodel import cli

    ours = str(Path(cli.__file__).parent / "analyses" / "evppi.py")
    python_form = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda m, c, f, n, *_: python_form.append((str(m), f, n))
        with cli.plain_warnings():
            warnings.warn_explicit("evppi.csv: 2 estimate(s) flagged", RuntimeWarning, ours, 139)
            warnings.warn_explicit("overflow encountered", RuntimeWarning, "/elsewhere/x.py", 7)
    assert capsys.readouterr().err == "warning: evppi.csv: 2 estimate(s) flagged\n"
    assert python_form == [("overflow encountered", "/elsewhere/x.py", 7)]
