"""The cores this process may use, and running independent work on them.

Threads suffice where the work is in NumPy and LAPACK, which release the GIL (the value-of-
information regressions); BLAS is then pinned to one thread per task, where extra BLAS
threads only contend for the cores. Work that holds the GIL (Python-level analyses, writing
files) runs in forked processes (:class:`Forked`; :mod:`costmodel.reports.jobs`).
"""

from __future__ import annotations

import ctypes
import mmap
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread (in this process and the processes it forks): costmodel spreads its
    work over the cores itself, and on its small matrices extra BLAS threads only spin and
    contend for the cores (the results do not depend on it)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def map_on_cores(function: Callable, items: Iterable) -> list:
    """``[function(item) for item in items]`` on one thread per core, results in order.

    For independent value-of-information tasks (EVPPI groups, prices) that spend their time
    in NumPy and LAPACK, which release the GIL; BLAS stays on one thread per task (call
    inside :func:`one_blas_thread`). Each task has its own random streams, so results do not
    depend on the number of threads or the order the tasks finish.
    """
    items = list(items)
    workers = min(cores(), len(items))
    if workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


# --- Forked processes --------------------------------------------------------------------


def shared_zeros(shape: tuple[int, ...], dtype: np.dtype | type = np.float64) -> np.ndarray:
    """A zero array in anonymous shared memory: what a process forked after it is made writes
    into it is seen here (no copy, no pickling). Pages are taken only when written."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    buffer = mmap.mmap(-1, max(1, count * dtype.itemsize))  # MAP_SHARED | MAP_ANONYMOUS
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


FORK_ENV = "COSTMODEL_PROCESSES"  # "1": never fork (everything in this process)


def fork_processes() -> int:
    """Processes work may be spread over by forking: the cores, 1 off Linux (no fork there
    that is safe with threads) or when COSTMODEL_PROCESSES says so."""
    if not sys.platform.startswith("linux"):
        return 1
    wanted = os.environ.get(FORK_ENV, "").strip()
    limit = int(wanted) if wanted.isdigit() and int(wanted) > 0 else cores()
    return max(1, min(limit, cores()))


class HelperLostError(RuntimeError):
    """A helper process was killed (out of memory, a signal) in the middle of its work."""


LOCK_WAIT_S = 0.5  # how long a shared lock is waited for before looking for killed helpers


def acquire_watching(
    lock,
    lost: Callable[[], str | None],
    stopped: Callable[[], bool] = lambda: False,
    step: float = LOCK_WAIT_S,
) -> bool:
    """Acquire a lock shared with forked helpers, looking between waits of ``step`` seconds
    whether one was killed (``lost()`` says why, or None: HelperLostError) or the work was
    stopped (``stopped()``: False is returned, the lock not taken). A helper killed while
    holding the lock never releases it, and waiting without looking would wait for ever.
    True once the lock is held."""
    while not lock.acquire(timeout=step):
        if stopped():
            return False
        if (why := lost()) is not None:
            raise HelperLostError(why)
    return True


class Forked:
    """``function()`` computed in a forked child process (it inherits this process's memory:
    nothing is pickled on the way in); :meth:`result` waits for its value (pickled back),
    re-issues the warnings it raised and re-raises its exception. The child never touches
    numba's thread pool (it does not survive a fork): the kernel runs serially there.
    Without fork (see :func:`fork_processes`) the function runs when the result is asked."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self._function = function
        self._process = None
        if fork_processes() > 1:
            context = multiprocessing.get_context("fork")
            self._receiver, sender = context.Pipe(duplex=False)
            self._process = context.Process(
                target=_child, args=(function, sender, self._receiver, os.getpid()), daemon=True
            )
            self._process.start()
            sender.close()

    def result(self) -> Any:
        if self._process is None:
            return self._function()
        try:
            status, value, caught = self._receiver.recv()
        except EOFError:
            status, value, caught = "error", (None, "it stopped without a result"), []
        finally:
            self.cancel()
        for message, category, filename, lineno in caught:
            warnings.warn_explicit(message, category, filename, lineno)
        if status == "ok":
            return value
        error, text = value
        if error is not None:
            raise error
        raise RuntimeError(f"a forked process failed: {text}")

    def wait(self, timeout: float) -> bool:
        """Whether :meth:`result` would return at once, after waiting up to ``timeout``
        seconds for the child (always True without a child: it computes when asked)."""
        return self._process is None or self._receiver.poll(timeout)

    def stopped(self) -> bool:
        """Whether the child has exited (always False without a child)."""
        return self._process is not None and self._process.exitcode is not None

    @property
    def pid(self) -> int | None:
        """The child's process id (None without a child)."""
        return None if self._process is None else self._process.pid

    @property
    def exit_code(self) -> int | None:
        """The child's exit code, -N if signal N ended it (None while it runs or without a
        child)."""
        return None if self._process is None else self._process.exitcode

    def cancel(self) -> None:
        """Stop the child (if still running) and wait for it."""
        if self._process is not None and self._process.is_alive():
            self._process.join(timeout=0.1)
            if self._process.is_alive():
                self._process.terminate()
        if self._process is not None:
            self._process.join()


_in_forked_child = False


def in_forked_child() -> bool:
    """True in a process :class:`Forked` started (numba's thread pool is off there)."""
    return _in_forked_child


def _child(function: Callable[[], Any], sender, receiver, parent: int) -> None:
    """A forked child: compute, then send ("ok", value, warnings) or ("error", (exception,
    traceback text), warnings), and leave without running the parent's exit handlers.

    It closes its copy of the pipe's reading end and dies with its parent: a parent killed
    by SIGKILL cannot stop its helpers, and a helper holding the reading end of its own pipe
    waited forever to send a result nobody would read."""
    global _in_forked_child
    _in_forked_child = True
    receiver.close()
    _die_with(parent)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                message = ("ok", function(), [])
            except BaseException as exc:
                message = ("error", (picklable(exc), traceback.format_exc()), [])
        found = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
        message = (message[0], message[1], found)
        try:
            sender.send(message)
        except Exception as exc:
            sender.send(("error", (None, f"its result could not be sent back: {exc}"), found))
    finally:
        sender.close()
        os._exit(0)  # no atexit handlers or finalizers of the parent's objects in a fork


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(parent: int) -> None:
    """Linux: SIGKILL this process when the thread that forked it ends (prctl
    PR_SET_PDEATHSIG); leave at once if the parent is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the helper still ends when its work does
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def picklable(exc: BaseException) -> BaseException | None:
    """``exc`` if it survives pickling (to go back to the parent process), else None."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return None
    return exc
