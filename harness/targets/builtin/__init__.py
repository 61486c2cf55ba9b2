"""The built-in target: the demo stack (stdlib model server, file registry, seeded model versions).

``KIND`` is its registration; the Docker parts (``target``, ``stack``) load only when a drill runs.
"""

from __future__ import annotations

from harness.targets.builtin.spec import BuiltinTargetSpec
from harness.targets.registry import TargetKind

# Faults the built-in model bakes into its bad version's artifact (see `drill faults`).
MODEL_FAULTS = frozenset({"none", "error_slice", "latency", "wrong_answers", "crash", "out_of_range", "forbidden_output",
                          "renamed_feature"})

KIND = TargetKind(
    kind="builtin", spec=BuiltinTargetSpec, factory="harness.targets.builtin.target:create",
    description="the demo stack: stdlib model server, file registry, HAProxy, Prometheus",
    backends=frozenset({"docker", "swarm"}), faults=MODEL_FAULTS,
    fault_hint="the built-in model makes its own faults (see `drill faults`); inject: true is for target kind image",
    late_faults=True,
    tee=True,
)
