"""Typed results of a drill run (frozen dataclasses), and their JSON form for report.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.adversity.base import AdversityRecord
    from harness.guards.record import GuardTrip

from harness.outcomes import DecidedBy, Decision, Trigger, Verdict
from harness.outcomes import RunStatus as RunStatus  # defined once, in harness.outcomes


class StepStatus(str, Enum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class StepResult:
    name: str
    action: str
    status: StepStatus
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    attempts: int
    detail: str = ""
    error: str | None = None
    manual: bool = False
    verify: bool = False
    by: str | None = None  # a manual step: the person named as having done it ("done by Dan"), if any


@dataclass(frozen=True)
class PhaseResult:
    name: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    status: str


@dataclass(frozen=True)
class Evidence:
    """What an analysis saw when it judged: the numbers behind a decision."""

    metric: str
    query: str
    verdict: Verdict
    canary_value: float | None
    threshold: float
    samples: float | None
    min_samples: int
    baseline_value: float | None = None
    effect_size: float | None = None
    confidence: float | None = None
    at: datetime | None = None
    kind: str = "threshold"  # threshold (PromQL) | compare (client-side Mann-Whitney) | sequential (anytime-valid)
    # sequential: the e-value (threshold is 1/alpha), the effect (beside a canary the candidate's odds of an event
    # over the stable's, after a switch its rate over the baseline's; no effect = 1) with its one-sided confidence
    # sequence [lower, upper or unbounded), and what the
    # candidate was compared with ("stable since deploy" or "pre-deploy window" after a 100 % switch)
    e_value: float | None = None
    lower: float | None = None
    upper: float | None = None
    baseline_source: str | None = None
    # sequential and compare: the non-inferiority margin, and the upper bound (same alpha) of the candidate's event
    # rate minus the baseline's; a look passes only when it is below the margin
    margin: float | None = None
    excess_upper: float | None = None

    @property
    def breached(self) -> bool:
        if self.kind == "sequential":  # the e-value over 1/alpha on at least min_samples (see analysis.py)
            return self.verdict == Verdict.FAIL
        if self.kind == "compare":
            return self.confidence is not None and 1 - self.confidence < self.threshold
        return self.canary_value is not None and self.canary_value > self.threshold

    @property
    def headline(self) -> str:
        """One line for a person: what crossed which limit."""
        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v:.1%}"
        if self.kind == "sequential":
            return (f"{self.metric}: e-value {self.e_value or 0:.3g} vs {self.threshold:g} (1/alpha); candidate "
                    f"{pct(self.canary_value)} vs {self.baseline_source or 'baseline'} {pct(self.baseline_value)}")
        if self.kind == "compare":
            p = None if self.confidence is None else 1 - self.confidence
            return f"{self.metric}: p = {'-' if p is None else f'{p:.2g}'} vs alpha {self.threshold:g}"
        value = "-" if self.canary_value is None else f"{self.canary_value:.3g}"
        return f"{self.metric} = {value} > {self.threshold:g}"


@dataclass(frozen=True)
class Timestamps:
    started_at: datetime
    deployed_at: datetime | None = None
    first_breach_at: datetime | None = None
    decision_at: datetime | None = None
    rollback_started_at: datetime | None = None
    completed_at: datetime | None = None
    ended_at: datetime | None = None
    alerted_at: datetime | None = None  # a person was alerted and asked to decide (None: nobody was asked)


@dataclass(frozen=True)
class TrafficSummary:
    """Client-side truth. ``failed_during_rollback`` counts requests the rollback itself failed (router or
    transport errors, or errors from any version but the bad one) between rollback start and verified
    completion; the bad version's own answers in that window are ``bad_responses_during_rollback``."""

    requests: int
    failed: int
    failed_during_rollback: int
    bad_responses_served: int
    baseline_error_rate: float
    after_error_rate: float | None
    by_version: dict[str, int] = field(default_factory=dict)
    bad_responses_during_rollback: int = 0
    # bad_responses_served by kind: errors, wrong (labelled answers), out_of_range, forbidden (verdict.BAD_KINDS)
    bad_responses_by_kind: dict[str, int] = field(default_factory=dict)
    shadow: dict[str, int] | None = None  # a shadow stage: mirrored, paired, candidate_answers_served, dropped
    # The load itself: the rate asked for, and achieved (answered requests/s) in each phase of the run.
    requested_rps: float | None = None
    achieved_rps: dict[str, float] = field(default_factory=dict)
    offered_rps: dict[str, float] = field(default_factory=dict)  # what the schedule asked for in each phase
    slo_s: float | None = None  # answers slower than this are slow
    slow_during_rollback: int = 0
    rollback_seconds: tuple[SecondCount, ...] = ()  # per second from rollback start to completion


