"""service-slow and service-down on a real container of a run (labelled as a compose target's service is):
the delay proxy adds its latency to every connection from another container, and both faults are undone."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest

from harness.adversity.base import FaultContext, build
from harness.adversity.spec import AdversitySpec
from harness.stack.docker_api import run_labels, sweep
from harness.stack.images import ensure_base
from tests.fakes import FakeTarget

pytestmark = pytest.mark.docker
TIMED_GET = ("import sys, time, urllib.request; t0 = time.perf_counter(); "
             "urllib.request.urlopen('http://registry:8000/', timeout=10).read(); print(time.perf_counter() - t0)")


@pytest.fixture
def stack(docker_client: Any) -> Iterator[tuple[str, Any, Any]]:
    run_id = f"test-service-faults-{secrets.token_hex(3)}"
    base = ensure_base(docker_client, lambda _m: None, force=False)
    network = docker_client.networks.create(f"drill-{run_id}", labels=run_labels(run_id, "network"))
    server = docker_client.containers.run(base, ["python3", "-m", "http.server", "8000"], detach=True, name=f"drill-{run_id}-registry",
                                          network=network.name, labels=run_labels(run_id, "compose-registry"), user="65534")
    network.reload()
    docker_client.networks.get(network.id).disconnect(server)
    docker_client.networks.get(network.id).connect(server, aliases=["registry"])
    try:
        deadline = time.monotonic() + 30
        while not _get(docker_client, base, network)[0]:  # the server answers before any fault
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.3)
        yield run_id, base, network
    finally:
        sweep(docker_client, run_id)


def _get(docker_client: Any, base: str, network: Any) -> tuple[bool, float]:
    try:
        out = docker_client.containers.run(base, ["python3", "-c", TIMED_GET], network=network.name, remove=True)
    except docker.errors.ContainerError:  # refused, or no answer within 10 s
        return False, 0.0
    text = out.decode().strip()
    try:
        return True, float(text.splitlines()[-1])
    except ValueError:
        return False, 0.0


def test_service_slow_delays_each_connection_and_is_undone(stack: tuple[str, Any, Any], docker_client: Any) -> None:
    run_id, base, network = stack
    ok, before = _get(docker_client, base, network)
    assert ok
    fault = build(AdversitySpec.model_validate({"kind": "service-slow", "service": "registry", "port": 8000,
                                                "latency": "400ms", "for": "10s"}),
                  FaultContext(FakeTarget(), run_id, lambda m: None))
    fault.start()
    try:
        ok, during = _get(docker_client, base, network)
        assert ok and during >= before + 0.35, (before, during)
    finally:
        fault.stop()
    ok, after = _get(docker_client, base, network)
    assert ok and after < 0.35, after  # the rule is gone: not delayed, not refused
    assert not docker_client.containers.list(all=True, filters={"label": "io.drill.role=delay-proxy-registry"})


def test_service_down_pauses_and_unpauses(stack: tuple[str, Any, Any], docker_client: Any) -> None:
    run_id, base, network = stack
    fault = build(AdversitySpec.model_validate({"kind": "service-down", "service": "registry", "for": "5s"}),
                  FaultContext(FakeTarget(), run_id, lambda m: None))
    fault.start()
    try:
        server = docker_client.containers.list(filters={"label": "io.drill.role=compose-registry",
                                                        "name": f"drill-{run_id}-registry"})[0]
        assert server.status == "paused"
    finally:
        fault.stop()
    assert _get(docker_client, base, network)[0]


def test_a_dead_delay_proxy_leaves_no_redirect_behind(stack: tuple[str, Any, Any], docker_client: Any) -> None:
    """Were the rule left with its proxy gone, every connection to the service would be refused."""
    run_id, base, network = stack
    fault = build(AdversitySpec.model_validate({"kind": "service-slow", "service": "registry", "port": 8000,
                                                "latency": "200ms", "for": "10s"}),
                  FaultContext(FakeTarget(), run_id, lambda m: None))
    fault.start()
    for sidecar in docker_client.containers.list(filters={"label": "io.drill.role=delay-proxy-registry"}):
        if run_id in str(sidecar.labels.get("io.drill.run-id")):
            sidecar.kill()
    assert not _get(docker_client, base, network)[0]  # refused while the rule points at nothing
    fault.stop()
    ok, after = _get(docker_client, base, network)
    assert ok and after < 0.2, after


def test_service_partition_cuts_two_services_only_and_is_undone(stack: tuple[str, Any, Any], docker_client: Any) -> None:
    run_id, base, network = stack
    stable = docker_client.containers.run(base, ["sleep", "600"], detach=True, network=network.name,
                                          labels=run_labels(run_id, "compose-stable"), user="65534")

    def from_stable() -> bool:
        code, _ = stable.exec_run(["python3", "-c", TIMED_GET.replace("timeout=10", "timeout=2")])
        return int(code) == 0

    assert from_stable()
    fault = build(AdversitySpec.model_validate({"kind": "service-partition", "service": "registry", "peer": "stable",
                                                "for": "10s"}), FaultContext(FakeTarget(), run_id, lambda m: None))
    fault.start()
    try:
        assert not from_stable()  # stable cannot reach the registry...
        assert _get(docker_client, base, network)[0]  # ...while anyone else still can
    finally:
        fault.stop()
    assert from_stable()
