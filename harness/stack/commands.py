"""A team's own command run as drill runs it: an argument list (no shell), in a directory, with a deadline.

Used by the ``run`` runbook action, the compose target's ``deploy:``/``promote:`` and the external target's
commands, which fill in and pass on the run's variables alike (``scope``, ``render``, ``fill_env``): the
built-ins (``${candidate_version}``...) and the drill's ``--var NAME=VALUE``, whose names are checked before
anything starts (``harness.spec.variables.check_drill``). The command gets its
own session, so at the deadline (or when the step is cancelled) its whole process group is killed: a
script's children (``sleep``, ``curl``, ``docker compose``) do not outlive it. Its exit status, its run
time and its last lines of output are kept; output is read as it comes so a chatty command never blocks.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

LAST_LINES = 20


@dataclass(frozen=True)
class Finished:
    """How a command ended: its status (None: killed at the deadline), run time and last lines."""

    argv: tuple[str, ...]
    status: int | None
    seconds: float
    last_lines: tuple[str, ...]
    timed_out: bool = False  # killed at the deadline (status None); else a None status means killed from outside

    @property
    def ok(self) -> bool:
        return self.status == 0

    def tail(self, lines: int = 5) -> str:
        return " | ".join(self.last_lines[-lines:])


def scope(variables: Mapping[str, str], *more: Mapping[str, str]) -> dict[str, str]:
    """What a team's command is filled from and runs with: the process's environment, the run's variables (its
    built-ins and ``--var`` values), then whatever the target adds (a Compose project's name, a command's env)."""
    merged = {**os.environ, **variables}
    for extra in more:
        merged.update(extra)
    return merged


def render(argv: Sequence[str], variables: Mapping[str, str]) -> list[str]:
    """``${candidate_version}``-style variables filled into each argument (unknown ones left as written: the
    names were checked at load, so one left here is a ``$`` the team meant)."""
    return [Template(arg).safe_substitute(variables) for arg in argv]


def fill_env(env: Mapping[str, str], variables: Mapping[str, str]) -> dict[str, str]:
    """A command's own ``env:`` with the variables filled into its values."""
    return {key: Template(value).safe_substitute(variables) for key, value in env.items()}


def resolve(command: str, directory: Path, path: str | None = None) -> str | None:
    """Where ``command`` is: a path (``./ops/rollback.sh``, relative to ``directory``) or a name on PATH."""
    if "/" in command:
        found = command if Path(command).is_absolute() else str(directory / command)
        return found if os.path.isfile(found) and os.access(found, os.X_OK) else None
    return shutil.which(command, path=path)


def missing(command: str, directory: Path) -> str | None:
    """Why ``command`` cannot run (None: it can): a load-time check, before anything starts."""
    if "$" in command:
        return None  # filled in at run time
    if resolve(command, directory) is not None:
        return None
    if "/" in command:
        return f"no executable {command} in {directory}"
    return f"no command {command!r} on PATH"


def run(argv: Sequence[str], directory: Path, env: Mapping[str, str], timeout: float,
        on_start: Callable[[Callable[[], None]], Callable[[], None]] | None = None) -> Finished:
    """Run ``argv`` in ``directory``; its process group is killed after ``timeout`` s (status None then).
    ``on_start`` gets the kill function once the process runs and returns a function that forgets it (how a
    runbook step's cancel reaches the process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), cwd=directory, env=dict(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    lines: deque[str] = deque(maxlen=LAST_LINES)
    reader = threading.Thread(target=_read, args=(proc, lines), daemon=True)
    reader.start()
    forget = on_start(lambda: kill_group(proc)) if on_start is not None else (lambda: None)
    killed = False
    try:
        proc.wait(timeout=max(0.0, timeout))
    except subprocess.TimeoutExpired:
        killed = True
        kill_group(proc)
        proc.wait()
    finally:
        forget()
        if proc.poll() is None:  # an exception in between: never leave it running
            kill_group(proc)
            proc.wait()
    seconds = time.perf_counter() - started
    reader.join(timeout=1.0)  # a grandchild holding the pipe is gone with the group
    status = None if killed or proc.returncode == -signal.SIGKILL else proc.returncode
    return Finished(tuple(argv), status, seconds, tuple(lines), timed_out=killed)


def _read(proc: subprocess.Popen[str], lines: deque[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip():
            lines.append(line.rstrip()[:300])


def kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


__all__ = ["LAST_LINES", "Finished", "fill_env", "kill_group", "missing", "render", "resolve", "run", "scope"]
