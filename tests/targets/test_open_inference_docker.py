"""The Open Inference Protocol example for real (examples/open-inference, docs/open-inference.md): two versions of
a V2 server built here, each serving under its own path and keeping its metrics on port 8082.

Version 2 is reached through a path proxy (clients send version 1's path), so it answers at all only if the
rewrite works; it is caught from its own metrics, which Prometheus scrapes only on the metrics port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, harness_resources

pytestmark = pytest.mark.docker
EXAMPLE = ROOT / "examples" / "open-inference"


def test_the_oip_canary_is_caught_from_the_metrics_port_and_rolled_back(tmp_path: Path, docker_client: object) -> None:
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(EXAMPLE)}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "oip-canary-rollback", "--json", "--report-dir",
                           str(tmp_path / "reports")], check=False, capture_output=True, text=True, env=env, timeout=900,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "passed" and result["decision"] == "rollback" and result["trigger"] == "automated"
    assert result["serving_version_after"] == "1"
    traffic = result["traffic"]
    assert traffic["by_version"].get("2", 0) > 0  # version 2 answered on its own path, through the path proxy
    assert traffic["failed_during_rollback"] == 0
    # The server's own counter, scraped on port 8082, counted the candidate's requests (which of the two checks
    # decided first is a race: the client-side one often is).
    metric = next(e for e in result["evidence"] if e["metric"] == "candidate-failed-inferences")
    assert metric["samples"] is not None and metric["samples"] > 0, result["evidence"]
    assert any(e["verdict"] == "fail" for e in result["evidence"]), result["evidence"]
    assert harness_resources(docker_client, str(result["run_id"])) == ([], [], []), "the run left resources behind"
