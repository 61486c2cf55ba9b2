"""Built-in runbook actions: router, registry, services, verification, waiting, notification, shell."""

from __future__ import annotations

import shlex
import subprocess
import time

from pydantic import Field

from harness.actions import Params, action
from harness.context import RunContext
from harness.errors import StepFailed
from harness.events import Notified
from harness.ports import SLOTS as MODEL_SLOTS
from harness.specs import Duration
from harness.traffic import probe, window


# ---- router ---------------------------------------------------------------------------------
class WeightParams(Params):
    server: str
    weight: int = Field(ge=0, le=256)


@action("router.set_weight", WeightParams, "Set a router server's weight (runtime API, no reload)", services=("server",))
def set_weight(ctx: RunContext, p: WeightParams) -> str:
    ctx.route(**{p.server: p.weight})
    return f"{p.server} weight {p.weight}"


class DrainParams(Params):
    server: str
    settle: Duration = 5.0


@action("router.drain", DrainParams, "Drain a server: weight 0, wait for its sessions to finish, then maintenance",
        services=("server",))
def drain(ctx: RunContext, p: DrainParams) -> str:
    ctx.route(**{p.server: 0})
    ctx.router.set_state(p.server, "drain")
    deadline = time.monotonic() + p.settle
    sessions = -1
    while time.monotonic() < deadline:
        state = ctx.router.servers().get(p.server)
        sessions = state.sessions if state else 0
        if sessions == 0:
            break
        time.sleep(0.02)
    ctx.router.set_state(p.server, "maint")
    return f"{p.server} drained ({max(sessions, 0)} sessions left)"


# ---- registry -------------------------------------------------------------------------------
class AliasParams(Params):
    alias: str
    version: str


@action("registry.set_alias", AliasParams, "Point a registry alias at a version")
def set_alias(ctx: RunContext, p: AliasParams) -> str:
    move = ctx.registry.set_alias(p.alias, p.version, reason="runbook")
    return f"{p.alias}: {move.from_version} -> {move.to_version}"


class NoParams(Params):
    pass


@action("registry.restore_previous", NoParams, "Move 'champion' back to 'previous' after checking its artifact")
def restore_previous(ctx: RunContext, p: NoParams) -> str:
    before = ctx.registry.aliases().get("champion")
    restored = ctx.registry.restore_previous(reason="rollback")
    ctx.variables["stable_version"] = restored
    return f"champion: {before} -> {restored}"


# ---- services -------------------------------------------------------------------------------
class ServiceParams(Params):
    service: str


class StartParams(Params):
    service: str
    ref: str = "champion"
    weight: int | None = Field(default=None, ge=0, le=256)


@action("service.stop", ServiceParams, "Stop a model server gracefully and remove it", services=("service",))
def service_stop(ctx: RunContext, p: ServiceParams) -> str:
    _require_model(p.service)
    ctx.stop_slot(p.service)
    return f"{p.service} stopped"


@action("service.start", StartParams, "Start a model server for a version or alias and put it behind the router",
        services=("service",))
def service_start(ctx: RunContext, p: StartParams) -> str:
    _require_model(p.service)
    version = ctx.registry.resolve(p.ref)
    ctx.registry.check_deployable(version)
    ctx.start_slot(p.service, version, p.weight)
    return f"{p.service} serving {version}"


@action("service.restart", StartParams, "Restart a model server (reloads its model ref)", services=("service",))
def service_restart(ctx: RunContext, p: StartParams) -> str:
    service_stop(ctx, ServiceParams(service=p.service))
    return service_start(ctx, p)


class HealthyParams(Params):
    service: str
    timeout: Duration = 10.0


@action("service.wait_healthy", HealthyParams, "Wait until the router's health check sees a server UP",
        services=("service",))
def wait_healthy(ctx: RunContext, p: HealthyParams) -> str:
    ctx.router.wait_up(p.service, p.timeout)
    return f"{p.service} UP"


def _require_model(service: str) -> None:
    if service not in MODEL_SLOTS:
        raise StepFailed(f"service {service!r} is not a model slot ({', '.join(MODEL_SLOTS)})")


# ---- verification ---------------------------------------------------------------------------
class HttpVerifyParams(Params):
    requests: int = Field(default=25, ge=1, le=10_000)
    expect_status: int = 200
    expect_version: str | None = None


