"""replica-loss: a serving container of the version to go back to is killed (SIGKILL) during the rollback.

On Docker nothing brings it back: the runbook must notice and start the slot again (``service.ensure``),
or the drill fails at the step it broke. On Swarm one task's container is killed and the orchestrator
replaces it by itself; the fault watches the service's tasks and records when a new task ran
(``replaced_after_s``). At the end a killed container that nothing replaced is started again.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from harness.adversity import docker_ops
from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.capacity import swarm_backend
from harness.adversity.partition import repoint
from harness.adversity.spec import AdversitySpec


class ReplicaLoss:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"{spec.slot} container"
        self._killed: str | None = None
        self._watch_stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._seen: dict[str, Any] = {}

    def start(self) -> None:
        client = self.ctx.docker()
        swarm = swarm_backend(self.ctx.target)
        if swarm is not None:
            running = [t for t in swarm.tasks(self.spec.slot) if t.state == "running" and t.container_id]
            if not running:
                raise AdversityError(f"no running task of {self.spec.slot} to kill")
            victim = running[0]
            container = client.containers.get(victim.container_id)
            self.target = f"{self.spec.slot} task {victim.id[:12]} (Swarm)"
            before = {t.id for t in running}
            docker_ops.kill(container)
            self._killed = container.id
            self._watch = threading.Thread(target=self._watch_swarm, args=(swarm, before, time.monotonic()), daemon=True)
            self._watch.start()
            return
        container = docker_ops.one(client, self.ctx.run_id, f"model-{self.spec.slot}")
        self.target = f"{self.spec.slot} container {container.name}"
        docker_ops.kill(container)
        self._killed = container.id

    def _watch_swarm(self, swarm: Any, before: set[str], t0: float) -> None:
        """Until a task that was not running before the kill runs: the orchestrator's replacement."""
        while not self._watch_stop.wait(0.25):
            try:
                new = [t for t in swarm.tasks(self.spec.slot) if t.state == "running" and t.id not in before]
            except Exception:  # noqa: BLE001 - the service may be gone at teardown; the watch just ends
                return
            if new:
                self._seen = {"replaced_by": new[0].id[:12], "replaced_after_s": round(time.monotonic() - t0, 2)}
                return

    def stop(self) -> None:
        self._watch_stop.set()
        if self._watch is not None:
            self._watch.join(timeout=2)
        on_docker = self._killed is not None and swarm_backend(self.ctx.target) is None
        if on_docker and self._killed and docker_ops.restart_if_dead(self.ctx.docker(), self._killed):
            self._seen["restarted_by_fault_end"] = True
            network = getattr(getattr(getattr(self.ctx.target, "stack", None), "network", None), "name", None)
            container = self.ctx.docker().containers.get(self._killed)
            now = next((a for a in docker_ops.attachments(container) if a.network == network), None)
            if now is not None and now.ip:
                repoint(self.ctx, self.spec.slot, now.ip)  # a restarted container may get a new address
        self._killed = None

    def observations(self) -> dict[str, Any]:
        return dict(self._seen)


@kind("replica-loss")
def _loss(spec: AdversitySpec, ctx: FaultContext) -> ReplicaLoss:
    return ReplicaLoss(spec, ctx)
