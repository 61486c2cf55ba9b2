"""`drill runs` and `drill show` on a real store (SQLite, and PostgreSQL where DRILL_TEST_PG_URL is set)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.cli import runs as runs_cli
from harness.engine.results import RunStatus
from harness.listeners.recording import to_record
from harness.report import write_all
from harness.store import Store
from tests.report.test_reports import make_result

RUNNER = CliRunner()
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    runs_cli.register(app)
    return app


@pytest.fixture
def history(store_url: str, tmp_path: Path) -> dict[str, Path]:
    """Four runs an hour apart; the newest two have their report directory on disk."""
    dirs: dict[str, Path] = {}
    with Store.open(store_url) as st:
        for i, (run_id, drill, status) in enumerate([
                ("20261120T0900Z-canary-fail-aaa111", "canary-fail", RunStatus.PASSED),
                ("20261120T1000Z-canary-fail-bbb222", "canary-fail", RunStatus.FAILED),
                ("20261120T1100Z-good_canary-ccc333", "good-canary", RunStatus.PASSED),
                ("20261120T1200Z-canary-fail-ddd444", "canary-fail", RunStatus.PASSED)]):
            shift = timedelta(hours=i)
            ts = make_result().timestamps
            moved = type(ts)(*(None if m is None else m.replace(year=2026, month=11, day=20, hour=9) + shift
                               for m in (ts.started_at, ts.deployed_at, ts.first_breach_at, ts.decision_at,
                                         ts.rollback_started_at, ts.completed_at, ts.ended_at)))
            report_dir = tmp_path / "reports" / run_id
            result = make_result(run_id=run_id, drill=drill, status=status, timestamps=moved,
                                 report_dir=str(report_dir))
            if i >= 2:
                write_all(result, report_dir)
            dirs[run_id] = report_dir
            st.record_drill_run(to_record(result))
    return dirs


def test_runs_newest_first_with_limit_and_filter(app: typer.Typer, store_url: str, history: dict[str, Path]) -> None:
    r = RUNNER.invoke(app, ["runs", "--limit", "2", "--json", "--store", store_url])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [row["run_id"] for row in rows] == ["20261120T1200Z-canary-fail-ddd444", "20261120T1100Z-good_canary-ccc333"]
    assert rows[0]["started_at"] == "2026-11-20T12:00:00Z" and rows[0]["status"] == "passed"
    assert rows[0]["steps"][0]["name"] == "drain-candidate"
    only = json.loads(RUNNER.invoke(app, ["runs", "--drill", "canary-fail", "--json", "--store", store_url]).stdout)
    assert [row["run_id"][-6:] for row in only] == ["ddd444", "bbb222", "aaa111"]
    table = RUNNER.invoke(app, ["runs", "--store", store_url])
    assert table.exit_code == 0 and "20261120T0900Z-canary-fail-aaa111" in table.stdout and "failed" in table.stdout


def test_runs_bad_limit_and_empty_store(app: typer.Typer, store_url: str) -> None:
    assert RUNNER.invoke(app, ["runs", "--limit", "0", "--store", store_url]).exit_code == 2
    if store_url.startswith("sqlite"):  # reading never creates a store: a missing file is exit 3
        assert RUNNER.invoke(app, ["runs", "--json", "--store", store_url]).exit_code == 3
    Store.open(store_url).close()
    empty = RUNNER.invoke(app, ["runs", "--json", "--store", store_url])
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []


def test_show_by_unique_prefix_reads_the_report(app: typer.Typer, store_url: str, history: dict[str, Path]) -> None:
    r = RUNNER.invoke(app, ["show", "20261120T1200Z", "--store", store_url])
    assert r.exit_code == 0, r.output
    assert "20261120T1200Z-canary-fail-ddd444" in r.stdout
    assert "rolled back as expected" in r.stdout  # from report.json, judged against the drill's expectation
    assert "1.60 s (target 900 s, within: yes)" in r.stdout
    old = RUNNER.invoke(app, ["show", "20261120T0900Z-canary-fail-aaa111", "--store", store_url])
    assert old.exit_code == 0 and "report.json is not there any more" in old.stdout


def test_show_unknown_or_ambiguous_exits_2(app: typer.Typer, store_url: str, history: dict[str, Path]) -> None:
    unknown = RUNNER.invoke(app, ["show", "nope", "--store", store_url])
    assert unknown.exit_code == 2 and "no drill run 'nope'" in unknown.output
    ambiguous = RUNNER.invoke(app, ["show", "20261120T1", "--store", store_url])
    assert ambiguous.exit_code == 2 and "matches 3 runs" in ambiguous.output
    # LIKE wildcards in RUN are literal: '_' matches only an underscore.
    assert RUNNER.invoke(app, ["show", "20261120T1100Z-good_", "--store", store_url]).exit_code == 0
    assert RUNNER.invoke(app, ["show", "20261120T1000Z-canary_", "--store", store_url]).exit_code == 2


def test_show_render_rewrites_reports_from_report_json(app: typer.Typer, store_url: str,
                                                       history: dict[str, Path]) -> None:
    run_id = "20261120T1100Z-good_canary-ccc333"
    directory = history[run_id]
    before = (directory / "report.json").read_bytes()
    for name in ("report.html", "report.md", "junit.xml"):
        (directory / name).unlink()
    r = RUNNER.invoke(app, ["show", run_id, "--render", "--store", store_url])
    assert r.exit_code == 0, r.output
    for name in ("report.html", "report.md", "junit.xml"):
        assert (directory / name).is_file()
    assert run_id in (directory / "report.html").read_text()
    assert (directory / "report.json").read_bytes() == before  # the record is not rewritten


def test_show_render_without_report_json_exits_2(app: typer.Typer, store_url: str, history: dict[str, Path],
                                                 tmp_path: Path) -> None:
    r = RUNNER.invoke(app, ["show", "20261120T0900Z", "--render", "--store", store_url])
    assert r.exit_code == 2 and "no report.json to render from" in r.output
    # A report directory that moved can be named.
    moved = tmp_path / "moved"
    write_all(make_result(run_id="20261120T0900Z-canary-fail-aaa111"), moved)
    (moved / "report.html").unlink()
    ok = RUNNER.invoke(app, ["show", "20261120T0900Z", "--render", "--report-dir", str(moved), "--store", store_url])
    assert ok.exit_code == 0, ok.output
    assert (moved / "report.html").is_file()


def test_show_json_has_the_row_and_the_report(app: typer.Typer, store_url: str, history: dict[str, Path]) -> None:
    r = RUNNER.invoke(app, ["show", "20261120T1200Z", "--json", "--store", store_url])
    data = json.loads(r.stdout)
    assert data["run"]["run_id"] == data["report"]["run_id"] == "20261120T1200Z-canary-fail-ddd444"
    assert data["run"]["decision_to_completion_s"] == pytest.approx(1.6)


def test_unreachable_store_exits_3(app: typer.Typer) -> None:
    r = RUNNER.invoke(app, ["runs", "--store", "postgresql+psycopg://nobody@127.0.0.1:9/none"])
    assert r.exit_code == 3


def test_list_rollbacks_by_decision_time(store: Store, scenario: list) -> None:
    store.import_events(scenario)
    october = store.list_rollbacks(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    # Production, unplanned, decided in October: the planned fraud/4 and churn/3 (Nov 2) and the drill are out.
    assert [(r.model, r.from_version) for r in october] == [
        ("fraud", "1"), ("fraud", "2"), ("fraud", "2"), ("fraud", "3"), ("ranker", "1"), ("ranker", "3"),
        ("churn", "1")]
    assert [r.from_version for r in store.list_rollbacks(environment="drill")] == ["9"]
    assert len(store.list_rollbacks(planned=True)) == len(store.list_rollbacks()) + 1
