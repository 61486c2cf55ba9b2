"""Retry policies, the one place that knows tenacity. A runbook's ``retry:`` block maps onto it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, TypeVar

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_none

T = TypeVar("T")


class StepTimeout(Exception):
    """An attempt ran past the step's timeout."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 0.2
    max_backoff_s: float = 2.0
    timeout_s: float = 30.0  # per attempt


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None
    attempts: int
    error: BaseException | None


def _with_timeout(fn: Callable[[], T], timeout: float) -> T:
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(fn).result(timeout=timeout)
    except FutureTimeout as exc:
        raise StepTimeout(f"no answer within {timeout:g}s") from exc
    finally:
        pool.shutdown(wait=False)


def run(fn: Callable[[], T], policy: RetryPolicy, retry_on: tuple[type[BaseException], ...] = (Exception,)) -> Outcome[T]:
    """Call ``fn`` until it succeeds or the policy gives up; never raises what it was told to retry."""
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        return _with_timeout(fn, policy.timeout_s)

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_exponential(multiplier=policy.backoff_s, max=policy.max_backoff_s) if policy.backoff_s > 0 else wait_none(),
        retry=retry_if_exception_type(retry_on),
        reraise=False,
    )
    try:
        value = retrying(attempt)
    except RetryError as exc:
        return Outcome(None, attempts, exc.last_attempt.exception())
    return Outcome(value, attempts, None)

