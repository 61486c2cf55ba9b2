"""service-down: a named service of a team's Compose stack (a compose target) stopped or paused for N seconds.

The team's services carry the run's labels and the role ``compose-<service>`` (the compose target's override
file), so the fault finds them as it finds drill's own. ``pause`` (the default) freezes the service: its port
still accepts connections that nobody answers, the way a hung registry looks; ``stop`` takes it away, the way
a crashed one does. Undone at the end either way: unpaused, or started again.
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
        client = self.ctx.docker()
        found = docker_ops.containers(client, self.ctx.run_id, f"compose-{self.spec.service}")
        if not found:
            raise AdversityError(f"no running service {self.spec.service!r} in this run's Compose project "
                                 f"(service-down strikes a compose target's services)")
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


@kind("service-down")
def _service_down(spec: AdversitySpec, ctx: FaultContext) -> ServiceDown:
    return ServiceDown(spec, ctx)
