"""The image target without Docker: its spec (request file, versions, paths), protocol reader and registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.ports import Example, RollbackEvent, Versions
from harness.spec import catalogue
from harness.targets.builtin.registry import RegistryError
from harness.targets.image.build import context_digest
from harness.targets.image.protocol import MISSING, JsonlProtocol, dotted
from harness.targets.image.registry import ImageRegistry
from harness.targets.image.spec import BuildSpec, ImageTargetSpec, load_requests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tumor-classifier"

RUNBOOK = """name: rb
steps:
  - {name: announce, action: notify, params: {message: hi}}
"""


def project(tmp_path: Path, target: str, requests: str = '{"body": {"x": 1}, "expect": "a"}\n', fault: str = "{kind: none}") -> Path:
    """A team's project on disk: drills/d.yaml with the given target block, runbooks/rb.yaml, requests.jsonl."""
    (tmp_path / "drills").mkdir()
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "rb.yaml").write_text(RUNBOOK)
    (tmp_path / "requests.jsonl").write_text(requests)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    drill = tmp_path / "drills" / "d.yaml"
    drill.write_text(
        "name: d\nroot_cause: other\nrunbook: rb\n"
        f"fault: {fault}\n"
        "detection: {compare: [{name: c, measure: incorrect}]}\n"
        + target
    )
    return drill


GOOD_TARGET = """target:
  kind: image
  request: {source: ../requests.jsonl}
  prediction_field: result.label
  versions:
    v1: {image: "team/model:1"}
    v2: {build: {context: .., args: {V: "2"}}}
  stable: v1
  candidate: v2
"""


def test_an_image_target_loads_with_paths_relative_to_the_drill(tmp_path: Path) -> None:
    drill = catalogue.load_drill(str(project(tmp_path, GOOD_TARGET)))
    target = drill.spec.target
    assert isinstance(target, ImageTargetSpec)
    assert target.request.source == (tmp_path / "requests.jsonl").resolve()
    build = target.versions["v2"].build
    assert build is not None and build.context == tmp_path.resolve()
    assert (target.port, target.health_path, target.predict_path, target.read_only) == (8080, "/healthz", "/predict", True)


def test_the_example_project_validates() -> None:
    for path in sorted((EXAMPLE / "drills").glob("*.yaml")):
        drill = catalogue.load_drill(str(path))
        assert isinstance(drill.spec.target, ImageTargetSpec)
        assert drill.runbook.name == "tumor-canary-rollback"


@pytest.mark.parametrize(("requests", "line", "field", "message"), [
    ('{"body": {}}\nnot json\n', 2, "-", "bad JSON"),
    ('[1, 2]\n', 1, "-", "expected an object"),
    ('{"expect": "a"}\n', 1, "body", "missing"),
    ('{"body": {}, "label": "a"}\n', 1, "label", "unknown key"),
    ('{"body": {}, "protected": "yes"}\n', 1, "protected", "true or false"),
    ('\n\n', 1, "request.source", "no requests"),
])
def test_a_bad_request_file_names_its_file_and_line(tmp_path: Path, requests: str, line: int, field: str, message: str) -> None:
    drill = project(tmp_path, GOOD_TARGET, requests)
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(drill))
    issue = exc.value.issues[0]
    assert issue.file == str((tmp_path / "requests.jsonl").resolve())
    assert (issue.line, issue.field) == (line, field) and message in issue.message


def test_a_missing_request_file_is_named(tmp_path: Path) -> None:
    drill = project(tmp_path, GOOD_TARGET.replace("../requests.jsonl", "../nope.jsonl"))
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(drill))
    [issue] = exc.value.issues  # the drill's error, at the line of its source: field
    assert issue.file == str(drill) and issue.field == "target.request.source" and "nope.jsonl" in issue.message
    assert issue.line is not None and "source:" in drill.read_text().splitlines()[issue.line - 1]


@pytest.mark.parametrize(("change", "field", "message"), [
    (("candidate: v2", "candidate: v9"), "target", "no such version"),
    (("candidate: v2", "candidate: v1"), "target", "must be different"),
    (('v1: {image: "team/model:1"}', "v1: {}"), "target.versions.v1", "exactly one of image"),
    (("context: ..", "context: ../nowhere"), "target.versions.v2.build.context", "no build context"),
    (("args: {V: \"2\"}", "dockerfile: Nope.Dockerfile"), "target.versions.v2.build", "no Dockerfile"),
    (("kind: image", "kind: image\n  predict_path: predict"), "target.predict_path", "absolute URL path"),
    (("kind: image", "kind: image\n  version: {header: X-V, json_field: v}"), "target.version", "not both"),
    (("kind: image", "kind: image\n  memory: lots"), "target.memory", "memory size"),
    (("kind: image", "kind: lambda"), "target", "no target kind 'lambda'"),
])
def test_bad_target_blocks_name_the_field(tmp_path: Path, change: tuple[str, str], field: str, message: str) -> None:
    drill = project(tmp_path, GOOD_TARGET.replace(*change))
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(drill))
    by_field = {i.field: i for i in exc.value.issues}
    assert field in by_field, by_field
    assert message in by_field[field].message and by_field[field].file == str(drill)
    assert by_field[field].line is not None


