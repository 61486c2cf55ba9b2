"""Teardown that never stops halfway: each step in its own guard, Ctrl-C unable to skip it.

    teardown = Teardown()
    shielded(lambda: teardown.step("close the target", target.close))
    if teardown.errors: ...   # the run is recorded anyway; the CLI exits 3

A step that raises is logged and kept (``errors``); the next step runs. A step that ran to its end is not run
again when a second Ctrl-C makes ``shielded`` retry the whole teardown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from harness.engine import redaction
from harness.errors import DrillError

log = logging.getLogger(__name__)


class TeardownFailed(DrillError):
    """A teardown step raised: the phase is marked failed; the run is recorded and exits 3."""


class Teardown:
    """Runs teardown steps one by one, each in its own guard, keeping what each one hit (Ctrl-C passes through).

    A step that already ran to its end is not run again when a second Ctrl-C makes the whole teardown retry."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._done: set[str] = set()

    def step(self, name: str, fn: Callable[[], None]) -> None:
        if name in self._done:
            return
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - every step is tried; what each hit is reported once, at the end
            log.warning("teardown: %s failed", name, exc_info=True)
            self.errors.append(redaction.scrub(f"{name}: {type(exc).__name__}: {exc}"))
        self._done.add(name)

    def summary(self) -> str:
        return "; ".join(self.errors)


def shielded(fn: Callable[[], None], attempts: int = 5) -> bool:
    """Run ``fn`` to the end even if Ctrl-C arrives meanwhile (it is run again); True if it was interrupted."""
    interrupted = False
    for _ in range(attempts):
        try:
            fn()
            return interrupted
        except KeyboardInterrupt:
            interrupted = True
    return interrupted
