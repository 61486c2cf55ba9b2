"""The external target against real stacks drill did not start.

A promql stop condition against a real Prometheus (the harness's own image, Debian's Prometheus 2.42) that
scrapes the team's gateway: the staging alarm of an AWS FIS stop condition, on loopback. Prometheus runs in a
container on the host's network namespace, listening on 127.0.0.1 only, so both it (to scrape the in-process
gateway) and the harness (to query it) stay on loopback. The guard names no URL: it queries the external
target's ``prometheus:``, as the detection's PromQL would.

examples/team-stack as a team's staging (``team-staging-guard``): the test starts the team's Compose project
itself, as the team would (labelled, so ``drill clean`` would sweep it; always ``down -v``), and runs
``drill run ... --json`` against it as a user would: the bad canary spends the error budget, the guard aborts
the drill and the team's own ``ops/rollback.sh`` takes the canary out.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.engine.engine import Engine, RunOptions
from harness.outcomes import RunStatus
from harness.spec import catalogue
from harness.stack import compose_cli
from harness.stack.images import ensure_base, ensure_images
from harness.targets.compose.override import dump, override, project_name
from tests.conftest import ROOT, harness_resources
from tests.targets.test_compose_docker import wheels  # noqa: F401  (the registry's MLflow wheels, fetched once)
from tests.targets.test_external_target import write_project
from tests.team_stack import TeamStack, ops_log

pytestmark = pytest.mark.docker
LABEL = "io.drill.run-id"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stack() -> Iterator[TeamStack]:
    team = TeamStack({"v1": 0.0, "v2": 0.0}, stable="v1")
    yield team
    team.close()


@pytest.fixture
def prometheus(docker_client: Any, stack: TeamStack) -> Iterator[str]:
    port = _free_port()
    config = (f"global: {{scrape_interval: 500ms}}\nscrape_configs:\n  - job_name: gateway\n"
              f"    static_configs: [{{targets: ['127.0.0.1:{stack.port}']}}]\n")
    command = (f'printf "%s" "$DRILL_CONFIG" > /tmp/p.yml && exec prometheus --config.file=/tmp/p.yml '
               f"--storage.tsdb.path=/tmp/tsdb --web.listen-address=127.0.0.1:{port}")
    image = ensure_images(docker_client, lambda _m: None).prometheus
    container = docker_client.containers.run(image, entrypoint=["sh", "-c", command], environment={"DRILL_CONFIG": config},
                                             network_mode="host", detach=True, labels={LABEL: f"test-external-{port}"})
    url = f"http://127.0.0.1:{port}"
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 30
        while True:
            try:
                with opener.open(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        container.remove(force=True)


def test_a_promql_guard_on_the_teams_prometheus_aborts_the_drill(tmp_path: Path, stack: TeamStack, prometheus: str) -> None:
    guards = """\
stop_conditions:
  - name: gateway-5xx
    kind: promql
    query: sum(rate(gateway_responses_total{code=~"5.."}[2s]))
    above: 2
