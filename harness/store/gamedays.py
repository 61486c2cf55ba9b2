"""GameDay records: who took part in which role, what they did when, the retrospective and its action items.

A GameDay's drill runs are ordinary drill runs (``drill_runs.gameday_id`` points here), so every figure of
``drill metrics`` and ``drill status`` counts them; this module keeps what only a GameDay has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, select

from harness.store import rows
from harness.store.records import as_utc
from harness.store.schema import EPOCH, gameday_actions, gameday_log, gameday_participants, gamedays
from harness.store.text import plain

ROLES = ("incident-commander", "operator", "scribe")
ABORTED = "aborted"


@dataclass(frozen=True)
class Participant:
    name: str
    role: str  # one of ROLES

    def __post_init__(self) -> None:
        plain(self.name)  # a library caller gets the same refusal as a plan file (harness.store.text)


@dataclass(frozen=True)
class LogEntry:
    """One thing one person did (or was asked): the alert, a decision, a manual step, a note."""

    at: datetime
    role: str
    person: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", as_utc(self.at, "at"))


@dataclass(frozen=True)
class ActionItem:
    description: str
    owner: str
    due: date

    def __post_init__(self) -> None:
        plain(self.description)
        plain(self.owner)


@dataclass(frozen=True)
class GameDayRecord:
    gameday_id: str
    name: str
    plan_path: str
    started_at: datetime
    ended_at: datetime
    surprise_drill: str | None
    participants: tuple[Participant, ...]
    went_well: tuple[str, ...] = ()
    went_badly: tuple[str, ...] = ()
    actions: tuple[ActionItem, ...] = ()
    log: tuple[LogEntry, ...] = field(default=())
    status: str = "completed"  # completed | aborted (interrupted, or a drill could not run: ``reason`` says why)
    reason: str | None = None

    @property
    def aborted(self) -> bool:
        return self.status == ABORTED

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", as_utc(self.started_at, "started_at"))
        object.__setattr__(self, "ended_at", as_utc(self.ended_at, "ended_at"))
        for item in (self.name, *self.went_well, *self.went_badly):
            plain(item)

    def person(self, role: str) -> str | None:
        return next((p.name for p in self.participants if p.role == role), None)


def _day(value: date) -> datetime:
    return datetime.combine(value, datetime.min.time(), tzinfo=EPOCH.tzinfo)


def write(conn: Connection, g: GameDayRecord) -> bool:
    """Insert one GameDay with its people, log and action items; False if that id was already stored."""
    new = rows.insert_rows(conn, gamedays, [{
        "gameday_id": g.gameday_id, "name": g.name, "plan_path": g.plan_path, "started_at": g.started_at,
        "ended_at": g.ended_at, "surprise_drill": g.surprise_drill, "went_well": "\n".join(g.went_well),
        "went_badly": "\n".join(g.went_badly), "status": g.status, "reason": g.reason}])
    if not new:
        return False
    rows.insert_rows(conn, gameday_participants, [
        {"gameday_id": g.gameday_id, "seq": i, "name": p.name, "role": p.role} for i, p in enumerate(g.participants)])
    rows.insert_rows(conn, gameday_log, [
        {"gameday_id": g.gameday_id, "seq": i, "at": e.at, "role": e.role, "person": e.person, "message": e.message}
        for i, e in enumerate(g.log)])
    rows.insert_rows(conn, gameday_actions, [
        {"gameday_id": g.gameday_id, "seq": i, "description": a.description, "owner": a.owner, "due": _day(a.due)}
        for i, a in enumerate(g.actions)])
    return True


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line for line in text.split("\n") if line)


def read(conn: Connection, gameday_id: str) -> GameDayRecord | None:
    row = conn.execute(select(gamedays).where(gamedays.c.gameday_id == gameday_id)).one_or_none()
    if row is None:
        return None

    def child(table: Table) -> Sequence[Row[Any]]:
        return conn.execute(select(table).where(table.c.gameday_id == gameday_id).order_by(table.c.seq)).all()

    return GameDayRecord(
        row.gameday_id, row.name, row.plan_path, row.started_at, row.ended_at, row.surprise_drill,
        tuple(Participant(p.name, p.role) for p in child(gameday_participants)),
        _lines(row.went_well), _lines(row.went_badly),
        tuple(ActionItem(a.description, a.owner, a.due.date()) for a in child(gameday_actions)),
        tuple(LogEntry(e.at, e.role, e.person, e.message) for e in child(gameday_log)),
        row.status, row.reason,
    )


def list_ids(conn: Connection, limit: int = 20) -> list[tuple[str, str, datetime, str]]:
    """The newest GameDays: (id, name, started_at, status)."""
    query = select(gamedays.c.gameday_id, gamedays.c.name, gamedays.c.started_at, gamedays.c.status).order_by(
        gamedays.c.started_at.desc()).limit(limit)
    return [(r.gameday_id, r.name, r.started_at, r.status) for r in conn.execute(query)]
