"""Retry policies and attempt deadlines, the one place that knows tenacity.

A runbook's ``retry:`` block maps onto a ``RetryPolicy``. Each attempt runs in its own daemon
thread under an ``Attempt``: a deadline, a cancel flag and the clean-ups to run when the deadline
passes (an action registers "kill my subprocess group" there). At the deadline the attempt is
cancelled, its clean-ups run, and the runner waits a short grace for the thread to end:

* built-in actions check ``current_attempt()`` in every loop and sleep with ``Attempt.sleep``,
  so they end within the grace; the next attempt starts only after that;
* an action that ignores the deadline (say a third-party one blocked in a call) is *abandoned*:
  its thread is a daemon, so it never holds the process open, and no further attempt is made,
  because a new attempt would overlap one that is still running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar

from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_none

from harness.errors import VerificationFailed

T = TypeVar("T")
GRACE_S = 2.0  # how long a cancelled attempt may take to wind down before it is abandoned


class StepTimeout(Exception):
    """An attempt ran past the step's timeout."""


class AttemptAbandoned(StepTimeout):
    """An attempt ran past its deadline and did not stop when cancelled; nothing may run after it."""


class Attempt:
    """One attempt's deadline and cancel flag. Actions reach it with ``current_attempt()``."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._cleanups: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def remaining(self) -> float:
        """Seconds left before the deadline (0 once it passed or the attempt was cancelled)."""
        return 0.0 if self.cancelled else max(0.0, self.deadline - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self) -> None:
        """Raise StepTimeout once the deadline passed: call it in every loop."""
        if self.expired():
            raise StepTimeout(f"no answer within {self.timeout_s:g}s")

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake at once on cancel; raise StepTimeout when the deadline cuts the sleep short."""
        left = self.remaining()
        if seconds >= left:
            self._cancelled.wait(left)
            raise StepTimeout(f"no answer within {self.timeout_s:g}s")
        if self._cancelled.wait(max(0.0, seconds)):
            raise StepTimeout(f"no answer within {self.timeout_s:g}s")

    def bound(self, seconds: float) -> float:
        """``seconds`` capped by what is left of the attempt (for timeouts handed to lower layers)."""
        return max(0.0, min(seconds, self.remaining()))

    def on_cancel(self, cleanup: Callable[[], None]) -> Callable[[], None]:
        """Run ``cleanup`` if the attempt is cancelled (at once if it already was). Returns an unregister."""
        with self._lock:
            if not self.cancelled:
                self._cleanups.append(cleanup)
                return lambda: self._forget(cleanup)
        cleanup()
        return lambda: None

    def _forget(self, cleanup: Callable[[], None]) -> None:
        with self._lock:
            if cleanup in self._cleanups:
                self._cleanups.remove(cleanup)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled.set()
            cleanups, self._cleanups = self._cleanups, []
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception:  # a clean-up that fails must not stop the others (the process may be gone)
                pass


_CURRENT: ContextVar[Attempt | None] = ContextVar("harness_attempt", default=None)


def current_attempt() -> Attempt:
    """The attempt running in this thread; outside a runner, one with no deadline to speak of."""
    return _CURRENT.get() or Attempt(float("inf"))


@contextmanager
def attempt_scope(attempt: Attempt) -> Iterator[Attempt]:
    token = _CURRENT.set(attempt)
    try:
        yield attempt
    finally:
        _CURRENT.reset(token)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 0.2
    max_backoff_s: float = 2.0
    timeout_s: float = 30.0  # per attempt
    grace_s: float = GRACE_S


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None
    attempts: int
    error: BaseException | None


def run_attempt(fn: Callable[[], T], timeout: float, grace: float = GRACE_S) -> T:
    """``fn`` in a daemon thread under an Attempt; StepTimeout at the deadline, after cancelling it."""
    attempt = Attempt(timeout)
    box: dict[str, object] = {}

    def body() -> None:
        with attempt_scope(attempt):
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed to the caller's thread below
                box["error"] = exc

    worker = threading.Thread(target=body, name="drill-step", daemon=True)
    worker.start()
    try:
        worker.join(timeout)
    except BaseException:  # Ctrl-C while waiting: stop the attempt's subprocesses before unwinding
        attempt.cancel()
        raise
    if worker.is_alive():
        attempt.cancel()
        worker.join(grace)
        if worker.is_alive():
            raise AttemptAbandoned(f"no answer within {timeout:g}s, and the step did not stop "
                                   f"{grace:g}s after being cancelled; not retried")
        raise StepTimeout(f"no answer within {timeout:g}s")
    if "error" in box:
        error = box["error"]
        assert isinstance(error, BaseException)
        raise error
    return box["value"]  # type: ignore[return-value]


def run(fn: Callable[[], T], policy: RetryPolicy, retry_on: tuple[type[BaseException], ...] = (Exception,)) -> Outcome[T]:
    """Call ``fn`` until it succeeds or the policy gives up; never raises what it was told to retry.

    Attempts never overlap: each one has ended (or was abandoned, which ends the retries) before
    the next begins.
    """
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        return run_attempt(fn, policy.timeout_s, policy.grace_s)

    def retryable(exc: BaseException) -> bool:  # a failed verification is a finding, not a transient failure
        return isinstance(exc, retry_on) and not isinstance(exc, AttemptAbandoned | VerificationFailed)

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_exponential(multiplier=policy.backoff_s, max=policy.max_backoff_s) if policy.backoff_s > 0 else wait_none(),
        retry=retry_if_exception(retryable),
        reraise=False,
    )
    try:
        value = retrying(attempt)
    except RetryError as exc:
        return Outcome(None, attempts, exc.last_attempt.exception())
    except AttemptAbandoned as exc:
        return Outcome(None, attempts, exc)
    return Outcome(value, attempts, None)

