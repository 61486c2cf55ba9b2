"""The serving stack of one run: a private network, a registry volume, model servers, router, Prometheus.

Containers are started and awaited through testcontainers, hardened (non-root, read-only root,
no capabilities, no new privileges, memory and pids limits), publish only on 127.0.0.1, and carry
the run's labels; ``close`` sweeps everything with the run's label, whatever state it is in.
"""

from __future__ import annotations

import io
import tarfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

from harness.ports import SLOTS, ServiceFailed
from harness.stack.docker_api import container_ip, run_labels, sweep
from harness.stack.images import StackImages
from harness.stack.prometheus import PrometheusClient
from harness.stack.router import RouterClient

MODEL_PORT = 8080
ROUTER_PORT = 8000
ROUTER_ADMIN_PORT = 9999
ROUTER_METRICS_PORT = 8405
PROMETHEUS_PORT = 9090
REGISTRY_MOUNT = "/registry"

ROLE_COMMANDS: dict[str, list[str]] = {
    "model": ["python3", "-u", "/opt/drill/model_server.py"],
    "router": ["haproxy", "-db", "-f", "/opt/drill/haproxy.cfg"],
    "prometheus": ["prometheus", "--config.file=/opt/drill/prometheus.yml", "--storage.tsdb.path=/prometheus",
                   "--web.listen-address=:9090", "--storage.tsdb.retention.time=2h"],
}


def _hardening(memory: str, pids: int) -> dict[str, Any]:
    return {
        "user": "65534:65534",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": memory,
        "pids_limit": pids,
    }


