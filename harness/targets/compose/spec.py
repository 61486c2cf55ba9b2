"""The ``target: {kind: compose, ...}`` block: a team's own Compose project as the stack of a drill.

The team's Compose files (and project directory, env file) are the stack; traffic goes through the team's
own gateway (``entrypoint: {service, port}``); an answer names its version in a header or a JSON field (as
for an image target); the strategy's moves are the team's own commands (``deploy:``, ``promote:``, argument
lists with ``${candidate_version}``-style variables and the drill's ``--var`` values, filled in as a
runbook's ``run`` step fills its command). Paths are relative to the drill file.

At load, where a Compose v2 is installed, ``compose config`` reads the files as Compose itself will: a
missing or invalid file, or an entrypoint service the project lacks, is bad input naming the drill's field
and Compose's own words, before anything starts (the target repeats the check before ``up``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from harness.spec.types import MEMORY_SIZE, URL_PATH, Duration, FieldError, Strict, TargetBlock
from harness.stack import compose_cli
from harness.targets.image.spec import RequestSpec, VersionReadSpec

_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _absolute(value: Path, info: ValidationInfo) -> Path:
    context = info.context if isinstance(info.context, dict) else {}
    base = Path(context.get("spec_dir") or Path.cwd())
    return value if value.is_absolute() else (base / value).resolve()


class Entrypoint(Strict):
    """The team's gateway: the service clients talk to, and the port it listens on inside its container."""

    service: str = Field(description="the Compose service that takes the traffic (the team's gateway)")
    port: int = Field(ge=1, le=65535, description="its port inside the container (drill publishes it on 127.0.0.1)")


class ServicePort(Strict):
    """A service of the team's stack and a port inside its container (published on 127.0.0.1 for drill)."""

    service: str = Field(description="a Compose service of the team's project")
    port: int = Field(ge=1, le=65535, description="its port inside the container")


