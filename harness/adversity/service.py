"""service-down and service-cpu: a named service of a team's Compose stack (a compose target) stopped, paused or
held to a CPU limit for N seconds, through the Docker API alone.

The team's services carry the run's labels and the role ``compose-<service>`` (the compose target's override
file), so the fault finds them as it finds drill's own. ``pause`` (the default) freezes the service: its port
still accepts connections that nobody answers, the way a hung registry looks; ``stop`` takes it away, the way
a crashed one does. Undone at the end either way: unpaused, or started again.

``service-cpu`` updates every container of the service live (``docker update --cpus``, no restart;
``docker_ops.set_cpus``): a container made with a CPU limit (the drill target's ``cpus:``) gets ``NanoCpus``,
one made without gets a CFS quota, because the engine cannot take a ``NanoCpus`` limit away again. At the end
each container's limit is the one it had, or none.
"""

from __future__ import annotations

from typing import Any

import docker.errors

from harness.adversity import docker_ops
from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.spec import AdversitySpec


class ServiceDown:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.how = spec.how or "pause"
        self.target = f"{spec.service} ({self.how})"
        self._struck: list[Any] = []

    def start(self) -> None:
        found = docker_ops.service_containers(self.ctx, self.spec.service, "service-down")
        for container in found:
            if self.how == "pause":
                docker_ops.pause(container)
            else:
                try:
                    container.stop(timeout=5)
                except docker.errors.DockerException as exc:
                    raise AdversityError(f"cannot stop {container.name}: {exc}") from exc
            self._struck.append(container)
        self.target = f"{self.spec.service} ({self.how}: {', '.join(c.name for c in found)})"

    def stop(self) -> None:
        while self._struck:
            container = self._struck.pop()
            if self.how == "pause":
                docker_ops.unpause(container)
                continue
            try:
                container.start()
            except docker.errors.NotFound:
                continue  # removed meanwhile (the team's own runbook, or teardown)
            except docker.errors.DockerException as exc:
                raise AdversityError(f"cannot start {container.name} again: {exc}") from exc

    def observations(self) -> dict[str, Any]:
        return {}


class ServiceCpu:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"{spec.service} (cpus {spec.cpus:g})"
        self._limits: list[tuple[Any, docker_ops.CpuLimit]] = []  # (container, its limit before)
        self._containers = 0

    def start(self) -> None:
        found = docker_ops.service_containers(self.ctx, self.spec.service, "service-cpu")
        client = self.ctx.docker()
        for container in found:
            before = docker_ops.cpu_limit(container)
            self._limits.append((container, before))  # before the update: a failed one is restored as well
            docker_ops.set_cpus(client, container, self.spec.cpus)
        self._containers = len(found)
        self.target = f"{self.spec.service} (cpus {self.spec.cpus:g}: {', '.join(c.name for c in found)})"

    def stop(self) -> None:
        client = self.ctx.docker()
        errors = []
        while self._limits:
            container, before = self._limits.pop()
            try:
                docker_ops.restore_cpus(client, container, before)
            except AdversityError as exc:
                errors.append(str(exc))
        if errors:
            raise AdversityError("; ".join(errors))

    def observations(self) -> dict[str, Any]:
        return {"containers_limited": self._containers} if self._containers else {}


@kind("service-cpu")
def _service_cpu(spec: AdversitySpec, ctx: FaultContext) -> ServiceCpu:
    return ServiceCpu(spec, ctx)


@kind("service-down")
def _service_down(spec: AdversitySpec, ctx: FaultContext) -> ServiceDown:
    return ServiceDown(spec, ctx)
