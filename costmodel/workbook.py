"""Read an .xlsx workbook into raw tables that remember every cell's address.

No interpretation happens here: values come back as openpyxl gives them (numbers, text,
booleans, dates, None). The file is read once into memory, hashed, and parsed from those
bytes, so the recorded SHA-256 is exactly what was modelled. The file is never written.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from costmodel.errors import InputError, Problem
from costmodel.schema import ALL_SHEETS

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024
MAX_ROWS_PER_SHEET = 100_000
MAX_COLUMNS_PER_SHEET = 200


@dataclass(frozen=True)
class RawRow:
    """One non-blank row: values and cell addresses keyed by normalized header."""

    row: int
    values: dict[str, object]
    cells: dict[str, str]

    def get(self, column: str) -> object:
        return self.values.get(column)

    def cell(self, column: str) -> str:
        return self.cells.get(column, f"?{self.row}")


@dataclass(frozen=True)
class RawSheet:
    """A sheet read as a table: header row 1, records below it."""

    name: str
    headers: dict[str, str]  # normalized header -> column letter
    header_text: dict[str, str]  # normalized header -> header as written
    rows: tuple[RawRow, ...]
    duplicate_headers: tuple[str, ...] = ()  # cells whose header repeats an earlier one

    def header_cell(self, column: str) -> str:
        return f"{self.headers[column]}1"


@dataclass(frozen=True)
class RawWorkbook:
    path: Path
    file: str  # file name used in messages
    sha256: str
    sheets: dict[str, RawSheet]  # keyed by sheet name as written
    notes: tuple[str, ...] = ()  # warnings about the file itself (e.g. hidden sheets left out)
    data: bytes = field(default=b"", repr=False, compare=False)  # the bytes hashed and parsed

    def sheet(self, name: str) -> RawSheet | None:
        """Case-insensitive lookup."""
        for key, sheet in self.sheets.items():
            if key.strip().lower() == name.lower():
                return sheet
        return None


def normalize_header(text: object) -> str:
    """'Tunnel length ' -> 'tunnel_length'."""
    return re.sub(r"[\s\-]+", "_", str(text).strip().lower())


def read_workbook(path: str | Path) -> RawWorkbook:
    """Read every sheet of ``path``; raise InputError if it is not a readable .xlsx file."""
    path = Path(path)
    file = path.name
    data = _read_bytes(path, file)
    _check_zip(data, file)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        visible = _visible_worksheets(wb.worksheets, file)
        sheets = {ws.title: _read_sheet(ws, file) for ws in visible}
        hidden = [ws.title for ws in wb.worksheets if ws not in visible]
        wb.close()
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises many types for corrupt or hostile files
        located = _unreadable_numbers(data, file)
        if located:
            raise InputError(located) from None
        raise InputError(Problem.at(file, message=_describe_failure(exc))) from None
    notes = tuple(
        f"{file}: hidden sheet '{name}' is not read (costmodel reads visible sheets only)."
        for name in hidden
    )
    return RawWorkbook(path, file, hashlib.sha256(data).hexdigest(), sheets, notes, data)


def _visible_worksheets(worksheets: list, file: str) -> list:
    """The visible worksheets. A hidden sheet named like a model sheet, or two sheets whose
    names differ only in case or spaces, would be ambiguous: refused, never read silently."""
    known = {s.name.lower() for s in ALL_SHEETS}
    seen: dict[str, str] = {}
    for ws in worksheets:
        key = ws.title.strip().lower()
        hidden = getattr(ws, "sheet_state", "visible") != "visible"
        if hidden and key in known:
            raise InputError(
                Problem.at(
                    file,
                    ws.title,
                    message=f"sheet '{ws.title}' is hidden and named like the {key} sheet; "
                    "costmodel does not read hidden sheets. Unhide it (and remove any other "
                    "sheet of that name) or rename it.",
                )
            )
        if not hidden and key in seen:
            raise InputError(
                Problem.at(
                    file,
                    ws.title,
                    message=f"sheets '{seen[key]}' and '{ws.title}' have the same name but for "
                    "case or spaces; keep one of them.",
                )
            )
        if not hidden:
            seen[key] = ws.title
    return [ws for ws in worksheets if getattr(ws, "sheet_state", "visible") == "visible"]


_NUMBER_CELL = re.compile(
    rb"<c\b([^>]*)>\s*(?:<f\b[^>]*(?:/>|>.*?</f>)\s*)?<v>\s*([^<]*?)\s*</v>", re.DOTALL
)
_REFERENCE = re.compile(rb'\br="([A-Z]+[0-9]+)"')
_TYPE = re.compile(rb'\bt="([^"]*)"')
_TAG = {name: re.compile(rb"<" + name + rb"\b([^>]*)>") for name in (b"sheet", b"Relationship")}


def _attribute(attributes: bytes, name: bytes) -> bytes:
    found = re.search(rb"(?:^|\s)" + name + rb'="([^"]*)"', attributes)
    return found.group(1) if found else b""


_PLAIN_NUMBER = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _unreadable_numbers(data: bytes, file: str) -> list[Problem]:
    """Number cells whose stored value is not a number (``<v>NaN</v>``, ``<v>inf</v>``, as
    some non-Excel tools write), each located as Sheet!Cell; [] when there are none."""
    problems = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            book = archive.read("xl/workbook.xml")
            rels = {
                _attribute(a, b"Id"): _attribute(a, b"Target")
                for a in _TAG[b"Relationship"].findall(archive.read("xl/_rels/workbook.xml.rels"))
            }
            sheets = [
                (_attribute(a, b"name"), _attribute(a, b"r:id"))
                for a in _TAG[b"sheet"].findall(book)
            ]
            for name, rid in sheets:
                target = rels.get(rid, b"").decode().lstrip("/")
                part = target if target.startswith("xl/") else f"xl/{target}"
                xml = archive.read(part)
                for attributes, value in _NUMBER_CELL.findall(xml):
                    kind = _TYPE.search(attributes)
                    reference = _REFERENCE.search(attributes)
                    if (kind is not None and kind.group(1) != b"n") or reference is None:
                        continue  # text, boolean, error or shared-string cells
                    cell = reference.group(1)
                    if value and not _PLAIN_NUMBER.fullmatch(value):
                        sheet = html.unescape(name.decode())
                        problems.append(
                            Problem.at(
                                file,
                                sheet,
                                cell.decode(),
                                f"the stored number is {value.decode()!r}, which is not a "
                                "number; type the value again (or clear the cell) and save.",
                            )
                        )
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        return []
    return problems


def _describe_failure(exc: BaseException) -> str:
    """One line saying why a workbook could not be parsed; entity tricks named as such."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    if any(type(e).__module__.startswith("defusedxml") for e in chain):
        return (
            "the workbook's XML declares entities or a DTD (an XML bomb or external-entity "
            "attack, or a damaged file); refusing to parse it. Save it again from Excel."
        )
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return f"cannot read the workbook ({text[:300]}). Save it again from Excel as .xlsx."