class ComposeTargetSpec(TargetBlock):
    kind: Literal["compose"] = Field(description="a team's own Compose project")
    files: list[Path] = Field(min_length=1, description="the team's Compose files, in order (relative to the drill file)")
    project_directory: Path | None = Field(default=None,
        description="the project directory (relative paths in the files, and where run steps run); default: the first file's directory")
    env_file: Path | None = Field(default=None, description="the team's env file for Compose (relative to the drill file)")
    entrypoint: Entrypoint = Field(description="the team's gateway: {service, port}; all traffic goes through it")
    prometheus: ServicePort | None = Field(default=None,
        description="the team's Prometheus ({service, port}), published on 127.0.0.1 for PromQL checks; unset: client-side checks only")
    publish: list[ServicePort] = Field(default_factory=list,
        description="more services drill reaches on 127.0.0.1 (the team's registry API for http steps, say)")
    health_path: str = Field(default="/healthz", description="answers 2xx through the gateway when the stack serves")
    predict_path: str = Field(default="/predict", description="where each request is sent through the gateway")
    request: RequestSpec = Field(description="the sample requests to send")
    version: VersionReadSpec = Field(description="how an answer names its version: a header or a JSON field")
    prediction_field: str | None = Field(default=None,
        description="dotted JSON path of the prediction, compared with each request's expect (unset: no correctness checks)")
    stable: str = Field(description="the version serving when the stack is up, and the one rolled back to")
    previous: str | None = Field(default=None, description="the version before stable (default: none)")
    candidate: str = Field(description="the version the team's deploy command rolls out")
    deploy: list[str] = Field(min_length=1,
        description="the team's deploy command (argument list, no shell; ${candidate_version} etc. and --var values), run in the project directory")
    promote: list[str] | None = Field(default=None,
        description="the team's promote command (all traffic on the candidate, the old version retired); unset: none")
    command_timeout: Duration = Field(default=120.0, description="longest a deploy or promote command may run (then its process group is killed)")
    memory: str = Field(default="512m", description="memory limit of every service (the override file)")
    pids: int = Field(default=512, ge=16, le=4096, description="process limit of every service")
    cpus: float | None = Field(default=None, gt=0, le=64, description="CPU limit of every service (unset: none)")
    build: bool = Field(default=True, description="build the services' images first (compose build); false: they must be local")
    build_timeout: Duration = Field(default=1800.0, description="longest the build may take (a first build installs packages)")
    startup_timeout: Duration = Field(default=180.0, description="longest wait for the stack to be up and its gateway healthy (after the build)")
    _services: frozenset[str] | None = PrivateAttr(default=None)  # as Compose read the files (None: not read)

    @field_validator("files")
    @classmethod
    def _files_exist(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        paths = [_absolute(p, info) for p in value]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"no Compose file {', '.join(missing)}")
        return paths

    @field_validator("project_directory")
    @classmethod
    def _directory(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = _absolute(value, info)
        if not path.is_dir():
            raise ValueError(f"no project directory {path}")
        return path

    @field_validator("env_file")
    @classmethod
    def _env_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = _absolute(value, info)
        if not path.is_file():
            raise ValueError(f"no env file {path}")
        return path

    @property
    def routed_path(self) -> str:
        """The path clients send to: the team's gateway routes it (no path proxy of drill's)."""
        return self.predict_path

    @field_validator("health_path", "predict_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not URL_PATH.match(value):
            raise ValueError(f"expected an absolute URL path such as /predict, got {value!r}")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not MEMORY_SIZE.match(value):
            raise ValueError(f"expected a memory size such as 512m or 1g, got {value!r}")
        return value

    @field_validator("stable", "candidate", "previous")
    @classmethod
    def _version_name(cls, value: str | None) -> str | None:
        if value is not None and not _VERSION_NAME.match(value):
            raise ValueError(f"version names are letters, digits, '.', '_' and '-' (up to 64), got {value!r}")
        return value

    @model_validator(mode="after")
    def _checked_by_compose(self) -> ComposeTargetSpec:
        if self.stable == self.candidate:
            raise FieldError(("candidate",), "stable and candidate must be different versions")
        if self.version.header is None and self.version.json_field is None:
            raise FieldError(("version",), "give header or json_field: the team's gateway does not say which slot answered")
        compose = compose_cli.available()
        if compose is not None:  # none installed: the run says so (exit 3); the files are checked then
            services = config_services(compose, self)
            self._services = frozenset(services)
            named: list[tuple[tuple[str | int, ...], str]] = [(("entrypoint", "service"), self.entrypoint.service)]
            named += [(("prometheus", "service"), self.prometheus.service)] if self.prometheus else []
            named += [(("publish", i, "service"), p.service) for i, p in enumerate(self.publish)]
            for field, service in named:
                if service not in services:
                    raise FieldError(field, f"no service {service!r} in {', '.join(map(str, self.files))}; "
                                            f"the project has {', '.join(sorted(services)) or 'none'}")
        return self

    def templated(self) -> list[tuple[tuple[str | int, ...], Any]]:
        return [(("deploy",), self.deploy), *([(("promote",), self.promote)] if self.promote is not None else [])]

    def service_problem(self, service: str) -> str | None:
        if self._services is None or service in self._services:
            return None  # Compose is not installed: the run says so before anything starts
        return (f"no service {service!r} in {', '.join(map(str, self.files))}; "
                f"the project has {', '.join(sorted(self._services)) or 'none'}")

    @property
    def directory(self) -> Path:
        return self.project_directory or self.files[0].parent

    def file_args(self) -> list[str]:
        """``-f`` for each file, the project directory and the env file: Compose's view of the team's project."""
        args = [a for f in self.files for a in ("-f", str(f))]
        args += ["--project-directory", str(self.directory)]
        if self.env_file is not None:
            args += ["--env-file", str(self.env_file)]
        return args


def config_services(compose: compose_cli.Compose, spec: ComposeTargetSpec) -> set[str]:
    """The project's services as ``compose config`` reads them; FieldError on ``files`` with Compose's own words."""
    return set(read_config(compose, spec).get("services") or {})


def read_config(compose: compose_cli.Compose, spec: ComposeTargetSpec) -> dict[str, Any]:
    """The project as ``compose config --format json`` reads it; FieldError on ``files`` with Compose's own words."""
    from harness.stack.images import base_tag  # light: a digest of constants (no Docker client)

    # Every profile's services too (--profile '*'): the override must label a service the team starts later.
    env = {**os.environ, "DRILL_BASE_IMAGE": os.environ.get("DRILL_BASE_IMAGE") or base_tag()}
    try:
        done = subprocess.run(compose.command(*spec.file_args(), "--profile", "*", "config", "--format", "json"),
                              capture_output=True, text=True, timeout=60, cwd=spec.directory, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FieldError(("files",), f"compose config did not run: {exc}") from None
    if done.returncode != 0:
        said = " ".join(done.stderr.strip().splitlines()[-3:]) or f"exit {done.returncode}"
        raise FieldError(("files",), f"compose config refused the project: {said}")
    try:
        config = json.loads(done.stdout)
    except ValueError:
        config = None
    if not isinstance(config, dict):
        raise FieldError(("files",), "compose config gave no JSON")
    return config
