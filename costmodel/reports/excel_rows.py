"""The rows of a long table sheet as XML text, spliced into the saved results.xlsx.

openpyxl's streamed writer builds a cell object and an XML element for every value (~15 us a
cell): the 5,000-row ``psa_samples`` sheet of a 1,000-sample run took 2.5 s, the longest
single job of the writing step. Here the ``<row>`` elements of a table of numbers and plain
text are formatted directly, byte for byte what openpyxl writes for the same cells (tested):
numbers with 16 significant digits, text as inline strings, NaN and infinite values as empty
cells.
Non-ASCII characters are written as character references, as lxml writes them. Values that
openpyxl stores specially (booleans, dates, nullable numbers, text that looks like a formula
or an error code, text with surrounding spaces, carriage returns or characters XML does not
allow, each judged after the cleaning every cell gets) make :func:`rows_xml` return None, and
the caller streams that table through openpyxl as before.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter

from costmodel.reports.excel_cells import _text

BULK_MIN_ROWS = 1_000  # table sheets with at least this many rows are written as XML text

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # surrogates and non-characters


def rows_xml(
    table: pd.DataFrame,
    formats: Sequence[str | None],
    style_id: Callable[[str], int],
    first_row: int = 2,
) -> str | None:
    """The ``<row>`` elements of ``table``'s rows, the first at sheet row ``first_row``;
    numbers of column j in number format ``formats[j]`` (None: General), whose workbook style
    ``style_id`` gives (registering it, in the order streaming the cells would). None when a
    column holds values this writer does not produce (see the module docstring)."""
    columns = [_xml_values(table[name]) for name in table.columns]
    if any(c is None for c in columns):
        return None
    first_number = {  # column -> row of its first number: styles are registered in that order
        j: int(np.argmax(ok))
        for j, (values, ok) in enumerate(columns)
        if formats[j] is not None and isinstance(values, np.ndarray) and ok.any()
    }
    ids = [0] * len(columns)
    for j in sorted(first_number, key=lambda j: (first_number[j], j)):
        ids[j] = style_id(formats[j])
    rows = [str(r) for r in range(first_row, first_row + len(table))]
    cells = [
        _cells(values, ok, get_column_letter(j + 1), rows, ids[j])
        for j, (values, ok) in enumerate(columns)
    ]
    return "".join(
        f'<row r="{r}">{"".join(row)}</row>'
        for r, row in zip(rows, zip(*cells, strict=True), strict=True)
    )


def _xml_values(column: pd.Series) -> tuple[object, np.ndarray] | None:
    """(numbers as an array, or escaped texts as a list; which cells are not empty), or None
    for a column this writer does not produce."""
    if pd.api.types.is_bool_dtype(column):
        return None
    if pd.api.types.is_integer_dtype(column) or pd.api.types.is_float_dtype(column):
        if not isinstance(column.dtype, np.dtype):  # nullable numbers (pd.NA): streamed
            return None
        values = column.to_numpy()
        ok = np.isfinite(values) if values.dtype.kind == "f" else np.ones(len(values), bool)
        return values, ok
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return None
    texts: list[str] = []
    ok = np.ones(len(column), bool)
    for i, value in enumerate(column.tolist()):
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            texts.append("")
            ok[i] = False
        elif isinstance(value, str) and _plain_text(text := _text(value)):
            # lxml writes no encoding declaration: non-ASCII characters as references
            texts.append(text.translate(_ESCAPES).encode("ascii", "xmlcharrefreplace").decode())
        else:
            return None
    return texts, ok


def _cells(values: object, ok: np.ndarray, letter: str, rows: list[str], style_id: int) -> list:
    head = f'<c r="{letter}'
    if isinstance(values, np.ndarray):
        style = f' s="{style_id}"' if style_id else ""
        middle = f'"{style} t="n"><v>'
        return [
            f"{head}{r}{middle}{v:.16g}</v></c>" if good else ""
            for r, v, good in zip(rows, values.tolist(), ok.tolist(), strict=True)
        ]
    return [
        f'{head}{r}" t="inlineStr"><is><t>{t}</t></is></c>' if good else ""
        for r, t, good in zip(rows, values, ok.tolist(), strict=True)
    ]


def _plain_text(value: str) -> bool:
    """Cleaned text (:func:`~costmodel.reports.excel_cells._text`) that openpyxl writes as a
    plain inline string: no quote prefix, no preserved spaces, only characters XML allows."""
    return (
        value != ""
        and value == value.strip()
        and "\r" not in value
        and not value.startswith("=")
        and value not in ERROR_CODES
        and not _NOT_XML.search(value)
    )


def splice_rows(saved: bytes, rows: dict[str, str]) -> dict[str, bytes]:
    """The worksheet parts of the saved workbook ``saved`` named by the sheet titles in
    ``rows``, with those rows added at the end of their ``sheetData``."""
    with zipfile.ZipFile(io.BytesIO(saved)) as book:
        paths = _sheet_paths(book)
        parts = {}
        for title, xml in rows.items():
            path = paths[title]
            data = book.read(path)
            end = data.rindex(b"</sheetData>")
            parts[path] = data[:end] + xml.encode("utf-8") + data[end:]
    return parts


def _sheet_paths(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> its worksheet part in the package (from the workbook's relationships)."""
    workbook = ET.fromstring(book.read("xl/workbook.xml"))
    relations = ET.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in relations.iter(f"{{{_PKG_REL_NS}}}Relationship")
    }
    paths = {}
    for sheet in workbook.iter(f"{{{_MAIN_NS}}}sheet"):
        target = targets[sheet.get(f"{{{_REL_NS}}}id")]
        paths[sheet.get("name")] = target[1:] if target.startswith("/") else f"xl/{target}"
    return paths
