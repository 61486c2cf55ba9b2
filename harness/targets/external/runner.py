"""Run a team's command: an argument list (no shell) in a directory, with a timeout that kills its process group.

The external target's ``deploy:``, ``promote:``, ``rollback:`` and ``abort:`` steps are commands like
``kubectl argo rollouts promote fraud -n staging``; each runs as its own process group (``start_new_session``),
so a timeout or an abort kills the command and whatever it started (a ``kubectl`` plugin, a shell script's
children). Its exit status, duration and last lines are recorded, whatever happened. :meth:`Runner.abort`
kills every command still running and refuses new ones (a guard tripped: the drill's own moves stop at once);
:meth:`Runner.run_always` still runs (the drill's ``abort:`` commands, the team's emergency rollback).

The lead unifies this with the runbook's ``run`` action at merge: the same record, the same killing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import DrillError
from harness.guards.record import CommandResult

LAST_LINES = 20


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
        self._running: set[subprocess.Popen[bytes]] = set()
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
        for process in running:
            _kill_group(process)

    # ---- one process ------------------------------------------------------------------------
    def _execute(self, purpose: str, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None,
                 killable: bool = True) -> CommandResult:
        started, t0 = datetime.now(UTC), time.perf_counter()
        lines: deque[str] = deque(maxlen=LAST_LINES)
        exit_code: int | None = None
        timed_out = aborted = False
        error: str | None = None
        process: subprocess.Popen[bytes] | None = None
        try:
            process = subprocess.Popen(list(argv), cwd=self.cwd, env={**os.environ, **self.env, **(env or {})},
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            if killable:
                with self._lock:
                    self._running.add(process)
                    aborted_before = self._aborted is not None
                if aborted_before:  # an abort raced the start: it must not outlive it
                    _kill_group(process)
            reader = threading.Thread(target=_read_lines, args=(process, lines), daemon=True)
            reader.start()
            try:
                exit_code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process)
                process.wait()
            reader.join(timeout=1.0)
            if killable and self._aborted is not None and exit_code is not None and exit_code < 0:
                aborted, exit_code = True, None
            elif timed_out:
                exit_code = None
        except OSError as exc:  # no such program, not executable, no such directory
            error = f"cannot run {argv[0]!r}: {exc.strerror or exc}"
        finally:
            if process is not None:
                with self._lock:
                    self._running.discard(process)
            result = CommandResult(purpose, tuple(argv), started, datetime.now(UTC),
                                   round(time.perf_counter() - t0, 3), exit_code, timed_out, aborted,
                                   tuple(lines), error)
            self._record(result)
        return result

    def _record(self, result: CommandResult) -> None:
        with self._lock:
            self.results.append(result)

    @staticmethod
    def _checked(result: CommandResult) -> CommandResult:
        if not result.ok:
            raise CommandFailed(result.summary(), result)
        return result


def _read_lines(process: subprocess.Popen[bytes], lines: deque[str]) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        lines.append(raw.decode("utf-8", "replace").rstrip())


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone
