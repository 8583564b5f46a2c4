"""The one atomic writer: whole files or none, ordinary permissions (the first release wrote
report.html, cheers.csv and template workbooks as 0600)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from costmodel import files


def test_atomic_write_gives_new_files_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = files.atomic_write_text(tmp_path / "report.html", "<p>x</p>")
    finally:
        os.umask(old)
    assert path.read_text() == "<p>x</p>"
    assert path.stat().st_mode & 0o777 == 0o644


def test_atomic_write_keeps_the_previous_file_when_writing_fails(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("previous")

    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(path, fail)
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary file left


def test_output_folder_files_all_share_one_mode(tmp_path):
    """report.html and cheers.csv come out with the same mode as the CSVs beside them."""
    from costmodel.cli import main
    from tests.conftest import HIV_WORKBOOK

    out = tmp_path / "hiv"
    old = os.umask(0o022)
    try:
        assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir() if p.is_file()}
    assert set(modes.values()) == {0o644}, modes


def test_an_input_inside_the_output_folder_is_never_deleted(tmp_path):
    """Issue #16, data loss: the workbook saved inside --out must survive (the run refuses)."""
    import shutil

    from costmodel.cli import main
    from tests.conftest import HIV_WORKBOOK

    out = tmp_path / "hiv"
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0
    inside = out / "my_model.xlsx"
    shutil.copyfile(HIV_WORKBOOK, inside)
    notes = out / "figures" / "my_notes.txt"
    notes.write_text("keep me")
    assert main(["run", str(inside), "--out", str(out), "--psa-samples", "0"]) == 1
    assert inside.read_bytes() == HIV_WORKBOOK.read_bytes()
    assert notes.read_text() == "keep me"


def test_a_folder_of_costmodel_files_only_is_replaced(tmp_path):
    from costmodel.cli import main
    from tests.conftest import HIV_WORKBOOK

    out = tmp_path / "hiv"
    for _ in range(2):
        assert main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "0"]) == 0
    listed = (out / ".costmodel-output").read_text().splitlines()
    assert "report.html" in listed and "figures/state_diagram.png" in listed


def test_first_release_folders_are_replaced_only_when_they_hold_its_outputs(tmp_path):
    """A marker without a file list (first release): only its known output names go."""
    from costmodel.cli import main
    from tests.conftest import HIV_WORKBOOK

    old = tmp_path / "old"
    (old / "figures").mkdir(parents=True)
    (old / ".costmodel-output").write_text("This folder was written by costmodel.\n")
    (old / "base_case.csv").write_text("x")
    (old / "figures" / "ceac.png").write_bytes(b"png")
    assert main(["run", str(HIV_WORKBOOK), "--out", str(old), "--psa-samples", "0"]) == 0
    (old / ".costmodel-output").write_text("This folder was written by costmodel.\n")
    (old / "model.xlsx").write_bytes(b"a workbook")
    assert main(["run", str(HIV_WORKBOOK), "--out", str(old), "--psa-samples", "0"]) == 1
    assert (old / "model.xlsx").read_bytes() == b"a workbook"


def test_text_a_spreadsheet_would_run_as_a_formula_is_quoted_in_csvs(tmp_path):
    """OWASP CSV injection: a label such as '=HYPERLINK(...)' is written as text."""
    from openpyxl import load_workbook

    from costmodel.cli import main
    from tests.conftest import HIV_WORKBOOK

    wb = load_workbook(HIV_WORKBOOK)
    ws = wb["Strategies"]
    labels = {'=HYPERLINK("http://x")', "@SUM(1)", "+1", "-2"}
    for row, label in zip(range(2, 4), ('=HYPERLINK("http://x")', "@SUM(1)"), strict=True):
        ws.cell(row, 2).value = label  # column B: label
    path = tmp_path / "labels.xlsx"
    wb.save(path)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--psa-samples", "0", "-q"]) == 0
    text = (out / "base_case.csv").read_text()
    assert "'=HYPERLINK" in text and "'@SUM(1)" in text
    assert ",=HYPERLINK" not in text and ",@SUM" not in text
    assert labels  # documented triggers: = + - @ tab CR
    frame = pd.DataFrame({"a": ["-x", "ok", 1.5], "b": [-1.0, 2.0, 3.0]})
    out_frame = files.neutralised(frame)
    assert out_frame.a.tolist() == ["'-x", "ok", 1.5] and out_frame.b.tolist() == [-1.0, 2.0, 3.0]


