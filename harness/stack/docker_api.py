"""The one place that talks to docker-py (and sets testcontainers up to behave here).

Every container, network, volume and Swarm object the harness creates carries ``LABEL_HARNESS``, set when it
is created, with ``LABEL_RUN`` (the run id drill issued; a local cluster's carry ``io.drill.cluster`` instead).
``sweep`` removes by those labels, which is what ``drill clean`` and every teardown use. Images drill builds carry
``LABEL_IMAGE*`` labels only, which the sweep never reads: a container inherits its image's labels, and a team's
container of an image built ``FROM`` drill's base must never look like the harness's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import docker
import docker.errors
import docker.types
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume

from harness.errors import BackendUnavailable
from harness.stack.cleanup import Failures

LABEL_HARNESS = "io.drill.harness"
LABEL_RUN = "io.drill.run-id"
LABEL_ROLE = "io.drill.role"
LABEL_CLUSTER = "io.drill.cluster"  # a local multi-node cluster's containers, network and volumes (backends/swarm)
# Image labels: what drill built, and from which inputs (its cache key). Never read by the sweep.
LABEL_IMAGE = "io.drill.image"
LABEL_IMAGE_INPUTS = "io.drill.image.inputs"

# Ryuk (testcontainers' reaper) cannot be pulled without a registry; we label and sweep ourselves.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def run_labels(run_id: str, role: str) -> dict[str, str]:
    return {LABEL_HARNESS: "true", LABEL_RUN: run_id, LABEL_ROLE: role}


def selectors(run_id: str | None) -> list[list[str]]:
    """The label filters of what drill labelled at creation: one run's, or every run's and every local cluster's.

    Each filter needs ``LABEL_HARNESS`` *and* a run id (or a cluster name), labels no image of drill's carries."""
    if run_id:
        return [[f"{LABEL_HARNESS}=true", f"{LABEL_RUN}={run_id}"]]
    return [[f"{LABEL_HARNESS}=true", LABEL_RUN], [f"{LABEL_HARNESS}=true", LABEL_CLUSTER]]


def _labelled(listing: Callable[..., list[Any]], run_id: str | None, **filters: str) -> list[Any]:
    """Every resource any selector finds, once."""
    found: dict[str, Any] = {}
    for labels in selectors(run_id):
        for item in listing(filters={**filters, "label": labels}):
            found.setdefault(str(item.id), item)
    return list(found.values())


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
    """Remove every Swarm service and config, container, network and volume the harness labelled (one run's, or all).

    Every resource is tried, whatever the ones before it hit; then ``CleanupIncomplete`` (exit 3) names each that
    stayed. Only resources drill labelled when it created them are selected (see ``selectors``)."""
    failures = Failures("sweep" + (f" of run {run_id}" if run_id else ""))
    services, configs = _sweep_swarm(client, run_id, failures)
    containers = _labelled(lambda **kw: client.containers.list(all=True, **kw), run_id)
    removed_containers = sum(failures.attempt(f"container {c.name}", partial(_remove_container, c)) for c in containers)
    networks = _labelled(client.networks.list, run_id)
    removed_networks = sum(failures.attempt(f"network {n.name}", partial(_remove_network, n, settle if services else 0.0))
                           for n in networks)
    volumes = _labelled(client.volumes.list, run_id)
    removed_volumes = sum(failures.attempt(f"volume {v.name}", partial(_remove_volume, v)) for v in volumes)
    tags = _sweep_run_tags(client, run_id, failures)
    failures.raise_if_any()
    return SweepResult(removed_containers, removed_networks, removed_volumes, services, configs, image_tags=tags)


def _remove_volume(volume: Volume) -> None:
    try:
        volume.remove(force=True)
    except docker.errors.NotFound:
        pass


RUN_TAG_REPO_PREFIX = "drill-team-"


def _sweep_run_tags(client: docker.DockerClient, run_id: str | None, failures: Failures) -> int:
    """Untag what a run tagged for itself (a killed image-target run leaves them); the images stay."""
    prefix = f"run-{run_id}-" if run_id else "run-"
    removed = 0
    for image in client.images.list():
        for tag in image.tags:
            repo, _, name = tag.rpartition(":")
            if repo.startswith(RUN_TAG_REPO_PREFIX) and name.startswith(prefix):
                removed += failures.attempt(f"image tag {tag}", partial(_untag, client, tag))
    return removed


def _untag(client: docker.DockerClient, tag: str) -> None:
    try:
        client.images.remove(tag, noprune=True)
    except docker.errors.NotFound:
        pass


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
def _sweep_swarm(client: docker.DockerClient, run_id: str | None, failures: Failures) -> tuple[int, int]:
    """Services and configs of the harness, removed before their overlay networks."""
    try:
        services = _labelled(client.services.list, run_id)
        configs = _labelled(client.configs.list, run_id)
    except docker.errors.APIError:
        return 0, 0  # not a swarm manager: nothing of ours can be there
    removed_services = sum(failures.attempt(f"service {s.name}", partial(_gone, s.remove)) for s in services)
    removed_configs = sum(failures.attempt(f"config {c.name}", partial(_gone, c.remove)) for c in configs)
    failures.attempt("the removed services' tasks", lambda: _await_tasks_gone(client, [str(s.id) for s in services]))
    return removed_services, removed_configs


def _gone(remove: Callable[[], object]) -> None:
    try:
        remove()
    except docker.errors.NotFound:
        pass


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
