"""The ``adversity:`` block of a drill: faults that strike the way back, each timed relative to the run.

Validated at load (pydantic, all errors at once): the kind must be known, ``at`` is ``decision``,
``rollback`` or ``step:<a step of the drill's runbook>`` (the step name is checked against the runbook
by ``check_steps`` once the runbook is loaded), ``for`` is a finite duration above zero.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.errors import SpecIssue
from harness.spec.types import PositiveDuration, Strict

KINDS = ("registry-slow", "registry-down", "router-api-slow", "router-api-down", "capacity", "replica-loss", "partition",
         "image-missing")
Kind = Literal["registry-slow", "registry-down", "router-api-slow", "router-api-down", "capacity", "replica-loss",
               "partition", "image-missing"]
MOMENTS = ("decision", "rollback")
# What each kind may take beside kind/at/for/slot (``drill`` docs list these).
PARAMS: dict[str, tuple[str, ...]] = {
    "registry-slow": ("latency",),
    "registry-down": (),
    "router-api-slow": ("latency",),
    "router-api-down": (),
    "capacity": ("cpus", "replicas"),
    "replica-loss": (),
    "partition": (),
    "image-missing": (),
}


class AdversitySpec(Strict):
    """One fault on the way back: what, when (relative to the run), for how long, against which slot."""

    kind: Kind = Field(description="the fault: registry-slow, registry-down, router-api-slow, router-api-down, capacity, replica-loss, partition, "
                      "image-missing (Swarm cluster: nodes without a replica of the slot lose the image and the registry)")
    at: str = Field(default="decision", description="decision, rollback, or step:<runbook step name>")
    for_: PositiveDuration = Field(alias="for", description="how long the fault lasts (then it is undone)")
    slot: Literal["stable", "candidate"] = Field(default="stable", description="the version it strikes (the one to go back to)")
    latency: PositiveDuration | None = Field(default=None, description="slow kinds: delay added to each call")
    cpus: float | None = Field(default=None, gt=0, le=64, description="capacity: the CPU limit of the slot's server")
    replicas: int | None = Field(default=None, ge=0, le=16, description="capacity (Swarm): the slot's replicas")

    @field_validator("at")
    @classmethod
    def _moment(cls, value: str) -> str:
        if value in MOMENTS or (value.startswith("step:") and value[5:].strip()):
            return value
        raise ValueError(f"expected decision, rollback or step:<runbook step name>, got {value!r}")

    @model_validator(mode="after")
    def _params_of_the_kind(self) -> AdversitySpec:
        allowed = PARAMS[self.kind]
        extra = [f for f in ("latency", "cpus", "replicas") if getattr(self, f) is not None and f not in allowed]
        if extra:
            raise ValueError(f"adversity kind {self.kind} takes no {', '.join(extra)}")
        if self.kind.endswith("-slow") and self.latency is None:
            raise ValueError(f"adversity kind {self.kind} needs latency (e.g. 2s)")
        if self.kind == "capacity" and self.cpus is None and self.replicas is None:
            raise ValueError("adversity kind capacity needs cpus (container CPU limit) or replicas (Swarm)")
        return self

    @property
    def step(self) -> str | None:
        """The runbook step whose start strikes the fault, or None (decision, rollback)."""
        return self.at[5:].strip() if self.at.startswith("step:") else None

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.at}"


def check_steps(path: str, faults: list[AdversitySpec], step_names: list[str]) -> list[SpecIssue]:
    """A fault timed at ``step:<name>`` must name a step of the drill's runbook."""
    issues = []
    for i, fault in enumerate(faults):
        if fault.step is not None and fault.step not in step_names:
            issues.append(SpecIssue(path, f"adversity.{i}.at",
                                    f"the runbook has no step {fault.step!r}; its steps: {', '.join(step_names)}"))
    return issues
