"""What `drill status` reads from the store: per runbook (and per model), its latest drill run and its latest
run that ended as the drill expected, with the runbook's content hash as it was then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from harness.store.schema import drill_runs


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    drill: str
    model: str
    runbook: str | None
    runbook_hash: str | None
    status: str
    expect: str | None
    as_expected: bool | None
    started_at: datetime
    gameday_id: str | None = None


@dataclass(frozen=True)
class Latest:
    """The newest run of one runbook or model, and the newest that ended as expected (None: never)."""

    key: str
    last: RunSummary
    last_as_expected: RunSummary | None


def _summaries(conn: Connection) -> list[RunSummary]:
    c = drill_runs.c
    query = select(c.run_id, c.drill, c.model, c.runbook, c.runbook_hash, c.status, c.expect, c.as_expected,
                   c.started_at, c.gameday_id).order_by(c.started_at.desc(), c.run_id.desc())
    return [RunSummary(r.run_id, r.drill, r.model, r.runbook, r.runbook_hash, r.status, r.expect,
                       None if r.as_expected is None else bool(r.as_expected), r.started_at, r.gameday_id)
            for r in conn.execute(query)]


def latest(conn: Connection, by: str) -> dict[str, Latest]:
    """``by`` 'runbook' (runs recorded before runbooks were, have none and are left out), 'drill' or 'model'."""
    if by not in ("runbook", "drill", "model"):
        raise ValueError(f"cannot group drill runs by {by!r}")
    found: dict[str, Latest] = {}
    for run in _summaries(conn):  # newest first: the first seen per key is its latest
        key = getattr(run, by)
        if key is None:
            continue
        held = found.get(key)
        if held is None:
            found[key] = Latest(key, run, run if run.as_expected else None)
        elif held.last_as_expected is None and run.as_expected:
            found[key] = Latest(key, held.last, run)
    return found