@dataclass(frozen=True)
class SecondCount:
    """One second of the rollback: requests sent, failed (by the rollback, not the bad version), slower than the SLO."""

    t: float  # seconds since the rollback started
    requests: int
    failed: int
    slow: int


@dataclass(frozen=True)
class TimelinePoint:
    """One second of client-side traffic: requests and failures per serving version, and the canary weight."""

    t: float  # seconds since the run started
    requests: dict[str, int]
    failed: dict[str, int]
    canary_weight: int
    latency_p90_ms: dict[str, float] = field(default_factory=dict)  # per version, answered requests only
    incorrect: dict[str, int] = field(default_factory=dict)  # wrong answers per version, where labels exist


@dataclass(frozen=True)
class EvidencePoint:
    """One look of the detection loop at one check: its statistic over time, for reports."""

    t_s: float  # seconds since the deploy
    check: str
    statistic: float  # the check's own statistic (an e-value, a p-value, a ratio)
    threshold: float  # the level at which the check fails
    effect: float | None = None  # estimated effect (sequential: odds or rate ratio; others: candidate minus baseline)
    lower: float | None = None  # confidence sequence of the effect, where the judge gives one
    upper: float | None = None


@dataclass(frozen=True)
class StageResult:
    """One stage of a staged rollout (a shadow drill's one stage, or a progressive chain's): what it judged, when it
    decided, and how many client answers the candidate served while it ran (in shadow: none)."""

    kind: str  # shadow | canary
    label: str  # "shadow", "canary 10 %"
    max_wait_s: float
    decision: str  # rollback (caught here) | pass (nothing within max_wait: the next stage) | not reached
    started_at: datetime | None = None
    decided_at: datetime | None = None
    weight: int | None = None  # canary: the clients' share in %
    candidate_answers_served: int = 0
    summary: str = ""
    evidence: tuple[str, ...] = ()  # one headline per check at the look that decided (or the last one)

    @property
    def caught(self) -> bool:
        return self.decision == "rollback"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "started_at": iso(self.started_at), "decided_at": iso(self.decided_at),
                "evidence": list(self.evidence)}


def _span(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds(), 3) if a is not None and b is not None else None


