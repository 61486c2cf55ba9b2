"""Runbook actions for a team's own rollback path: its commands (``run``), its APIs (``http``), its services (``compose``).

``run`` runs an argument list (no shell) in the project directory, under the step's deadline (its process
group is killed), with the process's environment, the drill's variables (``--var``) and the step's ``env``;
its exit status and last lines are the step's detail. A command that does not exist is bad input at load.
``http`` calls an API (a URL, or a service of the team's project published on 127.0.0.1) and checks the
status and JSON fields of the answer; ``${VAR}`` in headers is filled from the variables and the environment
and never printed (a secret's value is masked in every message). ``compose`` stops, starts, restarts or ups
a named service of a compose target's project.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from string import Template
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from harness.engine.context import RunContext
from harness.errors import DrillError, StepFailed
from harness.ports import TeamProject
from harness.runbook.actions import Params, action, current_attempt, jsonpath
from harness.spec.types import Duration
from harness.stack import commands

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MASK = "***"


def _project_dir(ctx: RunContext) -> Path:
    return ctx.target.project_dir if isinstance(ctx.target, TeamProject) else Path.cwd()


def _environment(ctx: RunContext) -> dict[str, str]:
    extra = ctx.target.command_env() if isinstance(ctx.target, TeamProject) else {}
    return commands.scope(ctx.variables, extra)


# ---- run ------------------------------------------------------------------------------------------
class RunParams(Params):
    command: list[str] = Field(min_length=1, description="the command as an argument list (no shell); ${VAR} filled "
                               "in; a relative path (./ops/rollback.sh) is in the project directory")
    env: dict[str, str] = Field(default_factory=dict, description="more environment for the command (${VAR} filled in)")
    timeout: Duration | None = Field(default=None, description="the command's own limit; the step's timeout applies too")
    expect_status: int = Field(default=0, ge=0, le=255, description="the exit status that means success")

    @field_validator("command")
    @classmethod
    def _exists(cls, value: list[str], info: ValidationInfo) -> list[str]:
        context = info.context if isinstance(info.context, dict) else {}
        if "project_dir" not in context:  # at run time: the load checked it; a vanished one fails the step
            return value
        problem = commands.missing(value[0], Path(context["project_dir"]))
        if problem:
            raise ValueError(problem)
        return value


@action("run", RunParams, "Run one of the team's commands (an argument list, no shell) in the project directory")
def run(ctx: RunContext, p: RunParams) -> str:
    if not ctx.allow_shell:
        raise StepFailed("run steps run commands on this host: the drill must set allow_shell: true")
    attempt = current_attempt()
    env = _environment(ctx)
    argv = commands.render(p.command, env)
    extra = commands.fill_env(p.env, env)
    limit = attempt.bound(p.timeout if p.timeout is not None else float("inf"))
    try:
        done = commands.run(argv, _project_dir(ctx), {**env, **extra}, limit if limit != float("inf") else 86_400.0,
                            attempt.on_cancel)
    except OSError as exc:
        raise StepFailed(f"{' '.join(argv)} did not start: {exc.strerror or exc}") from None
    said = f"{' '.join(argv)}: exit {done.status} in {done.seconds:.2f}s" + (f": {done.tail(3)}" if done.last_lines else "")
    if done.status is None:
        raise StepFailed(f"{' '.join(argv)} still running after {done.seconds:.3g}s; its process group was killed"
                         + (f": {done.tail(3)}" if done.last_lines else ""))
    if done.status != p.expect_status:
        raise StepFailed(said)
    return said[:400]


# ---- http -----------------------------------------------------------------------------------------
class JsonCheck(Params):
    path: str = Field(description="JSON path in the answer: $.model_version.version, aliases[0].alias")
    equals: Any = Field(default=None, description="the value it must have (${VAR} filled in; compared as text with a number)")
    exists: bool = Field(default=True, description="false: the path must be absent")

    @field_validator("path")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        jsonpath.parse(value)  # ValueError: bad input at load
        return value


class HttpParams(Params):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(default="GET", description="HTTP method")
    url: str | None = Field(default=None, description="the URL (${VAR} filled in), or service/port/path below")
    service: str | None = Field(default=None, description="a service of the team's project published for drill (target.publish)")
    port: int | None = Field(default=None, ge=1, le=65535, description="its port inside the container")
    path: str = Field(default="/", description="with service: the path and query")
    headers: dict[str, str] = Field(default_factory=dict, description="headers; ${VAR} from --var or the environment, never printed")
    json_body: Any = Field(default=None, alias="json", description="a JSON body (${VAR} filled into its strings)")
    expect_status: list[int] = Field(default_factory=lambda: [200], description="acceptable statuses (one or a list)")
    checks: list[JsonCheck] = Field(default_factory=list, description="checks on JSON fields of the answer")
    timeout: Duration = Field(default=10.0, gt=0, description="the answer's timeout (the step's deadline applies too)")

    @field_validator("expect_status", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and "$" not in value and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value


def _fill(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        return Template(value).safe_substitute(env)
    if isinstance(value, list):
        return [_fill(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, env) for k, v in value.items()}
    return value


def _masked(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


@action("http", HttpParams, "Call one of the team's APIs: status and checks on JSON fields of the answer")
def http(ctx: RunContext, p: HttpParams) -> str:
    env = _environment(ctx)
    headers = {k: Template(v).safe_substitute(env) for k, v in p.headers.items()}
    secrets = [headers[k] for k, v in p.headers.items() if "$" in v and headers[k]]
    url = _url(ctx, p, env)
    data = json.dumps(_fill(p.json_body, env)).encode() if p.json_body is not None else None
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=p.method, headers=headers)
    shown = _masked(f"{p.method} {url}", secrets)
    try:
        with _DIRECT.open(request, timeout=max(0.1, current_attempt().bound(p.timeout))) as resp:
            status, body = int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (OSError, ValueError) as exc:
        raise StepFailed(_masked(f"{shown}: no answer: {exc}", secrets)) from None
    text = body.decode("utf-8", "replace")
    if status not in p.expect_status:
        raise StepFailed(_masked(f"{shown} answered {status} (expected {', '.join(map(str, p.expect_status))}): "
                                 f"{text[:200]}", secrets))
    problems = _check(p.checks, text, env)
    if problems:
        raise StepFailed(_masked(f"{shown} answered {status}, but " + "; ".join(problems), secrets))
    return _masked(f"{shown} answered {status}" + (f"; {len(p.checks)} check(s) held" if p.checks else ""), secrets)


def _url(ctx: RunContext, p: HttpParams, env: dict[str, str]) -> str:
    if p.url is not None:
        return Template(p.url).safe_substitute(env)
    if p.service is None or p.port is None:
        raise StepFailed("http needs url, or service and port (a published service of the team's project)")
    if not isinstance(ctx.target, TeamProject):
        raise StepFailed(f"service {p.service!r}: only a team project's target (kind compose) has named services")
    try:
        where = ctx.target.published(p.service, p.port)
    except DrillError as exc:
        raise StepFailed(str(exc)) from None
    return f"http://{where.host}:{where.port}{Template(p.path).safe_substitute(env)}"


def _check(checks: list[JsonCheck], text: str, env: dict[str, str]) -> list[str]:
    if not checks:
        return []
    try:
        answer = json.loads(text)
    except ValueError:
        return [f"the answer is not JSON: {text[:120]!r}"]
    problems = []
    for check in checks:
        found = jsonpath.find(answer, jsonpath.parse(check.path))
        if not check.exists:
            if found is not jsonpath.MISSING:
                problems.append(f"{check.path} is present ({json.dumps(found)[:80]}), expected absent")
            continue
        if found is jsonpath.MISSING:
            problems.append(f"{check.path} is absent")
        elif check.equals is not None and not _same(found, _fill(check.equals, env)):
            problems.append(f"{check.path} is {json.dumps(found)[:80]}, expected {json.dumps(_fill(check.equals, env))}")
    return problems


def _same(found: Any, expected: Any) -> bool:
    if found == expected:
        return True
    scalar = (str, int, float, bool)
    return isinstance(found, scalar) and isinstance(expected, scalar) and str(found) == str(expected)


# ---- compose --------------------------------------------------------------------------------------
class ComposeParams(Params):
    op: Literal["stop", "start", "restart", "up"] = Field(description="what to do to the service")
    service: str = Field(description="a service of the team's Compose project")
    timeout: Duration = Field(default=60.0, description="longest the operation may take (the step's deadline applies too)")


@action("compose", ComposeParams, "Stop, start, restart or up a named service of the team's Compose project")
def compose(ctx: RunContext, p: ComposeParams) -> str:
    if not isinstance(ctx.target, TeamProject):
        raise StepFailed(f"compose steps need a compose target (this one is {ctx.target.name!r})")
    attempt = current_attempt()
    try:
        return ctx.target.service_op(p.op, p.service, attempt.bound(p.timeout), attempt.on_cancel)
    except DrillError as exc:
        raise StepFailed(str(exc)) from None
