"""Where an MLflow drill spends its time: image, MLflow server start, logging versions, scoring server start,
a deployability check, the alias restore, and the whole drill.

    python benchmarks/bench_mlflow.py [--runs 3]

Prints JSON (seconds; medians over the runs, and the worst). Needs Docker and the mlflow extra. Figures on a
shared machine are noisy: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from harness import api
from harness.engine.engine import RunOptions
from harness.stack.docker_api import connect
from harness.stack.images import ensure_images
from harness.targets.mlflow.image import ensure_image
from harness.targets.mlflow.models import seed_versions
from harness.targets.mlflow.registry import MlflowRegistry
from harness.targets.mlflow.stack import MlflowStack


def _time(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def one_stack() -> dict[str, float]:
    client = connect()
    figures = {"images_cached": _time(lambda: ensure_images(client, lambda m: None))}
    started = time.perf_counter()
    image = ensure_image(client, lambda m: None)
    figures["mlflow_image_cached"] = time.perf_counter() - started
    images = replace(ensure_images(client, lambda m: None), model=image.tag)
    stack = MlflowStack(client, images, f"bench-mlflow-{uuid.uuid4().hex[:6]}", "fraud")
    try:
        figures["mlflow_server_start"] = _time(stack.start_mlflow)
        registry = MlflowRegistry(stack.tracking_uri, "fraud")
        fault = {"kind": "error_slice", "feature": "x0", "above": 0.52}
        figures["log_three_versions"] = _time(lambda: seed_versions(registry, fault))
        figures["scoring_server_start"] = _time(lambda: stack.start_model("stable", "2"))
        figures["check_deployable"] = _time(lambda: registry.check_deployable("1"))
        registry.promote("3", "bench")
        figures["restore_previous"] = _time(lambda: registry.restore_previous("bench"))
    finally:
        stack.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_stack() for _ in range(args.runs)]
    with tempfile.TemporaryDirectory() as tmp:
        drills = [api.run_drill("mlflow-canary-fail", RunOptions(report_root=Path(tmp)), record=False)
                  for _ in range(args.runs)]
    for figures, result in zip(runs, drills):
        ended = result.timestamps.ended_at or result.timestamps.started_at
        figures["drill_wall"] = (ended - result.timestamps.started_at).total_seconds()
        figures["drill_decision_to_completion"] = result.decision_to_completion_s or float("nan")
    keys = runs[0].keys()
    print(json.dumps({"runs": args.runs, "statuses": [r.status.value for r in drills],
                      "median_s": {k: round(statistics.median(r[k] for r in runs), 3) for k in keys},
                      "worst_s": {k: round(max(r[k] for r in runs), 3) for k in keys}}, indent=2))


if __name__ == "__main__":
    main()
