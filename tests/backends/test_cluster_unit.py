"""The multi-node pieces without an engine: placement by slot, replicas per node, what a multi-node run
refuses to start without, the free port block, the report line."""

from __future__ import annotations

import socket

import pytest

from harness.backends.swarm import cluster
from harness.backends.swarm.backend import _on_nodes
from harness.backends.swarm.nodes import FETCH_THEN_SERVE, Layout, Node, by_node, require_reachable
from harness.errors import BackendUnavailable
from harness.report.outcome import by_node_text
from harness.stack.swarm_api import ServiceDef, TaskInfo


def _layout(n: int, registry: str | None = "reg:5000", ports: tuple[int, int] | None = (27401, 27412)) -> Layout:
    nodes = tuple(Node(f"id{i}", f"node-{i}", "manager" if i == 1 else "worker", "ready", {}) for i in range(1, n + 1))
    return Layout(nodes, "drill", registry, ports, "172.20.0.1")


def _spec() -> ServiceDef:
    return ServiceDef(name="drill-r-stable", image="reg:5000/drill-model:x", command=["python3"], env={"REGISTRY_DIR": "/registry"},
                      labels={}, network="net", aliases=["stable"], replicas=2, health_cmd=["NONE"], volume="vol")


def test_the_candidate_gets_a_worker_of_its_own_from_three_nodes() -> None:
    layout = _layout(3)
    own = layout.candidate_node()
    assert own is not None and own.role == "worker" and own.hostname == "node-3"
    stable, candidate = _on_nodes(_spec(), "stable", layout), _on_nodes(_spec(), "candidate", layout)
    assert stable.constraints == ("node.id!=id3",) and stable.spread == "node.id"
    assert candidate.constraints == ("node.id==id3",) and candidate.spread is None
    # Tasks on any node copy the registry from the file server into a tmpfs: no local volume.
    assert stable.volume is None and stable.tmpfs == "/tmp" and stable.command == FETCH_THEN_SERVE
    assert stable.env["REGISTRY_DIR"] == "/tmp/registry"


def test_two_nodes_share_everything() -> None:
    layout = _layout(2)
    assert layout.multi and layout.candidate_node() is None
    assert _on_nodes(_spec(), "candidate", layout).constraints == ()


def test_replicas_are_counted_per_node_hostname() -> None:
    def task(node: str, state: str = "running", desired: str = "running") -> TaskInfo:
        return TaskInfo("t", state, desired, "", "", None, None, "v2", node)

    tasks = [task("id1"), task("id2"), task("id2", "shutdown", "shutdown"), task("id3", "failed")]
    assert by_node(_layout(3), tasks) == {"node-1": 1, "node-2": 1}


@pytest.mark.parametrize(("registry", "ports", "says"), [(None, (1, 2), "DRILL_SWARM_REGISTRY"),
                                                         ("reg:5000", None, "io.drill.ports")])
def test_a_multi_node_run_needs_a_registry_and_ports(registry: str | None, ports: tuple[int, int] | None, says: str) -> None:
    with pytest.raises(BackendUnavailable, match=says):
        require_reachable(_layout(3, registry, ports))


def test_the_port_block_skips_ports_in_use() -> None:
    first = cluster._free_block(4, start=29000, stop=29400)
    with socket.socket() as held:
        held.bind(("127.0.0.1", first))
        assert cluster._free_block(4, start=first, stop=first + 400) != first


def test_bad_node_counts_are_refused_before_anything_starts() -> None:
    with pytest.raises(cluster.ClusterError, match="--nodes 9"):
        cluster.up(None, nodes=9)  # type: ignore[arg-type]  # no engine is touched


def test_the_report_line() -> None:
    assert by_node_text({"stable": {"node-1": 1, "node-2": 1}, "candidate": {"node-3": 1}}) == \
        "stable: node-1 x1, node-2 x1; candidate: node-3 x1"


