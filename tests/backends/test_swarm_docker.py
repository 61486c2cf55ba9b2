"""Drills on Docker Swarm, through the CLI: replicated services, the router following Swarm's DNS, Swarm's own
rollback, and the engine's swarm state left as it was found (inactive stays inactive, no docker_gwbridge).

These tests init and leave a swarm on the engine (only this module does). Durations are printed (pytest -s):
swarm init and the whole drill; they are noisy on a shared machine.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import harness_resources
from tests.test_drill_docker import _run

pytestmark = pytest.mark.docker
SWARM_NETWORKS = ("docker_gwbridge", "ingress")


def _swarm_state(client: Any) -> tuple[str, tuple[str, ...]]:
    """The engine's swarm membership and which of Swarm's own networks exist."""
    state = client.info()["Swarm"]["LocalNodeState"]
    names = tuple(sorted(n.name for n in client.networks.list() if n.name in SWARM_NETWORKS))
    return state, names


def _services(client: Any, run_id: str) -> list[Any]:
    try:
        return list(client.services.list(filters={"label": f"io.drill.run-id={run_id}"}))
    except Exception:  # not a swarm manager any more: no service can be left
        return []


def _assert_nothing_left(client: Any, run_id: str) -> None:
    containers, networks, volumes = harness_resources(client, run_id)
    assert (containers, networks, volumes, _services(client, run_id)) == ([], [], [], []), "the run left resources"


def _drill(args: list[str], tmp_path: Path) -> tuple[dict[str, Any], str, float]:
    t0 = time.perf_counter()
    proc = _run(["run", *args, "--json", "--report-dir", str(tmp_path / "reports")], tmp_path)
    wall = time.perf_counter() - t0
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout), proc.stderr, wall


def _init_seconds(stderr: str) -> float | None:
    found = re.search(r"swarm initialised .* in ([0-9.]+)s", stderr)
    return float(found.group(1)) if found else None


@pytest.fixture
def engine_as_found(docker_client: Any) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The engine's swarm state before the test; the test must leave it so."""
    before = _swarm_state(docker_client)
    yield before
    assert _swarm_state(docker_client) == before, "the engine's swarm state changed"


def test_canary_fail_on_swarm(tmp_path: Path, docker_client: Any, engine_as_found: tuple[str, tuple[str, ...]]) -> None:
    result, stderr, wall = _drill(["canary-fail", "--backend", "swarm"], tmp_path)
    assert result["status"] == "passed", (result["reason"], stderr[-3000:])
    assert result["backend"] == "swarm" and result["replicas"] == {"stable": 2, "candidate": 1}
    assert result["serving_version_after"] == "v2"
    traffic = result["traffic"]
    assert traffic["failed_during_rollback"] == 0
    assert traffic["bad_responses_served"] > 0 and traffic["by_version"].get("v3", 0) > 0
    assert [s["status"] for s in result["steps"]] == ["ok"] * len(result["steps"])
    _assert_nothing_left(docker_client, result["run_id"])
    if engine_as_found[0] == "inactive":
        assert _init_seconds(stderr) is not None, "the run should have initialised a swarm"
    prepare = next(p["duration_s"] for p in result["phases"] if p["name"] == "prepare")
    print(f"\nswarm canary-fail: swarm init {_init_seconds(stderr)}s, prepare {prepare}s, "
          f"decision->completion {result['durations']['decision_to_completion_s']}s, wall {wall:.1f}s")


def test_swarm_rolls_back_a_crashing_update_by_itself(tmp_path: Path, docker_client: Any,
                                                      engine_as_found: tuple[str, tuple[str, ...]]) -> None:
    result, stderr, wall = _drill(["swarm-auto-rollback"], tmp_path)
    assert result["status"] == "passed", (result["reason"], stderr[-3000:])
    assert result["backend"] == "swarm"
    assert result["evidence"][0]["metric"] == "swarm-update-monitor"  # Swarm decided, not our analysis
    steps = {s["name"]: s for s in result["steps"]}
    assert "by itself" in steps["roll-back-service"]["detail"]
    assert result["traffic"]["failed"] == 0  # the crashing tasks never took traffic (start-first)
    assert result["traffic"]["by_version"] == {"v2": result["traffic"]["requests"]}
    _assert_nothing_left(docker_client, result["run_id"])
    print(f"\nswarm-auto-rollback: deploy->recovery {result['durations']['deploy_to_recovery_s']}s, wall {wall:.1f}s")


def test_a_swarm_found_is_used_and_kept(tmp_path: Path, docker_client: Any) -> None:
    """An engine that already is a manager stays one; the run removes only what it created."""
    state, _ = _swarm_state(docker_client)
    if state != "inactive":
        pytest.skip(f"the engine's swarm is {state}: this test makes its own and needs an inactive engine")
    docker_client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")  # a team's swarm: no harness label
    try:
        result, stderr, _ = _drill(["canary-fail", "--backend", "swarm"], tmp_path)
        assert result["status"] == "passed", (result["reason"], stderr[-3000:])
        assert "using the engine's swarm" in stderr
        assert docker_client.info()["Swarm"]["LocalNodeState"] == "active"
        _assert_nothing_left(docker_client, result["run_id"])
    finally:
        docker_client.swarm.leave(force=True)
        for network in docker_client.networks.list(names=["docker_gwbridge"]):
            network.remove()


def test_clean_sweeps_swarm_resources_and_leaves_the_swarm(tmp_path: Path, docker_client: Any,
                                                           engine_as_found: tuple[str, tuple[str, ...]]) -> None:
    """A killed run leaves its service and overlay network (and the swarm it made): drill clean --run-id removes them."""
    from harness.backends.swarm.session import SwarmSession
    from harness.stack.docker_api import run_labels
    from harness.stack.swarm_api import ServiceDef, UpdatePolicy, service_create

    run_id = f"killed-{int(time.time())}"
    session = SwarmSession(docker_client, run_id)
    session.open(lambda message: None)  # and never closed: the process "died"
    service_create(docker_client, ServiceDef(
        name=f"drill-{run_id}-stable", image=_model_image(docker_client), command=["sleep", "300"], env={},
        labels=run_labels(run_id, "model-stable"), network=session.network, aliases=["stable"], replicas=1,
        health_cmd=["NONE"]), UpdatePolicy(), UpdatePolicy())
    assert len(_services(docker_client, run_id)) == 1
    deadline = time.monotonic() + 30
    while not docker_client.containers.list(filters={"label": f"io.drill.run-id={run_id}", "status": "running"}):
        assert time.monotonic() < deadline, "the killed run's task never started"
        time.sleep(0.2)
    proc = _run(["clean", "--run-id", run_id], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 Swarm service(s)" in proc.stdout
    _assert_nothing_left(docker_client, run_id)
    if engine_as_found[0] == "inactive":
        assert "left the swarm" in proc.stdout


def _model_image(client: Any) -> str:
    from harness.stack.images import ensure_images

    return ensure_images(client, lambda message: None).model
