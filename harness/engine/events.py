"""Engine events and the listener protocol. The engine emits; console, store and reports listen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from harness.engine.results import DrillResult, Evidence, StepResult
from harness.outcomes import DecidedBy, Decision, Trigger


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    at: datetime = field(default_factory=now, kw_only=True)


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str
    drill: str
    profile: str


@dataclass(frozen=True)
class PhaseStarted(Event):
    phase: str


@dataclass(frozen=True)
class PhaseEnded(Event):
    phase: str
    status: str
    duration_s: float


@dataclass(frozen=True)
class Progress(Event):
    message: str


@dataclass(frozen=True)
class TrafficTick(Event):
    """A periodic look at client-side traffic: per-version request and error counts, the canary weight."""

    weight: int
    requests: dict[str, int]
    errors: dict[str, int]


@dataclass(frozen=True)
class Breach(Event):
    evidence: Evidence


@dataclass(frozen=True)
class Alerted(Event):
    """A person is alerted and asked to decide (the incident commander's clock starts here)."""

    message: str


@dataclass(frozen=True)
class Decided(Event):
    decision: Decision
    trigger: Trigger
    evidence: tuple[Evidence, ...]
    by: DecidedBy = DecidedBy.AUTOMATION  # a person, an answers file, or automation
    decider: str | None = None  # the person's name, where known
    alerted_at: datetime | None = None  # when the person was alerted (None: nobody was asked)


@dataclass(frozen=True)
class StepStarted(Event):
    name: str
    action: str
    manual: bool


@dataclass(frozen=True)
class StepEnded(Event):
    result: StepResult


@dataclass(frozen=True)
class Notified(Event):
    channel: str
    message: str


@dataclass(frozen=True)
class RunFinished(Event):
    result: DrillResult


class Listener(Protocol):
    def on_event(self, event: Event) -> None: ...
