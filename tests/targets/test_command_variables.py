"""``--var NAME=VALUE`` in a target's own commands, as in a runbook's ``run`` step: a compose target's
``deploy:``/``promote:`` and an external target's commands (and its entrypoint's port) fill them in and pass them
on in the environment; an unknown ``${NAME}`` is bad input (exit 2) naming the file and the field before anything
starts, never an empty string or a ``${NAME}`` left as written. No Docker: the team's commands are small scripts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from harness.cli.main import app
from harness.engine.engine import Engine, RunOptions
from harness.exit_codes import ExitStatus
from harness.outcomes import RunStatus
from harness.spec import catalogue
from harness.targets.compose.target import ComposeTarget
from harness.targets.external.target import ExternalTarget
from tests.targets.test_external_target import write_project
from tests.team_stack import TeamStack, ops_log

ROOT = Path(__file__).resolve().parents[2]
TEAM = ROOT / "examples" / "team-stack"
RUNNER = CliRunner()
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
RECORD = """#!/bin/sh
# record.sh ARGS...: what the team's command was given, and the variables it sees in its environment.
printf '{"argv": "%s", "canary_weight": "%s", "candidate_version": "%s"}\\n' "$*" "${canary_weight:-}" \
  "${candidate_version:-}" >> "$(dirname "$0")/../record.jsonl"
"""


def _compose_drill(tmp_path: Path, **target: object) -> Path:
    """examples/team-stack's canary drill on a copy of the project whose ops/ has record.sh."""
    base = yaml.safe_load((TEAM / "drills" / "team-canary-rollback.yaml").read_text())
    root = tmp_path / "team"
    shutil.copytree(TEAM / "runbooks", root / "runbooks")
    shutil.copytree(TEAM / "ops", root / "ops")
    shutil.copy(TEAM / "requests.jsonl", root / "requests.jsonl")
    (root / "ops" / "record.sh").write_text(RECORD)
    (root / "ops" / "record.sh").chmod(0o755)
    (root / "compose.yaml").write_text("services:\n  gateway: {image: x}\n  registry: {image: x}\n  prometheus: {image: x}\n")
    base["target"].update(target)
    path = root / "drills" / "d.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def _run(path: Path, *flags: str) -> tuple[int, str]:
    result = RUNNER.invoke(app, ["run", str(path), "--store", str(path.parent / "s.db"), "--report-dir",
                                 str(path.parent / "r"), *flags], env=NO_DOCKER)
    return result.exit_code, result.output


# ---- a compose target's deploy and promote --------------------------------------------------------
def test_an_unknown_variable_in_a_compose_deploy_is_bad_input_naming_file_and_field(tmp_path: Path) -> None:
    path = _compose_drill(tmp_path, deploy=["./ops/deploy-canary.sh", "${candidate_version}", "${canary_weight}"],
                          promote=["./ops/promote.sh", "${promote_to}"])
    code, said = _run(path, "--var", "canary_weight=10")
    assert code == ExitStatus.BAD_INPUT, said
    assert "d.yaml:" in said and "target.promote: uses ${promote_to}, which is not set; give --var promote_to=VALUE" in said
    assert "canary_weight" not in said.replace("--var canary_weight", "")  # the one given is not reported
    assert not (path.parent / "s.db").exists() and not (path.parent / "r").exists()  # nothing started or written
    code, said = _run(path, "--dry-run")  # the plan checks too: both names are reported at once
    assert code == ExitStatus.BAD_INPUT and "target.deploy: uses ${canary_weight}" in said and "${promote_to}" in said
    code, said = _run(path, "--dry-run", "--var", "canary_weight=10", "--var", "promote_to=3")
    assert code == 0, said


