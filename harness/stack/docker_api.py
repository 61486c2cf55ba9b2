"""The one place that talks to docker-py (and sets testcontainers up to behave here).

Everything the harness creates carries ``LABEL_HARNESS``; resources of one run also carry
``LABEL_RUN``. ``sweep`` removes by label, which is what ``drill clean`` and every teardown use.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import docker
import docker.errors
import docker.types
from docker.models.containers import Container
from docker.models.networks import Network

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
    services: int = 0
    configs: int = 0
    left_swarm: bool = False  # a swarm the harness made for a run, left once nothing of the harness used it
    image_tags: int = 0  # per-run tags of team images: drill-team-<model>:run-<run id>-<version>

    @property
    def total(self) -> int:
        return self.containers + self.networks + self.volumes + self.services + self.configs


def sweep(client: docker.DockerClient, run_id: str | None = None, settle: float = 30.0) -> SweepResult:
    """Remove every Swarm service and config, container, network and volume the harness labelled (one run's, or all)."""
    selector = f"{LABEL_RUN}={run_id}" if run_id else f"{LABEL_HARNESS}=true"
    services, configs = _sweep_swarm(client, selector)
    containers = client.containers.list(all=True, filters={"label": selector})
    for container in containers:
        _remove_container(container)
    networks = client.networks.list(filters={"label": selector})
    for network in networks:
        _remove_network(network, settle if services else 0.0)
    volumes = client.volumes.list(filters={"label": selector})
    for volume in volumes:
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
    tags = _sweep_run_tags(client, run_id)
    return SweepResult(len(containers), len(networks), len(volumes), services, configs, image_tags=tags)


RUN_TAG_REPO_PREFIX = "drill-team-"


def _sweep_run_tags(client: docker.DockerClient, run_id: str | None) -> int:
    """Untag what a run tagged for itself (a killed image-target run leaves them); the images stay."""
    prefix = f"run-{run_id}-" if run_id else "run-"
    removed = 0
    for image in client.images.list():
        for tag in image.tags:
            repo, _, name = tag.rpartition(":")
            if repo.startswith(RUN_TAG_REPO_PREFIX) and name.startswith(prefix):
                try:
                    client.images.remove(tag, noprune=True)
                    removed += 1
                except docker.errors.NotFound:
                    pass
    return removed


def _remove_network(network: Network, settle: float) -> None:
    """An overlay network stays "in use" for a moment after its service's tasks are gone: retry for ``settle`` s."""
    deadline = time.monotonic() + settle
    while True:
        try:
            network.remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if "active endpoints" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


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


# ---- Swarm services and configs: swept before the networks (the rest of Swarm is in swarm_api) ----------
def _sweep_swarm(client: docker.DockerClient, selector: str) -> tuple[int, int]:
    """Services and configs of the harness, removed before their overlay networks."""
    try:
        services = client.services.list(filters={"label": selector})
        configs = client.configs.list(filters={"label": selector})
    except docker.errors.APIError:
        return 0, 0  # not a swarm manager: nothing of ours can be there
    for service in services:
        try:
            service.remove()
        except docker.errors.NotFound:
            pass
    for config in configs:
        try:
            config.remove()
        except docker.errors.NotFound:
            pass
    _await_tasks_gone(client, [str(s.id) for s in services])
    return len(services), len(configs)


def _await_tasks_gone(client: docker.DockerClient, service_ids: list[str], settle: float = 15.0) -> None:
    """A removed service's task containers go away on Swarm's own time (a task still starting may even appear
    after the removal): remove what shows up until none is left, or ``settle`` seconds passed."""
    deadline = time.monotonic() + settle
    while service_ids and time.monotonic() < deadline:
        left = [c for sid in service_ids
                for c in client.containers.list(all=True, filters={"label": f"com.docker.swarm.service.id={sid}"})]
        if not left:
            return
        for container in left:
            _remove_container(container)
        time.sleep(0.2)


def explain(exc: docker.errors.APIError | Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc).splitlines()[0][:300]