def _read_bytes(path: Path, file: str) -> bytes:
    if not path.exists():
        raise InputError(Problem.at(file, message=f"file not found: {path}"))
    if not path.is_file():
        raise InputError(Problem.at(file, message=f"not a file: {path}"))
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(
            Problem.at(
                file,
                message=f"file is {size / 1e6:.0f} MB; the limit is "
                f"{MAX_FILE_BYTES / 1e6:.0f} MB for an input workbook.",
            )
        )
    return path.read_bytes()


def _check_zip(data: bytes, file: str) -> None:
    """Refuse non-xlsx files and zip bombs before any XML is parsed."""
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(
            Problem.at(
                file,
                message="this is an old .xls file or an encrypted workbook; "
                "save it as an unencrypted .xlsx workbook.",
            )
        )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise InputError(
            Problem.at(
                file,
                message="not an .xlsx workbook (not a zip archive); a CSV or "
                "other file renamed to .xlsx? Save it from Excel as .xlsx.",
            )
        )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        total = sum(info.file_size for info in archive.infolist())
    if total > MAX_UNCOMPRESSED_BYTES:
        raise InputError(
            Problem.at(
                file,
                message=f"the workbook unpacks to {total / 1e6:.0f} MB, over the "
                f"{MAX_UNCOMPRESSED_BYTES / 1e6:.0f} MB limit; refusing to parse it.",
            )
        )


# what a cell may hold (openpyxl gives formula objects for array and data-table formulas)
PLAIN_CELL_TYPES = (
    int,
    float,
    bool,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
)


def _read_sheet(ws, file: str) -> RawSheet:
    headers: dict[str, str] = {}
    header_text: dict[str, str] = {}
    rows: list[RawRow] = []
    columns: list[str | None] = []
    duplicates: list[str] = []
    for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
        if r > MAX_ROWS_PER_SHEET:
            raise InputError(
                Problem.at(file, ws.title, message=f"more than {MAX_ROWS_PER_SHEET} rows.")
            )
        values = values[:MAX_COLUMNS_PER_SHEET]
        if r == 1:
            for c, text in enumerate(values, start=1):
                if text is None or str(text).strip() == "":
                    columns.append(None)
                    continue
                key = normalize_header(text)
                if key in headers:
                    duplicates.append(f"{get_column_letter(c)}1")
                columns.append(key if key not in headers else None)
                headers.setdefault(key, get_column_letter(c))
                header_text.setdefault(key, str(text).strip())
            continue
        record: dict[str, object] = {}
        cells: dict[str, str] = {}
        for c, value in enumerate(values, start=1):
            key = columns[c - 1] if c <= len(columns) else None
            if key is None:
                continue
            if isinstance(value, str):
                value = value.strip() or None
            elif value is not None and not isinstance(value, PLAIN_CELL_TYPES):
                where = f"{get_column_letter(c)}{r}"
                raise InputError(
                    Problem.at(
                        file,
                        ws.title,
                        where,
                        f"holds an array or data-table formula ({type(value).__name__}); "
                        "costmodel reads values, not formulas: enter the value itself.",
                    )
                )
            cells[key] = f"{get_column_letter(c)}{r}"
            if value is not None:
                record[key] = value
        if record:
            rows.append(RawRow(r, record, cells))
    return RawSheet(ws.title, headers, header_text, tuple(rows), tuple(duplicates))
