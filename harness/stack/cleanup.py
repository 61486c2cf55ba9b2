"""Cleanup that tries everything: each resource and each hook in its own guard, one summary at the end.

    failures = Failures("drill clean")
    for container in containers:
        failures.attempt(f"container {container.name}", lambda: container.remove(force=True))
    failures.raise_if_any()   # CleanupIncomplete (exit 3) naming every resource that stayed

Used by ``docker_api.sweep`` (``drill clean`` and every teardown) and ``SwarmSession.close``: one container that
cannot be removed must not leave the network, the volume or a stopped engine behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from harness.errors import BackendUnavailable

log = logging.getLogger(__name__)


class CleanupIncomplete(BackendUnavailable):
    """Some resources or hooks failed; every other one was still tried. ``failures`` names each."""

    def __init__(self, doing: str, failures: list[str]) -> None:
        self.failures = tuple(failures)
        super().__init__(f"{doing}: {len(failures)} step(s) failed, the rest done: " + "; ".join(failures))


class Failures:
    def __init__(self, doing: str) -> None:
        self.doing = doing
        self.failures: list[str] = []

    def attempt(self, what: str, fn: Callable[[], object]) -> bool:
        """Run ``fn``; an exception is kept (named ``what``) and False returned. Ctrl-C passes through."""
        try:
            fn()
        except Exception as exc:  # every resource is tried; what each hit is told once, at the end
            log.warning("%s: %s failed", self.doing, what, exc_info=True)
            detail = str(getattr(exc, "explanation", None) or exc).splitlines()[0][:300] if str(exc) else ""
            self.failures.append(f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else ""))
            return False
        return True

    def absorb(self, exc: CleanupIncomplete) -> None:
        """Fold a nested cleanup's failures into this one's summary."""
        self.failures.extend(exc.failures)

    def raise_if_any(self) -> None:
        if self.failures:
            raise CleanupIncomplete(self.doing, self.failures)
