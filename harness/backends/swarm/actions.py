"""Orchestrator-native runbook actions: roll a service back, scale it, wait for it to converge.

They drive the backend through ``ports.RollingBackend`` (Docker Swarm today), so a runbook can use the
path a team really takes in production (``docker service rollback``) instead of the router's. Run on a
backend without an orchestrator, they fail with a message saying so. No Docker import here: ``drill
validate`` loads the action registry without a Docker client.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from pydantic import Field

from harness.engine.context import RunContext
from harness.errors import StepFailed
from harness.ports import RollingBackend
from harness.runbook.actions.registry import Params, action, current_attempt
from harness.spec.models import Duration


def _orchestrator(ctx: RunContext) -> RollingBackend:
    backend = ctx.backend
    if not isinstance(backend, RollingBackend):
        raise StepFailed(f"backend {backend.kind!r} has no orchestrator; swarm.* steps need --backend swarm")
    return backend


class ServiceParams(Params):
    service: str


@action("swarm.rollback", ServiceParams, "Roll a Swarm service back to its previous spec (docker service rollback)",
        services=("service",))
def rollback(ctx: RunContext, p: ServiceParams) -> str:
    return f"{p.service}: {_orchestrator(ctx).rollback(p.service)}"


class ScaleParams(Params):
    service: str
    replicas: int = Field(ge=1, le=16)


@action("swarm.scale", ScaleParams, "Scale a Swarm service to N replicas (docker service scale)", services=("service",))
def scale(ctx: RunContext, p: ScaleParams) -> str:
    _orchestrator(ctx).scale(p.service, p.replicas)
    return f"{p.service} scaled to {p.replicas}"


class ConvergedParams(Params):
    service: str
    version: str | None = None
    timeout: Duration = 60.0
    # A replacement that cannot start (rejected on a node without the image) fails the step at once, naming the
    # node and the image; without it the wait sees Swarm try that node again and again (five times here) first.
    fail_fast: bool = False


@action("swarm.wait_converged", ConvergedParams,
        "Wait until every replica of a Swarm service runs healthy (on a version) and no update or rollback is under way",
        services=("service",))
def wait_converged(ctx: RunContext, p: ConvergedParams) -> str:
    started = time.monotonic()
    # Bounded by the step's deadline too, so a retry never overlaps a wait still running.
    backend = _orchestrator(ctx)
    backend.wait_converged(p.service, current_attempt().bound(p.timeout), version=p.version, fail_fast=p.fail_fast)
    rescheduled = getattr(backend, "rescheduled_s", None)  # a drill stopped a node: how long Swarm took to recover
    return (f"{p.service} converged" + (f" on {p.version}" if p.version else "") + f" in {time.monotonic() - started:.1f}s"
            + (f" (every replica running again {rescheduled:.1f}s after the node was lost)" if rescheduled is not None else ""))


@runtime_checkable
class NodeLossBackend(Protocol):
    kind: str

    def lose_node(self, slot: str) -> str: ...


class LoseNodeParams(Params):
    service: str


@action("swarm.lose_node", LoseNodeParams,
        "A drill's adversity: stop the engine of a worker node running replicas of a service (a `drill cluster up` "
        "cluster; the engine comes back when the run ends)", services=("service",))
def lose_node(ctx: RunContext, p: LoseNodeParams) -> str:
    backend = ctx.backend
    if not isinstance(backend, NodeLossBackend):
        raise StepFailed(f"backend {backend.kind!r} has no nodes to lose; swarm.lose_node needs --backend swarm on a cluster")
    return backend.lose_node(p.service)
