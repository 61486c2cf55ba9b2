"""Drill runs in the import format (``"type": "drill_run"``): how a test, or a migration from another tool,
puts a run at a chosen time, so `drill status`, `drill gate` and the readiness score can be tried on a
runbook drilled 100 days ago without editing a database by hand.

    {"type": "drill_run", "run_id": "aged-1", "drill": "canary-fail", "model": "fraud",
     "started_at": "2026-08-01T03:00:00Z", "status": "passed", "expect": "rollback", "as_expected": true,
     "runbook": "canary-rollback", "runbook_hash": "<current_hash from drill status --json>",
     "root_cause": "performance", "rolled_back": true, "trigger": "automated",
     "decision_to_completion_s": 1.2,
     "steps": [{"name": "check-prior", "action": "registry.check_prior_versions", "status": "passed"}]}

A rolled-back run is given decision and completion instants one second apart from `started_at` unless the
line says `decision_to_completion_s`; the store then records its drill-environment deployment and rollback
as a real run would. Imported runs are marked by their report directory being empty (``report_dir`` null).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from harness.errors import SpecError, SpecIssue
from harness.outcomes import RootCause, RunStatus, Trigger
from harness.store.records import DrillRunRecord, StepRecord
from harness.store.text import CONTROL


class LineParser(Protocol):
    """What `codec.LineParser` offers (a protocol here, so this module does not import the codec back)."""

    obj: dict[str, Any]
    issues: list[SpecIssue]

    def issue(self, fieldname: str, message: str) -> None: ...
    def text(self, name: str, default: str | None = None, *, nullable: bool = False) -> str | None: ...
    def timestamp(self, name: str) -> datetime | None: ...
    def choice(self, name: str, enum: type[Trigger] | type[RootCause] | type[RunStatus]) -> Any: ...
    def flag(self, name: str) -> bool: ...
    def unknown(self, allowed: set[str]) -> None: ...

RUN_FIELDS = {"type", "run_id", "drill", "model", "started_at", "status", "expect", "as_expected", "runbook",
              "runbook_hash", "root_cause", "rolled_back", "trigger", "from_version", "to_version",
              "decision_to_completion_s", "target_s", "gameday_id", "steps"}
STEP_STATUSES = ("passed", "failed", "skipped")
EXPECTS = ("rollback", "promote", "fail")


def _number(p: LineParser, name: str, default: float) -> float:
    value = p.obj.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        p.issue(name, f"must be a number >= 0, got {value!r}")
        return default
    return float(value)


def _steps(p: LineParser) -> tuple[StepRecord, ...]:
    """``"steps": [{"name": ..., "action": ..., "status": "passed"}]``: which runbook steps ran, and how."""
    value = p.obj.get("steps") or []
    if not isinstance(value, list):
        p.issue("steps", "must be a list of {name, action, status}")
        return ()
    found = []
    for i, step in enumerate(value):
        if (not isinstance(step, dict) or set(step) - {"name", "action", "status"}
                or not all(isinstance(step.get(k), str) and step.get(k) for k in ("name", "action", "status"))
                or CONTROL.search("".join(step.values()))):
            p.issue(f"steps.{i}", "must be {name, action, status}: printable, non-empty strings")
            continue
        if step["status"] not in STEP_STATUSES:
            p.issue(f"steps.{i}.status", f"must be one of {', '.join(STEP_STATUSES)}, got {step['status']!r}")
            continue
        found.append(StepRecord(step["name"], step["action"], step["status"], None, None, None, 1))
    return tuple(found)


def drill_run_from_json(p: LineParser) -> DrillRunRecord:
    """One ``drill_run`` line; SpecError lists every problem of the line."""
    p.unknown(RUN_FIELDS)
    run_id, drill, model = p.text("run_id"), p.text("drill"), p.text("model")
    started = p.timestamp("started_at")
    status = p.choice("status", RunStatus)
    expect = p.text("expect", "rollback")
    if expect not in EXPECTS:
        p.issue("expect", f"must be one of {', '.join(EXPECTS)}, got {expect!r}")
    as_expected = p.flag("as_expected")
    rolled_back = p.flag("rolled_back")
    trigger = p.choice("trigger", Trigger) if "trigger" in p.obj else None
    root_cause = p.choice("root_cause", RootCause) if "root_cause" in p.obj else None
    runbook, digest = p.text("runbook", nullable=True), p.text("runbook_hash", nullable=True)
    from_v = p.text("from_version", "v3")
    to_v = p.text("to_version", "v2" if rolled_back else None, nullable=True)
    took = _number(p, "decision_to_completion_s", 1.0)
    target = _number(p, "target_s", 900.0)
    gameday = p.text("gameday_id", nullable=True)
    steps = _steps(p)
    if rolled_back and trigger is None:
        p.issue("trigger", "is required when rolled_back is true")
    if p.issues:
        raise SpecError(p.issues)
    assert run_id and drill and model and started and status and from_v
    decided = started + timedelta(seconds=1) if rolled_back else None
    done = decided + timedelta(seconds=took) if decided else None
    values: dict[str, Any] = {
        "run_id": run_id, "drill": drill, "status": status.value, "model": model, "from_version": from_v,
        "to_version": to_v, "rolled_back": rolled_back, "started_at": started, "deployed_at": started,
        "first_breach_at": decided, "decision_at": decided, "rollback_started_at": decided, "completed_at": done,
        "target_s": target, "within_target": None if done is None else took <= target,
        "decision_to_completion_s": took if rolled_back else None, "report_dir": None,
        "trigger": None if trigger is None else trigger.value,
        "root_cause": None if root_cause is None else root_cause.value,
        "runbook": runbook, "runbook_hash": digest, "expect": expect, "as_expected": as_expected,
        "gameday_id": gameday, "steps": steps,
    }
    return DrillRunRecord(**values)
