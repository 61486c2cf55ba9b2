"""Where the store lives and how to connect to it.

`resolve_store_url` turns a flag / $DRILL_STORE / the XDG default into a SQLAlchemy URL.
`create_store_engine` builds the engine; for SQLite it switches on WAL and a busy timeout
and takes over transaction control from the sqlite3 module so write transactions start
with BEGIN IMMEDIATE. That is what lets several drill processes write one file at once
without losing rows: a deferred transaction that reads first and writes later can fail
with SQLITE_BUSY *without* waiting, whereas BEGIN IMMEDIATE waits up to busy_timeout
for the write lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from harness.errors import BackendUnavailable, SpecError, SpecIssue

DEFAULT_STORE_ENV = "DRILL_STORE"
SQLITE_BUSY_TIMEOUT_MS = 60_000
_WRITE = "drill_write"


def default_sqlite_path() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "drill" / "drill.db"


def resolve_store_url(url: str | None) -> str:
    """The argument, else $DRILL_STORE, else SQLite under $XDG_DATA_HOME/drill/drill.db.

    A bare path (no '://') means a SQLite file. `postgresql://` URLs use psycopg 3.
    """
    chosen = url or os.environ.get(DEFAULT_STORE_ENV) or str(default_sqlite_path())
    if "://" not in chosen:
        return f"sqlite:///{Path(chosen).expanduser().absolute()}"
    for plain in ("postgresql://", "postgres://"):
        if chosen.startswith(plain):
            return "postgresql+psycopg://" + chosen[len(plain):]
    return chosen


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN instead of the sqlite3 module.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_store_engine(url: str) -> Engine:
    """An engine for a resolved URL; bad URLs are bad input, missing drivers environment."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise SpecError(SpecIssue("--store", "url", f"not a database URL: {exc}")) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise SpecError(SpecIssue("--store", "url",
                                  f"unsupported database {backend!r}: use sqlite or postgresql"))
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailable(f"cannot create the store directory: {exc}") from None
    try:
        engine = create_engine(parsed, pool_pre_ping=backend == "postgresql")
    except (NoSuchModuleError, ImportError) as exc:
        raise BackendUnavailable(f"no database driver for {backend}: {exc}") from None
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that may write (BEGIN IMMEDIATE on SQLite)."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a read-only-intent transaction: one consistent snapshot."""
    with engine.connect() as conn, conn.begin():
        yield conn


def describe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
