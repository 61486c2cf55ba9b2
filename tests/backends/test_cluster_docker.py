"""Drills on a real multi-node swarm: `drill cluster up --nodes 3` (three engines in containers), then
canary-fail with replicas over the nodes, swarm-node-loss (a worker engine stopped during the rollback; the
rescheduled replica spreads), swarm-image-missing (its replacement lands on a node without the image: fails as
expected, naming both), a multi-node drill refused on a single engine (exit 3), and `drill cluster down`
leaving nothing behind.

Marked ``cluster`` (and ``docker``: CI always runs them, and fails when they cannot run). One cluster for the
module keeps the total to a few minutes; each phase's time is printed (pytest -s) and is noisy on a shared
machine. Only this module and tests/backends/test_swarm_docker.py touch Swarm.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.cluster]
DRILL = [sys.executable, "-m", "harness.cli"]
NAME = f"t{os.getpid()}"  # this test run's own cluster, beside any a person has up


def _drill(args: list[str], tmp: Path, docker_host: str | None = None, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp}/drill.db", "DRILL_PATH": str(ROOT)}
    env.pop("DOCKER_HOST", None)
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    return subprocess.run([*DRILL, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=tmp)


def _cluster_resources(client: Any) -> list[str]:
    selector = {"label": f"io.drill.cluster={NAME}"}
    return ([c.name for c in client.containers.list(all=True, filters=selector)]
            + [n.name for n in client.networks.list(filters=selector)]
            + [v.name for v in client.volumes.list(filters=selector)])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Three engines in a swarm for the module; down at the end, and nothing of it may be left."""
    import docker

    client = docker.from_env(timeout=60)
    tmp = tmp_path_factory.mktemp("cluster")
    swarm_before = client.info()["Swarm"]["LocalNodeState"]
    t0 = time.perf_counter()
    proc = _drill(["cluster", "up", "--nodes", "3", "--name", NAME], tmp)
    up_s = time.perf_counter() - t0
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        docker_host = proc.stdout.strip().removeprefix("export DOCKER_HOST=")
        assert docker_host.startswith("tcp://127.0.0.1:"), proc.stdout
        print(f"\ncluster up (3 nodes): {up_s:.1f}s")
        yield docker_host
    finally:
        t0 = time.perf_counter()
        down = _drill(["cluster", "down", "--name", NAME], tmp)
        print(f"\ncluster down: {time.perf_counter() - t0:.1f}s")
        assert down.returncode == 0, down.stderr
        assert _cluster_resources(client) == [], "drill cluster down left resources"
        assert client.info()["Swarm"]["LocalNodeState"] == swarm_before, "the host engine's own swarm state changed"
        client.close()


def _manager(docker_host: str) -> Any:
    import docker

    return docker.DockerClient(base_url=docker_host, timeout=60)


