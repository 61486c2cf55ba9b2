"""capacity: the version to go back to runs with less than the traffic needs.

On Docker the slot's model containers get a CPU limit (``docker update --cpus``, live, no restart); on
Swarm its service is scaled down to ``replicas`` (Swarm stops tasks). That is the state a cost policy or an
autoscaler leaves the old version in; a runbook must scale it back up (``service.scale``) and wait until it
is ready before moving traffic onto it. At the end every limit and replica count is put back as it was.
"""

from __future__ import annotations

from typing import Any

from harness.adversity import docker_ops
from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.spec import AdversitySpec
from harness.stack import swarm_api


def swarm_backend(target: Any) -> Any | None:
    """The target's backend when it is an orchestrator with replicas (Swarm), else None."""
    backend = target.backend
    return backend if getattr(backend, "kind", "") == "swarm" and hasattr(backend, "service") else None


class CapacityFault:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"{spec.slot} ({'replicas ' + str(spec.replicas) if spec.replicas is not None else ''}"\
                      f"{' ' if spec.replicas is not None and spec.cpus else ''}{'cpus ' + format(spec.cpus, 'g') if spec.cpus else ''})"
        self._limits: list[tuple[Any, docker_ops.CpuLimit]] = []
        self._replicas: int | None = None

    def start(self) -> None:
        client = self.ctx.docker()
        swarm = swarm_backend(self.ctx.target)
        if self.spec.replicas is not None:
            if swarm is None:
                raise AdversityError("capacity replicas needs an orchestrator (backend: swarm); use cpus on Docker")
            self._replicas = int(swarm.info(self.spec.slot).replicas)
            swarm_api.service_scale(client, swarm.service(self.spec.slot), self.spec.replicas)
        if self.spec.cpus is not None:
            found = docker_ops.containers(client, self.ctx.run_id, f"model-{self.spec.slot}")
            if not found:
                raise AdversityError(f"no running {self.spec.slot} container to limit")
            for container in found:
                self._limits.append((container, docker_ops.cpu_limit(container)))
                docker_ops.set_cpus(client, container, self.spec.cpus)

    def stop(self) -> None:
        client = self.ctx.docker()
        errors = []
        for container, before in self._limits:
            try:
                docker_ops.restore_cpus(client, container, before)
            except AdversityError as exc:
                errors.append(str(exc))
        self._limits.clear()
        if self._replicas is not None:
            swarm = swarm_backend(self.ctx.target)
            if swarm is not None:
                current = int(swarm.info(self.spec.slot).replicas)
                if current < self._replicas:  # a runbook that scaled up further keeps its replicas
                    swarm_api.service_scale(client, swarm.service(self.spec.slot), self._replicas)
            self._replicas = None
        if errors:
            raise AdversityError("; ".join(errors))

    def observations(self) -> dict[str, Any]:
        return {"containers_limited": len(self._limits)} if self._limits else {}


@kind("capacity")
def _capacity(spec: AdversitySpec, ctx: FaultContext) -> CapacityFault:
    return CapacityFault(spec, ctx)
