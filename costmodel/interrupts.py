"""Ctrl-C and SIGTERM at any moment, including while numba compiles or loads the kernel.

Python raises KeyboardInterrupt in whatever Python code runs when the signal arrives. While
numba compiles (or loads its cache), that code can be a ctypes callback inside llvmlite, where
an exception is printed and *ignored*: the interrupt would be lost and the run go on. The
handler here defers an interrupt that arrives inside numba or llvmlite and :func:`check`
raises it as soon as the compiled call returns; anywhere else it raises at once.
"""

from __future__ import annotations

import os
from types import FrameType

_COMPILER_PARTS = (f"{os.sep}numba{os.sep}", f"{os.sep}llvmlite{os.sep}")
_pending = False


def handler(signum: int, frame: FrameType | None) -> None:
    """SIGINT/SIGTERM handler: KeyboardInterrupt now, or after the compiler returns."""
    global _pending
    if _inside_compiler(frame):
        _pending = True
        return
    raise KeyboardInterrupt


def check() -> None:
    """Raise the KeyboardInterrupt deferred while the compiler ran, if any."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt


def _inside_compiler(frame: FrameType | None) -> bool:
    depth = 0
    while frame is not None and depth < 200:
        if any(part in frame.f_code.co_filename for part in _COMPILER_PARTS):
            return True
        frame, depth = frame.f_back, depth + 1
    return False
