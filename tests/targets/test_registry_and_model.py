"""The file registry, the trained model, and the stdlib model server (run in-process, no Docker)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.serving import model_server
from harness.spec.models import FaultSpec
from harness.targets.builtin.model import make_examples, predict, train
from harness.targets.builtin.registry import Registry, RegistryError
from harness.targets.builtin.seed import seed_registry


def test_trained_models_are_good_and_deterministic() -> None:
    a, b = train(seed=1), train(seed=1)
    assert a == b
    assert a.accuracy > 0.85, a


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "registry", "fraud")
    seed_registry(reg, FaultSpec(kind="error_slice", feature="x0", above=0.52))
    return reg


def test_seed_keeps_two_good_versions_and_aliases(registry: Registry) -> None:
    assert registry.versions() == ["v1", "v2", "v3"]
    assert registry.aliases() == {"champion": "v2", "previous": "v1"}
    for v in ("v1", "v2", "v3"):
        registry.check_deployable(v)


def test_promote_then_restore_previous_keeps_history(registry: Registry) -> None:
    registry.promote("v3", "deploy")
    assert registry.aliases() == {"champion": "v3", "previous": "v2"}
    assert registry.restore_previous("rollback") == "v2"
    assert registry.aliases() == {"champion": "v2", "previous": "v1"}
    moves = [(h["alias"], h["from"], h["to"]) for h in registry.history()]
    assert ("champion", "v3", "v2") in moves and ("previous", "v1", "v2") in moves


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_restore_refuses_a_broken_previous_artifact(registry: Registry, damage: str) -> None:
    registry.promote("v3", "deploy")
    artifact = registry.dir / "versions" / "v2" / "model.json"
    if damage == "corrupt":
        artifact.write_bytes(artifact.read_bytes()[:-5] + b"xxxxx")
    else:
        artifact.unlink()
    with pytest.raises(RegistryError, match=f"v2: artifact {damage}"):
        registry.restore_previous("rollback")
    assert registry.aliases()["champion"] == "v3"  # nothing moved


@pytest.fixture
def serve(registry: Registry) -> Iterator[callable]:  # type: ignore[valid-type]
    servers: list[ThreadingHTTPServer] = []

    def start(ref: str) -> tuple[int, model_server.Metrics]:
        model = model_server.load_model(str(registry.root), "fraud", ref)
        metrics = model_server.Metrics(model["version"])
        server = ThreadingHTTPServer(("127.0.0.1", 0), model_server.make_handler(model, metrics, ("x3", 1.0)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1], metrics

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _predict(port: int, features: dict[str, float]) -> tuple[int, dict[str, object], str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/v1/predict", json.dumps({"features": features}))
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return resp.status, body, resp.getheader("X-Model-Version")


def test_server_answers_with_its_version_and_correct_predictions(serve) -> None:  # type: ignore[no-untyped-def]
    port, metrics = serve("champion")
    examples = make_examples(50, seed=7)
    right = 0
    for ex in examples:
        status, body, header = _predict(port, ex.features)
        assert status == 200 and body["model_version"] == header == "v2"
        right += body["prediction"] == ex.label
    assert right >= 40
    assert 'model_requests_total{version="v2",status="200"} 50' in metrics.render()


def test_bad_version_fails_exactly_its_slice(serve) -> None:  # type: ignore[no-untyped-def]
    port, metrics = serve("v3")
    assert _predict(port, {"x0": 0.9, "x1": 0, "x2": 0, "x3": 0})[0] == 500
    assert _predict(port, {"x0": 0.1, "x1": 0, "x2": 0, "x3": 0})[0] == 200
    assert _predict(port, {"x0": 0.1})[0] == 422
    text = metrics.render()
    assert 'status="500"} 1' in text and 'status="422"} 1' in text
    assert 'model_request_duration_seconds_count{version="v3"} 3' in text


def test_crash_fault_and_corrupt_artifact_fail_to_load(tmp_path: Path) -> None:
    reg = Registry(tmp_path, "fraud")
    seed_registry(reg, FaultSpec(kind="crash", message="CUDA out of memory"))
    with pytest.raises(model_server.ModelLoadError, match="CUDA out of memory"):
        model_server.load_model(str(tmp_path), "fraud", "v3")
    (reg.dir / "versions" / "v1" / "model.json").write_text("{}")
    with pytest.raises(model_server.ModelLoadError, match="corrupt"):
        model_server.load_model(str(tmp_path), "fraud", "v1")


@pytest.mark.parametrize("fault", [FaultSpec(kind="out_of_range", scale=3.0), FaultSpec(kind="wrong_answers")])
def test_predict_faults(fault: FaultSpec) -> None:
    from harness.targets.builtin.seed import artifact

    good = train(seed=2)
    model = {**artifact(good, fault), "version": "v3"}
    base = {**artifact(good), "version": "v2"}
    flips = 0
    for ex in make_examples(200, seed=3):
        s, bad_body = model_server.predict(model, ex.features)
        _, good_body = model_server.predict(base, ex.features)
        assert s == 200
        if fault.kind == "wrong_answers":
            flips += bad_body["prediction"] != good_body["prediction"]
        else:
            assert bad_body["score"] == pytest.approx(good_body["score"] * 3.0, abs=1e-5)
    if fault.kind == "wrong_answers":
        assert flips == 200


def test_renamed_feature_model_rejects_old_schema() -> None:
    from harness.targets.builtin.seed import artifact

    model = {**artifact(train(seed=2), FaultSpec(kind="renamed_feature", feature="x0", rename_to="amount")), "version": "v3"}
    assert model_server.predict(model, {"x0": 1, "x1": 0, "x2": 0, "x3": 0})[0] == 422
    assert model_server.predict(model, {"amount": 1, "x1": 0, "x2": 0, "x3": 0})[0] == 200


def test_local_predict_matches_server_predict() -> None:
    from harness.targets.builtin.seed import artifact

    t = train(seed=2)
    model = {**artifact(t), "version": "v2"}
    for ex in make_examples(100, seed=9):
        assert model_server.predict(model, ex.features)[1]["prediction"] == predict(t.weights, t.bias, ex.features)
