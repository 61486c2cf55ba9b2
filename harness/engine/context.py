"""What runbook actions may touch during a run: the target's seams, traffic and the drill's variables.

Actions see only ``harness.ports`` protocols here (backend, router, registry, protocol, metrics), so the
same runbook drives the built-in stack, a team's image, MLflow or an orchestrator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from string import Template
from typing import Any

from harness.engine.events import Event
from harness.ports import Backend, Endpoint, MetricsSource, ModelRegistry, Router, ServingProtocol, Target
from harness.traffic.generator import LoadGenerator


@dataclass
class RunContext:
    target: Target
    load: LoadGenerator
    emit: Callable[[Event], None]
    variables: dict[str, str]
    baseline_error_rate: float = 0.0
    allow_shell: bool = False
    weights: dict[str, int] = field(default_factory=lambda: {"stable": 100, "candidate": 0})
    weight_log: list[tuple[float, int]] = field(default_factory=list)  # (epoch, canary weight)
    # Which version runs in which slot: the load generator names versions by slot where servers do not.
    slot_versions: dict[str, str] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)  # slots the run stopped on purpose (not a dead service)

    def route(self, **weights: int) -> None:
        """Set router weights (runtime API, no reload) and record them for the live view and the timeline."""
        for server, weight in weights.items():
            self.router.set_weight(server, weight)
        self.weights.update(weights)
        self.weight_log.append((time.time(), self.weights.get("candidate", 0)))

    def start_slot(self, slot: str, version: str, weight: int | None = None) -> Endpoint:
        """Start ``version`` in ``slot`` (through the target's fault, if any) and put it behind the router."""
        endpoint = self.target.fault.wrap(slot, self.backend.start(slot, version))
        self.slot_versions[slot] = version
        self.stopped.discard(slot)
        if weight is not None:
            self.route(**{slot: weight})
        self.router.attach(slot, endpoint)
        return endpoint

    def stop_slot(self, slot: str) -> None:
        """Take the slot out of service at the router, then stop what runs there."""
        self.router.set_state(slot, "maint")
        self.target.fault.unwrap(slot)
        self.backend.stop(slot)
        self.stopped.add(slot)

    @property
    def backend(self) -> Backend:
        return self.target.backend

    @property
    def router(self) -> Router:
        return self.target.router

    @property
    def registry(self) -> ModelRegistry:
        return self.target.registry

    @property
    def protocol(self) -> ServingProtocol:
        return self.target.protocol

    @property
    def prometheus(self) -> MetricsSource:
        return self.target.metrics

    @property
    def traffic_endpoint(self) -> Endpoint:
        return self.target.traffic_endpoint

    def render(self, params: dict[str, Any]) -> dict[str, Any]:
        """Fill ${stable_version}-style variables into string parameters."""
        return {k: Template(v).safe_substitute(self.variables) if isinstance(v, str) else v for k, v in params.items()}
