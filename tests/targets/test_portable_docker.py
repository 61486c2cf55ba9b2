"""Portable engines: during a drill the harness process connects only to the Docker API and 127.0.0.1.

Each test runs a drill through the CLI in a subprocess with an audit hook on ``socket.connect``
(tests/audited_drill.py) and checks every address it connected to: published ports on 127.0.0.1 and the
Docker socket, never a container's own address (which Docker Desktop's or a remote engine's host cannot
reach; see docs/engines.md). One drill per target kind: the team image (its readiness probe runs inside
the router's container), the built-in demo stack, MLflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audited_drill import allowed
from tests.conftest import ROOT

pytestmark = pytest.mark.docker
EXAMPLE = ROOT / "examples" / "tumor-classifier"


def docker_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return host.removeprefix("unix://") if host.startswith("unix://") else ""


def audited_run(tmp_path: Path, drill: str, project: Path | None = None) -> tuple[dict[str, object], list[list[object]]]:
    out = tmp_path / "connects.json"
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db"}
    if project is not None:
        env["DRILL_PATH"] = str(project)
    proc = subprocess.run([sys.executable, "-m", "tests.audited_drill", str(out), "run", drill, "--json",
                           "--report-dir", str(tmp_path / "reports")],
                          check=False, capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr
    connects: list[list[object]] = json.loads(out.read_text())
    return json.loads(proc.stdout), connects


def assert_local_only(connects: list[list[object]]) -> None:
    assert connects, "the audit hook saw no connection at all: it cannot have been installed"
    sock = docker_socket()
    strangers = sorted({f"{family} {address}" for family, address in connects if not allowed(str(family), address, sock)})
    assert strangers == [], f"the harness connected beyond the Docker API and 127.0.0.1: {strangers}"
    assert any(family == "AF_INET" for family, _ in connects), "no published port was used (the traffic?)"


def test_an_image_target_drill_connects_only_to_docker_and_loopback(tmp_path: Path, docker_client: object) -> None:
    if not any((EXAMPLE / "wheels").glob("pip-*.whl")):
        proc = subprocess.run([str(EXAMPLE / "fetch-wheels.sh")], check=False, capture_output=True, text=True,
                              timeout=600, env={**os.environ, "PIP": f"{sys.executable} -m pip"})
        assert proc.returncode == 0, proc.stderr
    result, connects = audited_run(tmp_path, "tumor-canary-5xx", EXAMPLE)
    assert result["decision"] == "rollback", (result["status"], result.get("reason"))
    assert_local_only(connects)


def test_a_builtin_drill_connects_only_to_docker_and_loopback(tmp_path: Path, docker_client: object) -> None:
    result, connects = audited_run(tmp_path, "canary-fail")
    assert result["decision"] == "rollback", (result["status"], result.get("reason"))
    assert_local_only(connects)


def test_an_mlflow_drill_connects_only_to_docker_and_loopback(tmp_path: Path, docker_client: object) -> None:
    result, connects = audited_run(tmp_path, "mlflow-canary-fail")
    assert result["decision"] == "rollback", (result["status"], result.get("reason"))
    assert_local_only(connects)


def test_the_rule_itself_refuses_a_container_address() -> None:
    assert not allowed("AF_INET", ["172.21.0.3", 8080], "/var/run/docker.sock")
    assert not allowed("AF_UNIX", "/tmp/other.sock", "/var/run/docker.sock")
    assert allowed("AF_INET", ["127.0.0.1", 32768], "/var/run/docker.sock")
    assert allowed("AF_UNIX", "/var/run/docker.sock", "/var/run/docker.sock")
