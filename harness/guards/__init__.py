"""Stop conditions: guards watched from a drill's first request to its end that abort it at once.

``spec`` (the ``stop_conditions:`` block, loaded without any client), ``reach`` (what a drill may reach and at
what rate, checked at load), ``checks`` (one look of each kind), ``monitor`` (the threads and the abort) and
``record`` (what a tripped guard leaves in the result). The engine gets the monitor of a run from ``watch``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from harness.guards.checks import Check, ErrorBudgetCheck, HttpCheck, Outcome, PromqlCheck
from harness.guards.monitor import Abort, Guard, GuardMonitor
from harness.guards.record import Abortable, CommandResult
from harness.guards.spec import ErrorBudgetGuard, HttpGuard, PromqlGuard

if TYPE_CHECKING:
    from harness.ports import MetricsSource, Target


def build(guards: Sequence[Guard], metrics: Callable[[], MetricsSource], samples: Callable[[], Sequence[Outcome]],
          abort: Abort, progress: Callable[[str], None]) -> GuardMonitor:
    """The monitor for a drill's stop conditions: a promql guard without a URL asks the target's ``metrics``."""
    from harness.stack.prometheus import PrometheusClient

    checks: list[tuple[Guard, Check]] = []
    for guard in guards:
        if isinstance(guard, PromqlGuard):
            source = PrometheusClient(guard.prometheus, guard.timeout) if guard.prometheus else metrics()
            checks.append((guard, PromqlCheck(guard, source)))
        elif isinstance(guard, ErrorBudgetGuard):
            checks.append((guard, ErrorBudgetCheck(guard, samples)))
        elif isinstance(guard, HttpGuard):
            checks.append((guard, HttpCheck(guard)))
    return GuardMonitor(checks, abort, progress)


class Traffic(Protocol):
    """The run's load generator, as a tripped guard sees it: its outcomes so far, and its stop."""

    def samples(self) -> Sequence[Outcome]: ...

    def stop(self) -> None: ...


def watch(guards: Sequence[Guard], target: Target, load: Traffic, progress: Callable[[str], None]) -> GuardMonitor:
    """The monitor of one run (not started): a trip stops the traffic (in the background: in-flight requests end
    within their timeout) and runs the target's own abort (``ports.Abortable``), if it has one."""

    def abort(reason: str) -> list[CommandResult]:
        threading.Thread(target=load.stop, daemon=True, name="abort-traffic").start()
        return list(target.abort(reason)) if isinstance(target, Abortable) else []

    return build(guards, lambda: target.metrics, load.samples, abort, progress)


__all__ = ["GuardMonitor", "build", "watch"]
