"""The ``external`` target: a stack drill does not start (staging, a Kubernetes namespace, a managed endpoint).

``KIND`` is its registration; ``spec`` loads without Docker and ``target`` talks to no Docker at all: drill
sends its labelled traffic to the team's entrypoint and makes its moves with the team's own commands.
"""

from __future__ import annotations

from harness.targets.external.spec import ExternalTargetSpec
from harness.targets.registry import TargetKind

KIND = TargetKind(
    kind="external", spec=ExternalTargetSpec, factory="harness.targets.external.target:create",
    description="a stack drill does not start: the team's entrypoint, its own deploy/promote/rollback/abort commands",
    backends=frozenset({"docker"}), faults=frozenset({"none"}), injected=frozenset(), docker=False,
    strategies=frozenset({"canary", "blue-green"}),  # one deploy at one weight: the team's commands hold the split
    fault_hint="an external target's candidate is the team's real version (fault: {kind: none}); drill injects nothing "
               "into a stack it did not start",
)
