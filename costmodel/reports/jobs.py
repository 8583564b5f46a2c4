"""Independent writing jobs (CSV tables, figures, results.xlsx, report.html) on every core.

Writing a run's outputs is many independent pieces of single-threaded Python (pandas CSV
formatting, matplotlib rendering, openpyxl cells). :func:`run_jobs` shares one ordered list
of jobs between this process and forked helper processes: each takes the next job whose
prerequisites are done. A forked helper inherits the run's results, so nothing is pickled
and nothing re-imported. Every job writes its own files, so the folder is byte for byte the
same whatever the number of processes (tested). A job marked ``here`` is left to the
process that called :func:`run_jobs`: it needs what only that process has, e.g. the tables
of analyses it collects from its own forked children while the helpers write. Fork is used
only on Linux (elsewhere, on one core or with COSTMODEL_PROCESSES=1, the jobs run here one
after another).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from costmodel.cores import Forked, HelperLostError, acquire_watching, fork_processes

_POLL_S = 0.002  # how often a process waiting for a prerequisite looks again


class OtherJobFailedError(RuntimeError):
    """Raised in a job by :func:`raise_if_stopped`: a job in another process has failed."""


_running: _SharedState | None = None  # the shared state of the jobs this process runs


def _none_lost() -> str | None:
    """No helper lost (outside run_jobs, and in the helpers)."""
    return None


_lost: Callable[[], str | None] = _none_lost  # see _work's ``lost``


def raise_if_stopped() -> None:
    """In a long job (one that waits): OtherJobFailedError once a job in another process has
    failed, so that :func:`run_jobs` raises that job's error without waiting for this one;
    HelperLostError once a helper was killed in the middle of a job."""
    if _running is not None and _running.stopped.value:
        raise OtherJobFailedError("a job in another process failed")
    if (lost := _lost()) is not None:
        raise HelperLostError(lost)


@dataclass(frozen=True)
class Job:
    """One piece of output: ``run()`` writes it; ``after`` names the jobs it reads. A job
    ``here`` runs in the process that called :func:`run_jobs`: it needs what only that
    process has (results it receives while the helpers work)."""

    name: str
    run: Callable[[], None]
    after: tuple[str, ...] = field(default=())
    here: bool = False


def run_jobs(jobs: Sequence[Job], processes: int | None = None) -> None:
    """Run every job once on ``processes`` processes (this one included; default: see
    :func:`costmodel.cores.fork_processes`), each taking the first job not yet taken whose
    prerequisites are done. An exception in any job is raised here, after every process has
    stopped."""
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValueError("job names must be unique")
    index = {name: i for i, name in enumerate(names)}
    needs = [tuple(index[n] for n in job.after) for job in jobs]
    if any(j >= i for i, pre in enumerate(needs) for j in pre):
        raise ValueError("a job can only wait for jobs listed before it")
    processes = fork_processes() if processes is None else processes
    processes = max(1, min(processes, len(jobs)))
    if processes <= 1:
        for job in jobs:
            job.run()
        return
    state = _SharedState(multiprocessing.get_context("fork"), len(jobs))
    only_here = [job.here for job in jobs]  # what a helper must leave to this process
    helpers = [
        Forked(lambda worker=worker: _work(jobs, needs, state, skip=only_here, worker=worker))
        for worker in range(1, processes)
    ]

    def lost() -> str | None:
        """Why the run cannot finish if a helper was killed (out of memory, a signal) in
        the middle of a job or while taking one; None if none was. A helper whose job
        failed stops the run before it exits: its own error is raised instead."""
        for worker, helper in enumerate(helpers, start=1):
            if not helper.stopped():
                continue
            unfinished = state.unfinished(worker)
            if state.stopped.value or (helper.exit_code == 0 and not unfinished):
                continue  # stopped by a failure (raised as such), or done
            doing = ", ".join(jobs[i].name for i in unfinished) or "its next job"
            return (
                f"a writing process (pid {helper.pid}) was stopped from outside (exit "
                f"code {helper.exit_code}) while writing {doing}. Run again; if it "
                "recurs, look for what kills processes on this machine (the kernel's "
                "out-of-memory killer logs in dmesg)."
            )
        return None

    error: BaseException | None = None
    try:
        _work(jobs, needs, state, lost=lost)
    except BaseException as exc:
        error = exc
    failure = None
    for helper in helpers:
        try:
            helper.result()
        except BaseException as exc:
            failure = failure or exc
    # the helpers' own errors are raised rather than this process's, unless this one was
    # interrupted or knows why a helper stopped without a result
    first = (KeyboardInterrupt, HelperLostError)
    if error is not None and (failure is None or isinstance(error, first)):
        raise error
    if failure is not None:
        raise failure


class _SharedState:
    """Next job to take, which process took it, which jobs are done, and whether to stop
    (shared with the helpers)."""

    def __init__(self, context, n_jobs: int) -> None:
        self.lock = context.Lock()
        self.taken = context.RawArray("b", n_jobs)
        self.owner = context.RawArray("i", n_jobs)  # 0: the calling process; k: helper k
        self.done = context.RawArray("b", n_jobs)
        self.stopped = context.RawValue("b", 0)

    def take(
        self,
        needs: Sequence[tuple[int, ...]],
        skip: Sequence[bool],
        worker: int,
        lost: Callable[[], str | None],
    ) -> int | None:
        """The first job not yet taken, not to ``skip`` and whose prerequisites are done; -1
        when every job left waits for one still running (or is to skip); None when no job is
        left (or the work was stopped). The lock is waited for in steps, so that a helper
        killed while holding it cannot block the others for ever: between steps, stopped
        work returns None and ``lost()`` raises HelperLostError."""
        if not acquire_watching(self.lock, lost, lambda: bool(self.stopped.value)):
            return None
        try:
            if self.stopped.value:
                return None
            left = False
            for i in range(len(self.done)):
                if self.taken[i]:
                    continue
                left = True
                if skip[i]:
                    continue
                if all(self.done[j] for j in needs[i]):
                    self.taken[i] = 1
                    self.owner[i] = worker
                    return i
            return -1 if left else None
        finally:
            self.lock.release()

    def stop(self) -> None:
        self.stopped.value = 1

    def unfinished(self, worker: int) -> list[int]:
        """The jobs ``worker`` took and has not finished."""
        return [
            i
            for i in range(len(self.done))
            if self.taken[i] and self.owner[i] == worker and not self.done[i]
        ]


def _work(
    jobs: Sequence[Job],
    needs: Sequence[tuple[int, ...]],
    state: _SharedState,
    skip: Sequence[bool] | None = None,
    worker: int = 0,
    lost: Callable[[], str | None] = _none_lost,
) -> None:
    """Take and run jobs (but those to ``skip``) as process ``worker`` (0: the calling one)
    until none is left; a failure stops every process. ``lost`` (the calling process's)
    says why the run cannot finish when a helper was killed in the middle of a job: this
    process then stops every other (a helper waiting for that job would wait forever)."""
    global _running, _lost
    skip = skip or [False] * len(jobs)
    _running, _lost = state, lost
    try:
        while (i := state.take(needs, skip, worker, lost)) is not None:
            if i < 0:  # every job left waits for one another process is running
                if (why := lost()) is not None:
                    raise HelperLostError(why)
                time.sleep(_POLL_S)
                continue
            jobs[i].run()
            state.done[i] = 1
    except BaseException:
        state.stop()
        raise
    finally:
        _running, _lost = None, _none_lost
