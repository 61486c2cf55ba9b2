"""Shadow drills for real: the tee in the role image in front of the stable, the paired judge deciding, on the
built-in target and on a team's own image (examples/tumor-classifier). A bad candidate is rolled back before
any client saw it; a good nondeterministic one is promoted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import api
from harness.engine.engine import RunOptions
from harness.engine.results import DrillResult, RunStatus
from tests.conftest import ROOT, harness_resources

pytestmark = pytest.mark.docker
EXAMPLE = ROOT / "examples" / "tumor-classifier"


def assert_caught_in_shadow(result: DrillResult, max_wait_s: float) -> None:
    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision == "rollback" and result.trigger == "automated"
    assert result.serving_version_after == result.stable_version
    traffic = result.traffic
    assert traffic is not None and traffic.shadow is not None
    assert traffic.shadow["candidate_answers_served"] == 0 and traffic.shadow["paired"] > 0
    assert traffic.shadow["mirrored"] >= traffic.shadow["paired"]
    assert result.candidate_version not in traffic.by_version, traffic  # no client answer came from the candidate
    assert traffic.by_version.get("none", 0) == 0, traffic  # nor did a client go unanswered when the tee came or went
    stamps = result.timestamps
    assert stamps.deployed_at is not None and stamps.decision_at is not None
    # Decided within the drill's window since copies began to flow (how fast: benchmarks/bench_catalogue.py).
    assert 0 < (stamps.decision_at - stamps.deployed_at).total_seconds() <= max_wait_s
    assert any(e.breached and e.metric.startswith("shadow-") for e in result.evidence)
    report = json.loads((Path(result.report_dir) / "report.json").read_text())
    assert report["traffic"]["shadow"]["candidate_answers_served"] == 0


def test_an_accuracy_drop_is_caught_in_shadow_and_never_served(isolated_env: Path, docker_client: object) -> None:
    result = api.run_drill("shadow-accuracy", RunOptions(report_root=isolated_env / "reports"))
    assert_caught_in_shadow(result, 30.0)
    assert result.traffic is not None and result.traffic.failed_during_rollback == 0
    assert harness_resources(docker_client, result.run_id) == ([], [], [])


def test_a_nondeterministic_good_candidate_is_promoted(isolated_env: Path, docker_client: object) -> None:
    result = api.run_drill("shadow-nondeterministic-control", RunOptions(report_root=isolated_env / "reports"))
    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision == "promote" and result.serving_version_after == result.candidate_version
    assert result.traffic is not None and result.traffic.shadow is not None
    assert result.traffic.shadow["paired"] > 200 and result.traffic.shadow["candidate_answers_served"] == 0
    # Every request (a fifth of them unlabelled, traffic.labelled: 0.8) is judged by disagreement against a second stable instance.
    disagreement = next(e for e in result.evidence if e.metric == "shadow-disagreement")
    assert disagreement.samples is not None and disagreement.samples > 50, disagreement
    assert disagreement.baseline_value is not None and disagreement.baseline_value > 0.02  # the stable disagrees with itself
    assert harness_resources(docker_client, result.run_id) == ([], [], [])


@pytest.fixture(scope="module")
def wheels() -> Path:
    """As tests/targets/test_image_docker.py: the example's image builds from wheels fetched on the host first."""
    found = EXAMPLE / "wheels"
    if not any(found.glob("pip-*.whl")):
        proc = subprocess.run([str(EXAMPLE / "fetch-wheels.sh")], check=False, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "PIP": f"{sys.executable} -m pip"})
        assert proc.returncode == 0, proc.stderr
    return found


def test_a_teams_own_image_is_shadowed_too(isolated_env: Path, wheels: Path, docker_client: object,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_PATH", str(EXAMPLE))
    result = api.run_drill("tumor-shadow", RunOptions(report_root=isolated_env / "reports"))
    assert_caught_in_shadow(result, 30.0)
    assert harness_resources(docker_client, result.run_id) == ([], [], [])
