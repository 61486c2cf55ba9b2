"""A small Open Inference Protocol (V2) server, standard library only: the shape of MLServer, KServe and Triton.

It serves ONE version of one model, as a server started per version does, on the protocol's paths:

    GET  /v2/health/live, /v2/health/ready                       200 once loaded
    GET  /v2/models/{name}/versions/{version}                     the model's metadata
    POST /v2/models/{name}/versions/{version}/infer               the versioned path (404 for another version)
    POST /v2/models/{name}/infer                                  the unversioned path (this server's version)
    GET  /metrics on METRICS_PORT (8082, as MLServer; Triton uses 8002), never on the serving port

An answer names its version (``model_version``) and carries one output, ``flag`` (1 when ``amount`` > 100).
``FAIL_RATE`` makes a share of the inferences fail with 500 (a bad version, for the drill). Configuration by
environment: MODEL_NAME, MODEL_VERSION, PORT (8080), METRICS_PORT (8082), FAIL_RATE (0), SEED.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: dict[int, int] = {}

    def add(self, status: int) -> None:
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def render(self, name: str, version: str) -> bytes:
        with self.lock:
            counts = dict(self.by_status)
        lines = ["# HELP oip_infer_requests_total Inference requests by status", "# TYPE oip_infer_requests_total counter"]
        for status in sorted(counts):
            lines.append(f'oip_infer_requests_total{{model="{name}",version="{version}",status="{status}"}} {counts[status]}')
        return ("\n".join(lines) + "\n").encode()


class OipServer:
    """The serving listener and the metrics listener; ``start`` runs both in threads, ``shutdown`` stops them."""

    def __init__(self, name: str, version: str, port: int = 8080, metrics_port: int = 8082, fail_rate: float = 0.0,
                 seed: int | None = None, host: str = "0.0.0.0") -> None:
        self.name, self.version, self.fail_rate = name, version, fail_rate
        self.counts = Counts()
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _serving(self))
        self.metrics = ThreadingHTTPServer((host, metrics_port), _metrics(self))
        for server in (self.server, self.metrics):
            server.daemon_threads = True

    @property
    def ports(self) -> tuple[int, int]:
        return int(self.server.server_address[1]), int(self.metrics.server_address[1])

    def start(self) -> OipServer:
        for server in (self.server, self.metrics):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def shutdown(self) -> None:
        for server in (self.server, self.metrics):
            server.shutdown()
            server.server_close()

    def infer(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs = {i.get("name"): i for i in request.get("inputs", []) if isinstance(i, dict)}
        if "amount" not in inputs or not inputs["amount"].get("data"):
            return 400, {"error": "expected an input named 'amount' with data"}
        with self.rng_lock:
            failed = self.rng.random() < self.fail_rate
        if failed:
            return 500, {"error": f"inference failed in {self.name} version {self.version}"}
        flags = [1 if float(x) > 100 else 0 for x in inputs["amount"]["data"]]
        return 200, {"model_name": self.name, "model_version": self.version, "id": request.get("id", ""),
                     "outputs": [{"name": "flag", "shape": [len(flags)], "datatype": "INT64", "data": flags}]}


def _reply(handler: BaseHTTPRequestHandler, status: int, payload: Any, kind: str = "application/json") -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _serving(oip: OipServer) -> type[BaseHTTPRequestHandler]:
    versioned = f"/v2/models/{oip.name}/versions/{oip.version}"

    class Serving(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{oip.name}/ready", f"{versioned}/ready"):
                _reply(self, 200, {"ready": True})
            elif path in (f"/v2/models/{oip.name}", versioned):
                _reply(self, 200, {"name": oip.name, "versions": [oip.version], "platform": "drill-example"})
            else:
                _reply(self, 404, {"error": f"no such path {path}"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if path not in (f"{versioned}/infer", f"/v2/models/{oip.name}/infer"):
                # MLServer and Triton answer so for a version they do not serve
                status, answer = 404, {"error": f"model {oip.name} has no version at {path}"}
            else:
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    request = None
                status, answer = oip.infer(request) if isinstance(request, dict) else (400, {"error": "not JSON"})
            oip.counts.add(status)
            _reply(self, status, answer)

    return Serving


def _metrics(oip: OipServer) -> type[BaseHTTPRequestHandler]:
    class Metrics(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/metrics":
                _reply(self, 200, oip.counts.render(oip.name, oip.version), "text/plain; version=0.0.4")
            else:
                _reply(self, 404, {"error": "metrics are at /metrics"})

    return Metrics


def main() -> None:
    env = os.environ
    oip = OipServer(env.get("MODEL_NAME", "fraud"), env.get("MODEL_VERSION", "1"), int(env.get("PORT", "8080")),
                    int(env.get("METRICS_PORT", "8082")), float(env.get("FAIL_RATE", "0")),
                    int(env["SEED"]) if env.get("SEED") else None)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    oip.start()
    print(f"serving {oip.name} version {oip.version} on :{oip.ports[0]}, metrics on :{oip.ports[1]}", flush=True)
    done.wait()
    oip.shutdown()


if __name__ == "__main__":
    main()
