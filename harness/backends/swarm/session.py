"""One run's use of the engine's Docker Swarm: join it as found, or make a single-node swarm and leave it after.

If the engine is in no swarm, ``open`` initialises a single-node manager on the loopback (labelled
``io.drill.harness=true`` in the swarm's own spec) and ``close`` leaves it again, removing the networks
Swarm makes (``docker_gwbridge``, ``ingress``), so the engine ends as it was found. If the engine already
is a manager, the run only adds its own labelled services and overlay network and ``close`` removes only
those. Several runs may share a harness-made swarm: a host-wide lock orders opening and closing, and the
last run out (no harness-labelled service or overlay network left) leaves it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker

from harness.errors import BackendUnavailable
from harness.ports import Progress
from harness.stack import docker_api, swarm_api
from harness.stack.cleanup import CleanupIncomplete, Failures
from harness.stack.docker_api import run_labels


def _lock_path() -> Path:
    return Path(os.environ.get("DRILL_SWARM_LOCK") or Path(tempfile.gettempdir()) / f"drill-swarm-{os.getuid()}.lock")


@contextmanager
def swarm_lock() -> Iterator[None]:
    """Serialise swarm init/leave decisions between drill processes on this host."""
    with _lock_path().open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class SessionReport:
    """What the session found and did: for the result and for tests that check the engine was left as found."""

    state_before: str = "unknown"
    initialised: bool = False
    init_s: float | None = None
    left: bool = False
    leave_s: float | None = None
    removed_networks: list[str] = field(default_factory=list)


class SwarmSession:
    def __init__(self, client: docker.DockerClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.network = swarm_api.swarm_name(run_id, "overlay")
        self.report = SessionReport()
        self._open = False
        self.on_close: list[Callable[[], None]] = []  # before the sweep (engines a drill stopped come back)

    def open(self, progress: Progress) -> None:
        """Be a swarm manager (init one if the engine is in none) and create the run's overlay network."""
        with swarm_lock():
            info = swarm_api.swarm_info(self.client)
            self.report.state_before = info.state
            if info.state == "inactive":
                t0 = time.perf_counter()
                swarm_api.swarm_init(self.client)
                self.report.initialised = True
                self.report.init_s = round(time.perf_counter() - t0, 3)
                progress(f"swarm initialised for the run (single node, 127.0.0.1) in {self.report.init_s:.2f}s")
            elif not info.active:
                raise BackendUnavailable(f"the engine's swarm is {info.state}; fix it (docker info) or use --backend docker")
            elif not info.manager:
                raise BackendUnavailable("the engine is a swarm worker; Swarm drills need a manager node")
            else:
                progress("using the engine's swarm" + (" (made by another drill)" if info.harness_made else ""))
            self._open = True
            swarm_api.create_overlay(self.client, self.network, run_labels(self.run_id, "overlay"))

    def close(self) -> SessionReport:
        """Remove what the run created; leave the swarm when the harness made it and no run uses it any more."""
        if not self._open:
            return self.report
        self._open = False
        # Every hook (restarting the engines a node-loss drill stopped), the sweep and the leave are each tried,
        # whatever the ones before hit; then one summary (CleanupIncomplete, exit 3) names every failure.
        failures = Failures(f"closing the swarm session of run {self.run_id}")
        for hook in self.on_close:
            failures.attempt(getattr(hook, "__name__", "a close hook"), hook)
        try:
            docker_api.sweep(self.client, self.run_id)
        except CleanupIncomplete as exc:
            failures.absorb(exc)
        with swarm_lock():
            failures.attempt("leaving the swarm", self._leave_if_idle)
        failures.raise_if_any()
        return self.report

    def _leave_if_idle(self) -> None:
        t0 = time.perf_counter()
        removed = leave_if_idle(self.client, swept={self.run_id})
        if removed is not None:
            self.report.left = True
            self.report.leave_s = round(time.perf_counter() - t0, 3)
            self.report.removed_networks = removed


def leave_if_idle(client: docker.DockerClient, swept: set[str] | None = None) -> list[str] | None:
    """Leave a harness-made swarm that no run uses any more; the networks removed, or None if it stays.
    ``swept``: runs whose resources were just removed (Swarm may still list them a moment); None: every run's.
    A swarm the harness did not make is never left. Call it under :func:`swarm_lock`."""
    info = swarm_api.swarm_info(client)
    if not (info.active and info.harness_made):
        return None
    if swept is not None and swarm_api.harness_swarm_runs(client) - swept:
        return None  # another run still has services or networks on it
    return swarm_api.swarm_leave(client)


def clean(client: docker.DockerClient, run_id: str | None = None) -> list[str] | None:
    """For ``drill clean``: after the sweep, leave a harness-made swarm nobody uses (a killed run's)."""
    with swarm_lock():
        return leave_if_idle(client, {run_id} if run_id else None)
