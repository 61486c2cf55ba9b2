"""SIGTERM tears a run down the way Ctrl-C does, whichever entry point started it (CLI, GameDay, pytest plugin).

    with terminating_on_sigterm():
        Engine(listeners).run(drill, options)   # SIGTERM -> KeyboardInterrupt -> teardown, recorded as aborted

The handler is installed only from the main thread (Python allows no other) and only while the block runs; the
previous handler comes back afterwards. Nested blocks (a GameDay around its drills) install it once. SIGINT is
left as the process has it: Python raises KeyboardInterrupt on it already, and a process started with SIGINT
ignored (a background job of a non-interactive shell) keeps ignoring it, as the shell asked.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # teardown runs the same way as on Ctrl-C; the CLI exits 130


@contextmanager
def terminating_on_sigterm() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block (main thread only; a no-op elsewhere or when nested)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is _terminate:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
