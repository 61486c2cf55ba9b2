"""Tables, the timestamp column type, and versioned migrations.

Timestamps are stored as integer microseconds since the Unix epoch, UTC (`UtcMicros`).
That keeps every metric a plain integer expression — differences, windows, averages —
identical on SQLite and PostgreSQL, with no per-dialect date functions, and it makes the
window joins cheap index range scans. The Python side only ever sees aware datetimes.

Migrations are an ordered list; `migrate` applies the missing ones in one transaction,
recording each in `schema_version`. Concurrent first opens are serialised (SQLite:
BEGIN IMMEDIATE via `db.write_transaction`; PostgreSQL: a transaction advisory lock).
A migration must create what *it* needs, never "the current metadata": later migrations
add their own DDL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator

from harness.errors import BackendUnavailable

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """Aware datetime -> integer microseconds since the epoch (exact, no float rounding)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class UtcMicros(TypeDecorator[datetime]):
    """An aware datetime stored as BIGINT microseconds since the epoch, UTC."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", UtcMicros, nullable=False),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("deployed_at", UtcMicros, nullable=False),
    # The natural key; also the index that attributes a rollback to its deployment.
    UniqueConstraint("environment", "model", "version", "deployed_at", name="uq_deployments_natural"),
)
Index("ix_deployments_env_time", deployments.c.environment, deployments.c.deployed_at)
# Finds a deployment's predecessor for the repeat-rollback rate.
Index("ix_deployments_env_model_time", deployments.c.environment, deployments.c.model,
      deployments.c.deployed_at)

rollbacks = Table(
    "rollbacks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("from_version", String(200), nullable=False),
    Column("to_version", String(200), nullable=False),
    Column("decided_at", UtcMicros, nullable=False),
    Column("completed_at", UtcMicros, nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("root_cause", String(40), nullable=False),
    Column("planned", Boolean, nullable=False, default=False),
    Column("rca_url", Text, nullable=True),
    UniqueConstraint("environment", "model", "from_version", "decided_at", name="uq_rollbacks_natural"),
)
Index("ix_rollbacks_env_time", rollbacks.c.environment, rollbacks.c.decided_at)

drill_runs = Table(
    "drill_runs",
    metadata,
    Column("run_id", String(100), primary_key=True),
    Column("drill", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("trigger", String(20), nullable=True),
    Column("root_cause", String(40), nullable=True),
    Column("model", String(200), nullable=False),
    Column("from_version", String(200), nullable=False),
    Column("to_version", String(200), nullable=True),
    Column("rolled_back", Boolean, nullable=False),
    Column("started_at", UtcMicros, nullable=False, index=True),
    Column("deployed_at", UtcMicros, nullable=True),
    Column("first_breach_at", UtcMicros, nullable=True),
    Column("decision_at", UtcMicros, nullable=True),
    Column("rollback_started_at", UtcMicros, nullable=True),
    Column("completed_at", UtcMicros, nullable=True),
    Column("target_s", Float, nullable=False),
    Column("within_target", Boolean, nullable=True),
    Column("decision_to_completion_s", Float, nullable=True),
    Column("report_dir", Text, nullable=True),
    # v2 (issue 20): the runbook exercised, its content hash, the expectation and whether it held, the GameDay.
    Column("runbook", String(200), nullable=True),
    Column("runbook_hash", String(64), nullable=True),
    Column("expect", String(20), nullable=True),
    Column("as_expected", Boolean, nullable=True),
    Column("gameday_id", String(100), nullable=True, index=True),
    # v3 (issue 28): who decided (person | answers-file | automation), the person's name, when they were alerted.
    Column("decided_by", String(20), nullable=True),
    Column("decider", String(200), nullable=True),
    Column("alerted_at", UtcMicros, nullable=True),
    # v4 (issue 28): why the run ended so, as its result says (a teardown that failed, a bad input found late).
    Column("reason", Text, nullable=True),
)
_V2_RUN_COLUMNS = ("runbook", "runbook_hash", "expect", "as_expected", "gameday_id")
_V3_RUN_COLUMNS = ("decided_by", "decider", "alerted_at")
_V4_RUN_COLUMNS = ("reason",)

drill_steps = Table(
    "drill_steps",
    metadata,
    Column("run_id", String(100), ForeignKey("drill_runs.run_id", ondelete="CASCADE"),
           primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("action", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", UtcMicros, nullable=True),
    Column("ended_at", UtcMicros, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=True),
)


# v2 (issue 20): post-mortem findings, and GameDays with their people, log and action items.
rollback_cause_keys = Table(
    "rollback_cause_keys",
    metadata,
    Column("rollback_id", Integer, ForeignKey("rollbacks.id", ondelete="CASCADE"), primary_key=True),
    Column("cause_key", String(120), primary_key=True),
)
Index("ix_rollback_cause_keys_key", rollback_cause_keys.c.cause_key)

gamedays = Table(
    "gamedays",
    metadata,
    Column("gameday_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("plan_path", Text, nullable=False),
    Column("started_at", UtcMicros, nullable=False, index=True),
    Column("ended_at", UtcMicros, nullable=False),
    Column("surprise_drill", String(200), nullable=True),
    Column("went_well", Text, nullable=False),  # one item a line
    Column("went_badly", Text, nullable=False),
    # v3 (issue 28): completed | aborted, and why a GameDay stopped early.
    Column("status", String(20), nullable=False, server_default="completed"),
    Column("reason", Text, nullable=True),
)
_V3_GAMEDAY_COLUMNS = ("status", "reason")

gameday_participants = Table(
    "gameday_participants",
    metadata,
    Column("gameday_id", String(100), ForeignKey("gamedays.gameday_id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
)

gameday_log = Table(
    "gameday_log",
    metadata,
    Column("gameday_id", String(100), ForeignKey("gamedays.gameday_id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcMicros, nullable=False),
    Column("role", String(40), nullable=False),
    Column("person", String(200), nullable=False),
    Column("message", Text, nullable=False),
)

gameday_actions = Table(
    "gameday_actions",
    metadata,
    Column("gameday_id", String(100), ForeignKey("gamedays.gameday_id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("due", UtcMicros, nullable=False),
)

_V2_TABLES = (rollback_cause_keys, gamedays, gameday_participants, gameday_log, gameday_actions)


def _v1_initial(conn: Connection) -> None:
    # The v1 shape only, in a metadata of its own: v2's columns are added by v2 (a migration creates what
    # *it* needs, never the current metadata).
    v1 = MetaData()
    for table in (deployments, rollbacks, drill_runs, drill_steps):
        columns = [column._copy() for column in table.columns
                   if table is not drill_runs or column.name not in (*_V2_RUN_COLUMNS, *_V3_RUN_COLUMNS, *_V4_RUN_COLUMNS)]
        constraints = [UniqueConstraint(*(col.name for col in c.columns), name=c.name)
                       for c in list(table.constraints) if isinstance(c, UniqueConstraint)]
        copy = Table(table.name, v1, *columns, *constraints)
        for index in table.indexes:  # the explicit ones; a column's own index=True came with the column
            if not index._column_flag and all(column.name in copy.c for column in index.columns):
                Index(index.name, *(copy.c[column.name] for column in index.columns))
    v1.create_all(conn, checkfirst=False)


def _v2_programme(conn: Connection) -> None:
    present = {column["name"] for column in inspect(conn).get_columns("drill_runs")}
    for name in _V2_RUN_COLUMNS:
        if name not in present:
            column = drill_runs.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE drill_runs ADD COLUMN {name} {kind}"))
    Index("ix_drill_runs_gameday_id", drill_runs.c.gameday_id).create(conn, checkfirst=True)
    v2 = MetaData()
    for table in _V2_TABLES:  # the v2 shape: v3's GameDay columns are added by v3
        columns = [column._copy() for column in table.columns
                   if table is not gamedays or column.name not in _V3_GAMEDAY_COLUMNS]
        copy = Table(table.name, v2, *columns)
        for index in table.indexes:
            if not index._column_flag:
                Index(index.name, *(copy.c[column.name] for column in index.columns))
    v2.create_all(conn, checkfirst=False)


def _add_columns(conn: Connection, table: Table, names: tuple[str, ...]) -> None:
    present = {column["name"] for column in inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            column = table.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            default = f" NOT NULL DEFAULT '{column.server_default.arg}'" if column.server_default is not None else ""  # type: ignore[attr-defined]
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}{default}"))


def _v3_evidence(conn: Connection) -> None:
    _add_columns(conn, drill_runs, _V3_RUN_COLUMNS)
    _add_columns(conn, gamedays, _V3_GAMEDAY_COLUMNS)


def _v4_reason(conn: Connection) -> None:
    _add_columns(conn, drill_runs, _V4_RUN_COLUMNS)


Migration = tuple[int, str, Callable[[Connection], None]]

MIGRATIONS: tuple[Migration, ...] = (
    (1, "deployments, rollbacks, drill runs and steps", _v1_initial),
    (2, "cause keys, runbook hashes, expected outcomes, GameDays", _v2_programme),
    (3, "who decided a drill run and when they were alerted; aborted GameDays", _v3_evidence),
    (4, "why each drill run ended so (its reason)", _v4_reason),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def _lock_for_migration(conn: Connection) -> None:
    # SQLite is already serialised by BEGIN IMMEDIATE; PostgreSQL needs an explicit lock
    # so two processes opening a fresh database do not both create the tables.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7243104331)"))


def current_version(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, schema_version.name):
        return 0
    return int(conn.execute(select(schema_version.c.version).order_by(
        schema_version.c.version.desc()).limit(1)).scalar() or 0)


def migrate(conn: Connection) -> int:
    """Bring the schema to LATEST_VERSION inside the caller's transaction; returns it."""
    _lock_for_migration(conn)
    version = current_version(conn)
    if version > LATEST_VERSION:
        raise BackendUnavailable(
            f"store schema is version {version}, newer than this drill understands "
            f"({LATEST_VERSION}); upgrade drill"
        )
    if version == 0:
        schema_version.create(conn, checkfirst=True)
    for number, description, apply in MIGRATIONS:
        if number > version:
            apply(conn)
            conn.execute(schema_version.insert().values(
                version=number, description=description, applied_at=datetime.now(UTC)))
    return LATEST_VERSION
