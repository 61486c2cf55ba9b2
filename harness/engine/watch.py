"""Watching the stack while a run goes on: its own services alive, which version answers, the traffic ticks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from harness.engine.context import RunContext
from harness.engine.events import Event, TrafficTick
from harness.errors import DrillError
from harness.ports import Target
from harness.traffic.generator import probe


class StackDown(DrillError):
    """One of the stack's own services (router, metrics, the stable server) died: an error, never a missed detection."""


def dead_services(target: Target | None, stopped: frozenset[str] = frozenset()) -> list[str]:
    """The stack's services that are down, but for slots the run stopped on purpose (``stopped``)."""
    if target is None:
        return []
    try:
        return [name for name, alive in target.services().items() if not alive and name not in stopped]
    except DrillError:
        return []


def check_stack(target: Target, during: str, stopped: frozenset[str] = frozenset()) -> None:
    dead = dead_services(target, stopped)
    if dead:
        raise StackDown(f"the stack's own {', '.join(dead)} stopped during {during}: not the candidate's doing")


def serving_version(ctx: RunContext | None) -> str | None:
    """Which version(s) answer through the router now, comma-joined."""
    if ctx is None:
        return None
    try:
        answers = probe(ctx.traffic_endpoint, ctx.protocol, 10, timeout=3, slot_versions=ctx.slot_versions)
    except (OSError, DrillError):
        return None
    return ",".join(sorted({a.version or "?" for a in answers}))


def tick(ctx: RunContext, stop: threading.Event, emit: Callable[[Event], None]) -> None:
    """Every half second until ``stop``: the last second's requests and errors per version, as a TrafficTick."""
    while not stop.wait(0.5):
        t = time.time()
        recent = [s for s in ctx.load.samples() if s.at >= t - 1.0]
        requests: Counter[str] = Counter(s.version or "none" for s in recent)
        errors: Counter[str] = Counter(s.version or "none" for s in recent if not s.ok)
        emit(TrafficTick(ctx.weights.get("candidate", 0), dict(requests), dict(errors)))