def test_an_image_target_needs_a_real_bad_version_or_an_injected_fault(tmp_path: Path) -> None:
    drill = project(tmp_path, GOOD_TARGET, fault="{kind: error_slice, feature: x0, above: 0.5}")
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(drill))
    assert any("inject: true" in i.message for i in exc.value.issues)


@pytest.mark.parametrize(("fault", "message"), [
    ("{kind: error}", "set inject: true"),
    ("{kind: crash, inject: true}", "an injected fault is one of"),
    ("{kind: error, inject: true, rate: 1.5}", "less than or equal to 1"),
    ("{kind: error, inject: true, status: 200}", "greater than or equal to 400"),
])
def test_injected_fault_specs(tmp_path: Path, fault: str, message: str) -> None:
    drill = project(tmp_path, GOOD_TARGET, fault=fault)
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(drill))
    assert any(message in i.message for i in exc.value.issues), exc.value.issues


def test_injected_faults_are_for_image_targets(tmp_path: Path) -> None:
    drill = project(tmp_path, "", fault="{kind: error, inject: true, rate: 0.3}")
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(drill))
    assert any("inject: true is for target kind image" in i.message for i in exc.value.issues)


def test_a_scalar_target_is_still_the_time_target(tmp_path: Path) -> None:
    drill = project(tmp_path, "target: 2m\n")
    spec = catalogue.load_drill(str(drill)).spec
    assert spec.time_target == 120.0 and spec.target.kind == "builtin"


# ---- the protocol reader -------------------------------------------------------------------
def protocol(tmp_path: Path, **target: object) -> JsonlProtocol:
    (tmp_path / "r.jsonl").write_text('{"body": {"x": 1}, "expect": "malignant"}\n{"body": "raw text"}\n')
    spec = ImageTargetSpec.model_validate(
        {"kind": "image", "request": {"source": "r.jsonl"}, "versions": {"a": {"image": "x"}, "b": {"image": "y"}},
         "stable": "a", "candidate": "b", **target}, context={"spec_dir": tmp_path})
    return JsonlProtocol(spec)


def test_examples_come_from_the_file_reproducibly(tmp_path: Path) -> None:
    proto = protocol(tmp_path)
    first = proto.examples(50, seed=3)
    assert first == proto.examples(50, seed=3) and len(first) == 50
    bodies = {e.body for e in first}
    assert bodies == {json.dumps({"x": 1}).encode(), b"raw text"}
    assert {e.expected for e in first} == {"malignant", None}


def test_reading_a_header_version_and_a_dotted_prediction(tmp_path: Path) -> None:
    proto = protocol(tmp_path, version={"header": "X-Model-Version"}, prediction_field="result.diagnosis")
    ex = Example(b"{}", "malignant")
    body = json.dumps({"result": {"diagnosis": "malignant"}}).encode()
    assert proto.read(ex, 200, {"x-model-version": "v2"}, body).version == "v2"
    assert proto.read(ex, 200, {}, body).correct is True
    wrong = json.dumps({"result": {"diagnosis": "benign"}}).encode()
    assert proto.read(ex, 200, {}, wrong).correct is False
    assert proto.read(ex, 200, {}, b'{"result": {}}').correct is False  # no prediction is a wrong answer
    assert proto.read(ex, 200, {}, b"<html>").correct is False  # a 2xx that is not JSON
    assert proto.read(Example(b"{}"), 200, {}, wrong).correct is None  # no expected answer: unknown
    failed = proto.read(ex, 503, {"x-model-version": "v3"}, b"oops")
    assert (failed.version, failed.correct) == ("v3", None)


def test_reading_a_json_field_version(tmp_path: Path) -> None:
    proto = protocol(tmp_path, version={"json_field": "meta.version"}, prediction_field="label")
    reading = proto.read(Example(b"{}", 1), 200, {}, b'{"meta": {"version": "v7"}, "label": 1}')
    assert (reading.version, reading.prediction, reading.correct) == ("v7", 1, True)


def test_no_version_reader_leaves_it_to_the_router(tmp_path: Path) -> None:
    proto = protocol(tmp_path)
    assert proto.read(Example(b"{}"), 200, {"x-model-version": "v2"}, b"anything").version is None


@pytest.mark.parametrize(("data", "path", "found"), [
    ({"a": {"b": 1}}, "a.b", 1), ({"a": [5, 6]}, "a.1", 6), ({"a": [5, 6]}, "a.-1", 6), ({"a": None}, "a", None),
    ({"a": 1}, "a.b", MISSING), ({}, "x", MISSING), ({"a": [5]}, "a.3", MISSING),
])
def test_dotted_paths(data: object, path: str, found: object) -> None:
    assert dotted(data, path) is found if found is MISSING else dotted(data, path) == found


