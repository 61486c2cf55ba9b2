"""The ``strategy:`` block of a drill, with the stages of a progressive delivery (``kind: progressive``).

Re-exported from ``harness.spec.models``. A progressive strategy chains stages the way an Argo Rollouts canary
chains its steps, each judged on its own and with its own time budget, and promotes after the last one:

    strategy:
      kind: progressive
      stages:
        - {kind: shadow, max_wait: 20s}              # copies only: the paired judge, no client sees the candidate
        - {kind: canary, weight: 10, max_wait: 30s}  # 10 % of the clients: the drill's metrics and compare checks

The strategy itself is ``harness.strategies.progressive``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.spec.types import Duration, FieldError, PositiveDuration, Strict
from harness.strategies.registry import STRATEGIES

STAGE_KINDS = ("shadow", "canary")
MAX_STAGES = 10


class StrategyStage(Strict):
    """One stage of ``strategy: {kind: progressive}``: judged on its own, within its own time budget. A regression
    caught in a stage rolls back; a stage that catches nothing within ``max_wait`` hands over to the next one,
    and after the last one the candidate is promoted (as Argo Rollouts does after its last step)."""

    kind: str = Field(description="shadow: every request copied to the candidate, the stable answers every client, the "
                      "paired judge decides (first stage only); canary: `weight` % of the clients, judged by the drill's "
                      "detection.metrics and detection.compare")
    max_wait: PositiveDuration = Field(le=3600, description="this stage's time budget: with nothing caught by then, the "
                                       "next stage follows (after the last: the promotion)")
    weight: int | None = Field(default=None, ge=1, le=99, description="canary: the candidate's share of the clients in % "
                               "(required; 100 % is the promotion after the last stage)")

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        if kind not in STAGE_KINDS:
            raise ValueError(f"no stage kind {kind!r}; known: {', '.join(STAGE_KINDS)} (the promotion follows the last stage)")
        return kind

    @model_validator(mode="after")
    def _weight_is_a_canary_s(self) -> StrategyStage:
        if self.kind == "canary" and self.weight is None:
            raise FieldError(("weight",), "a canary stage needs weight: the candidate's share of the clients in % (1 to 99)")
        if self.kind == "shadow" and self.weight is not None:
            raise FieldError(("weight",), "a shadow stage serves no client: weight belongs to a canary stage")
        return self

    @property
    def label(self) -> str:
        return f"canary {self.weight} %" if self.kind == "canary" else self.kind


class StrategySpec(Strict):
    kind: str = Field(default="canary", description="how the candidate rolls out: canary, blue-green, swarm-update, shadow, "
                      "progressive (chained stages) or a registered strategy (harness.strategies)")
    weight: int = Field(default=10, ge=1, le=100, description="canary: the candidate's share of traffic in %")
    stages: list[StrategyStage] = Field(default_factory=list, max_length=MAX_STAGES,
        description="progressive: the stages in order, e.g. [{kind: shadow, max_wait: 20s}, {kind: canary, weight: 10, "
                    "max_wait: 30s}]; a shadow stage only first, canary weights rising; then the promotion")
    scale_to_zero_after: Duration = Field(default=1.0, le=3600, description="late: how long the previous version "
                                          "idles after the promotion before it is scaled to zero")
    # swarm-update: the orchestrator's rolling update of the stable service (Swarm's update_config), with its
    # own health-based failure detection and automatic rollback (failure_action: rollback).
    parallelism: int = Field(default=1, ge=0, le=100, description="swarm-update: tasks updated at once (Swarm's update_config)")
    delay: Duration = Field(default=1.0, description="swarm-update: wait between two batches of tasks")
    monitor: Duration = Field(default=5.0, description="swarm-update: how long Swarm watches a new task's health before it counts as updated")
    failure_action: Literal["rollback", "pause", "continue"] = Field(default="rollback",
        description="swarm-update: what Swarm does when an updated task fails (rollback: by itself)")
    order: Literal["start-first", "stop-first"] = Field(default="start-first",
        description="swarm-update: start the new task before stopping the old one, or the reverse")
    # Who may decide to roll back: the orchestrator alone (the path a team without canary analysis has),
    # or the orchestrator and the drill's own detection, whichever is first.
    detect_by: Literal["both", "orchestrator"] = Field(default="both",
        description="swarm-update: both: Swarm or the drill's own detection, whichever decides first; orchestrator: Swarm alone")

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        if STRATEGIES.get(kind) is None:
            raise ValueError(STRATEGIES.unknown(kind))
        return kind

    @model_validator(mode="after")
    def _stages_chain(self) -> StrategySpec:
        if self.kind != "progressive":
            if self.stages:
                raise FieldError(("stages",), f"stages belong to strategy kind progressive, not {self.kind!r}")
            return self
        if not self.stages:
            raise FieldError(("stages",), "strategy progressive needs at least one stage, e.g. "
                             "[{kind: shadow, max_wait: 20s}, {kind: canary, weight: 10, max_wait: 30s}]")
        weight = 0
        for i, stage in enumerate(self.stages):
            if stage.kind == "shadow" and i > 0:
                raise FieldError(("stages", i, "kind"), f"a shadow stage comes first, before any client saw the candidate "
                                 f"(stage {i + 1} of {len(self.stages)} is shadow)")
            if stage.weight is not None:
                if stage.weight <= weight:
                    raise FieldError(("stages", i, "weight"), f"canary weights rise from stage to stage: {stage.weight} % "
                                     f"after {weight} %")
                weight = stage.weight
        return self

    @property
    def summary(self) -> str:
        """One line for `drill list` and the plan: "canary 10%", "progressive: shadow (20s) -> canary 10 % (30s) -> promote"."""
        if self.kind == "canary":
            return f"canary {self.weight}%"
        if self.kind == "progressive":
            return "progressive: " + " -> ".join(f"{s.label} ({s.max_wait:g}s)" for s in self.stages) + " -> promote"
        return self.kind

    @property
    def has_shadow(self) -> bool:
        """A shadow stage runs: the strategy is shadow, or a progressive one that starts with one."""
        return self.kind == "shadow" or (self.kind == "progressive" and bool(self.stages) and self.stages[0].kind == "shadow")
