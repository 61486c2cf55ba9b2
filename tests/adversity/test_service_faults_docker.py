"""The service-* faults on real containers of a run (labelled as a compose target's services are): the delay proxy
adds its latency to every connection from another container, a refused port resets connections from a peer, on
its own loopback and through the port published on 127.0.0.1, a CPU limit holds every container of a service (and slows its work), and
every fault is undone."""

from __future__ import annotations

import http.client
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest

from harness.adversity.base import AdversityError, FaultContext, build
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
                                          network=network.name, labels=run_labels(run_id, "compose-registry"), user="65534",
                                          ports={"8000/tcp": ("127.0.0.1", None)})
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


def _fault(run_id: str, spec: dict[str, Any]) -> Any:
    return build(AdversitySpec.model_validate(spec), FaultContext(FakeTarget(), run_id, lambda m: None))


def _from_host(docker_client: Any, run_id: str) -> str:
    """GET the registry through its port published on 127.0.0.1 (the only address the harness may reach): 'ok' or
    the error's name."""
    server = docker_client.containers.get(f"drill-{run_id}-registry")
    port = server.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"]
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError) as exc:
        return type(exc).__name__
    return "ok"


def test_service_refuse_resets_every_connection_to_the_port_and_is_undone(stack: tuple[str, Any, Any],
                                                                          docker_client: Any) -> None:
    run_id, base, network = stack
    peer = docker_client.containers.run(base, ["sleep", "600"], detach=True, network=network.name,
                                        labels=run_labels(run_id, "compose-stable"), user="65534")
    server = docker_client.containers.get(f"drill-{run_id}-registry")

    def get(container: Any, host: str = "registry") -> tuple[int, str, float]:
        t0 = time.monotonic()
        code, out = container.exec_run(["python3", "-c", TIMED_GET.replace("registry:8000", f"{host}:8000")
                                        .replace("timeout=10", "timeout=5")])
        return int(code), out.decode(errors="replace"), time.monotonic() - t0

    assert get(peer)[0] == 0 and _from_host(docker_client, run_id) == "ok"
    fault = _fault(run_id, {"kind": "service-refuse", "service": "registry", "port": 8000, "for": "10s"})
    fault.start()
    try:
        code, out, took = get(peer)
        assert code != 0 and "Connection refused" in out and took < 4, (out, took)  # refused at once, not dropped
        assert _from_host(docker_client, run_id) != "ok"  # Docker's proxy accepts, then the service resets it
        assert "Connection refused" in get(server, "127.0.0.1")[1]  # its own loopback too (compose exec, healthcheck)
        assert "registry:8000 (refused: " in fault.target
    finally:
        fault.stop()
    assert get(peer)[0] == 0 and _from_host(docker_client, run_id) == "ok" and get(server, "127.0.0.1")[0] == 0
    fault.stop()  # safe twice
    assert not docker_client.containers.list(all=True, filters={"label": [f"io.drill.run-id={run_id}",
                                                                          "io.drill.role=refuse-registry"]})


def test_a_fault_on_a_service_the_run_does_not_have_strikes_nothing(docker_client: Any) -> None:
    run_id = f"test-service-faults-{secrets.token_hex(3)}"  # a run with no containers at all
    for spec in ({"kind": "service-refuse", "service": "nosuch", "port": 8000, "for": "5s"},
                 {"kind": "service-cpu", "service": "nosuch", "cpus": 0.5, "for": "5s"}):
        fault = _fault(run_id, spec)
        with pytest.raises(AdversityError, match="no running service 'nosuch'"):
            fault.start()
        fault.stop()


BUSY = ("import time; t, c = time.perf_counter(), time.process_time(); n = 0\n"
        "while time.process_time() - c < 0.3: n += 1\n"
        "print((time.perf_counter() - t) / (time.process_time() - c))")
QUOTA = "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max"


