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
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
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


def _switch_to_wal(cursor: Any, patience_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
    """PRAGMA journal_mode = WAL, retried: switching a fresh file to WAL needs an exclusive lock, and SQLite
    answers "database is locked" at once (without its busy handler) while another process holds the file,
    as several drills opening a new store together do."""
    deadline = time.monotonic() + patience_s
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN instead of the sqlite3 module.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


class StoreMissing(BackendUnavailable):
    """A read-only command named a SQLite store that does not exist (it is never created for reading)."""


def parse_store_url(url: str) -> URL:
    """A resolved store URL checked for what SQLAlchemy lets through: SpecError naming --store otherwise."""
    def bad(message: str) -> SpecError:
        return SpecError(SpecIssue("--store", "url", f"{message}: {describe(url)}"))

    try:
        parsed = make_url(url)
        port = parsed.port
    except (ArgumentError, ValueError) as exc:
        raise bad(f"not a database URL ({exc})") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise SpecError(SpecIssue("--store", "url",
                                  f"unsupported database {backend!r}: use sqlite or postgresql"))
    if port is not None and not 0 < port < 65536:
        raise bad(f"port {port} out of range")
    if backend == "sqlite" and not parsed.database:
        raise bad("a SQLite URL must name a file (sqlite:////path/to/drill.db)")
    if backend == "postgresql" and not parsed.database:
        raise bad("a PostgreSQL URL must name a database (postgresql://user@host/dbname)")
    return parsed


def _prepare_sqlite_file(database: str, create: bool) -> None:
    """The file and its directory: created owner-only (0700 directory, 0600 file); or StoreMissing."""
    path = Path(database)
    if path.exists():
        return
    if not create:
        raise StoreMissing(f"no store at {path}: nothing has been recorded there yet "
                           "(`drill run`, `drill record` or `drill import` create it)")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created here, not by SQLite, so that the history is never world-readable even for a moment;
        # SQLite gives its -wal and -shm files the database file's mode.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise BackendUnavailable(f"cannot create the store at {path}: {exc}") from None


def create_store_engine(url: str, create: bool = True) -> Engine:
    """An engine for a resolved URL; bad URLs are bad input, missing drivers environment.

    ``create=False`` (read-only commands) never creates a SQLite file: a missing one is StoreMissing.
    """
    parsed = parse_store_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        _prepare_sqlite_file(parsed.database, create)
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


_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|passwd|pwd|sslpassword)=)[^&#]*")
_USERINFO_SECRET = re.compile(r"(://[^/:@?#]*:)[^@/?#]*(@)")


def describe(url: str) -> str:
    """The URL with any password hidden (user:password@ and ?password=), for messages."""
    try:
        text = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        text = _USERINFO_SECRET.sub(r"\1***\2", url)
    return _QUERY_SECRET.sub(r"\1***", text)
