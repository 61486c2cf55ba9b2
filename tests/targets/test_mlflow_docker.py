"""The MLflow target for real: an MLflow server in a container, real model versions, scoring servers, HAProxy.

Each drill runs through the engine with the MLflow target's factory; the test's target is the real
MlflowTarget, subclassed only to look through MLflow's own API (and import from it with the CLI) just before
teardown, while the run's MLflow server still exists.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.engine.engine import Engine, RunOptions
from harness.engine.results import RunStatus
from harness.spec import catalogue
from tests.conftest import harness_resources, need_mlflow

pytestmark = pytest.mark.docker
mlflow = need_mlflow()

from harness.targets.mlflow.target import MlflowTarget  # noqa: E402


class ObservedTarget(MlflowTarget):
    """The real target; before teardown it reads the registry with MlflowClient and runs `drill import`."""

    store_url = ""
    seen: ClassVar[dict[str, Any]] = {}

    def close(self) -> None:
        if self._stack is not None and self._stack.mlflow_port:
            client = mlflow.MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
            model = self.spec.model
            ObservedTarget.seen = {
                "aliases": dict(client.get_registered_model(model).aliases),
                "tags": {v: dict(client.get_model_version(model, v).tags) for v in ("1", "2", "3")},
                "import": subprocess.run(
                    [sys.executable, "-m", "harness.cli", "import", "--from", "mlflow", "--tracking-uri",
                     self.tracking_uri, "--model", model, "--environment", "drill", "--store", self.store_url],
                    capture_output=True, text=True, timeout=120, check=False),
            }
        super().close()


def _run(name: str, tmp_path: Path) -> Any:
    ObservedTarget.store_url = f"sqlite:///{tmp_path}/drill.db"
    ObservedTarget.seen = {}
    drill = catalogue.load_drill(name)
    engine = Engine(make_target=lambda d, run_id, workdir, backend: ObservedTarget(d, run_id, workdir))
    return engine.run(drill, RunOptions(report_root=tmp_path / "reports"))


def test_mlflow_canary_fail_passes_and_tags_the_rolled_back_version(tmp_path: Path, docker_client: object) -> None:
    result = _run("mlflow-canary-fail", tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    assert result.serving_version_after == "2" and result.candidate_version == "3"
    assert [p.name for p in result.phases][:3] == ["prepare", "baseline", "preflight"]
    assert result.steps[0].name == "check-prior-versions" and result.steps[0].status.value == "ok"
    steps = {s.name: s for s in result.steps}
    assert steps["check-prior-versions"].detail == "2 prior versions deployable: 2, 1"
    assert steps["restore-previous-champion"].detail == "champion: 3 -> 2"

    seen = ObservedTarget.seen
    assert seen["aliases"] == {"champion": "2", "previous": "1"}
    rollback = {k.removeprefix("rollback."): v for k, v in seen["tags"]["3"].items() if k.startswith("rollback.")}
    assert rollback["to_version"] == "2" and rollback["trigger"] == "automated"
    assert rollback["root_cause"] == "performance" and rollback["drill_run_id"] == result.run_id
    assert rollback["decided_at"] <= rollback["completed_at"]
    assert seen["tags"]["3"]["drill.fault"] == "error_slice" and "rollback.decided_at" not in seen["tags"]["2"]

    imported = seen["import"]
    assert imported.returncode == 0, imported.stderr
    assert "(3 deployments, 1 rollbacks)" in imported.stdout
    metrics = subprocess.run([sys.executable, "-m", "harness.cli", "metrics", "--environment", "drill", "--format",
                              "json", "--store", ObservedTarget.store_url], capture_output=True, text=True,
                             check=False)
    figures = json.loads(metrics.stdout)
    assert (figures["deployments"], figures["rollbacks"]) == (3, 1)
    assert figures["automated_rollback_rate_pct"] == 100.0

    client = docker_client
    assert harness_resources(client, result.run_id) == ([], [], [])


def test_mlflow_broken_rollback_path_fails_naming_version_and_artifact(tmp_path: Path, docker_client: object) -> None:
    result = _run("mlflow-broken-rollback-path", tmp_path)
    assert result.status is RunStatus.FAILED
    steps = {s.name: s for s in result.steps}
    check, restore = steps["check-prior-versions"], steps["restore-previous-champion"]
    assert check.status.value == "failed" and "fraud version 2" in (check.error or "")
    assert "model.pkl" in (restore.error or "") and "fraud version 2" in (restore.error or ""), restore.error
    assert "model.pkl" in result.reason and "version 2" in result.reason, result.reason
    assert ObservedTarget.seen["aliases"]["champion"] == "3"  # nothing moved to the broken version
    assert harness_resources(docker_client, result.run_id) == ([], [], [])

