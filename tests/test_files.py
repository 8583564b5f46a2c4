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
