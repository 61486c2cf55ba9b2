"""Watch a drill's stop conditions from its first request to its end, and abort at once when one trips.

Each guard looks every ``interval`` in its own thread (a slow probe never delays another guard). The first guard
to reach ``breaches`` consecutive bad looks trips the monitor, in that same thread and at once: the ``abort``
callback kills the drill's moves still running, stops its traffic and runs the target's emergency rollback;
then every ``sleep``/``check`` of the engine raises :class:`GuardTripped`, and the run is recorded ``aborted``
naming the guard. Other guards keep quiet after the first trip: one abort per run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from harness.errors import DrillError
from harness.guards.checks import Check, Look
from harness.guards.record import CommandResult, GuardTrip
from harness.guards.spec import ErrorBudgetGuard, HttpGuard, PromqlGuard

log = logging.getLogger(__name__)
Guard = PromqlGuard | ErrorBudgetGuard | HttpGuard
Abort = Callable[[str], Sequence[CommandResult]]


class GuardTripped(DrillError):
    """A stop condition tripped: the run ends, recorded ``aborted`` (raised by the monitor's sleep and check)."""

    def __init__(self, trip: GuardTrip) -> None:
        super().__init__(trip.reason)
        self.trip = trip


class GuardMonitor:
    def __init__(self, guards: Sequence[tuple[Guard, Check]], abort: Abort,
                 progress: Callable[[str], None] = lambda _m: None) -> None:
        self.guards = list(guards)
        self._abort, self._progress = abort, progress
        self._stop = threading.Event()
        self._done = threading.Event()  # tripped and the abort has run
        self._lock = threading.Lock()
        self._tripping = False
        self._trip: GuardTrip | None = None
        self._threads: list[threading.Thread] = []

    @property
    def tripped(self) -> GuardTrip | None:
        return self._trip

    def start(self) -> GuardMonitor:
        for guard, check in self.guards:
            thread = threading.Thread(target=self._watch, args=(guard, check), daemon=True, name=f"guard-{guard.name}")
            thread.start()
            self._threads.append(thread)
        if self.guards:
            self._progress(f"stop conditions watched: {', '.join(g.name for g, _ in self.guards)}")
        return self

    def stop(self) -> None:
        """No more looks; waits for an abort under way to finish (the team's emergency rollback is not cut short)."""
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def check(self) -> None:
        if self._trip is not None:
            raise GuardTripped(self._trip)

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that ends (raising GuardTripped) as soon as a guard tripped and its abort ran."""
        if self._done.wait(timeout=max(0.0, seconds)):
            self.check()

    # ---- the guards' threads ----------------------------------------------------------------
    def _watch(self, guard: Guard, check: Check) -> None:
        bad = 0
        while not self._stop.is_set() and not self._tripping:
            started = time.monotonic()
            try:
                look = check.look()
            except Exception as exc:  # a guard that cannot look is a guard that cannot see
                log.exception("guard %s failed to look", guard.name)
                look = Look(True, None, f"cannot see: {type(exc).__name__}: {exc}")
            bad = bad + 1 if look.bad else 0
            if bad >= guard.breaches:
                self._trip_on(guard, look)
                return
            self._stop.wait(max(0.0, guard.interval - (time.monotonic() - started)))

    def _trip_on(self, guard: Guard, look: Look) -> None:
        breached_at = datetime.now(UTC)
        with self._lock:
            if self._tripping or self._stop.is_set():
                return
            self._tripping = True
        reason = f"guard {guard.name}: {look.detail}"
        self._progress(f"STOP CONDITION {guard.name} tripped: {look.detail}; aborting")
        abort_started_at = datetime.now(UTC)
        commands: Sequence[CommandResult] = ()
        try:
            commands = self._abort(reason)
        except Exception as exc:  # the record must survive a failing abort: it says what happened
            log.exception("abort after guard %s failed", guard.name)
            self._progress(f"abort failed: {type(exc).__name__}: {exc}")
        finally:
            self._trip = GuardTrip(guard.name, guard.kind, look.detail, look.value, breached_at, abort_started_at,
                                   datetime.now(UTC), tuple(commands))
            self._done.set()
        for command in commands:
            self._progress(command.summary())
