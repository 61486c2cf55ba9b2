"""The MLflow scoring server's HTTP protocol in process: the same contract as the built-in model server.

The model is a real pyfunc model logged to a file store; the server's handler runs on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import need_mlflow

mlflow = need_mlflow()

from harness.targets.mlflow import scoring_server  # noqa: E402
from harness.targets.mlflow.models import log_version  # noqa: E402
from harness.targets.mlflow.registry import MlflowRegistry  # noqa: E402

FEATURES = {"x0": 0.9, "x1": -0.5, "x2": 0.1, "x3": 0.3}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    registry = MlflowRegistry(f"file://{tmp_path_factory.mktemp('scoring')}/mlruns", "fraud")
    out = {}
    for name, fault in (("good", None), ("bad", {"kind": "error_slice", "feature": "x0", "above": 0.52})):
        logged = log_version(registry.client, "fraud", seed=2, fault=fault)
        model = mlflow.pyfunc.load_model(registry.client.get_model_version("fraud", logged.version).source)
        out[name] = (logged.version, model, list(model.metadata.get_input_schema().input_names()))
    return out


def _serve(version: str, model: Any, columns: list[str], env: dict[str, str]) -> Iterator[int]:
    handler = scoring_server.make_handler(version, model, columns, scoring_server.Metrics(version),
                                          scoring_server.Noise(env))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _post(port: int, body: Any) -> tuple[int, dict[str, Any], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/v1/predict", json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read()), response.getheader("X-Model-Version") or ""


def test_answers_like_the_builtin_model_server(models: dict[str, Any]) -> None:
    for port in _serve(*models["good"], env={}):
        status, body, header = _post(port, {"features": FEATURES})
        assert status == 200 and header == models["good"][0]
        assert body["prediction"] in (0, 1) and 0.0 <= body["score"] <= 1.0 and body["model_version"] == header
        assert _post(port, {"features": {"x0": 1.0}})[:2] == (422, {"error": "missing features: x1, x2, x3"})
        assert _post(port, {"nope": 1})[0] == 400
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        assert f'model_requests_total{{version="{header}",status="200"}} 1' in text


def test_the_bad_version_fails_its_slice_with_500(models: dict[str, Any]) -> None:
    for port in _serve(*models["bad"], env={}):
        assert _post(port, {"features": FEATURES})[0] == 500
        assert _post(port, {"features": {**FEATURES, "x0": 0.1}})[0] == 200


def test_background_noise_from_the_environment(models: dict[str, Any]) -> None:
    for port in _serve(*models["good"], env={"NOISE_ERROR_RATE": "1.0"}):
        assert _post(port, {"features": FEATURES})[:2] == (503, {"error": "background error"})
    for port in _serve(*models["good"], env={}):
        quiet = _post(port, {"features": FEATURES})[1]["prediction"]
    for port in _serve(*models["good"], env={"NOISE_WRONG_RATE": "1.0"}):
        assert _post(port, {"features": FEATURES})[1]["prediction"] == 1 - quiet
