"""Run a team's command: an argument list (no shell) in a directory, with a timeout that kills its process group.

The external target's ``deploy:``, ``promote:``, ``rollback:`` and ``abort:`` steps are commands like
``kubectl argo rollouts promote fraud -n staging``; each runs as its own process group (``start_new_session``),
so a timeout or an abort kills the command and whatever it started (a ``kubectl`` plugin, a shell script's
children). Its exit status, duration and last lines are recorded, whatever happened. :meth:`Runner.abort`
kills every command still running and refuses new ones (a guard tripped: the drill's own moves stop at once);
:meth:`Runner.run_always` still runs (the drill's ``abort:`` commands, the team's emergency rollback).

The process itself runs through :func:`harness.stack.commands.run`, the runner of the runbook's ``run`` steps:
the same process group, the same killing, the same last lines.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import DrillError
from harness.guards.record import CommandResult
from harness.stack import commands

LAST_LINES = commands.LAST_LINES


class CommandFailed(DrillError):
    """A team's command exited non-zero, timed out, could not start, or was refused after an abort."""

    def __init__(self, message: str, result: CommandResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class Runner:
    """Runs commands in ``cwd`` with ``env`` added to the harness's own environment; thread-safe."""

    def __init__(self, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = dict(env or {})
        self.results: list[CommandResult] = []
        self._running: set[Callable[[], None]] = set()  # how to kill each command still running
        self._lock = threading.Lock()
        self._aborted: str | None = None

    @property
    def aborted(self) -> str | None:
        return self._aborted

    def run(self, purpose: str, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> CommandResult:
        """Run one command to its end; CommandFailed (carrying the result) unless it exited 0."""
        if self._aborted is not None:
            now = datetime.now(UTC)
            refused = CommandResult(purpose, tuple(argv), now, now, 0.0, None, aborted=True,
                                    error=f"not run: the drill was aborted ({self._aborted})")
            self._record(refused)
            raise CommandFailed(refused.summary(), refused)
        return self._checked(self._execute(purpose, argv, timeout, env))

    def run_always(self, purpose: str, argv: Sequence[str], timeout: float,
                   env: Mapping[str, str] | None = None) -> CommandResult:
        """Run even after an abort (the abort commands themselves); never raises for the command's own failure."""
        return self._execute(purpose, argv, timeout, env, killable=False)

    def abort(self, reason: str) -> None:
        """Kill every command still running (its process group) and refuse the next ones."""
        with self._lock:
            self._aborted = reason
            running = list(self._running)
        for kill in running:
            kill()

    # ---- one process (harness.stack.commands: the same runner as the runbook's run steps) ---------------
    def _execute(self, purpose: str, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None,
                 killable: bool = True) -> CommandResult:
        started, t0 = datetime.now(UTC), time.perf_counter()
        finished: commands.Finished | None = None
        error: str | None = None
        aborted = False

        def on_start(kill: Callable[[], None]) -> Callable[[], None]:
            if not killable:
                return lambda: None
            with self._lock:
                self._running.add(kill)
                aborted_before = self._aborted is not None
            if aborted_before:  # an abort raced the start: it must not outlive it
                kill()
            return lambda: self._forget(kill)

        try:
            finished = commands.run(argv, self.cwd, {**os.environ, **self.env, **(env or {})}, timeout, on_start)
            aborted = killable and self._aborted is not None and finished.status is None and not finished.timed_out
        except OSError as exc:  # no such program, not executable, no such directory
            error = f"cannot run {argv[0]!r}: {exc.strerror or exc}"
        result = CommandResult(purpose, tuple(argv), started, datetime.now(UTC), round(time.perf_counter() - t0, 3),
                               finished.status if finished is not None else None,
                               finished is not None and finished.timed_out, aborted,
                               finished.last_lines if finished is not None else (), error)
        self._record(result)
        return result

    def _forget(self, kill: Callable[[], None]) -> None:
        with self._lock:
            self._running.discard(kill)

    def _record(self, result: CommandResult) -> None:
        with self._lock:
            self.results.append(result)

    @staticmethod
    def _checked(result: CommandResult) -> CommandResult:
        if not result.ok:
            raise CommandFailed(result.summary(), result)
        return result
