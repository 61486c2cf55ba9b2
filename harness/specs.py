"""Drill and runbook specs: pydantic models, and loading YAML with file:line errors.

Validation happens at the edge and reports every problem at once (file, line, field), so
that a bad input never starts a container. Inside the harness the specs are typed objects.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from harness.errors import SpecError, SpecIssue

M = TypeVar("M", bound=BaseModel)
ROOT_CAUSES = ("performance", "safety", "infrastructure", "upstream-data", "business-rule", "other")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """'250ms', '5s', '15m', '1h' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 5s, 250ms or 15m")
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration such as 5s, 250ms or 15m, got {value!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class FaultSpec(Strict):
    kind: Literal["error_slice", "latency", "wrong_answers", "crash", "out_of_range", "forbidden_output", "renamed_feature", "none"]
    feature: str | None = None
    above: float | None = None
    ms: float | None = None
    scale: float | None = None
    rename_to: str | None = None
    message: str | None = None


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


class StackSpec(Strict):
    """What the drill runs against: a target kind (``builtin``, ``mlflow``, or one an entry point adds)."""

    kind: str = Field(default="builtin", pattern=r"^[a-z][a-z0-9_-]*$")


class DrillSpec(Strict):
    name: str
    description: str = ""
    model: str = "fraud"
    root_cause: Literal["performance", "safety", "infrastructure", "upstream-data", "business-rule", "other"]
    stack: StackSpec = Field(default_factory=StackSpec)
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    fault: FaultSpec
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    detection: DetectionSpec
    runbook: str
    # Runbook steps run after the baseline, before the deploy (checks such as registry.check_prior_versions);
    # one that fails ends the drill FAILED with nothing deployed.
    preflight: list[StepSpec] = Field(default_factory=list)
    target: Duration = 900.0
    expect: Literal["rollback", "promote"] = "rollback"
    allow_shell: bool = False
    # Break the rollback path on purpose (the previous version's artifact) to prove the drill notices.
    sabotage: Literal["none", "corrupt-previous", "missing-previous"] = "none"
    profiles: dict[str, ProfileSpec] = Field(default_factory=lambda: {"ci": ProfileSpec()})


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
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(validation_issues(path, text, exc)) from exc
