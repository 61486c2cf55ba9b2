"""The model server that runs INSIDE a container. Standard library only.

It loads one model version from the registry volume (by version or alias), verifies the
artifact's checksum, and serves:

    POST /v1/predict   {"features": {...}} -> {"prediction", "score", "model_version"}
    GET  /healthz      200 once the model is loaded
    GET  /metrics      Prometheus text: requests by status, latency histogram, guard counters

Every version may also serve with background noise (``NOISE_ERROR_RATE``, ``NOISE_LATENCY_JITTER_MS``,
``NOISE_WRONG_RATE`` in the environment, set per drill): a share of 503s, an exponential extra delay
and a share of flipped predictions, the way a real service is never spotless.

A model may carry a ``fault`` block: that is how the harness makes a deliberately bad
version (errors on a slice of inputs, added latency, wrong answers, a crash at load, ...).
The server itself does not know a version is bad; it just runs what the artifact says.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ModelLoadError(Exception):
    pass


def resolve_ref(registry: str, model: str, ref: str) -> str:
    """A ref is a version ("v2") or an alias ("champion") resolved through aliases.json."""
    aliases_path = os.path.join(registry, model, "aliases.json")
    if os.path.exists(aliases_path):
        with open(aliases_path, encoding="utf-8") as fh:
            aliases = json.load(fh)
        if ref in aliases:
            return str(aliases[ref])
    return ref


def load_model(registry: str, model: str, ref: str) -> dict[str, Any]:
    version = resolve_ref(registry, model, ref)
    vdir = os.path.join(registry, model, "versions", version)
    try:
        with open(os.path.join(vdir, "meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        with open(os.path.join(vdir, "model.json"), "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ModelLoadError(f"artifact for {model}/{version} unreadable: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != meta.get("sha256"):
        raise ModelLoadError(f"artifact for {model}/{version} corrupt: sha256 {digest} != {meta.get('sha256')}")
    if meta.get("blob"):
        load_blob(vdir, f"{model}/{version}", meta["blob"])
    artifact: dict[str, Any] = json.loads(raw)
    fault = artifact.get("fault") or {}
    if fault.get("kind") == "crash":
        raise ModelLoadError(f"model {model}/{version} failed to initialise: {fault.get('message', 'crash')}")
    artifact["version"] = version
    # A fault with ``after`` strikes that many seconds after the model is loaded (a regression that shows late).
    artifact["fault_from"] = time.monotonic() + float(fault.get("after") or 0.0)
    return artifact


CHUNK = 8 << 20


def load_blob(vdir: str, what: str, blob: dict[str, Any]) -> float:
    """Read the version's weights file to the end and check its size and sha256 against the registry's
    metadata, as loading a real model's weights would; returns the seconds it took."""
    name, size, expected = str(blob.get("name", "weights.bin")), int(blob["size"]), str(blob["sha256"])
    path = os.path.join(vdir, name)
    started = time.monotonic()
    h = hashlib.sha256()
    seen = 0
    try:
        with open(path, "rb", buffering=0) as fh:
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while n := fh.readinto(buf):
                h.update(view[:n])
                seen += n
    except OSError as exc:
        raise ModelLoadError(f"artifact for {what} unreadable: {name}: {exc.strerror or exc}") from exc
    if seen != size:
        raise ModelLoadError(f"artifact for {what} truncated: {name} has {seen:,} bytes, the registry says {size:,}")
    if h.hexdigest() != expected:
        raise ModelLoadError(f"artifact for {what} corrupt: {name} sha256 {h.hexdigest()[:16]}... != {expected[:16]}...")
    took = time.monotonic() - started
    print(f"loaded {name}: {size / 1e6:,.0f} MB verified in {took:.2f}s", flush=True)
    return took


def write_blob(path: str, size: int, seed: int) -> str:
    """Write ``size`` bytes of seeded noise to ``path`` (via a temporary name); returns their sha256."""
    h = hashlib.sha256()
    tmp = f"{path}.partial"
    with open(tmp, "wb") as fh:
        for chunk in noise_chunks(size, seed):
            fh.write(chunk)
            h.update(chunk)
    os.replace(tmp, path)
    return h.hexdigest()


