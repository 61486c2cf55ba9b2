"""A GameDay as evidence (issue 28): who decided each drill (a person, the answers file, automation), the
incident commander's alert -> decision time, a log that credits each manual step to who did it, and a day
that aborts or cannot start recorded as such (or not at all).

The drills run through the real engine over the fake target (tests/fakes.py), injected through
``run_gameday(runner=...)``; no Docker.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.engine.engine import Engine, RunOptions
from harness.engine.events import Listener
from harness.engine.results import DrillResult
from harness.errors import BackendUnavailable
from harness.listeners.recording import RunContextInfo, StoreListener
from harness.programme.gameday import run_gameday
from harness.report import gameday as page
from harness.spec import catalogue
from harness.store import Store
from tests.fakes import FakeTarget, factory

DRILL = """name: {name}
root_cause: performance
runbook: rb
fault: {{kind: error_slice, feature: x0, above: 0.5}}
strategy: {{kind: canary, weight: 50}}
traffic: {{rate: 100}}
detection: {{interval: 100ms, max_wait: 8s, compare: [{{name: errors, measure: error, min_samples: 20}}]}}
profiles: {{ci: {{baseline: 500ms}}}}
"""
RUNBOOK = """name: rb
steps:
  - {name: drain, action: router.drain, params: {server: candidate, settle: 100ms}}
  - name: page-owner
    action: notify
    params: {message: paging}
    manual: true
    instructions: Page the model owner.
  - {name: restore, action: registry.restore_previous}
  - {name: verify, action: verify.http, params: {requests: 10, expect_version: "${stable_version}"}, verify: true}
"""
PLAN = """name: q4
participants:
  - {name: Ana, role: incident-commander}
  - {name: Ben, role: operator}
  - {name: Dan, role: operator}
  - {name: Chloe, role: scribe}
