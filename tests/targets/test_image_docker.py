"""The image target for real: the example project's image built here, its four drills, their outcomes.

The first run builds the example's images (about a minute and a half cold on a 2-core machine; cached
afterwards). Wheels are fetched on the host first when the example has none (the build needs no index).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, harness_resources

pytestmark = pytest.mark.docker
EXAMPLE = ROOT / "examples" / "tumor-classifier"
DRILL = [sys.executable, "-m", "harness.cli"]


@pytest.fixture(scope="module")
def wheels() -> Path:
    found = EXAMPLE / "wheels"
    if not any(found.glob("pip-*.whl")):
        proc = subprocess.run([str(EXAMPLE / "fetch-wheels.sh")], check=False, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "PIP": f"{sys.executable} -m pip"})
        assert proc.returncode == 0, proc.stderr
    return found


def run(tmp_path: Path, drill: str) -> tuple[int, dict[str, object], str]:
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(EXAMPLE)}
    proc = subprocess.run([*DRILL, "run", drill, "--json", "--report-dir", str(tmp_path / "reports")],
                          check=False, capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def assert_nothing_left(client: object, run_id: str) -> None:
    assert harness_resources(client, run_id) == ([], [], []), "the run left resources behind"
    tags = [t for image in client.images.list() for t in image.tags if run_id in t]  # type: ignore[attr-defined]
    assert tags == [], "the run left its image tags behind"


def test_an_injected_5xx_canary_is_rolled_back(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    code, result, stderr = run(tmp_path, "tumor-canary-5xx")
    assert code == 0, stderr
    assert result["status"] == "passed" and result["decision"] == "rollback" and result["trigger"] == "automated"
    assert result["serving_version_after"] == "v2"
    traffic = result["traffic"]
    assert traffic["by_version"].get("v3", 0) > 0  # the candidate really served (through the fault proxy)
    assert traffic["bad_responses_served"] > 0 and traffic["failed_during_rollback"] == 0  # type: ignore[index]
    assert any(e["verdict"] == "fail" for e in result["evidence"])  # type: ignore[union-attr, index]
    assert_nothing_left(docker_client, str(result["run_id"]))


def test_a_genuinely_worse_version_is_caught_on_labelled_requests(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    code, result, stderr = run(tmp_path, "tumor-biased-retrain")
    assert code == 0, stderr
    assert result["status"] == "passed" and result["decision"] == "rollback"
    client = [e for e in result["evidence"] if e["kind"] in ("compare", "sequential")]  # type: ignore[union-attr, index]
    assert client and client[0]["verdict"] == "fail"
    assert client[0]["canary_value"] > client[0]["baseline_value"] + 0.1  # wrong-answer rates, candidate vs stable
    assert result["serving_version_after"] == "v2"
    assert_nothing_left(docker_client, str(result["run_id"]))


def test_a_good_version_is_promoted(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    code, result, stderr = run(tmp_path, "tumor-good-canary")
    assert code == 0, stderr
    assert result["status"] == "passed" and result["decision"] == "promote" and not result["rolled_back"]
    assert result["serving_version_after"] == "v3"
    assert_nothing_left(docker_client, str(result["run_id"]))


def test_a_broken_way_back_fails_naming_the_version_and_its_image(tmp_path: Path, wheels: Path, docker_client: object) -> None:
    code, result, stderr = run(tmp_path, "tumor-broken-rollback")
    assert code == 0, stderr  # failed on the sabotaged image, as the drill expects: exit 0 (issue 20)
    reason = str(result["reason"])
    assert result["status"] == "failed" and result["decision"] == "rollback", stderr
    assert result["expect"] == "fail" and result["as_expected"] is True and result["sabotage_reached"] is True
    assert "restore-previous-image" in reason and "v2" in reason and "drill-team-tumor-classifier:" in reason
    assert_nothing_left(docker_client, str(result["run_id"]))
    # the sabotage removed the run's tag only: the cached v2 image is still there for the next run
    built = [t for image in docker_client.images.list("drill-team-tumor-classifier") for t in image.tags]  # type: ignore[attr-defined]
    assert built