@action("verify.http", HttpVerifyParams, "Send N requests through the router: status and serving version")
def verify_http(ctx: RunContext, p: HttpVerifyParams) -> str:
    bad: list[str] = []
    for answer in probe(ctx.traffic_endpoint, ctx.protocol, p.requests, slot_versions=ctx.slot_versions):
        if answer.status != p.expect_status:
            bad.append(f"status {answer.status}: {answer.body[:80]!r}")
        elif p.expect_version and answer.version != p.expect_version:
            bad.append(f"version {answer.version} (expected {p.expect_version})")
    if bad:
        raise StepFailed(f"{len(bad)}/{p.requests} requests wrong: {bad[0]}")
    return f"{p.requests}/{p.requests} answered {p.expect_status}" + (f" by {p.expect_version}" if p.expect_version else "")


class ErrorRateParams(Params):
    min_requests: int = Field(default=40, ge=1)
    tolerance: float = Field(default=0.01, ge=0)
    expect_version: str | None = None


@action("verify.error_rate", ErrorRateParams, "Client-side error rate of live traffic back at baseline")
def verify_error_rate(ctx: RunContext, p: ErrorRateParams) -> str:
    start = time.time()
    while True:
        samples = [s for s in ctx.load.samples() if s.at >= start]
        if len(samples) >= p.min_requests:
            break
        time.sleep(0.05)
    stats = window(samples, start, float("inf"))
    limit = ctx.baseline_error_rate + p.tolerance
    if stats.error_rate > limit:
        raise StepFailed(f"error rate {stats.error_rate:.1%} over {stats.requests} requests > baseline+tolerance {limit:.1%}")
    if p.expect_version:
        others = {v: n for v, n in stats.by_version.items() if v != p.expect_version}
        if others:
            raise StepFailed(f"other versions still serving: {others}")
    return f"error rate {stats.error_rate:.1%} over {stats.requests} requests (baseline {ctx.baseline_error_rate:.1%})"


class PromqlParams(Params):
    query: str
    max: float | None = None
    min: float | None = None


@action("verify.promql", PromqlParams, "Check a PromQL expression against a threshold")
def verify_promql(ctx: RunContext, p: PromqlParams) -> str:
    value = ctx.prometheus.query(p.query)
    if value is None:
        raise StepFailed(f"no data for {p.query!r}")
    if p.max is not None and value > p.max:
        raise StepFailed(f"{value:g} > max {p.max:g}")
    if p.min is not None and value < p.min:
        raise StepFailed(f"{value:g} < min {p.min:g}")
    return f"{value:g} within limits"


# ---- waiting, notification, shell -----------------------------------------------------------
class WaitParams(Params):
    duration: Duration | None = None
    until: str | None = None  # a PromQL expression that must become > 0
    poll: Duration = 0.25


@action("wait", WaitParams, "Wait a duration, or until a PromQL condition holds")
def wait(ctx: RunContext, p: WaitParams) -> str:
    if p.until is None:
        time.sleep(p.duration or 0.0)
        return f"waited {p.duration or 0:g}s"
    started = time.monotonic()
    while True:
        value = ctx.prometheus.query(p.until)
        if value is not None and value > 0:
            return f"condition held after {time.monotonic() - started:.1f}s"
        if p.duration is not None and time.monotonic() - started > p.duration:
            raise StepFailed(f"condition {p.until!r} did not hold within {p.duration:g}s")
        time.sleep(p.poll)


class NotifyParams(Params):
    message: str
    channel: str = "console"


@action("notify", NotifyParams, "Tell people: an incident channel, the console")
def notify(ctx: RunContext, p: NotifyParams) -> str:
    ctx.emit(Notified(p.channel, p.message))
    return f"#{p.channel}: {p.message}"


class ShellParams(Params):
    command: str


@action("shell", ShellParams, "Run a command on the harness host (only where the drill sets allow_shell)")
def shell(ctx: RunContext, p: ShellParams) -> str:
    if not ctx.allow_shell:
        raise StepFailed("shell steps are off; the drill must set allow_shell: true")
    proc = subprocess.run(shlex.split(p.command), capture_output=True, text=True, env={**ctx.variables, "PATH": "/usr/bin:/bin"})
    if proc.returncode != 0:
        raise StepFailed(f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:200]}")
    return proc.stdout.strip()[:200]