drills: [fake-one, fake-two]
"""


class FakeRunner:
    """Each drill through the real engine over a fake target; ``down_at``: the drill (1-based) at which Docker
    goes away; ``unreachable``: Docker is not there at all."""

    def __init__(self, down_at: int | None = None, unreachable: bool = False,
                 stop: BaseException | None = None) -> None:
        self.down_at, self.unreachable, self.runs = down_at, unreachable, 0
        self.stop = stop or BackendUnavailable("Docker engine unreachable (it went away mid-day)")

    def check(self) -> None:
        if self.unreachable:
            raise BackendUnavailable("Docker engine unreachable (the test said so)")

    def run(self, name: str, options: RunOptions, listeners: Sequence[Listener], store_url: str | None,
            gameday_id: str) -> DrillResult:
        self.runs += 1
        if self.runs == self.down_at:
            raise self.stop
        drill = catalogue.load_drill(name)
        with Store.open(store_url) as store:
            info = RunContextInfo(drill.runbook.name, None, gameday_id)
            engine = Engine([StoreListener(store, info), *listeners], make_target=factory(FakeTarget()))
            return engine.run(drill, options)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "drills").mkdir()
    (tmp_path / "runbooks").mkdir()
    for name in ("fake-one", "fake-two"):
        (tmp_path / "drills" / f"{name}.yaml").write_text(DRILL.format(name=name))
    (tmp_path / "runbooks" / "rb.yaml").write_text(RUNBOOK)
    (tmp_path / "plan.yaml").write_text(PLAN)
    monkeypatch.setenv("DRILL_PATH", str(tmp_path))
    return tmp_path


def answers(project: Path, lists: str) -> Path:
    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    path = project / "answers.yaml"
    path.write_text(f"drills:\n{lists}retrospective:\n  went_well: [the alert was clear]\n  actions:\n"
                    f"    - {{what: shorten the page, owner: Dan, due: {due}}}\n")
    return path


def test_an_answers_file_run_says_so_in_the_store_the_log_the_page_and_drill_report(project: Path) -> None:
    store_url = f"sqlite:///{project}/drill.db"
    done = run_gameday(project / "plan.yaml", answers(project, "  - [rollback, done]\n  - [rollback, done by Dan]\n"),
                       store_url, project / "reports", runner=FakeRunner())
    assert [r.status.value for r in done.results] == ["passed", "passed"], [r.reason for r in done.results]
    with Store.open(store_url) as store:
        runs = store.gameday_runs(done.record.gameday_id)
        record = store.gameday(done.record.gameday_id)
    assert record is not None and record.status == "completed"
    # Before: trigger "manual" and nothing else, counted as decided "by a person".
    assert [(r.trigger, r.decided_by, r.decider) for r in runs] == [("manual", "answers-file", "Ana")] * 2
    assert all(r.alert_to_decision_s is not None and 0 <= r.alert_to_decision_s < 5 for r in runs)
    log = [(e.role, e.person, e.message) for e in record.log]
    alerts = [m for role, who, m in log if "ALERT: canary analysis failed" in m]
    assert len(alerts) == 2 and all(m.endswith("incident commander Ana alerted") for m in alerts)
    assert [(role, who) for role, who, m in log if "read from the answers file for Ana" in m] == [
        ("answers-file", "Ana")] * 2
    steps = [(role, who) for role, who, m in log if "manual step page-owner ok (from the answers file)" in m]
    assert steps == [("answers-file", "Ben"), ("answers-file", "Dan")]  # the second operator, named
    assert not any(role == "scribe" for role, _, _ in log)  # the harness's bookkeeping is its own
    assert any(role == "harness" and "drill 1 (fake-one) ended passed" in m for role, _, m in log)

    html = page.render(record, runs)
    for text in ("answers file", "alert → decision", "answers file (for Ana)", "read from the answers file"):
        assert text in html, text
    out = CliRunner().invoke(app, ["report", "--store", store_url, "--output", str(project / "out")])
    assert out.exit_code == 0, out.output
    summary = (project / "out" / "summary.md").read_text()
    assert "Who decided: production: 0 automated, 0 by a person; drill runs: 0 automated, 0 by a person, 2 from an answers file." in summary, summary


def test_a_person_at_the_terminal_is_named_and_the_page_shows_alert_to_decision(project: Path) -> None:
    store_url = f"sqlite:///{project}/drill.db"
    typed = io.StringIO("rollback\ndone by Dan\nrollback by Dan\ndone\n.\n.\n.\n")
    typed.isatty = lambda: True  # type: ignore[method-assign]  # a terminal: a person typed these
    done = run_gameday(project / "plan.yaml", None, store_url, project / "reports", stdin=typed, runner=FakeRunner())
    with Store.open(store_url) as store:
        runs = store.gameday_runs(done.record.gameday_id)
    assert [(r.decided_by, r.decider) for r in runs] == [("person", "Ana"), ("person", "Dan")]
    log = [(e.role, e.person, e.message) for e in done.record.log]
    assert [(role, who) for role, who, m in log if "decided rollback" in m] == [
        ("incident-commander", "Ana"), ("operator", "Dan")]
    assert [(role, who) for role, who, m in log if "manual step page-owner ok" in m] == [
        ("operator", "Dan"), ("operator", "Ben")]
    html = page.render(done.record, runs)
    assert "person: Ana" in html and "person: Dan" in html
    assert "from an answers file" not in html


def test_docker_unreachable_records_no_gameday(project: Path) -> None:
    store_url = f"sqlite:///{project}/drill.db"
    with pytest.raises(BackendUnavailable):
        run_gameday(project / "plan.yaml", answers(project, "  - [rollback, done]\n  - [rollback, done]\n"),
                    store_url, project / "reports", runner=FakeRunner(unreachable=True))
    with Store.open(store_url) as store:
        assert store.recent_gamedays() == []


def test_docker_unreachable_from_the_cli_exits_3_and_records_nothing(project: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: exit 3, but a GameDay row with participants and a log entry, rendered as an empty GameDay.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{project}/no-docker.sock")
    store_url = f"sqlite:///{project}/drill.db"
    out = CliRunner().invoke(app, ["gameday", str(project / "plan.yaml"), "--store", store_url,
                                   "--answers", str(answers(project, "  - [rollback, done]\n  - [rollback, done]\n")),
                                   "--report-dir", str(project / "reports")])
    assert out.exit_code == 3 and "Docker engine unreachable" in out.output, out.output
    if (project / "drill.db").exists():  # read with sqlite3 itself: what any reader of the store would find
        with closing(sqlite3.connect(project / "drill.db")) as db:
            assert db.execute("SELECT count(*) FROM gamedays").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM gameday_log").fetchone() == (0,)


@pytest.mark.parametrize(("stop", "why"), [
    (BackendUnavailable("Docker engine unreachable (it went away mid-day)"), "went away mid-day"),
    (KeyboardInterrupt(), "interrupted (Ctrl-C or SIGTERM)")], ids=["docker-gone", "ctrl-c"])
def test_a_day_that_stops_midway_is_recorded_and_rendered_as_aborted(project: Path, stop: BaseException,
                                                                     why: str) -> None:
    store_url = f"sqlite:///{project}/drill.db"
    with pytest.raises(type(stop)):
        run_gameday(project / "plan.yaml", answers(project, "  - [rollback, done]\n  - [rollback, done]\n"),
                    store_url, project / "reports", runner=FakeRunner(down_at=2, stop=stop))
    with Store.open(store_url) as store:
        (gameday_id, _, _, status), = store.recent_gamedays()
        record = store.gameday(gameday_id)
        runs = store.gameday_runs(gameday_id)
    assert status == "aborted" and record is not None and record.aborted
    assert record.reason is not None and why in record.reason and not record.actions  # no retrospective held
    assert any(e.role == "harness" and "GameDay aborted during drill 2 (fake-two)" in e.message for e in record.log)
    assert len(runs) == 1 and runs[0].status == "passed"
    html = page.render(record, runs)
    assert "ABORTED" in html and why in html and "(aborted)</span></h1>" in html
    out = CliRunner().invoke(app, ["report", "--gameday", gameday_id, "--store", store_url,
                                   "--output", str(project / "out")])
    assert out.exit_code == 0 and "aborted" in out.output, out.output