def noise_chunks(size: int, seed: int) -> Iterator[bytes]:
    """``size`` bytes of seeded noise, a MiB at a time. Every MiB differs (its index leads it), so nothing below
    can deduplicate or compress the artifact. Stdlib only: the MLflow target runs this very source in its server's
    container (``harness.targets.mlflow.weights``), so both targets make the same bytes for a seed."""
    block = random.Random(seed).randbytes(1 << 20)
    index, left = 0, size
    while left > 0:
        chunk = (index.to_bytes(8, "big") + block[8:])[:left]
        yield chunk
        left -= len(chunk)
        index += 1


class Metrics:
    """Counters and a latency histogram, rendered in the Prometheus text format."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0
        self.out_of_range = 0
        self.forbidden = 0

    def observe(self, status: int, seconds: float) -> None:
        with self.lock:
            key = str(status)
            self.requests[key] = self.requests.get(key, 0) + 1
            self.count += 1
            self.total += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def render(self) -> str:
        v = self.version
        lines = [
            "# HELP model_info The model version this server runs.",
            "# TYPE model_info gauge",
            f'model_info{{version="{v}"}} 1',
            "# HELP model_requests_total Prediction requests by HTTP status.",
            "# TYPE model_requests_total counter",
        ]
        with self.lock:
            for status, n in sorted(self.requests.items()):
                lines.append(f'model_requests_total{{version="{v}",status="{status}"}} {n}')
            lines += [
                "# HELP model_request_duration_seconds Prediction latency.",
                "# TYPE model_request_duration_seconds histogram",
            ]
            for bound, n in zip(BUCKETS, self.buckets):
                lines.append(f'model_request_duration_seconds_bucket{{version="{v}",le="{bound}"}} {n}')
            lines.append(f'model_request_duration_seconds_bucket{{version="{v}",le="+Inf"}} {self.count}')
            lines.append(f'model_request_duration_seconds_sum{{version="{v}"}} {self.total}')
            lines.append(f'model_request_duration_seconds_count{{version="{v}"}} {self.count}')
            lines += [
                "# HELP model_output_out_of_range_total Outputs outside the allowed score range [0, 1].",
                "# TYPE model_output_out_of_range_total counter",
                f'model_output_out_of_range_total{{version="{v}"}} {self.out_of_range}',
                "# HELP model_forbidden_output_total Outputs outside the allowed set {0, 1} for the protected slice.",
                "# TYPE model_forbidden_output_total counter",
                f'model_forbidden_output_total{{version="{v}"}} {self.forbidden}',
            ]
        return "\n".join(lines) + "\n"


class Noise:
    """Background noise for every version: an error rate, a mean latency jitter (seconds), a wrong-answer rate."""

    def __init__(self, error_rate: float = 0.0, jitter_s: float = 0.0, wrong_rate: float = 0.0,
                 rng: random.Random | None = None) -> None:
        for name, value, top in (("error rate", error_rate, 1.0), ("jitter", jitter_s, 60.0), ("wrong rate", wrong_rate, 1.0)):
            if not (math.isfinite(value) and 0.0 <= value <= top):
                raise ValueError(f"noise {name} must be a finite number in [0, {top:g}], got {value!r}")
        self.error_rate, self.jitter_s, self.wrong_rate = error_rate, jitter_s, wrong_rate
        self.rng = rng or random.Random()

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Noise:
        return cls(float(env.get("NOISE_ERROR_RATE", "0")), float(env.get("NOISE_LATENCY_JITTER_MS", "0")) / 1000.0,
                   float(env.get("NOISE_WRONG_RATE", "0")))

    def fails(self) -> bool:
        return self.error_rate > 0 and self.rng.random() < self.error_rate

    def delay(self) -> float:
        return self.rng.expovariate(1.0 / self.jitter_s) if self.jitter_s > 0 else 0.0

    def flips(self) -> bool:
        return self.wrong_rate > 0 and self.rng.random() < self.wrong_rate


QUIET = Noise()


def _on_share(features: dict[str, Any], rate: float | None) -> bool:
    """Is this input in the share ``rate`` of inputs a fault hits? Fixed by the input (a model worse on some
    inputs, the same ones every time), not a coin flip per request; every input when no rate is given."""
    if rate is None:
        return True
    digest = hashlib.sha256(json.dumps(features, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < float(rate)


def predict(model: dict[str, Any], features: dict[str, Any], noise: Noise = QUIET) -> tuple[int, dict[str, Any]]:
    """Returns (HTTP status, body). Applies the background noise, then the artifact's fault, if any."""
    names: list[str] = model["features"]
    missing = [n for n in names if n not in features]
    if missing:
        return 422, {"error": f"missing features: {', '.join(missing)}"}
    try:
        xs = [float(features[n]) for n in names]
    except (TypeError, ValueError):
        return 400, {"error": "features must be numbers"}
    delay = noise.delay()
    if delay > 0:
        time.sleep(delay)
    if noise.fails():
        return 503, {"error": "background error"}
    z = model["bias"] + sum(w * x for w, x in zip(model["weights"], xs))
    score = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
    fault = model.get("fault") or {}
    kind = fault.get("kind") if time.monotonic() >= model.get("fault_from", 0.0) else None
    if kind == "error_slice" and float(features.get(fault["feature"], 0.0)) > float(fault["above"]):
        return 500, {"error": "internal model error"}
    if kind == "latency":
        time.sleep(float(fault["ms"]) / 1000.0)
    if kind == "out_of_range":
        score = score * float(fault.get("scale", 3.0))
    prediction = 1 if score >= 0.5 else 0
    if kind == "wrong_answers" and _on_share(features, fault.get("rate")):
        prediction = 1 - prediction
    if prediction in (0, 1) and noise.flips():
        prediction = 1 - prediction
    if kind == "forbidden_output" and float(features.get(fault["feature"], 0.0)) > float(fault["above"]):
        prediction = 2  # an action the policy forbids for this slice (e.g. auto-decline without review)
    return 200, {"prediction": prediction, "score": round(score, 6), "model_version": model["version"]}


