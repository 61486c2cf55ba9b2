"""Release notes: a model's rollback history, ready to paste (Markdown) or to feed a pipeline (JSON).

The standard asks teams to "include rollback history in model release notes": which versions were rolled
back, when, why (root cause, cause keys, the RCA link), how long detection and the rollback took, and
whether the runbooks that would carry the next rollback are drilled and fresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.errors import SpecError, SpecIssue
from harness.programme.freshness import Freshness, StatusReport
from harness.store import Deployment, Store, StoredRollback, format_timestamp


@dataclass(frozen=True)
class HistoryItem:
    stored: StoredRollback
    deployed_at: datetime | None  # of the deployment it rolled back (None: not recorded)

    @property
    def to_decision_h(self) -> float | None:
        r = self.stored.rollback
        return None if self.deployed_at is None else round((r.decided_at - self.deployed_at).total_seconds() / 3600, 2)

    @property
    def to_completion_min(self) -> float:
        r = self.stored.rollback
        return round((r.completed_at - r.decided_at).total_seconds() / 60, 2)


@dataclass(frozen=True)
class DrillLine:
    drill: str
    runbook: str | None
    last_run: str
    last_status: str
    as_expected: bool | None
    runbook_state: str  # fresh / stale: reasons / not in this project


@dataclass(frozen=True)
class ReleaseNotes:
    model: str
    version: str | None
    history: tuple[HistoryItem, ...]
    drills: tuple[DrillLine, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "version": self.version,
            "rollbacks": [{
                "id": h.stored.id, "environment": h.stored.rollback.environment,
                "from_version": h.stored.rollback.from_version, "to_version": h.stored.rollback.to_version,
                "deployed_at": None if h.deployed_at is None else format_timestamp(h.deployed_at),
                "decided_at": format_timestamp(h.stored.rollback.decided_at),
                "completed_at": format_timestamp(h.stored.rollback.completed_at),
                "time_to_decision_hours": h.to_decision_h, "decision_to_completion_minutes": h.to_completion_min,
                "trigger": h.stored.rollback.trigger.value, "root_cause": h.stored.rollback.root_cause.value,
                "planned": h.stored.rollback.planned, "rca_url": h.stored.rollback.rca_url,
                "cause_keys": list(h.stored.rollback.cause_keys)} for h in self.history],
            "drills": [{"drill": d.drill, "runbook": d.runbook, "last_run": d.last_run, "status": d.last_status,
                        "as_expected": d.as_expected, "runbook_state": d.runbook_state} for d in self.drills],
        }


def _owner(rollback: StoredRollback, deployments: Sequence[Deployment]) -> datetime | None:
    r = rollback.rollback
    times = [d.deployed_at for d in deployments if d.environment == r.environment and d.version == r.from_version
             and d.deployed_at <= r.decided_at]
    return max(times) if times else None


def _state(item: Freshness | None) -> str:
    if item is None:
        return "not in this project"
    return "stale: " + "; ".join(item.reasons) if item.stale else f"fresh (within {item.freshness_days} days)"


def build(store: Store, model: str, version: str | None, status: StatusReport | None) -> ReleaseNotes:
    """Every rollback of ``model`` (from ``version`` only, if given), oldest first, and its drills' state."""
    deployments = store.deployments_of(model)
    stored = store.stored_rollbacks(model)
    if not deployments and not stored and model not in store.latest_runs("model"):
        raise SpecError(SpecIssue("--model", "model", f"no model {model!r} in the store (no deployment, "
                                  "rollback or drill run of it)"))
    history = tuple(HistoryItem(s, _owner(s, deployments)) for s in stored
                    if version is None or s.rollback.from_version == version)
    by_runbook = {item.name: item for item in status.runbooks} if status is not None else {}
    drills = tuple(
        DrillLine(latest.key, latest.last.runbook, latest.last.run_id, latest.last.status, latest.last.as_expected,
                  _state(by_runbook.get(latest.last.runbook or "")))
        for latest in sorted(store.latest_runs("drill").values(), key=lambda item: item.key)
        if latest.last.model == model)
    return ReleaseNotes(model, version, history, drills)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(notes: ReleaseNotes) -> str:
    scope = f"{notes.model} version {notes.version}" if notes.version else notes.model
    lines = [f"## Rollback history: {scope}", ""]
    production = [h for h in notes.history if h.stored.rollback.environment != "drill"]
    drilled = [h for h in notes.history if h.stored.rollback.environment == "drill"]
    if not production:
        lines.append("No production rollbacks recorded.")
    else:
        lines += ["| # | version | rolled back to | decided | why | detected after | decision to completion | RCA |",
                  "|---|---|---|---|---|---|---|---|"]
        for h in production:
            r = h.stored.rollback
            why = r.root_cause.value + (f" ({', '.join(r.cause_keys)})" if r.cause_keys else "") + (
                ", planned" if r.planned else "") + f", {r.trigger.value}"
            detected = "—" if h.to_decision_h is None else f"{h.to_decision_h:g} h"
            rca = f"[post-mortem]({r.rca_url})" if r.rca_url else "none published"
            lines.append(f"| {h.stored.id} | {_cell(r.from_version)} | {_cell(r.to_version)} | "
                         f"{format_timestamp(r.decided_at)} | {_cell(why)} | {detected} | "
                         f"{h.to_completion_min:g} min | {_cell(rca)} |")
    lines += ["", f"Drill rollbacks rehearsed: {len(drilled)}."]
    if notes.drills:
        lines += ["", "| drill | runbook | last run | outcome | runbook state |", "|---|---|---|---|---|"]
        for d in notes.drills:
            outcome = d.last_status + (" (as expected)" if d.as_expected else " (not as expected)"
                                       if d.as_expected is False else "")
            lines.append(f"| {_cell(d.drill)} | {_cell(d.runbook or '—')} | {_cell(d.last_run)} | {outcome} | "
                         f"{_cell(d.runbook_state)} |")
    else:
        lines += ["", "No drill of this model is recorded."]
    return "\n".join(lines) + "\n"
