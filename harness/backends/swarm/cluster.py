"""A local multi-node Docker Swarm for drills: N Docker engines as containers on one private network.

``up`` builds (once, cached by a content label) an engine image on the bootstrapped Debian base plus Debian's
``docker.io``, ``iproute2``, ``iptables`` and ``docker-registry``; starts a registry container and N engines on
a private bridge network (the engines run ``dockerd --storage-driver=overlay2`` on a volume, without ``--privileged``: the
capabilities and security options below are what this machine allows); makes the first engine a swarm
manager and joins the others as workers; and copies the stack images into the manager (``docker save |
docker load``). The manager's Docker API is published on 127.0.0.1 only, over plain TCP **without TLS**
(anyone on this host can drive that engine: a test cluster, not a place for secrets), together with a small
block of ports through which the harness reaches the router and Prometheus that runs start on the manager.

What a run needs to know about the cluster is written on the manager's swarm node as labels
(``io.drill.registry``: where every node pulls model images from; ``io.drill.ports``: the published block),
so the Swarm backend learns it through the Docker API alone. Everything here carries ``io.drill.harness`` and
``io.drill.cluster``: ``down`` removes it, and ``drill clean`` sweeps a killed cluster with the rest.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import docker
import docker.errors
from docker.models.containers import Container

from harness.backends.swarm.nodes import LABEL_API_FROM, LABEL_CLUSTER, LABEL_PORTS, LABEL_REGISTRY
from harness.errors import BackendUnavailable
from harness.stack.docker_api import LABEL_HARNESS, LABEL_IMAGE, LABEL_IMAGE_INPUTS, LABEL_ROLE
from harness.stack.images import base_digest, build_on_base, cached_images, ensure_images

Progress = Callable[[str], None]

LABEL_NODE = "io.drill.node"
ENGINE_PACKAGES = ("docker.io", "iproute2", "iptables", "docker-registry")
API_PORT = 2375
REGISTRY_PORT = 5000
PORT_BLOCK = 12  # router (3), Prometheus (1), room for a second run
MAX_NODES = 6
HOST_ENGINE_ENV = "DRILL_CLUSTER_ENGINE"  # the engine the cluster runs on, when DOCKER_HOST names the manager
ENGINE_RECIPE = (
    "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
    + " ".join(ENGINE_PACKAGES)
    + " && rm -rf /var/lib/apt/lists/* /var/cache/apt /usr/share/doc /usr/share/man\n"
)
# Debian's default config asks for htpasswd auth; the cluster's registry is on its private network only.
REGISTRY_CONFIG = """version: 0.1
storage:
  filesystem: {rootdirectory: /tmp/data}
  delete: {enabled: true}
