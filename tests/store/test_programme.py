"""Issue 20 on SQLite and PostgreSQL: the v2 migration, cause keys, `drill record rca`, the post-mortem
signals of `drill metrics`, `drill status` (freshness) and `drill release-notes`, through the real app."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner, Result

from harness.cli.main import app
from harness.programme.hashing import content_hash
from harness.spec.catalogue import BUILTIN_ROOT
from harness.store import Deployment, DrillRunRecord, Rollback, Store, parse_timestamp
from harness.store.db import create_store_engine, resolve_store_url, write_transaction
from harness.store.schema import _v1_initial, drill_runs, schema_version

RUNNER = CliRunner()


def cli(*args: str, store: str) -> Result:
    return RUNNER.invoke(app, [*args, "--store", store])


def ts(text: str) -> datetime:
    return parse_timestamp(text)


def rollback(model: str, version: str, decided: str, keys: tuple[str, ...] = (), rca: str | None = None,
             environment: str = "production") -> Rollback:
    at = ts(decided)
    return Rollback(model, version, "0", at, at + timedelta(minutes=5), "automated", "upstream-data", False, rca,  # type: ignore[arg-type]
                    environment, keys)


def drill_run(run_id: str, runbook: str, started: datetime, *, digest: str | None, as_expected: bool = True,
              model: str = "fraud", drill: str = "canary-fail") -> DrillRunRecord:
    return DrillRunRecord(
        run_id=run_id, drill=drill, status="passed" if as_expected else "failed", trigger="automated",
        root_cause="performance", model=model, from_version="v3", to_version="v2", rolled_back=True,
        started_at=started, deployed_at=started + timedelta(seconds=5), first_breach_at=started + timedelta(seconds=6),
        decision_at=started + timedelta(seconds=7), rollback_started_at=started + timedelta(seconds=7),
        completed_at=started + timedelta(seconds=8), target_s=900.0, within_target=True,
        decision_to_completion_s=1.0, report_dir=None, runbook=runbook, runbook_hash=digest, expect="rollback",
        as_expected=as_expected)


def test_a_v1_store_migrates_keeping_its_runs(store_url: str) -> None:
    url = resolve_store_url(store_url)
    engine = create_store_engine(url, create=True)
    old = datetime(2026, 9, 1, tzinfo=UTC)
    with write_transaction(engine) as conn:  # the store as the previous release left it
        schema_version.create(conn)
        _v1_initial(conn)
        conn.execute(insert(schema_version).values(version=1, description="v1", applied_at=old))
        conn.execute(insert(drill_runs).values(
            run_id="old-run", drill="canary-fail", status="passed", model="fraud", from_version="v3",
            rolled_back=False, started_at=old, target_s=900.0))
    engine.dispose()
    with Store.open(store_url) as store:
        (run,) = store.recent_drill_runs()
        assert (run.run_id, run.runbook, run.runbook_hash, run.as_expected) == ("old-run", None, None, None)
        store.record_rollback(rollback("fraud", "3", "2026-10-01T00:00:00Z", ("schema-drift:age",)))
        assert store.list_rollbacks()[0].cause_keys == ("schema-drift:age",)


def test_cause_keys_round_trip_through_jsonl_and_merge_on_reimport(store_url: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    line = {"type": "rollback", "model": "fraud", "from_version": "7", "to_version": "6",
            "decided_at": "2026-10-01T12:00:00Z", "completed_at": "2026-10-01T12:09:00Z", "trigger": "manual",
            "root_cause": "upstream-data"}
    events.write_text(json.dumps(line) + "\n")
    assert cli("import", str(events), store=store_url).exit_code == 0
    # The post-mortem is published later: the same rollback imported again gains its findings.
    events.write_text(json.dumps({**line, "rca_url": "https://pm/7", "cause_keys": ["schema-drift:age"]}) + "\n")
    assert cli("import", str(events), store=store_url).exit_code == 0
    with Store.open(store_url) as store:
        (r,) = store.list_rollbacks()
    assert (r.rca_url, r.cause_keys) == ("https://pm/7", ("schema-drift:age",))
    out = cli("export", store=store_url)
    assert json.loads(out.stdout.splitlines()[0])["cause_keys"] == ["schema-drift:age"]


def test_bad_cause_keys_in_a_file_exit_2_naming_line_and_field(store_url: str, tmp_path: Path) -> None:
    events = tmp_path / "bad.jsonl"
    events.write_text(json.dumps({"type": "rollback", "model": "m", "from_version": "2", "to_version": "1",
                                  "decided_at": "2026-10-01T00:00:00Z", "completed_at": "2026-10-01T00:05:00Z",
                                  "trigger": "manual", "root_cause": "other", "cause_keys": ["Schema Drift"]}) + "\n")
    result = cli("import", str(events), store=store_url)
    assert result.exit_code == 2 and f"{events}:1: cause_keys" in result.output.replace("\n", "")


def test_record_rca_on_a_drill_run_and_metrics_lists_the_repeated_cause(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.import_events([
            Deployment("fraud", "3", ts("2026-08-01T00:00:00Z")), rollback("fraud", "3", "2026-08-01T02:00:00Z"),
            Deployment("churn", "5", ts("2026-10-05T00:00:00Z")), rollback("churn", "5", "2026-10-05T03:00:00Z"),
            Deployment("fraud", "4", ts("2026-10-10T00:00:00Z")), rollback("fraud", "4", "2026-10-10T01:00:00Z"),
        ])
        store.record_drill_run(drill_run("20261001T000000Z-canary-fail-aaaaaa", "canary-rollback",
                                         ts("2026-10-01T00:00:00Z"), digest="x"))
    # Post-mortems added later: the August rollback found the schema drift; October's churn had it again.
    assert cli("record", "rca", "fraud@3", "--url", "https://pm/1", "--cause-key", "schema-drift:customer_age",
               store=store_url).exit_code == 0
    assert cli("record", "rca", "churn@5", "--url", "https://pm/2", "--cause-key", "schema-drift:customer_age",
               "--cause-key", "feature-store:lag", store=store_url).exit_code == 0
    drilled = cli("record", "rca", "20261001T000000Z-canary", "--cause-key", "drill:corrupt-artifact", store=store_url)
    assert drilled.exit_code == 0 and "(drill)" in drilled.stdout
    bad = cli("record", "rca", "fraud@4", "--url", "https://pm/3", "--cause-key", "Bad Key", store=store_url)
    assert bad.exit_code == 2 and "malformed cause key 'Bad Key'" in bad.output
    with Store.open(store_url) as store:
        assert [r.rca_url for r in store.list_rollbacks()] == ["https://pm/1", "https://pm/2", None]  # nothing written

    out = cli("metrics", "--since", "2026-10-01", "--until", "2026-11-01", "--format", "json", store=store_url)
    pm = json.loads(out.stdout)["postmortems"]
    (repeat,) = pm["repeated_cause_keys"]
    assert repeat["cause_key"] == "schema-drift:customer_age"
    assert (repeat["rollback"]["model"], repeat["earlier"]["model"], repeat["earlier"]["rca_url"]) == (
        "churn", "fraud", "https://pm/1")
    # six months before 2026-11-01: all three rollbacks, two with an RCA
    assert (pm["rollbacks_six_months"], pm["with_rca_six_months"], pm["rca_coverage_six_months_pct"]) == (3, 2, 66.6667)
    table = cli("metrics", "--since", "2026-10-01", "--until", "2026-11-01", store=store_url).stdout
    assert "already identified: 1" in table and "schema-drift:customer_age: #" in table


def _project(root: Path, runbooks: dict[str, str]) -> None:
    """A project with one drill per runbook (copies of the catalogue's canary-fail and canary-rollback)."""
    (root / "drills").mkdir(parents=True)
    (root / "runbooks").mkdir()
    drill = (BUILTIN_ROOT / "drills" / "canary-fail.yaml").read_text()
    book = (BUILTIN_ROOT / "runbooks" / "canary-rollback.yaml").read_text()
    for name, freshness in runbooks.items():
        (root / "runbooks" / f"{name}.yaml").write_text(book.replace("name: canary-rollback", f"name: {name}")
                                                        + freshness)
        (root / "drills" / f"drill-{name}.yaml").write_text(
            drill.replace("name: canary-fail", f"name: drill-{name}").replace("runbook: canary-rollback",
                                                                               f"runbook: {name}"))


def test_status_flags_old_and_edited_runbooks_and_passes_fresh_ones(
        store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    _project(project, {"rb-old": "", "rb-edited": "", "rb-fresh": "", "rb-monthly": "freshness: 30d\n"})
    monkeypatch.chdir(project)
    monkeypatch.delenv("DRILL_PATH", raising=False)
    now = datetime.now(UTC)
    digest = {name: content_hash(project / "runbooks" / f"{name}.yaml") for name in
              ("rb-old", "rb-edited", "rb-fresh", "rb-monthly")}
    with Store.open(store_url) as store:
        store.record_drill_run(drill_run("r-old", "rb-old", now - timedelta(days=91), digest=digest["rb-old"]))
        store.record_drill_run(drill_run("r-edit", "rb-edited", now - timedelta(days=2), digest=digest["rb-edited"]))
        store.record_drill_run(drill_run("r-fresh", "rb-fresh", now - timedelta(days=89), digest=digest["rb-fresh"]))
        store.record_drill_run(drill_run("r-month", "rb-monthly", now - timedelta(days=31), digest=digest["rb-monthly"]))
    with (project / "runbooks" / "rb-edited.yaml").open("a") as handle:
        handle.write("# edited after its last drill\n")

    result = cli("status", "--json", store=store_url)
    assert result.exit_code == 1, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["runbooks"]}
    assert rows["rb-old"]["stale"] and "last as-expected drill 91 days ago (freshness 90 days)" in rows["rb-old"]["reasons"]
    assert rows["rb-edited"]["stale"] and rows["rb-edited"]["changed_since"] is True
    assert "changed since its last as-expected drill (r-edit)" in rows["rb-edited"]["reasons"]
    assert rows["rb-monthly"]["stale"] and rows["rb-monthly"]["freshness_days"] == 30
    assert not rows["rb-fresh"]["stale"] and rows["rb-fresh"]["last"]["drill"] == "canary-fail"
    assert rows["rb-old"]["drills"] == ["drill-rb-old"]
    table = cli("status", store=store_url).stdout
    assert "Runbook freshness" in table and "stale" in table
    assert cli("report", "--output", str(tmp_path / "out"), store=store_url).exit_code == 0
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Runbook freshness" in summary and "stale: changed since its last as-expected drill" in summary
    assert "<h2>Runbook freshness</h2>" in (tmp_path / "out" / "summary.html").read_text()

    for name in ("rb-old", "rb-edited", "rb-monthly"):
        (project / "runbooks" / f"{name}.yaml").unlink()
        (project / "drills" / f"drill-{name}.yaml").unlink()
    fresh = cli("status", "--json", store=store_url)
    assert fresh.exit_code == 0, fresh.output
    assert json.loads(fresh.stdout)["stale"] is False


def test_status_refuses_a_broken_runbook_file(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "p"
    _project(project, {"rb": "freshness: soon\n"})
    monkeypatch.chdir(project)
    Store.open(store_url).close()
    result = cli("status", store=store_url)
    assert result.exit_code == 2 and "rb.yaml" in result.output and "freshness" in result.output


def test_release_notes_print_a_models_history(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no project: the catalogue's runbooks
    with Store.open(store_url) as store:
        store.import_events([
            Deployment("fraud", "3", ts("2026-08-01T00:00:00Z")),
            rollback("fraud", "3", "2026-08-01T02:00:00Z", ("schema-drift:age",), "https://pm/1"),
            Deployment("fraud", "4", ts("2026-10-10T00:00:00Z")), rollback("fraud", "4", "2026-10-10T01:30:00Z"),
            Deployment("churn", "1", ts("2026-10-10T00:00:00Z")), rollback("churn", "1", "2026-10-10T01:00:00Z"),
        ])
        store.record_drill_run(drill_run("r1", "canary-rollback", datetime.now(UTC) - timedelta(days=1),
                                         digest=content_hash(BUILTIN_ROOT / "runbooks" / "canary-rollback.yaml")))
    md = cli("release-notes", "--model", "fraud", store=store_url)
    assert md.exit_code == 0, md.output
    assert "## Rollback history: fraud" in md.stdout
    assert "| 3 | 0 | 2026-08-01T02:00:00Z | upstream-data (schema-drift:age), automated | 2 h | 5 min | [post-mortem](https://pm/1) |" in md.stdout
    assert "none published" in md.stdout and "churn" not in md.stdout
    assert "| canary-fail | canary-rollback | r1 | passed (as expected) | fresh (within 90 days) |" in md.stdout
    data = json.loads(cli("release-notes", "--model", "fraud", "--version", "4", "--format", "json", store=store_url).stdout)
    assert [r["from_version"] for r in data["rollbacks"]] == ["4"]
    assert data["rollbacks"][0]["time_to_decision_hours"] == 1.5
