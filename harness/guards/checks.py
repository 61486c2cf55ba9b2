"""One look of each guard kind: a PromQL query against a threshold, the client error budget, an HTTP probe.

A look is *bad* when it sees the breach, and also when it cannot see at all (Prometheus unreachable, a query
refused, a probe with no answer): a guard that cannot see the environment must not let the drill go on in it.
An empty query result is *no data*, not bad (an error counter that never fired has no series).
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.guards.spec import ErrorBudgetGuard, HttpGuard, PromqlGuard
from harness.ports import MetricsSource, PrometheusError


class Outcome(Protocol):
    """What the error budget reads of each sent request (``harness.traffic.generator.Sample``)."""

    @property
    def at(self) -> float: ...

    @property
    def ok(self) -> bool: ...


@dataclass(frozen=True)
class Look:
    bad: bool
    value: float | None
    detail: str


class Check(Protocol):
    def look(self) -> Look: ...


class PromqlCheck:
    def __init__(self, guard: PromqlGuard, source: MetricsSource) -> None:
        self.guard, self.source = guard, source

    def look(self) -> Look:
        g = self.guard
        try:
            value = self.source.query(g.query)
        except PrometheusError as exc:
            return Look(True, None, f"cannot see: {exc}")
        if value is None:
            return Look(False, None, f"{g.query}: no data")
        if g.above is not None:
            return Look(value > g.above, value, f"{g.query} = {value:g} {'>' if value > g.above else '<='} {g.above:g}")
        assert g.below is not None
        return Look(value < g.below, value, f"{g.query} = {value:g} {'<' if value < g.below else '>='} {g.below:g}")


class ErrorBudgetCheck:
    def __init__(self, guard: ErrorBudgetGuard, samples: Callable[[], Sequence[Outcome]],
                 clock: Callable[[], float] = time.time) -> None:
        self.guard, self.samples, self.clock = guard, samples, clock

    def look(self) -> Look:
        g = self.guard
        since = self.clock() - g.window if g.window is not None else float("-inf")
        seen = [s for s in self.samples() if s.at >= since]
        failed = sum(1 for s in seen if not s.ok)
        if len(seen) < g.min_requests:
            return Look(False, None, f"{len(seen)} requests (< {g.min_requests}): no judgement yet")
        rate = failed / len(seen)
        over = rate > g.max_error_rate
        return Look(over, rate, f"error rate {rate:.1%} {'>' if over else '<='} {g.max_error_rate:.1%} "
                                f"({failed} of {len(seen)} requests{'' if g.window is None else f' in {g.window:g}s'})")


class HttpCheck:
    """GET the URL directly (no proxy from the environment), within the guard's timeout."""

    def __init__(self, guard: HttpGuard) -> None:
        self.guard = guard
        parts = urllib.parse.urlsplit(guard.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def look(self) -> Look:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.guard.timeout)
        try:
            conn.request("GET", self.path)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return Look(True, None, f"GET {self.guard.url}: no answer ({type(exc).__name__}: {exc})")
        finally:
            conn.close()
        bad = status not in self.guard.expect_status
        return Look(bad, float(status), f"GET {self.guard.url}: {status}"
                                        + (f", expected {', '.join(map(str, self.guard.expect_status))}" if bad else ""))
