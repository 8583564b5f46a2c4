"""The output-folder transaction: a run's folder appears whole or not at all.

All files are written into a hidden temporary sibling folder, which then replaces the output
folder in one rename, so a failed or interrupted run leaves the previous results intact. An
existing folder is replaced only if it carries the marker file of a costmodel output and
holds nothing else than the files that marker lists: costmodel never deletes a file it did not
write (an input workbook saved inside the output folder, a user's notes...).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pandas as pd

from costmodel.errors import CostModelError
from costmodel.files import atomic_write, umask, write_csv, write_json

MARKER = ".costmodel-output"
PID_FILE = ".costmodel-pid"  # in a temporary folder while its run is alive
MARKER_HEADER = "This folder was written by costmodel and may be replaced."
MANIFEST_LINE = "Files written (only these are replaced):"
# Folders marked by the first release list no files: these are the names it wrote.
LEGACY_OUTPUTS = ("*.csv", "summary.json", "report.html", "results.xlsx", "figures/*", "tables/*")


class OutputError(CostModelError):
    """The output folder cannot be written safely."""


def write_output_folder(
    out_dir: str | Path,
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping[str, object] | None,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``<name>.csv`` for each table, ``summary.json`` (unless ``summary`` is None:
    ``extra`` writes it then) and whatever ``extra`` writes, then swap the folder into place.
    Returns the output folder."""
    out = Path(out_dir)
    try:
        return _write(out, tables, summary, extra)
    except OSError as exc:  # disk full, read-only, a file where a folder should be...
        raise _cannot_write(out, exc) from None


def _cannot_write(out: Path, exc: OSError) -> OutputError:
    cause = exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename else ""
    return OutputError(
        f"cannot write the results to {out}: {cause}{where}. Nothing was replaced: earlier "
        "results there are unchanged. Free space, fix the permissions or choose another --out."
    )


def check_output_folder(out_dir: str | Path) -> None:
    """OutputError now if ``out_dir`` could not be replaced by a run's results (a file, a
    folder costmodel did not write, or one holding files it did not write), so that a long
    run fails before it starts rather than at the end; the check is made again when the
    results are written. Reads only."""
    out = Path(out_dir)
    try:
        _check_replaceable(out)
    except OSError as exc:  # a folder that cannot be listed...
        raise _cannot_write(out, exc) from None


def _write(out: Path, tables, summary, extra) -> Path:
    _recover_interrupted_swap(out)
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_runs_temp_folders(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    (tmp / PID_FILE).write_text(f"{os.getpid()}\n")
    tmp.chmod(0o777 & ~umask())  # mkdtemp makes 0700; results are shared like other files
    try:
        for name, table in tables.items():
            write_csv(tmp / f"{name}.csv", table)
        if summary is not None:
            write_json(tmp / "summary.json", summary)
        if extra is not None:
            extra(tmp)
        (tmp / PID_FILE).unlink()
        _write_marker(tmp)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _remove_dead_runs_temp_folders(out: Path) -> None:
    """Temporary folders of runs killed outright (SIGKILL, power loss): costmodel's own only
    (they carry its pid file) and only when that process is gone."""
    for folder in out.parent.glob(f".{out.name}.tmp-*"):
        pid_file = folder / PID_FILE
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue  # not a folder this version of costmodel marked: leave it
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _recover_interrupted_swap(out: Path) -> None:
    """A run killed between the two renames of a swap leaves the previous results in a
    hidden '.NAME.old-*' folder and no NAME: put them back before anything else."""
    if out.exists() or not out.parent.exists():
        return
    candidates = sorted(
        out.parent.glob(f".{out.name}.old-*/{out.name}"), key=lambda p: p.stat().st_mtime
    )
    for candidate in reversed(candidates):
        if (candidate / MARKER).exists():
            os.replace(candidate, out)
            shutil.rmtree(candidate.parent, ignore_errors=True)
            return


def _write_marker(folder: Path) -> None:
    """The marker, listing every file of the folder (relative paths, sorted)."""
    written = sorted(_relative_files(folder))
    (folder / MARKER).write_text("\n".join([MARKER_HEADER, MANIFEST_LINE, *written]) + "\n")


def add_to_marker(folder: Path, names: Iterable[str]) -> None:
    """List files costmodel has just written into an existing output folder (the reports
    `costmodel report` adds) in its marker, so that a later run may replace them."""
    listed = _listed(folder)
    if listed is None:
        return  # a first-release marker lists nothing: the folder is replaceable as is
    added = {n for n in names if (folder / n).is_file()} - listed
    if added:
        written = sorted(listed | added)
        text = "\n".join([MARKER_HEADER, MANIFEST_LINE, *written]) + "\n"
        atomic_write(folder / MARKER, lambda tmp: tmp.write_text(text))


def _relative_files(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()]


def _listed(out: Path) -> set[str] | None:
    """Files the marker says costmodel wrote (None: a first-release marker without a list)."""
    lines = (out / MARKER).read_text(errors="replace").splitlines()
    if MANIFEST_LINE not in lines:
        return None
    return set(lines[lines.index(MANIFEST_LINE) + 1 :])


def _check_replaceable(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a folder; choose another --out.")
    if any(out.iterdir()) and not (out / MARKER).exists():
        raise OutputError(
            f"output folder {out} is not empty and was not written by costmodel (no {MARKER} "
            "file); refusing to replace it. Choose another --out or empty the folder."
        )
    if not (out / MARKER).exists():
        return
    listed = _listed(out)
    present = [f for f in _relative_files(out) if f != MARKER]
    if listed is None:
        foreign = [f for f in present if not any(Path(f).match(p) for p in LEGACY_OUTPUTS)]
    else:
        foreign = [f for f in present if f not in listed]
    if foreign:
        shown = ", ".join(sorted(foreign)[:5]) + (", ..." if len(foreign) > 5 else "")
        raise OutputError(
            f"output folder {out} holds files costmodel did not write ({shown}); refusing to "
            "replace it, which would delete them. Move them out of the folder or choose "
            "another --out."
        )


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` with renames only. The previous folder is moved aside first
    and deleted only once a complete folder (new, or the restored old one) is in place."""
    aside = None
    try:
        if out.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, aside / out.name)
        try:
            os.replace(tmp, out)
        except BaseException:
            if aside is not None and (aside / out.name).exists() and not out.exists():
                os.replace(aside / out.name, out)
            raise
    finally:
        if aside is not None and out.exists():
            shutil.rmtree(aside, ignore_errors=True)
