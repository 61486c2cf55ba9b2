"""A GameDay end to end against real containers: one surprise drill, people's answers from a file,
the retrospective stored with the run, and its HTML page."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT, harness_resources

pytestmark = pytest.mark.docker
DRILL = [sys.executable, "-m", "harness.cli.main"]


def test_a_gameday_with_an_answers_file_runs_end_to_end(tmp_path: Path, docker_client: object) -> None:
    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    plan = tmp_path / "q4.yaml"
    plan.write_text("""name: q4-fraud
participants:
  - {name: Ana, role: incident-commander}
  - {name: Ben, role: operator}
  - {name: Chloe, role: scribe}
surprise: {from: [canary-fail]}
""")
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"""drills:
  - [rollback, done]      # Ana decides; Ben pages the model owner (the runbook's manual step)
retrospective:
  went_well: [the alert named the failing check]
  went_badly: [the page to the model owner was slow]
  actions:
    - {{what: add the model owner to the alert route, owner: Ben, due: {due}}}
""")
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(ROOT)}

    def drill(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*DRILL, *args], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)

    proc = drill("gameday", str(plan), "--answers", str(answers), "--report-dir", str(tmp_path / "reports"))
    assert proc.returncode == 0, proc.stderr
    assert "drill surprise scenario" in proc.stderr and "drill canary-fail (" not in proc.stderr  # hidden until the debrief
    gameday_id = proc.stdout.split("drill report --gameday ")[1].split()[0]

    from harness.store import Store

    with Store.open(f"sqlite:///{tmp_path}/drill.db") as store:
        record = store.gameday(gameday_id)
        runs = store.gameday_runs(gameday_id)
    assert record is not None and record.surprise_drill == "canary-fail"
    assert [(r.drill, r.status, r.trigger, r.as_expected, r.runbook) for r in runs] == [
        ("canary-fail", "passed", "manual", True, "canary-rollback")]
    assert [(a.owner, a.due.isoformat()) for a in record.actions] == [("Ben", due)]
    log = [(e.role, e.person, e.message) for e in record.log]
    assert any(role == "incident-commander" and who == "Ana" and "decided rollback" in what for role, who, what in log)
    assert any(role == "operator" and who == "Ben" and "manual step page-model-owner ok" in what for role, who, what in log)
    assert any("debrief: the surprise scenario was canary-fail" in what for _, _, what in log)

    page = drill("report", "--gameday", gameday_id, "--output", str(tmp_path / "out"))
    assert page.returncode == 0, page.stderr
    html = (tmp_path / "out" / f"gameday-{gameday_id}.html").read_text()
    for text in ("Retrospective", "the page to the model owner was slow", "add the model owner to the alert route",
                 "Ana", "incident commander", "canary-fail <b>(surprise)</b>", "/ 900 s"):
        assert text in html, text
    containers, networks, volumes = harness_resources(docker_client, runs[0].run_id)
    assert (containers, networks, volumes) == ([], [], [])