def _run(drill: str, tmp: Path, docker_host: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = _drill(["run", drill, "--backend", "swarm", "--json", "--report-dir", str(tmp / "reports")], tmp, docker_host)
    assert proc.stdout, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    result["_wall_s"] = round(time.perf_counter() - t0, 1)
    result["_stderr"] = proc.stderr
    return result


def _services_left(manager: Any, run_id: str) -> list[str]:
    selector = {"label": f"io.drill.run-id={run_id}"}
    return ([s.name for s in manager.services.list(filters=selector)]
            + [c.name for c in manager.containers.list(all=True, filters=selector)]
            + [n.name for n in manager.networks.list(filters=selector)])


def test_the_cluster_is_a_swarm_of_three(cluster: str) -> None:
    manager = _manager(cluster)
    nodes = manager.nodes.list()
    assert sorted(n.attrs["Spec"]["Role"] for n in nodes) == ["manager", "worker", "worker"]
    assert all(n.attrs["Status"]["State"] == "ready" for n in nodes)
    labels = next(n.attrs["Spec"]["Labels"] for n in nodes if n.attrs["Spec"]["Role"] == "manager")
    assert labels["io.drill.registry"].endswith(":5000") and "-" in labels["io.drill.ports"]


def test_canary_fail_spreads_replicas_over_nodes(cluster: str, tmp_path: Path) -> None:
    result = _run("canary-fail", tmp_path, cluster)
    assert result["status"] == "passed", (result["reason"], result["_stderr"][-3000:])
    placed = result["replicas_by_node"]
    assert len(placed["stable"]) >= 2, placed  # stable replicas on at least two nodes
    assert sum(placed["stable"].values()) == 2 and sum(placed["candidate"].values()) == 1
    assert not set(placed["candidate"]) & set(placed["stable"]), f"the candidate should have a node of its own: {placed}"
    assert result["traffic"]["failed_during_rollback"] == 0
    assert result["serving_version_after"] == "v2"
    assert _services_left(_manager(cluster), result["run_id"]) == []
    report = (Path(result["report_dir"]) / "report.md").read_text()
    assert "replicas by node" in report
    print(f"\n3-node canary-fail: detect {result['durations']['detect_s']}s, decision->completion "
          f"{result['durations']['decision_to_completion_s']}s, wall {result['_wall_s']}s, placement {placed}")


def test_a_replica_on_a_node_without_the_image_fails_naming_node_and_image(cluster: str) -> None:
    """The image exists on the manager only (never pushed to the cluster's registry): the candidate, placed on
    a worker of its own, cannot start there, and the failure says on which node and which image."""
    from harness.backends.swarm.backend import SwarmBackend
    from harness.backends.swarm.nodes import read_layout
    from harness.ports import ServiceFailed
    from harness.stack import docker_api, swarm_api
    from harness.stack.images import cached_images

    manager = _manager(cluster)
    run_id = f"noimage-{os.getpid()}"
    images = cached_images(manager)
    assert images is not None, "drill cluster up copies the stack images into the manager"
    local_only = f"drill-unpushed:{run_id}"
    manager.images.get(images.model).tag(local_only)
    network = f"drill-{run_id}-overlay"
    swarm_api.create_overlay(manager, network, docker_api.run_labels(run_id, "overlay"))
    layout = read_layout(manager)
    backend = SwarmBackend(manager, run_id, local_only, "fraud", network, "unused", "/registry", sync=lambda: None,
                           startup_timeout=60, layout=layout)
    try:
        with pytest.raises(ServiceFailed) as failed:
            backend.start("candidate", "v2")
        own = layout.candidate_node()
        assert own is not None
        message = str(failed.value)
        assert own.hostname in message and local_only in message, message
        print(f"\nreplica without its image: {message[:300]}")
    finally:
        docker_api.sweep(manager, run_id)
        manager.images.remove(local_only, noprune=True)


def test_swarm_node_loss(cluster: str, tmp_path: Path) -> None:
    result = _run("swarm-node-loss", tmp_path, cluster)
    assert result["status"] == "passed", (result["reason"], result["_stderr"][-3000:])
    steps = {s["name"]: s for s in result["steps"]}
    lost = steps["lose-a-stable-node"]["detail"].split()[1]  # "engine <hostname> stopped (...)"
    before, placed = result["replicas_by_node_before"]["stable"], result["replicas_by_node"]["stable"]
    assert lost in before and len(before) == 2, (lost, before)
    assert lost not in placed and sum(placed.values()) == 2, (lost, placed)  # every stable replica runs again elsewhere
    # Spread again over the two nodes left (the manager and the candidate's), not both on the manager.
    assert len(placed) == 2, f"the rescheduled replica did not spread: before {before}, after {placed}"
    assert "running again" in steps["wait-stable-rescheduled"]["detail"]
    # No failed request once verification started (the background traffic; the verify steps check their own).
    started = datetime.fromisoformat(result["timestamps"]["started_at"].replace("Z", "+00:00"))
    verify = datetime.fromisoformat(steps["verify-stable-serving"]["started_at"].replace("Z", "+00:00"))
    offset = (verify - started).total_seconds()
    after = [p for p in result["timeline"] if p["t"] + 1 > offset]  # every second overlapping verification
    assert after and sum(sum(p["failed"].values()) for p in after) == 0, after
    assert _services_left(_manager(cluster), result["run_id"]) == []
    # The engine the drill stopped is back in the swarm when the run ends.
    deadline = time.monotonic() + 60
    while not all(n.attrs["Status"]["State"] == "ready" for n in _manager(cluster).nodes.list()):
        assert time.monotonic() < deadline, "the lost node did not rejoin"
        time.sleep(1)
    failed_window = [p["t"] for p in result["timeline"] if sum(p["failed"].values())]
    print(f"\nswarm-node-loss: stable {before} -> {placed}; {steps['wait-stable-rescheduled']['detail']}; decision->completion "
          f"{result['durations']['decision_to_completion_s']}s; failed during rollback "
          f"{result['traffic']['failed_during_rollback']} (seconds with failures: {failed_window}); wall {result['_wall_s']}s")


def test_swarm_image_missing_fails_as_expected_naming_node_and_image(cluster: str, tmp_path: Path) -> None:
    """The catalogue drill: the replacement of a lost node's stable replica lands on the node the candidate left,
    which has neither the image nor a registry; the drill fails naming both, and that is as expected (exit 0)."""
    import docker

    proc = _drill(["run", "swarm-image-missing", "--json", "--report-dir", str(tmp_path / "reports")], tmp_path, cluster)
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result["status"] == "failed" and result["as_expected"] is True, (result["reason"], proc.stderr[-3000:])
    assert proc.returncode == 0, "a drill that failed as it expected exits 0"
    fault = result["adversity"][0]
    assert fault["error"] is None and fault["observations"]["nodes"], fault
    node, image = fault["observations"]["nodes"][0], fault["observations"]["image"]
    assert f"node {node} lacks image {image}" in result["reason"], result["reason"]
    steps = {s["name"]: s for s in result["steps"]}
    assert steps["wait-stable-rescheduled"]["status"] == "failed"
    assert steps.get("verify-stable-serving", {}).get("status", "skipped") == "skipped"  # never reached
    before = result["replicas_by_node_before"]["stable"]
    assert node not in before, f"the image was withheld where no stable replica ran: {node} vs {before}"
    assert _services_left(_manager(cluster), result["run_id"]) == []
    # Undone: the node reaches the registry again (no rule left), and the lost node rejoins.
    host = docker.from_env(timeout=60)
    engine = host.containers.list(filters={"label": f"io.drill.node={node}"})[0]
    assert "REJECT" not in engine.exec_run(["iptables", "-S", "OUTPUT"])[1].decode()
    deadline = time.monotonic() + 60
    while not all(n.attrs["Status"]["State"] == "ready" for n in _manager(cluster).nodes.list()):
        assert time.monotonic() < deadline, "the lost node did not rejoin"
        time.sleep(1)
    print(f"\nswarm-image-missing: failed after waiting {steps['wait-stable-rescheduled']['duration_s']}s: "
          f"{steps['wait-stable-rescheduled']['error'][:300]}; stable before {before}")


def test_a_multi_node_drill_on_a_single_engine_stops_before_anything_starts(tmp_path: Path) -> None:
    """No cluster: this host's own engine. Exit 3 (the environment), saying what to do; nothing started."""
    import docker

    client = docker.from_env(timeout=60)
    swarm_before = client.info()["Swarm"]["LocalNodeState"]
    proc = _drill(["run", "swarm-image-missing", "--report-dir", str(tmp_path / "reports")], tmp_path)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "needs a swarm of 3 nodes" in proc.stderr and "drill cluster up --nodes 3" in proc.stderr, proc.stderr[-2000:]
    assert "phase baseline" not in proc.stderr
    assert client.info()["Swarm"]["LocalNodeState"] == swarm_before
    run_id = proc.stderr.split(", run ", 1)[1].split()[0]
    assert client.containers.list(all=True, filters={"label": f"io.drill.run-id={run_id}"}) == []
