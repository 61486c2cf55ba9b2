"""The ``compose`` target: a team's own Compose project (its gateway, registry, servers, scripts) as the stack.

``KIND`` is its registration; ``spec`` (the drill's ``target: {kind: compose}`` block) loads without Docker,
``target`` imports the Docker parts only when a drill of this kind runs.
"""

from __future__ import annotations

from harness.targets import TargetKind
from harness.targets.compose.spec import ComposeTargetSpec

KIND = TargetKind(
    kind="compose", spec=ComposeTargetSpec, factory="harness.targets.compose.target:create",
    description="a team's own Compose project: its gateway takes the traffic, its commands deploy and roll back",
    backends=frozenset({"docker"}), faults=frozenset({"none"}),
    fault_hint="a compose target's bad version is the team's own candidate (fault: {kind: none})",
)
