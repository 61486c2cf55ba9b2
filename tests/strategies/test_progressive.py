"""Progressive delivery (harness/strategies/progressive.py): chained stages through the engine, without Docker.

The target's parts really serve (tests/serving_fakes.py): the real model server's handler per slot, a real
forwarding router picking slots by weight, the real tee in threads, the real load generator. A regression
caught in shadow is never served; one that shows only later is caught at the canary stage, which says how many
client answers the candidate served; a good candidate passes every stage and is promoted. Bad stage lists are
refused at the edge: exit 2, file and field named, nothing started.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from harness import strategies
from harness.cli.main import app
from harness.engine.engine import Engine, RunOptions
from harness.engine.results import DrillResult, RunStatus
from harness.exit_codes import ExitStatus
from harness.report import html, jsonreport, markdown
from harness.report.load import load_result
from harness.spec import catalogue
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import DrillSpec, RunbookSpec
from harness.strategies.progressive import PROGRESSIVE
from tests.serving_fakes import ServingTarget, factory

RUNNER = CliRunner()
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
RUNBOOK = RunbookSpec.model_validate({"name": "rb", "steps": [
    {"name": "drain", "action": "router.drain", "params": {"server": "candidate", "settle": "100ms"}},
    {"name": "restore", "action": "registry.restore_previous"},
    {"name": "stop", "action": "service.stop", "params": {"service": "candidate"}},
    {"name": "verify", "action": "verify.http", "params": {"requests": 10, "expect_version": "${stable_version}"},
     "verify": True},
]})
SHADOW_THEN_CANARY = [{"kind": "shadow", "max_wait": "4s"}, {"kind": "canary", "weight": 50, "max_wait": "8s"}]
WRONG = {"kind": "wrong_answers", "rate": 0.3}  # wrong on a fixed 30 % of inputs, status 200
ERRORS = {"kind": "error_slice", "feature": "x0", "above": 0.5}  # 500 on ~30 % of inputs


def drill(stages: list[dict[str, Any]] = SHADOW_THEN_CANARY, expect: str = "rollback", **over: Any) -> LoadedDrill:
    spec: dict[str, Any] = {
        "name": "progressive-fake", "root_cause": "performance", "runbook": "rb", "fault": {"kind": "none"},
        "strategy": {"kind": "progressive", "stages": stages}, "traffic": {"rate": 100}, "expect": expect,
        "detection": {"interval": "250ms", "compare": [{"name": "errors", "measure": "error"},
                                                        {"name": "incorrect", "measure": "incorrect"}]},
        "profiles": {"ci": {"baseline": "500ms"}},
    }
    spec.update(over)
    return LoadedDrill(DrillSpec.model_validate(spec), RUNBOOK, Path("progressive-fake.yaml"), Path("rb.yaml"))


def run(target: ServingTarget, d: LoadedDrill, tmp_path: Path) -> DrillResult:
    result = Engine([], make_target=factory(target)).run(d, RunOptions(report_root=tmp_path))
    assert target.closed == 1 and not target.backend.servers  # teardown removed every server
    return result


def test_a_regression_caught_in_shadow_was_never_served(tmp_path: Path) -> None:
    target = ServingTarget({"v3": WRONG})
    result = run(target, drill(), tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision == "rollback" and result.rolled_back and result.serving_version_after == "v2"
    shadow, canary = result.stages
    assert (shadow.kind, shadow.decision, shadow.candidate_answers_served) == ("shadow", "rollback", 0)
    assert shadow.started_at is not None and shadow.decided_at is not None and shadow.started_at < shadow.decided_at
    assert any("incorrect" in line and "e-value" in line for line in shadow.evidence)
    assert (canary.kind, canary.decision, canary.started_at) == ("canary", "not reached", None)
    assert result.caught_in is shadow and "no client ever saw the candidate" in result.reason
    assert result.traffic is not None and "v3" not in result.traffic.by_version  # the client's own count agrees
    assert result.traffic.shadow is not None and result.traffic.shadow["candidate_answers_served"] == 0
    assert ("candidate", "v3") in target.backend.started and not any(s == "candidate" for s, _ in target.router.attached)
    jsonreport.write(result, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["caught_in_stage"] == "shadow"
    assert [(s["kind"], s["decision"]) for s in report["stages"]] == [("shadow", "rollback"), ("canary", "not reached")]
    assert report["stages"][0]["decided_at"].endswith("Z") and report["stages"][0]["candidate_answers_served"] == 0
    assert load_result(tmp_path).stages == result.stages  # report.json reads back
    text = markdown.render(result)
    assert "## Stages" in text and "no client ever saw the candidate (client answers served by it: 0)" in text
    page = html.render(result)
    assert "<h2>Stages</h2>" in page and "no client ever saw the candidate" in page and "not reached" in page


def test_a_regression_that_shows_late_is_caught_at_the_canary_stage_after_serving_clients(tmp_path: Path) -> None:
    target = ServingTarget({"v3": ERRORS}, fault_after=6.0)  # good while in shadow, 5xx from 6 s after its start
    stages = [{"kind": "shadow", "max_wait": "2s"}, {"kind": "canary", "weight": 50, "max_wait": "15s"}]
    result = run(target, drill(stages), tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    shadow, canary = result.stages
    assert shadow.decision == "pass" and shadow.candidate_answers_served == 0
    assert canary.decision == "rollback" and canary.weight == 50 and canary.label == "canary 50 %"
    assert result.traffic is not None
    served = canary.candidate_answers_served
    assert served > 0 and served <= result.traffic.by_version.get("v3", 0)  # rollback drain may add a few more
    assert f"after the candidate served {served} client answers" in result.reason
    assert result.caught_in is canary and "errors" in canary.summary
    assert result.timestamps.decision_at == canary.decided_at
    assert ("candidate", "v3") in [(s, "v3") for s, _ in target.router.attached]  # behind the router in the canary stage


def test_a_good_candidate_passes_every_stage_and_is_promoted(tmp_path: Path) -> None:
    target = ServingTarget()
    stages = [{"kind": "shadow", "max_wait": "2s"}, {"kind": "canary", "weight": 10, "max_wait": "2s"},
              {"kind": "canary", "weight": 50, "max_wait": "10s"}]  # the last look must be a decisive pass
    result = run(target, drill(stages, expect="promote"), tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision == "promote" and not result.rolled_back and result.serving_version_after == "v3"
    assert [(s.label, s.decision) for s in result.stages] == [("shadow", "pass"), ("canary 10 %", "pass"), ("canary 50 %", "pass")]
    assert result.stages[0].candidate_answers_served == 0 < result.stages[1].candidate_answers_served
    assert result.caught_in is None and "passed every stage" in markdown.render(result)
    assert [s for s, _ in target.backend.started].count("candidate") == 1  # shadow's candidate went on serving


def test_a_canary_first_chain_that_never_becomes_ready_is_caught_at_readiness(tmp_path: Path) -> None:
    result = run(ServingTarget(crash=frozenset({"v3"})), drill([{"kind": "canary", "weight": 10, "max_wait": "5s"}]), tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    assert result.stages[0].decision == "rollback" and result.stages[0].summary == "the candidate never became ready"


def test_the_second_stable_instance_is_the_noise_floor_of_unlabelled_requests(tmp_path: Path) -> None:
    target = ServingTarget(wrong_rate=0.1)  # every version flips 10 % of its answers by chance, the secondary too
    compare = [{"name": "errors", "measure": "error"}, {"name": "incorrect", "measure": "incorrect"},
               {"name": "disagreement", "measure": "disagreement"}]
    d = drill(strategy={"kind": "shadow"}, expect="promote", traffic={"rate": 100, "labelled": 0.5},
              detection={"interval": "250ms", "max_wait": "15s", "compare": compare})
    result = run(target, d, tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    assert ("secondary", "v2") in target.backend.started and "SECONDARY" in target.tees[0].env
    by_check = {e.metric: e for e in result.evidence}
    disagreement = by_check["shadow-disagreement"]
    assert disagreement.samples is not None and disagreement.samples > 50  # unlabelled pairs judged against it
    assert disagreement.canary_value is not None and disagreement.canary_value > 0.05  # the stable disagrees with itself
    assert by_check["shadow-incorrect"].samples is not None and by_check["shadow-incorrect"].samples > 50
    assert [s.kind for s in result.stages] == ["shadow"] and result.stages[0].decision == "pass"


def test_the_stages_keep_their_own_budgets_whatever_detection_max_wait_says(tmp_path: Path) -> None:
    target = ServingTarget({"v3": WRONG})
    d = drill(detection={"interval": "250ms", "max_wait": 0, "compare": [{"name": "incorrect", "measure": "incorrect"}]})
    result = run(target, d, tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    assert result.stages[0].decision == "rollback"


def test_without_disagreement_no_second_instance_starts(tmp_path: Path) -> None:
    target = ServingTarget()
    result = run(target, drill([{"kind": "shadow", "max_wait": "1s"}], expect="promote"), tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    assert "secondary" not in [s for s, _ in target.backend.started] and "SECONDARY" not in target.tees[0].env


def test_the_catalogue_has_the_chained_drills_and_progressive_is_registered() -> None:
    caught = catalogue.load_drill("progressive-accuracy").spec
    assert [s.label for s in caught.strategy.stages] == ["shadow", "canary 10 %"] and caught.expected == "rollback"
    good = catalogue.load_drill("progressive-good").spec
    assert [s.label for s in good.strategy.stages] == ["shadow", "canary 50 %"] and good.expect == "promote"
    control = catalogue.load_drill("shadow-nondeterministic-control").spec
    assert "disagreement" in {c.measure for c in control.detection.compare} and control.traffic.labelled < 1
    assert strategies.get("progressive") is PROGRESSIVE and not PROGRESSIVE.analysis_judges(None)  # type: ignore[arg-type]


# ---- bad stages: exit 2, file and field named, nothing started --------------------------------------------------
BASE = yaml.safe_load((catalogue.BUILTIN_ROOT / "drills" / "progressive-accuracy.yaml").read_text())


@pytest.mark.parametrize(("strategy", "field", "says"), [
    ({"kind": "progressive", "stages": []}, "strategy.stages", "at least one stage"),
    ({"kind": "progressive"}, "strategy.stages", "at least one stage"),
    ({"kind": "progressive", "stages": [{"kind": "blue-green", "max_wait": "5s"}]}, "strategy.stages.0.kind", "no stage kind 'blue-green'"),
    ({"kind": "progressive", "stages": [{"kind": "canary", "weight": 10, "max_wait": "5s"}, {"kind": "shadow", "max_wait": "5s"}]},
     "strategy.stages.1.kind", "a shadow stage comes first"),
    ({"kind": "progressive", "stages": [{"kind": "shadow", "max_wait": 0}]}, "strategy.stages.0.max_wait", "greater than 0"),
    ({"kind": "progressive", "stages": [{"kind": "shadow", "max_wait": "-5s"}]}, "strategy.stages.0.max_wait", "duration"),
    ({"kind": "progressive", "stages": [{"kind": "shadow", "max_wait": float("inf")}]}, "strategy.stages.0.max_wait", "finite"),
    ({"kind": "progressive", "stages": [{"kind": "shadow"}]}, "strategy.stages.0.max_wait", "required"),
    ({"kind": "progressive", "stages": [{"kind": "canary", "max_wait": "5s"}]}, "strategy.stages.0.weight", "needs weight"),
    ({"kind": "progressive", "stages": [{"kind": "shadow", "weight": 10, "max_wait": "5s"}]}, "strategy.stages.0.weight", "serves no client"),
    ({"kind": "progressive", "stages": [{"kind": "canary", "weight": 50, "max_wait": "5s"}, {"kind": "canary", "weight": 10, "max_wait": "5s"}]},
     "strategy.stages.1.weight", "rise"),
    ({"kind": "canary", "stages": [{"kind": "shadow", "max_wait": "5s"}]}, "strategy.stages", "belong to strategy kind progressive"),
])
def test_bad_stages_are_refused_naming_file_and_field(tmp_path: Path, strategy: dict[str, Any], field: str, says: str) -> None:
    path = tmp_path / "drills" / "bad.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({**BASE, "strategy": strategy}))
    store, reports = tmp_path / "store.db", tmp_path / "reports"
    result = RUNNER.invoke(app, ["run", str(path), "--store", str(store), "--report-dir", str(reports)], env=NO_DOCKER)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.output
    assert "bad.yaml" in result.output and field in result.output and says in result.output, result.output
    assert not store.exists() and not reports.exists()


def test_disagreement_needs_a_shadow_stage(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    compare = [{"name": "d", "measure": "disagreement"}]
    path.write_text(yaml.safe_dump({**BASE, "strategy": {"kind": "canary", "weight": 10}, "detection": {"compare": compare}}))
    result = RUNNER.invoke(app, ["validate", str(path)])
    assert result.exit_code == ExitStatus.BAD_INPUT and "detection.compare.0.measure" in result.output, result.output
    only_paired = {**BASE, "detection": {"compare": compare}}  # progressive: its canary stage would judge nothing
    path.write_text(yaml.safe_dump(only_paired))
    result = RUNNER.invoke(app, ["validate", str(path)])
    assert result.exit_code == ExitStatus.BAD_INPUT and "a canary stage is judged by" in result.output, result.output


def test_traffic_labelled_drops_the_label_of_a_reproducible_share() -> None:
    from harness.targets.builtin.target import FeatureProtocol
    from harness.traffic.generator import unlabel

    examples = list(FeatureProtocol().examples(2000, 5))
    half = unlabel(examples, 0.5, 42)
    assert 900 < sum(e.expected is None for e in half) < 1100 and half == unlabel(examples, 0.5, 42)
    assert [e.body for e in half] == [e.body for e in examples]  # the same requests, fewer labels
    assert unlabel(examples, 0.0, 42) == examples and all(e.expected is None for e in unlabel(examples, 1.0, 42))
