"""Stop conditions: guards watched from a drill's first request to its end that abort it at once.

``spec`` (the ``stop_conditions:`` block, loaded without any client), ``reach`` (what a drill may reach and at
what rate, checked at load), ``checks`` (one look of each kind), ``monitor`` (the threads and the abort) and
``record`` (what a tripped guard leaves in the result). The engine builds the monitor (``build``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from harness.guards.checks import Check, ErrorBudgetCheck, HttpCheck, Outcome, PromqlCheck
from harness.guards.monitor import Abort, Guard, GuardMonitor
from harness.guards.spec import ErrorBudgetGuard, HttpGuard, PromqlGuard

if TYPE_CHECKING:
    from harness.ports import MetricsSource


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


__all__ = ["GuardMonitor", "build"]