http: {addr: ":5000"}
"""
# overlay2 on a volume works here (the kernel has overlay; the volume is ext4) and, unlike vfs, does not copy
# a whole image per container.
STORAGE_DRIVER = "overlay2"
# What an engine in a container needs here (docker run --privileged is refused on this machine).
ENGINE_CAPS = ["SYS_ADMIN", "NET_ADMIN", "MKNOD", "SYS_PTRACE"]
ENGINE_SECURITY = ["seccomp=unconfined", "apparmor=unconfined"]
# An engine a drill stopped (killed after the stop timeout) leaves its pid files behind, and dockerd then refuses
# to start again ("pid file found"): a node that should rejoin stays down. Remove them before each start.
ENGINE_START = ["sh", "-c", 'rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid; exec "$@"', "engine"]


class ClusterError(BackendUnavailable):
    """The local cluster could not be made, found or removed (an environment problem: exit 3)."""


@dataclass(frozen=True)
class Cluster:
    name: str
    docker_host: str  # tcp://127.0.0.1:<port>, the manager's API (no TLS)
    nodes: tuple[str, ...]  # swarm node hostnames, manager first
    registry: str  # host:port the nodes pull from (resolved on the cluster network)
    ports: tuple[int, int]  # the manager's published block, first and last
    seconds: float = 0.0


def prefix(name: str) -> str:
    return f"drill-cluster-{name}"


def labels(name: str, role: str, node: str | None = None) -> dict[str, str]:
    out = {LABEL_HARNESS: "true", LABEL_CLUSTER: name, LABEL_ROLE: role}
    if node is not None:
        out[LABEL_NODE] = node
    return out


def engine_digest() -> str:
    return hashlib.sha256(f"{base_digest()}|{ENGINE_RECIPE}|v1".encode()).hexdigest()[:16]


def engine_image(client: docker.DockerClient, progress: Progress) -> str:
    """The engine image (built once on the bootstrapped base; reused while its recipe is unchanged)."""
    tag = f"drill-engine:{engine_digest()}"
    return build_on_base(client, tag, ENGINE_RECIPE, {LABEL_IMAGE: "true", LABEL_IMAGE_INPUTS: engine_digest()}, progress,
                         announce=f"building {tag} ({', '.join(ENGINE_PACKAGES)} from Debian; about half a minute)",
                         hint=" (can containers reach the Debian mirror?)")


def _free_block(size: int, start: int = 27400, stop: int = 32000) -> int:
    """The first port of ``size`` consecutive ports free on 127.0.0.1."""
    for first in range(start, stop, size):
        try:
            socks = []
            for port in range(first, first + size):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise ClusterError(f"no block of {size} free ports on 127.0.0.1 between {start} and {stop}")


def find(client: docker.DockerClient, name: str = "drill") -> Cluster | None:
    """The running cluster of that name, read back from its containers' labels; None if there is none."""
    found = client.containers.list(filters={"label": [f"{LABEL_CLUSTER}={name}", f"{LABEL_ROLE}=cluster-node"]})
    if not found:
        return None
    by_node = sorted(found, key=lambda c: c.labels.get(LABEL_NODE, ""))
    manager = by_node[0]
    api = manager.attrs["HostConfig"]["PortBindings"][f"{API_PORT}/tcp"][0]["HostPort"]
    first, last = manager.labels.get(LABEL_PORTS, "0-0").split("-")
    return Cluster(name, f"tcp://127.0.0.1:{api}", tuple(c.labels[LABEL_NODE] for c in by_node),
                   f"{prefix(name)}-registry:{REGISTRY_PORT}", (int(first), int(last)))


def up(client: docker.DockerClient, nodes: int = 3, name: str = "drill", progress: Progress = lambda m: None,
       start_timeout: float = 60.0) -> Cluster:
    """Start the cluster (see the module docstring); on any failure, remove what was made and raise."""
    if not 1 <= nodes <= MAX_NODES:
        raise ClusterError(f"--nodes {nodes}: between 1 and {MAX_NODES} on one machine")
    if find(client, name) is not None or client.containers.list(all=True, filters={"label": f"{LABEL_CLUSTER}={name}"}):
        raise ClusterError(f"a cluster named {name!r} exists already: `drill cluster down --name {name}` first")
    t0 = time.monotonic()
    image = engine_image(client, progress)
    stack = ensure_images(client, progress)
    try:
        return _up(client, image, stack.model, nodes, name, progress, start_timeout, t0)
    except BaseException:
        down(client, name)
        raise