def test_array_formula_cells_are_refused_at_their_cell(tmp_path):
    from openpyxl import load_workbook
    from openpyxl.worksheet.formula import ArrayFormula

    from costmodel.errors import InputError
    from costmodel.workbook import read_workbook
    from tests.conftest import HIV_WORKBOOK

    wb = load_workbook(HIV_WORKBOOK)
    ws = wb["Strategies"]
    ws["B2"] = ArrayFormula("B2", "=UPPER(A2)")
    path = tmp_path / "array.xlsx"
    wb.save(path)
    with pytest.raises(InputError, match=r"Strategies!B2: holds an array or data-table formula"):
        read_workbook(path)


def test_reruns_are_byte_identical_with_source_date_epoch(tmp_path, monkeypatch):
    """Issue #16 item 11: same inputs and seed, and SOURCE_DATE_EPOCH, give the same bytes in
    every file: tables, SVG/PNG figures, report.html, results.xlsx, summary.json."""
    import time

    from costmodel.cli import main
    from tests.conftest import HIV_WORKBOOK

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    folders = []
    for name in ("first", "second"):
        out = tmp_path / name
        assert (
            main(["run", str(HIV_WORKBOOK), "--out", str(out), "--psa-samples", "200", "-q"]) == 0
        )
        folders.append(out)
        time.sleep(1.1)  # a different wall-clock second for the second run
    first = {
        p.relative_to(folders[0]): p.read_bytes() for p in folders[0].rglob("*") if p.is_file()
    }
    second = {
        p.relative_to(folders[1]): p.read_bytes() for p in folders[1].rglob("*") if p.is_file()
    }
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    assert b"2026-01-01T00:00:00Z" in first[Path("summary.json")]


def test_csv_numbers_have_at_most_ten_significant_digits(tmp_path):
    """0.985 is written as 0.985, not 0.98499999999999999 (issue #15); 1/3 to 10 digits."""
    import pandas as pd

    from costmodel.files import write_csv

    path = tmp_path / "t.csv"
    write_csv(path, pd.DataFrame({"x": [0.985, 1.0 / 3.0, 44670.04102946, 1e-300]}))
    assert path.read_text().split("\n")[1:5] == ["0.985", "0.3333333333", "44670.04103", "1e-300"]


def test_fast_csv_writer_writes_the_bytes_pandas_writes(tmp_path):
    """write_csv formats columns itself (twice as fast as pandas' float_format): the file is
    byte for byte what pandas' to_csv writes with the same options, for every column kind
    the outputs use; other kinds (dates here) go to pandas itself."""
    table = pd.DataFrame(
        {
            "sample": [1, 2, 3, 4, 5],
            "flag": [True, False, True, True, False],
            "x": [0.985, float("nan"), float("inf"), -0.0, -1.5e-300],
            "y": [1.0 / 3.0, 2.0, 44670.04102946, -float("inf"), 1e21],
            "text": ["a,b", 'say "hi"', "line\nbreak", "=1+2", "plain"],
            "maybe": pd.array(["x", None, "z", None, "-neg"], dtype="str"),
            "obj": pd.Series(["u", None, "w", float("nan"), "+p"], dtype=object),
        }
    )
    expected = files.neutralised(table).to_csv(
        index=False, float_format="%.10g", lineterminator="\n"
    )
    assert files._formatted_columns(files.neutralised(table)) is not None  # the fast path
    files.write_csv(tmp_path / "t.csv", table)
    assert (tmp_path / "t.csv").read_text(encoding="utf-8") == expected
    assert expected.splitlines()[2] == '2,False,,2,"say ""hi""",,'  # by hand
    for edge in (pd.DataFrame(), table.iloc[:0], pd.DataFrame(index=[0, 1])):  # no rows/columns
        files.write_csv(tmp_path / "e.csv", edge)
        assert (tmp_path / "e.csv").read_text(encoding="utf-8") == edge.to_csv(
            index=False, float_format="%.10g", lineterminator="\n"
        )
    dated = table.assign(when=pd.to_datetime([f"2026-01-0{i}" for i in range(1, 6)]))
    assert files._formatted_columns(dated) is None
    files.write_csv(tmp_path / "d.csv", dated)
    assert (tmp_path / "d.csv").read_text(encoding="utf-8") == files.neutralised(dated).to_csv(
        index=False, float_format="%.10g", lineterminator="\n"
    )