def test_a_compose_deploy_gets_the_var_values_filled_in_and_in_its_environment(tmp_path: Path) -> None:
    path = _compose_drill(tmp_path, deploy=["./ops/record.sh", "${candidate_version}", "${canary_weight}"],
                          promote=["./ops/record.sh", "promote", "${canary_weight}"])
    target = ComposeTarget(catalogue.load_drill(str(path)), "run-1", tmp_path / "work")
    target.command_env = lambda: {}  # type: ignore[method-assign]  # no Compose project started here
    target.use_variables({"canary_weight": "10", "candidate_version": "not-this"})  # a built-in is never overridden
    target.backend._run("deploy", target.spec.deploy)  # start's move (its endpoint needs the started project)
    target.backend.stop("stable")  # late's retirement of the stable version: the team's promote
    seen = [json.loads(line) for line in (path.parents[1] / "record.jsonl").read_text().splitlines()]
    assert seen == [{"argv": "3 10", "canary_weight": "10", "candidate_version": "3"},
                    {"argv": "promote 10", "canary_weight": "10", "candidate_version": "3"}]


# ---- an external target's commands and entrypoint --------------------------------------------------
def test_an_external_target_refuses_an_unknown_variable_and_a_var_it_sets_itself(tmp_path: Path) -> None:
    drill = write_project(tmp_path, "http://127.0.0.1:${gateway_port}/predict", "http://127.0.0.1:${gateway_port}")
    store, reports = tmp_path / "store.db", tmp_path / "reports"
    base = ["run", str(drill), "--store", str(store), "--report-dir", str(reports)]
    result = RUNNER.invoke(app, base)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.output
    assert "staging-canary.yaml:" in result.output
    assert "target.url: uses ${gateway_port}, which is not set; give --var gateway_port=VALUE" in result.output
    assert "target.env: uses ${gateway_port}" in result.output
    result = RUNNER.invoke(app, [*base, "--var", "gateway_port=9", "--var", "weight=5"])
    assert result.exit_code == ExitStatus.BAD_INPUT and "'weight' is set by the external target itself" in result.output
    assert not store.exists() and not reports.exists() and not (tmp_path / "ops.log").exists()


def test_a_variable_may_not_name_the_host_of_an_external_entrypoint(tmp_path: Path) -> None:
    drill = write_project(tmp_path, "http://${gateway_host}:8080/predict", "http://127.0.0.1:9")
    result = RUNNER.invoke(app, ["validate", str(drill)])
    assert result.exit_code == ExitStatus.BAD_INPUT and "target.url" in result.output and "not its host" in result.output


def test_external_commands_fill_var_values_into_arguments_and_env(tmp_path: Path) -> None:
    drill = write_project(tmp_path, "http://127.0.0.1:${gateway_port}/predict", "http://127.0.0.1:${gateway_port}")
    target = ExternalTarget(catalogue.load_drill(str(drill)), "run-1", tmp_path / "work")
    target.use_variables({"gateway_port": "8123"})
    assert (target.traffic_endpoint.host, target.traffic_endpoint.port) == ("127.0.0.1", 8123)
    assert target.url == "http://127.0.0.1:8123/predict" and target.protocol.path == "/predict"
    command = target.spec.deploy[0]
    assert target.moves.argv(command)[-3:] == ["v1", "v2", "30"]
    env = target.moves.env(command)
    assert env["GATEWAY"] == "http://127.0.0.1:8123" and env["gateway_port"] == "8123" and env["weight"] == "30"


def test_an_external_drill_reaches_its_entrypoint_through_a_var_port(tmp_path: Path) -> None:
    """The engine hands the --var values to the target: the traffic, the team's commands and their env all use them."""
    stack = TeamStack({"v1": 0.0, "v2": 0.5}, stable="v1")
    try:
        path = write_project(tmp_path, "http://127.0.0.1:${gateway_port}/predict", "http://127.0.0.1:${gateway_port}")
        result = Engine([]).run(catalogue.load_drill(str(path)),
                                RunOptions(report_root=tmp_path / "reports", variables={"gateway_port": str(stack.port)}))
    finally:
        stack.close()
    assert result.status is RunStatus.PASSED, result.reason
    assert [e["action"] for e in ops_log(tmp_path / "ops.log")] == ["deploy", "rollback"]
    assert result.traffic is not None and result.traffic.by_version.get("v2", 0) > 0
