"""The built-in demo stack of one run: the shared services (networks, router, Prometheus) plus a registry
volume and the stdlib model servers reading it, one container per slot.

Containers are started and awaited through testcontainers, hardened (non-root, read-only root,
no capabilities, no new privileges, memory and pids limits), publish only on 127.0.0.1, and carry
the run's labels; ``close`` sweeps everything with the run's label, whatever state it is in.
"""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from harness.ports import SECONDARY, SLOTS, ServiceFailed
from harness.stack.docker_api import container_ip, run_labels, sweep
from harness.stack.images import StackImages
from harness.stack.services import MODEL_PORT, REGISTRY_MOUNT, ServiceStack, StackContainer, hardening, packaged, running, stop

MODEL_COMMAND = ["python3", "-u", "/opt/drill/model_server.py"]
__all__ = ["MODEL_PORT", "REGISTRY_MOUNT", "Stack"]


class Stack(ServiceStack):
    def __init__(self, client: docker.DockerClient, images: StackImages, run_id: str, model: str,
                 startup_timeout: float = 30.0, model_env: dict[str, str] | None = None,
                 router_configs: tuple[str, ...] = ()) -> None:
        super().__init__(client, images, run_id, startup_timeout)
        self.model_env = dict(model_env or {})  # extra environment for every model server (the drill's noise)
        self.router_configs = router_configs  # more HAProxy files (under /opt/drill) loaded after haproxy.cfg
        self.model = model
        self.volume_name = f"drill-{run_id}-registry"
        self.models: dict[str, StackContainer] = {}
        self._lock = threading.Lock()
        self._loader: Container | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self, registry_root: Path, stable_ref: str | None, fill_volume: Callable[[], None] | None = None) -> None:
        """Network, registry volume, then stable server, router and Prometheus in parallel.
        Without ``stable_ref`` no model container starts (another backend runs the model versions);
        ``fill_volume`` runs once the registry is in its volume, before any model server (big weights)."""
        self.create_network()
        self.client.volumes.create(self.volume_name, labels=run_labels(self.run_id, "registry"))
        self._loader = self.client.containers.create(
            self.images.model, entrypoint=["true"], name=f"drill-{self.run_id}-registry-loader",
            labels=run_labels(self.run_id, "registry-loader"), volumes={self.volume_name: {"bind": REGISTRY_MOUNT, "mode": "rw"}},
        )
        self.sync_registry(registry_root)
        if fill_volume is not None:
            fill_volume()
        with ThreadPoolExecutor(max_workers=3) as pool:
            starts: list[Future[object]] = [pool.submit(self.start_router, "/healthz", self.router_configs),
                                            pool.submit(self.start_prometheus, packaged("prometheus.yml"))]
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
        if slot not in (*SLOTS, SECONDARY):
            raise ServiceFailed(f"unknown slot {slot!r}; known: {', '.join((*SLOTS, SECONDARY))}")
        container = (
            StackContainer(self.images.model, name=f"drill-{self.run_id}-{slot}")
            .with_network(self.network)
            .with_network_aliases(slot)
            .with_envs(MODEL_NAME=self.model, MODEL_REF=ref, REGISTRY_DIR=REGISTRY_MOUNT, PORT=str(MODEL_PORT), **self.model_env)
            .with_volume_mapping(self.volume_name, REGISTRY_MOUNT, "ro")
            .with_kwargs(entrypoint=MODEL_COMMAND, labels=run_labels(self.run_id, f"model-{slot}"),
                         **hardening("128m", 64))
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
        stop(container, timeout)

    def model_ip(self, slot: str) -> str:
        return container_ip(self.models[slot].get_wrapped_container(), self.network.name)

    @staticmethod
    def container_running(container: StackContainer | None) -> bool:
        return running(container)

    def model_running(self, slot: str) -> bool:
        return running(self.models.get(slot))
