"""The Docker operations faults need, in one place: find a slot's (or a team's named service's) containers by
the run's labels, change their CPU limit, pause, kill, cut them off a network and put them back. Docker errors
become AdversityError.

Every container touched here already carries the run's labels (the stack made it), so ``drill clean``
sweeps it whatever state a fault left it in; the few containers faults start themselves (``netfault``) carry
them too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from harness.adversity.base import AdversityError, FaultContext
from harness.stack.docker_api import LABEL_ROLE, LABEL_RUN


def containers(client: docker.DockerClient, run_id: str, role: str, running_only: bool = True) -> list[Container]:
    """The run's containers with ``role`` (``model-stable``, ``mlflow``, ``router``...)."""
    try:
        found: list[Container] = client.containers.list(
            all=not running_only, filters={"label": [f"{LABEL_RUN}={run_id}", f"{LABEL_ROLE}={role}"]})
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot list the run's {role} containers: {exc}") from exc
    return found


def service_containers(ctx: FaultContext, service: str | None, kind: str) -> list[Container]:
    """The running containers of the team's ``service`` in this run's Compose project; AdversityError if none.
    A compose target's override file gives them the run's labels and the role ``compose-<service>``."""
    found = containers(ctx.docker(), ctx.run_id, f"compose-{service}")
    if not found:
        raise AdversityError(f"no running service {service!r} in this run's Compose project "
                             f"({kind} strikes a compose target's services)")
    return found


def one(client: docker.DockerClient, run_id: str, role: str) -> Container:
    found = containers(client, run_id, role)
    if not found:
        raise AdversityError(f"no running {role} container in run {run_id}")
    return found[0]


@dataclass(frozen=True)
class CpuLimit:
    nano_cpus: int
    quota: int
    period: int

    @property
    def cpus(self) -> float | None:
        """The limit in CPUs, None when there is none."""
        if self.nano_cpus > 0:
            return self.nano_cpus / 1e9
        if self.quota > 0:
            return self.quota / (self.period or 100_000)
        return None


def cpu_limit(container: Container) -> CpuLimit:
    container.reload()
    host = container.attrs.get("HostConfig", {})
    return CpuLimit(int(host.get("NanoCpus") or 0), int(host.get("CpuQuota") or 0), int(host.get("CpuPeriod") or 0))


def set_cpus(client: docker.DockerClient, container: Container, cpus: float | None) -> None:
    """``docker update --cpus``, live. A container made with ``--cpus`` (NanoCpus) keeps that form (the engine
    cannot clear it: None then means the host's CPU count); otherwise a CFS quota, which None lifts (-1)."""
    if cpu_limit(container).nano_cpus > 0:
        _update(client, container, {"NanoCpus": int((cpus or float(os.cpu_count() or 1)) * 1e9)})
    elif cpus is None:
        _update(client, container, {"CpuQuota": -1})
    else:
        _update(client, container, {"CpuPeriod": 100_000, "CpuQuota": int(cpus * 100_000)})


def restore_cpus(client: docker.DockerClient, container: Container, before: CpuLimit) -> None:
    if before.nano_cpus > 0:
        _update(client, container, {"NanoCpus": before.nano_cpus})
    elif before.quota > 0:
        _update(client, container, {"CpuPeriod": before.period or 100_000, "CpuQuota": before.quota})
    else:
        _update(client, container, {"CpuQuota": -1})


def _update(client: docker.DockerClient, container: Container, body: dict[str, Any]) -> None:
    try:
        api = client.api
        response = api._post_json(api._url("/containers/{0}/update", container.id), data=body)
        api._raise_for_status(response)
    except docker.errors.NotFound:
        return  # gone already (the runbook replaced it): nothing left to restore
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot update {container.name}'s CPU limit: {exc}") from exc


def pause(container: Container) -> None:
    try:
        container.pause()
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot pause {container.name}: {exc}") from exc


def unpause(container: Container) -> None:
    try:
        container.reload()
        if container.status == "paused":
            container.unpause()
    except docker.errors.NotFound:
        return
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot unpause {container.name}: {exc}") from exc


def kill(container: Container) -> None:
    try:
        container.kill()
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot kill {container.name}: {exc}") from exc


def state(client: docker.DockerClient, container_id: str) -> str | None:
    """The container's state (running, exited, paused...), None once it is gone."""
    try:
        found = client.containers.get(container_id)
    except docker.errors.NotFound:
        return None
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot inspect container {container_id[:12]}: {exc}") from exc
    return str(found.status)


def restart_if_dead(client: docker.DockerClient, container_id: str) -> bool:
    """Start a killed container again when nothing replaced it (it still exists, stopped); True if it did."""
    try:
        found = client.containers.get(container_id)
        if found.status in ("exited", "dead", "created"):
            found.start()
            return True
    except docker.errors.NotFound:
        return False
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot start container {container_id[:12]} again: {exc}") from exc
    return False


@dataclass(frozen=True)
class Attachment:
    """How a container sits on a network: enough to put it back as it was (same address, same aliases)."""

    network: str
    ip: str
    aliases: tuple[str, ...]


def attachments(container: Container) -> list[Attachment]:
    container.reload()
    out = []
    for name, net in (container.attrs.get("NetworkSettings", {}).get("Networks") or {}).items():
        aliases = tuple(a for a in (net.get("Aliases") or []) if not container.id.startswith(a))
        out.append(Attachment(name, str(net.get("IPAddress") or ""), aliases))
    return out


def disconnect(client: docker.DockerClient, container: Container, network: str) -> None:
    try:
        client.networks.get(network).disconnect(container, force=True)
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot disconnect {container.name} from {network}: {exc}") from exc


def reconnect(client: docker.DockerClient, container: Container, where: Attachment) -> str | None:
    """Connect the container again with its aliases; its address on the network now (the engine only keeps
    an address on networks with a configured subnet, so it may differ). None when there is nothing to put back."""
    try:
        net = client.networks.get(where.network)
        net.reload()
        if container.id not in {c.id for c in net.containers}:
            net.connect(container, aliases=list(where.aliases) or None)
        now = next((a for a in attachments(container) if a.network == where.network), None)
        return now.ip if now is not None else None
    except docker.errors.NotFound:
        return None  # the container or the network is gone (the run is being torn down): nothing to put back
    except docker.errors.DockerException as exc:
        raise AdversityError(f"cannot reconnect {container.name} to {where.network}: {exc}") from exc
