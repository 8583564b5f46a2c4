"""Hostile inputs are refused quickly, in bounded memory, with exit code 2 and a clear message.

Files that are not workbooks, XML entity bombs, zip bombs, expressions that try to run code,
and output paths that would destroy someone's files. Each case is run in-process through
``costmodel.cli.main``; time and the peak of Python allocations (tracemalloc) are measured
around the call. The 5-second limit is generous on purpose: a refusal takes milliseconds,
an attack that gets through takes minutes or gigabytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import resource
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from costmodel.cli import main
from tests.conftest import HIV_WORKBOOK, ROOT

SECONDS = 5.0
PEAK_BYTES = 100 * 1024 * 1024


def refuse(argv: list[str], capsys) -> tuple[int, str, float, int]:
    """Run the CLI; return exit code, stderr, seconds and peak traced memory in bytes."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        code = main(argv)
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.err, elapsed, peak


def assert_refused_quickly(
    path: Path, capsys, phrase: str | tuple[str, ...], command: str = "validate"
) -> str:
    argv = [command, str(path)]
    if command == "run":
        argv += ["--out", str(path.parent / "hostile_out"), "--psa-samples", "0", "--no-dsa"]
    code, err, seconds, peak = refuse(argv, capsys)
    assert code == 2, err
    for line in err.splitlines():  # one problem per line, each naming the file
        if line.strip() and not line.startswith("warning:"):
            assert line.startswith(f"{path.name}: "), err
    phrases = (phrase,) if isinstance(phrase, str) else phrase
    assert any(p in err for p in phrases), err
    assert seconds < SECONDS, f"took {seconds:.1f} s"
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.0f} MB"
    assert not (path.parent / "hostile_out").exists()
    return err


