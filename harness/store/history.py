"""Impossible histories, refused at write: a rollback decided before its version was ever deployed there.

Such a row would be dropped from every figure without a word (no deployment owns it) and shown as "—" in
the release notes, so `record_rollback` and `import_events` check the rollbacks they just wrote, inside
their transaction, and raise a SpecError (exit 2) that rolls everything back. A rollback of a version with
no recorded deployment at all is allowed: the history may simply start later (it counts in the
all-rollbacks figures but not in the mean time to rollback).
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, exists, func, select

from harness.errors import SpecError, SpecIssue
from harness.store.codec import format_timestamp
from harness.store.schema import deployments, rollbacks

MAX_REPORTED = 20


def check_new_rollbacks(conn: Connection, after_id: int, source: str) -> None:
    """SpecError naming every rollback with id > ``after_id`` decided before its version's first deployment."""
    r, d = rollbacks.c, deployments.c
    same_version = and_(d.environment == r.environment, d.model == r.model, d.version == r.from_version)
    deployed_first = (select(deployments.c.deployed_at).where(same_version).order_by(d.deployed_at).limit(1)
                      .correlate(rollbacks).scalar_subquery())
    query = (select(r.environment, r.model, r.from_version, r.decided_at, deployed_first.label("first"))
             .where(r.id > after_id, exists().where(same_version),
                    ~exists().where(same_version, d.deployed_at <= r.decided_at))
             .order_by(r.decided_at).limit(MAX_REPORTED))
    issues = [SpecIssue(source, "decided_at",
                        f"rollback of {row.model} {row.from_version} ({row.environment}) decided "
                        f"{format_timestamp(row.decided_at)}, before that version was deployed "
                        f"({format_timestamp(row.first)}): an impossible history, nothing written")
              for row in conn.execute(query)]
    if issues:
        raise SpecError(issues)


def last_rollback_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(rollbacks.c.id), 0))).scalar_one())
