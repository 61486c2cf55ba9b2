"""Writes each finished drill run into the rollback metrics store (environment ``drill``).

A write that fails is kept, not raised (``StoreListener.written`` False, ``error`` saying why): the listeners
after it, wrapped in ``AfterStore``, see the result with ``recorded`` set, so the reports and the result JSON
say whether the row exists, and ``api.run_drill`` turns a lost row into an environment error (exit 3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from harness.engine.events import Event, Listener, RunFinished
from harness.engine.results import DrillResult
from harness.report.outcome import outcome
from harness.store import DrillRunRecord, StepRecord, Store


@dataclass(frozen=True)
class RunContextInfo:
    """What the store keeps beside the result: the runbook exercised (name, content hash) and the GameDay."""

    runbook: str | None = None
    runbook_hash: str | None = None
    gameday_id: str | None = None


def to_record(result: DrillResult, info: RunContextInfo = RunContextInfo()) -> DrillRunRecord:
    ts = result.timestamps
    return DrillRunRecord(
        run_id=result.run_id, drill=result.drill, status=result.status.value, trigger=result.trigger,
        root_cause=result.root_cause, model=result.model, from_version=result.candidate_version,
        to_version=result.stable_version if result.rolled_back else None, rolled_back=result.rolled_back,
        started_at=ts.started_at, deployed_at=ts.deployed_at, first_breach_at=ts.first_breach_at,
        decision_at=ts.decision_at, rollback_started_at=ts.rollback_started_at, completed_at=ts.completed_at,
        target_s=result.target_s, within_target=result.within_target,
        decision_to_completion_s=result.decision_to_completion_s, report_dir=result.report_dir,
        steps=tuple(StepRecord(s.name, s.action, s.status.value, s.started_at, s.ended_at, s.duration_s, s.attempts,
                               s.error) for s in result.steps),
        runbook=info.runbook, runbook_hash=info.runbook_hash, expect=result.expect,
        as_expected=outcome(result).as_expected, gameday_id=info.gameday_id, reason=result.reason,
        decided_by=result.decided_by, decider=result.decider, alerted_at=ts.alerted_at,
    )


log = logging.getLogger(__name__)


class StoreListener:
    def __init__(self, store: Store, info: RunContextInfo = RunContextInfo()) -> None:
        self.store = store
        self.info = info
        self.written: bool | None = None  # None until the run finished
        self.error: str | None = None

    def on_event(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            try:
                self.store.record_drill_run(to_record(event.result, self.info))
            except Exception as exc:  # a lost row must be told, never a lost teardown or report: kept, not raised
                log.exception("the store did not take run %s", event.result.run_id)
                self.written, self.error = False, f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            else:
                self.written = True


class AfterStore:
    """Passes events on to ``inner`` with the finished result saying whether ``store`` took its row."""

    def __init__(self, store: StoreListener, inner: Listener) -> None:
        self.store, self.inner = store, inner

    def on_event(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            event = replace(event, result=replace(event.result, recorded=self.store.written))
        self.inner.on_event(event)