def rezip(source: bytes, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> bytes:
    """A copy of the zip ``source`` with some members' bytes replaced and others added."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(source)) as old,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        for info in old.infolist():
            new.writestr(info.filename, replace.get(info.filename, old.read(info.filename)))
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return buffer.getvalue()


SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def with_shared_strings(sst: bytes) -> bytes:
    """The HIV workbook (inline strings) plus a declared xl/sharedStrings.xml part, which
    openpyxl parses when it opens the workbook."""
    source = HIV_WORKBOOK.read_bytes()
    types = zipfile.ZipFile(io.BytesIO(source)).read("[Content_Types].xml").decode()
    override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}" />'
    types = types.replace("</Types>", override + "</Types>")
    return rezip(source, {"[Content_Types].xml": types.encode()}, add={"xl/sharedStrings.xml": sst})


def _lol_doctype(root: str) -> str:
    entities = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    entities += [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]  # lol9 expands to 10**9 x 30 characters
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE {root} [\n' + "\n".join(entities)


MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def billion_laughs_shared_strings() -> bytes:
    return (
        _lol_doctype("sst")
        + f'\n]>\n<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    ).encode()


def billion_laughs_sheet() -> bytes:
    return (
        _lol_doctype("worksheet") + f'\n]>\n<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    ).encode()


def external_entity_sheet() -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>'
    ).encode()


# ---------------------------------------------------------------------------- XML bombs


def test_shared_strings_part_is_read(tmp_path, capsys):
    """The carrier of the next test is a valid workbook: its strings part is parsed."""
    sst = f'<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>x</t></si></sst>'
    path = tmp_path / "sst.xlsx"
    path.write_bytes(with_shared_strings(sst.encode()))
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    path.write_bytes(with_shared_strings(b"<sst><si><t>broken"))
    assert main(["validate", str(path)]) == 2  # so a broken part is noticed


def test_billion_laughs_in_shared_strings_is_refused(tmp_path, capsys):
    path = tmp_path / "laughs.xlsx"
    path.write_bytes(with_shared_strings(billion_laughs_shared_strings()))
    err = assert_refused_quickly(path, capsys, ("cannot read the workbook", "refusing to parse"))
    assert "lollol" not in err


def test_billion_laughs_in_a_sheet_is_refused(tmp_path, capsys):
    path = tmp_path / "laughs_sheet.xlsx"
    path.write_bytes(
        rezip(HIV_WORKBOOK.read_bytes(), {"xl/worksheets/sheet1.xml": billion_laughs_sheet()})
    )
    err = assert_refused_quickly(path, capsys, ("cannot read", "Settings", "refusing to parse"))
    assert "lollol" not in err


def test_external_entity_in_a_sheet_is_refused_and_not_resolved(tmp_path, capsys):
    path = tmp_path / "xxe.xlsx"
    path.write_bytes(
        rezip(HIV_WORKBOOK.read_bytes(), {"xl/worksheets/sheet2.xml": external_entity_sheet()})
    )
    err = assert_refused_quickly(path, capsys, ("cannot read", "Parameters", "refusing to parse"))
    assert "root:" not in err


def test_malformed_xml_in_a_sheet_is_refused(tmp_path, capsys):
    path = tmp_path / "broken_sheet.xlsx"
    path.write_bytes(
        rezip(HIV_WORKBOOK.read_bytes(), {"xl/worksheets/sheet3.xml": b"<worksheet><sheetData>"})
    )
    assert_refused_quickly(path, capsys, ("cannot read", "States"))


# ---------------------------------------------------------------------------- zip bombs


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """The HIV workbook plus a member of 400 MB of zeros (about 400 KB compressed).

    Written in 1 MB chunks so the test itself never holds the 400 MB.
    """
    path = tmp_path_factory.mktemp("bomb") / "bomb.xlsx"
    path.write_bytes(HIV_WORKBOOK.read_bytes())
    chunk = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/zeros.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(400):
            member.write(chunk)
    assert path.stat().st_size < 5 * 1024 * 1024
    return path


def test_zip_bomb_is_refused_before_unpacking(zip_bomb, capsys):
    assert_refused_quickly(zip_bomb, capsys, "unpacks to")


def test_zip_bomb_is_refused_by_run_too(zip_bomb, capsys):
    assert_refused_quickly(zip_bomb, capsys, "unpacks to", command="run")


def test_zip_with_a_bomb_in_shared_strings_is_refused(tmp_path, capsys):
    """400 MB of 'a' inside one shared string: the sizes are checked before parsing."""
    path = tmp_path / "sst_bomb.xlsx"
    path.write_bytes(HIV_WORKBOOK.read_bytes())
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as member,
    ):
        member.write(f'<sst xmlns="{MAIN_NS}"><si><t>'.encode())
        chunk = b"a" * (1024 * 1024)
        for _ in range(400):
            member.write(chunk)
        member.write(b"</t></si></sst>")
    assert_refused_quickly(path, capsys, "unpacks to")


# ---------------------------------------------------------------------------- not workbooks


def test_random_bytes_are_not_a_workbook(tmp_path, capsys):
    path = tmp_path / "noise.xlsx"
    path.write_bytes(random.Random(20231).randbytes(64 * 1024))
    assert_refused_quickly(path, capsys, "not an .xlsx workbook")


def test_csv_renamed_to_xlsx_is_refused(tmp_path, capsys):
    path = tmp_path / "parameters.xlsx"
    path.write_text("name,value\np_death,0.17\nc_ward,901\n")
    assert_refused_quickly(path, capsys, ("not an .xlsx workbook", "CSV"))


def test_old_xls_or_encrypted_workbook_is_refused(tmp_path, capsys):
    path = tmp_path / "legacy.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + random.Random(1).randbytes(4096))
    assert_refused_quickly(path, capsys, (".xls", "encrypted"))


def test_empty_file_is_refused(tmp_path, capsys):
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert_refused_quickly(path, capsys, ("empty", "not an .xlsx workbook"))


def test_truncated_workbook_is_refused(tmp_path, capsys):
    data = HIV_WORKBOOK.read_bytes()
    path = tmp_path / "truncated.xlsx"
    path.write_bytes(data[: len(data) // 2])
    assert_refused_quickly(path, capsys, ("not an .xlsx workbook", "cannot read"))


def test_zip_that_is_not_a_workbook_is_refused(tmp_path, capsys):
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "just a zip")
    assert_refused_quickly(path, capsys, "cannot read the workbook")


def test_directory_passed_as_workbook_is_refused(tmp_path, capsys):
    folder = tmp_path / "model.xlsx"
    folder.mkdir()
    assert_refused_quickly(folder, capsys, "not a file")


def test_missing_file_is_refused(tmp_path, capsys):
    assert_refused_quickly(tmp_path / "nowhere.xlsx", capsys, "file not found")


# ---------------------------------------------------------------------------- expressions

ATTACKS = [
    ("__import__('os').system('touch PWNED')", ("not allowed",)),
    ("().__class__.__bases__", ("not allowed",)),
    ("lambda: 1", ("lambda",)),
    ("[x for x in range(10)]", ("not allowed",)),
    ("open('/etc/passwd')", ("unknown function 'open'", "not allowed")),
    ("9**9**9", ("overflow", "too large")),
    ('exec(\'open("PWNED", "w")\')', ("unknown function 'exec'", "not allowed")),
    ("eval('1')", ("unknown function 'eval'", "not allowed")),
    ("globals()", ("unknown function 'globals'",)),
    ("(1).__class__", ("not allowed",)),
    ("'a' * 10**9", ("not allowed",)),
    ("10**10**10**10", ("overflow", "too large")),
]


@pytest.mark.parametrize(("text", "phrases"), ATTACKS, ids=[a[0] for a in ATTACKS])
@pytest.mark.parametrize("place", ["parameter", "strategy variable", "transition"])
def test_code_in_a_cell_is_refused_not_run(text, phrases, place, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything executed would write PWNED here
    sheet, key, column, nth = {
        "parameter": ("Parameters", "c_lamivudine", "value", 1),
        "strategy variable": ("Strategies", "combination", "c_drugs", 1),
        "transition": ("Transitions", "state_b", "probability", 2),
    }[place]
    wb = load_workbook(HIV_WORKBOOK)
    ws = wb[sheet]
    headers = [str(c.value).strip().lower() if c.value is not None else "" for c in ws[1]]
    rows = [r[0].row for r in ws.iter_rows(min_row=2) if r[0].value == key]
    cell = ws.cell(row=rows[nth - 1], column=headers.index(column) + 1)
    cell.value = text
    path = tmp_path / "attack.xlsx"
    wb.save(path)
    err = assert_refused_quickly(path, capsys, phrases, command="run")
    assert re.match(rf"attack\.xlsx: {sheet}!{cell.coordinate}: ", err), err
    assert not (tmp_path / "PWNED").exists()
    assert not (ROOT / "PWNED").exists()
    assert "root:" not in err


# ---------------------------------------------------------------------------- sizes in cells

MEMORY_LIMIT = 3 * 1024**3  # address space of the child process: a bomb fails, not the host


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(path: Path, out: Path) -> subprocess.CompletedProcess:
    """`costmodel run` in a child process with a memory limit and a time limit."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "costmodel.cli",
            "run",
            str(path),
            "--out",
            str(out),
            "--no-dsa",
            "--psa-samples",
            "0",
        ],
        cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )


