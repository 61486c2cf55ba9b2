"""Runs a team's versions as hardened containers, one per slot (``ports.Backend``), and the fault proxy
in front of the candidate (``ports.Fault``).

A team container: the version's image (by its run tag), on the run's network under the slot's name,
no capabilities, no new privileges, memory and pids limits, a read-only root with a tmpfs on /tmp
(unless the drill says ``read_only: false``), the image's own user unless the drill names one, the
run's labels. The run network is internal (no egress); the readiness check reaches the server there, from
inside the router's container (Docker's exec): the harness process connects to no container address.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import docker
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from harness.ports import SECONDARY, Endpoint, ServiceFailed
from harness.spec.models import FaultSpec
from harness.stack.docker_api import container_ip, run_labels
from harness.stack.services import (
    FAULT_PROXY_ALIAS,
    FAULT_PROXY_METRICS_PORT,
    FAULT_PROXY_PORT,
    StackContainer,
    hardening,
    logs,
    running,
    stop,
    wait_serving,
)
from harness.targets.image.spec import ImageTargetSpec

SLOTS = ("stable", "candidate", SECONDARY)  # secondary: a second stable instance behind a shadow stage's tee


class ImageBackend:
    kind = "docker"

    def __init__(self, spec: ImageTargetSpec, run_id: str, network: Network, image_of: Callable[[str], str],
                 probe: Callable[[str, int, str, float], tuple[bool, str]]) -> None:
        self.spec = spec
        self.probe = probe  # GET (host, port, path, budget) from inside the run network: ServiceStack.probe
        self.run_id = run_id
        self.network = network
        self.image_of = image_of  # version -> the image reference to run (its run tag)
        self._lock = threading.Lock()
        self._containers: dict[str, StackContainer] = {}
        self._addresses: dict[str, Endpoint] = {}

    def start(self, slot: str, version: str) -> Endpoint:
        if slot not in SLOTS:
            raise ServiceFailed(f"unknown slot {slot!r}; known: {', '.join(SLOTS)}")
        if version not in self.spec.versions:
            raise ServiceFailed(f"no version {version!r} in the drill; known: {', '.join(self.spec.versions)}")
        self.stop(slot)
        container = self._container(slot, version)
        with self._lock:
            self._containers[slot] = container
        try:
            container.start()
        except docker.errors.DockerException as exc:
            raise ServiceFailed(f"{slot} ({version}) did not start: {exc}") from exc
        endpoint = Endpoint(container_ip(container.get_wrapped_container(), self.network.name), self.spec.port)
        wait_serving(container, lambda budget: self.probe(endpoint.host, endpoint.port, self.spec.health_path, budget),
                     self.spec.startup_timeout, f"model server {slot} ({version}, {self.image_of(version)})")
        with self._lock:
            self._addresses[slot] = endpoint
        return endpoint

    def _container(self, slot: str, version: str) -> StackContainer:
        chosen = self.spec.versions[version]
        env = {**self.spec.env, **chosen.env}
        command = chosen.command or self.spec.command
        kwargs: dict[str, Any] = {
            "labels": run_labels(self.run_id, f"model-{slot}") | {"io.drill.version": version},
            # The image's own USER unless the drill names one; a read-only root unless the drill says otherwise.
            **hardening(self.spec.memory, self.spec.pids, user=self.spec.user, read_only=self.spec.read_only),
        }
        container = (StackContainer(self.image_of(version), name=f"drill-{self.run_id}-{slot}")
                     .with_network(self.network).with_network_aliases(slot)
                     .with_tmpfs("/tmp", "rw,size=64m,mode=1777")
                     .with_kwargs(**kwargs))
        if command is not None:
            container.with_command(command)
        for key, value in env.items():
            container.with_env(key, value)
        return container

    def stop(self, slot: str) -> None:
        with self._lock:
            container = self._containers.pop(slot, None)
            self._addresses.pop(slot, None)
        stop(container)

    def running(self, slot: str) -> bool:
        return running(self._containers.get(slot))

    def address(self, slot: str) -> Endpoint | None:
        return self._addresses.get(slot)

    def replicas(self) -> dict[str, int] | None:
        return None

    def logs(self, slot: str) -> str:
        container = self._containers.get(slot)
        return logs(container) if container is not None else ""


def proxy_env(fault: FaultSpec, upstream: Endpoint, predict_path: str) -> dict[str, str]:
    """The fault proxy's configuration (see harness/serving/fault_proxy.py) for a drill's fault."""
    env = {"UPSTREAM": f"{upstream.host}:{upstream.port}", "FAULT_KIND": fault.kind,
           "FAULT_RATE": str(fault.rate if fault.rate is not None else 1.0), "FAULT_PATHS": predict_path,
           "PORT": str(FAULT_PROXY_PORT), "METRICS_PORT": str(FAULT_PROXY_METRICS_PORT)}
    if fault.status is not None:
        env["FAULT_STATUS"] = str(fault.status)
    if fault.ms is not None:
        env["FAULT_MS"] = str(fault.ms)
    if fault.body is not None:
        env["FAULT_BODY"] = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
    return env


def describe(fault: FaultSpec) -> str:
    if not fault.inject or fault.kind == "none":
        return "the candidate version itself (no injected fault)"
    share = f"{(fault.rate if fault.rate is not None else 1.0):.0%} of predict requests"
    detail = {"error": f"answered {fault.status or 503}", "latency": f"delayed {fault.ms or 0:g} ms",
              "drop": "dropped (connection reset)", "wrong_body": "answered 200 with a wrong body"}[fault.kind]
    return f"fault proxy in front of the candidate: {share} {detail}"


class ProxyFault:
    """``ports.Fault``: a fault proxy container (the role image's fault_proxy.py) in front of the candidate."""

    def __init__(self, fault: FaultSpec, run_id: str, network: Network | None, image: str, predict_path: str,
                 startup_timeout: float = 20.0) -> None:
        self.fault = fault
        self.run_id = run_id
        self.network = network
        self.image = image
        self.predict_path = predict_path
        self.startup_timeout = startup_timeout
        self.description = describe(fault)
        self._proxy: StackContainer | None = None

    @property
    def active(self) -> bool:
        return self.fault.inject and self.fault.kind != "none"

    def wrap(self, slot: str, endpoint: Endpoint) -> Endpoint:
        if slot != "candidate" or not self.active:
            return endpoint
        if self.network is None or not self.image:
            raise ServiceFailed("the fault proxy needs the run's network and image: prepare the target first")
        self.unwrap(slot)
        container = (StackContainer(self.image, name=f"drill-{self.run_id}-{FAULT_PROXY_ALIAS}")
                     .with_network(self.network).with_network_aliases(FAULT_PROXY_ALIAS)
                     .with_kwargs(entrypoint=["python3", "-u", "/opt/drill/fault_proxy.py"],
                                  labels=run_labels(self.run_id, "fault-proxy"), **hardening("64m", 64))
                     .waiting_for(LogMessageWaitStrategy("fault proxy: ")
                                  .with_startup_timeout(int(self.startup_timeout)).with_poll_interval(0.1)))
        for key, value in proxy_env(self.fault, endpoint, self.predict_path).items():
            container.with_env(key, value)
        self._proxy = container
        try:
            container.start()
        except Exception as exc:  # testcontainers' wait raises plain exceptions
            raise ServiceFailed(f"fault proxy did not start: {logs(container) or exc}") from exc
        return Endpoint(container_ip(container.get_wrapped_container(), self.network.name), FAULT_PROXY_PORT)

    def unwrap(self, slot: str) -> None:
        if slot != "candidate":
            return
        proxy, self._proxy = self._proxy, None
        stop(proxy, timeout=2)
