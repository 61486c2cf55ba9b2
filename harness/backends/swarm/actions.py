"""Orchestrator-native runbook actions: roll a service back, scale it, wait for it to converge.

They drive the backend through ``ports.RollingBackend`` (Docker Swarm today), so a runbook can use the
path a team really takes in production (``docker service rollback``) instead of the router's. Run on a
backend without an orchestrator, they fail with a message saying so. No Docker import here: ``drill
validate`` loads the action registry without a Docker client.
"""

from __future__ import annotations

import time

from pydantic import Field

from harness.engine.context import RunContext
from harness.errors import StepFailed
from harness.ports import RollingBackend
from harness.runbook.actions import Params, action, current_attempt
from harness.specs import Duration


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


@action("swarm.wait_converged", ConvergedParams,
        "Wait until every replica of a Swarm service runs healthy (on a version) and no update or rollback is under way",
        services=("service",))
def wait_converged(ctx: RunContext, p: ConvergedParams) -> str:
    started = time.monotonic()
    # Bounded by the step's deadline too, so a retry never overlaps a wait still running.
    _orchestrator(ctx).wait_converged(p.service, current_attempt().bound(p.timeout), version=p.version)
    return f"{p.service} converged" + (f" on {p.version}" if p.version else "") + f" in {time.monotonic() - started:.1f}s"
