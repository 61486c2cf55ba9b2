"""Drill and runbook specs: pydantic models, and loading YAML with file:line errors.

Validation happens at the edge and reports every problem at once (file, line, field), so
that a bad input never starts a container. Inside the harness the specs are typed objects.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, ValidatorFunctionWrapHandler, field_validator, model_validator
from pydantic_core import PydanticCustomError

from harness.errors import SpecError, SpecIssue
from harness.outcomes import Expectation, RootCause

# A drill's fault: its kinds and the ``fault:`` block's model.
from harness.spec_faults import FAULT_KINDS as FAULT_KINDS
from harness.spec_faults import NETWORK_FAULTS as NETWORK_FAULTS
from harness.spec_faults import FaultSpec as FaultSpec

# Re-exported (``as``): harness.specs stays where specs and their building blocks are imported from.
from harness.spec_types import IDENTIFIER as IDENTIFIER
from harness.spec_types import Duration as Duration
from harness.spec_types import Name as Name
from harness.spec_types import PositiveDuration as PositiveDuration
from harness.spec_types import Strict as Strict
from harness.spec_types import TargetBlock
from harness.spec_types import parse_duration as parse_duration
from harness.targets.builtin.spec import BuiltinTargetSpec as BuiltinTargetSpec

M = TypeVar("M", bound=BaseModel)
ROOT_CAUSES = tuple(RootCause)
MAX_DEPTH = 32  # nesting levels a drill or runbook file may use; deeper is refused, never a RecursionError


class RetrySpec(Strict):
    attempts: int = Field(default=3, ge=1, le=20)
    backoff: Duration = 0.2
    max_backoff: Duration = 2.0


class OnFailure(str, Enum):
    ABORT = "abort"
    CONTINUE = "continue"


class StepSpec(Strict):
    name: str = Field(min_length=1, max_length=200)
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: PositiveDuration = 30.0
    retry: RetrySpec = Field(default_factory=RetrySpec)
    on_failure: OnFailure = OnFailure.ABORT
    manual: bool = False
    instructions: str | None = None
    verify: bool = False


class RunbookSpec(Strict):
    name: Name
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
    kind: str = Field(default="canary", description="how the candidate rolls out: canary, blue-green, swarm-update "
                      "or a registered strategy (harness.strategies)")
    weight: int = Field(default=10, ge=1, le=100)
    # swarm-update: the orchestrator's rolling update of the stable service (Swarm's update_config), with its
    # own health-based failure detection and automatic rollback (failure_action: rollback).
    parallelism: int = Field(default=1, ge=0, le=100)
    delay: Duration = 1.0
    monitor: Duration = 5.0
    failure_action: Literal["rollback", "pause", "continue"] = "rollback"
    order: Literal["start-first", "stop-first"] = "start-first"
    # Who may decide to roll back: the orchestrator alone (the path a team without canary analysis has),
    # or the orchestrator and the drill's own detection, whichever is first.
    detect_by: Literal["both", "orchestrator"] = "both"

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        from harness import strategies

        known = strategies.names()
        if kind not in known:
            raise ValueError(f"no strategy {kind!r}; known: {', '.join(known)}")
        return kind


class ReplicasSpec(Strict):
    """Replicas per slot where the backend has replicas (an orchestrator)."""

    stable: int = Field(default=2, ge=2, le=16)
    candidate: int = Field(default=1, ge=1, le=16)


class NoiseSpec(Strict):
    """Background noise every model version serves with (the stable one too): a realistic service is never
    spotless. Passed to the model containers as environment variables (``env``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    error_rate: float = Field(default=0.0, ge=0.0, le=0.5)  # share of requests answered 503
    latency_jitter: Duration = Field(default=0.0, le=2.0)  # mean of an exponential extra delay
    wrong_rate: float = Field(default=0.0, ge=0.0, le=0.5)  # share of answers with the prediction flipped

    def env(self) -> dict[str, str]:
        """The model server's environment: NOISE_ERROR_RATE, NOISE_LATENCY_JITTER_MS, NOISE_WRONG_RATE."""
        return {"NOISE_ERROR_RATE": repr(self.error_rate), "NOISE_LATENCY_JITTER_MS": repr(self.latency_jitter * 1000.0),
                "NOISE_WRONG_RATE": repr(self.wrong_rate)}


class TrafficSpec(Strict):
    rate: float = Field(default=50.0, gt=0, le=500)
    workers: int = Field(default=4, ge=1, le=32)
    timeout: PositiveDuration = 5.0


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
    """Baseline vs candidate on client-side samples. ``sequential`` (the default): an anytime-valid
    count-process test (harness.judge.sequential), valid however often the loop looks; ``mann-whitney``: a
    one-sided Mann-Whitney U test at each look (Kayenta-style; not valid under continuous monitoring).
    The baseline is the stable version since the deploy, or the pre-deploy window after a 100 % switch."""

    name: str
    measure: Literal["latency", "error", "incorrect", "out_of_range", "forbidden"]
    method: Literal["sequential", "mann-whitney"] = "sequential"
    # sequential: this check's share of the drill's alpha (default: the drill's alpha split evenly);
    # mann-whitney: the per-look level (default 0.001).
    alpha: float | None = Field(default=None, gt=0, lt=0.5)
    quantile: float = Field(default=0.9, gt=0.5, lt=1.0)  # latency: events are answers slower than this baseline quantile
    min_effect: float = Field(default=0.6, gt=0.5, le=1.0)  # P(canary worse than baseline) must exceed this
    min_samples: int = Field(default=20, ge=8)


class DetectionSpec(Strict):
    metrics: list[MetricCheck] = Field(default_factory=list)
    compare: list[CompareCheck] = Field(default_factory=list)
    # Bounds the probability that the sequential checks roll back a good version over the whole window.
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    interval: PositiveDuration = 0.5
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


class NotifySpec(Strict):
    """Where a run's start, decision and result are posted (a chat incoming webhook); failures are logged only."""

    webhook: str  # http(s) URL, may use ${KEY} from --var
    events: tuple[Literal["start", "decision", "result"], ...] = Field(
        default=("start", "decision", "result"), min_length=1)
    timeout: Duration = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _url(self) -> NotifySpec:
        from urllib.parse import urlsplit

        parts = urlsplit(self.webhook)
        if "$" not in self.webhook and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"webhook must be an http(s) URL or use a ${{KEY}} variable, got {self.webhook!r}")
        return self