def _edit_hiv(tmp_path: Path, sheet: str, key: str, column: str, value: object) -> tuple[Path, str]:
    wb = load_workbook(HIV_WORKBOOK)
    ws = wb[sheet]
    headers = [str(c.value).strip().lower() if c.value is not None else "" for c in ws[1]]
    if column not in headers:  # add the optional column
        headers.append(column)
        ws.cell(row=1, column=len(headers)).value = column
    row = next(r[0].row for r in ws.iter_rows(min_row=2) if r[0].value == key)
    cell = ws.cell(row=row, column=headers.index(column) + 1)
    cell.value = value
    path = tmp_path / "sizes.xlsx"
    wb.save(path)
    return path, f"{sheet}!{cell.coordinate}"


def test_a_billion_cycles_is_refused_at_its_cell(tmp_path):
    """A Phases row is limited to 100,000 cycles; the Settings n_cycles must be too."""
    path, where = _edit_hiv(tmp_path, "Settings", "n_cycles", "value", 10**9)
    result = run_limited(path, tmp_path / "out")
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(f"sizes.xlsx: {where}: "), result.stderr
    assert "limit" in result.stderr
    assert not (tmp_path / "out").exists()


def test_longest_allowed_tunnel_runs_or_is_refused_in_bounded_memory(tmp_path):
    """tunnel_length up to 10,000 passes validation; the run must then fit in memory (or the
    limit must be lower and reported at the cell)."""
    path, where = _edit_hiv(tmp_path, "States", "state_c", "tunnel_length", 10_000)
    result = run_limited(path, tmp_path / "out")
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 2), result.stderr[-2000:]
    if result.returncode == 2:
        assert result.stderr.startswith(f"sizes.xlsx: {where}: "), result.stderr


