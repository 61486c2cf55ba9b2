"""Rebuild a DrillResult from its report.json form (``DrillResult.to_json()``).

Used by the summary report (to enrich a stored run with its report) and handy for writing or
re-rendering reports without running a drill:

    result = result_from_json(json.loads(Path("reports/<run-id>/report.json").read_text()))
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.adversity.base import record_from_json
from harness.engine.results import (
    DrillResult,
    Evidence,
    EvidencePoint,
    PhaseResult,
    RunStatus,
    SecondCount,
    StageResult,
    StepResult,
    StepStatus,
    TimelinePoint,
    Timestamps,
    TrafficSummary,
)
from harness.outcomes import DecidedBy


def _dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)  # 3.11 reads the trailing 'Z'
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _req_dt(value: str) -> datetime:
    parsed = _dt(value)
    assert parsed is not None
    return parsed


def result_from_json(data: dict[str, Any]) -> DrillResult:
    """The inverse of ``DrillResult.to_json()`` (derived fields such as durations are recomputed)."""
    ts = data["timestamps"]
    traffic = data.get("traffic")
    versions = data.get("versions") or {}
    return DrillResult(
        run_id=data["run_id"],
        drill=data["drill"],
        profile=data.get("profile", ""),
        status=RunStatus(data["status"]),
        reason=data.get("reason", ""),
        trigger=data.get("trigger"),
        decision=data.get("decision"),
        decided_by=DecidedBy(data["decided_by"]) if data.get("decided_by") else None,
        decider=data.get("decider"),
        root_cause=data.get("root_cause", ""),
        model=data.get("model", ""),
        stable_version=versions.get("stable", ""),
        candidate_version=versions.get("candidate", ""),
        rolled_back=bool(data.get("rolled_back")),
        timestamps=Timestamps(
            started_at=_req_dt(ts["started_at"]),
            **{k: _dt(ts.get(k)) for k in ("deployed_at", "first_breach_at", "decision_at", "rollback_started_at",
                                            "completed_at", "ended_at", "alerted_at")},
        ),
        target_s=float(data["target_s"]),
        steps=tuple(
            StepResult(
                name=s["name"], action=s["action"], status=StepStatus(s["status"]),
                started_at=_dt(s.get("started_at")), ended_at=_dt(s.get("ended_at")),
                duration_s=s.get("duration_s"), attempts=int(s.get("attempts", 0)), detail=s.get("detail", ""),
                error=s.get("error"), manual=bool(s.get("manual")), verify=bool(s.get("verify")), by=s.get("by"),
            )
            for s in data.get("steps") or ()
        ),
        phases=tuple(
            PhaseResult(p["name"], _req_dt(p["started_at"]), _req_dt(p["ended_at"]), float(p["duration_s"]),
                        p["status"])
            for p in data.get("phases") or ()
        ),
        traffic=TrafficSummary(
            requests=int(traffic["requests"]), failed=int(traffic["failed"]),
            failed_during_rollback=int(traffic["failed_during_rollback"]),
            bad_responses_served=int(traffic["bad_responses_served"]),
            bad_responses_during_rollback=int(traffic.get("bad_responses_during_rollback", 0)),
            bad_responses_by_kind={str(k): int(v) for k, v in (traffic.get("bad_responses_by_kind") or {}).items()},
            baseline_error_rate=float(traffic["baseline_error_rate"]),
            after_error_rate=traffic.get("after_error_rate"),
            by_version=dict(traffic.get("by_version") or {}),
            requested_rps=traffic.get("requested_rps"),
            achieved_rps={str(k): float(v) for k, v in (traffic.get("achieved_rps") or {}).items()},
            offered_rps={str(k): float(v) for k, v in (traffic.get("offered_rps") or {}).items()},
            shadow={str(k): int(v) for k, v in traffic["shadow"].items()} if traffic.get("shadow") else None,
            slo_s=traffic.get("slo_s"), slow_during_rollback=int(traffic.get("slow_during_rollback", 0)),
            rollback_seconds=tuple(SecondCount(float(c["t"]), int(c["requests"]), int(c["failed"]), int(c["slow"]))
                                   for c in traffic.get("rollback_seconds") or ()),
        ) if traffic else None,
        serving_version_after=data.get("serving_version_after"),
        evidence=tuple(
            Evidence(
                metric=e["metric"], query=e.get("query", ""), verdict=e["verdict"], canary_value=e.get("canary_value"),
                threshold=float(e["threshold"]), samples=e.get("samples"), min_samples=int(e.get("min_samples", 0)),
                baseline_value=e.get("baseline_value"), effect_size=e.get("effect_size"),
                confidence=e.get("confidence"), at=_dt(e.get("at")), kind=str(e.get("kind", "threshold")),
                e_value=e.get("e_value"), lower=e.get("lower"), upper=e.get("upper"),
                baseline_source=e.get("baseline_source"), margin=e.get("margin"), excess_upper=e.get("excess_upper"),
            )
            for e in data.get("evidence") or ()
        ),
        images_source=data.get("images_source"),
        report_dir=data.get("report_dir"),
        timeline=tuple(
            TimelinePoint(float(p["t"]), dict(p.get("requests") or {}), dict(p.get("failed") or {}),
                          int(p.get("canary_weight", 0)), dict(p.get("latency_p90_ms") or {}),
                          dict(p.get("incorrect") or {}))
            for p in data.get("timeline") or ()
        ),
        evidence_trace=tuple(
            EvidencePoint(float(p["t_s"]), str(p["check"]), float(p["statistic"]), float(p["threshold"]),
                          p.get("effect"), p.get("lower"), p.get("upper"))
            for p in data.get("evidence_trace") or ()
        ),
        expect=str(data.get("expect", "rollback")),
        target=str(data.get("target", "builtin")),
        backend=str(data.get("backend", "docker")),
        replicas=data.get("replicas"),
        adversity=tuple(record_from_json(a) for a in data.get("adversity") or ()),
        as_expected=data.get("as_expected") if isinstance(data.get("as_expected"), bool) else None,
        recorded=data.get("recorded") if isinstance(data.get("recorded"), bool) else None,
        sabotage_reached=data.get("sabotage_reached") if isinstance(data.get("sabotage_reached"), bool) else None,
        replicas_by_node=data.get("replicas_by_node"),
        replicas_by_node_before=data.get("replicas_by_node_before"),
        stages=tuple(
            StageResult(str(st["kind"]), str(st.get("label", st["kind"])), float(st.get("max_wait_s", 0.0)),
                        str(st.get("decision", "")), _dt(st.get("started_at")), _dt(st.get("decided_at")), st.get("weight"),
                        int(st.get("candidate_answers_served", 0)), str(st.get("summary", "")),
                        tuple(str(e) for e in st.get("evidence") or ()))
            for st in data.get("stages") or ()
        ),
    )


def load_result(path: Path) -> DrillResult:
    """A report.json file, or a run's report directory holding one."""
    if path.is_dir():
        path = path / "report.json"
    return result_from_json(json.loads(path.read_text(encoding="utf-8")))