"""
    path = write_project(tmp_path, f"{stack.url}/predict", stack.url, stop_conditions=guards, min_samples=10_000)
    path.write_text(path.read_text().replace("  workdir: ../ops\n", f"  workdir: ../ops\n  prometheus: {prometheus}\n"))
    broke: list[float] = []

    def break_after_deploy() -> None:
        deadline = time.time() + 30
        while time.time() < deadline and not any(w.get("v2") for _, w in stack.changes):
            time.sleep(0.05)
        time.sleep(1.0)
        broke.append(stack.break_it())

    threading.Thread(target=break_after_deploy, daemon=True).start()
    result = Engine([]).run(catalogue.load_drill(str(path)), RunOptions(report_root=tmp_path / "reports"))

    assert result.status is RunStatus.ABORTED and result.reason.startswith("guard gateway-5xx: "), result.reason
    trip = result.stopped_by
    assert trip is not None and trip.kind == "promql" and trip.value is not None and trip.value > 2
    assert 0 <= trip.abort_latency_s <= 1.0  # the breach seen -> the abort under way
    # The break -> the abort: Prometheus's scrape (500 ms) and the rate window add their lag, as an alarm's would.
    assert broke and 0 < trip.abort_started_at.timestamp() - broke[0] <= 4.0
    assert [e["action"] for e in ops_log(tmp_path / "ops.log")] == ["deploy", "abort"]
    print(f"promql guard: break -> abort {trip.abort_started_at.timestamp() - broke[0]:.2f}s, "
          f"breach -> abort {trip.abort_latency_s:.3f}s")


# ---- examples/team-stack as a team's staging: started by the team, drilled by the external target ----------
TEAM = ROOT / "examples" / "team-stack"
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Staging:
    label: str  # the io.drill.run-id its containers, network and volumes carry
    env: dict[str, str]  # what the team's commands need to act on it: COMPOSE, COMPOSE_PROJECT_NAME, COMPOSE_FILE
    gateway: str  # http://127.0.0.1:PORT

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*shlex.split(self.env["COMPOSE"]), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=TEAM, env=self.env, check=False)

    def versions(self, n: int) -> list[str]:
        body = json.dumps({"features": [0.1, -0.2, 0.3, -0.4]}).encode()
        found = []
        for _ in range(n):
            request = urllib.request.Request(f"{self.gateway}/predict", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with DIRECT.open(request, timeout=5) as resp:
                    found.append(f"{resp.headers.get('X-Model-Version')} {resp.status}")
            except urllib.error.HTTPError as exc:
                found.append(f"{exc.headers.get('X-Model-Version')} {exc.code}")
            except (OSError, http.client.HTTPException) as exc:  # not up yet
                found.append(f"no answer: {exc}")
        return found


@pytest.fixture
def staging(docker_client: Any, wheels: Path, tmp_path: Path) -> Iterator[Staging]:  # noqa: F811
    """The team's stack up under a project of the test's own: every service, network and volume labelled
    (drill's override file: ``drill clean`` would sweep it), the gateway on a free 127.0.0.1 port."""
    compose = compose_cli.find()
    label = f"test-staging-{secrets.token_hex(4)}"
    base = ensure_base(docker_client, lambda _m: None, force=False)
    plain = {**os.environ, "DRILL_BASE_IMAGE": base}
    config = subprocess.run(compose.command("-f", str(TEAM / "compose.yaml"), "--profile", "*", "config", "--format",
                                            "json"), capture_output=True, text=True, check=True, env=plain, cwd=TEAM)
    labels = tmp_path / "staging-labels.yaml"
    labels.write_text(dump(override(json.loads(config.stdout), label, {"gateway": 8080}, "2g", 512, None, "team-stack")))
    env = {**plain, "COMPOSE": shlex.join(compose.argv), "COMPOSE_PROJECT_NAME": project_name(label),
           "COMPOSE_FILE": os.pathsep.join([str(TEAM / "compose.yaml"), str(labels)]), "COMPOSE_PATH_SEPARATOR": os.pathsep}
    team = Staging(label, env, "")
    try:
        built = team.compose("build", timeout=1800)
        assert built.returncode == 0, built.stderr[-2000:]
        up = team.compose("up", "-d", timeout=600)
        assert up.returncode == 0, up.stderr[-2000:]
        port = team.compose("port", "gateway", "8080").stdout.strip().rpartition(":")[2]
        team.gateway = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600  # MLflow 3 starting and seeded on a loaded machine
        while team.versions(1) != ["2 200"]:
            assert time.monotonic() < deadline, team.compose("logs", "--tail", "20").stdout[-3000:]
            time.sleep(1)
        yield team
    finally:
        team.compose("down", "-v", "--remove-orphans", "--timeout", "5", timeout=300)
        assert harness_resources(docker_client, label) == ([], [], []), "the team's stack was not torn down"


def test_the_team_staging_guard_aborts_and_the_teams_rollback_runs(tmp_path: Path, staging: Staging,
                                                                   docker_client: Any) -> None:
    """``drill run team-staging-guard --json`` as a user runs it: version 3 on a 25 % canary fails its answers, the
    client error budget trips within a second, the team's ``ops/rollback.sh`` runs as the abort, exit 1."""
    port = staging.gateway.rpartition(":")[2]
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(TEAM / "drills" / "team-staging-guard.yaml"),
                           "--json", "--var", f"gateway_port={port}", "--report-dir", str(tmp_path / "reports")],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path,
                          env={**staging.env, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db"})
    assert proc.stdout, proc.stderr
    result = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stderr  # aborted by a guard: the way back was not proven
    assert result["status"] == "aborted" and result["target"] == "external", result["reason"]
    assert result["reason"].startswith("guard client-budget: error rate "), result["reason"]
    trip = result["stopped_by"]
    assert trip["name"] == "client-budget" and trip["kind"] == "error_budget" and trip["value"] > 0.05
    assert 0 <= trip["abort_latency_s"] < 1.0  # the breach seen -> the abort under way
    assert trip["abort_ok"], trip["abort_commands"]
    [abort] = trip["abort_commands"]
    assert abort["argv"] == ["./ops/rollback.sh", "2"] and abort["exit_code"] == 0
    assert result["traffic"]["by_version"].get("3", 0) > 0  # the team's canary of version 3 really served
    assert "rollback" not in [p["name"] for p in result["phases"]]  # the abort was the way back: no runbook after it
    # The abort's effect, seen from outside: the gateway serves version 2 only, the canary is gone, MLflow's
    # champion is 2 and the candidate alias deleted.
    assert set(staging.versions(20)) == {"2 200"}
    assert staging.compose("ps", "--services", "--status", "running").stdout.split().count("canary") == 0
    alias = staging.compose("exec", "-T", "registry", "python3", "/opt/team/alias.py", "get", "champion")
    assert alias.stdout.strip() == "2", alias.stderr
    # drill started nothing: no container, network or volume of its run; the team's stack is left to the team.
    assert harness_resources(docker_client, str(result["run_id"])) == ([], [], [])
    print(f"team staging guard: breach -> abort {trip['abort_latency_s']:.3f}s; abort command {abort['duration_s']:.2f}s")