def test_service_cpu_limits_every_container_of_the_service_live_and_restores_each(stack: tuple[str, Any, Any],
                                                                                   docker_client: Any) -> None:
    """One container made with a limit (the drill target's ``cpus:``: NanoCpus) and one without (a CFS quota)."""
    run_id, base, network = stack
    limited = docker_client.containers.run(base, ["sleep", "600"], detach=True, network=network.name, user="65534",
                                           labels=run_labels(run_id, "compose-worker"), nano_cpus=1_000_000_000)
    free = docker_client.containers.run(base, ["sleep", "600"], detach=True, network=network.name, user="65534",
                                        labels=run_labels(run_id, "compose-worker"))

    def host(container: Any) -> tuple[int, int, int]:
        container.reload()
        config = container.attrs["HostConfig"]
        return int(config["NanoCpus"] or 0), int(config["CpuQuota"] or 0), int(config["CpuPeriod"] or 0)

    def kernel(container: Any) -> str:
        return str(container.exec_run(["sh", "-c", QUOTA])[1].decode().strip())

    def stretch(container: Any) -> float:
        """Wall-clock seconds per CPU second of a busy loop in the container (1 unhindered; ~10 at 0.1 CPU)."""
        return float(container.exec_run(["python3", "-c", BUSY])[1].decode().strip())

    unhindered = stretch(free)
    fault = _fault(run_id, {"kind": "service-cpu", "service": "worker", "cpus": 0.1, "for": "10s"})
    fault.start()
    try:
        assert host(limited)[0] == 100_000_000 and kernel(limited) == "10000"
        assert host(free)[:2] == (0, 10_000) and kernel(free) == "10000"
        slowed = stretch(free)
        assert slowed > 4 and slowed > 1.5 * unhindered, (unhindered, slowed)
        assert fault.observations() == {"containers_limited": 2}
    finally:
        fault.stop()
    assert host(limited)[0] == 1_000_000_000 and kernel(limited) == "100000"
    assert host(free)[0] == 0 and host(free)[1] <= 0 and kernel(free) in ("-1", "max")  # no limit, as before
    fault.stop()  # safe twice


def test_a_service_cpu_limit_is_timed_by_the_scheduler_and_undone_when_the_run_ends(docker_client: Any) -> None:
    """Struck at the decision: one ends after its ``for``, the other (10 min) when the run ends (``stop_all``, the
    engine's ``finally``, also on Ctrl-C); both windows are recorded."""
    from harness.adversity.schedule import Scheduler
    from harness.engine.events import Decided

    run_id = f"test-service-faults-{secrets.token_hex(3)}"
    base = ensure_base(docker_client, lambda _m: None, force=False)
    try:
        worker = docker_client.containers.run(base, ["sleep", "600"], detach=True, user="65534", network_mode="none",
                                              labels=run_labels(run_id, "compose-worker"), nano_cpus=1_000_000_000)
        short = AdversitySpec.model_validate({"kind": "service-cpu", "service": "worker", "cpus": 0.5, "for": "1s"})
        long = AdversitySpec.model_validate({"kind": "service-cpu", "service": "worker", "cpus": 0.2, "for": "10m"})
        sched = Scheduler([short])
        sched.bind(FakeTarget(), run_id)
        sched.on_event(Decided("rollback", "automated", ()))
        worker.reload()
        assert worker.attrs["HostConfig"]["NanoCpus"] == 500_000_000
        deadline = time.monotonic() + 30
        while worker.attrs["HostConfig"]["NanoCpus"] != 1_000_000_000:  # ended by its timer
            assert time.monotonic() < deadline, "not undone after its 1 s"
            time.sleep(0.2)
            worker.reload()
        sched.stop_all()
        [ended] = sched.records(())
        assert ended.error is None and ended.active_s is not None and 1 <= ended.active_s < 30

        sched = Scheduler([long])
        sched.bind(FakeTarget(), run_id)
        sched.on_event(Decided("rollback", "automated", ()))
        worker.reload()
        assert worker.attrs["HostConfig"]["NanoCpus"] == 200_000_000
        sched.stop_all()  # the run ends long before the fault would
        worker.reload()
        assert worker.attrs["HostConfig"]["NanoCpus"] == 1_000_000_000
        [cut] = sched.records(())
        assert cut.error is None and cut.active_s is not None and cut.active_s < 30
        assert cut.observations == {"containers_limited": 1} and "worker (cpus 0.2: " in cut.target
    finally:
        sweep(docker_client, run_id)
