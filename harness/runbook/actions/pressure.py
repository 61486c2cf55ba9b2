"""Runbook actions for a way back under pressure: scale the version to go back to, bring back a lost server,
and check that the rollback itself failed and slowed no request.

``service.scale`` changes a slot's capacity (a CPU limit on Docker, replicas on Swarm) and waits until the
change holds and the router sees the slot UP; ``service.ensure`` starts a slot again when its server is gone;
``verify.rollback_traffic`` judges client-side truth since the rollback started.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import Field

from harness.engine.context import RunContext
from harness.engine.verdict import bad_answer
from harness.errors import StepFailed
from harness.runbook.actions.registry import Params, action, current_attempt
from harness.spec.models import Duration, PositiveDuration


class ScaleParams(Params):
    service: str = Field(description="model slot: stable or candidate")
    cpus: float | None = Field(default=None, gt=0, le=64, description="Docker: the CPU limit (null: no limit)")
    replicas: int | None = Field(default=None, ge=1, le=16, description="Swarm: replicas")
    timeout: Duration = Field(default=60.0, description="longest wait until ready (the step's deadline also applies)")


def _docker(ctx: RunContext) -> Any:
    client = getattr(getattr(ctx.target, "stack", None), "client", None)
    if client is None:
        raise StepFailed(f"target {ctx.target.name} has no Docker stack to scale")
    return client


@action("service.scale", ScaleParams, "Scale a slot (CPU limit on Docker, replicas on Swarm), wait until ready",
        services=("service",))
def service_scale(ctx: RunContext, p: ScaleParams) -> str:
    from harness.adversity import docker_ops
    from harness.adversity.capacity import swarm_backend

    attempt = current_attempt()
    swarm = swarm_backend(ctx.target)
    if swarm is not None:
        if p.replicas is not None:
            swarm.scale(p.service, p.replicas)
        swarm.wait_converged(p.service, attempt.bound(p.timeout))
        ctx.router.wait_up(p.service, attempt.bound(p.timeout))
        return f"{p.service}: {swarm.info(p.service).replicas} replicas converged, UP"
    if p.replicas not in (None, 1):
        raise StepFailed("replicas need an orchestrator (backend: swarm); on Docker a slot has one container")
    client = _docker(ctx)
    found = docker_ops.containers(client, ctx.variables["run_id"], f"model-{p.service}")
    if not found:
        raise StepFailed(f"no running {p.service} container to scale")
    for container in found:
        docker_ops.set_cpus(client, container, p.cpus)
    while not all(_holds(docker_ops.cpu_limit(c).cpus, p.cpus) for c in found):  # the engine applied it
        attempt.sleep(0.05)
    ctx.router.wait_up(p.service, attempt.bound(p.timeout))
    return f"{p.service}: cpus {p.cpus if p.cpus else 'unlimited'} on {len(found)} container(s), UP"


def _holds(limit: float | None, want: float | None) -> bool:
    if want is None:
        return limit is None or limit >= (os.cpu_count() or 1)
    return limit is not None and abs(limit - want) < 0.01


class EnsureParams(Params):
    service: str = Field(description="model slot: stable or candidate")
    ref: str = Field(default="${stable_version}", description="version or alias to start when the server is gone")


@action("service.ensure", EnsureParams, "Start a slot again (from the registry) when its server is gone",
        services=("service",))
def service_ensure(ctx: RunContext, p: EnsureParams) -> str:
    if ctx.backend.running(p.service):
        return f"{p.service} running"
    version = ctx.registry.resolve(p.ref)
    ctx.registry.check_deployable(version)
    current_attempt().check()
    weight = ctx.weights.get(p.service)
    ctx.stop_slot(p.service)  # what is left of it (a killed container) goes first
    ctx.start_slot(p.service, version, weight)
    return f"{p.service} was gone: started {version} again"


class RollbackTrafficParams(Params):
    max_failed: int = Field(default=0, ge=0, description="requests the rollback itself may fail (not the bad version's own)")
    slo: PositiveDuration | None = Field(default=None, description="an answer slower than this is slow")
    max_slow: int | None = Field(default=None, ge=0, description="slow answers allowed (null: counted, not judged)")


@action("verify.rollback_traffic", RollbackTrafficParams,
        "Client-side truth since the rollback started: failed (and slow) requests within limits")
def verify_rollback_traffic(ctx: RunContext, p: RollbackTrafficParams) -> str:
    since = float(ctx.variables.get("rollback_started_at") or 0.0)
    candidate = ctx.variables.get("candidate_version")
    cutoff = time.time()
    # The requests sent until now first get their answers (or time out): the slow ones are the overloaded ones.
    out = ctx.load.settle(cutoff, until=cutoff + current_attempt().bound(ctx.load.timeout + 1.0))
    samples = [s for s in ctx.load.samples() if since <= s.at < cutoff]
    failed = sum(not s.ok and not bad_answer(s, candidate) for s in samples) + out
    slow = sum(s.ok and p.slo is not None and s.latency_s > p.slo for s in samples)
    told = f"{failed} failed" + (f", {slow} slower than {p.slo:g}s" if p.slo is not None else "") + \
        f" of {len(samples) + out} requests since the rollback started" + (f" ({out} never answered)" if out else "")
    if failed > p.max_failed or (p.max_slow is not None and slow > p.max_slow):
        raise StepFailed(told)
    return told
