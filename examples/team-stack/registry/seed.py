"""Seed the registry once: model versions 1, 2 and 3 of the team's model, champion -> 2, previous -> 1.

A version's artifact is a small linear model (model.json), logged to a training run and registered from it.
Version 3 was trained on five features while the requests carry four: every answer it gives is an error,
the kind of bug a canary exists to catch. MLflow 3's REST API, from the standard library (quick to start).
"""

import json
import os
import time
import urllib.error
import urllib.request

URI = "http://127.0.0.1:5000"
NAME = os.environ.get("MODEL_NAME", "tumor")
MODELS = {
    "1": {"weights": [0.9, -0.4, 0.3, -0.2], "bias": -0.1},
    "2": {"weights": [1.0, -0.5, 0.4, -0.3], "bias": -0.2},
    "3": {"weights": [1.1, -0.5, 0.4, -0.3, 0.2], "bias": -0.2},
}


def call(method: str, path: str, body: object = None, raw: bytes | None = None) -> dict:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"{URI}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def wait_up() -> None:
    for _ in range(1500):
        try:
            with urllib.request.urlopen(f"{URI}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the registry never answered")


def main() -> None:
    wait_up()
    try:
        call("GET", f"/api/2.0/mlflow/registered-models/get?name={NAME}")
        print("seed: already seeded", flush=True)
        return
    except urllib.error.HTTPError:
        pass
    call("POST", "/api/2.0/mlflow/registered-models/create", {"name": NAME, "description": "the team's tumour classifier"})
    experiment = call("POST", "/api/2.0/mlflow/experiments/create", {"name": "tumor-training"})["experiment_id"]
    for version, model in MODELS.items():
        run = call("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": experiment, "run_name": f"train-{version}"})["run"]
        artifacts = run["info"]["artifact_uri"]  # mlflow-artifacts:/<experiment>/<run>/artifacts
        path = artifacts.removeprefix("mlflow-artifacts:/")
        call("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}/model/model.json",
             raw=json.dumps({**model, "version": version}).encode())
        created = call("POST", "/api/2.0/mlflow/model-versions/create",
                       {"name": NAME, "source": f"{artifacts}/model", "run_id": run["info"]["run_id"]})
        assert created["model_version"]["version"] == version, created
    for alias, version in (("previous", "1"), ("champion", "2")):
        call("POST", "/api/2.0/mlflow/registered-models/alias", {"name": NAME, "alias": alias, "version": version})
    print("seed: versions 1, 2, 3; champion -> 2, previous -> 1", flush=True)


main()