class DrillSpec(Strict):
    name: Name
    description: str = ""
    model: Name = "fraud"
    root_cause: RootCause
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    backend: str = "docker"  # where model versions run (a registered backend kind); drill run --backend overrides it
    replicas: ReplicasSpec = Field(default_factory=ReplicasSpec)
    fault: FaultSpec
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    noise: NoiseSpec = Field(default_factory=NoiseSpec)
    detection: DetectionSpec
    runbook: str
    # Runbook steps run after the baseline, before the deploy (checks such as registry.check_prior_versions);
    # one that fails ends the drill FAILED with nothing deployed.
    preflight: list[StepSpec] = Field(default_factory=list)
    target: TargetBlock = Field(default_factory=BuiltinTargetSpec)  # what the drill runs against (a registered kind)
    time_target: PositiveDuration = 900.0  # decision -> verified completion must take at most this
    expect: Literal[Expectation.ROLLBACK, Expectation.PROMOTE] = Expectation.ROLLBACK
    allow_shell: bool = False
    # Break the rollback path on purpose (the previous version's artifact) to prove the drill notices.
    sabotage: Literal["none", "corrupt-previous", "missing-previous"] = "none"
    profiles: dict[str, ProfileSpec] = Field(default_factory=lambda: {"ci": ProfileSpec()})
    notify: NotifySpec | None = None  # post the run's start, decision and result to a webhook

    @model_validator(mode="before")
    @classmethod
    def _scalar_target_is_the_time_target(cls, data: Any) -> Any:
        # Drills written before targets had kinds say ``target: 15m``: that is the time target.
        if isinstance(data, dict) and "target" in data and not isinstance(data["target"], dict):
            data = {**data, "target": {"kind": "builtin"}, "time_target": data["target"]}
        return data

    @field_validator("target", mode="wrap")
    @classmethod
    def _target_of_its_kind(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> TargetBlock:
        """The block validated by its kind's own model (any registered kind, a plugin's too)."""
        if not isinstance(value, dict):
            block: TargetBlock = handler(value)
            return block
        from harness import targets

        kind = value.get("kind", "builtin")
        record = targets.get(kind) if isinstance(kind, str) else None
        if record is None:
            message = f"no target kind {kind!r}; known: {', '.join(sorted(targets.kinds()))}"
            raise PydanticCustomError("target_kind", message.replace("{", "(").replace("}", ")"))
        return record.spec.model_validate(value, context=info.context)

    @field_validator("backend")
    @classmethod
    def _backend_registered(cls, kind: str) -> str:
        from harness import backends

        if backends.get(kind) is None:
            raise ValueError(f"no backend {kind!r}; known: {', '.join(sorted(backends.kinds()))}")
        return kind

    @model_validator(mode="after")
    def _fits_the_target_and_backend(self) -> DrillSpec:
        from harness import strategies, targets

        record = targets.get(self.target.kind)
        problem = record.fault_problem(self.fault.kind, self.fault.inject) if record is not None else None
        if problem:
            raise ValueError(problem)
        if record is not None and self.backend not in record.backends:
            raise ValueError(f"target {record.kind!r} cannot run on backend {self.backend!r} "
                             f"(it runs on {', '.join(sorted(record.backends))})")
        problem = strategies.backend_problem(self.strategy.kind, self.backend)
        if problem:
            raise ValueError(f"strategy {problem}")
        return self


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line of a pydantic error location in YAML text, via the composed node tree."""
    try:
        node = yaml.compose(text, Loader=SpecLoader)
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


class _TooDeep(yaml.YAMLError):
    def __init__(self, mark: yaml.Mark | None) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.problem = str(self)
        self.problem_mark = mark


class SpecLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and deep nesting (both silently wrong or a crash otherwise)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; SafeLoader reports it below
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep)


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SpecError(SpecIssue(str(path), "-", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                                  line)) from None


def load_yaml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = _decode(path, path.read_bytes())
    except OSError as exc:
        raise SpecError(SpecIssue(str(path), "-", f"cannot read: {exc.strerror}")) from exc
    try:
        data = yaml.load(text, Loader=SpecLoader)  # noqa: S506  (a SafeLoader subclass)
    except RecursionError:
        raise SpecError(SpecIssue(str(path), "-", f"nested more than {MAX_DEPTH} levels deep")) from None
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
        issues.append(SpecIssue(str(path), field, err["msg"], line_of(text, loc)))
    return issues


def parse_model(path: Path, model: type[M]) -> M:
    data, text = load_yaml(path)
    try:
        # Paths inside a spec (a build context, a request file) are relative to the spec's own file.
        return model.model_validate(data, context={"spec_dir": path.resolve().parent})
    except ValidationError as exc:
        raise SpecError(validation_issues(path, text, exc)) from exc
