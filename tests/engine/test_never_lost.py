"""Never lost, never halfway (issue 28): teardown steps each in their own guard, a teardown error recorded and
exit 3, a store write that fails told in the result, SIGTERM handled by the library for every entry point.

No Docker: the engine runs a fake target (tests/fakes.py) injected through ``Engine(make_target=...)``, with the
real store (SQLite under tmp_path) and the real report writers.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from harness.engine.engine import Engine, RunOptions
from harness.engine.events import Event, PhaseStarted, RunFinished
from harness.engine.results import RunStatus
from harness.engine.signals import terminating_on_sigterm
from harness.engine.teardown import Teardown
from harness.errors import RunNotKept
from harness.listeners.recording import AfterStore, StoreListener
from harness.report import ReportListener
from harness.store import Store
from tests.engine.test_engine import Recorder, drill
from tests.fakes import FakeTarget, factory


def _recorded(store_url: str) -> list[tuple[str, str]]:
    with Store.open(store_url) as store:
        return [(r.status, r.reason) for r in store.list_drill_runs()]  # type: ignore[attr-defined]


def test_a_teardown_error_is_recorded_with_reports_and_is_an_environment_error(tmp_path: Path) -> None:
    target = FakeTarget(close_raises=RuntimeError("500 Server Error: removal of container failed"))
    url = f"sqlite:///{tmp_path / 'drill.db'}"
    rec = Recorder()
    with Store.open(url) as store:
        writer = StoreListener(store)
        engine = Engine([writer, AfterStore(writer, ReportListener()), rec], make_target=factory(target))
        with pytest.raises(RunNotKept, match="teardown failed: close the target") as info:
            engine.run(drill(), RunOptions(report_root=tmp_path / "reports"))
        rows = store.list_drill_runs()
    result = info.value.result
    assert result is not None and result.status is RunStatus.ERROR
    assert "teardown failed: close the target: RuntimeError: 500 Server Error" in result.reason
    assert "the run: passed" in result.reason  # what the drill itself found is kept beside it
    assert any(isinstance(e, RunFinished) for e in rec.events)
    assert [(r.status, r.reason) for r in rows] == [("error", result.reason)]  # the row says so
    report = json.loads((Path(result.report_dir) / "report.json").read_text())
    assert report["status"] == "error" and "teardown failed" in report["reason"]
    assert [p["status"] for p in report["phases"] if p["name"] == "teardown"] == ["failed"]


def test_every_teardown_step_runs_when_one_before_it_raises() -> None:
    ran: list[str] = []

    def stuck() -> None:
        ran.append("load")
        raise OSError("the sender will not stop")

    teardown = Teardown()
    teardown.step("stop the load", stuck)
    teardown.step("close the target", lambda: ran.append("target"))
    assert ran == ["load", "target"]
    assert teardown.errors == ["stop the load: OSError: the sender will not stop"]


def test_a_store_write_that_fails_is_told_in_the_result_and_the_reports(tmp_path: Path) -> None:
    db = tmp_path / "drill.db"
    rec = Recorder()

    class DropTheTable(Recorder):  # the store goes away mid-run, as a database restarted or a disk gone read-only
        def on_event(self, event: Event) -> None:
            if isinstance(event, PhaseStarted) and event.phase == "rollback":
                with sqlite3.connect(db) as conn:
                    conn.execute("DROP TABLE drill_steps")

    with Store.open(f"sqlite:///{db}") as store:
        writer = StoreListener(store)
        engine = Engine([DropTheTable(), writer, AfterStore(writer, ReportListener()), AfterStore(writer, rec)],
                        make_target=factory(FakeTarget()))
        result = engine.run(drill(), RunOptions(report_root=tmp_path / "reports"))
    assert writer.written is False and writer.error is not None and "drill_steps" in writer.error
    finished = next(e for e in rec.events if isinstance(e, RunFinished))
    assert finished.result.recorded is False and result.status is RunStatus.PASSED
    report = json.loads((Path(str(result.report_dir)) / "report.json").read_text())
    assert report["recorded"] is False
    assert "not in the store" in (Path(str(result.report_dir)) / "report.md").read_text()


def test_the_sigterm_handler_is_only_installed_from_the_main_thread() -> None:
    seen: list[object] = []

    def elsewhere() -> None:
        with terminating_on_sigterm():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGTERM)]  # nothing installed, nothing raised


def test_sigterm_tears_down_an_engine_run_started_without_the_cli(tmp_path: Path) -> None:
    """A process that never installed a handler (a team's test runner, the pytest plugin, a GameDay): SIGTERM mid-run
    tears down, the run is recorded as aborted, and the caller's handler is back afterwards (in a child process:
    without the fix SIGTERM would kill it outright)."""
    script = textwrap.dedent("""
        import os, signal, sys
        from pathlib import Path
        from harness.engine.engine import Engine, RunInterrupted, RunOptions
        from harness.engine.events import PhaseStarted
        from tests.fakes import FakeTarget, factory
        from tests.engine.test_engine import drill
        target = FakeTarget()
        class Term:
            def on_event(self, event):
                if isinstance(event, PhaseStarted) and event.phase == "deploy":
                    os.kill(os.getpid(), signal.SIGTERM)
        try:
            Engine([Term()], make_target=factory(target)).run(drill(), RunOptions(report_root=Path(sys.argv[1])))
        except RunInterrupted as exc:
            print(exc.result.status.value, target.closed, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
    """)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=root, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.split() == ["aborted", "1", "True"], proc.stdout + proc.stderr


def test_shell_splits_the_template_first_so_a_value_stays_one_argument() -> None:
    from harness.engine.context import RunContext
    from harness.engine.results import StepStatus
    from harness.ports import Endpoint
    from harness.runbook import executor as runbook
    from harness.spec.models import RunbookSpec
    from harness.traffic.generator import LoadGenerator

    target = FakeTarget()
    load = LoadGenerator(Endpoint("127.0.0.1", 9), target.protocol, rate=1)  # never started
    values = {"release": "1.4 --force --target=prod", "note": 'say "hi" --there'}
    ctx = RunContext(target=target, load=load, emit=lambda e: None, variables=values, allow_shell=True)
    command = """python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' --release=${release} "${note}" ${release}"""
    spec = RunbookSpec.model_validate({"name": "t", "steps": [
        {"name": "s", "action": "shell", "params": {"command": command}, "timeout": "20s"}]})
    out = runbook.execute(spec, ctx, lambda e: None)
    assert out.steps[0].status is StepStatus.OK, out.steps[0].error
    assert json.loads(out.steps[0].detail or "") == [
        "--release=1.4 --force --target=prod", 'say "hi" --there', "1.4 --force --target=prod"]