# ---- the drills that need several nodes: what they declare, what a single engine says ----------------
def test_a_drill_needing_more_nodes_than_there_are_stops_with_what_to_do() -> None:
    from harness.backends.swarm import require_nodes

    with pytest.raises(BackendUnavailable, match=r"needs a swarm of 3 nodes; the engine at unix://x is one node: .*"
                                                 r"drill cluster up --nodes 3"):
        require_nodes("unix://x", "swarm-image-missing", 3, None)
    two = Layout((*_layout(3).nodes[:2], Node("id3", "node-3", "worker", "down", {})), "drill", "reg:5000", (1, 2), None)
    with pytest.raises(BackendUnavailable, match="has 2 of its 3 nodes ready"):
        require_nodes("tcp://127.0.0.1:1", "swarm-image-missing", 3, two)
    require_nodes("tcp://127.0.0.1:1", "swarm-node-loss", 2, two)  # enough: nothing said


def test_a_backend_without_nodes_refuses_a_drill_that_needs_several() -> None:
    from harness import backends
    from harness.backends import host  # noqa: F401  (backends.host below)
    from harness.spec import catalogue

    drill = catalogue.load_drill("swarm-image-missing")
    docker_kind = backends.get("docker")
    assert docker_kind is not None and drill.spec.nodes == 3
    with pytest.raises(BackendUnavailable, match="runs on one engine"):
        backends.host.plan(docker_kind, backends.ModelHost(object(), drill.spec), lambda m: None)


def test_the_image_missing_drill_declares_its_failure_and_its_nodes() -> None:
    from harness.spec import catalogue

    spec = catalogue.load_drill("swarm-image-missing").spec
    assert spec.expected == "fail" and spec.fails_with == "lacks image" and spec.backend == "swarm"
    assert [(a.kind, a.at) for a in spec.adversity] == [("image-missing", "step:lose-a-stable-node")]
    assert catalogue.load_drill("swarm-node-loss").spec.nodes == 2


@pytest.mark.parametrize(("over", "field"), [({"nodes": 3}, "nodes"), ({"fails_with": "x"}, "fails_with")])
def test_nodes_need_swarm_and_fails_with_needs_expect_fail(over: dict[str, object], field: str) -> None:
    from harness.spec import catalogue
    from harness.spec.models import DrillSpec

    base = catalogue.load_drill("canary-fail").spec.model_dump(by_alias=True, exclude_none=True)
    with pytest.raises(ValueError, match=field):
        DrillSpec.model_validate({**base, "backend": "docker", **over})


def test_fails_with_makes_any_other_failure_not_as_expected() -> None:
    from harness.engine.expectation import judge
    from harness.engine.results import RunStatus

    said = "step wait failed: node n3 lacks image reg/m:1 and could not pull it"
    assert judge("fail", RunStatus.FAILED, "none", None, "", said, "lacks image").as_expected
    other = judge("fail", RunStatus.FAILED, "none", None, "", "port already allocated", "lacks image")
    assert not other.as_expected and "lacks image" in other.note
    assert judge("fail", RunStatus.FAILED, "none", None, "", "anything").as_expected  # without fails_with, as before


def test_the_withheld_registry_rule_is_a_reset_on_the_registry_port_only() -> None:
    from harness.backends.swarm.withhold import _rule

    assert _rule("192.168.64.2") == ["OUTPUT", "-d", "192.168.64.2", "-p", "tcp", "--dport", "5000", "-j", "REJECT",
                                     "--reject-with", "tcp-reset"]



def test_swarm_names_fit_in_63_characters_and_stay_unique() -> None:
    from harness.stack.swarm_api import swarm_name

    assert swarm_name("20261202T004446Z-canary-fail-773604", "stable") == "drill-20261202T004446Z-canary-fail-773604-stable"
    long_a = swarm_name("20261202T004446Z-shadow-nondeterministic-control-773604", "candidate")
    long_b = swarm_name("20261202T004446Z-shadow-nondeterministic-control-aaaaaa", "candidate")
    assert len(long_a) <= 63 and long_a.endswith("-candidate") and long_a.startswith("drill-20261202T004446Z-shadow")
    assert long_a != long_b