def make_handler(model: dict[str, Any], metrics: Metrics, protected: tuple[str, float], noise: Noise = QUIET) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out without waiting on a delayed ACK

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet access log
            return

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Model-Version", model["version"])
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, json.dumps({"status": "ok", "model_version": model["version"]}).encode())
            elif self.path == "/metrics":
                self._send(200, metrics.render().encode(), "text/plain; version=0.0.4")
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            started = time.perf_counter()
            if self.path != "/v1/predict":
                self._send(404, b'{"error": "not found"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            body: dict[str, Any]
            try:
                payload = json.loads(self.rfile.read(length) or b"{}")
                features = payload["features"]
                if not isinstance(features, dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                status, body = 400, {"error": "body must be {\"features\": {...}}"}
            else:
                status, body = predict(model, features, noise)
                if status == 200:
                    with metrics.lock:
                        if not 0.0 <= body["score"] <= 1.0:
                            metrics.out_of_range += 1
                        pname, pmin = protected
                        if body["prediction"] not in (0, 1) and float(features.get(pname, 0.0)) > pmin:
                            metrics.forbidden += 1
            # Counted before the answer leaves, so a client that reads /metrics next sees its own request.
            metrics.observe(status, time.perf_counter() - started)
            self._send(status, json.dumps(body).encode())

    return Handler


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["pad"]:  # pad PATH SIZE SEED: the registry writes a version's weights file (see write_blob)
        print(write_blob(args[1], int(args[2]), int(args[3])), flush=True)
        return 0
    registry = os.environ.get("REGISTRY_DIR", "/registry")
    name = os.environ.get("MODEL_NAME", "model")
    ref = os.environ.get("MODEL_REF", "champion")
    port = int(os.environ.get("PORT", "8080"))
    protected = (os.environ.get("PROTECTED_FEATURE", "x3"), float(os.environ.get("PROTECTED_ABOVE", "1.0")))
    try:
        noise = Noise.from_env(dict(os.environ))
    except ValueError as exc:
        print(f"FATAL: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        model = load_model(registry, name, ref)
    except ModelLoadError as exc:
        print(f"FATAL: {exc}", file=sys.stderr, flush=True)
        return 1
    metrics = Metrics(model["version"])
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(model, metrics, protected, noise))
    server.daemon_threads = True

    def stop(signum: int, frame: Any) -> None:
        # Shut down from another thread: serve_forever() must return, in-flight requests finish.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"serving {name}/{model['version']} on :{port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