def _up(client: docker.DockerClient, image: str, model_image: str, nodes: int, name: str, progress: Progress,
        start_timeout: float, t0: float) -> Cluster:
    pre = prefix(name)
    registry = f"{pre}-registry:{REGISTRY_PORT}"
    network = client.networks.create(f"{pre}-net", driver="bridge", labels=labels(name, "cluster-network"))
    client.containers.run(
        image, ["sh", "-c", 'printf "%s" "$DRILL_CONFIG" > /tmp/registry.yml && exec docker-registry serve /tmp/registry.yml'],
        name=f"{pre}-registry", detach=True, network=network.name, labels=labels(name, "cluster-registry"),
        environment={"DRILL_CONFIG": REGISTRY_CONFIG},
        tmpfs={"/tmp": "rw,size=2g,mode=1777"},
        cap_drop=["ALL"], security_opt=["no-new-privileges:true"], user="65534:65534", read_only=True)
    first = _free_block(PORT_BLOCK + 1)
    hostnames = [f"{pre}-node-{i}" for i in range(1, nodes + 1)]
    containers = []
    for i, hostname in enumerate(hostnames):
        manager = i == 0
        command = [*ENGINE_START, "dockerd", "--host=unix:///var/run/docker.sock", f"--storage-driver={STORAGE_DRIVER}",
                   f"--insecure-registry={registry}"]
        volume = client.volumes.create(f"{hostname}-docker", labels=labels(name, "cluster-node-storage", hostname))
        if not manager:
            containers.append(_run_engine(client, image, command, hostname, network.name, {},
                                          labels(name, "cluster-node", hostname), volume.name))
            continue
        command.append(f"--host=tcp://0.0.0.0:{API_PORT}")
        # The block was free when probed, but another `drill cluster up` (a second test run, a bench) may take it
        # before this engine binds it: Docker then refuses the start ("port is already allocated"). Next block.
        for _attempt in range(5):
            api_port, ports = first, (first + 1, first + PORT_BLOCK)
            published: dict[str, object] = {f"{API_PORT}/tcp": ("127.0.0.1", api_port),
                                            **{f"{p}/tcp": ("127.0.0.1", p) for p in range(ports[0], ports[1] + 1)}}
            node_labels = {**labels(name, "cluster-node", hostname), LABEL_PORTS: f"{ports[0]}-{ports[1]}"}
            try:
                containers.append(_run_engine(client, image, command, hostname, network.name, published, node_labels,
                                              volume.name))
                break
            except docker.errors.APIError as exc:
                if "already allocated" not in str(exc) and "address already in use" not in str(exc):
                    raise
                try:
                    client.api.remove_container(hostname, force=True)  # created, not started
                except docker.errors.NotFound:
                    pass
                first = _free_block(PORT_BLOCK + 1, start=first + PORT_BLOCK + 1)
        else:
            raise ClusterError(f"no free block of {PORT_BLOCK + 1} ports on 127.0.0.1 stayed free long enough")
    progress(f"{nodes} engine(s) starting")
    for container, hostname in zip(containers, hostnames):
        _wait_engine(container, hostname, start_timeout)
    docker_host = f"tcp://127.0.0.1:{api_port}"
    manager_client = docker.DockerClient(base_url=docker_host, timeout=120)
    manager_ip = _ip(containers[0], network.name)
    manager_client.swarm.init(advertise_addr=manager_ip, listen_addr=f"{manager_ip}:2377",
                              labels={LABEL_CLUSTER: name})
    token = manager_client.swarm.attrs["JoinTokens"]["Worker"]
    for container, hostname in zip(containers[1:], hostnames[1:]):
        code, out = container.exec_run(["docker", "swarm", "join", "--token", token, f"{manager_ip}:2377"])
        if code != 0:
            raise ClusterError(f"{hostname} could not join the swarm: {out.decode(errors='replace').strip()}")
    network.reload()  # the gateway: where this host's connections to the published ports come from
    gateway = str(network.attrs["IPAM"]["Config"][0]["Gateway"])
    _label_manager(manager_client, hostnames[0], {LABEL_REGISTRY: registry, LABEL_PORTS: f"{ports[0]}-{ports[1]}",
                                                   LABEL_API_FROM: gateway})
    progress(f"swarm of {nodes} node(s) formed; copying the stack images into the manager")
    _copy_image(client, manager_client, model_image)
    stack = cached_images(client)
    if stack is not None:
        for tag in (stack.router, stack.prometheus):
            manager_client.images.get(model_image).tag(tag) if _same(client, tag, model_image) else _copy_image(client, manager_client, tag)
    _wait_nodes_ready(manager_client, nodes, start_timeout)
    return Cluster(name, docker_host, tuple(hostnames), registry, ports, round(time.monotonic() - t0, 1))


def _run_engine(client: docker.DockerClient, image: str, command: list[str], hostname: str, network: str,
                published: dict[str, object], node_labels: dict[str, str], volume: str) -> Container:
    """``docker run`` of one engine. Through the low-level API: ``--security-opt systempaths=unconfined`` is the
    CLI's word for empty MaskedPaths and ReadonlyPaths (dockerd mounts /proc/sys and friends itself)."""
    api = client.api
    host_config = api.create_host_config(
        cap_add=ENGINE_CAPS, security_opt=ENGINE_SECURITY, port_bindings=published,
        binds={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}, volume: {"bind": "/var/lib/docker", "mode": "rw"}},
        network_mode=network)
    host_config["MaskedPaths"] = []
    host_config["ReadonlyPaths"] = []
    created = api.create_container(image, command, name=hostname, hostname=hostname, labels=node_labels,
                                   ports=[int(p.split("/")[0]) for p in published], host_config=host_config)
    api.start(created["Id"])
    return client.containers.get(created["Id"])


