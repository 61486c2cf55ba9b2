"""Seeds a drill's registry: two earlier good versions and the candidate the drill deploys.

v1 and v2 are trained on different samples of the same labelled distribution (both good);
v3 is retrained and then given the drill's fault, which is how a deliberately bad version is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.spec.models import FaultSpec
from harness.targets.builtin.model import FEATURES, Trained, train
from harness.targets.builtin.registry import Registry


@dataclass(frozen=True)
class SeededVersions:
    previous: str
    stable: str
    candidate: str


def artifact(trained: Trained, fault: FaultSpec | None = None) -> dict[str, Any]:
    features = list(FEATURES)
    body: dict[str, Any] = {"kind": "logistic-regression", "features": features,
                            "weights": list(trained.weights), "bias": trained.bias}
    if fault is None or fault.kind == "none":
        return body
    if fault.kind == "renamed_feature":
        # The new model was trained against an upstream schema where a feature got a new name.
        old = fault.feature or features[0]
        body["features"] = [fault.rename_to or f"{old}_v2" if f == old else f for f in features]
        return body
    body["fault"] = fault.model_dump(exclude_none=True)
    return body


def seed_registry(registry: Registry, fault: FaultSpec) -> SeededVersions:
    v1, v2, v3 = train(seed=1), train(seed=2), train(seed=3)
    registry.register("v1", artifact(v1), accuracy=v1.accuracy)
    registry.register("v2", artifact(v2), accuracy=v2.accuracy)
    registry.register("v3", artifact(v3, fault), accuracy=v3.accuracy,
                      **({"fault": fault.kind} if fault.kind != "none" else {}))
    registry.set_alias("previous", "v1", "seed")
    registry.set_alias("champion", "v2", "seed")
    return SeededVersions(previous="v1", stable="v2", candidate="v3")
