"""The one place that talks to docker-py (and sets testcontainers up to behave here).

Everything the harness creates carries ``LABEL_HARNESS``; resources of one run also carry
``LABEL_RUN``. ``sweep`` removes by label, which is what ``drill clean`` and every teardown use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import docker
import docker.errors
from docker.models.containers import Container

from harness.errors import BackendUnavailable

LABEL_HARNESS = "io.drill.harness"
LABEL_RUN = "io.drill.run-id"
LABEL_ROLE = "io.drill.role"
LABEL_INPUTS = "io.drill.inputs"

# Ryuk (testcontainers' reaper) cannot be pulled without a registry; we label and sweep ourselves.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def run_labels(run_id: str, role: str) -> dict[str, str]:
    return {LABEL_HARNESS: "true", LABEL_RUN: run_id, LABEL_ROLE: role}


def connect() -> docker.DockerClient:
    """A client for the local engine, or BackendUnavailable saying what to do."""
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise BackendUnavailable(
            f"Docker engine unreachable ({exc}). Start Docker, or set DOCKER_HOST to a running engine."
        ) from exc
    return client


@dataclass(frozen=True)
class SweepResult:
    containers: int
    networks: int
    volumes: int

    @property
    def total(self) -> int:
        return self.containers + self.networks + self.volumes


def sweep(client: docker.DockerClient, run_id: str | None = None) -> SweepResult:
    """Remove every container, network and volume the harness labelled (one run's, or all)."""
    selector = f"{LABEL_RUN}={run_id}" if run_id else f"{LABEL_HARNESS}=true"
    containers = client.containers.list(all=True, filters={"label": selector})
    for container in containers:
        _remove_container(container)
    networks = client.networks.list(filters={"label": selector})
    for network in networks:
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
    volumes = client.volumes.list(filters={"label": selector})
    for volume in volumes:
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
    return SweepResult(len(containers), len(networks), len(volumes))


def _remove_container(container: Container) -> None:
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # "removal already in progress" is fine; anything else is worth surfacing.
        if "in progress" not in str(exc):
            raise


def container_ip(container: Container, network_name: str) -> str:
    container.reload()
    return str(container.attrs["NetworkSettings"]["Networks"][network_name]["IPAddress"])
