"""The team's model server: loads ``models:/<name>@<alias>`` (or ``models:/<name>/<version>``) from the MLflow
registry at start, then answers ``POST /predict`` with its prediction and its version (``X-Model-Version``).

It listens only once the model is loaded and warmed up (``WARMUP_S``): until then a gateway that sends it
traffic gets refused connections, which is what a rollback that does not wait for readiness runs into.
Standard library only: the registry's REST API (alias lookup, the model version's artifact).
"""

import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REGISTRY = os.environ.get("MLFLOW_URL", "http://registry:5000")
REF = os.environ.get("MODEL_REF", "models:/tumor@champion")
PORT = int(os.environ.get("PORT", "8080"))
WARMUP_S = float(os.environ.get("WARMUP_S", "2"))
COUNTS = {"ok": 0, "error": 0}
LOCK = threading.Lock()


def get_json(path: str) -> dict:
    with urllib.request.urlopen(f"{REGISTRY}{path}", timeout=5) as resp:
        return json.load(resp)


def load(ref: str) -> dict:
    """models:/name@alias or models:/name/version -> the version's model.json, from the registry."""
    name, _, rest = ref.removeprefix("models:/").partition("/")
    if "@" in name:
        name, alias = name.split("@", 1)
        query = urllib.parse.urlencode({"name": name, "alias": alias})
        version = get_json(f"/api/2.0/mlflow/registered-models/alias?{query}")["model_version"]["version"]
    else:
        version = rest
    query = urllib.parse.urlencode({"name": name, "version": version, "path": "model.json"})
    return get_json(f"/model-versions/get-artifact?{query}")


def load_with_retries(ref: str) -> dict:
    deadline = time.monotonic() + 600  # a registry starting on a busy machine
    while True:
        try:
            return load(ref)
        except (OSError, KeyError, ValueError) as exc:
            if time.monotonic() > deadline:
                sys.exit(f"could not load {ref}: {exc}")
            print(f"waiting for the registry ({exc})", flush=True)
            time.sleep(1)


MODEL = load_with_retries(REF)
VERSION = str(MODEL["version"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def _send(self, status: int, body: object, content_type: str = "application/json") -> None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("X-Model-Version", VERSION)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._send(200, {"status": "ok", "version": VERSION, "ref": REF})
        elif self.path == "/metrics":
            with LOCK:
                text = "".join(f'predictions_total{{version="{VERSION}",outcome="{k}"}} {v}\n' for k, v in COUNTS.items())
            self._send(200, text, "text/plain; version=0.0.4")
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            features = json.loads(body)["features"]
            weights = MODEL["weights"]
            if len(features) != len(weights):
                raise ValueError(f"model {VERSION} expects {len(weights)} features, got {len(features)}")
            score = sum(w * x for w, x in zip(weights, features, strict=True)) + MODEL["bias"]
        except (ValueError, KeyError, TypeError) as exc:
            with LOCK:
                COUNTS["error"] += 1
            self._send(500, {"error": str(exc), "version": VERSION})
            return
        with LOCK:
            COUNTS["ok"] += 1
        self._send(200, {"prediction": int(score > 0), "version": VERSION})


time.sleep(WARMUP_S)  # the model's warm-up: not serving yet
server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
server.daemon_threads = True
print(f"serving {REF} (version {VERSION}) on :{PORT}", flush=True)
server.serve_forever()
