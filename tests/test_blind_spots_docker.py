"""No blind spots (issue 26, finding 3): a request the candidate never answers counts against the candidate.

A 50 % canary that hangs far beyond the client's timeout: before, each such request ended at the client with
status 0 and no version, counted for neither side, and the drill reported "bad version not detected". Now the
router times out first (``timeout server`` below the drill's ``traffic.timeout``) and stamps its own 504 with
the slot it chose (``http-after-response``), so the judge counts the unanswered requests as the candidate's errors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import CATALOGUE
from tests.test_drill_docker import _run

pytestmark = pytest.mark.docker

HUNG_CANARY = """\
name: hung-canary-probe
description: The candidate hangs on every request, far beyond the client's timeout; a 50 % canary.
model: fraud
root_cause: performance
strategy: {kind: canary, weight: 50}
fault: {kind: latency, ms: 8000}
traffic: {rate: 20, timeout: 2s}
detection:
  interval: 500ms
  max_wait: 30s
  compare:
    - {name: client-errors-vs-baseline, measure: error, min_samples: 8}
runbook: canary-rollback
target: 15m
expect: rollback
profiles:
  ci: {baseline: 2s, decision: automated}
"""


def test_a_hung_candidate_in_a_50_percent_canary_is_caught_from_its_unanswered_requests(
        tmp_path: Path, docker_client: object) -> None:
    shutil.copytree(CATALOGUE / "runbooks", tmp_path / "runbooks")
    (tmp_path / "drills").mkdir()
    path = tmp_path / "drills" / "hung-canary-probe.yaml"
    path.write_text(HUNG_CANARY)
    proc = _run(["run", str(path), "--json", "--report-dir", str(tmp_path / "reports")], tmp_path)
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["status"] == "passed", (result["reason"], proc.stderr[-2000:])
    assert result["decision"] == "rollback" and result["serving_version_after"] == "v2"
    errors = next(e for e in result["evidence"] if e["metric"] == "client-errors-vs-baseline")
    assert errors["verdict"] == "fail" and errors["canary_value"] > 0.9  # nearly every candidate request unanswered
    # The router's 504s name the candidate: the unanswered requests belong to v3, not to "none".
    assert result["traffic"]["by_version"].get("v3", 0) >= 8
