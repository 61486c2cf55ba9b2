"""A node without the image: where a replacement replica would land, the model image is gone and so is the way to
the registry. The fault behind the ``image-missing`` adversity (``harness.adversity.node_image``).

On a ``drill cluster up`` cluster the nodes are engines in containers on this host, so the fault is made through
this host's engine (the manager's API cannot reach into another node): inside each chosen node, an ``iptables``
rule refuses TCP to the cluster's registry (a reset, so a pull fails at once instead of timing out) and
``docker image rm`` removes every reference to the model image (a task still running from it keeps its layers,
but Swarm starts new tasks by reference, and the reference is gone). Swarm then rejects a task scheduled there
("No such image"). Undoing it removes the rule; the image comes back with the next pull. On a swarm the harness
did not make, it refuses: say which nodes to cut off yourself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import docker
import docker.errors

from harness.backends.swarm import cluster
from harness.backends.swarm.nodes import LABEL_CLUSTER
from harness.ports import ServiceFailed
from harness.stack.docker_api import LABEL_ROLE


def _node(client: docker.DockerClient, name: str, hostname: str) -> docker.models.containers.Container:
    found = client.containers.list(filters={"label": [f"{LABEL_CLUSTER}={name}", f"{cluster.LABEL_NODE}={hostname}",
                                                      f"{LABEL_ROLE}=cluster-node"]})
    if not found:
        raise ServiceFailed(f"no running engine {hostname} in cluster {name!r}")
    return found[0]


def registry_ip(client: docker.DockerClient, name: str) -> str:
    """The cluster registry's address on the cluster network (only nodes use it: the harness never connects to it)."""
    try:
        registry = client.containers.get(f"{cluster.prefix(name)}-registry")
    except docker.errors.NotFound as exc:
        raise ServiceFailed(f"cluster {name!r} has no registry container") from exc
    return str(registry.attrs["NetworkSettings"]["Networks"][f"{cluster.prefix(name)}-net"]["IPAddress"])


def _rule(ip: str) -> list[str]:
    return ["OUTPUT", "-d", ip, "-p", "tcp", "--dport", str(cluster.REGISTRY_PORT), "-j", "REJECT",
            "--reject-with", "tcp-reset"]


def _exec(node: docker.models.containers.Container, command: list[str], what: str) -> str:
    code, out = node.exec_run(command)
    text = out.decode(errors="replace").strip() if isinstance(out, bytes) else ""
    if code != 0:
        raise ServiceFailed(f"{what} on {node.name} failed (exit {code}): {text[-300:]}")
    return text


def cut_registry(client: docker.DockerClient, name: str, hostname: str, ip: str) -> None:
    _exec(_node(client, name, hostname), ["iptables", "-I", *_rule(ip)], "refusing the registry")


def restore_registry(client: docker.DockerClient, name: str, hostname: str, ip: str) -> None:
    """Remove the rule (every copy of it: safe to call twice, and on a node that never got it)."""
    node = _node(client, name, hostname)
    while node.exec_run(["iptables", "-D", *_rule(ip)])[0] == 0:
        pass


def drop_image(client: docker.DockerClient, name: str, hostname: str, image: str) -> None:
    """Remove the image's tag and digests on the node; fails unless the reference is gone afterwards."""
    script = ('docker image rm -f "$1" $(docker image inspect -f "{{join .RepoDigests \\" \\"}}" "$1" 2>/dev/null) '
              '>/dev/null 2>&1; ! docker image inspect "$1" >/dev/null 2>&1')
    _exec(_node(client, name, hostname), ["sh", "-c", script, "drop", image], f"removing image {image}")


@dataclass
class Withheld:
    """The nodes a run cut off (hostname -> the registry address refused there), to be given back at the end."""

    cluster: str
    registry_ip: str
    nodes: list[str] = field(default_factory=list)

    def strike(self, hostnames: list[str], image: str) -> None:
        host = cluster.host_engine()
        for hostname in hostnames:
            self.nodes.append(hostname)  # before the rule: a half-made fault is undone too
            cut_registry(host, self.cluster, hostname, self.registry_ip)
            drop_image(host, self.cluster, hostname, image)

    def give_back(self) -> None:
        if not self.nodes:
            return
        host = cluster.host_engine()
        for hostname in self.nodes:
            try:
                restore_registry(host, self.cluster, hostname, self.registry_ip)
            except ServiceFailed:
                pass  # the node is not running: its rule went with its network namespace (a restart makes a new one)
        self.nodes.clear()
