"""Progressive delivery for real (docs/progressive.md): shadow -> canary 10 % -> promote on the built-in target,
the tee in the role image, the paired judge in the shadow stage and the drill's PromQL and client-side checks at
the canary stage. A bad candidate is caught in shadow and never served; a good one passes every stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import api
from harness.engine.engine import RunOptions
from harness.engine.results import RunStatus
from tests.conftest import harness_resources

pytestmark = pytest.mark.docker


def test_a_good_candidate_goes_through_shadow_and_canary_to_promotion(isolated_env: Path, docker_client: object) -> None:
    result = api.run_drill("progressive-good", RunOptions(report_root=isolated_env / "reports"))
    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision == "promote" and result.serving_version_after == result.candidate_version
    shadow, canary = result.stages
    assert (shadow.kind, shadow.decision, shadow.candidate_answers_served) == ("shadow", "pass", 0)
    assert (canary.kind, canary.weight, canary.decision) == ("canary", 50, "pass") and canary.candidate_answers_served > 0
    assert shadow.decided_at is not None and canary.started_at is not None and shadow.decided_at <= canary.started_at
    assert result.traffic is not None and result.traffic.shadow is not None and result.traffic.shadow["paired"] > 100
    report = json.loads((Path(result.report_dir or "") / "report.json").read_text())
    assert [(s["kind"], s["decision"]) for s in report["stages"]] == [("shadow", "pass"), ("canary", "pass")]
    assert report["caught_in_stage"] is None
    assert harness_resources(docker_client, result.run_id) == ([], [], [])


def test_an_accuracy_drop_is_caught_in_the_shadow_stage_and_never_served(isolated_env: Path, docker_client: object) -> None:
    result = api.run_drill("progressive-accuracy", RunOptions(report_root=isolated_env / "reports"))
    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision == "rollback" and result.serving_version_after == result.stable_version
    assert [(s.kind, s.decision) for s in result.stages] == [("shadow", "rollback"), ("canary", "not reached")]
    assert result.traffic is not None and result.candidate_version not in result.traffic.by_version
    assert result.traffic.shadow is not None and result.traffic.shadow["candidate_answers_served"] == 0
    report = json.loads((Path(result.report_dir or "") / "report.json").read_text())
    assert report["caught_in_stage"] == "shadow" and report["stages"][0]["candidate_answers_served"] == 0
    assert "no client ever saw the candidate" in (Path(result.report_dir or "") / "report.md").read_text()
    assert harness_resources(docker_client, result.run_id) == ([], [], [])
