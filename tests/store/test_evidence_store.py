"""Schema v3 (issue 28) on SQLite and PostgreSQL: who decided a drill run and when they were alerted, and a
GameDay's status; a v2 store migrates keeping its GameDays (completed) and its runs (source unknown)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from harness.store import DrillRunRecord, GameDayRecord, Participant, Store
from harness.store.db import create_store_engine, resolve_store_url, write_transaction
from harness.store.schema import _v1_initial, _v2_programme, drill_runs, gamedays, schema_version

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def run(run_id: str, **over: object) -> DrillRunRecord:
    values: dict[str, object] = dict(
        run_id=run_id, drill="canary-fail", status="passed", trigger="manual", root_cause="performance",
        model="fraud", from_version="v3", to_version="v2", rolled_back=True, started_at=T0,
        deployed_at=T0 + timedelta(seconds=5), first_breach_at=T0 + timedelta(seconds=6),
        decision_at=T0 + timedelta(seconds=40), rollback_started_at=T0 + timedelta(seconds=40),
        completed_at=T0 + timedelta(seconds=45), target_s=900.0, within_target=True, decision_to_completion_s=5.0,
        report_dir=None, gameday_id="g1")
    values.update(over)
    return DrillRunRecord(**values)  # type: ignore[arg-type]


def test_a_v2_store_migrates_keeping_its_gamedays_and_runs(store_url: str) -> None:
    engine = create_store_engine(resolve_store_url(store_url), create=True)
    with write_transaction(engine) as conn:  # the store as the previous release left it
        schema_version.create(conn)
        _v1_initial(conn)
        _v2_programme(conn)
        for version in (1, 2):
            conn.execute(insert(schema_version).values(version=version, description=f"v{version}", applied_at=T0))
        conn.execute(insert(gamedays).values(gameday_id="g0", name="q3", plan_path="q3.yaml", started_at=T0,
                                             ended_at=T0, surprise_drill=None, went_well="", went_badly=""))
        conn.execute(insert(drill_runs).values(
            run_id="old-run", drill="canary-fail", status="passed", trigger="manual", model="fraud",
            from_version="v3", rolled_back=False, started_at=T0, target_s=900.0, gameday_id="g0"))
    engine.dispose()
    with Store.open(store_url) as store:
        old = store.gameday("g0")
        assert old is not None and (old.status, old.reason, old.aborted) == ("completed", None, False)
        (old_run,) = store.gameday_runs("g0")
        assert (old_run.decided_by, old_run.decider, old_run.alert_to_decision_s) == (None, None, None)


def test_who_decided_and_an_aborted_gameday_round_trip(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.record_gameday(GameDayRecord("g1", "q4", "q4.yaml", T0, T0 + timedelta(minutes=3), None,
                                           (Participant("Ana", "incident-commander"),), status="aborted",
                                           reason="environment: Docker engine unreachable"))
        store.record_drill_run(run("by-file", decided_by="answers-file", decider="Ana",
                                   alerted_at=T0 + timedelta(seconds=7)))
        store.record_drill_run(run("by-person", decided_by="person", decider="Dan", started_at=T0 + timedelta(1),
                                   alerted_at=T0 + timedelta(seconds=7)))
        record = store.gameday("g1")
        runs = store.gameday_runs("g1")
        listed = store.recent_gamedays()
    assert record is not None and record.aborted and record.reason == "environment: Docker engine unreachable"
    assert [(r.run_id, r.decided_by, r.decider, r.alert_to_decision_s) for r in runs] == [
        ("by-file", "answers-file", "Ana", 33.0), ("by-person", "person", "Dan", 33.0)]
    assert [(g, status) for g, _, _, status in listed] == [("g1", "aborted")]
