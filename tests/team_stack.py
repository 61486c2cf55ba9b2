"""A team's stack that drill did not start, on 127.0.0.1 and in process, for the external target's tests.

Two model servers (each answers ``{"version": ..., "label": ...}`` and names itself in ``X-Model-Version``; a
version fails the share of requests it is given) behind a weighted gateway that really forwards (as the team's
nginx or Envoy would), with the gateway's own admin API the team's scripts call: ``POST /admin/weights {"v1": 90,
"v2": 10}``, ``GET /admin/weights``, ``POST /admin/break`` (every answer 503, the health check too: an
environment the drill is hurting), ``GET /healthz`` and ``GET /metrics`` (its answers by status, for a real
Prometheus to scrape). ``ops_script`` writes the team's ops script (deploy, promote, rollback, abort by the admin
API, each call logged with its time) that the drill's commands run. Nothing of the harness is patched or faked:
it reaches this stack only through the entrypoint URL and the team's commands.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.fakes import QuietHandler
from tests.serving_fakes import close, serve


def _answer(handler: QuietHandler, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def model_server(version: str, fail_rate: float) -> ThreadingHTTPServer:
    rng = random.Random(version)
    lock = threading.Lock()

    class Model(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                failing = rng.random() < fail_rate
            named = {"X-Model-Version": version}  # on every answer, errors too: how a client tells who failed
            if failing:
                _answer(self, 500, json.dumps({"version": version, "error": "model error"}).encode(), named)
            else:
                _answer(self, 200, json.dumps({"version": version, "label": "benign"}).encode(), named)

    return serve(Model)


class TeamStack:
    def __init__(self, versions: Mapping[str, float], stable: str) -> None:
        """``versions``: version -> share of requests it fails; ``stable`` serves 100 % at first."""
        self.models = {v: model_server(v, rate) for v, rate in versions.items()}
        self.weights = {v: (100 if v == stable else 0) for v in versions}
        self.broken_at: float | None = None
        self.changes: list[tuple[float, dict[str, int]]] = []
        self.responses: Counter[int] = Counter()  # the gateway's answers to predictions by status (GET /metrics)
        self._rng = random.Random(7)
        self._lock = threading.Lock()
        self.gateway = serve(self._gateway_handler())

    @property
    def port(self) -> int:
        return int(self.gateway.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def break_it(self) -> float:
        """From now on every answer is 503 (the environment is hurting); the time it broke."""
        with self._lock:
            self.broken_at = time.time()
            return self.broken_at

    def set_weights(self, weights: Mapping[str, int]) -> None:
        with self._lock:
            self.weights = {v: int(weights.get(v, 0)) for v in self.models}
            self.changes.append((time.time(), dict(self.weights)))

    def _pick(self) -> str | None:
        with self._lock:
            live = [(v, w) for v, w in self.weights.items() if w > 0]
            return self._rng.choices([v for v, _ in live], [w for _, w in live])[0] if live else None

    def _count(self, status: int) -> None:
        with self._lock:
            self.responses[status] += 1

    def _gateway_handler(self) -> type[QuietHandler]:
        stack = self

        class Gateway(QuietHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    _answer(self, 503 if stack.broken_at else 200, b"{}")
                elif self.path == "/admin/weights":
                    _answer(self, 200, json.dumps(stack.weights).encode())
                elif self.path == "/metrics":  # Prometheus's text format, as the team's gateway exports it
                    with stack._lock:
                        lines = [f'gateway_responses_total{{code="{code}"}} {n}' for code, n in sorted(stack.responses.items())]
                    body = ("# TYPE gateway_responses_total counter\n" + "\n".join(lines) + "\n").encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    _answer(self, 404, b"{}")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/admin/weights":
                    stack.set_weights(json.loads(body))
                    _answer(self, 200, json.dumps(stack.weights).encode())
                    return
                if self.path == "/admin/break":
                    stack.break_it()
                    _answer(self, 200, b"{}")
                    return
                version = stack._pick()
                if stack.broken_at is not None or version is None:
                    stack._count(503)
                    _answer(self, 503, b'{"error": "unavailable"}')
                    return
                model = stack.models[version]
                conn = http.client.HTTPConnection("127.0.0.1", int(model.server_address[1]), timeout=5)
                try:
                    conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    stack._count(resp.status)
                    _answer(self, resp.status, resp.read(), {"X-Model-Version": resp.getheader("X-Model-Version") or ""})
                except (OSError, http.client.HTTPException):
                    _answer(self, 502, b'{"error": "upstream"}')
                finally:
                    conn.close()

        return Gateway

    def close(self) -> None:
        close(self.gateway)
        for server in self.models.values():
            close(server)


OPS = '''"""The team's ops script: python3 ops.py deploy|promote|rollback|abort STABLE CANDIDATE WEIGHT (the gateway's admin API)."""
import json, os, sys, time, urllib.request

action, stable, candidate, weight = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
weights = {"deploy": {stable: 100 - weight, candidate: weight}, "promote": {candidate: 100},
           "rollback": {stable: 100}, "abort": {stable: 100}}[action]
if os.environ.get("OPS_SLEEP"):
    time.sleep(float(os.environ["OPS_SLEEP"]))
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
request = urllib.request.Request(os.environ["GATEWAY"] + "/admin/weights", data=json.dumps(weights).encode(), method="POST")
with opener.open(request, timeout=5) as answer:
    print(action, "->", answer.read().decode())
with open(os.environ["OPS_LOG"], "a") as log:
    log.write(json.dumps({"at": time.time(), "action": action, "weights": weights}) + "\\n")
'''


def ops_script(directory: Path) -> Path:
    path = directory / "ops.py"
    path.write_text(OPS, encoding="utf-8")
    return path


def ops_log(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
