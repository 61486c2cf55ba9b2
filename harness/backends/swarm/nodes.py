"""What a run needs from a swarm of several nodes: its nodes, a registry every node pulls from, placement.

On one node nothing here is used (the single-node path keeps its local image and volume). On several:
- **images**: the model image is tagged ``<registry>/drill-model:<digest>`` and pushed through the manager's
  engine; every node pulls it from there. The registry is ``DRILL_SWARM_REGISTRY`` or the manager's
  ``io.drill.registry`` node label (``drill cluster up`` sets it). Without one a multi-node run stops before
  it starts anything, saying so;
- **registry data**: a local volume exists only on its own node, so a file server on the manager serves the
  run's registry volume (one tar per request) on the overlay network and each task copies it into a tmpfs
  before serving;
- **ports**: the router and Prometheus run on the manager (the engine the harness talks to) and publish on a
  block of the manager's ports that this host sees on 127.0.0.1 (``io.drill.ports``; ``drill cluster up``
  publishes it): the harness never reaches a container IP;
- **placement**: stable replicas spread over the nodes, the candidate alone on a worker of its own when
  there are three nodes or more; ``by_node`` says where each slot's replicas run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import docker.errors

from harness.errors import BackendUnavailable
from harness.stack import docker_api
from harness.stack.swarm_api import SwarmError, TaskInfo

LABEL_REGISTRY = "io.drill.registry"
LABEL_PORTS = "io.drill.ports"
LABEL_API_FROM = "io.drill.api-from"
LABEL_CLUSTER = docker_api.LABEL_CLUSTER  # swept by `drill clean` (no --run-id) with the runs
REGISTRY_ENV = "DRILL_SWARM_REGISTRY"
FILES_ALIAS = "model-files"
FILES_PORT = 8080
BUNDLE = "registry.tar"  # any path: the server answers every GET with the tar
TASK_REGISTRY = "/tmp/registry"
_FETCH = ("import io, tarfile, urllib.request; tarfile.open(fileobj=io.BytesIO(urllib.request.urlopen("
          f"'http://{FILES_ALIAS}:{FILES_PORT}/{BUNDLE}', timeout=10).read())).extractall('{TASK_REGISTRY}')")
# The file server: each GET answers a tar of the registry volume as it is now (tasks start after each sync).
_SERVE = ("import http.server, io, tarfile\n"
          "class H(http.server.BaseHTTPRequestHandler):\n"
          "    def do_GET(self):\n"
          "        buf = io.BytesIO()\n"
          "        with tarfile.open(fileobj=buf, mode='w') as tar: tar.add('/registry', arcname='.')\n"
          "        self.send_response(200); self.send_header('Content-Length', str(buf.tell())); self.end_headers()\n"
          "        self.wfile.write(buf.getvalue())\n"
          f"http.server.ThreadingHTTPServer(('', {FILES_PORT}), H).serve_forever()\n")
FILES_SERVER = ["python3", "-c", _SERVE]
# A task on any node: copy the run's registry from the file server, then serve (same server as one node).
FETCH_THEN_SERVE = ["sh", "-c", f'python3 -c "{_FETCH}" && exec python3 -u /opt/drill/model_server.py']


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    role: str  # manager | worker
    state: str  # ready | down | unknown
    labels: dict[str, str]


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Node, ...]
    cluster: str | None  # a `drill cluster up` cluster's name (the swarm's io.drill.cluster label)
    registry: str | None
    ports: tuple[int, int] | None
    api_from: str | None  # where the harness's connections come from, as the manager sees them

    @property
    def multi(self) -> bool:
        return len(self.nodes) > 1

    def hostname(self, node_id: str | None) -> str:
        return next((n.hostname for n in self.nodes if n.id == node_id), node_id or "?")

    def candidate_node(self) -> Node | None:
        """A worker of its own for the candidate when there are three nodes or more (two are left for stable)."""
        workers = sorted((n for n in self.nodes if n.role == "worker" and n.state == "ready"), key=lambda n: n.hostname)
        return workers[-1] if len(self.nodes) >= 3 and workers else None


def read_layout(client: docker.DockerClient) -> Layout:
    try:
        raw = client.nodes.list()
        client.swarm.reload()
        swarm_labels = dict(client.swarm.attrs.get("Spec", {}).get("Labels") or {})
    except docker.errors.APIError as exc:
        raise SwarmError(f"cannot list the swarm's nodes: {exc}") from exc
    nodes = tuple(Node(str(n.id), str(n.attrs["Description"]["Hostname"]), str(n.attrs["Spec"].get("Role", "")),
                       str(n.attrs["Status"].get("State", "")), dict(n.attrs["Spec"].get("Labels") or {})) for n in raw)
    manager = next((n.labels for n in nodes if LABEL_PORTS in n.labels or LABEL_REGISTRY in n.labels), {})
    ports = None
    if LABEL_PORTS in manager:
        first, _, last = manager[LABEL_PORTS].partition("-")
        ports = (int(first), int(last))
    return Layout(nodes, swarm_labels.get(LABEL_CLUSTER), os.environ.get(REGISTRY_ENV) or manager.get(LABEL_REGISTRY),
                  ports, manager.get(LABEL_API_FROM))


def require_reachable(layout: Layout) -> None:
    """A multi-node run needs a registry and ports this host reaches; say what to do before anything starts."""
    if layout.registry is None:
        raise BackendUnavailable(
            f"the swarm has {len(layout.nodes)} nodes and no registry every node can pull model images from: set "
            f"{REGISTRY_ENV}=host:port (pushed to through the manager), or use `drill cluster up`")
    if layout.ports is None:
        raise BackendUnavailable(
            "the swarm has several nodes but no published port block for the router and Prometheus: label the "
            f"manager node {LABEL_PORTS}=<first>-<last> (ports it publishes to this host's 127.0.0.1), or use "
            "`drill cluster up`")


def free_ports(client: docker.DockerClient, ports: tuple[int, int]) -> Iterator[int]:
    """The block's ports no container on the manager has published yet (another run may hold some)."""
    taken: set[int] = set()
    for container in client.containers.list():
        for bindings in (container.attrs.get("HostConfig", {}).get("PortBindings") or {}).values():
            taken.update(int(b["HostPort"]) for b in bindings or [] if b.get("HostPort"))
    return iter([p for p in range(ports[0], ports[1] + 1) if p not in taken])


def publish_image(client: docker.DockerClient, image: str, registry: str) -> str:
    """Tag the image for the registry and push it through the manager's engine; the reference nodes pull."""
    repo, _, tag = image.rpartition(":")
    ref = f"{registry}/{repo}"
    try:
        client.images.get(image).tag(ref, tag)
        for line in client.images.push(ref, tag, stream=True, decode=True):
            if "error" in line:
                raise BackendUnavailable(f"pushing {ref}:{tag} to {registry} failed: {line['error']}")
    except docker.errors.APIError as exc:
        raise BackendUnavailable(f"pushing {ref}:{tag} to {registry} failed: {exc}") from exc
    return f"{ref}:{tag}"


def by_node(layout: Layout, tasks: list[TaskInfo]) -> dict[str, int]:
    """Running tasks per node hostname."""
    counts = Counter(layout.hostname(t.node_id) for t in tasks if t.desired == "running" and t.state == "running")
    return dict(sorted(counts.items()))
