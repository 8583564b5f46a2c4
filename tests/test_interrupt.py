"""Interrupted runs never lose results, and the input workbook is never written.

`costmodel run` writes into a hidden temporary sibling folder (``.OUT.tmp-*``) and swaps it
into place at the end. A run stopped with SIGINT (Ctrl-C) removes its temporary folder and
leaves the previous results untouched. SIGKILL cannot be caught, so a run killed while writing
may leave a hidden ``.OUT.tmp-*`` folder behind; such leftovers are hidden, never read, and do
not stop a later run from replacing OUT.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from costmodel.cli import main
from tests.conftest import HIV_WORKBOOK, ROOT

MSC_WORKBOOK = ROOT / "inputs" / "msc_covid19.xlsx"
LONG_RUN = ["--psa-samples", "200000"]  # minutes of work: certain to be running after 3 s
QUICK_RUN = ["--psa-samples", "0", "--no-dsa"]
SECONDS_BEFORE_SIGNAL = 2.0  # after validation: ~3 s into the run


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def costmodel_run(out: Path, *options: str, log: Path) -> subprocess.Popen:
    """Start ``costmodel run`` on the MSC workbook in a child process."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "costmodel.cli", "run", str(MSC_WORKBOOK), "--out", str(out)]
    with log.open("w") as sink:
        return subprocess.Popen(
            [*argv, *options],
            cwd=ROOT,  # the checkout's costmodel, as `make run` uses it
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def finish(process: subprocess.Popen, log: Path, timeout: float = 120) -> tuple[int, str]:
    code = process.wait(timeout=timeout)
    return code, log.read_text()


@pytest.fixture
def previous_results(tmp_path) -> Path:
    """OUT written by a quick successful run, in a parent folder of its own."""
    parent = tmp_path / "results"
    parent.mkdir()
    out = parent / "msc"
    before = sha256(MSC_WORKBOOK)
    code, output = finish(
        costmodel_run(out, *QUICK_RUN, log=tmp_path / "quick.log"), tmp_path / "quick.log"
    )
    assert code == 0, output
    assert (out / "base_case.csv").exists() and (out / "summary.json").exists()
    assert sha256(MSC_WORKBOOK) == before
    return out


def wait_until_working(process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait until the child has printed something (the MSC workbook's synthesis warning comes
    right after validation), so the signal reaches the run, not the interpreter's imports."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if log.stat().st_size > 0:
            return
        time.sleep(0.1)


def descendants(pid: int) -> set[int]:
    """The processes started by ``pid`` and by them, from /proc (Linux)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
        except (OSError, ValueError):
            continue
        found = re.search(r"^PPid:\s+(\d+)", status, re.M)
        if entry.name.isdigit() and found:
            parents[int(entry.name)] = int(found.group(1))
    found_pids: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found_pids |= frontier
    return found_pids


def alive(pids: set[int], timeout: float = 10) -> set[int]:
    """Those of ``pids`` still running (not zombies) after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        running = set()
        for pid in pids:
            try:
                state = re.search(r"^State:\s+(\S)", Path(f"/proc/{pid}/status").read_text(), re.M)
            except OSError:
                continue
            if state and state.group(1) != "Z":
                running.add(pid)
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


HELPERS: dict[str, set[int]] = {}  # signal name -> the run's helper processes at the signal


def interrupt(out: Path, sig: signal.Signals, log: Path) -> tuple[int, str]:
    """Start a long run into ``out`` and send ``sig`` a few seconds into the work (its helper
    processes at that moment are kept in HELPERS)."""
    before = sha256(MSC_WORKBOOK)
    process = costmodel_run(out, *LONG_RUN, log=log)
    try:
        wait_until_working(process, log)
        time.sleep(SECONDS_BEFORE_SIGNAL)
        assert process.poll() is None, f"the long run ended early:\n{log.read_text()}"
        HELPERS[sig.name] = descendants(process.pid)
        process.send_signal(sig)
        try:
            code, output = finish(process, log, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within 60 s of {sig.name}:\n{log.read_text()}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert sha256(MSC_WORKBOOK) == before
    return code, output


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


def test_sigint_keeps_previous_results_and_leaves_no_temp_folder(previous_results, tmp_path):
    out = previous_results
    before = snapshot(out)
    base_case, summary = (out / "base_case.csv").read_bytes(), (out / "summary.json").read_bytes()
    code, output = interrupt(out, signal.SIGINT, tmp_path / "sigint.log")
    assert code == 130, output  # the shell convention for Ctrl-C
    assert "Traceback" not in output
    assert (out / "base_case.csv").read_bytes() == base_case
    assert (out / "summary.json").read_bytes() == summary
    assert snapshot(out) == before
    assert leftovers(out) == [], "an interrupted run left files next to OUT"


def test_sigkill_keeps_previous_results_and_a_later_run_replaces_them(previous_results, tmp_path):
    out = previous_results
    before = snapshot(out)
    code, output = interrupt(out, signal.SIGKILL, tmp_path / "sigkill.log")
    assert code == -signal.SIGKILL, output
    assert snapshot(out) == before
    # its forked helpers (the PSA's, the steps beside it) die with it, none left running
    assert HELPERS["SIGKILL"], "no helper processes at the signal: the run was not forking"
    assert alive(HELPERS["SIGKILL"]) == set()
    # SIGKILL cannot clean up: at most hidden temporary folders are left, which nothing reads
    assert all(re.fullmatch(rf"\.{re.escape(out.name)}\.tmp-.+", n) for n in leftovers(out))

    # Simulate the worst case (killed while writing) and check it does not get in the way.
    stale = out.parent / f".{out.name}.tmp-killed"
    stale.mkdir(exist_ok=True)
    (stale / "base_case.csv").write_text("half-written\n")
    old_summary = (out / "summary.json").read_bytes()

    workbook_hash = sha256(MSC_WORKBOOK)
    log = tmp_path / "after.log"
    code, output = finish(costmodel_run(out, "--seed", "7", *QUICK_RUN, log=log), log)
    assert code == 0, output
    assert sha256(MSC_WORKBOOK) == workbook_hash
    assert (out / "summary.json").read_bytes() != old_summary  # replaced: a new seed recorded
    assert '"seed": 7' in (out / "summary.json").read_text()
    assert (out / "base_case.csv").read_bytes() == before["base_case.csv"]  # same model
    assert all(n.startswith(".") for n in leftovers(out))  # only the hidden leftover


def test_different_seeds_give_different_psa_samples(tmp_path, capsys):
    workbook_hash = sha256(HIV_WORKBOOK)
    tables = {}
    for run, seed in (("a", "1"), ("b", "2"), ("c", "1")):
        out = tmp_path / run
        code = main(
            [
                "run",
                str(HIV_WORKBOOK),
                "--out",
                str(out),
                "--psa-samples",
                "64",
                "--no-dsa",
                "--seed",
                seed,
            ]
        )
        assert code == 0, capsys.readouterr().err
        tables[run] = (out / "psa_samples.csv").read_bytes()
        assert sha256(HIV_WORKBOOK) == workbook_hash
    assert tables["a"] != tables["b"]
    assert tables["a"] == tables["c"]  # the difference is the seed, nothing else


# Ctrl-C at the worst moments of writing, made deterministic by raising KeyboardInterrupt
# from inside the writer (as Python does when SIGINT arrives there).


@pytest.fixture
def hiv_results(tmp_path, capsys) -> Path:
    out = tmp_path / "results" / "hiv"
    code = main(["run", str(HIV_WORKBOOK), "--out", str(out), *QUICK_RUN])
    assert code == 0, capsys.readouterr().err
    return out


def test_ctrl_c_while_writing_files_keeps_previous_results(hiv_results, monkeypatch):
    import costmodel.reports

    out = hiv_results
    before = snapshot(out)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # summary.json, written once the tables are (and, with forked steps, while figures are)
    monkeypatch.setattr(costmodel.reports, "write_json", interrupted)
    assert (
        main(["run", str(HIV_WORKBOOK), "--out", str(out), "--seed", "5", *QUICK_RUN]) == 130
    )  # the CLI reports the interruption and exits 130
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_ctrl_c_while_swapping_folders_keeps_previous_results(hiv_results, monkeypatch):
    """The swap is two renames (OUT aside, new folder in); Ctrl-C between them must restore
    OUT and leave nothing behind."""
    import costmodel.reports.folder

    out = hiv_results
    before = snapshot(out)
    real_replace = os.replace
    interrupted = []

    def replace_then_interrupt(src, dst):
        if Path(dst) == out and Path(src).name.startswith(f".{out.name}.tmp-"):
            interrupted.append(src)  # the new folder is about to replace OUT
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(costmodel.reports.folder.os, "replace", replace_then_interrupt)
    assert (
        main(["run", str(HIV_WORKBOOK), "--out", str(out), "--seed", "5", *QUICK_RUN]) == 130
    )  # the CLI reports the interruption and exits 130
    monkeypatch.undo()
    assert interrupted
    assert snapshot(out) == before
    assert leftovers(out) == [], "hidden folders left next to OUT"


def test_sigterm_is_handled_like_ctrl_c(previous_results, tmp_path):
    """Issue #16: SIGTERM (a scheduler stopping the job) keeps earlier results, exit 130."""
    out = previous_results
    before = snapshot(out)
    code, output = interrupt(out, signal.SIGTERM, tmp_path / "sigterm.log")
    assert code == 130, output
    assert "Traceback" not in output
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_temporary_folders_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    """A killed run's temporary folder carries its pid; the next run removes it when that
    process is gone, and leaves folders it cannot attribute (or of live runs) alone."""
    out = tmp_path / "hiv"
    dead = tmp_path / ".hiv.tmp-dead"
    dead.mkdir()
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    probe = subprocess.run(command, capture_output=True, text=True, check=True)
    (dead / ".costmodel-pid").write_text(probe.stdout)  # that process has exited
    live = tmp_path / ".hiv.tmp-live"
    live.mkdir()
    (live / ".costmodel-pid").write_text(f"{os.getpid()}\n")
    foreign = tmp_path / ".hiv.tmp-unknown"
    foreign.mkdir()
    assert main(["run", str(HIV_WORKBOOK), "--out", str(out), *QUICK_RUN, "-q"]) == 0
    assert not dead.exists()
    assert live.exists() and foreign.exists()


def test_an_interrupt_inside_the_compiler_is_deferred_not_lost():
    """Python ignores an exception raised in a ctypes callback (llvmlite calls back while
    numba compiles or loads its cache), so a Ctrl-C there would be lost: it is deferred and
    raised when the compiled call returns."""
    import types

    from costmodel import interrupts

    def frame_in(filename: str):
        code = compile("pass", filename, "exec")
        return types.SimpleNamespace(f_code=code, f_back=None)

    inside = frame_in(os.sep.join(["", "site-packages", "llvmlite", "binding", "ee.py"]))
    interrupts.handler(signal.SIGINT, inside)  # deferred: no exception here
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()
    interrupts.check()  # raised once only
    with pytest.raises(KeyboardInterrupt):
        interrupts.handler(signal.SIGINT, frame_in(os.sep.join(["", "costmodel", "cli.py"])))


def test_sigint_while_the_kernel_compiles_stops_the_run(tmp_path):
    """With an empty numba cache the first PSA chunk compiles the kernel; SIGINT sent then
    still ends the run with exit 130."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    command = [sys.executable, "-m", "costmodel.cli", "run", str(MSC_WORKBOOK), "--out", str(out)]
    process = subprocess.Popen(
        [*command, *LONG_RUN], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    time.sleep(SECONDS_BEFORE_SIGNAL + 1.5)  # inside the first chunk: compiling or running
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("no exit within 60 s of SIGINT")
    assert process.returncode == 130, err[-2000:]
    assert not out.exists()
