"""A fake target whose parts really serve, for unit tests of shadow and progressive drills without Docker.

Every slot runs the real model server's handler (harness/serving/model_server.py) in a thread on 127.0.0.1;
the router is a real forwarding proxy on 127.0.0.1 that picks a slot by weight (as HAProxy does) and says
which slot answered (``X-Drill-Backend``); the tee is the real tee (harness/serving/tee_proxy.py) in threads.
Injected into the engine through ``Engine(make_target=...)``, nothing patched. The backend is ``kind =
"docker"`` because it stands in for one: its servers run where a docker backend's containers would.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.ports import Endpoint, Progress, ServerState, ServiceFailed, Versions
from harness.serving import model_server
from harness.serving.tee_proxy import Tee, TeeConfig
from harness.spec.catalogue import LoadedDrill
from harness.targets.builtin.model import FEATURES, TRUE_BIAS, TRUE_WEIGHTS
from harness.targets.builtin.target import ArtifactFault, FeatureProtocol
from tests.fakes import FakeRegistry, NoMetrics, QuietHandler


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def close(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


class ServingBackend:
    """Each slot a real model server. ``faults``: a version's fault (the artifact's, as the built-in registry
    writes it); ``fault_after``: it shows only that many seconds after the version started (a late regression)."""

    kind = "docker"

    def __init__(self, faults: Mapping[str, dict[str, Any]], fault_after: float = 0.0, wrong_rate: float = 0.0,
                 crash: frozenset[str] = frozenset()) -> None:
        self.faults, self.fault_after, self.wrong_rate, self.crash = dict(faults), fault_after, wrong_rate, crash
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self.started: list[tuple[str, str]] = []

    def start(self, slot: str, version: str) -> Endpoint:
        self.stop(slot)
        if version in self.crash:
            raise ServiceFailed(f"model {version} failed to initialise")
        model = {"version": version, "features": list(FEATURES), "weights": list(TRUE_WEIGHTS), "bias": TRUE_BIAS,
                 "fault": self.faults.get(version), "fault_from": time.monotonic() + self.fault_after}
        noise = model_server.Noise(wrong_rate=self.wrong_rate, rng=random.Random(len(self.started)))
        self.servers[slot] = serve(model_server.make_handler(model, model_server.Metrics(version), ("x3", 1.0), noise))
        self.started.append((slot, version))
        return self._endpoint(slot)

    def _endpoint(self, slot: str) -> Endpoint:
        return Endpoint("127.0.0.1", int(self.servers[slot].server_address[1]))

    def stop(self, slot: str) -> None:
        server = self.servers.pop(slot, None)
        if server is not None:
            close(server)

    def running(self, slot: str) -> bool:
        return slot in self.servers

    def address(self, slot: str) -> Endpoint | None:
        return self._endpoint(slot) if slot in self.servers else None

    def replicas(self) -> dict[str, int] | None:
        return None


class ForwardingRouter:
    """Weights, states and addresses per slot; ``forward`` sends a request to a slot picked by weight."""

    def __init__(self) -> None:
        self.weights = {"stable": 100, "candidate": 0}
        self.states = {"stable": "maint", "candidate": "maint"}
        self.addresses: dict[str, Endpoint] = {}
        self.attached: list[tuple[str, Endpoint]] = []
        self._rng = random.Random(11)
        self._lock = threading.Lock()

    def attach(self, slot: str, endpoint: Endpoint, timeout: float = 10.0) -> None:
        with self._lock:
            self.addresses[slot] = endpoint
            self.states[slot] = "ready"
            self.attached.append((slot, endpoint))

    def set_weight(self, slot: str, weight: int) -> None:
        self.weights[slot] = weight

    def set_state(self, slot: str, state: str) -> None:
        self.states[slot] = state

    def servers(self) -> Mapping[str, ServerState]:
        return {s: ServerState(s, "UP" if self.states[s] == "ready" else "MAINT", self.weights[s],
                               str(self.addresses.get(s, "")), 0) for s in self.states}

    def wait_up(self, slot: str, timeout: float = 10.0) -> None:
        if self.states.get(slot) != "ready":
            raise ServiceFailed(f"{slot} is not up")

    def pick(self) -> tuple[str, Endpoint] | None:
        with self._lock:
            live = [(s, w) for s, w in self.weights.items() if w > 0 and self.states.get(s) == "ready" and s in self.addresses]
            if not live:
                return None
            slot = self._rng.choices([s for s, _ in live], [w for _, w in live])[0]
            return slot, self.addresses[slot]


class ServingTarget:
    """A whole target whose slots serve for real; ``shadow_tee`` gives the real tee, in threads."""

    name = "serving-fake"

    def __init__(self, faults: Mapping[str, dict[str, Any]] | None = None, fault_after: float = 0.0,
                 wrong_rate: float = 0.0, crash: frozenset[str] = frozenset()) -> None:
        self.versions = Versions("v1", "v2", "v3")
        self.backend = ServingBackend(faults if faults is not None else {}, fault_after, wrong_rate, crash)
        self.router = ForwardingRouter()
        self.registry = FakeRegistry("fraud", self.versions)
        self.protocol = FeatureProtocol()
        self.fault = ArtifactFault("the artifact's own fault")
        self.metrics = NoMetrics()
        self.images_source: str | None = None
        self.tees: list[InProcessTee] = []
        self.closed = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def traffic_endpoint(self) -> Endpoint:
        assert self._server is not None
        return Endpoint("127.0.0.1", int(self._server.server_address[1]))

    def shadow_tee(self) -> InProcessTee:
        tee = InProcessTee()
        self.tees.append(tee)
        return tee

    def prepare(self, progress: Progress) -> None:
        router = self.router

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                picked = router.pick()
                status, answer, headers = 503, b'{"error": "no server"}', {}
                if picked is not None:
                    conn = http.client.HTTPConnection(picked[1].host, picked[1].port, timeout=5)
                    try:
                        conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                        resp = conn.getresponse()
                        status, answer, headers = resp.status, resp.read(), {"X-Drill-Backend": picked[0]}
                    except (OSError, http.client.HTTPException):
                        status, answer = 502, b'{"error": "upstream"}'
                    finally:
                        conn.close()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(answer)

        self._server = serve(Handler)
        self.router.attach("stable", self.backend.start("stable", self.versions.stable))

    def sabotage(self, how: str) -> None:
        return None

    def services(self) -> dict[str, bool]:
        return {"router": self._server is not None, "stable": self.backend.running("stable")}

    def close(self) -> None:
        self.closed += 1
        for tee in self.tees:
            tee.stop()
        for slot in list(self.backend.servers):
            self.backend.stop(slot)
        if self._server is not None:
            close(self._server)
            self._server = None


class InProcessTee:
    """``shadow.TeeRunner``: the real tee, in threads on 127.0.0.1."""

    def __init__(self) -> None:
        self.tee: Tee | None = None
        self.env: dict[str, str] = {}

    def start(self, env: dict[str, str]) -> tuple[Endpoint, Endpoint]:
        self.env = dict(env)
        self.tee = Tee(TeeConfig.from_env(env), port=0, records_port=0, host="127.0.0.1").start()
        return Endpoint("127.0.0.1", self.tee.port), Endpoint("127.0.0.1", self.tee.records_port)

    def stop(self) -> None:
        tee, self.tee = self.tee, None
        if tee is not None:
            tee.shutdown()


def factory(target: ServingTarget) -> Any:
    def make(drill: LoadedDrill, run_id: str, workdir: Path, backend: str | None) -> ServingTarget:
        return target

    return make
