"""Drill and runbook specs: pydantic models, and loading YAML with file:line errors.

Validation happens at the edge and reports every problem at once (file, line, field), so
that a bad input never starts a container. Inside the harness the specs are typed objects.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from harness.errors import SpecError, SpecIssue
from harness.spec_types import Duration, Strict, parse_duration  # noqa: F401 - parse_duration re-exported
from harness.targets.image.spec import (
    ImageTargetSpec,  # a target kind's block lives with its target
)

M = TypeVar("M", bound=BaseModel)
ROOT_CAUSES = ("performance", "safety", "infrastructure", "upstream-data", "business-rule", "other")


class RetrySpec(Strict):
    attempts: int = Field(default=3, ge=1, le=20)
    backoff: Duration = 0.2
    max_backoff: Duration = 2.0


class OnFailure(str, Enum):
    ABORT = "abort"
    CONTINUE = "continue"


class StepSpec(Strict):
    name: str
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: Duration = 30.0
    retry: RetrySpec = Field(default_factory=RetrySpec)
    on_failure: OnFailure = OnFailure.ABORT
    manual: bool = False
    instructions: str | None = None
    verify: bool = False


class RunbookSpec(Strict):
    name: str
    description: str = ""
    steps: list[StepSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> RunbookSpec:
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValueError(f"step name {step.name!r} is used twice")
            seen.add(step.name)
        return self


class StrategySpec(Strict):
    kind: Literal["canary", "blue-green"] = "canary"
    weight: int = Field(default=10, ge=1, le=100)


# Faults a proxy in front of the candidate injects at the network level, for any HTTP server
# (``inject: true``): 5xx on a share, added latency, dropped connections, a wrong body with status 200.
NETWORK_FAULTS = ("error", "latency", "drop", "wrong_body", "none")


class FaultSpec(Strict):
    kind: Literal["error_slice", "latency", "wrong_answers", "crash", "out_of_range", "forbidden_output", "renamed_feature",
                  "error", "drop", "wrong_body", "none"]
    feature: str | None = None
    above: float | None = None
    ms: float | None = None
    scale: float | None = None
    rename_to: str | None = None
    message: str | None = None
    inject: bool = False  # made by a fault proxy in front of the candidate, not by the model itself
    rate: float | None = Field(default=None, ge=0, le=1)  # share of predict requests faulted (injected)
    status: int | None = Field(default=None, ge=400, le=599)  # error: the status answered (503)
    body: Any = None  # wrong_body: the JSON answered with status 200

    @model_validator(mode="after")
    def _network_kinds_are_injected(self) -> FaultSpec:
        if self.inject and self.kind not in NETWORK_FAULTS:
            raise ValueError(f"an injected fault is one of {', '.join(NETWORK_FAULTS)}; {self.kind!r} is made by the model")
        if not self.inject and self.kind in ("error", "drop", "wrong_body"):
            raise ValueError(f"{self.kind!r} is a network fault: set inject: true")
        return self


class TrafficSpec(Strict):
    rate: float = Field(default=50.0, gt=0, le=500)
    workers: int = Field(default=4, ge=1, le=32)
    timeout: Duration = 5.0


class MetricCheck(Strict):
    """A PromQL expression judged against limits (as Argo Rollouts' analysis does)."""

    name: str
    query: str
    failure_above: float
    inconclusive_above: float | None = None
    samples_query: str | None = None
    min_samples: int = Field(default=20, ge=1)
    baseline_query: str | None = None


class CompareCheck(Strict):
    """Baseline (stable) vs canary on client-side samples: a one-sided Mann-Whitney U test (Kayenta-style)."""

    name: str
    measure: Literal["latency", "error", "incorrect"]
    alpha: float = Field(default=0.001, gt=0, lt=0.5)
    min_effect: float = Field(default=0.6, gt=0.5, le=1.0)  # P(canary worse than baseline) must exceed this
    min_samples: int = Field(default=20, ge=8)


class DetectionSpec(Strict):
    metrics: list[MetricCheck] = Field(default_factory=list)
    compare: list[CompareCheck] = Field(default_factory=list)
    interval: Duration = 0.5
    max_wait: Duration = 60.0
    consecutive: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _something_to_judge(self) -> DetectionSpec:
        if not self.metrics and not self.compare:
            raise ValueError("give at least one of metrics or compare")
        return self


class ProfileSpec(Strict):
    baseline: Duration = 3.0
    decision: Literal["automated", "manual"] = "automated"
    decision_timeout: Duration = 300.0
    observe: Duration = 0.0


class BuiltinTargetSpec(Strict):
    """The built-in demo stack (stdlib model server, file registry); the default."""

    kind: Literal["builtin"] = "builtin"


TargetSpec = Annotated[BuiltinTargetSpec | ImageTargetSpec, Field(discriminator="kind")]


class DrillSpec(Strict):
    name: str
    description: str = ""
    model: str = "fraud"
    root_cause: Literal["performance", "safety", "infrastructure", "upstream-data", "business-rule", "other"]
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    fault: FaultSpec
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    detection: DetectionSpec
    runbook: str
    target: TargetSpec = Field(default_factory=BuiltinTargetSpec)  # what the drill runs against
    time_target: Duration = 900.0  # decision -> verified completion must take at most this
    expect: Literal["rollback", "promote"] = "rollback"
    allow_shell: bool = False
    # Break the rollback path on purpose (the previous version's artifact) to prove the drill notices.
    sabotage: Literal["none", "corrupt-previous", "missing-previous"] = "none"
    profiles: dict[str, ProfileSpec] = Field(default_factory=lambda: {"ci": ProfileSpec()})

    @model_validator(mode="before")
    @classmethod
    def _scalar_target_is_the_time_target(cls, data: Any) -> Any:
        # Drills written before targets had kinds say ``target: 15m``: that is the time target.
        if isinstance(data, dict) and "target" in data and not isinstance(data["target"], dict):
            data = {**data, "target": {"kind": "builtin"}, "time_target": data["target"]}
        return data

    @model_validator(mode="after")
    def _fault_fits_the_target(self) -> DrillSpec:
        if self.target.kind == "image" and not (self.fault.inject or self.fault.kind == "none"):
            raise ValueError("an image target's bad version is either a real version (fault: {kind: none}) "
                             "or a fault injected in front of it (inject: true)")
        return self


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line of a pydantic error location in YAML text, via the composed node tree."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, v in node.value if k.value == part), None)
            if match is None:
                return line
            line = (key.start_mark.line if key is not None else match.start_mark.line) + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_yaml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(SpecIssue(str(path), "-", f"cannot read: {exc.strerror}")) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SpecError(SpecIssue(str(path), "-", f"malformed YAML: {getattr(exc, 'problem', exc)}", line)) from exc
    if not isinstance(data, dict):
        raise SpecError(SpecIssue(str(path), "-", "expected a mapping at the top level", 1))
    return data, text


def validation_issues(path: Path, text: str, exc: ValidationError) -> list[SpecIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "-"
        issues.append(SpecIssue(str(path), field, err["msg"], _line_of(text, loc)))
    return issues


def parse_model(path: Path, model: type[M]) -> M:
    data, text = load_yaml(path)
    try:
        # Paths inside a spec (a build context, a request file) are relative to the spec's own file.
        return model.model_validate(data, context={"spec_dir": path.resolve().parent})
    except ValidationError as exc:
        raise SpecError(validation_issues(path, text, exc)) from exc
