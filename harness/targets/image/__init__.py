"""The ``image`` target: a team's own model server image (or Dockerfile) as a drill target.

``KIND`` is its registration; ``spec`` (the drill's ``target: {kind: image}`` block) loads without Docker,
``target`` imports the Docker parts only when a drill of this kind runs.
"""

from __future__ import annotations

from harness.targets.image.spec import ImageTargetSpec
from harness.targets.registry import NETWORK_FAULTS, TargetKind

KIND = TargetKind(
    kind="image", spec=ImageTargetSpec, factory="harness.targets.image.target:create",
    description="a team's own model server image or Dockerfile",
    backends=frozenset({"docker"}), faults=frozenset({"none"}), injected=NETWORK_FAULTS, tee=True,
    fault_hint="an image target's bad version is either a real version (fault: {kind: none}) "
               "or a fault injected in front of it (inject: true)",
)