@dataclass(frozen=True)
class DrillResult:
    run_id: str
    drill: str
    profile: str
    status: RunStatus
    reason: str
    trigger: Trigger | None
    decision: Decision | None
    root_cause: str
    model: str
    stable_version: str
    candidate_version: str
    rolled_back: bool
    timestamps: Timestamps
    target_s: float
    steps: tuple[StepResult, ...]
    phases: tuple[PhaseResult, ...]
    traffic: TrafficSummary | None
    serving_version_after: str | None
    evidence: tuple[Evidence, ...] = ()
    images_source: str | None = None
    report_dir: str | None = None
    timeline: tuple[TimelinePoint, ...] = ()
    evidence_trace: tuple[EvidencePoint, ...] = ()
    expect: str = "rollback"  # what the drill expected: rollback | promote | fail
    target: str = "builtin"  # which target ran it (builtin, image, mlflow, ...)
    backend: str = "docker"  # docker | swarm
    replicas: dict[str, int] | None = None
    adversity: tuple[AdversityRecord, ...] = ()  # faults on the way back (harness.adversity)
    # Whether the run ended as the drill expected (see engine.expectation); None only in a report.json
    # written before the engine judged it. sabotage_reached: None where nothing was sabotaged (or untold).
    as_expected: bool | None = None
    sabotage_reached: bool | None = None
    replicas_by_node: dict[str, dict[str, int]] | None = None  # slot -> node -> replicas (a multi-node swarm)
    replicas_by_node_before: dict[str, dict[str, int]] | None = None  # the same just before a node was lost
    stages: tuple[StageResult, ...] = ()  # shadow and progressive strategies: each stage, in order
    decided_by: DecidedBy | None = None  # a person, an answers file standing in for one, or automation
    decider: str | None = None  # the person's name, where known
    # Whether the metrics store took the run's row: None where no store was asked (record=False), False when the
    # write failed (the CLI then exits 3; the reports and the result JSON say so).
    recorded: bool | None = None
    stopped_by: GuardTrip | None = None  # the stop condition that aborted the run, and the abort that followed

    @property
    def caught_in(self) -> StageResult | None:
        """The stage whose judge caught the candidate (None: no stage did, or the strategy has none)."""
        return next((s for s in self.stages if s.caught), None)

    @property
    def detect_s(self) -> float | None:
        return _span(self.timestamps.deployed_at, self.timestamps.decision_at)

    @property
    def alert_to_decision_s(self) -> float | None:
        """The person's time to decide, from the alert (None where nobody was asked)."""
        return _span(self.timestamps.alerted_at, self.timestamps.decision_at)

    @property
    def decision_to_completion_s(self) -> float | None:
        return _span(self.timestamps.decision_at, self.timestamps.completed_at)

    @property
    def deploy_to_recovery_s(self) -> float | None:
        return _span(self.timestamps.deployed_at, self.timestamps.completed_at)

    @property
    def wall_s(self) -> float | None:
        return _span(self.timestamps.started_at, self.timestamps.ended_at)

    @property
    def within_target(self) -> bool | None:
        d = self.decision_to_completion_s
        return None if d is None else d <= self.target_s

    @property
    def passed(self) -> bool:
        return self.status is RunStatus.PASSED

    def to_json(self) -> dict[str, Any]:
        ts = self.timestamps
        return {
            "run_id": self.run_id,
            "drill": self.drill,
            "profile": self.profile,
            "status": self.status.value,
            "reason": self.reason,
            "trigger": self.trigger,
            "decision": self.decision,
            "decided_by": self.decided_by,
            "decider": self.decider,
            "root_cause": self.root_cause,
            "model": self.model,
            "versions": {"stable": self.stable_version, "candidate": self.candidate_version},
            "rolled_back": self.rolled_back,
            "timestamps": {k: iso(getattr(ts, k)) for k in (
                "started_at", "deployed_at", "first_breach_at", "decision_at", "rollback_started_at",
                "completed_at", "ended_at", "alerted_at")},
            "durations": {
                "detect_s": self.detect_s,
                "alert_to_decision_s": self.alert_to_decision_s,
                "decision_to_completion_s": self.decision_to_completion_s,
                "deploy_to_recovery_s": self.deploy_to_recovery_s,
                "wall_s": self.wall_s,
            },
            "target_s": self.target_s,
            "within_target": self.within_target,
            "steps": [
                {**asdict(s), "status": s.status.value, "started_at": iso(s.started_at), "ended_at": iso(s.ended_at)}
                for s in self.steps
            ],
            "phases": [{**asdict(p), "started_at": iso(p.started_at), "ended_at": iso(p.ended_at)} for p in self.phases],
            "traffic": asdict(self.traffic) if self.traffic else None,
            "serving_version_after": self.serving_version_after,
            "evidence": [{**asdict(e), "at": iso(e.at)} for e in self.evidence],
            "images_source": self.images_source,
            "report_dir": self.report_dir,
            "timeline": [asdict(p) for p in self.timeline],
            "evidence_trace": [asdict(p) for p in self.evidence_trace],
            "expect": self.expect,
            "target": self.target,
            "backend": self.backend,
            "replicas": self.replicas,
            "adversity": [adversity_json(a) for a in self.adversity],
            "as_expected": self.as_expected,
            "sabotage_reached": self.sabotage_reached,
            "replicas_by_node": self.replicas_by_node,
            "replicas_by_node_before": self.replicas_by_node_before,
            "stages": [st.to_json() for st in self.stages],
            "caught_in_stage": self.caught_in.label if self.caught_in else None,
            "recorded": self.recorded,
            "stopped_by": self.stopped_by.to_json() if self.stopped_by else None,
        }


def adversity_json(record: AdversityRecord) -> dict[str, Any]:
    return {"kind": record.kind, "at": record.at, "target": record.target, "struck_at": iso(record.struck_at),
            "ended_at": iso(record.ended_at), "planned_s": record.planned_s, "active_s": record.active_s,
            "absorbed_by": [asdict(a) for a in record.absorbed_by], "error": record.error,
            "observations": record.observations or {}}
