"""The ``target: {kind: external}`` block: a stack drill does not start (staging, a Kubernetes namespace, an endpoint).

drill starts nothing here: it sends its labelled requests to the team's entrypoint ``url``, reads which version
answered from a header or a JSON field, and makes its moves with the team's own commands, each an argument list
(no shell) run in ``workdir``: ``deploy`` (the candidate goes out), ``promote``, ``rollback`` (what the runbook's
drain of the candidate runs) and ``abort`` (the team's emergency rollback, run when a stop condition trips).
Commands (their arguments and ``env:`` values) may name ``${candidate_version}``, ``${stable_version}``,
``${previous_version}``, ``${model}``, ``${run_id}``, ``${environment}``, ``${weight}`` (the candidate's share)
and the drill's ``--var`` values, as a runbook's ``run`` step does; the ``url`` and ``prometheus`` may take their
port or path from them (``http://127.0.0.1:${gateway_port}/predict``). Any other name is bad input at start
(``harness.spec.variables.check_drill``), naming the file and the field.
Whether the drill names its ``environment:`` and keeps its rate under the cap is checked on the drill
(``harness.spec.models``), since the traffic and the guards are the drill's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from harness.guards.spec import http_url, url_host
from harness.spec.types import PositiveDuration, Strict, TargetBlock
from harness.targets.image.spec import RequestSpec, VersionReadSpec

TARGET_VARIABLES = frozenset({"environment", "weight"})  # set by this target beyond the run's built-ins
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}$")


def malformed(value: str) -> str:
    """ValueError for a ``${...}`` that is not ``${NAME}`` (which names are set is checked at start, with --var)."""
    bad = [n for n in _PLACEHOLDER.findall(value) if not _NAME.match(n)]
    if bad:
        raise ValueError(f"${{{bad[0]}}} is not a variable: write ${{NAME}} (letters, digits, _), or $$ for a $")
    return value


def templated_url(value: str) -> str:
    """An ``http://host[:port]/path`` URL whose port or path may be ``${NAME}`` (filled from --var at start)."""
    malformed(value)
    if "$" in (urlsplit(value).hostname or ""):
        raise ValueError(f"a variable may give the port or the path of {value!r}, not its host: where a drill goes "
                         "is known before it starts")
    http_url(_PLACEHOLDER.sub("1", value))
    return value


class CommandSpec(Strict):
    """One command of the team's: an argument list (no shell), with its own timeout and environment."""

    argv: list[str] = Field(min_length=1, description="the program and its arguments, e.g. [kubectl, rollout, undo, deploy/fraud]")
    timeout: PositiveDuration | None = Field(default=None, description="longest run (default: the target's command_timeout); "
                                             "then its process group is killed")
    env: dict[str, str] = Field(default_factory=dict, description="added to the environment the command runs with")

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {"argv": data} if isinstance(data, list) else data

    @field_validator("argv")
    @classmethod
    def _well_formed(cls, argv: list[str]) -> list[str]:
        if not argv[0].strip():
            raise ValueError("the program name is empty")
        for arg in argv:
            malformed(arg)
        return argv


class ExternalTargetSpec(TargetBlock):
    kind: Literal["external"] = Field(description="a stack drill does not start: the team's staging, namespace or endpoint")
    url: str = Field(description="the entrypoint every request is sent to (http://host[:port]/path): the team's gateway")
    request: RequestSpec = Field(description="the sample requests to send")
    version: VersionReadSpec = Field(description="how an answer names its version (a header or a JSON field): there is "
                                     "no router of drill's to say which slot answered")
    prediction_field: str | None = Field(default=None,
        description="dotted JSON path of the prediction, compared with each request's expect (unset: no correctness checks)")
    stable: str = Field(description="the version serving before the deploy, and the one rolled back to")
    candidate: str = Field(description="the version the team's deploy command puts out")
    previous: str | None = Field(default=None, description="the version before stable (default: stable)")
    deploy: list[CommandSpec] = Field(min_length=1, description="the team's commands that put the candidate out (at ${weight} %)")
    promote: list[CommandSpec] = Field(default_factory=list, description="the team's commands that make the candidate the only version")
    rollback: list[CommandSpec] = Field(min_length=1, description="the team's rollback: run when the runbook takes the candidate "
                                        "out (router.drain, router.set_weight 0 or service.stop of the candidate)")
    abort: list[CommandSpec] = Field(default_factory=list, description="the team's emergency rollback, run at once when a stop "
                                     "condition trips (and after any command still running was killed)")
    workdir: Path = Field(default=Path("."), description="where the commands run, relative to the drill file")
    env: dict[str, str] = Field(default_factory=dict, description="added to every command's environment")
    command_timeout: PositiveDuration = Field(default=120.0, description="longest run of one command unless it says otherwise")
    prometheus: str | None = Field(default=None, description="the team's Prometheus (http://host:9090): the detection's PromQL "
                                   "metrics and promql stop conditions query it")

    @field_validator("url")
    @classmethod
    def _entrypoint(cls, value: str) -> str:
        return templated_url(value)

    @field_validator("prometheus")
    @classmethod
    def _prometheus(cls, value: str | None) -> str | None:
        return None if value is None else templated_url(value)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for item in value.values():
            malformed(item)
        return value

    @field_validator("workdir")
    @classmethod
    def _workdir(cls, value: Path, info: ValidationInfo) -> Path:
        context = info.context if isinstance(info.context, dict) else {}
        base = Path(context["spec_dir"]) if context.get("spec_dir") is not None else Path.cwd()
        path = value if value.is_absolute() else (base / value).resolve()
        if not path.is_dir():
            raise ValueError(f"no directory {path}")
        return path

    @field_validator("stable", "candidate", "previous")
    @classmethod
    def _version_name(cls, value: str | None) -> str | None:
        if value is not None and not _VERSION_NAME.match(value):
            raise ValueError(f"a version is letters, digits and . _ : + - (up to 128), got {value!r}")
        return value

    @model_validator(mode="after")
    def _reads_versions(self) -> ExternalTargetSpec:
        if self.version.header is None and self.version.json_field is None:
            raise ValueError("version: give header or json_field (there is no router of drill's to say who answered)")
        if self.stable == self.candidate:
            raise ValueError("stable and candidate must be different versions")
        return self

    # ---- what the drill reads off it --------------------------------------------------------
    def templated(self) -> list[tuple[tuple[str | int, ...], Any]]:
        found: list[tuple[tuple[str | int, ...], Any]] = [(("url",), self.url), (("env",), self.env)]
        found += [(("prometheus",), self.prometheus)] if self.prometheus is not None else []
        for move in ("deploy", "promote", "rollback", "abort"):
            for i, cmd in enumerate(getattr(self, move)):
                found += [((move, i, "argv"), cmd.argv), ((move, i, "env"), cmd.env)]
        return found

    def run_variables(self) -> frozenset[str]:
        return TARGET_VARIABLES

    @property
    def predict_path(self) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @property
    def routed_path(self) -> str:
        """The path clients send to: the entrypoint's own (the team's gateway routes it; no path proxy of drill's)."""
        return self.predict_path

    def answers_promql(self) -> bool:
        return self.prometheus is not None

    def hosts(self) -> list[tuple[str, str]]:
        """(field, host) of every address the harness itself reaches for this target."""
        found = [("target.url", url_host(self.url))]
        if self.prometheus is not None:
            found.append(("target.prometheus", url_host(self.prometheus)))
        return found
