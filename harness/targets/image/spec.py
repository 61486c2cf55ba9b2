"""The ``target: {kind: image, ...}`` block of a drill: a team's own model server image as the target.

Everything a newcomer writes about their server lives here: the port and paths it serves, the
versions (a local image, or a build context drill builds), which of them is stable, previous and
candidate, the requests to send (a JSONL file, optionally with expected answers) and how an answer
names its version and prediction. Paths are relative to the drill file (pydantic validation
context ``spec_dir``, set by ``harness.spec.models.parse_model``); the request file is read and checked
at load, so a bad line is reported with its file and line before anything starts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from harness.errors import SpecError, SpecIssue
from harness.spec.types import ISSUES_KEY, MEMORY_SIZE, URL_PATH, Duration, Strict, TargetBlock

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _spec_dir(info: ValidationInfo) -> Path:
    context = info.context if isinstance(info.context, dict) else {}
    found = context.get("spec_dir")
    return Path(found) if found is not None else Path.cwd()


def _absolute(value: Path, info: ValidationInfo) -> Path:
    return value if value.is_absolute() else (_spec_dir(info) / value).resolve()


class BuildSpec(Strict):
    """A build context with a Dockerfile: drill builds it locally (no registry), cached by content."""

    context: Path = Field(description="build context directory, relative to the drill file")
    dockerfile: str = Field(default="Dockerfile", description="the Dockerfile, relative to the context")
    args: dict[str, str] = Field(default_factory=dict, description="build arguments (BASE_IMAGE is passed too where the Dockerfile declares it)")

    @field_validator("context")
    @classmethod
    def _context_exists(cls, value: Path, info: ValidationInfo) -> Path:
        path = _absolute(value, info)
        if not path.is_dir():
            raise ValueError(f"no build context directory {path}")
        return path

    @model_validator(mode="after")
    def _dockerfile_exists(self) -> BuildSpec:
        if not (self.context / self.dockerfile).is_file():
            raise ValueError(f"no Dockerfile {self.dockerfile!r} in {self.context}")
        return self


class VersionSpec(Strict):
    """One version of the model: an image already local, or a build; optional env and command of its own."""

    image: str | None = Field(default=None, description="a local image tag (drill never pulls a team's image)")
    build: BuildSpec | None = Field(default=None, description="or a build context drill builds locally, cached by content")
    env: dict[str, str] = Field(default_factory=dict, description="this version's environment, added to the target's env")
    command: list[str] | None = Field(default=None, description="this version's command, instead of the target's or the image's")
    predict_path: str | None = Field(default=None,
        description="this version's predict path, instead of the target's (a server that names its version in the path)")

    @field_validator("predict_path")
    @classmethod
    def _own_path(cls, value: str | None) -> str | None:
        if value is not None and (not URL_PATH.match(value) or "${" in value):
            raise ValueError(f"expected an absolute URL path such as /v2/models/m/versions/2/infer, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> VersionSpec:
        if (self.image is None) == (self.build is None):
            raise ValueError("give exactly one of image (a local tag) or build (a context with a Dockerfile)")
        return self


class RequestSpec(Strict):
    """Where the sample requests come from: a JSONL file, one ``{"body": ..., "expect": ...}`` a line."""

    source: Path = Field(description="JSONL file of requests, relative to the drill file: one {\"body\": ..., \"expect\": ..., \"protected\": ...} a line")
    method: Literal["POST", "PUT", "PATCH", "GET"] = Field(default="POST", description="HTTP method of the predict requests")
    headers: dict[str, str] = Field(default_factory=lambda: {"Content-Type": "application/json"}, description="headers sent with every request")

    @field_validator("source")
    @classmethod
    def _readable(cls, value: Path, info: ValidationInfo) -> Path:
        path = _absolute(value, info)
        if not path.is_file():  # the drill's own error, at its source: line
            raise ValueError(f"no request file {path}")
        context = info.context if isinstance(info.context, dict) else {}
        elsewhere = context.get(ISSUES_KEY)
        try:
            load_requests(path)  # raises SpecError naming the file and the line of every bad line
        except SpecError as exc:
            if not isinstance(elsewhere, list):
                raise
            elsewhere.extend(exc.issues)  # reported with the drill's own errors (harness.spec.models.parse_model)
        return path


def dotted_path(value: str | None) -> str | None:
    """A dotted JSON path as ``harness.targets.image.protocol.dotted`` reads it; brackets would never resolve."""
    if value is None:
        return value
    if "[" in value or "]" in value or any(not part for part in value.split(".")):
        suggestion = value.replace("[", ".").replace("]", "").replace("..", ".").strip(".")
        raise ValueError(f"{value!r} is not a dotted path: list indices are numbers between dots "
                         f"(write {suggestion!r}), and a V2 output can be picked by name (outputs.predict.data.0)")
    return value


class VersionReadSpec(Strict):
    """How an answer names its version: a response header, a JSON field (dotted), or neither (the router says)."""

    header: str | None = Field(default=None, description="response header naming the version that answered")
    json_field: str | None = Field(default=None, description="or a dotted JSON field of the answer naming it")

    @field_validator("json_field")
    @classmethod
    def _dotted(cls, value: str | None) -> str | None:
        return dotted_path(value)

    @model_validator(mode="after")
    def _at_most_one(self) -> VersionReadSpec:
        if self.header is not None and self.json_field is not None:
            raise ValueError("give one of header or json_field, not both")
        return self


class ImageTargetSpec(TargetBlock):
    kind: Literal["image"] = Field(description="a team's own model server image")
    port: int = Field(default=8080, ge=1, le=65535, description="the port the server listens on, on all interfaces")
    health_path: str = Field(default="/healthz", description="answers 2xx when the server is ready (readiness, and the router's health check)")
    predict_path: str = Field(default="/predict",
        description="where each request is sent (the only path a fault proxy faults); "
                    "${version} is the answering version's name (/v2/models/m/versions/${version}/infer)")
    metrics_path: str | None = Field(default=None, description="set: Prometheus scrapes the model servers too (job model, label slot)")
    metrics_port: int | None = Field(default=None, ge=1, le=65535,
        description="the port the metrics are served on when it is not the serving port (MLServer 8082, Triton 8002); metrics_path defaults to /metrics")
    command: list[str] | None = Field(default=None, description="every version's command unless the version has its own")
    env: dict[str, str] = Field(default_factory=dict, description="every version's environment")
    request: RequestSpec = Field(description="the sample requests to send")
    version: VersionReadSpec = Field(default_factory=VersionReadSpec,
        description="how an answer names its version (unset: the router says which slot answered)")
    prediction_field: str | None = Field(default=None,
        description="dotted JSON path of the prediction, compared with each request's expect (unset: no correctness checks)")
    versions: dict[str, VersionSpec] = Field(min_length=2, description="the model's versions by name: each a local image or a build")
    stable: str = Field(description="the version serving before the deploy, and the one rolled back to")
    previous: str | None = Field(default=None, description="the version before stable (registry history); default: none")
    candidate: str = Field(description="the version deployed (the bad one, or good in a control drill)")
    # Hardening: a read-only root (with a tmpfs on /tmp) unless the image must write elsewhere.
    read_only: bool = Field(default=True, description="a read-only root with a tmpfs on /tmp; false if the server must write elsewhere")
    user: str | None = Field(default=None, description="the user the server runs as (unset: the image's own USER)")  # None: the image's own USER
    memory: str = Field(default="512m", description="memory limit per version (512m, 1g)")
    pids: int = Field(default=256, ge=16, le=4096, description="process limit per version")
    startup_timeout: Duration = Field(default=60.0, description="longest wait for a version to become ready")

    @model_validator(mode="before")
    @classmethod
    def _metrics_path_with_port(cls, data: Any) -> Any:
        """A metrics port alone means the usual path: servers with a metrics port serve /metrics there."""
        if isinstance(data, dict) and data.get("metrics_port") is not None and data.get("metrics_path") is None:
            return {**data, "metrics_path": "/metrics"}
        return data

    @property
    def scrape_port(self) -> int:
        """Where Prometheus scrapes each model server: its metrics port, else its serving port."""
        return self.metrics_port or self.port

    def blind_to(self, measure: str) -> str | None:
        if measure in ("incorrect", "forbidden") and self.prediction_field is None:
            return f"measure {measure} needs the answers' prediction: set target.prediction_field"
        if measure == "out_of_range":
            return "measure out_of_range needs a score, which a team's server's answers do not give the drill"
        return None

    @field_validator("prediction_field")
    @classmethod
    def _dotted_prediction(cls, value: str | None) -> str | None:
        return dotted_path(value)

    @field_validator("health_path", "predict_path", "metrics_path")
    @classmethod
    def _absolute_path(cls, value: str | None) -> str | None:
        if value is not None and not URL_PATH.match(value):
            raise ValueError(f"expected an absolute URL path such as /predict, got {value!r}")
        return value

    @field_validator("predict_path")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        unknown = sorted({m for m in _PLACEHOLDER.findall(value) if m != "version"})
        if unknown or value.count("${") != len(_PLACEHOLDER.findall(value)):
            named = ", ".join(f"${{{m}}}" for m in unknown) or "an unclosed ${"
            raise ValueError(f"{named} in {value!r}: the one placeholder is ${{version}}")
        return value

    def path_for(self, version: str) -> str:
        """The predict path of ``version``: its own ``predict_path``, else the target's with ``${version}`` filled."""
        return self.versions[version].predict_path or self.predict_path.replace("${version}", version)

    @property
    def routed_path(self) -> str:
        """The path clients send (the load, the fault proxy's faulted path, a shadow's mirrored path): the stable
        version's. A slot serving a version whose own path differs gets a rewriting proxy in front of it."""
        return self.path_for(self.stable)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not MEMORY_SIZE.match(value):
            raise ValueError(f"expected a memory size such as 512m or 1g, got {value!r}")
        return value

    @field_validator("versions")
    @classmethod
    def _version_names(cls, value: dict[str, VersionSpec]) -> dict[str, VersionSpec]:
        bad = [name for name in value if not _VERSION_NAME.match(name)]
        if bad:
            raise ValueError(f"version names are letters, digits, '.', '_' and '-' (up to 64): {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _roles_name_versions(self) -> ImageTargetSpec:
        roles = {"stable": self.stable, "candidate": self.candidate}
        if self.previous is not None:
            roles["previous"] = self.previous
        unknown = [f"{role}: {name!r}" for role, name in roles.items() if name not in self.versions]
        if unknown:
            raise ValueError(f"no such version ({'; '.join(unknown)}); known: {', '.join(self.versions)}")
        if self.stable == self.candidate:
            raise ValueError("stable and candidate must be different versions")
        return self


# ---- the request file ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestLine:
    body: bytes  # sent as is: JSON of the line's body, or the text of a string body
    expect: Any  # the right answer, or None where unknown
    protected: bool
    line: int


_LINE_KEYS = {"body", "expect", "protected"}


def load_requests(path: Path) -> list[RequestLine]:
    """Read and check a request file; SpecError naming the file and line of every bad line (up to 10)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(SpecIssue(str(path), "request.source", f"cannot read the request file: {exc.strerror}")) from exc
    except UnicodeDecodeError as exc:
        raise SpecError(SpecIssue(str(path), "request.source", f"not UTF-8 text: {exc.reason}")) from exc
    lines: list[RequestLine] = []
    issues: list[SpecIssue] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        problem, found = _parse_line(raw, number)
        if problem is not None:
            issues.append(SpecIssue(str(path), problem[0], problem[1], number))
        elif found is not None:
            lines.append(found)
        if len(issues) >= 10:
            break
    if issues:
        raise SpecError(issues)
    if not lines:
        raise SpecError(SpecIssue(str(path), "request.source", "the request file has no requests", 1))
    return lines


def _parse_line(raw: str, number: int) -> tuple[tuple[str, str] | None, RequestLine | None]:
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        return ("-", f"bad JSON at column {exc.colno}: {exc.msg}"), None
    if not isinstance(item, dict):
        return ("-", f"expected an object {{\"body\": ..., \"expect\": ...}}, got {type(item).__name__}"), None
    extra = sorted(set(item) - _LINE_KEYS)
    if extra:
        return (extra[0], f"unknown key; a line has {', '.join(sorted(_LINE_KEYS))}"), None
    if "body" not in item:
        return ("body", "missing: the request body to send"), None
    body = item["body"]
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    protected = item.get("protected", False)
    if not isinstance(protected, bool):
        return ("protected", "expected true or false"), None
    return None, RequestLine(data, item.get("expect"), protected, number)
