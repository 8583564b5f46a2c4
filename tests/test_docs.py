"""The README's workbook reference is generated from the schema and must stay in sync."""

from __future__ import annotations

from costmodel import schema
from tests.conftest import ROOT


def test_readme_workbook_reference_matches_schema():
    text = (ROOT / "README.md").read_text()
    assert schema.replace_reference(text) == text, (
        "README workbook reference is stale: run `python -m costmodel.schema README.md`"
    )


def test_readme_names_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make run" in text and "make test" in text


def test_readme_project_layout_names_only_modules_that_exist():
    """Every costmodel/ path the README's Project layout names exists, and every module of the
    package is named there (the layout cannot drift from the code)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Project layout") : text.index("## References")]
    block = section[: section.index("### Where things go")]
    named: set[str] = set()
    folder = ""
    for line in block.splitlines():
        if not line.startswith("      ") or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        words = line.strip().split("  ")[0].split() if indent == 6 else line.split()
        if indent == 6:
            folder = ""
        for word in words:
            if word.endswith("/"):
                folder = word
                named.add(word.rstrip("/"))
            elif word.endswith(".py"):
                named.add(f"{folder}{word}" if indent > 6 else word)
            else:
                break
    package = ROOT / "costmodel"
    missing = sorted(n for n in named if not (package / n).exists())
    assert missing == []
    modules = {
        str(p.relative_to(package)) for p in package.rglob("*.py") if p.name != "__init__.py"
    }
    unnamed = sorted(m for m in modules if m not in named)
    assert unnamed == []


def test_readme_python_examples_run_as_written(tmp_path, monkeypatch):
    """Every ```python block of the README runs (in a temporary folder for its outputs, from
    the repository root so that its workbook paths resolve)."""
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```python")[1:]
    assert blocks, "README has no Python example"
    monkeypatch.chdir(ROOT)
    for block in blocks:
        code = block[: block.index("```")]
        code = code.replace('"results/', f'"{tmp_path}/')  # outputs go to the temp folder
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)  # our own README
    assert (tmp_path / "my_run" / "base_case.csv").exists()


def test_readme_first_ten_minutes_walkthrough_holds(tmp_path):
    """The walk-through's facts about the default workbook (cells, values, names) and its
    steps: lowering the bag price in B53 and re-running with --fast lowers the ICER of
    msc_cells; the scenario and validate commands it names work."""
    import shutil

    import pandas as pd
    from openpyxl import load_workbook

    from costmodel.cli import main
    from costmodel.parameters import evaluate_parameters
    from costmodel.validate import load_inputs

    text = (ROOT / "README.md").read_text()
    walkthrough = text[text.index("### The first ten minutes") : text.index("**Dependencies**")]
    default = ROOT / "inputs" / "msc_covid19.xlsx"
    sheet = load_workbook(default)["Parameters"]
    assert (sheet["A53"].value, sheet["B53"].value) == ("c_bag_eur", 6647)
    assert sheet["A55"].value == "c_msc_infusion"
    assert "row 53" in walkthrough and "B53" in walkthrough and "row 55" in walkthrough
    inputs = load_inputs(default)
    assert round(float(evaluate_parameters(inputs)["c_msc_infusion"][0])) == 6775  # £6,775
    assert "6,775" in walkthrough
    assert inputs.scenario_inputs("permanent_effect") is not None
    icers = {}
    for price in (6647, 3000):
        copy = tmp_path / f"msc_{price}.xlsx"
        shutil.copyfile(default, copy)
        wb = load_workbook(copy)
        wb["Parameters"]["B53"] = price
        wb.save(copy)
        out = tmp_path / f"out_{price}"
        assert main(["run", str(copy), "--fast", "--out", str(out), "-q"]) == 0
        base = pd.read_csv(out / "base_case.csv").set_index("strategy")
        icers[price] = base.loc["msc_cells", "icer_per_qaly_vs_reference"]
    assert icers[3000] < icers[6647]
    assert main(["validate", str(default)]) == 0


def _readme_shell_commands(text: str) -> list[str]:
    """costmodel command lines the README shows as code (indented blocks, and `inline` code
    outside tables) on one of its workbooks, as a reader would type them: none with a
    placeholder (WORKBOOK, NB.csv, W) or '...'."""
    import re

    prose = "\n".join(line for line in text.splitlines() if not line.startswith("|"))
    lines = [m.group(1) for m in re.finditer(r"^    (?:\$ )?(\S.*?)\s*(?:#.*)?$", prose, re.M)]
    lines += re.findall(r"`((?:\.venv/bin/)?costmodel [^`]+)`", prose)
    commands = []
    for line in (" ".join(line.split()) for line in lines):  # a code span may wrap lines
        if not line.startswith(("costmodel ", "source .venv", ".venv/bin/costmodel ")):
            continue
        if "..." in line or "inputs/" not in line or re.search(r"(^|\s)[A-Z][A-Z.]*\b", line):
            continue
        if line not in commands:
            commands.append(line)
    return commands


def test_readme_shell_commands_run_as_written(tmp_path):
    """Issue #15: every costmodel command the README shows with real arguments runs as
    written (in a shell, from a folder with the project's inputs/ and .venv/) and exits 0;
    the Chancellor example prints the published ICER it shows."""
    import subprocess

    text = (ROOT / "README.md").read_text()
    commands = _readme_shell_commands(text)
    assert ".venv/bin/costmodel run inputs/msc_covid19.xlsx --fast" in commands
    assert "costmodel run inputs/examples/chancellor_hiv.xlsx" in commands
    assert ".venv/bin/costmodel validate inputs/msc_covid19.xlsx" in commands
    venv = ROOT / ".venv"
    if not (venv / "bin" / "costmodel").exists():
        import pytest

        pytest.skip("needs the project's .venv (make test creates it)")
    (tmp_path / ".venv").symlink_to(venv)
    (tmp_path / "inputs").symlink_to(ROOT / "inputs")
    for command in commands:
        # commands after the README's "call it there, or activate" note assume either
        shell = (
            command
            if command.startswith((".venv", "source"))
            else f". .venv/bin/activate && {command}"
        )
        done = subprocess.run(
            ["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{command}:\n{done.stderr[-2000:]}"
        if "chancellor_hiv" in command:
            assert "6,276" in done.stdout  # the README's printed ICER
    assert (tmp_path / "results" / "msc_covid19" / "report.html").exists()
