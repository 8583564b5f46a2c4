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
