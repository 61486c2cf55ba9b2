"""The ``stop_conditions:`` block of a drill: guards that abort it at once when it starts hurting what it runs against.

As AWS FIS stop conditions (a CloudWatch alarm stops the experiment and undoes its actions), Gremlin's health
checks and Chaos Toolkit's safeguards: each guard is watched from the first request to the end of the rollback,
every ``interval`` (at most 1 s, so a breach is acted on within a second), and ``breaches`` consecutive bad looks
trip it. A tripped guard stops the drill's traffic, kills the moves still running, runs the drill's ``abort:``
commands (the team's emergency rollback, on an external target) and records the run ``aborted`` naming it.

Kinds: ``promql`` (an instant query against the team's Prometheus, or the target's own, above or below a
threshold), ``error_budget`` (the client-side error rate over all the drill's traffic so far, or a window),
``http`` (a health endpoint that must keep answering with an expected status).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from harness.spec.types import Duration, Name, PositiveDuration, Strict

MAX_INTERVAL = 1.0  # seconds between two looks of a guard: a breach is acted on within this


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost`` (what the harness may reach without naming an environment)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_url(value: str) -> str:
    """An ``http://host[:port]/path`` URL (plain HTTP: what the harness's clients speak); ValueError otherwise."""
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme != "http" or not parsed.hostname:
        raise ValueError(f"expected an http://host[:port]/path URL, got {value!r}")
    try:
        parsed.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ValueError(f"bad port in {value!r}: {exc}") from None
    return value


def url_host(value: str) -> str:
    return urllib.parse.urlsplit(value).hostname or ""


class GuardBase(Strict):
    name: Name = Field(description="the guard's name: a tripped guard is recorded as `aborted: guard NAME`")
    interval: PositiveDuration = Field(default=0.25, le=MAX_INTERVAL,
                                       description="time between two looks (at most 1s: a breach is acted on within it)")
    breaches: int = Field(default=1, ge=1, le=20, description="consecutive bad looks that trip the guard")


class PromqlGuard(GuardBase):
    kind: Literal["promql"] = Field(description="an instant PromQL query compared with a threshold")
    query: str = Field(min_length=1, description="the PromQL expression, reduced to one number (wrap it in max(), sum() ...): its first value is compared")
    above: float | None = Field(default=None, description="trip when the value is above this")
    below: float | None = Field(default=None, description="or trip when the value is below this")
    prometheus: str | None = Field(default=None, description="the Prometheus base URL (http://host:9090); unset: the "
                                   "target's own (an external target's `prometheus:`)")
    timeout: PositiveDuration = Field(default=0.8, le=MAX_INTERVAL, description="longest wait for one answer; "
                                      "an unreachable Prometheus or a refused query is a bad look (a guard that cannot see)")

    @field_validator("prometheus")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @model_validator(mode="after")
    def _one_threshold(self) -> PromqlGuard:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        return self


class ErrorBudgetGuard(GuardBase):
    kind: Literal["error_budget"] = Field(description="the client-side error rate of the drill's own traffic")
    max_error_rate: float = Field(gt=0, lt=1, description="trip when more than this share of requests failed (5xx, "
                                  "timeouts, refused connections)")
    min_requests: int = Field(default=20, ge=1, description="no judgement on fewer requests than this")
    window: Duration | None = Field(default=None, description="only the last this-long of traffic; unset: all traffic since the start")


class HttpGuard(GuardBase):
    kind: Literal["http"] = Field(description="an HTTP probe (a health endpoint) that must keep answering")
    url: str = Field(description="the URL probed with GET (http://host[:port]/path)")
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(default_factory=lambda: [200],
                                                                        description="the statuses that count as healthy")
    timeout: PositiveDuration = Field(default=0.8, le=MAX_INTERVAL, description="no answer within this is a bad look")
    breaches: int = Field(default=2, ge=1, le=20, description="consecutive bad looks that trip the guard")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)


StopCondition = Annotated[PromqlGuard | ErrorBudgetGuard | HttpGuard, Field(discriminator="kind")]


def guard_hosts(guards: list[PromqlGuard | ErrorBudgetGuard | HttpGuard]) -> list[tuple[str, str]]:
    """(field, host) of every address the guards reach: what must be loopback unless the drill names its environment."""
    found: list[tuple[str, str]] = []
    for index, guard in enumerate(guards):
        if isinstance(guard, HttpGuard):
            found.append((f"stop_conditions.{index}.url", url_host(guard.url)))
        elif isinstance(guard, PromqlGuard) and guard.prometheus is not None:
            found.append((f"stop_conditions.{index}.prometheus", url_host(guard.prometheus)))
    return found
