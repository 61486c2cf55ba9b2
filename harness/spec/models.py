"""Drill and runbook specs: pydantic models, and loading YAML with file:line errors.

Validation happens at the edge and reports every problem at once (file, line, field), so
that a bad input never starts a container. Inside the harness the specs are typed objects.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, ValidatorFunctionWrapHandler, field_validator, model_validator
from pydantic_core import PydanticCustomError

from harness.adversity.spec import AdversitySpec, check_services
from harness.backends.registry import BACKENDS
from harness.guards.reach import check_reach
from harness.guards.spec import StopCondition
from harness.outcomes import Expectation, RootCause

# A drill's fault: its kinds and the ``fault:`` block's model.
from harness.spec.faults import FAULT_KINDS as FAULT_KINDS
from harness.spec.faults import NETWORK_FAULTS as NETWORK_FAULTS
from harness.spec.faults import FaultSpec as FaultSpec
from harness.spec.loading import MAX_DEPTH as MAX_DEPTH
from harness.spec.loading import SpecLoader as SpecLoader
from harness.spec.loading import line_of as line_of
from harness.spec.loading import load_yaml as load_yaml
from harness.spec.loading import parse_model as parse_model
from harness.spec.loading import validation_issues as validation_issues
from harness.spec.strategy import STAGE_KINDS as STAGE_KINDS  # the strategy block, with progressive stages
from harness.spec.strategy import StrategySpec as StrategySpec
from harness.spec.strategy import StrategyStage as StrategyStage
from harness.spec.traffic import MAX_RATE as MAX_RATE  # the traffic block: rate, ramp or stages, SLO
from harness.spec.traffic import TrafficSpec as TrafficSpec

# Re-exported (``as``): harness.spec.models stays where specs and their building blocks are imported from.
from harness.spec.types import IDENTIFIER as IDENTIFIER
from harness.spec.types import Days as Days
from harness.spec.types import Duration as Duration
from harness.spec.types import FieldError, TargetBlock
from harness.spec.types import Name as Name
from harness.spec.types import PositiveDuration as PositiveDuration
from harness.spec.types import Strict as Strict
from harness.spec.types import parse_duration as parse_duration
from harness.strategies.registry import backend_problem
from harness.targets.builtin.spec import BuiltinTargetSpec as BuiltinTargetSpec
from harness.targets.registry import TARGETS

M = TypeVar("M", bound=BaseModel)
ROOT_CAUSES = tuple(RootCause)


class RetrySpec(Strict):
    attempts: int = Field(default=3, ge=1, le=20, description="attempts in all, the first included (every step retries by default: notify too)")
    backoff: Duration = Field(default=0.2, description="wait before the 2nd attempt; it doubles after each further one (0.2 s, 0.4 s, ...); 0: no wait")
    max_backoff: Duration = Field(default=2.0, description="the longest wait between two attempts")


class OnFailure(str, Enum):
    ABORT = "abort"
    CONTINUE = "continue"


class StepSpec(Strict):
    name: str = Field(min_length=1, max_length=200, description="the step's name, unique in its runbook (reports and timings use it)")
    action: str = Field(description="a registered action (`drill actions`): router.drain, registry.restore_previous, verify.http, ...")
    params: dict[str, Any] = Field(default_factory=dict,
        description="the action's parameters; strings may use ${stable_version}, ${candidate_version}, ${previous_version}, ${model}, "
                    "${run_id} and --var KEYs")
    timeout: PositiveDuration = Field(default=30.0, description="deadline per attempt: at it the attempt is cancelled (a shell command's process group killed)")
    retry: RetrySpec = Field(default_factory=RetrySpec, description="how often and how far apart a failed attempt is tried again")
    on_failure: OnFailure = Field(default=OnFailure.ABORT, description="abort: skip the remaining steps; continue: go on (the run still counts the failure)")
    manual: bool = Field(default=False, description="a person confirms it (done / failed) in a manual drill; in an automated run the action runs")
    instructions: str | None = Field(default=None, description="what the person is asked to do, for a manual step")
    verify: bool = Field(default=False, description="a verification step: the drill passes only if every verify step passed")


class RunbookSpec(Strict):
    name: Name = Field(description="the runbook's name (a drill's `runbook:` names it; runbooks/NAME.yaml)")
    description: str = Field(default="", description="one line for `drill runbook show` and the reports")
    steps: list[StepSpec] = Field(min_length=1, description="the steps, run in order")
    freshness: Days = Field(default=90, description="`drill status`: stale when its last as-expected drill is older"
                            " than this (90d, 13w or a number of days; default 90, the standard's quarter)")

    @model_validator(mode="after")
    def _unique_names(self) -> RunbookSpec:
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValueError(f"step name {step.name!r} is used twice")
            seen.add(step.name)
        return self


class ReplicasSpec(Strict):
    """Replicas per slot where the backend has replicas (an orchestrator)."""

    stable: int = Field(default=2, ge=2, le=16, description="replicas of the stable service (at least 2, so one can be lost)")
    candidate: int = Field(default=1, ge=1, le=16, description="replicas of the candidate service")


class NoiseSpec(Strict):
    """Background noise every model version serves with (the stable one too): a realistic service is never
    spotless. Passed to the model containers as environment variables (``env``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    error_rate: float = Field(default=0.0, ge=0.0, le=0.5, description="share of requests every version answers 503")  # share of requests answered 503
    latency_jitter: Duration = Field(default=0.0, le=2.0, description="mean of an exponential extra delay on every answer")
    wrong_rate: float = Field(default=0.0, ge=0.0, le=0.5, description="share of answers with the prediction flipped")

    def env(self) -> dict[str, str]:
        """The model server's environment: NOISE_ERROR_RATE, NOISE_LATENCY_JITTER_MS, NOISE_WRONG_RATE."""
        return {"NOISE_ERROR_RATE": repr(self.error_rate), "NOISE_LATENCY_JITTER_MS": repr(self.latency_jitter * 1000.0),
                "NOISE_WRONG_RATE": repr(self.wrong_rate)}


class MetricCheck(Strict):
    """A PromQL expression judged against limits (as Argo Rollouts' analysis does)."""

    name: str = Field(description="the check's name in the evidence and reports")
    query: str = Field(description="PromQL giving one number (Prometheus scrapes the router, and the model servers where they have metrics)")
    failure_above: float = Field(description="the check fails when the query's value is above this")
    inconclusive_above: float | None = Field(default=None, description="above this (but not above failure_above) the look is inconclusive rather than a pass")
    samples_query: str | None = Field(default=None, description="PromQL counting the samples behind the value; fewer than min_samples: inconclusive")
    min_samples: int = Field(default=20, ge=1, description="the fewest samples (samples_query) a look decides on")
    baseline_query: str | None = Field(default=None, description="PromQL for the baseline's value; the evidence reports the effect (value minus baseline)")


class CompareCheck(Strict):
    """Baseline vs candidate on client-side samples. ``sequential`` (the default): an anytime-valid
    count-process test (harness.judge.sequential), valid however often the loop looks; ``mann-whitney``: a
    one-sided Mann-Whitney U test at each look (Kayenta-style; not valid under continuous monitoring).
    The baseline is the stable version since the deploy, or the pre-deploy window after a 100 % switch."""

    name: str = Field(description="the check's name in the evidence and reports")
    measure: Literal["latency", "error", "incorrect", "out_of_range", "forbidden", "disagreement"] = Field(
        description="what counts as bad: error (failed requests), latency (answers slower than the baseline's `quantile`), incorrect "
                    "(prediction != expect), out_of_range, forbidden; disagreement (shadow only: the candidate's answer differs "
                    "from the stable's more often than a second stable instance's does; every request all three answered, labelled or not)")
    method: Literal["sequential", "mann-whitney"] = Field(default="sequential",
        description="sequential: anytime-valid, however often the judge looks; mann-whitney: a one-sided U test at each look")
    alpha: float | None = Field(default=None, gt=0, lt=0.5,
        description="sequential: this check's share of the drill's alpha (default: split evenly); mann-whitney: the level per look (default "
                    "0.001)")
    quantile: float = Field(default=0.9, gt=0.5, lt=1.0, description="latency: an event is an answer slower than this quantile of the pre-deploy answers")
    min_effect: float = Field(default=0.6, gt=0.5, le=1.0,
        description="mann-whitney: the effect size P(candidate worse than baseline) that must be reached too; the sequential test does not "
                    "use it")
    margin: float = Field(default=0.1, gt=0, lt=1,
        description="a look passes only when a bound at the check's alpha shows the candidate's event rate is at most the baseline's plus "
                    "this (non-inferiority; 0.1 = 10 points); otherwise it is inconclusive until it fails or passes")
    min_samples: int = Field(default=20, ge=8,
        description="the fewest exposed samples on each side before a look decides (both methods: the sequential test is valid "
                    "at any stopping time; the guard keeps a few cold-start answers from deciding)")


class DetectionSpec(Strict):
    metrics: list[MetricCheck] = Field(default_factory=list, description="PromQL checks (thresholds, guard counters)")
    compare: list[CompareCheck] = Field(default_factory=list, description="client-side comparisons of candidate and baseline")
    # Bounds the probability that the sequential checks roll back a good version over the whole window.
    alpha: float = Field(default=0.01, gt=0, lt=0.5,
        description="bounds the probability that the sequential checks roll back a good version over the whole window")
    interval: PositiveDuration = Field(default=0.5, description="time between two looks of the judge")
    max_wait: Duration = Field(default=60.0,
        description="how long detection watches after the deploy; a decisive pass of every check by then promotes "
                    "(expect: promote), any check still undecided ends the run inconclusive")
    consecutive: int = Field(default=1, ge=1, description="failing looks in a row needed to decide")

    @model_validator(mode="after")
    def _something_to_judge(self) -> DetectionSpec:
        if not self.metrics and not self.compare:
            raise ValueError("give at least one of metrics or compare")
        return self


class ProfileSpec(Strict):
    baseline: Duration = Field(default=3.0, description="steady traffic before the deploy (the pre-deploy window)")
    decision: Literal["automated", "manual"] = Field(default="automated", description="automated: the judge decides; manual: a person answers rollback or hold")
    decision_timeout: Duration = Field(default=300.0, description="manual: with no answer by then the harness escalates and rolls back")
    observe: Duration = Field(default=0.0, description="accepted, not used by the engine yet: detection.max_wait is the observation window")


class NotifySpec(Strict):
    """Where a run's start, decision and result are posted (a chat incoming webhook); failures are logged only."""

    webhook: str = Field(description="http(s) URL of a chat incoming webhook; may use ${KEY} from --var")  # http(s) URL, may use ${KEY} from --var
    events: tuple[Literal["start", "decision", "result"], ...] = Field(
        default=("start", "decision", "result"), min_length=1, description="which of the run's moments are posted")
    timeout: Duration = Field(default=5.0, gt=0, le=60, description="the webhook's answer timeout")

    @model_validator(mode="after")
    def _url(self) -> NotifySpec:
        from urllib.parse import urlsplit

        from harness.engine.redaction import redact_url, unsafe_characters

        parts = urlsplit(self.webhook)
        if "$" not in self.webhook and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"webhook must be an http(s) URL or use a ${{KEY}} variable, got {redact_url(self.webhook)}")
        if unsafe_characters(self.webhook):  # http.client would refuse it at the first post, quoting the secret path
            raise ValueError(f"webhook {redact_url(self.webhook)} contains whitespace or a control character")
        return self


