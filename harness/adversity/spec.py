"""The ``adversity:`` block of a drill: faults that strike the way back, each timed relative to the run.

Validated at load (pydantic, all errors at once): the kind must be known, ``at`` is ``decision``,
``rollback`` or ``step:<a step of the drill's runbook>`` (the step name is checked against the runbook
by ``check_steps`` once the runbook is loaded), ``for`` is a finite duration above zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.errors import SpecIssue
from harness.spec.types import FieldError, PositiveDuration, Strict

KINDS = ("registry-slow", "registry-down", "router-api-slow", "router-api-down", "capacity", "replica-loss", "partition",
         "image-missing", "service-down", "service-slow", "service-partition", "service-refuse", "service-cpu")
Kind = Literal["registry-slow", "registry-down", "router-api-slow", "router-api-down", "capacity", "replica-loss",
               "partition", "image-missing", "service-down", "service-slow", "service-partition", "service-refuse",
               "service-cpu"]
MIN_CPUS = 0.01  # the smallest CPU limit Docker sets
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
    "service-down": ("service", "how"),
    "service-slow": ("service", "port", "latency"),
    "service-partition": ("service", "peer"),
    "service-refuse": ("service", "port"),
    "service-cpu": ("service", "cpus"),
}


class AdversitySpec(Strict):
    """One fault on the way back: what, when (relative to the run), for how long, against which slot."""

    kind: Kind = Field(description="the fault: registry-slow, registry-down, router-api-slow, router-api-down, capacity, replica-loss, partition, "
                      "image-missing (Swarm cluster: nodes without a replica of the slot lose the image and the registry), "
                      "service-down (a compose target: a named service of the team's stack stopped or paused), "
                      "service-slow (a delay proxy in front of a named service's port), "
                      "service-partition (two named services cannot reach each other), "
                      "service-refuse (a named service's port resets every connection, its own loopback's too), "
                      "service-cpu (every container of a named service held to a CPU limit)")
    at: str = Field(default="decision", description="decision, rollback, or step:<runbook step name>")
    for_: PositiveDuration = Field(alias="for", description="how long the fault lasts (then it is undone)")
    slot: Literal["stable", "candidate"] = Field(default="stable", description="the version it strikes (the one to go back to)")
    latency: PositiveDuration | None = Field(default=None, description="slow kinds: delay added to each call")
    cpus: float | None = Field(default=None, gt=0, le=64, description="capacity: the CPU limit of the slot's server; "
                               "service-cpu: of every container of service (at least 0.01, Docker's smallest)")
    replicas: int | None = Field(default=None, ge=0, le=16, description="capacity (Swarm): the slot's replicas")
    service: str | None = Field(default=None, description="service-* kinds: the team's Compose service (its registry, say), "
                                   "checked against the project when the drill loads")
    how: Literal["stop", "pause"] | None = Field(default=None, description="service-down: stop it, or pause it (default)")
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="service-slow, service-refuse: the service's port inside its container")
    peer: str | None = Field(default=None, description="service-partition: the other service, cut off from service")

    @field_validator("at")
    @classmethod
    def _moment(cls, value: str) -> str:
        if value in MOMENTS or (value.startswith("step:") and value[5:].strip()):
            return value
        raise ValueError(f"expected decision, rollback or step:<runbook step name>, got {value!r}")

    @model_validator(mode="after")
    def _params_of_the_kind(self) -> AdversitySpec:
        allowed = PARAMS[self.kind]
        extra = [f for f in ("latency", "cpus", "replicas", "service", "how", "port", "peer")
                 if getattr(self, f) is not None and f not in allowed]
        if extra:
            raise ValueError(f"adversity kind {self.kind} takes no {', '.join(extra)}")
        if self.kind.endswith("-slow") and self.latency is None:
            raise ValueError(f"adversity kind {self.kind} needs latency (e.g. 2s)")
        if self.kind.startswith("service-") and not self.service:
            raise FieldError(("service",), f"adversity kind {self.kind} needs service (a service of the team's Compose project)")
        if self.kind == "service-partition" and (not self.peer or self.peer == self.service):
            raise FieldError(("peer",), "adversity kind service-partition needs peer (another service of the team's project)")
        if self.kind in ("service-slow", "service-refuse") and self.port is None:
            raise FieldError(("port",), f"adversity kind {self.kind} needs port (the service's port inside its container)")
        if self.kind == "service-cpu" and self.cpus is None:
            raise FieldError(("cpus",), "adversity kind service-cpu needs cpus (the CPU limit, e.g. 0.25)")
        if self.cpus is not None and self.cpus < MIN_CPUS:
            raise FieldError(("cpus",), f"cpus {self.cpus:g} is below {MIN_CPUS:g}, the smallest CPU limit Docker sets")
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


def check_services(faults: list[AdversitySpec], problem: Callable[[str], str | None]) -> FieldError | None:
    """The first ``service``/``peer`` of a ``service-*`` fault the target cannot strike (``TargetBlock.service_problem``),
    at its field: caught at load, before anything starts, instead of when the fault strikes mid-run."""
    for i, fault in enumerate(faults):
        for field in ("service", "peer"):
            name = getattr(fault, field)
            said = problem(name) if fault.kind.startswith("service-") and name else None
            if said:
                return FieldError(("adversity", i, field), said)
    return None
