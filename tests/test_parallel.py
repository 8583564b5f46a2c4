"""Work spread over processes and threads gives the same results as one process: forked
analysis steps, forked writing jobs, Gaussian-process columns on threads (issue #14)."""

from __future__ import annotations

import contextlib
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest

from costmodel import cores, voi_regression
from costmodel.analyses.base import RunOptions
from costmodel.analyses.run import run_analyses
from costmodel.cores import Forked
from costmodel.model import numpy_engine, use_compiled
from costmodel.reports import write_result
from costmodel.reports.jobs import Job, run_jobs
from costmodel.validate import load_inputs
from tests.conftest import HIV_WORKBOOK

ROOT = Path(__file__).resolve().parents[1]
COVID = ROOT / "inputs" / "msc_covid19.xlsx"

needs_fork = pytest.mark.skipif(cores.fork_processes() < 2, reason="needs Linux and 2 cores")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@needs_fork
def test_forked_analysis_steps_give_the_tables_of_one_process(monkeypatch):
    """Every table of the default model (200 PSA samples, all steps) is the same, bit for
    bit, whether the steps beside the PSA and beside the model re-runs were forked or not."""
    inputs = load_inputs(COVID)
    options = RunOptions(seed=3, psa_samples=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # flagged EVPPI estimates
        forked = run_analyses(inputs, options)
        monkeypatch.setenv(cores.FORK_ENV, "1")
        assert cores.fork_processes() == 1
        alone = run_analyses(inputs, options)
    assert list(forked.tables) == list(alone.tables)  # the same tables, in STEPS order
    for name, table in alone.tables.items():
        assert table.equals(forked.tables[name]), name


@needs_fork
def test_forked_writing_jobs_write_the_folder_of_one_process(tmp_path, monkeypatch):
    """All files of an output folder (CSVs, figures, results.xlsx, report.html) are the same
    bytes whether written by two processes or one (same result, so the same time stamp)."""
    inputs = load_inputs(HIV_WORKBOOK)
    result = run_analyses(inputs, RunOptions(seed=1, psa_samples=50))
    write_result(result, tmp_path / "two")
    monkeypatch.setenv(cores.FORK_ENV, "1")
    write_result(result, tmp_path / "one")
    two, one = _files(tmp_path / "two"), _files(tmp_path / "one")
    assert sorted(two) == sorted(one)
    assert "figures/trace.svg" in one and "results.xlsx" in one and "report.html" in one
    assert [name for name in one if one[name] != two[name]] == []


@needs_fork
@pytest.mark.parametrize("reports", [True, False])
def test_writing_while_evppi_runs_gives_the_folder_of_the_finished_run(
    tmp_path, monkeypatch, reports
):
    """run_and_write starts writing before EVPPI and EVSI are collected (the progress says
    so) and writes the same bytes, every file, as writing the finished run; the EVPPI and
    EVSI tables and figures, drawn last, are there."""
    from costmodel.api import run_and_write, run_inputs

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # the same time stamp in both
    inputs = load_inputs(COVID)
    steps: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # flagged EVPPI estimates
        run_and_write(
            inputs,
            tmp_path / "early",
            reports=reports,
            psa_samples=200,
            seed=3,
            on_step=steps.append,
        )
        run_inputs(inputs, psa_samples=200, seed=3).write(tmp_path / "after", reports=reports)
    early, after = _files(tmp_path / "early"), _files(tmp_path / "after")
    assert sorted(early) == sorted(after)
    assert "evppi.csv" in early and "evsi.csv" in early and "summary.json" in early
    if reports:
        for name in ("figures/evppi.png", "figures/evsi.svg", "report.html", "results.xlsx"):
            assert name in early
    assert [name for name in after if after[name] != early[name]] == []
    writing = steps.index("writing tables and figures" if reports else "writing tables")
    assert steps.index("EVPPI (ran beside the later steps and the writing)") > writing
    assert steps[-1] == ("writing figures and reports" if reports else "writing the last tables")


@needs_fork
def test_a_failing_step_beside_the_psa_stops_evppi_before_writing_starts(tmp_path, monkeypatch):
    """Without the value of information by price (it reads the threshold table) nothing
    waits for the steps beside the PSA until writing starts: when one of them failed, its
    error is raised there and the forked EVPPI is stopped with it."""
    from costmodel.analyses import run as pipeline
    from costmodel.api import run_and_write

    def broken(ctx):
        raise ValueError("scenarios failed on purpose")

    def slow(ctx):  # EVPPI still running when the error arrives
        import time

        time.sleep(60)
        return {}

    changed = {"scenarios": broken, "EVPPI": slow}
    steps = [(n, changed.get(n, s)) for n, s in pipeline.STEPS]
    monkeypatch.setattr(pipeline, "STEPS", tuple(steps))
    inputs = load_inputs(COVID)
    with pytest.raises(ValueError, match="scenarios failed on purpose"):
        run_and_write(
            inputs, tmp_path / "out", psa_samples=200, seed=1, analyses=["scenarios", "evppi"]
        )
    assert list(tmp_path.iterdir()) == []
    assert _live_children() == []


def _live_children() -> list[int]:
    """Process ids of this process's children that are still running (Linux /proc; a
    stopped child is reaped by the code under test, or shows as a zombie)."""

    pids = []
    for task in Path("/proc/self/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    running = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.append(pid)
    return running


@needs_fork
def test_a_failing_forked_step_while_writing_leaves_no_folder_and_no_process(tmp_path, monkeypatch):
    """An error in EVPPI, raised while the other outputs are being written, reaches the
    caller unchanged; nothing is left in the output's parent folder and no helper lives on."""
    import multiprocessing

    from costmodel.analyses import run as pipeline
    from costmodel.api import run_and_write

    def broken(ctx):
        raise ValueError("EVPPI failed on purpose")

    steps = [(n, broken if n == "EVPPI" else s) for n, s in pipeline.STEPS]
    monkeypatch.setattr(pipeline, "STEPS", tuple(steps))
    inputs = load_inputs(HIV_WORKBOOK)
    with pytest.raises(ValueError, match="EVPPI failed on purpose"):
        run_and_write(inputs, tmp_path / "out", psa_samples=100, seed=1)
    assert list(tmp_path.iterdir()) == []
    assert multiprocessing.active_children() == []


@needs_fork
def test_a_helpers_failure_ends_the_wait_of_a_job_here():
    """A job here that waits (for EVPPI, in a run) and calls raise_if_stopped is abandoned
    as soon as a helper's job fails: the helper's error is raised in seconds, not when the
    wait would have ended."""
    import time

    from costmodel.reports.jobs import raise_if_stopped

    def wait() -> None:
        for _ in range(3000):  # 30 s unless stopped
            raise_if_stopped()
            time.sleep(0.01)

    def fail() -> None:
        raise OSError(28, "No space left on device", "figure.png")

    start = time.perf_counter()
    with pytest.raises(OSError, match="No space left"):
        run_jobs([Job("wait", wait, here=True), Job("fail", fail)], processes=2)
    assert time.perf_counter() - start < 10


@needs_fork
def test_a_failing_figure_while_evppi_runs_is_reported_without_waiting_for_it(
    tmp_path, monkeypatch
):
    """run_and_write: a figure that cannot be written (a full disk) in the helper while this
    process waits for a 60 s EVPPI stops EVPPI and reports the disk error at once."""
    import time

    from costmodel.analyses import run as pipeline
    from costmodel.api import run_and_write
    from costmodel.reports import plots
    from costmodel.reports.folder import OutputError

    def slow(ctx):
        time.sleep(60)
        return {}

    def full_disk(ax, stem):
        raise OSError(28, "No space left on device", f"{stem}.png")

    monkeypatch.setattr(
        pipeline, "STEPS", tuple((n, slow if n == "EVPPI" else s) for n, s in pipeline.STEPS)
    )
    monkeypatch.setattr(plots, "save_figure", full_disk)
    start = time.perf_counter()
    with pytest.raises(OutputError, match="No space left on device"):
        run_and_write(load_inputs(HIV_WORKBOOK), tmp_path / "out", psa_samples=100, seed=1)
    assert time.perf_counter() - start < 40
    assert list(tmp_path.iterdir()) == [] and _live_children() == []


def test_an_os_error_of_evppi_is_not_reported_as_a_folder_error(tmp_path, monkeypatch):
    """EVPPI is collected inside the output-folder transaction, which reports an OSError as
    'cannot write the results'; one raised by EVPPI itself is reported as the analysis's."""
    from costmodel.analyses import run as pipeline
    from costmodel.api import run_and_write
    from costmodel.reports.folder import OutputError

    def broken(ctx):
        raise ConnectionResetError(104, "Connection reset by peer")

    steps = tuple((n, broken if n == "EVPPI" else s) for n, s in pipeline.STEPS)
    monkeypatch.setattr(pipeline, "STEPS", steps)
    with pytest.raises(RuntimeError, match=r"beside the writing failed: .*reset by peer") as caught:
        run_and_write(load_inputs(HIV_WORKBOOK), tmp_path / "out", psa_samples=100, seed=1)
    assert not isinstance(caught.value, OutputError)
    assert list(tmp_path.iterdir()) == []


def test_a_job_here_runs_in_the_calling_process_while_helpers_take_the_others(tmp_path):
    """A job marked ``here`` (it needs what only this process has) is never taken by a
    helper; the helpers take the other jobs meanwhile, before those listed after it."""
    import os
    import time

    log = tmp_path / "log"

    def record(name: str, wait: float = 0.0):
        def run() -> None:
            time.sleep(wait)
            with log.open("a") as f:
                f.write(f"{name} {os.getpid()}\n")

        return run

    jobs = [Job("here", record("here", 1.0), here=True)]  # 1 s: time for the helper
    jobs += [Job(f"a{i}", record(f"a{i}")) for i in range(4)]
    jobs.append(Job("last", record("last"), ("here",), here=True))
    run_jobs(jobs, processes=2 if cores.fork_processes() > 1 else 1)
    done = dict(line.split() for line in log.read_text().splitlines())
    assert sorted(done) == sorted(job.name for job in jobs)
    assert done["here"] == done["last"] == str(os.getpid())
    if cores.fork_processes() > 1:  # the helper wrote the others while "here" waited
        order = [line.split()[0] for line in log.read_text().splitlines()]
        assert order.index("here") == 4
        assert {done[f"a{i}"] for i in range(4)} == {done["a0"]} != {str(os.getpid())}


def test_jobs_run_after_what_they_read_and_every_job_runs_once(tmp_path):
    """A job starts only when the jobs it names are done; each job runs exactly once."""
    log = tmp_path / "log"

    def record(name: str):
        def run() -> None:
            with log.open("a") as f:
                f.write(name + "\n")

        return run

    jobs = [Job(f"a{i}", record(f"a{i}")) for i in range(6)]
    jobs.append(Job("b", record("b"), tuple(f"a{i}" for i in range(6))))
    jobs.append(Job("c", record("c"), ("b",)))
    run_jobs(jobs, processes=2)
    order = log.read_text().split()
    assert sorted(order) == sorted(j.name for j in jobs)
    assert order.index("b") == 6 and order.index("c") == 7
    with pytest.raises(ValueError, match="before it"):
        run_jobs([Job("x", record("x"), ("y",)), Job("y", record("y"))])
    with pytest.raises(ValueError, match="unique"):
        run_jobs([Job("x", record("x")), Job("x", record("x"))])


@needs_fork
def test_a_failing_job_in_another_process_raises_its_error_here():
    """The exception of a job a forked helper ran is raised in the parent, unchanged."""

    def slow() -> None:
        import time

        time.sleep(0.3)

    def fail() -> None:
        raise OSError(28, "No space left on device", "figure.png")

    jobs = [Job("slow", slow), Job("fail", fail), Job("after", slow, ("fail",))]
    with pytest.raises(OSError, match="No space left") as caught:
        run_jobs(jobs, processes=2)
    assert caught.value.filename == "figure.png"


@pytest.mark.parametrize("processes", ["1", "2"])
def test_forked_returns_the_value_and_reissues_warnings_and_errors(monkeypatch, processes):
    monkeypatch.setenv(cores.FORK_ENV, processes)

    def work() -> dict:
        warnings.warn("flagged estimate", RuntimeWarning, stacklevel=1)
        return {"value": np.arange(3.0)}

    with pytest.warns(RuntimeWarning, match="flagged estimate"):
        value = Forked(work).result()
    assert np.array_equal(value["value"], [0.0, 1.0, 2.0])

    def broken() -> None:
        raise ValueError("bad cell B7")

    with pytest.raises(ValueError, match="bad cell B7"):
        Forked(broken).result()


def test_a_forked_process_and_numpy_engine_never_use_the_compiled_kernel(monkeypatch):
    inputs = load_inputs(COVID).decision_inputs()
    assert use_compiled(inputs, 100_000)  # a large run would use it here
    with numpy_engine():
        assert not use_compiled(inputs, 100_000)
    assert use_compiled(inputs, 100_000)
    monkeypatch.setenv(cores.FORK_ENV, "2")
    if cores.fork_processes() > 1:
        assert Forked(lambda: use_compiled(inputs, 100_000)).result() is False


def test_gaussian_process_columns_on_threads_equal_one_thread(monkeypatch):
    """Each response column of the GP regression is fitted on its own thread; the normal
    draws are taken in column order first, so the fit is the same with one thread."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 5))
    y = np.column_stack([np.sin(x[:, 0]) + x[:, 1] ** 2, x[:, 2] * x[:, 3], 2.0 * x[:, 4]])
    y = y + 0.1 * rng.normal(size=y.shape)
    y[:, 2] = 2.0 * x[:, 4]  # exactly linear: no GP part, no draws taken
    threaded = voi_regression._gp_fit(x, y, 300)
    monkeypatch.setattr(cores, "cores", lambda: 1)
    single = voi_regression._gp_fit(x, y, 300)
    for a, b in zip(threaded, single, strict=True):
        assert np.array_equal(a, b)
    np.testing.assert_allclose(single[0][:, 2], 2.0 * x[:, 4], atol=1e-9)


def test_mean_max_gain_by_hand():
    """mean_i max(0, g_i) - max(0, mean_i g_i): rows (1, -2), (-1, 3), (0, 2) -> means
    (0, 1) so strategy 2 is chosen on current information (value 1); per sample the best is
    1, 3, 2 (mean 2): 2 - 1 = 1. With draws on a third axis each draw is its own case."""
    g = np.array([[1.0, -2.0], [-1.0, 3.0], [0.0, 2.0]])
    assert voi_regression._mean_max_gain(g) == pytest.approx(1.0, abs=1e-15)
    draws = np.stack([g, -g], axis=2)  # -g: means (0, -1) -> baseline; best 2, 1, 0 -> 1
    np.testing.assert_allclose(voi_regression._mean_max_gain(draws), [1.0, 1.0], atol=1e-15)
    assert voi_regression._mean_max_gain(np.array([[-1.0], [-2.0]])) == 0.0


def test_model_and_psa_on_threads_equal_one_thread():
    """Chunks of samples on two threads (each kernel call on one) give the bits of one
    thread, for a model run with entry strata and a shared phase and for the PSA."""
    from costmodel.analyses.psa import run_psa
    from costmodel.model import run_model
    from costmodel.parameters import evaluate_parameters, sample_parameters

    inputs = load_inputs(COVID).decision_inputs()
    n = 1500
    values = evaluate_parameters(inputs, sample_parameters(inputs, 7, 0, n), n)
    one = run_model(inputs, values, compiled=True, threads=1)
    two = run_model(inputs, values, compiled=True, threads=2, chunk_size=600)
    for name in ("cost", "qaly", "ly", "state_time", "cost_by_category"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    serial, threaded = run_psa(inputs, n, 7, threads=1), run_psa(inputs, n, 7, threads=2)
    for name in ("cost", "qaly", "ly"):
        assert np.array_equal(getattr(serial, name), getattr(threaded, name)), name
    assert np.array_equal(serial.cost, one.cost)  # the same draws as sampled here


def test_errors_come_back_from_a_forked_step_as_they_were_raised(monkeypatch):
    """A step in a forked process that refuses an input raises the same error here, with
    the same message (InputError rebuilt from its problems)."""
    from costmodel.errors import InputError, ModelCheckError, Problem

    monkeypatch.setenv(cores.FORK_ENV, "2")
    problem = Problem.at("model.xlsx", sheet="Parameters", cell="B7", message="bad value")
    for error in (InputError([problem]), ModelCheckError("model.xlsx: Transitions!C5: bad")):

        def fail(error=error) -> None:
            raise error

        with pytest.raises(type(error)) as caught:
            Forked(fail).result()
        assert str(caught.value) == str(error)


@needs_fork
def test_psa_on_processes_is_the_psa_of_one_process(monkeypatch):
    """The PSA's chunks shared by two processes (written into shared memory) give the same
    bits as one process on one thread: outcomes, undiscounted outcomes, per-entry-stratum
    outcomes and every parameter draw; progress reaches the total once, never going back."""
    from costmodel.analyses import psa

    monkeypatch.setattr(psa, "MIN_PROCESS_SAMPLES", 0)
    inputs = load_inputs(COVID).decision_inputs()
    n, seen = 1500, []
    one = psa.run_psa(inputs, n, 7, processes=1, threads=1)
    two = psa.run_psa(
        inputs, n, 7, processes=2, chunk_size=400, progress=lambda d, t: seen.append((d, t))
    )
    for name in ("cost", "qaly", "ly"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
        assert np.array_equal(one.undiscounted[name], two.undiscounted[name]), name
    assert one.parameters.keys() == two.parameters.keys()
    for name in one.parameters:
        assert np.array_equal(one.parameters[name], two.parameters[name]), name
    assert one.by_entry is not None and one.by_entry.keys() == two.by_entry.keys()
    for state in one.by_entry:
        for a, b in zip(one.by_entry[state], two.by_entry[state], strict=True):
            assert np.array_equal(a, b), state
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == n and done.count(n) == 1
    assert {t for _, t in seen} == {n}


@needs_fork
def test_an_error_in_a_psa_helper_process_is_raised_here(monkeypatch):
    """A chunk that fails in the forked helper raises its error (type and message) here."""
    import time

    from costmodel.analyses import psa
    from costmodel.errors import ModelCheckError

    monkeypatch.setattr(psa, "MIN_PROCESS_SAMPLES", 0)
    run_chunk = psa._run_chunk

    def fail_in_helper(inputs, seed, start, stop, compiled):
        if cores.in_forked_child():
            raise ModelCheckError(f"model.xlsx: sample {start + 1}: a made-up failure")
        time.sleep(0.3)  # this process is slow: the helper surely takes a chunk
        return run_chunk(inputs, seed, start, stop, compiled)

    monkeypatch.setattr(psa, "_run_chunk", fail_in_helper)
    inputs = load_inputs(COVID).decision_inputs()
    with pytest.raises(ModelCheckError, match=r"model.xlsx: sample \d+: a made-up failure"):
        psa.run_psa(inputs, 1200, 7, processes=2, chunk_size=200)


@needs_fork
@pytest.mark.parametrize(
    ("how", "processes"),
    [("holding the lock", 2), ("holding the lock", 3), ("mid-chunk", 2), ("mid-chunk", 3)],
)
def test_a_psa_helper_killed_ends_the_psa_with_a_clear_error(monkeypatch, how, processes):
    """A PSA helper killed (out-of-memory killer) while holding the chunk queue's lock left
    this process, and any other helper, waiting for it for ever; killed in the middle of a
    chunk, the PSA ended with 'it stopped without a result'. Now this process sees the
    killed helper and names it (exit code -9), and no helper is left running."""
    import multiprocessing
    import os
    import time

    from costmodel.analyses import psa
    from costmodel.cores import HelperLostError

    monkeypatch.setattr(psa, "MIN_PROCESS_SAMPLES", 0)
    run_chunk, finished = psa._run_chunk, psa._ChunkQueue.finished
    parent = os.getpid()
    killed = multiprocessing.get_context("fork").RawValue("b", 0)  # one helper dies

    def dies_once() -> bool:
        if os.getpid() == parent or killed.value:
            return False
        killed.value = 1
        return True

    def chunk(inputs, seed, start, stop, compiled):
        if how == "mid-chunk" and dies_once():
            os.kill(os.getpid(), signal.SIGKILL)
        if os.getpid() == parent:
            time.sleep(0.05)  # the helpers take chunks too
        return run_chunk(inputs, seed, start, stop, compiled)

    def finish(self, samples):
        if how == "holding the lock" and dies_once():
            self._lock.acquire()  # never released: this process dies
            os.kill(os.getpid(), signal.SIGKILL)
        return finished(self, samples)

    monkeypatch.setattr(psa, "_run_chunk", chunk)
    monkeypatch.setattr(psa._ChunkQueue, "finished", finish)
    inputs = load_inputs(COVID).decision_inputs()
    start = time.perf_counter()
    with (
        _fails_after(60),
        pytest.raises(
            HelperLostError,
            match=r"PSA process \(pid \d+\) was stopped from outside "
            r"\(exit code -9\) in the middle of its samples",
        ),
    ):
        psa.run_psa(inputs, 3000, 7, processes=processes, chunk_size=100)
    assert time.perf_counter() - start < 30
    assert multiprocessing.active_children() == []


def test_analyses_run_with_blas_on_one_thread(monkeypatch):
    """run_analyses pins BLAS to one thread (the cores are shared out by costmodel itself;
    BLAS threads on small matrices only spin): a step sees one BLAS thread, and the limit is
    lifted afterwards."""
    from threadpoolctl import threadpool_info

    import costmodel.analyses.run as pipeline

    def blas_threads() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    seen: list[set[int]] = []
    monkeypatch.setattr(
        pipeline,
        "STEPS",
        (("base case", lambda ctx: seen.append(blas_threads()) or {"base_case": _table(ctx)}),),
    )
    monkeypatch.setenv(cores.FORK_ENV, "1")
    before = blas_threads()
    pipeline.run_analyses(load_inputs(HIV_WORKBOOK), RunOptions(seed=1, psa_samples=0))
    assert seen == [{1}]
    assert blas_threads() == before


def _table(ctx):
    from costmodel.analyses.base_case import run

    return run(ctx)["base_case"]


@contextlib.contextmanager
def _fails_after(seconds: int):
    """Raise TimeoutError in this (main) thread after ``seconds``, and again every 2 s
    (a wait that catches it is interrupted again): a test of a hang fails instead of
    hanging the suite."""

    def expired(signum, frame):
        signal.alarm(2)
        raise TimeoutError(f"still running after {seconds} s: the run hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@needs_fork
@pytest.mark.parametrize("how", ["here polls", "waiting to take", "holding the lock"])
def test_a_helper_killed_mid_job_ends_the_run_with_three_processes(how):
    """With three processes, a helper killed in the middle of a job (out-of-memory killer)
    used to leave the other helper and this process waiting for that job forever. Now this
    process sees it (while waiting in a job here, for a job to take, or for the shared lock
    the killed helper held), names the job, and stops the other helper."""
    import multiprocessing
    import os
    import time

    from costmodel.reports import jobs as jobs_module
    from costmodel.reports.jobs import HelperLostError, raise_if_stopped

    parent = os.getpid()

    def here() -> None:  # 30 s unless stopped, or 1 s so that the helpers take "die"
        for _ in range(3000 if how == "here polls" else 100):
            if how == "here polls":
                raise_if_stopped()
            time.sleep(0.01)

    def die() -> None:
        if os.getpid() == parent:
            raise AssertionError("'die' ran in the calling process")
        if how == "holding the lock":
            jobs_module._running.lock.acquire()  # never released: this process dies
        os.kill(os.getpid(), signal.SIGKILL)

    def after() -> None:
        pass

    jobs = [Job("here", here, here=True), Job("die", die), Job("after", after, ("die",))]
    start = time.perf_counter()
    with (
        _fails_after(30),
        pytest.raises(
            HelperLostError, match=r"stopped from outside \(exit code -9\) while writing die\."
        ),
    ):
        run_jobs(jobs, processes=3)
    assert time.perf_counter() - start < 10
    assert multiprocessing.active_children() == []


@needs_fork
def test_a_helpers_own_failure_is_never_reported_as_a_killed_helper(monkeypatch):
    """A helper whose job raises stops the run and exits; had this process looked for lost
    helpers between the two (a descheduled moment, made 50 ms here), it reported the helper
    as killed and hid the job's error. The job's own error is raised every time."""
    import time

    from costmodel.reports import jobs as jobs_module

    take = jobs_module._SharedState.take

    def slow_take(self, needs, skip, worker, lost):
        found = take(self, needs, skip, worker, lost)
        if worker == 0 and found == -1:
            time.sleep(0.05)
        return found

    monkeypatch.setattr(jobs_module._SharedState, "take", slow_take)

    def fail() -> None:
        time.sleep(0.2)
        raise OSError(28, "No space left on device", "figure.png")

    for _ in range(5):
        jobs = [
            Job("here", lambda: time.sleep(0.1), here=True),
            Job("fail", fail),
            Job("after", lambda: None, ("fail",)),
        ]
        with _fails_after(30), pytest.raises(OSError, match="No space left"):
            run_jobs(jobs, processes=2)


@pytest.mark.parametrize("forked", [True, False])
def test_warnings_of_the_analyses_are_recorded_in_the_summary(monkeypatch, forked):
    """A warning an analysis raises (EVPPI's flagged estimates, in a forked process or not)
    reached only the terminal; summary.json, the report's Warnings and results.xlsx now
    record it after the workbook's own, and it is still issued. Other libraries' warnings
    (NumPy's) are issued as before but not recorded."""
    from costmodel.analyses import run as analyses_run
    from costmodel.errors import AnalysisWarning

    def evppi_that_warns(ctx):
        warnings.warn("evppi.csv: 1 estimate(s) flagged (test)", AnalysisWarning, stacklevel=1)
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=1)  # not costmodel's
        return {}

    steps = tuple((n, evppi_that_warns if n == "EVPPI" else s) for n, s in analyses_run.STEPS)
    monkeypatch.setattr(analyses_run, "STEPS", steps)
    if not forked:
        monkeypatch.setenv(cores.FORK_ENV, "1")
    inputs = load_inputs(HIV_WORKBOOK)
    with pytest.warns(RuntimeWarning) as issued:
        result = run_analyses(inputs, RunOptions(seed=3, psa_samples=50))
    assert {"Mean of empty slice", "evppi.csv: 1 estimate(s) flagged (test)"} <= {
        str(w.message) for w in issued
    }
    assert result.summary["warnings"] == [
        *inputs.warnings,
        "evppi.csv: 1 estimate(s) flagged (test)",
    ]


def test_a_failing_steps_warnings_are_still_issued(monkeypatch):
    """A step that warns and then fails: its warning reaches the user with the error (it
    was caught for the record and lost with the failure)."""
    from costmodel.analyses import run as analyses_run
    from costmodel.errors import AnalysisWarning

    def base_case_that_fails(ctx):
        warnings.warn("base case: read with care (test)", AnalysisWarning, stacklevel=1)
        raise ValueError("failed (test)")

    steps = tuple(
        (n, base_case_that_fails if n == "base case" else s) for n, s in analyses_run.STEPS
    )
    monkeypatch.setattr(analyses_run, "STEPS", steps)
    monkeypatch.setenv(cores.FORK_ENV, "1")
    with pytest.warns(AnalysisWarning, match="read with care"), pytest.raises(ValueError):
        run_analyses(load_inputs(HIV_WORKBOOK), RunOptions(seed=3, psa_samples=0))
