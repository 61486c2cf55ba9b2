"""What a fault on the way back is (``start`` / ``stop``), what it is handed, and the registry by kind.

A fault module registers a factory per kind with ``@kind("registry-slow")``. The scheduler builds a fault
from its spec, calls ``start`` when it strikes and ``stop`` when its time is up or the run ends, whichever
is first; ``stop`` must restore what ``start`` changed and be safe to call twice (and after a failed start).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import DrillError

if TYPE_CHECKING:
    from harness.adversity.spec import AdversitySpec
    from harness.ports import Target

FAMILIES = ("registry", "router_api", "capacity", "replica", "partition", "node_image", "service", "sidecar",
            "firewall")


class AdversityError(DrillError):
    """A fault could not be struck or undone (the engine refused, the target has no such part)."""


@dataclass(frozen=True)
class FaultContext:
    """What a fault may touch: the run's target (its seams, and its stack's Docker client) and the run id."""

    target: Target
    run_id: str
    note: Callable[[str], None]  # a progress line for the console and the report

    def docker(self) -> Any:
        """The Docker client of the target's stack (or a new one): faults reach containers by the run's labels."""
        stack = getattr(self.target, "stack", None)
        client = getattr(stack, "client", None)
        if client is not None:
            return client
        from harness.stack.docker_api import connect

        return connect()


class Fault(Protocol):
    """One fault's life: strike, then restore. ``target`` names what it struck (a container, the router API)."""

    target: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def observations(self) -> dict[str, Any]:
        """What it saw while active (an orchestrator replacing a replica, calls delayed or refused)."""
        ...


FaultFactory = Callable[["AdversitySpec", FaultContext], Fault]
_KINDS: dict[str, FaultFactory] = {}


def kind(name: str) -> Callable[[FaultFactory], FaultFactory]:
    def register(factory: FaultFactory) -> FaultFactory:
        _KINDS[name] = factory
        return factory

    return register


def registry() -> dict[str, FaultFactory]:
    for family in FAMILIES:
        importlib.import_module(f"harness.adversity.{family}")
    return dict(_KINDS)


def build(spec: AdversitySpec, ctx: FaultContext) -> Fault:
    factory = registry().get(spec.kind)
    if factory is None:
        raise AdversityError(f"no fault kind {spec.kind!r}")
    return factory(spec, ctx)


@dataclass(frozen=True)
class AbsorbedBy:
    """The runbook step that was running while the fault was active: did its retries and deadline carry it?"""

    step: str
    status: str
    attempts: int
    duration_s: float | None


@dataclass(frozen=True)
class AdversityRecord:
    """One fault of the run as report.json gives it."""

    kind: str
    at: str
    target: str
    struck_at: datetime | None
    ended_at: datetime | None
    planned_s: float
    absorbed_by: tuple[AbsorbedBy, ...] = ()
    error: str | None = None  # the fault itself could not be struck or undone
    observations: dict[str, Any] | None = None

    @property
    def active_s(self) -> float | None:
        if self.struck_at is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.struck_at).total_seconds(), 3)


def record_from_json(data: dict[str, Any]) -> AdversityRecord:
    """The inverse of ``results.adversity_json`` (report.json's ``adversity`` entries)."""
    from datetime import datetime as _datetime

    def when(value: str | None) -> datetime | None:
        return _datetime.fromisoformat(value) if value else None

    return AdversityRecord(
        str(data["kind"]), str(data.get("at", "")), str(data.get("target", "")), when(data.get("struck_at")),
        when(data.get("ended_at")), float(data.get("planned_s", 0.0)),
        tuple(AbsorbedBy(str(a["step"]), str(a["status"]), int(a["attempts"]), a.get("duration_s"))
              for a in data.get("absorbed_by") or ()),
        data.get("error"), dict(data.get("observations") or {}))
