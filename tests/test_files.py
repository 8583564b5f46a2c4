"""The one atomic writer: whole files or none, ordinary permissions (the first release wrote
report.html, cheers.csv and template workbooks as 0600)."""

from __future__ import annotations

import os

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
