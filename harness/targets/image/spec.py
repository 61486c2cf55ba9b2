"""The ``target: {kind: image, ...}`` block of a drill: a team's own model server image as the target.

Everything a newcomer writes about their server lives here: the port and paths it serves, the
versions (a local image, or a build context drill builds), which of them is stable, previous and
candidate, the requests to send (a JSONL file, optionally with expected answers) and how an answer
names its version and prediction. Paths are relative to the drill file (pydantic validation
context ``spec_dir``, set by ``harness.specs.parse_model``); the request file is read and checked
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
from harness.spec_types import Duration, Strict, TargetBlock

_PATH = re.compile(r"^/[^\s]*$")
_MEMORY = re.compile(r"^\d+[kmg]?$", re.IGNORECASE)
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _spec_dir(info: ValidationInfo) -> Path:
    context = info.context if isinstance(info.context, dict) else {}
    found = context.get("spec_dir")
    return Path(found) if found is not None else Path.cwd()


def _absolute(value: Path, info: ValidationInfo) -> Path:
    return value if value.is_absolute() else (_spec_dir(info) / value).resolve()


class BuildSpec(Strict):
    """A build context with a Dockerfile: drill builds it locally (no registry), cached by content."""

    context: Path
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = Field(default_factory=dict)

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

    image: str | None = None
    build: BuildSpec | None = None
    env: dict[str, str] = Field(default_factory=dict)
    command: list[str] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> VersionSpec:
        if (self.image is None) == (self.build is None):
            raise ValueError("give exactly one of image (a local tag) or build (a context with a Dockerfile)")
        return self


class RequestSpec(Strict):
    """Where the sample requests come from: a JSONL file, one ``{"body": ..., "expect": ...}`` a line."""

    source: Path
    method: Literal["POST", "PUT", "PATCH", "GET"] = "POST"
    headers: dict[str, str] = Field(default_factory=lambda: {"Content-Type": "application/json"})

    @field_validator("source")
    @classmethod
    def _readable(cls, value: Path, info: ValidationInfo) -> Path:
        path = _absolute(value, info)
        load_requests(path)  # raises SpecError naming the file and line
        return path


class VersionReadSpec(Strict):
    """How an answer names its version: a response header, a JSON field (dotted), or neither (the router says)."""

    header: str | None = None
    json_field: str | None = None

    @model_validator(mode="after")
    def _at_most_one(self) -> VersionReadSpec:
        if self.header is not None and self.json_field is not None:
            raise ValueError("give one of header or json_field, not both")
        return self


class ImageTargetSpec(TargetBlock):
    kind: Literal["image"]
    port: int = Field(default=8080, ge=1, le=65535)
    health_path: str = "/healthz"
    predict_path: str = "/predict"
    metrics_path: str | None = None  # set: Prometheus scrapes the model servers too
    command: list[str] | None = None  # every version's command unless the version has its own
    env: dict[str, str] = Field(default_factory=dict)
    request: RequestSpec
    version: VersionReadSpec = Field(default_factory=VersionReadSpec)
    prediction_field: str | None = None  # dotted JSON path of the prediction, compared with ``expect``
    versions: dict[str, VersionSpec] = Field(min_length=2)
    stable: str
    previous: str | None = None
    candidate: str
    # Hardening: a read-only root (with a tmpfs on /tmp) unless the image must write elsewhere.
    read_only: bool = True
    user: str | None = None  # None: the image's own USER
    memory: str = "512m"
    pids: int = Field(default=256, ge=16, le=4096)
    startup_timeout: Duration = 60.0

    @field_validator("health_path", "predict_path", "metrics_path")
    @classmethod
    def _absolute_path(cls, value: str | None) -> str | None:
        if value is not None and not _PATH.match(value):
            raise ValueError(f"expected an absolute URL path such as /predict, got {value!r}")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not _MEMORY.match(value):
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
