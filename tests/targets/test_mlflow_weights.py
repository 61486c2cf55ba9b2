"""Big weights for the MLflow target, in process (no Docker): the scoring server's verification refuses an artifact
that does not match what the registry recorded, the upload script sends the seeded bytes it reports, and the
host's deployability check reads the weights' size without downloading them."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.serving import model_server
from harness.targets.mlflow import scoring_server
from harness.targets.mlflow.scoring_server import ArtifactMismatch, verify
from harness.targets.mlflow.weights import UPLOAD, WEIGHTS_FILE, artifact_path, recorded_weights
from tests.conftest import need_mlflow

SIZE = 2 * (1 << 20) + 4321  # not a whole number of MiB


def _artifact(root: Path) -> dict[str, str]:
    (root / "MLmodel").write_text("flavors: {}\n")
    model_server.write_blob(str(root / WEIGHTS_FILE), SIZE, 7)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.iterdir()}


def test_verify_reads_every_recorded_file_to_the_end(tmp_path: Path) -> None:
    expected = _artifact(tmp_path)
    total, seconds = verify(str(tmp_path), expected, {WEIGHTS_FILE: SIZE}, "fraud/2")
    assert total == SIZE + len("flavors: {}\n") and seconds >= 0


def test_a_corrupt_truncated_or_missing_weights_file_is_refused_by_name(tmp_path: Path) -> None:
    expected = _artifact(tmp_path)
    weights = tmp_path / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[SIZE // 2] ^= 0xFF  # one flipped byte in the middle
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactMismatch, match=r"fraud/2 corrupt: weights.bin sha256 .* \(refusing to serve it\)"):
        verify(str(tmp_path), expected, {WEIGHTS_FILE: SIZE}, "fraud/2")
    weights.write_bytes(bytes(data[:-10]))
    with pytest.raises(ArtifactMismatch, match=f"truncated: weights.bin has {SIZE - 10:,} bytes, the registry says {SIZE:,}"):
        verify(str(tmp_path), expected, {WEIGHTS_FILE: SIZE}, "fraud/2")
    weights.unlink()
    with pytest.raises(ArtifactMismatch, match=r"fraud/2 missing or unreadable: weights\.bin"):
        verify(str(tmp_path), expected, {WEIGHTS_FILE: SIZE}, "fraud/2")
    with pytest.raises(ArtifactMismatch, match="outside the artifact"):
        verify(str(tmp_path), {"../etc/passwd": "0" * 64}, {}, "fraud/2")


def test_recorded_reads_the_version_tags() -> None:
    tags = {scoring_server.CHECKSUM_TAG: json.dumps({"MLmodel": "a" * 64, WEIGHTS_FILE: "b" * 64}),
            scoring_server.WEIGHTS_TAG: json.dumps({"file": WEIGHTS_FILE, "size": SIZE})}
    assert scoring_server.recorded(tags) == ({"MLmodel": "a" * 64, WEIGHTS_FILE: "b" * 64}, {WEIGHTS_FILE: SIZE})
    assert scoring_server.recorded({}) == ({}, {})
    assert recorded_weights(tags) == (WEIGHTS_FILE, SIZE) and recorded_weights({}) is None


def test_the_upload_script_streams_the_seeded_bytes_it_reports(tmp_path: Path) -> None:
    received: dict[str, Any] = {}

    class Store(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.update(path=self.path, sha256=hashlib.sha256(body).hexdigest(), size=len(body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = artifact_path("mlflow-artifacts:/1/abc/artifacts/model") + "/weights.bin"
        out = subprocess.run([sys.executable, "-c", UPLOAD, str(server.server_address[1]), path, str(SIZE), "7"],
                             capture_output=True, text=True, timeout=60, check=True)
    finally:
        server.shutdown()
        server.server_close()
    assert received["path"] == "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/weights.bin"
    assert received["size"] == SIZE and out.stdout.strip() == received["sha256"]
    # the same bytes the built-in target writes for the same seed
    assert received["sha256"] == model_server.write_blob(str(tmp_path / "weights.bin"), SIZE, 7)
    with pytest.raises(Exception, match="artifact proxy"):
        artifact_path("s3://bucket/model")


def test_a_version_whose_stored_weights_changed_is_refused_when_loaded(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    need_mlflow()
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from harness.targets.mlflow.models import log_version, quiet
    from harness.targets.mlflow.registry import MlflowRegistry, RegistryError

    def local_weights(model_uri: str, seed: int) -> tuple[str, int, str]:
        """The test's seam: the file store's own artifact repository instead of the server's artifact API."""
        blob = tmp_path / f"seed{seed}" / WEIGHTS_FILE
        blob.parent.mkdir()
        digest = model_server.write_blob(str(blob), SIZE, seed)
        get_artifact_repository(model_uri).log_artifact(str(blob))
        return WEIGHTS_FILE, SIZE, digest

    uri = f"file://{tmp_path}/mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the scoring server's MlflowClient() reads it
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "served"))
    registry = MlflowRegistry(uri, "fraud")
    with quiet():
        logged = log_version(registry.client, "fraud", seed=2, weights=local_weights)
    version, _, columns = scoring_server.load("fraud", logged.version)
    assert (version, columns) == (logged.version, ["x0", "x1", "x2", "x3"])

    source = Path(registry.client.get_model_version("fraud", logged.version).source.removeprefix("file://"))
    assert (source / WEIGHTS_FILE).stat().st_size == SIZE  # where the file store keeps it
    model_server.write_blob(str(source / WEIGHTS_FILE), SIZE, 99)  # other bytes, same size
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "served-again"))
    with pytest.raises(ArtifactMismatch, match=f"fraud/{logged.version} corrupt: weights.bin"):
        scoring_server.load("fraud", logged.version)
    # The host's check (after the loads: MLflow's scoped tracking URI drops the environment's on the way out)
    # hashes the small files and finds the weights at their size; the scoring server is the one that hashes them.
    registry.check_deployable(logged.version)
    model_server.write_blob(str(source / WEIGHTS_FILE), SIZE - 1, 2)  # cut short: the host check sees the size
    with pytest.raises(RegistryError, match=r"weights.bin truncated \(2,101,472 bytes"):
        registry.check_deployable(logged.version)
