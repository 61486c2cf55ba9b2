"""Big weights in MLflow for real: logged from inside the run's MLflow server container, fetched by scoring servers
through the tracking server and hashed before they serve.

One MLflow stack, three versions: a small weights artifact, a big one, and one whose stored weights were replaced
after it was registered (the bytes in the artifact store no longer match the recorded sha256). The small and the
big version start and answer; the big one takes longer to become ready; the corrupt one is refused, by name.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import replace

import pytest

from harness.ports import ServiceFailed
from tests.conftest import harness_resources, need_mlflow

pytestmark = pytest.mark.docker
mlflow = need_mlflow()

from harness.stack.docker_api import connect  # noqa: E402
from harness.stack.images import ensure_images  # noqa: E402
from harness.targets.mlflow.image import ensure_image  # noqa: E402
from harness.targets.mlflow.models import CHECKSUM_TAG, log_version, quiet  # noqa: E402
from harness.targets.mlflow.registry import MlflowRegistry  # noqa: E402
from harness.targets.mlflow.stack import MLFLOW_PORT, MlflowStack  # noqa: E402
from harness.targets.mlflow.weights import WEIGHTS_FILE, WEIGHTS_TAG, ServerWeights  # noqa: E402

SMALL, BIG = 1 << 20, 300 << 20
LOADED = re.compile(r"fetched fraud/(\d+): ([\d.,]+) MB downloaded in ([\d.]+)s, verified in ([\d.]+)s")
ASK = ("import json, urllib.request; r = urllib.request.Request('http://127.0.0.1:8080/v1/predict', method='POST', "
       "data=json.dumps({'features': {'x0': 0.1, 'x1': 0.2, 'x2': 0.3, 'x3': 0.4}}).encode()); "
       "print(urllib.request.urlopen(r, timeout=10).read().decode())")


def _timed_start(stack: MlflowStack, slot: str, version: str) -> tuple[float, float]:
    """(seconds until the scoring server serves, seconds it says it spent downloading and hashing)."""
    started = time.monotonic()
    stack.start_model(slot, version)
    ready = time.monotonic() - started
    logs = stack.models[slot].get_wrapped_container().logs().decode()
    found = LOADED.search(logs)
    assert found and found.group(1) == version, logs
    return ready, float(found.group(3)) + float(found.group(4))


def test_weights_are_fetched_verified_and_a_bigger_artifact_takes_longer(docker_client: object) -> None:
    client = connect()
    images = ensure_images(client, print)
    tag = ensure_image(client, print).tag
    run_id = f"test-mlflow-weights-{uuid.uuid4().hex[:8]}"
    stack = MlflowStack(client, replace(images, model=tag), run_id, "fraud", startup_timeout=180, artifact_size=BIG)
    try:
        stack.start_mlflow()
        registry = MlflowRegistry(stack.tracking_uri, "fraud")
        assert stack.mlflow_container is not None
        server = stack.mlflow_container.get_wrapped_container()
        small, big = (ServerWeights(server, MLFLOW_PORT, size, print) for size in (SMALL, BIG))
        uri = stack.tracking_uri
        with quiet():
            v_small = log_version(registry.client, "fraud", seed=1, tracking_uri=uri, weights=small)
            v_big = log_version(registry.client, "fraud", seed=2, tracking_uri=uri, weights=big)
            v_bad = log_version(registry.client, "fraud", seed=3, tracking_uri=uri, weights=small)
        tags = registry.version_tags(v_big.version)
        assert json.loads(tags[WEIGHTS_TAG]) == {"file": WEIGHTS_FILE, "size": BIG}
        assert len(json.loads(tags[CHECKSUM_TAG])[WEIGHTS_FILE]) == 64
        # The artifact is the run's, stored by the server: MLflow's own listing shows it at its size.
        listed = {f.path: f.file_size for f in registry.client.list_artifacts(v_big.run_id, "model")}
        assert listed["model/weights.bin"] == BIG
        registry.check_deployable(v_big.version)  # the host check: small files hashed, the weights listed at size

        small_ready, small_load = _timed_start(stack, "stable", v_small.version)
        big_ready, big_load = _timed_start(stack, "candidate", v_big.version)
        print(f"ready: {SMALL >> 20} MiB {small_ready:.2f}s (load {small_load:.2f}s), "
              f"{BIG >> 20} MiB {big_ready:.2f}s (load {big_load:.2f}s)")
        assert big_load > small_load and big_ready > small_ready
        for slot, version in (("stable", v_small.version), ("candidate", v_big.version)):
            code, out = stack.models[slot].get_wrapped_container().exec_run(["python3", "-c", ASK])
            assert code == 0 and json.loads(out)["model_version"] == version, out

        # Replace the stored weights of a registered version (other bytes, same size): refused when loaded.
        stack.stop_model("stable")
        small(registry.client.get_model_version("fraud", v_bad.version).source, 99)
        with pytest.raises(ServiceFailed) as refused:
            stack.start_model("stable", v_bad.version)
        message = str(refused.value)
        assert f"fraud/{v_bad.version} corrupt: weights.bin sha256" in message and "refusing to serve" in message
    finally:
        stack.close()
    assert harness_resources(docker_client, run_id) == ([], [], [])