class DrillSpec(Strict):
    name: Name = Field(description="the drill's name (drills/NAME.yaml; `drill run NAME`)")
    description: str = Field(default="", description="one line for `drill list`, the plan and the reports")
    model: Name = Field(default="fraud", description="the model's name in the registry, the store and the reports")
    root_cause: RootCause = Field(description="the root-cause class the rollback is recorded with (5xx and latency: performance)")
    strategy: StrategySpec = Field(default_factory=StrategySpec, description="how the candidate goes out")
    backend: str = Field(default="docker", description="where model versions run; drill run --backend overrides it")
    replicas: ReplicasSpec = Field(default_factory=ReplicasSpec, description="backend swarm: replicas per slot")
    nodes: int = Field(default=1, ge=1, le=16, description="the fewest swarm nodes the drill needs (node loss, a node without "
                       "the image): on fewer the run stops before anything starts (exit 3); above 1 needs backend: swarm")
    fault: FaultSpec = Field(description="what is wrong with the candidate (kind: none for a good one, or a real bad version)")
    traffic: TrafficSpec = Field(default_factory=TrafficSpec, description="the client load with ground-truth labels")
    noise: NoiseSpec = Field(default_factory=NoiseSpec, description="background noise every version serves with")
    detection: DetectionSpec = Field(description="how the bad version is detected")
    runbook: str = Field(description="the runbook run on a rollback decision (runbooks/NAME.yaml of the drill's project)")
    # Runbook steps run after the baseline, before the deploy (checks such as registry.check_prior_versions);
    # one that fails ends the drill FAILED with nothing deployed.
    preflight: list[StepSpec] = Field(default_factory=list,
        description="runbook steps run after the baseline, before the deploy; one that fails ends the drill FAILED with nothing deployed")
    target: TargetBlock = Field(default_factory=BuiltinTargetSpec,
        description="what the drill runs against: the built-in demo stack, a team's own image, or MLflow")
    time_target: PositiveDuration = Field(default=900.0, description="decision -> verified completion must take at most this")
    expect: Expectation | None = Field(default=None,
        description="rollback: the candidate must be detected and rolled back; promote: a control drill that must not roll back; "
                    "fail: the rollback must stop on the sabotaged artifact. Unset: fail with sabotage, else rollback (never the name)")
    fails_with: str | None = Field(default=None, min_length=1, description="expect fail: text the run's reason must contain to "
                                   "count as expected (the failure the drill exists to show, not just any failure)")
    allow_shell: bool = Field(default=False, description="let the runbook use the shell action (its runbook must then come from the drill's own project)")
    # Break the rollback path on purpose (the previous version's artifact) to prove the drill notices.
    sabotage: Literal["none", "corrupt-previous", "missing-previous"] = Field(default="none",
        description="break the way back on purpose after the deploy, to prove the drill fails loudly: missing-previous removes (image target:"
                    " the run's tag of the stable version's image; built-in: the previous artifact), corrupt-previous corrupts it")
    profiles: dict[str, ProfileSpec] = Field(default_factory=lambda: {"ci": ProfileSpec()},
        description="named run profiles (drill run --profile NAME); ci is there by default")
    notify: NotifySpec | None = Field(default=None, description="post the run's start, decision and result to a webhook")
    adversity: list[AdversitySpec] = Field(default_factory=list, max_length=16, description="faults on the way back, at the decision, the rollback or a step")
    environment: Name | None = Field(default=None, description="the environment the drill runs against (staging); required "
                                     "when its target or stop conditions reach anything but loopback, and confirmed before it starts")
    stop_conditions: list[StopCondition] = Field(default_factory=list, max_length=16, description="guards watched from the "
                                                 "first request to the end: one that trips aborts the drill at once (see docs/external.md)")
    bake: Duration = Field(default=0.0, description="after a promotion, the old version stays warm (weight 0) and the judge "
                           "keeps watching this long; a regression found then is rolled back (caught in bake). 0: none")

    @property
    def expected(self) -> str:
        """rollback | promote | fail: what a run of this drill must end in to be as expected."""
        return self.expect or ("fail" if self.sabotage != "none" else "rollback")

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
        kind = value.get("kind", "builtin")
        record = TARGETS.get(kind) if isinstance(kind, str) else None
        if record is None:
            message = TARGETS.unknown(kind)
            raise PydanticCustomError("target_kind", message.replace("{", "(").replace("}", ")"))
        return record.spec.model_validate(value, context=info.context)

    @field_validator("backend")
    @classmethod
    def _backend_registered(cls, kind: str) -> str:
        if BACKENDS.get(kind) is None:
            raise ValueError(BACKENDS.unknown(kind))
        return kind

    @model_validator(mode="after")
    def _fits_the_target_and_backend(self) -> DrillSpec:
        check_reach(self.target, self.environment, self.traffic, self.sabotage, self.stop_conditions)
        record = TARGETS.get(self.target.kind)
        problem = record.fault_problem(self.fault.kind, self.fault.inject) if record is not None else None
        if problem:  # at the fault: line (FieldError), not the drill's first line
            raise FieldError(("fault",), problem)
        if self.fault.after is not None and record is not None and not record.late_faults:
            late = ", ".join(sorted(k for k, r in TARGETS.kinds().items() if r.late_faults))
            raise FieldError(("fault", "after"), f"fault.after (a fault that starts late) is made by the model of "
                             f"target kinds {late}, not {self.target.kind!r}")
        if record is not None and not record.docker and self.adversity:
            raise FieldError(("adversity",), f"adversity strikes the services drill starts; target {record.kind!r} starts none")
        unknown = check_services(self.adversity, self.target.service_problem)
        if unknown is not None:
            raise unknown
        if record is not None and record.strategies and self.strategy.kind not in record.strategies:
            raise FieldError(("strategy", "kind"), f"target {record.kind!r} plays strategies {', '.join(sorted(record.strategies))}")
        if record is not None and self.backend not in record.backends:
            raise FieldError(("backend",), f"target {record.kind!r} cannot run on backend {self.backend!r} "
                             f"(it runs on {', '.join(sorted(record.backends))})")
        if self.strategy.has_shadow and record is not None and not record.tee:
            tees = ", ".join(sorted(k for k, r in TARGETS.kinds().items() if r.tee))
            raise FieldError(("strategy", "kind"), f"a shadow stage runs a tee in front of the stable: target kinds {tees} "
                             f"take one, not {self.target.kind!r}")
        problem = backend_problem(self.strategy.kind, self.backend, shadow=self.strategy.has_shadow)
        if problem:
            raise FieldError(("strategy", "kind"), f"strategy {problem}")
        if self.bake and self.strategy.kind in ("swarm-update", "late"):
            raise FieldError(("bake",), f"strategy {self.strategy.kind!r} stops or replaces the old version itself: "
                             "nothing stays warm to bake against")
        if self.nodes > 1 and self.backend != "swarm":
            raise FieldError(("nodes",), f"a drill needing {self.nodes} nodes runs on a swarm: set backend: swarm")
        if self.fails_with is not None and self.expected != "fail":
            raise FieldError(("fails_with",), f"fails_with is for a drill that expects fail (this one expects {self.expected})")
        for i, check in enumerate(self.detection.compare):
            blind = self.target.blind_to(check.measure)
            if blind:  # a check that would judge nothing, caught before anything starts
                raise FieldError(("detection", "compare", i, "measure"), f"compare check {check.name!r} could never see: {blind}")
            if check.measure == "disagreement" and not self.strategy.has_shadow:
                raise FieldError(("detection", "compare", i, "measure"), "disagreement is judged in a shadow stage (against a "
                                 f"second stable instance on the same requests); strategy {self.strategy.kind!r} has none")
        client_side = bool(self.detection.metrics) or any(c.measure != "disagreement" for c in self.detection.compare)
        if any(s.kind == "canary" for s in self.strategy.stages) and not client_side:
            raise FieldError(("detection",), "a canary stage is judged by detection.metrics or a client-side compare check "
                             "(disagreement is shadow's only): give one")
        return self
