"""Seed the registry once: model versions 1, 2 and 3 of the team's model, champion -> 2, previous -> 1.

A version's artifact is a small linear model (model.json). Version 3 was trained on five features while the
requests carry four: every answer it gives is an error, the kind of bug a canary exists to catch.
"""

import json
import os
import tempfile
import time
import urllib.request

from mlflow import MlflowClient

URI = "http://localhost:5000"
NAME = os.environ.get("MODEL_NAME", "tumor")
MODELS = {
    "1": {"weights": [0.9, -0.4, 0.3, -0.2], "bias": -0.1},
    "2": {"weights": [1.0, -0.5, 0.4, -0.3], "bias": -0.2},
    "3": {"weights": [1.1, -0.5, 0.4, -0.3, 0.2], "bias": -0.2},
}


def wait_up() -> None:
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{URI}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the registry never answered")


def main() -> None:
    wait_up()
    client = MlflowClient(URI)
    if client.search_registered_models(f"name = '{NAME}'"):
        print("seed: already seeded", flush=True)
        return
    client.create_registered_model(NAME, description="the team's tumour classifier")
    experiment = client.create_experiment("tumor-training")
    for version, model in MODELS.items():
        run = client.create_run(experiment, run_name=f"train-{version}")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.json")
            with open(path, "w") as fh:
                json.dump({**model, "version": version}, fh)
            client.log_artifact(run.info.run_id, path, "model")
        client.set_terminated(run.info.run_id)
        created = client.create_model_version(NAME, f"{run.info.artifact_uri}/model", run.info.run_id)
        assert created.version == version, (created.version, version)
    client.set_registered_model_alias(NAME, "previous", "1")
    client.set_registered_model_alias(NAME, "champion", "2")
    print("seed: versions 1, 2, 3; champion -> 2, previous -> 1", flush=True)


main()
