"""The store's value types: production events, drill runs and their steps, import results.

Frozen dataclasses, validated where they are built, so nothing inside the store has to
re-check them. Every datetime is timezone-aware and normalised to UTC on construction:
a naive datetime is a programming error here (input parsing in `codec` turns a naive
timestamp into a SpecError long before that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

# Defined once, in harness.outcomes; re-exported where the store's types are imported from.
from harness.outcomes import DecidedBy as DecidedBy
from harness.outcomes import RootCause as RootCause
from harness.outcomes import RunStatus as RunStatus
from harness.outcomes import Trigger as Trigger
from harness.store.causes import check_cause_keys
from harness.store.text import plain

PRODUCTION = "production"
DRILL_ENVIRONMENT = "drill"


def as_utc(value: datetime, name: str = "timestamp") -> datetime:
    """The same instant in UTC; refuses naive datetimes (they have no instant)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _as_utc_or_none(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else as_utc(value, name)


def _normalise(obj: object, names: tuple[str, ...]) -> None:
    """Rewrite the named datetime fields of a frozen dataclass to UTC in place."""
    for name in names:
        object.__setattr__(obj, name, _as_utc_or_none(getattr(obj, name), name))


def _require_text(value: object, name: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    try:
        plain(value)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None


@dataclass(frozen=True)
class Deployment:
    """A model version going live in an environment. Natural key: all four fields."""

    model: str
    version: str
    deployed_at: datetime
    environment: str = PRODUCTION

    def __post_init__(self) -> None:
        for name in ("model", "version", "environment"):
            _require_text(getattr(self, name), name)
        _normalise(self, ("deployed_at",))


@dataclass(frozen=True)
class Rollback:
    """A rollback away from `from_version`. Natural key: environment, model, from_version, decided_at."""

    model: str
    from_version: str
    to_version: str
    decided_at: datetime
    completed_at: datetime
    trigger: Trigger
    root_cause: RootCause
    planned: bool = False
    rca_url: str | None = None
    environment: str = PRODUCTION
    cause_keys: tuple[str, ...] = ()  # the post-mortem's findings (see `causes`), matched across rollbacks

    def __post_init__(self) -> None:
        for name in ("model", "from_version", "to_version", "environment"):
            _require_text(getattr(self, name), name)
        if self.rca_url:
            _require_text(self.rca_url, "rca_url")
        object.__setattr__(self, "cause_keys", check_cause_keys(self.cause_keys))
        object.__setattr__(self, "trigger", Trigger(self.trigger))
        object.__setattr__(self, "root_cause", RootCause(self.root_cause))
        _normalise(self, ("decided_at", "completed_at"))
        if self.completed_at < self.decided_at:
            raise ValueError("completed_at is before decided_at")


Event = Deployment | Rollback


@dataclass(frozen=True)
class StepRecord:
    """One runbook step of a drill run, as timed by the engine."""

    name: str
    action: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    attempts: int
    error: str | None = None

    def __post_init__(self) -> None:
        _normalise(self, ("started_at", "ended_at"))


@dataclass(frozen=True)
class DrillRunRecord:
    """One drill run: what was deployed, when it was caught, how the rollback went."""

    run_id: str
    drill: str
    status: str  # passed|inconclusive|failed|error|aborted
    trigger: str | None  # automated|manual
    root_cause: str | None
    model: str
    from_version: str  # the bad version deployed
    to_version: str | None  # the version rolled back to
    rolled_back: bool
    started_at: datetime
    deployed_at: datetime | None
    first_breach_at: datetime | None
    decision_at: datetime | None
    rollback_started_at: datetime | None
    completed_at: datetime | None
    target_s: float
    within_target: bool | None
    decision_to_completion_s: float | None
    report_dir: str | None
    steps: tuple[StepRecord, ...] = field(default=())
    # What the drill exercised and how it judged itself (issue 20): the runbook's name and content hash,
    # what the drill expected (rollback | promote | fail), whether it ended so, and the GameDay it was part of.
    runbook: str | None = None
    runbook_hash: str | None = None
    expect: str | None = None
    as_expected: bool | None = None
    gameday_id: str | None = None
    reason: str | None = None  # why it ended so, as its result says (e.g. "teardown failed: ...")
    # Who decided (issue 28): person | answers-file | automation, the person's name, and when they were alerted.
    decided_by: str | None = None
    decider: str | None = None
    alerted_at: datetime | None = None

    @property
    def alert_to_decision_s(self) -> float | None:
        """The person's time to decide, from the alert (None where nobody was asked)."""
        if self.alerted_at is None or self.decision_at is None:
            return None
        return (self.decision_at - self.alerted_at).total_seconds()

    def __post_init__(self) -> None:
        RunStatus(self.status)
        if self.decided_by is not None:
            DecidedBy(self.decided_by)
        if self.trigger is not None:
            Trigger(self.trigger)
        if self.root_cause is not None:
            RootCause(self.root_cause)
        _normalise(
            self,
            (
                "started_at",
                "deployed_at",
                "first_breach_at",
                "decision_at",
                "rollback_started_at",
                "completed_at",
                "alerted_at",
            ),
        )
        object.__setattr__(self, "steps", tuple(self.steps))


@dataclass(frozen=True)
class ImportResult:
    """What one import did: rows inserted, and rows skipped as already present."""

    deployments_inserted: int = 0
    deployments_skipped: int = 0
    rollbacks_inserted: int = 0
    rollbacks_skipped: int = 0
    runs_inserted: int = 0
    runs_skipped: int = 0

    @property
    def inserted(self) -> int:
        return self.deployments_inserted + self.rollbacks_inserted + self.runs_inserted

    @property
    def skipped(self) -> int:
        return self.deployments_skipped + self.rollbacks_skipped + self.runs_skipped
