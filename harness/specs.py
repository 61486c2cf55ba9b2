"""Drill and runbook specs: pydantic models, and loading YAML with file:line errors.

Validation happens at the edge and reports every problem at once (file, line, field), so
that a bad input never starts a container. Inside the harness the specs are typed objects.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import SpecError, SpecIssue

# Re-exported (``as``): harness.specs stays where specs and their building blocks are imported from.
from harness.spec_types import IDENTIFIER as IDENTIFIER
from harness.spec_types import Duration as Duration
from harness.spec_types import Name as Name
from harness.spec_types import PositiveDuration as PositiveDuration
from harness.spec_types import Strict as Strict
from harness.spec_types import parse_duration as parse_duration
from harness.targets.image.spec import ImageTargetSpec  # a target kind's block lives with its target
from harness.targets.mlflow.spec import SUPPORTED_FAULTS as MLFLOW_FAULTS
from harness.targets.mlflow.spec import MlflowTargetSpec

M = TypeVar("M", bound=BaseModel)
ROOT_CAUSES = ("performance", "safety", "infrastructure", "upstream-data", "business-rule", "other")
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
    kind: Literal["canary", "blue-green", "swarm-update"] = "canary"
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


class ReplicasSpec(Strict):
    """Replicas per slot where the backend has replicas (an orchestrator)."""

    stable: int = Field(default=2, ge=2, le=16)
    candidate: int = Field(default=1, ge=1, le=16)


# Each fault kind: what it does, the fields it needs, the fields it may take (`drill faults` prints these).
FAULT_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "error_slice": ("answer 500 when a feature is above a value (a slice of inputs fails)", ("feature", "above"), ()),
    "latency": ("add a fixed delay to every answer", ("ms",), ()),
    "wrong_answers": ("flip every prediction (accuracy collapses, status stays 200)", (), ()),
    "crash": ("fail to load: the server never becomes ready (a crash loop)", (), ("message",)),
    "out_of_range": ("multiply scores out of their [0, 1] range (a business rule breaks)", (), ("scale",)),
    "forbidden_output": ("answer a forbidden prediction (2) when a feature is above a value (a safety rule breaks)",
                         ("feature", "above"), ()),
    "renamed_feature": ("expect a renamed input feature (an upstream schema change): requests answer 422",
                        ("feature",), ("rename_to",)),
    "none": ("no fault: a good candidate, for drills that expect a promotion", (), ()),
    # Injected (inject: true) by a fault proxy in front of the candidate: any HTTP server, the image target's way.
    "error": ("inject: answer `status` (503) on a share `rate` of the candidate's predict requests", (), ("rate", "status")),
    "drop": ("inject: reset the connection without an answer on a share `rate` of predict requests", (), ("rate",)),
    "wrong_body": ("inject: answer status 200 with `body` instead of the real answer on a share `rate`", (), ("rate", "body")),
}
# Kinds a fault proxy makes at the network level (inject: true); latency too, by `ms`, on a share `rate`.
NETWORK_FAULTS = ("error", "latency", "drop", "wrong_body", "none")
_INJECTED_FIELDS = ("rate", "status", "body")


class FaultSpec(Strict):
    kind: Literal["error_slice", "latency", "wrong_answers", "crash", "out_of_range", "forbidden_output", "renamed_feature",
                  "error", "drop", "wrong_body", "none"]
    feature: str | None = Field(default=None, description="input feature the fault keys on (x0..x3)")
    above: float | None = Field(default=None, description="the fault applies where the feature exceeds this")
    ms: float | None = Field(default=None, gt=0, description="added latency in milliseconds")
    scale: float | None = Field(default=None, gt=0, description="factor the scores are multiplied by (default 3)")
    rename_to: str | None = Field(default=None, description="the feature's new name (default <feature>_v2)")
    message: str | None = Field(default=None, description="the crash's error message")
    inject: bool = Field(default=False, description="made by a fault proxy in front of the candidate, not by the model")
    rate: float | None = Field(default=None, ge=0, le=1, description="injected: the share of predict requests faulted (1.0)")
    status: int | None = Field(default=None, ge=400, le=599, description="injected error: the status answered (503)")
    body: Any = Field(default=None, description="injected wrong_body: the JSON answered with status 200")

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> FaultSpec:
        if self.inject and self.kind not in NETWORK_FAULTS:
            raise ValueError(f"an injected fault is one of {', '.join(NETWORK_FAULTS)}; {self.kind!r} is made by the model")
        if not self.inject and self.kind in ("error", "drop", "wrong_body"):
            raise ValueError(f"{self.kind!r} is a network fault: set inject: true")
        _, required, optional = FAULT_KINDS[self.kind]
        if self.inject and self.kind == "latency":
            optional = (*optional, "rate")
        missing = [f for f in required if getattr(self, f) is None]
        extra = [f for f in ("feature", "above", "ms", "scale", "rename_to", "message", *_INJECTED_FIELDS)
                 if getattr(self, f) is not None and f not in required + optional]
        if missing:
            raise ValueError(f"fault kind {self.kind} needs {', '.join(missing)} (see `drill faults`)")
        if extra:
            raise ValueError(f"fault kind {self.kind} takes no {', '.join(extra)} (see `drill faults`)")
        return self


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


class BuiltinTargetSpec(Strict):
    """The built-in demo stack (stdlib model server, file registry); the default."""

    kind: Literal["builtin"] = "builtin"


TargetSpec = Annotated[BuiltinTargetSpec | ImageTargetSpec | MlflowTargetSpec, Field(discriminator="kind")]


class DrillSpec(Strict):
    name: Name
    description: str = ""
    model: Name = "fraud"
    root_cause: Literal["performance", "safety", "infrastructure", "upstream-data", "business-rule", "other"]
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    backend: Literal["docker", "swarm"] = "docker"  # where model versions run; drill run --backend overrides it
    replicas: ReplicasSpec = Field(default_factory=ReplicasSpec)
    fault: FaultSpec
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    noise: NoiseSpec = Field(default_factory=NoiseSpec)
    detection: DetectionSpec
    runbook: str
    # Runbook steps run after the baseline, before the deploy (checks such as registry.check_prior_versions);
    # one that fails ends the drill FAILED with nothing deployed.
    preflight: list[StepSpec] = Field(default_factory=list)
    target: TargetSpec = Field(default_factory=BuiltinTargetSpec)  # what the drill runs against
    time_target: PositiveDuration = 900.0  # decision -> verified completion must take at most this
    expect: Literal["rollback", "promote"] = "rollback"
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

    @model_validator(mode="after")
    def _fault_fits_the_target(self) -> DrillSpec:
        if self.target.kind == "image" and not (self.fault.inject or self.fault.kind == "none"):
            raise ValueError("an image target's bad version is either a real version (fault: {kind: none}) "
                             "or a fault injected in front of it (inject: true)")
        if self.target.kind == "mlflow" and (self.fault.inject or self.fault.kind not in MLFLOW_FAULTS):
            raise ValueError(f"an MLflow model version carries its own fault, one of {', '.join(MLFLOW_FAULTS)} "
                             "(inject: true is for target kind image)")
        if self.target.kind == "builtin" and self.fault.inject:
            raise ValueError("the built-in model makes its own faults (see `drill faults`); "
                             "inject: true is for target kind image")
        return self

    @model_validator(mode="after")
    def _rolling_needs_an_orchestrator(self) -> DrillSpec:
        if self.strategy.kind == "swarm-update" and self.backend != "swarm":
            raise ValueError("strategy swarm-update needs backend: swarm (Swarm rolls the service itself)")
        return self


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
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
        issues.append(SpecIssue(str(path), field, err["msg"], _line_of(text, loc)))
    return issues


def parse_model(path: Path, model: type[M]) -> M:
    data, text = load_yaml(path)
    try:
        # Paths inside a spec (a build context, a request file) are relative to the spec's own file.
        return model.model_validate(data, context={"spec_dir": path.resolve().parent})
    except ValidationError as exc:
        raise SpecError(validation_issues(path, text, exc)) from exc