# ---------------------------------------------------------------------------- output paths


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


def _quick_run(workbook: Path, out: Path) -> list[str]:
    return ["run", str(workbook), "--out", str(out), "--psa-samples", "0", "--no-dsa"]


def test_out_pointing_at_a_foreign_folder_leaves_it_untouched(tmp_path, capsys):
    foreign = tmp_path / "thesis"
    (foreign / "chapters").mkdir(parents=True)
    (foreign / "thesis.docx").write_bytes(b"precious")
    (foreign / "chapters" / "one.md").write_text("# One\n")
    (foreign / ".git").write_text("gitdir: elsewhere\n")
    before = _snapshot(foreign)
    code = main(_quick_run(HIV_WORKBOOK, foreign))
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    assert "refusing to replace" in err or "not a costmodel output folder" in err
    assert str(foreign) in err
    assert _snapshot(foreign) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # no temp folder left


def test_out_pointing_at_a_file_leaves_it_untouched(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("keep me\n")
    code = main(_quick_run(HIV_WORKBOOK, target))
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "not a folder" in err
    assert target.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_out_pointing_at_the_input_workbook_leaves_it_untouched(tmp_path, capsys):
    workbook = tmp_path / "model.xlsx"
    workbook.write_bytes(HIV_WORKBOOK.read_bytes())
    digest = hashlib.sha256(workbook.read_bytes()).hexdigest()
    code = main(_quick_run(workbook, workbook))
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert hashlib.sha256(workbook.read_bytes()).hexdigest() == digest


def test_out_outside_the_working_tree_given_explicitly_is_allowed(tmp_path, capsys, monkeypatch):
    here = tmp_path / "project"
    here.mkdir()
    monkeypatch.chdir(here)
    out = tmp_path / "elsewhere" / "results"
    assert os.path.commonpath([here, out]) != str(here)
    code = main(_quick_run(HIV_WORKBOOK, out))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (out / "base_case.csv").exists() and (out / "summary.json").exists()
    assert list(here.iterdir()) == []  # nothing written to the working directory


@pytest.mark.parametrize("stored", [b"NaN", b"inf", b"-Infinity", b"1,5"])
def test_a_stored_number_that_is_not_a_number_is_located(tmp_path, stored):
    """Some non-Excel tools write <v>NaN</v> into a number cell; openpyxl then fails with an
    int() message. The problem is named as Sheet!Cell instead."""
    import re
    import zipfile

    from costmodel.errors import InputError
    from costmodel.workbook import read_workbook
    from tests.conftest import HIV_WORKBOOK

    target = tmp_path / "stored.xlsx"
    with zipfile.ZipFile(HIV_WORKBOOK) as src, zipfile.ZipFile(target, "w") as out:
        rels = src.read("xl/_rels/workbook.xml.rels").decode()
        book = src.read("xl/workbook.xml").decode()
        rid = re.search(r'<sheet [^>]*name="Parameters"[^>]*r:id="([^"]+)"', book).group(1)
        part = re.search(rf'Target="/?(xl/[^"]+)"[^>]*Id="{rid}"', rels).group(1)
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == part:
                cell = rb'(<c r="B3"[^>]*>)<v>[^<]*</v>'
                data = re.sub(cell, rb"\1<v>" + stored + rb"</v>", data)
            out.writestr(item, data)
    with pytest.raises(InputError) as error:
        read_workbook(target)
    assert "Parameters!B3" in str(error.value) and "not a number" in str(error.value)
