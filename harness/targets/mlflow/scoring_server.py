"""The scoring server that runs INSIDE the MLflow image: one model version loaded from the MLflow registry.

It resolves ``MODEL_REF`` (an alias such as ``champion`` or a version number) through the tracking server at
``MLFLOW_TRACKING_URI``, downloads that version's artifact through the server (MLflow's artifact download, as
``mlflow models serve`` does), hashes every file the version's ``drill.artifact_sha256`` tag lists to the end
(its weights too: ``weights.bin``, as big as the drill's ``artifact_size``) and refuses to serve on a mismatch,
loads it as an MLflow pyfunc model, and speaks the harness's feature protocol, so the router, the load
generator and detection work unchanged:

    POST /v1/predict   {"features": {...}} -> {"prediction", "score", "model_version"}
    GET  /healthz      200 once the model is loaded
    GET  /metrics      Prometheus text: requests by status, latency histogram

Background noise, as the built-in model server serves it (the drill's ``noise`` block, in the environment):
``NOISE_ERROR_RATE`` (a share of 503s), ``NOISE_LATENCY_JITTER_MS`` (mean exponential delay),
``NOISE_WRONG_RATE`` (a share of flipped predictions).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The version tags the harness writes when it logs a version (harness/targets/mlflow/models.py, weights.py):
# no harness in this image, so the names are repeated here.
CHECKSUM_TAG = "drill.artifact_sha256"  # {"<file>": "<sha256>", ...}, every file of the artifact
WEIGHTS_TAG = "drill.weights"  # {"file": "weights.bin", "size": <bytes>}
CHUNK = 8 << 20


class ArtifactMismatch(Exception):
    """The downloaded artifact is not what the registry recorded: the server refuses to serve it."""


def verify(root: str, expected: dict[str, str], sizes: dict[str, int], what: str) -> tuple[int, float]:
    """Read every file ``expected`` names under ``root`` to the end and check its sha256 (and its size where
    ``sizes`` records one); returns (bytes read, seconds). ArtifactMismatch names the version and the file."""
    started = time.monotonic()
    total = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    for name, digest in sorted(expected.items()):
        if os.path.isabs(name) or ".." in name.split("/"):
            raise ArtifactMismatch(f"artifact of {what}: checksum tag names {name!r}, outside the artifact")
        h, seen = hashlib.sha256(), 0
        try:
            with open(os.path.join(root, name), "rb", buffering=0) as fh:
                while n := fh.readinto(buf):
                    h.update(view[:n])
                    seen += n
        except OSError as exc:
            raise ArtifactMismatch(f"artifact of {what} missing or unreadable: {name}: {exc.strerror or exc}") from exc
        total += seen
        if name in sizes and seen != sizes[name]:
            raise ArtifactMismatch(f"artifact of {what} truncated: {name} has {seen:,} bytes, the registry says "
                                   f"{sizes[name]:,}")
        if h.hexdigest() != digest:
            raise ArtifactMismatch(f"artifact of {what} corrupt: {name} sha256 {h.hexdigest()[:16]}... != "
                                   f"{digest[:16]}... (refusing to serve it)")
    return total, time.monotonic() - started


def recorded(tags: dict[str, str]) -> tuple[dict[str, str], dict[str, int]]:
    """(sha256 per file, size per file) from a version's tags; empty when the version carries none."""
    expected = json.loads(tags.get(CHECKSUM_TAG) or "{}")
    weights = json.loads(tags.get(WEIGHTS_TAG) or "{}")
    sizes = {str(weights["file"]): int(weights["size"])} if weights else {}
    return {str(k): str(v) for k, v in expected.items()}, sizes


