"""Fixtures for the store suite: one store per test, on SQLite and on PostgreSQL.

PostgreSQL comes from $DRILL_TEST_PG_URL (`eval "$(.ci/postgres.sh)"` starts one); each
test gets a fresh schema, dropped afterwards. Without the variable the postgres cases
skip locally and *fail* when CI=true, so CI cannot pass by silently testing less. The
same rule holds for promtool.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from harness.cli.store import register
from harness.store import Deployment, Event, Rollback, Store, parse_timestamp

PG_ENV = "DRILL_TEST_PG_URL"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


def _postgres_schema_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        skip_or_fail(f"{PG_ENV} is not set; run: eval \"$(.ci/postgres.sh)\"")
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A URL to an empty store: a SQLite file in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/drill.db"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


@pytest.fixture
def cli_app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        skip_or_fail("promtool not installed (apt-get install prometheus, or .ci/postgres.sh)")
    assert found is not None
    return found


def rollback(model: str, from_v: str, decided: str, minutes: float, *, trigger: str = "automated",
             cause: str = "performance", planned: bool = False, rca: str | None = None,
             environment: str = "production", to_v: str = "0") -> Rollback:
    """A Rollback decided at `decided` (ISO-8601 with offset) taking `minutes` to complete."""
    decided_at = parse_timestamp(decided)
    return Rollback(model, from_v, to_v, decided_at, decided_at + timedelta(minutes=minutes),
                    trigger, cause, planned, rca, environment)  # type: ignore[arg-type]


@pytest.fixture
def make_rollback() -> Callable[..., Rollback]:
    return rollback


@pytest.fixture
def scenario() -> list[Event]:
    """The hand-computed scenario of test_metrics (see its docstring for the arithmetic)."""
    def dep(model: str, version: str, at: str, env: str = "production") -> Deployment:
        return Deployment(model, version, parse_timestamp(at), env)

    return [
        # fraud: D1 is 2026-09-30T23:00Z (local date Oct 1) -> before --since
        dep("fraud", "1", "2026-10-01T01:00:00+02:00"),
        rollback("fraud", "1", "2026-10-01T03:00:00Z", 5),
        dep("fraud", "2", "2026-10-02T10:00:00Z"),
        rollback("fraud", "2", "2026-10-02T12:00:00Z", 10, rca="https://rca/f2"),
        rollback("fraud", "2", "2026-10-03T00:00:00Z", 30, trigger="manual", cause="other"),
        dep("fraud", "3", "2026-10-05T00:00:00Z"),
        rollback("fraud", "3", "2026-10-05T06:00:00-04:00", 20, trigger="manual"),
        dep("fraud", "4", "2026-10-10T00:00:00Z"),
        rollback("fraud", "4", "2026-10-11T00:00:00Z", 5, planned=True, cause="other"),
        dep("fraud", "5", "2026-10-20T00:00:00Z"),
        # churn: D6 rolled back after 8 days (outside a 7-day window); D8 after --until
        dep("churn", "1", "2026-10-03T00:00:00Z"),
        rollback("churn", "1", "2026-10-11T00:00:00Z", 5, cause="upstream-data"),
        dep("churn", "2", "2026-10-12T00:00:00Z"),
        dep("churn", "3", "2026-10-31T12:00:00Z"),
        rollback("churn", "3", "2026-11-02T12:00:00Z", 15, cause="infrastructure",
                 rca="https://rca/c3"),
        dep("churn", "4", "2026-11-01T00:00:00Z"),
        # ranker: two rollbacks with a deployment that stayed in between (not a repeat)
        dep("ranker", "1", "2026-10-06T00:00:00Z"),
        rollback("ranker", "1", "2026-10-06T01:00:00Z", 5, cause="safety"),
        dep("ranker", "2", "2026-10-07T00:00:00Z"),
        dep("ranker", "3", "2026-10-08T00:00:00Z"),
        rollback("ranker", "3", "2026-10-08T04:00:00Z", 30, trigger="manual",
                 rca="https://rca/r3"),
        # a drill: kept out of production figures
        dep("fraud", "9", "2026-10-15T00:00:00Z", "drill"),
        rollback("fraud", "9", "2026-10-15T00:10:00Z", 2, environment="drill"),
    ]
