"""The late rollback end to end against real containers, with a small artifact: the bad version took all the
traffic, its predecessor was stopped, the fault showed late, and the runbook brought the predecessor back from
the registry (weights read and verified) before moving the traffic. The same against a real MLflow server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness import api
from harness.engine.engine import RunOptions
from harness.engine.results import RunStatus, StepStatus
from harness.spec import catalogue
from tests.conftest import harness_resources, need_mlflow

pytestmark = pytest.mark.docker


def test_late_rollback_brings_the_stopped_version_back(isolated_env: Path, docker_client: object) -> None:
    data = yaml.safe_load(catalogue.load_drill("late-rollback").drill_path.read_text())
    data["target"]["artifact_size"] = "20MB"
    data["fault"]["after"] = "8s"
    data["traffic"].update({"rate": 50, "ramp": "1s"})  # the shared machine: production rate is bench_late.py's
    drill = isolated_env / "late-rollback.yaml"
    drill.write_text(yaml.safe_dump(data))

    result = api.run_drill(str(drill), RunOptions(report_root=isolated_env / "reports"))

    assert result.status is RunStatus.PASSED, result.reason
    assert result.rolled_back and result.serving_version_after == result.stable_version == "v2"
    steps = {s.name: s for s in result.steps}
    assert steps["start-previous"].status is StepStatus.OK and "stable serving v2" in steps["start-previous"].detail
    # the fault struck late: the candidate served cleanly for a while after it took all the traffic
    assert result.detect_s is not None and result.detect_s > 6
    t = result.traffic
    assert t is not None and t.rollback_seconds and t.slo_s == 0.25
    assert set(t.achieved_rps) >= {"baseline", "deploy", "detect", "rollback"}
    assert sum(c.requests for c in t.rollback_seconds) > 0
    assert harness_resources(docker_client, result.run_id) == ([], [], [])


def test_mlflow_late_rollback_brings_the_stopped_version_back_from_mlflow(isolated_env: Path,
                                                                        docker_client: object) -> None:
    need_mlflow()
    data = yaml.safe_load(catalogue.load_drill("mlflow-late-rollback").drill_path.read_text())
    data["target"]["artifact_size"] = "20MB"
    data["fault"]["after"] = "8s"
    data["traffic"].update({"rate": 50, "ramp": "1s"})
    drill = isolated_env / "mlflow-late-rollback.yaml"
    drill.write_text(yaml.safe_dump(data))

    result = api.run_drill(str(drill), RunOptions(report_root=isolated_env / "reports"))

    assert result.status is RunStatus.PASSED, result.reason
    assert result.rolled_back and result.serving_version_after == result.stable_version == "2"
    steps = {s.name: s for s in result.steps}
    assert steps["restore-previous-alias"].detail == "champion: 3 -> 2"
    assert steps["start-previous"].status is StepStatus.OK and "stable serving 2" in steps["start-previous"].detail
    assert result.detect_s is not None and result.detect_s > 6  # the MLflow model's fault struck late too
    assert harness_resources(docker_client, result.run_id) == ([], [], [])
