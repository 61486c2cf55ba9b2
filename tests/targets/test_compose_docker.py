"""The compose target for real: examples/team-stack (nginx, MLflow 3, model servers, Prometheus, the team's
scripts) drilled through its own path, and a killed compose drill swept by ``drill clean --run-id``.

The first run builds the team's images (the gateway installs nginx from Debian's packages; the registry
installs MLflow 3.17.2 from wheels fetched on the host first); later runs reuse BuildKit's cache.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, harness_resources

pytestmark = pytest.mark.docker
TEAM = ROOT / "examples" / "team-stack"
DRILL = [sys.executable, "-m", "harness.cli"]


@pytest.fixture(scope="module")
def wheels() -> Path:
    found = TEAM / "registry" / "wheels"
    if not any(found.glob("mlflow-3.17.2-*.whl")):
        proc = subprocess.run([str(TEAM / "fetch-wheels.sh")], check=False, capture_output=True, text=True, timeout=900,
                              env={**os.environ, "PIP": f"{sys.executable} -m pip"})
        assert proc.returncode == 0, proc.stderr
    return found


def run(tmp_path: Path, drill: str) -> tuple[int, dict[str, object], str]:
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db"}
    proc = subprocess.run([*DRILL, "run", str(TEAM / "drills" / f"{drill}.yaml"), "--json", "--report-dir",
                           str(tmp_path / "reports")], check=False, capture_output=True, text=True, env=env,
                          timeout=1800, cwd=tmp_path)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def steps(result: dict[str, object]) -> dict[str, dict[str, object]]:
    return {s["name"]: s for s in result["steps"]}  # type: ignore[index, union-attr, attr-defined]


def assert_nothing_left(client: object, run_id: str) -> None:
    assert harness_resources(client, run_id) == ([], [], []), "the run left resources behind"


def test_the_team_rollback_passes_with_no_failed_request(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    code, result, stderr = run(tmp_path, "team-canary-rollback")
    assert code == 0, stderr
    assert result["status"] == "passed" and result["decision"] == "rollback", result["reason"]
    assert result["serving_version_after"] == "2"
    traffic = result["traffic"]
    assert traffic["by_version"].get("3", 0) > 0  # type: ignore[index]  # the team's canary really served
    assert traffic["failed_during_rollback"] == 0  # type: ignore[index]
    done = steps(result)
    assert "exit 0" in str(done["rollback"]["detail"])  # the script's status and last lines are recorded
    assert done["verify-registry-champion"]["status"] == "ok" and done["verify-stable-scraped"]["status"] == "ok"
    assert "compose: Docker Compose v2." in stderr  # says which Compose it used
    assert_nothing_left(docker_client, str(result["run_id"]))


def test_a_racy_rollback_fails_with_its_failed_requests_counted(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    code, result, stderr = run(tmp_path, "team-racy-rollback")
    assert code == 0, stderr  # the drill expects the failure: it ended as expected
    assert result["status"] == "failed", result["reason"]
    failed = steps(result)["verify-no-failed-requests"]
    assert failed["status"] == "failed"
    counted = re.search(r"(\d+) failed", str(failed["error"]))
    assert counted is not None and int(counted.group(1)) > 0, failed["error"]
    assert_nothing_left(docker_client, str(result["run_id"]))


def test_a_rollback_that_leaves_the_alias_is_caught_by_the_http_check(tmp_path: Path, wheels: Path,
                                                                      docker_client: object) -> None:
    code, result, stderr = run(tmp_path, "team-pinned-rollback")
    assert code == 0, stderr
    assert result["status"] == "failed", result["reason"]
    done = steps(result)
    assert done["rollback"]["status"] == "ok"  # the script did its part: a server of version 2 takes the traffic...
    assert done["verify-registry-champion"]["status"] == "failed"  # ...but MLflow's champion still names 3
    assert '$.model_version.version is "3", expected "2"' in str(done["verify-registry-champion"]["error"])
    assert_nothing_left(docker_client, str(result["run_id"]))


def test_a_late_rollback_after_a_promotion_passes(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    code, result, stderr = run(tmp_path, "team-late-rollback")
    assert code == 0, stderr
    assert result["status"] == "passed" and result["decision"] == "rollback", result["reason"]
    assert result["serving_version_after"] == "2"
    assert result["traffic"]["failed_during_rollback"] == 0  # type: ignore[index]
    assert_nothing_left(docker_client, str(result["run_id"]))


def test_a_killed_compose_drill_is_swept_by_clean(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    """kill -9 leaves no teardown: the override's labels are how ``drill clean --run-id`` finds everything."""
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db"}
    proc = subprocess.Popen([*DRILL, "run", str(TEAM / "drills" / "team-canary-rollback.yaml"), "--report-dir",
                             str(tmp_path / "reports")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=tmp_path, start_new_session=True)
    run_id, said = None, []
    assert proc.stdout is not None
    deadline = time.monotonic() + 900
    try:
        for line in proc.stdout:
            said.append(line)
            found = re.search(r"run (\d{8}T\d{6}Z-team-canary-rollback-[0-9a-f]{6})", line)
            run_id = run_id or (found.group(1) if found else None)
            if "phase baseline" in line or time.monotonic() > deadline:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert run_id is not None, "".join(said)
    containers, networks, _ = harness_resources(docker_client, run_id)
    assert len(containers) >= 4 and networks, "".join(said)  # the team's stack was up when it was killed
    cleaned = subprocess.run([*DRILL, "clean", "--run-id", run_id], capture_output=True, text=True, timeout=300)
    assert cleaned.returncode == 0, cleaned.stderr
    assert_nothing_left(docker_client, run_id)


def test_the_registry_down_during_the_rollback_is_found(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    """service-down pauses the team's MLflow as the rollback step starts; the team's script needs it, and says so."""
    code, result, stderr = run(tmp_path, "team-registry-down")
    assert code == 0, stderr  # expected: the team's rollback cannot run without its registry
    assert result["status"] == "failed", result["reason"]
    done = steps(result)
    assert done["rollback"]["status"] == "failed" and "./ops/rollback.sh 2: exit" in str(done["rollback"]["error"])
    assert "paused" in str(done["rollback"]["error"])
    struck = result["adversity"][0]  # type: ignore[index]
    assert struck["kind"] == "service-down" and "registry" in struck["target"]  # type: ignore[index]
    assert_nothing_left(docker_client, str(result["run_id"]))