# ---- the registry ------------------------------------------------------------------------------
def test_registry_promote_and_restore_keep_two_ways_back(tmp_path: Path) -> None:
    checked: list[str] = []
    registry = ImageRegistry("m", tmp_path, ["v1", "v2", "v3"], Versions("v1", "v2", "v3"), checked.append)
    assert registry.aliases() == {"previous": "v1", "champion": "v2"}
    registry.promote("v3", "deploy")
    assert registry.aliases() == {"previous": "v2", "champion": "v3"}
    assert registry.restore_previous("rollback") == "v2"
    assert registry.aliases() == {"previous": "v1", "champion": "v2"} and checked == ["v2"]
    assert [h["alias"] for h in registry.history()][-2:] == ["champion", "previous"]
    assert json.loads((tmp_path / "aliases.json").read_text()) == registry.aliases()


def test_registry_refuses_a_version_whose_image_is_gone(tmp_path: Path) -> None:
    def deployable(version: str) -> None:
        if version == "v2":
            raise RegistryError("m/v2: image drill-team-m:run-x-v2 is missing")

    registry = ImageRegistry("m", tmp_path, ["v1", "v2", "v3"], Versions("v1", "v2", "v3"), deployable)
    registry.promote("v3", "deploy")
    with pytest.raises(RegistryError, match="v2: image"):
        registry.restore_previous("rollback")
    assert registry.aliases()["champion"] == "v3"  # nothing moved
    with pytest.raises(RegistryError, match="no version"):
        registry.set_alias("champion", "v9", "typo")


def test_registry_records_rollbacks(tmp_path: Path) -> None:
    registry = ImageRegistry("m", tmp_path, ["v2", "v3"], Versions("v2", "v2", "v3"), lambda v: None)
    assert registry.aliases() == {"champion": "v2"}  # no previous named: no previous alias
    registry.record_rollback(RollbackEvent("run-1", "v3", "v2", None, None, "automated", "performance"))
    assert registry.rollbacks()[0]["from_version"] == "v3"


# ---- build inputs --------------------------------------------------------------------------------
def test_the_build_digest_follows_the_context_and_respects_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / ".dockerignore").write_text("notes.md\n")
    build = BuildSpec(context=tmp_path)
    first = context_digest(build, {"V": "1"})
    assert context_digest(build, {"V": "2"}) != first
    (tmp_path / "notes.md").write_text("ignored")
    assert context_digest(build, {"V": "1"}) == first
    (tmp_path / "app.py").write_text("print(2)\n")
    assert context_digest(build, {"V": "1"}) != first


def test_load_requests_reads_the_example() -> None:
    lines = load_requests(EXAMPLE / "requests.jsonl")
    assert len(lines) == 171 and {line.expect for line in lines} == {"malignant", "benign"}


# ---- which drills --all runs -----------------------------------------------------------------------
def test_run_all_runs_the_projects_drills_and_the_catalogue_only_without_a_project(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no drills/ here
    monkeypatch.setenv("DRILL_PATH", str(EXAMPLE))
    assert catalogue.project_drill_names() == sorted(p.stem for p in (EXAMPLE / "drills").glob("*.yaml"))
    assert "canary-fail" in catalogue.drill_names()  # the catalogue is still listed and loadable by name
    monkeypatch.setenv("DRILL_PATH", "")
    assert "canary-fail" in catalogue.project_drill_names()


# ---- the fault proxy's configuration from a drill's fault ------------------------------------------
def test_proxy_env_carries_the_drills_fault() -> None:
    from harness.ports import Endpoint
    from harness.serving.fault_proxy import FaultConfig
    from harness.spec.models import FaultSpec
    from harness.targets.image.backend import describe, proxy_env

    fault = FaultSpec(kind="wrong_body", inject=True, rate=0.5, body={"result": {"diagnosis": "benign"}})
    env = proxy_env(fault, Endpoint("172.30.0.5", 8080), "/predict")
    config = FaultConfig.from_env(env)  # what the proxy in the container will read
    assert (config.upstream_host, config.upstream_port, config.kind, config.rate) == ("172.30.0.5", 8080, "wrong_body", 0.5)
    assert json.loads(config.body) == {"result": {"diagnosis": "benign"}} and config.paths == ("/predict",)
    assert "50% of predict requests answered 200 with a wrong body" in describe(fault)
    assert "503" in describe(FaultSpec(kind="error", inject=True, rate=0.3))
    assert "no injected fault" in describe(FaultSpec(kind="none"))


def test_a_teams_labels_are_not_forbidden_classes() -> None:
    from harness.engine.verdict import bad_answer
    from harness.traffic.generator import Sample

    assert not bad_answer(Sample(0.0, 200, "v3", 0.01, True, False, None, "benign"), "v3")
    assert bad_answer(Sample(0.0, 200, "v3", 0.01, True, False, None, 2), "v3")  # the built-in forbidden class
    assert bad_answer(Sample(0.0, 503, "v3", 0.01, None, False, None, None), "v3")