class StackContainer(DockerContainer):
    """A testcontainers container that publishes ports on 127.0.0.1 only."""

    def publish_local(self, port: int) -> StackContainer:
        # testcontainers' with_bind_ports binds every interface; docker-py takes (ip, None) for a random port.
        self.ports[f"{port}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]
        return self

    def with_tmpfs(self, path: str, options: str) -> StackContainer:
        # testcontainers' with_tmpfs_mount passes a bare size, which this engine rejects.
        self.tmpfs[path] = options
        return self

    def get_container_host_ip(self) -> str:
        return "127.0.0.1"  # what we publish on; "localhost" may resolve to ::1 first

    def local_port(self, port: int) -> int:
        return int(self.get_exposed_port(port))


class Stack:
    def __init__(self, client: docker.DockerClient, images: StackImages, run_id: str, model: str,
                 startup_timeout: float = 30.0, model_env: dict[str, str] | None = None,
                 router_configs: tuple[str, ...] = ()) -> None:
        self.model_env = dict(model_env or {})  # extra environment for every model server (the drill's noise)
        self.client = client
        self.router_configs = router_configs  # more HAProxy files (under /opt/drill) loaded after haproxy.cfg
        self.images = images
        self.run_id = run_id
        self.model = model
        self.startup_timeout = startup_timeout
        # Two networks: the run network is internal (model servers get no egress and reach nothing but the
        # stack); the edge network only carries the published ports of the router and Prometheus.
        self.network = Network(docker_network_kw={"labels": run_labels(run_id, "network"), "internal": True})
        self.edge = Network(docker_network_kw={"labels": run_labels(run_id, "edge-network")})
        self.volume_name = f"drill-{run_id}-registry"
        self.models: dict[str, StackContainer] = {}
        self._lock = threading.Lock()
        self._loader: Container | None = None
        self.router_container: StackContainer | None = None
        self.prometheus_container: StackContainer | None = None
        self.router: RouterClient | None = None
        self.prometheus: PrometheusClient | None = None
        self.router_port = 0

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self, registry_root: Path, stable_ref: str | None) -> None:
        """Network, registry volume, then stable server, router and Prometheus in parallel.
        Without ``stable_ref`` no model container starts (another backend runs the model versions)."""
        self.network.create()
        self.edge.create()
        self.client.volumes.create(self.volume_name, labels=run_labels(self.run_id, "registry"))
        self._loader = self.client.containers.create(
            self.images.model, entrypoint=["true"], name=f"drill-{self.run_id}-registry-loader",
            labels=run_labels(self.run_id, "registry-loader"), volumes={self.volume_name: {"bind": REGISTRY_MOUNT, "mode": "rw"}},
        )
        self.sync_registry(registry_root)
        with ThreadPoolExecutor(max_workers=3) as pool:
            starts: list[Future[object]] = [pool.submit(self._start_router), pool.submit(self._start_prometheus)]
            if stable_ref is not None:
                starts.append(pool.submit(self.start_model, "stable", stable_ref))
            for started in starts:
                started.result()

    def close(self) -> None:
        """Remove every resource of this run (by label), whatever happened before."""
        sweep(self.client, self.run_id)

    # ---- registry volume ------------------------------------------------------------------
    def sync_registry(self, registry_root: Path) -> None:
        """Copy the host-side registry into the volume the model servers read (read-only)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for path in sorted(registry_root.rglob("*")):
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(registry_root)))
                info.uid = info.gid = 0
                info.mode = 0o755 if path.is_dir() else 0o644
                if path.is_file():
                    with path.open("rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
        assert self._loader is not None
        self._loader.put_archive(REGISTRY_MOUNT, buf.getvalue())

    # ---- services -------------------------------------------------------------------------
    def start_model(self, slot: str, ref: str) -> str:
        """Start a model server in a slot; returns its IP on the run network once it serves."""
        if slot not in SLOTS:
            raise ServiceFailed(f"unknown slot {slot!r}; known: {', '.join(SLOTS)}")
        container = (
            StackContainer(self.images.model, name=f"drill-{self.run_id}-{slot}")
            .with_network(self.network)
            .with_network_aliases(slot)
            .with_envs(MODEL_NAME=self.model, MODEL_REF=ref, REGISTRY_DIR=REGISTRY_MOUNT, PORT=str(MODEL_PORT), **self.model_env)
            .with_volume_mapping(self.volume_name, REGISTRY_MOUNT, "ro")
            .with_kwargs(entrypoint=ROLE_COMMANDS["model"], labels=run_labels(self.run_id, f"model-{slot}"),
                         **_hardening("128m", 64))
            .waiting_for(LogMessageWaitStrategy("serving ")
                         .with_startup_timeout(int(self.startup_timeout)).with_poll_interval(0.1))
        )
        with self._lock:
            self.models[slot] = container
        self._start(container, f"model server {slot} ({ref})")
        return container_ip(container.get_wrapped_container(), self.network.name)

    def stop_model(self, slot: str, timeout: int = 5) -> None:
        """Graceful stop (SIGTERM lets in-flight requests finish), then remove."""
        with self._lock:
            container = self.models.pop(slot, None)
        if container is None:
            return
        wrapped = container.get_wrapped_container()
        try:
            wrapped.stop(timeout=timeout)
            wrapped.remove(force=True)
        except docker.errors.NotFound:
            pass

    def model_ip(self, slot: str) -> str:
        return container_ip(self.models[slot].get_wrapped_container(), self.network.name)

    @staticmethod
    def container_running(container: DockerContainer | None) -> bool:
        if container is None:
            return False
        try:
            wrapped = container.get_wrapped_container()
            wrapped.reload()
        except docker.errors.DockerException:
            return False
        return bool(wrapped.status == "running")

    def model_running(self, slot: str) -> bool:
        container = self.models.get(slot)
        if container is None:
            return False
        wrapped = container.get_wrapped_container()
        try:
            wrapped.reload()
        except docker.errors.NotFound:
            return False
        return bool(wrapped.status == "running")

    def _edge_gateway(self) -> str:
        attrs = self.client.networks.get(self.edge.id).attrs
        return str(attrs["IPAM"]["Config"][0]["Gateway"])

    def _start_router(self) -> None:
        container = (
            StackContainer(self.images.router, name=f"drill-{self.run_id}-router")
            .with_network(self.edge)
            .publish_local(ROUTER_PORT).publish_local(ROUTER_ADMIN_PORT).publish_local(ROUTER_METRICS_PORT)
            .with_env("ADMIN_FROM", self._edge_gateway())
            .with_tmpfs("/run/haproxy", "rw,size=1m,mode=1777")
            .with_kwargs(entrypoint=ROLE_COMMANDS["router"] + [a for f in self.router_configs for a in ("-f", f"/opt/drill/{f}")],
                         labels=run_labels(self.run_id, "router"),
                         **_hardening("128m", 256))
            .waiting_for(self._http_ready(ROUTER_METRICS_PORT, "/healthz"))
        )
        self.router_container = container
        self._start(container, "router")
        self.network.connect(container.get_wrapped_container().id, network_aliases=["router"])
        self.router_port = container.local_port(ROUTER_PORT)
        self.router = RouterClient("127.0.0.1", container.local_port(ROUTER_ADMIN_PORT))

    def _start_prometheus(self) -> None:
        container = (
            StackContainer(self.images.prometheus, name=f"drill-{self.run_id}-prometheus")
            .with_network(self.edge)
            .publish_local(PROMETHEUS_PORT)
            .with_tmpfs("/prometheus", "rw,size=256m,mode=1777")
            .with_kwargs(entrypoint=ROLE_COMMANDS["prometheus"], labels=run_labels(self.run_id, "prometheus"),
                         **_hardening("512m", 256))
            .waiting_for(self._http_ready(PROMETHEUS_PORT, "/-/ready"))
        )
        self.prometheus_container = container
        self._start(container, "prometheus")
        self.network.connect(container.get_wrapped_container().id, network_aliases=["prometheus"])
        self.prometheus = PrometheusClient(f"http://127.0.0.1:{container.local_port(PROMETHEUS_PORT)}")

    def _http_ready(self, port: int, path: str) -> HttpWaitStrategy:
        return HttpWaitStrategy(port, path).with_startup_timeout(int(self.startup_timeout)).with_poll_interval(0.1)

    def _start(self, container: StackContainer, what: str) -> None:
        try:
            container.start()
        except Exception as exc:
            raise ServiceFailed(f"{what} did not become ready: {self._logs(container) or exc}") from exc

    @staticmethod
    def _logs(container: DockerContainer) -> str:
        try:
            out, err = container.get_logs()
        except Exception:  # the container may be gone already; logs are only a courtesy here
            return ""
        return (out + err).decode(errors="replace").strip()[-800:]
