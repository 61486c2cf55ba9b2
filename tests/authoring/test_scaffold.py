"""`drill init`: the scaffolded drill and runbook load as they are; bad flags exit 2 and write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.authoring.scaffold import model_name, scaffold
from harness.cli.main import app
from harness.errors import SpecError
from harness.spec import catalogue
from harness.targets.image.spec import ImageTargetSpec


@pytest.mark.parametrize(("image", "name"), [
    ("team/fraud-model:1.4", "fraud-model"), ("registry.example:5000/a/B_c@sha256:abc", "b-c"), ("model", "model"),
])
def test_model_names_from_images(image: str, name: str) -> None:
    assert model_name(image) == name


def test_the_scaffold_loads_and_runs_the_image_as_both_versions(tmp_path: Path) -> None:
    done = scaffold(tmp_path, "team/fraud-model:1.4", port=9000, predict_path="/v1/score")
    drill = catalogue.load_drill(str(tmp_path / "drills" / "fraud-model-canary.yaml"))
    target = drill.spec.target
    assert isinstance(target, ImageTargetSpec)
    assert (target.port, target.predict_path, target.health_path) == (9000, "/v1/score", "/healthz")
    assert {v.image for v in target.versions.values()} == {"team/fraud-model:1.4"}
    assert drill.spec.fault.inject and drill.spec.fault.kind == "error"
    assert drill.runbook.name == "fraud-model-rollback"
    assert target.request.source == (tmp_path / "requests.jsonl").resolve()
    assert [p.name for p in done.written] == ["fraud-model-canary.yaml", "fraud-model-rollback.yaml", "requests.jsonl"]


def test_an_existing_request_file_is_used_and_kept(tmp_path: Path) -> None:
    requests = tmp_path / "samples" / "mine.jsonl"
    requests.parent.mkdir()
    requests.write_text('{"body": {"x": 1}, "expect": 0}\n')
    done = scaffold(tmp_path / "project", "m:1", requests=requests)
    assert done.kept == (requests.resolve(),)
    drill = catalogue.load_drill(str(tmp_path / "project" / "drills" / "m-canary.yaml"))
    assert isinstance(drill.spec.target, ImageTargetSpec) and drill.spec.target.request.source == requests.resolve()


def test_existing_files_are_not_overwritten_without_force(tmp_path: Path) -> None:
    scaffold(tmp_path, "m:1")
    drill = tmp_path / "drills" / "m-canary.yaml"
    drill.write_text("mine")
    with pytest.raises(SpecError, match="exists; pass --force"):
        scaffold(tmp_path, "m:1")
    assert drill.read_text() == "mine"
    scaffold(tmp_path, "m:1", force=True)
    assert drill.read_text() != "mine"


def test_the_command_exits_2_naming_bad_flags_and_writes_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", "--image", "m:1", "--port", "0", "--predict-path", "predict",
                                      "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "port" in result.output and "--predict-path" in result.output
    assert not (tmp_path / "drills").exists()


def test_the_command_writes_and_says_what_next(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", "--image", "team/m:2", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "drill run m-canary" in result.output
    assert (tmp_path / "runbooks" / "m-rollback.yaml").is_file()
