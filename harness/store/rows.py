"""Mapping between the record dataclasses and table rows, and the insert-or-ignore statement.

Insert-or-ignore uses the dialect's own INSERT (`ON CONFLICT DO NOTHING` on both SQLite
and PostgreSQL) with RETURNING, so a bulk insert reports exactly which rows were new,
even when another process inserted the same natural key a moment earlier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite

from harness.store.records import (
    DRILL_ENVIRONMENT,
    Deployment,
    DrillRunRecord,
    Rollback,
    RootCause,
    StepRecord,
    Trigger,
)
from harness.store.schema import drill_runs

BATCH = 5_000


def insert_ignore(conn: Connection, table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING <pk> for this connection's dialect."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    pk = next(iter(table.primary_key.columns))
    return dialect_insert(table).on_conflict_do_nothing().returning(pk)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert-or-ignore many rows; returns how many were new."""
    if not rows:
        return 0
    result = conn.execute(insert_ignore(conn, table), list(rows))
    return len(result.all())


def deployment_row(d: Deployment) -> dict[str, Any]:
    return {"environment": d.environment, "model": d.model, "version": d.version,
            "deployed_at": d.deployed_at}


def rollback_row(r: Rollback) -> dict[str, Any]:
    return {
        "environment": r.environment, "model": r.model, "from_version": r.from_version,
        "to_version": r.to_version, "decided_at": r.decided_at, "completed_at": r.completed_at,
        "trigger": r.trigger.value, "root_cause": r.root_cause.value, "planned": r.planned,
        "rca_url": r.rca_url,
    }


def deployment_from_row(row: Any) -> Deployment:
    return Deployment(row.model, row.version, row.deployed_at, row.environment)


def rollback_from_row(row: Any) -> Rollback:
    return Rollback(
        row.model, row.from_version, row.to_version, row.decided_at, row.completed_at,
        Trigger(row.trigger), RootCause(row.root_cause), bool(row.planned), row.rca_url,
        row.environment,
    )


def drill_events(run: DrillRunRecord) -> tuple[Deployment, Rollback | None]:
    """The deployment (and rollback) a drill run adds under environment 'drill'.

    A rolled-back run must say when the rollback was decided and completed, by which
    trigger: those are the figures the drill exists to measure, so a gap is a bug. A run
    without a root cause records "other".
    """
    deployment = Deployment(run.model, run.from_version, run.deployed_at or run.started_at,
                            DRILL_ENVIRONMENT)
    if not run.rolled_back:
        return deployment, None
    missing = [name for name in ("to_version", "decision_at", "completed_at", "trigger")
               if getattr(run, name) is None]
    if missing:
        raise ValueError(f"drill run {run.run_id} rolled back but lacks {', '.join(missing)}")
    assert run.to_version and run.decision_at and run.completed_at and run.trigger
    rollback = Rollback(
        run.model, run.from_version, run.to_version, run.decision_at, run.completed_at,
        Trigger(run.trigger), RootCause(run.root_cause or RootCause.OTHER), False, None,
        DRILL_ENVIRONMENT,
    )
    return deployment, rollback


_RUN_FIELDS = tuple(c.name for c in drill_runs.columns)
_STEP_FIELDS = ("name", "action", "status", "started_at", "ended_at", "duration_s", "attempts",
                "error")


def run_row(run: DrillRunRecord) -> dict[str, Any]:
    return {name: getattr(run, name) for name in _RUN_FIELDS}


def step_rows(run: DrillRunRecord) -> list[dict[str, Any]]:
    return [
        {"run_id": run.run_id, "seq": seq, **{name: getattr(step, name) for name in _STEP_FIELDS}}
        for seq, step in enumerate(run.steps)
    ]


def run_from_rows(row: Any, steps: Sequence[Any]) -> DrillRunRecord:
    values = {name: getattr(row, name) for name in _RUN_FIELDS}
    values["steps"] = tuple(
        StepRecord(**{name: getattr(step, name) for name in _STEP_FIELDS}) for step in steps
    )
    return DrillRunRecord(**values)

