"""A small real model: logistic regression trained on a synthetic labelled dataset.

Pure Python on purpose: the serving container is stdlib-only and evaluates the same artifact.
The dataset's true boundary is fixed, so accuracy is measurable on labelled traffic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

FEATURES = ("x0", "x1", "x2", "x3")
TRUE_WEIGHTS = (1.5, -2.0, 0.8, 0.5)
TRUE_BIAS = 0.2
LABEL_NOISE = 0.3


@dataclass(frozen=True)
class Example:
    features: dict[str, float]
    label: int


def make_examples(n: int, seed: int) -> list[Example]:
    """Draws labelled examples: x ~ N(0, 1)^4, label = [w.x + b + noise > 0]."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        xs = [rng.gauss(0.0, 1.0) for _ in FEATURES]
        z = TRUE_BIAS + sum(w * x for w, x in zip(TRUE_WEIGHTS, xs)) + rng.gauss(0.0, LABEL_NOISE)
        out.append(Example(dict(zip(FEATURES, (round(x, 4) for x in xs))), 1 if z > 0 else 0))
    return out


@dataclass(frozen=True)
class Trained:
    weights: tuple[float, ...]
    bias: float
    accuracy: float


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def predict(weights: Sequence[float], bias: float, features: dict[str, float]) -> int:
    z = bias + sum(w * features[f] for w, f in zip(weights, FEATURES))
    return 1 if _sigmoid(z) >= 0.5 else 0


def train(seed: int, n: int = 1200, epochs: int = 25, lr: float = 0.1) -> Trained:
    """Batch gradient descent on log-loss; accuracy on a held-out set of the same distribution."""
    data = make_examples(n, seed)
    w = [0.0] * len(FEATURES)
    b = 0.0
    for _ in range(epochs):
        gw = [0.0] * len(FEATURES)
        gb = 0.0
        for ex in data:
            xs = [ex.features[f] for f in FEATURES]
            err = _sigmoid(b + sum(wi * xi for wi, xi in zip(w, xs))) - ex.label
            for i, xi in enumerate(xs):
                gw[i] += err * xi
            gb += err
        w = [wi - lr * g / len(data) * 10 for wi, g in zip(w, gw)]
        b -= lr * gb / len(data) * 10
    holdout = make_examples(500, seed + 10_000)
    acc = sum(predict(w, b, ex.features) == ex.label for ex in holdout) / len(holdout)
    return Trained(tuple(round(x, 6) for x in w), round(b, 6), acc)
