"""registry.check_prior_versions through the runbook executor, over real registries (file and MLflow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.engine.context import RunContext
from harness.engine.events import Event
from harness.engine.results import StepStatus
from harness.ports import Endpoint, ModelRegistry
from harness.runbook import executor as runbook
from harness.spec.models import FaultSpec, RunbookSpec
from harness.targets.builtin.registry import Registry
from harness.targets.builtin.seed import seed_registry
from harness.traffic.generator import LoadGenerator
from tests.conftest import need_mlflow
from tests.fakes import FakeTarget

FAULT = FaultSpec(kind="error_slice", feature="x0", above=0.52)


def _check(registry: ModelRegistry, candidate: str, **params: object) -> tuple[StepStatus, str]:
    target = FakeTarget()
    target.registry = registry  # type: ignore[assignment]  # a real registry in the fake target's seam
    load = LoadGenerator(Endpoint("127.0.0.1", 9), target.protocol, rate=1)  # never started
    ctx = RunContext(target=target, load=load, emit=lambda e: None, variables={"candidate_version": candidate})
    spec = RunbookSpec.model_validate({"name": "preflight", "steps": [
        {"name": "prior-versions", "action": "registry.check_prior_versions", "params": params,
         "retry": {"attempts": 1}}]})
    events: list[Event] = []
    step = runbook.execute(spec, ctx, events.append).steps[0]
    return step.status, step.error or step.detail


@pytest.fixture
def file_registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "registry", "fraud")
    seed_registry(reg, FAULT)
    return reg


def test_two_good_prior_versions_pass(file_registry: Registry) -> None:
    status, detail = _check(file_registry, "v3")
    assert status is StepStatus.OK, detail
    assert detail == "2 prior versions deployable: v2, v1"


def test_a_corrupt_prior_version_fails_naming_it(file_registry: Registry) -> None:
    artifact = file_registry.dir / "versions" / "v1" / "model.json"
    artifact.write_bytes(artifact.read_bytes()[:-5] + b"junk}")
    status, error = _check(file_registry, "v3")
    assert status is StepStatus.FAILED
    assert "1 prior version(s) of fraud before v3 deployable (v2), need 2" in error
    assert "v1: fraud/v1: artifact corrupt" in error


def test_too_few_versions_and_an_unknown_reference(file_registry: Registry) -> None:
    status, error = _check(file_registry, "v2")
    assert status is StepStatus.FAILED and "(v1), need 2" in error and "no earlier" in error
    status, error = _check(file_registry, "v3", minimum=1)
    assert status is StepStatus.OK and error == "1 prior versions deployable: v2"
    status, error = _check(file_registry, "v9")
    assert status is StepStatus.FAILED and "no version 'v9'" in error


def test_mlflow_registry_missing_artifact_is_named(tmp_path: Path) -> None:
    need_mlflow()
    from harness.targets.mlflow.models import seed_versions
    from harness.targets.mlflow.registry import MlflowRegistry

    registry = MlflowRegistry(f"file://{tmp_path}/mlruns", "fraud")
    seed_versions(registry, FAULT.model_dump(exclude_none=True))
    assert _check(registry, "3") == (StepStatus.OK, "2 prior versions deployable: 2, 1")
    source = registry.client.get_model_version("fraud", "2").source
    shutil.rmtree(Path(source.removeprefix("file://")))
    status, error = _check(registry, "3")
    assert status is StepStatus.FAILED
    assert "fraud version 2 (artifact file://" in error and "need 2" in error


def test_preflight_failure_fails_the_drill_with_nothing_deployed(tmp_path: Path) -> None:
    from harness.engine.engine import Engine, RunOptions
    from harness.engine.results import RunStatus
    from harness.spec import catalogue
    from tests.fakes import FakeTarget, factory

    drill = catalogue.load_drill("registry-prior-versions")
    assert [s.action for s in drill.spec.preflight] == ["registry.check_prior_versions"]
    broken = FakeTarget(broken={"v1"})
    result = Engine(make_target=factory(broken)).run(drill, RunOptions(report_root=tmp_path))
    assert result.status is RunStatus.FAILED
    assert result.reason.startswith("pre-flight step check-prior-versions failed: 1 prior version(s)")
    assert "v1: fraud/v1: artifact corrupt" in result.reason
    assert [p.name for p in result.phases] == ["prepare", "baseline", "preflight", "teardown"]
    assert broken.registry.aliases()["champion"] == "v2" and not broken.backend.running("candidate")


def test_preflight_steps_are_validated_with_the_drill(tmp_path: Path) -> None:
    from harness.errors import SpecError
    from harness.spec import catalogue

    (tmp_path / "drills").mkdir()
    source = (catalogue.BUILTIN_ROOT / "drills" / "registry-prior-versions.yaml").read_text()
    bad = tmp_path / "drills" / "bad.yaml"
    bad.write_text(source.replace("{before: \"${candidate_version}\", minimum: 2}", "{minimum: 0}"))
    with pytest.raises(SpecError) as caught:
        catalogue.load_drill(str(bad))
    issue = caught.value.issues[0]
    assert issue.field == "preflight.0.params.minimum" and issue.line == 15


def test_a_passing_preflight_lets_the_drill_go_on(tmp_path: Path) -> None:
    from harness.engine.engine import Engine, RunOptions
    from harness.engine.results import RunStatus
    from harness.spec import catalogue
    from tests.fakes import FakeTarget, NoMetrics, factory

    drill = catalogue.load_drill("registry-prior-versions")
    target = FakeTarget(bad=set())
    check = drill.spec.detection.metrics[0]  # decisive: a Prometheus that saw 100 candidate answers, no 5xx
    target.metrics = NoMetrics({check.query: 0.0, check.samples_query or "": 100.0})
    result = Engine(make_target=factory(target)).run(drill, RunOptions(report_root=tmp_path))
    assert result.steps[0].name == "check-prior-versions" and result.steps[0].detail == "2 prior versions deployable: v2, v1"
    assert "preflight" in [p.name for p in result.phases] and "deploy" in [p.name for p in result.phases]
    assert result.status is RunStatus.PASSED, result.reason


def test_an_mlflow_drill_with_a_fault_no_model_version_can_carry_is_refused(tmp_path: Path) -> None:
    from harness.errors import SpecError
    from harness.spec import catalogue

    (tmp_path / "drills").mkdir()
    source = (catalogue.BUILTIN_ROOT / "drills" / "mlflow-canary-fail.yaml").read_text()
    bad = tmp_path / "drills" / "bad.yaml"
    start = source.index("fault:\n")
    end = source.index("traffic:", start)
    bad.write_text(source[:start] + "fault: {kind: renamed_feature, feature: x0, rename_to: x0_v2}\n" + source[end:])
    with pytest.raises(SpecError, match="an MLflow model version carries its own fault"):
        catalogue.load_drill(str(bad))
    assert catalogue.load_drill("mlflow-canary-fail").spec.target.kind == "mlflow"
