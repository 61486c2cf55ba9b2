"""What runbook actions may touch during a run: the stack, the registry, traffic and the drill's variables."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from string import Template
from typing import Any

from harness.events import Event
from harness.registry import Registry
from harness.stack.prometheus import PrometheusClient
from harness.stack.router import RouterClient
from harness.stack.stack import Stack
from harness.traffic import LoadGenerator


@dataclass
class RunContext:
    stack: Stack
    registry: Registry
    load: LoadGenerator
    emit: Callable[[Event], None]
    variables: dict[str, str]
    baseline_error_rate: float = 0.0
    allow_shell: bool = False
    weights: dict[str, int] = field(default_factory=lambda: {"stable": 100, "candidate": 0})
    weight_log: list[tuple[float, int]] = field(default_factory=list)  # (epoch, canary weight)

    def route(self, **weights: int) -> None:
        """Set router weights (runtime API, no reload) and record them for the live view and the timeline."""
        for server, weight in weights.items():
            self.router.set_weight(server, weight)
        self.weights.update(weights)
        self.weight_log.append((time.time(), self.weights.get("candidate", 0)))

    @property
    def router(self) -> RouterClient:
        assert self.stack.router is not None, "router not started"
        return self.stack.router

    @property
    def prometheus(self) -> PrometheusClient:
        assert self.stack.prometheus is not None, "prometheus not started"
        return self.stack.prometheus

    def render(self, params: dict[str, Any]) -> dict[str, Any]:
        """Fill ${stable_version}-style variables into string parameters."""
        return {k: Template(v).safe_substitute(self.variables) if isinstance(v, str) else v for k, v in params.items()}
