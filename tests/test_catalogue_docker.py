"""Every drill of the catalogue against real containers, and a person in the loop via an answers file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import api
from harness.engine.engine import RunOptions
from harness.engine.results import RunStatus, StepStatus
from harness.spec import catalogue
from tests.conftest import ROOT, harness_resources

pytestmark = pytest.mark.docker

ROLLBACK_DRILLS = ["canary-fail", "canary-latency", "canary-accuracy", "blue-green-fail", "crashloop",
                   "business-rule", "safety", "upstream-schema"]


def test_the_catalogue_is_complete() -> None:
    names = set(catalogue.drill_names())
    assert names >= {*ROLLBACK_DRILLS, "good-canary", "broken-rollback-path"}
    classes = {catalogue.load_drill(n).spec.root_cause for n in names}
    assert classes >= {"performance", "safety", "infrastructure", "upstream-data", "business-rule"}


@pytest.mark.parametrize("name", ROLLBACK_DRILLS)
def test_bad_version_is_detected_and_rolled_back(name: str, isolated_env: Path, docker_client: object) -> None:
    result = api.run_drill(name, RunOptions(report_root=isolated_env / "reports"))
    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision == "rollback" and result.rolled_back and result.trigger == "automated"
    assert result.serving_version_after == result.stable_version
    assert result.root_cause == catalogue.load_drill(name).spec.root_cause
    assert result.traffic is not None and result.traffic.failed_during_rollback == 0
    # the steady state is re-checked after the rollback: the verify steps ran and passed
    verify = [s for s in result.steps if s.verify]
    assert verify and all(s.status is StepStatus.OK for s in verify)
    assert any(e.verdict == "fail" for e in result.evidence)
    assert harness_resources(docker_client, result.run_id) == ([], [], [])


def test_good_canary_is_promoted_not_rolled_back(isolated_env: Path, docker_client: object) -> None:
    result = api.run_drill("good-canary", RunOptions(report_root=isolated_env / "reports"))
    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision == "promote" and not result.rolled_back and result.steps == ()
    assert result.serving_version_after == result.candidate_version
    assert all(e.verdict != "fail" for e in result.evidence)
    assert harness_resources(docker_client, result.run_id) == ([], [], [])


def test_broken_rollback_path_fails_and_names_the_cause(isolated_env: Path, docker_client: object) -> None:
    result = api.run_drill("broken-rollback-path", RunOptions(report_root=isolated_env / "reports"))
    assert result.status is RunStatus.FAILED
    assert "restore-previous-alias" in result.reason and "artifact corrupt" in result.reason and "v2" in result.reason
    assert result.timestamps.completed_at is None and not result.rolled_back
    assert result.expect == "fail" and result.as_expected is True and result.sabotage_reached is True
    skipped = [s.name for s in result.steps if s.status is StepStatus.SKIPPED]
    assert "stop-candidate" in skipped
    assert harness_resources(docker_client, result.run_id) == ([], [], [])


def test_a_person_decides_and_confirms_steps_from_an_answers_file(tmp_path: Path, docker_client: object) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("# decision, then the manual step 'page-model-owner'\nrollback\ndone\n")
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "canary-fail", "--manual", "--answers",
                           str(answers), "--json", "--report-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["trigger"] == "manual" and result["decision"] == "rollback"
    assert "ALERT: canary analysis failed" in proc.stderr and "MANUAL STEP page-model-owner" in proc.stderr
    page = next(s for s in result["steps"] if s["name"] == "page-model-owner")
    assert page["manual"] and page["detail"] == "confirmed by a person" and page["status"] == "ok"


def test_a_person_who_holds_fails_the_drill(tmp_path: Path, docker_client: object) -> None:
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "canary-fail", "--manual", "--json",
                           "--report-dir", str(tmp_path)], input="hold\n", capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["decision"] == "hold" and result["trigger"] == "manual" and not result["rolled_back"]
    assert "chose to hold" in result["reason"]
    assert harness_resources(docker_client, result["run_id"]) == ([], [], [])
