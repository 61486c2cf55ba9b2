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
