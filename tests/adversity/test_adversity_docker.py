"""Each fault on the way back struck against a real built-in stack and undone (the container state restored),
and the capacity pair: moving traffic before scaling fails, scaling first passes with 0 failed requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import api
from harness.adversity import docker_ops
from harness.adversity.base import FaultContext, build
from harness.adversity.registry import FaultyRegistry
from harness.adversity.spec import AdversitySpec
from harness.engine.engine import RunOptions, new_run_id
from harness.engine.results import RunStatus, StepStatus
from harness.spec import catalogue
from harness.targets.builtin.target import BuiltinTarget
from harness.traffic.generator import probe
from tests.conftest import harness_resources

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BuiltinTarget, str]]:
    drill = catalogue.load_drill("canary-fail")
    run_id = new_run_id("adversity-test")
    target = BuiltinTarget(drill, run_id, tmp_path_factory.mktemp("adv"))
    try:
        target.prepare(lambda m: None)
        yield target, run_id
    finally:
        target.close()


def _fault(target: BuiltinTarget, run_id: str, **entry: Any) -> Any:
    spec = AdversitySpec.model_validate({"at": "decision", "for": "30s", **entry})
    return build(spec, FaultContext(target, run_id, lambda m: None))


def _stable(target: BuiltinTarget, run_id: str) -> Any:
    return docker_ops.one(target.stack.client, run_id, "model-stable")


def _serves(target: BuiltinTarget) -> bool:
    try:
        return all(a.status == 200 for a in probe(target.traffic_endpoint, target.protocol, 5, timeout=2))
    except OSError:
        return False


def test_capacity_limits_the_cpu_and_puts_it_back(stack: tuple[BuiltinTarget, str]) -> None:
    target, run_id = stack
    before = docker_ops.cpu_limit(_stable(target, run_id))
    fault = _fault(target, run_id, kind="capacity", cpus=0.05)
    fault.start()
    try:
        assert docker_ops.cpu_limit(_stable(target, run_id)).cpus == pytest.approx(0.05)
    finally:
        fault.stop()
    assert docker_ops.cpu_limit(_stable(target, run_id)).cpus == before.cpus


def test_partition_cuts_the_router_off_the_stable_server_and_heals(stack: tuple[BuiltinTarget, str]) -> None:
    target, run_id = stack
    fault = _fault(target, run_id, kind="partition")
    fault.start()
    try:
        network = target.stack.network.name
        assert network not in {a.network for a in docker_ops.attachments(_stable(target, run_id))}
        deadline = time.monotonic() + 5
        while target.router.servers()["stable"].status.startswith("UP") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not target.router.servers()["stable"].status.startswith("UP"), "the router still reaches stable"
    finally:
        fault.stop()
    assert network in {a.network for a in docker_ops.attachments(_stable(target, run_id))}
    target.router.wait_up("stable", 10)
    assert _serves(target)


def test_replica_loss_kills_the_stable_server_and_the_end_starts_it_again(stack: tuple[BuiltinTarget, str]) -> None:
    target, run_id = stack
    victim = _stable(target, run_id).id
    fault = _fault(target, run_id, kind="replica-loss")
    fault.start()
    try:
        assert docker_ops.state(target.stack.client, victim) == "exited"
        assert not target.backend.running("stable")
    finally:
        fault.stop()
    assert docker_ops.state(target.stack.client, victim) == "running"
    assert fault.observations() == {"restarted_by_fault_end": True}
    target.router.wait_up("stable", 20)
    deadline = time.monotonic() + 10
    while not _serves(target) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _serves(target)


def test_router_api_faults_slow_or_refuse_the_control_plane_only(stack: tuple[BuiltinTarget, str]) -> None:
    target, run_id = stack
    port = target.router.port
    slow = _fault(target, run_id, kind="router-api-slow", latency="500ms")
    slow.start()
    try:
        t0 = time.monotonic()
        target.router.servers()
        assert time.monotonic() - t0 >= 0.5
        assert _serves(target)  # the data plane is untouched
    finally:
        slow.stop()
    down = _fault(target, run_id, kind="router-api-down")
    down.start()
    try:
        from harness.ports import RouterError

        with pytest.raises(RouterError):
            target.router.servers()
    finally:
        down.stop()
    assert target.router.port == port and "stable" in target.router.servers()


def test_registry_faults_stand_in_front_of_the_registry_and_step_aside(stack: tuple[BuiltinTarget, str]) -> None:
    target, run_id = stack
    real = target.registry
    fault = _fault(target, run_id, kind="registry-down")
    fault.start()
    try:
        assert isinstance(target.registry, FaultyRegistry)
        from harness.ports import RegistryError

        with pytest.raises(RegistryError, match="registry-down"):
            target.registry.aliases()
    finally:
        fault.stop()
    assert target.registry is real and target.registry.aliases()["champion"]


def test_capacity_naive_fails_and_capacity_ordered_passes(isolated_env: Path, docker_client: Any) -> None:
    # At the traffic rate TrafficSpec allows today (rate 500; the threaded generator reaches about 450/s here).
    naive = api.run_drill("capacity-naive", RunOptions(report_root=isolated_env / "reports"))
    assert naive.status is RunStatus.FAILED, naive.reason
    assert "capacity struck at decision" in naive.reason
    failed = next(s for s in naive.steps if s.status is StepStatus.FAILED)
    assert failed.name in ("verify-blue-serving", "verify-rollback-traffic")
    assert naive.traffic is not None and naive.traffic.failed_during_rollback > 0
    assert naive.expect == "fail"

    ordered = api.run_drill("capacity-ordered", RunOptions(report_root=isolated_env / "reports"))
    assert ordered.status is RunStatus.PASSED, ordered.reason
    assert ordered.traffic is not None and ordered.traffic.failed_during_rollback == 0
    [record] = ordered.adversity
    assert record.kind == "capacity" and record.ended_at is not None and record.error is None
    for result in (naive, ordered):
        assert harness_resources(docker_client, result.run_id) == ([], [], [])