class Metrics:
    def __init__(self, version: str) -> None:
        self.version = version
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.buckets = [0] * len(BUCKETS)
        self.count, self.total = 0, 0.0

    def observe(self, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[str(status)] = self.requests.get(str(status), 0) + 1
            self.count += 1
            self.total += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def render(self) -> str:
        v = self.version
        lines = ["# TYPE model_info gauge", f'model_info{{version="{v}"}} 1', "# TYPE model_requests_total counter"]
        with self.lock:
            lines += [f'model_requests_total{{version="{v}",status="{s}"}} {n}' for s, n in sorted(self.requests.items())]
            lines.append("# TYPE model_request_duration_seconds histogram")
            lines += [f'model_request_duration_seconds_bucket{{version="{v}",le="{b}"}} {n}'
                      for b, n in zip(BUCKETS, self.buckets)]
            lines += [f'model_request_duration_seconds_bucket{{version="{v}",le="+Inf"}} {self.count}',
                      f'model_request_duration_seconds_sum{{version="{v}"}} {self.total}',
                      f'model_request_duration_seconds_count{{version="{v}"}} {self.count}']
        return "\n".join(lines) + "\n"


class Noise:
    def __init__(self, env: dict[str, str]) -> None:
        self.error_rate = float(env.get("NOISE_ERROR_RATE", "0"))
        self.jitter_s = float(env.get("NOISE_LATENCY_JITTER_MS", "0")) / 1000.0
        self.wrong_rate = float(env.get("NOISE_WRONG_RATE", "0"))
        self.rng = random.Random()

    def delay(self) -> None:
        if self.jitter_s > 0:
            time.sleep(self.rng.expovariate(1.0 / self.jitter_s))

    def fails(self) -> bool:
        return self.error_rate > 0 and self.rng.random() < self.error_rate

    def flips(self) -> bool:
        return self.wrong_rate > 0 and self.rng.random() < self.wrong_rate


def load(name: str, ref: str) -> tuple[str, Any, list[str]]:
    """(version, pyfunc model, input column names) for an alias or a version of ``name``: downloaded through
    the tracking server, verified file by file against the version's checksum tag, then loaded."""
    import mlflow.artifacts
    import mlflow.pyfunc
    from mlflow import MlflowClient

    client = MlflowClient()
    mv = client.get_model_version(name, ref) if ref.isdigit() else client.get_model_version_by_alias(name, ref)
    version = str(mv.version)
    dst = os.environ.get("MODEL_DIR", "/tmp/model")
    os.makedirs(dst, exist_ok=True)
    started = time.monotonic()
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=dst)
    fetched = time.monotonic() - started
    expected, sizes = recorded({str(k): str(v) for k, v in (mv.tags or {}).items()})
    total, took = verify(local, expected, sizes, f"{name}/{version}")
    print(f"fetched {name}/{version}: {total / 1e6:,.1f} MB downloaded in {fetched:.2f}s, verified in {took:.2f}s",
          flush=True)
    model = mlflow.pyfunc.load_model(local)
    schema = model.metadata.get_input_schema()
    columns = list(schema.input_names()) if schema is not None else []
    return version, model, columns


def make_handler(version: str, model: Any, columns: list[str], metrics: Metrics, noise: Noise) -> type:
    import pandas as pd

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Model-Version", version)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, json.dumps({"status": "ok", "model_version": version}).encode())
            elif self.path == "/metrics":
                self._send(200, metrics.render().encode(), "text/plain; version=0.0.4")
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            started = time.perf_counter()
            if self.path != "/v1/predict":
                self._send(404, b'{"error": "not found"}')
                return
            status, body = self._predict(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            metrics.observe(status, time.perf_counter() - started)
            self._send(status, json.dumps(body).encode())

        def _predict(self, raw: bytes) -> tuple[int, dict[str, Any]]:
            try:
                features = json.loads(raw or b"{}")["features"]
                if not isinstance(features, dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return 400, {"error": 'body must be {"features": {...}}'}
            missing = [c for c in columns if c not in features]
            if missing:
                return 422, {"error": f"missing features: {', '.join(missing)}"}
            try:
                frame = pd.DataFrame([{c: float(features[c]) for c in columns}])
            except (TypeError, ValueError):
                return 400, {"error": "features must be numbers"}
            noise.delay()
            if noise.fails():
                return 503, {"error": "background error"}
            try:
                proba = model.predict(frame)
            except Exception as exc:  # noqa: BLE001 - the model's own failure: a 500, as any scoring server answers
                return 500, {"error": f"model error: {str(exc)[:200]}"}
            score = float(proba[0][1])
            prediction = 1 if score >= 0.5 else 0
            if noise.flips():
                prediction = 1 - prediction
            return 200, {"prediction": prediction, "score": round(score, 6), "model_version": version}

    return Handler


def main() -> int:
    name = os.environ.get("MODEL_NAME", "model")
    ref = os.environ.get("MODEL_REF", "champion")
    port = int(os.environ.get("PORT", "8080"))
    try:
        version, model, columns = load(name, ref)
    except Exception as exc:  # noqa: BLE001 - any failure to load is fatal and must be readable in the container's log
        print(f"FATAL: cannot load models:/{name}/{ref}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(version, model, columns, Metrics(version), Noise(dict(os.environ))))
    server.daemon_threads = True

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"serving {name}/{version} on :{port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
