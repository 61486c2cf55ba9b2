"""Built-in runbook actions: router, registry, services, verification, waiting, notification, shell.

Every loop here is bounded by the attempt's deadline (``current_attempt()``): sleeps wake on cancel,
timeouts handed to lower layers are capped by what is left, and ``shell`` kills its process group.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from http.client import HTTPException
from string import Template
from typing import ClassVar

from pydantic import Field, field_validator

from harness.engine import redaction
from harness.engine.context import RunContext
from harness.engine.events import Notified
from harness.errors import StepFailed, VerificationFailed
from harness.judge import verification
from harness.listeners import webhook
from harness.ports import SLOTS as MODEL_SLOTS
from harness.runbook.actions.registry import Params, action, current_attempt
from harness.spec.models import Duration, PositiveDuration
from harness.traffic.generator import Answer, probe

PROBE_BATCH = 5


# ---- router ---------------------------------------------------------------------------------
class WeightParams(Params):
    server: str = Field(description="router server: stable or candidate")
    weight: int = Field(ge=0, le=256, description="HAProxy weight (share of traffic)")


@action("router.set_weight", WeightParams, "Set a router server's weight (runtime API, no reload)", services=("server",))
def set_weight(ctx: RunContext, p: WeightParams) -> str:
    ctx.route(**{p.server: p.weight})
    return f"{p.server} weight {p.weight}"


class DrainParams(Params):
    server: str = Field(description="router server: stable or candidate")
    settle: Duration = Field(default=5.0, description="longest wait for open sessions to finish")


@action("router.drain", DrainParams, "Drain a server: weight 0, wait for its sessions to finish, then maintenance",
        services=("server",))
def drain(ctx: RunContext, p: DrainParams) -> str:
    ctx.route(**{p.server: 0})
    ctx.router.set_state(p.server, "drain")
    attempt = current_attempt()
    deadline = time.monotonic() + attempt.bound(p.settle)
    sessions = -1
    while time.monotonic() < deadline:
        state = ctx.router.servers().get(p.server)
        sessions = state.sessions if state else 0
        if sessions == 0:
            break
        attempt.sleep(0.02)
    ctx.router.set_state(p.server, "maint")
    return f"{p.server} drained ({max(sessions, 0)} sessions left)"


# ---- registry -------------------------------------------------------------------------------
class AliasParams(Params):
    alias: str = Field(description="registry alias, e.g. champion")
    version: str = Field(description="version the alias points at")


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
    service: str = Field(description="model slot: stable or candidate")


class StartParams(Params):
    service: str = Field(description="model slot: stable or candidate")
    ref: str = Field(default="champion", description="version or alias to serve")
    weight: int | None = Field(default=None, ge=0, le=256, description="router weight once healthy (unchanged if null)")


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
    current_attempt().check()
    ctx.start_slot(p.service, version, p.weight)
    return f"{p.service} serving {version}"


@action("service.restart", StartParams, "Restart a model server (reloads its model ref)", services=("service",))
def service_restart(ctx: RunContext, p: StartParams) -> str:
    service_stop(ctx, ServiceParams(service=p.service))
    return service_start(ctx, p)


class HealthyParams(Params):
    service: str = Field(description="model slot: stable or candidate")
    timeout: Duration = Field(default=10.0, description="longest wait (the step's deadline also applies)")


@action("service.wait_healthy", HealthyParams, "Wait until the router's health check sees a server UP",
        services=("service",))
def wait_healthy(ctx: RunContext, p: HealthyParams) -> str:
    ctx.router.wait_up(p.service, current_attempt().bound(p.timeout))
    return f"{p.service} UP"


def _require_model(service: str) -> None:
    if service not in MODEL_SLOTS:
        raise StepFailed(f"service {service!r} is not a model slot ({', '.join(MODEL_SLOTS)})")


# ---- verification ---------------------------------------------------------------------------
class HttpVerifyParams(Params):
    requests: int = Field(default=25, ge=1, le=10_000, description="requests sent through the router")
    expect_status: int = Field(default=200, description="HTTP status every answer must have")
    expect_version: str | None = Field(default=None, description="version every answer must come from")


@action("verify.http", HttpVerifyParams, "Send N requests through the router: status and serving version")
def verify_http(ctx: RunContext, p: HttpVerifyParams) -> str:
    attempt = current_attempt()
    bad: list[str] = []
    answers = []
    for first in range(0, p.requests, PROBE_BATCH):  # a deadline check between small batches
        attempt.check()
        answers += probe(ctx.traffic_endpoint, ctx.protocol, min(PROBE_BATCH, p.requests - first),
                         timeout=max(0.1, attempt.bound(5.0)), slot_versions=ctx.slot_versions)
    for answer in answers:
        if answer.status != p.expect_status:
            bad.append(f"status {answer.status}: {answer.body[:80]!r}")
        elif p.expect_version and answer.version != p.expect_version:
            bad.append(f"version {answer.version} (expected {p.expect_version})")
    if bad:
        raise StepFailed(f"{len(bad)}/{p.requests} requests wrong: {bad[0]}")
    return f"{p.requests}/{p.requests} answered {p.expect_status}" + (f" by {p.expect_version}" if p.expect_version else "")


class ErrorRateParams(Params):
    min_requests: int = Field(default=40, ge=1, description="live requests, counted from the step's start, before the first look")
    tolerance: float = Field(default=0.05, gt=0, lt=1,
        description="passes only when a bound at `alpha` shows the error rate at most this above the baseline's (0.05 = 5 points)")
    alpha: float = Field(default=0.01, gt=0, lt=0.5,
        description="bounds both mistakes: failing a rollback that is back at the baseline, passing one raised by `tolerance` or more")
    expect_version: str | None = Field(default=None, description="only this version may have answered")
    probe: int = Field(default=25, ge=0, le=1_000,
        description="requests the step sends itself through the entrypoint at each undecided look, beside the live "
                    "traffic (the same answers, sooner: a decision needs a few hundred requests); 0: live traffic only")


@action("verify.error_rate", ErrorRateParams,
        "Client-side error rate of live traffic back at baseline (a sequential test; sampled until decisive or the deadline)")
def verify_error_rate(ctx: RunContext, p: ErrorRateParams) -> str:
    """Judges the requests sent since the step started against the baseline window (harness.judge.verification),
    looking every few requests until the rate is shown raised (fail) or within the tolerance (pass). A fail, and
    an undecided deadline, raise VerificationFailed: the retry policy never re-rolls the test into a pass."""
    attempt = current_attempt()
    start = time.time()
    base_n = ctx.baseline_requests
    base_x = round(ctx.baseline_error_rate * base_n)
    looked, seen = 0, 0
    observed: list[tuple[bool, str | None]] = []  # (failed, version) in the order the step saw them: live, then probes
    while True:
        live = sorted((s for s in ctx.load.samples() if s.at >= start), key=lambda s: s.at) if ctx.load is not None else []
        observed += [(not s.ok, s.version if s.ok else None) for s in live[seen:]]
        seen = max(seen, len(live))
        result, looked = verification.sequential([failed for failed, _ in observed], base_x, base_n, p.alpha, p.tolerance,
                                                 p.min_requests, looked)
        if result.verdict == "fail":
            raise VerificationFailed(result.line())
        if result.verdict == "pass":
            break
        if attempt.remaining() <= 0.05:
            if len(observed) < p.min_requests:
                raise StepFailed(f"only {len(observed)} of {p.min_requests} requests seen before the step's "
                                 f"timeout ({attempt.timeout_s:g}s): is traffic running?")
            raise VerificationFailed(f"undecided at the step's deadline ({attempt.timeout_s:g}s): {result.line()}")
        if p.probe:  # more of the same answers, sooner than the live rate brings them
            answers: list[Answer] = []
            for first in range(0, p.probe, PROBE_BATCH):  # small batches: the deadline is checked between them
                if attempt.remaining() <= 0.1:
                    break
                try:
                    answers += probe(ctx.traffic_endpoint, ctx.protocol, min(PROBE_BATCH, p.probe - first),
                                     timeout=max(0.05, attempt.bound(5.0) - 0.05), slot_versions=ctx.slot_versions)
                except (OSError, HTTPException):  # the entrypoint refused or dropped the probe: one failed request
                    answers.append(Answer(0, None, b""))
                    break
            observed += [(not 200 <= a.status < 300, a.version if 200 <= a.status < 300 else None) for a in answers]
        else:
            attempt.sleep(0.05)
    if p.expect_version:
        others: dict[str, int] = {}
        for failed, version in observed:
            if not failed and version != p.expect_version:
                others[str(version)] = others.get(str(version), 0) + 1
        if others:
            raise VerificationFailed(f"other versions still serving: {others}")
    return result.line()


class PromqlParams(Params):
    query: str = Field(description="PromQL instant query with a scalar result")
    max: float | None = Field(default=None, description="fail above this")
    min: float | None = Field(default=None, description="fail below this")


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
    duration: Duration | None = Field(default=None, description="how long to wait, or the limit for until")
    until: str | None = Field(default=None, description="PromQL expression that must become > 0")
    poll: PositiveDuration = Field(default=0.25, description="how often until is queried")


@action("wait", WaitParams, "Wait a duration, or until a PromQL condition holds")
def wait(ctx: RunContext, p: WaitParams) -> str:
    attempt = current_attempt()
    if p.until is None:
        attempt.sleep(p.duration or 0.0)
        return f"waited {p.duration or 0:g}s"
    started = time.monotonic()
    while True:
        value = ctx.prometheus.query(p.until)
        if value is not None and value > 0:
            return f"condition held after {time.monotonic() - started:.1f}s"
        if p.duration is not None and time.monotonic() - started > p.duration:
            raise StepFailed(f"condition {p.until!r} did not hold within {p.duration:g}s")
        attempt.sleep(p.poll)


class NotifyParams(Params):
    message: str = Field(description="what to tell people (${stable_version} etc. filled in)")
    channel: str = Field(default="console", description="where: an incident channel name, or console")
    url: str | None = Field(default=None, description="chat incoming webhook: POST {text}; may use ${KEY} from --var")
    timeout: Duration = Field(default=5.0, gt=0, le=60, description="webhook answer timeout (the step's deadline applies too)")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None:
            redaction.register(value)  # pydantic quotes a refused value: the step's error is scrubbed of it
        if value is not None and "$" not in value and not webhook.valid_url(value.strip()):
            raise ValueError(f"must be an http(s) URL or use a ${{KEY}} variable, got {webhook.redact(value)}")
        if value is not None and redaction.unsafe_characters(value):
            raise ValueError(f"{webhook.redact(value)} contains whitespace or a control character")
        return value


@action("notify", NotifyParams, "Tell people: the console, and a chat webhook when url: is given")
def notify(ctx: RunContext, p: NotifyParams) -> str:
    if p.url is None:
        ctx.emit(Notified(p.channel, p.message))
        return f"#{p.channel}: {p.message}"
    text = p.message if p.channel == "console" else f"[#{p.channel}] {p.message}"
    status = webhook.post_text(p.url, text, max(0.1, current_attempt().bound(p.timeout)))  # StepFailed on non-2xx, no answer, unreachable
    ctx.emit(Notified(p.channel, p.message))  # once, when delivered (a failed attempt is retried by policy)
    return f"#{p.channel}: {p.message} (posted to {webhook.redact(p.url)}: {status})"


class ShellParams(Params):
    verbatim: ClassVar[frozenset[str]] = frozenset({"command"})
    command: str = Field(description="command line (no shell; split like a shell would, then each ${name} filled "
                                     "within its own argument: a value never adds arguments)")
    timeout: Duration | None = Field(default=None, description="the command's own limit; the step's timeout applies too")


@action("shell", ShellParams, "Run a command on the harness host (only where the drill sets allow_shell)")
def shell(ctx: RunContext, p: ShellParams) -> str:
    if not ctx.allow_shell:
        raise StepFailed("shell steps are off; the drill must set allow_shell: true")
    attempt = current_attempt()
    limit = attempt.bound(p.timeout if p.timeout is not None else float("inf"))
    # Its own session, so the whole process group (a shell and its children) can be killed at the deadline.
    try:  # split the template first, then fill each argument: "1.4 --force" in a value stays one argument
        argv = [Template(arg).safe_substitute(ctx.variables) for arg in shlex.split(p.command)]
    except ValueError as exc:
        raise StepFailed(f"command {p.command!r} cannot be split: {exc}") from None
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**ctx.variables, "PATH": "/usr/bin:/bin"}, start_new_session=True)
    forget = attempt.on_cancel(lambda: _kill_group(proc))
    try:
        out, err = proc.communicate(timeout=limit if limit != float("inf") else None)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise StepFailed(f"command still running after {limit:.3g}s; killed") from None
    finally:
        forget()
        if proc.poll() is None:  # an exception (or cancel) in between: never leave it running
            _kill_group(proc)
            proc.wait()
    if proc.returncode != 0:
        if attempt.cancelled:
            raise StepFailed(f"killed at the step's timeout ({attempt.timeout_s:g}s)")
        raise StepFailed(f"exit {proc.returncode}: {(err or out).strip()[:200]}")
    return out.strip()[:200]


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone
