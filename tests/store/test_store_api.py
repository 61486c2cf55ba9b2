"""Store behaviour on SQLite and PostgreSQL: insert-or-ignore, round trips, drill runs, schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from harness.errors import BackendUnavailable, SpecError
from harness.store import (
    LATEST_VERSION,
    Deployment,
    DrillRunRecord,
    MetricsQuery,
    Rollback,
    StepRecord,
    Store,
    parse_timestamp,
    resolve_store_url,
)
from harness.store.schema import deployments, rollbacks, schema_version

T0 = parse_timestamp("2026-10-01T10:00:00Z")


def count(store: Store, table: object) -> int:
    with store._engine.connect() as conn:  # noqa: SLF001 - tests look under the hood
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_record_deployment_is_insert_or_ignore(store: Store) -> None:
    d = Deployment("fraud", "7", T0)
    assert store.record_deployment(d) is True
    assert store.record_deployment(Deployment("fraud", "7", T0.astimezone(
        timezone(timedelta(hours=5, minutes=30))))) is False  # same instant, other offset
    assert store.record_deployment(Deployment("fraud", "7", T0, "staging")) is True
    assert count(store, deployments) == 2


def test_record_rollback_is_insert_or_ignore(store: Store, make_rollback: Callable[..., Rollback]) -> None:
    r = make_rollback("fraud", "7", "2026-10-01T12:00:00Z", 9)
    assert store.record_rollback(r) is True
    assert store.record_rollback(r) is False
    assert count(store, rollbacks) == 1


def test_import_twice_adds_nothing(store: Store, scenario: list) -> None:
    first = store.import_events(scenario)
    assert (first.inserted, first.skipped) == (len(scenario), 0)
    second = store.import_events(scenario)
    assert (second.inserted, second.skipped) == (0, len(scenario))
    assert count(store, deployments) + count(store, rollbacks) == len(scenario)


def test_duplicates_inside_one_import_are_skipped(store: Store) -> None:
    d = Deployment("fraud", "7", T0)
    result = store.import_events([d, d, d])
    assert (result.deployments_inserted, result.deployments_skipped) == (1, 2)


def test_import_reports_progress_per_batch(store: Store) -> None:
    events = [Deployment("m", str(i), T0 + timedelta(minutes=i)) for i in range(12_000)]
    seen: list[int] = []
    store.import_events(events, on_progress=seen.append)
    assert sum(seen) == 12_000 and len(seen) == 3


def test_export_round_trips(store: Store, scenario: list, tmp_path: Path) -> None:
    store.import_events(scenario)
    exported = list(store.export_events())
    assert sorted(map(repr, exported)) == sorted(map(repr, scenario))
    stamps = [e.deployed_at if isinstance(e, Deployment) else e.decided_at for e in exported]
    assert stamps == sorted(stamps)
    with Store.open(str(tmp_path / "copy.db")) as copy:
        assert copy.import_events(exported).inserted == len(scenario)
        assert copy.metrics(MetricsQuery()) == store.metrics(MetricsQuery())


def test_datetimes_come_back_aware_parse_timestamp(store: Store) -> None:
    store.record_deployment(Deployment("m", "1", parse_timestamp("2026-10-01T01:00:00.123456+02:00")))
    (event,) = store.export_events()
    assert isinstance(event, Deployment)
    assert event.deployed_at == datetime(2026, 9, 30, 23, 0, 0, 123456, tzinfo=UTC)
    assert event.deployed_at.tzinfo == UTC


def _run(run_id: str, *, rolled_back: bool = True, started: str = "2026-10-05T09:00:00Z") -> DrillRunRecord:
    start = parse_timestamp(started)
    step = StepRecord("drain canary", "router.set_weight", "passed", start + timedelta(seconds=70),
                      start + timedelta(seconds=71), 1.0, 1)
    failed = StepRecord("verify", "traffic.verify", "failed", start + timedelta(seconds=71), None,
                        None, 3, "error rate 12%")
    return DrillRunRecord(
        run_id=run_id, drill="canary-fail", status="passed", trigger="automated",
        root_cause="performance", model="fraud", from_version="8",
        to_version="7" if rolled_back else None, rolled_back=rolled_back, started_at=start,
        deployed_at=start + timedelta(seconds=30), first_breach_at=start + timedelta(seconds=35),
        decision_at=start + timedelta(seconds=40) if rolled_back else None,
        rollback_started_at=start + timedelta(seconds=41) if rolled_back else None,
        completed_at=start + timedelta(seconds=52) if rolled_back else None, target_s=900.0,
        within_target=True if rolled_back else None,
        decision_to_completion_s=12.0 if rolled_back else None, report_dir="reports/x",
        steps=(step, failed),
    )


def test_drill_runs_round_trip_and_stay_out_of_production(store: Store) -> None:
    a, b = _run("run-a"), _run("run-b", rolled_back=False, started="2026-10-06T09:00:00Z")
    store.record_drill_run(a)
    store.record_drill_run(b)
    store.record_drill_run(a)  # again: no change
    assert store.list_drill_runs() == [a, b]
    assert store.list_drill_runs(since=parse_timestamp("2026-10-06T00:00:00Z")) == [b]
    assert store.list_drill_runs(until=parse_timestamp("2026-10-06T00:00:00Z")) == [a]
    drill = store.metrics(MetricsQuery(environment="drill"))
    assert (drill.deployments, drill.rollbacks) == (2, 1)
    assert drill.mean_decision_to_completion_minutes == pytest.approx(12 / 60)
    assert store.metrics(MetricsQuery()).deployments == 0


def test_rolled_back_run_without_timings_is_refused(store: Store) -> None:
    bad = replace(_run("run-c"), completed_at=None)
    with pytest.raises(ValueError, match="completed_at"):
        store.record_drill_run(bad)
    assert store.list_drill_runs() == []


def test_schema_version_recorded_and_reopen_is_idempotent(store_url: str) -> None:
    Store.open(store_url).close()
    with Store.open(store_url) as again, again._engine.connect() as conn:  # noqa: SLF001
        versions = conn.execute(select(schema_version.c.version)).scalars().all()
    assert versions == list(range(1, LATEST_VERSION + 1))


def test_newer_schema_is_refused(store_url: str) -> None:
    Store.open(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(schema_version.insert().values(
            version=LATEST_VERSION + 1, description="future", applied_at=T0))
    engine.dispose()
    with pytest.raises(BackendUnavailable, match="newer"):
        Store.open(store_url)


def test_unreachable_postgres_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1.*refused|cannot open"):
        Store.open("postgresql://drill:secret@127.0.0.1:1/none")


def test_password_is_not_shown() -> None:
    with pytest.raises(BackendUnavailable) as info:
        Store.open("postgresql://drill:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in str(info.value)


def test_unsupported_url_is_bad_input() -> None:
    with pytest.raises(SpecError):
        Store.open("mysql://x@localhost/db")


def test_unwritable_sqlite_location_is_backend_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BackendUnavailable):
        Store.open(str(blocker / "sub" / "drill.db"))


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "w.db")) as st, st._engine.connect() as conn:  # noqa: SLF001
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert int(conn.execute(text("PRAGMA busy_timeout")).scalar_one()) >= 5000


def test_resolve_store_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DRILL_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert resolve_store_url(None) == f"sqlite:///{tmp_path}/drill/drill.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_store_url(None) == f"sqlite:///{tmp_path}/.local/share/drill/drill.db"
    monkeypatch.setenv("DRILL_STORE", "postgresql://u@h/db")
    assert resolve_store_url(None) == "postgresql+psycopg://u@h/db"
    assert resolve_store_url("rel/x.db") == f"sqlite:///{Path.cwd() / 'rel/x.db'}"
    assert resolve_store_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert resolve_store_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_records_refuse_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Deployment("m", "1", datetime(2026, 10, 1))
    with pytest.raises(ValueError, match="before decided_at"):
        Rollback("m", "1", "0", T0, T0 - timedelta(seconds=1), "manual", "other")  # type: ignore[arg-type]
