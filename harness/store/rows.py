"""Mapping between the record dataclasses and table rows, and the insert-or-ignore statement.

Insert-or-ignore uses the dialect's own INSERT (`ON CONFLICT DO NOTHING` on both SQLite
and PostgreSQL) with RETURNING, so a bulk insert reports exactly which rows were new,
even when another process inserted the same natural key a moment earlier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table, select, update
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
from harness.store.schema import drill_runs, rollback_cause_keys, rollbacks

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


def rollback_from_row(row: Any, cause_keys: Sequence[str] = ()) -> Rollback:
    return Rollback(
        row.model, row.from_version, row.to_version, row.decided_at, row.completed_at,
        Trigger(row.trigger), RootCause(row.root_cause), bool(row.planned), row.rca_url,
        row.environment, tuple(cause_keys),
    )


def natural_key(r: Rollback) -> tuple[str, str, str, Any]:
    return (r.environment, r.model, r.from_version, r.decided_at)


def insert_rollbacks(conn: Connection, offered: Sequence[Rollback]) -> int:
    """Insert-or-ignore rollbacks with their cause keys; findings of ones already present are merged in.

    RETURNING gives the new rows' natural keys and ids, so a bulk import attaches cause keys without a look-up
    per row; only rollbacks that were already there (and bring an RCA or keys) are looked up."""
    if not offered:
        return 0
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    r = rollbacks.c
    statement = dialect_insert(rollbacks).on_conflict_do_nothing().returning(
        r.id, r.environment, r.model, r.from_version, r.decided_at)
    new = {(row.environment, row.model, row.from_version, row.decided_at): row.id
           for row in conn.execute(statement, [rollback_row(item) for item in offered])}
    keys: list[dict[str, Any]] = []
    already: list[Rollback] = []
    for item in offered:
        found = new.get(natural_key(item))
        if found is None:
            already.append(item)
        else:
            keys += [{"rollback_id": found, "cause_key": key} for key in item.cause_keys]
    insert_rows(conn, rollback_cause_keys, keys)
    attach_findings(conn, already)
    return len(new)


def attach_findings(conn: Connection, offered: Sequence[Rollback]) -> None:
    """Cause keys (merged) and an RCA link (where none is recorded) of rollbacks already in the table.

    Runs after the insert-or-ignore, so a rollback imported again once its post-mortem is published (an
    MLflow version tagged later) gains its findings instead of being skipped as a duplicate."""
    for r in offered:
        if not r.cause_keys and not r.rca_url:
            continue
        environment, model, from_version, decided_at = natural_key(r)
        found = conn.execute(select(rollbacks.c.id, rollbacks.c.rca_url).where(
            rollbacks.c.environment == environment, rollbacks.c.model == model,
            rollbacks.c.from_version == from_version, rollbacks.c.decided_at == decided_at)).one_or_none()
        if found is None:
            continue
        if r.rca_url and not found.rca_url:
            conn.execute(update(rollbacks).where(rollbacks.c.id == found.id).values(rca_url=r.rca_url))
        insert_rows(conn, rollback_cause_keys, [{"rollback_id": found.id, "cause_key": key}
                                                for key in r.cause_keys])


def cause_keys_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    """Rollback id -> its cause keys, for the given ids."""
    found: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        query = (select(rollback_cause_keys).where(rollback_cause_keys.c.rollback_id.in_(chunk))
                 .order_by(rollback_cause_keys.c.rollback_id, rollback_cause_keys.c.cause_key))
        for row in conn.execute(query):
            found.setdefault(row.rollback_id, []).append(row.cause_key)
    return found


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