def _same(client: docker.DockerClient, a: str, b: str) -> bool:
    return bool(client.images.get(a).id == client.images.get(b).id)


def _ip(container: Container, network: str) -> str:
    container.reload()
    return str(container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])


def _wait_engine(container: Container, hostname: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        if container.status != "running":
            logs = container.logs(tail=15).decode(errors="replace")
            raise ClusterError(f"engine {hostname} exited ({container.status}): {logs}")
        code, _ = container.exec_run(["docker", "version", "--format", "{{.Server.Version}}"])
        if code == 0:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"engine {hostname} did not answer within {timeout:g}s: "
                               + container.logs(tail=15).decode(errors="replace"))
        time.sleep(0.3)


def _label_manager(client: docker.DockerClient, hostname: str, extra: dict[str, str]) -> None:
    """What a run must know about the cluster, on the manager's node: read back through the Docker API."""
    node = next(n for n in client.nodes.list() if n.attrs["Description"]["Hostname"] == hostname)
    spec = node.attrs["Spec"]
    spec["Labels"] = {**(spec.get("Labels") or {}), **extra}
    node.update(spec)


def _wait_nodes_ready(client: docker.DockerClient, nodes: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ready = [n for n in client.nodes.list() if n.attrs["Status"]["State"] == "ready"]
        if len(ready) >= nodes:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"only {len(ready)} of {nodes} swarm nodes ready after {timeout:g}s")
        time.sleep(0.3)


def _copy_image(source: docker.DockerClient, target: docker.DockerClient, tag: str) -> None:
    """docker save | docker load, streamed (no temporary file). Saved under ``tag`` itself: one image often has
    several tags (the stack's roles and the bootstrapped base), and ``named=True`` would keep only the first."""
    target.images.load(source.images.get(tag).save(named=tag))


def down(client: docker.DockerClient, name: str = "drill") -> int:
    """Remove the cluster's containers (engines, their tasks with them), network and volumes; how many resources."""
    selector = {"label": f"{LABEL_CLUSTER}={name}"}
    removed = 0
    for container in client.containers.list(all=True, filters=selector):
        try:
            container.remove(force=True, v=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    for network in client.networks.list(filters=selector):
        try:
            network.remove()
            removed += 1
        except docker.errors.NotFound:
            pass
    for volume in client.volumes.list(filters=selector):
        try:
            volume.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    return removed


def host_engine() -> docker.DockerClient:
    """The engine the cluster's containers run on (this host's; not DOCKER_HOST, which names the manager)."""
    url = os.environ.get(HOST_ENGINE_ENV, "unix:///var/run/docker.sock")
    try:
        client = docker.DockerClient(base_url=url, timeout=60)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise ClusterError(f"this host's engine ({url}, {HOST_ENGINE_ENV}) unreachable: {exc}") from exc
    return client


def stop_node(client: docker.DockerClient, name: str, hostname: str, timeout: int = 10) -> None:
    """A node going away: stop its engine's container (its dockerd and every task on it stop with it)."""
    found = client.containers.list(filters={"label": [f"{LABEL_CLUSTER}={name}", f"{LABEL_NODE}={hostname}",
                                                      f"{LABEL_ROLE}=cluster-node"]})
    if not found:
        raise ClusterError(f"no running engine {hostname} in cluster {name!r}")
    found[0].stop(timeout=timeout)


def start_node(client: docker.DockerClient, name: str, hostname: str) -> None:
    """Bring a stopped node back (its storage volume kept); it rejoins the swarm by itself."""
    found = client.containers.list(all=True, filters={"label": [f"{LABEL_CLUSTER}={name}", f"{LABEL_NODE}={hostname}",
                                                                f"{LABEL_ROLE}=cluster-node"]})
    if found and found[0].status != "running":
        found[0].start()
