"""A real drill proves its runbook: after `drill run canary-fail` in a project, `drill status` finds the
runbook fresh (the hash the engine recorded is the hash status computes), `drill gate` passes at a minimum
the run earns and fails above it, a comment edit keeps it fresh and a changed step makes it stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CATALOGUE, harness_resources

pytestmark = pytest.mark.docker
DRILL = [sys.executable, "-m", "harness.cli"]


def drill(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DRILL_PATH"}
    env["DRILL_STORE"] = f"sqlite:///{project}/drill.db"
    return subprocess.run([*DRILL, *args], capture_output=True, text=True, env=env, timeout=300, cwd=project,
                          check=False)


def test_a_real_drill_makes_its_runbook_fresh_and_the_gate_follows(tmp_path: Path, docker_client: object) -> None:
    project = tmp_path / "project"
    (project / "drills").mkdir(parents=True)
    (project / "runbooks").mkdir()
    (project / "drills" / "canary-fail.yaml").write_text((CATALOGUE / "drills" / "canary-fail.yaml").read_text())
    book = project / "runbooks" / "canary-rollback.yaml"
    book.write_text((CATALOGUE / "runbooks" / "canary-rollback.yaml").read_text())

    run = drill(project, "run", "canary-fail", "--json", "--report-dir", str(tmp_path / "reports"))
    assert run.returncode == 0, run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    assert harness_resources(docker_client, run_id) == ([], [], [])

    status = drill(project, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    data = json.loads(status.stdout)
    row = data["runbooks"][0]
    assert row["last_as_expected"]["runbook_hash"] == row["current_hash"] and not row["stale"]
    score = data["readiness"][0]["score"]
    # fresh (25), 1 of 5 classes (20 * 1/5), within target (15), no prior-versions check (0): 44 of 75
    assert data["readiness"][0]["model"] == "fraud" and score == pytest.approx(58.7)
    assert drill(project, "gate", "--model", "fraud", "--min-score", "50").returncode == 0
    assert drill(project, "gate", "--model", "fraud").returncode == 1  # below the default 70

    book.write_text("# reviewed\n" + book.read_text())
    assert drill(project, "gate", "--model", "fraud", "--min-score", "50").returncode == 0
    book.write_text(book.read_text().replace("timeout: 15s", "timeout: 20s"))
    gate = drill(project, "gate", "--model", "fraud", "--min-score", "0")
    assert gate.returncode == 1 and "stale runbook: canary-rollback (changed since its last" in gate.stdout.replace("\n", " ")
