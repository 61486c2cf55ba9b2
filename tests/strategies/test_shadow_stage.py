"""The shadow stage (harness/strategies/shadow.py) in-process: a real tee (harness/serving/tee_proxy.py) in
threads, real HTTP servers for stable and candidate, a backend and a router faked through their seams
(the router is a table the client reads its destination from). A worse candidate is rolled back before
any client saw it; a good one is promoted; either way the router's stable slot ends where it began."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness import strategies
from harness.ports import Endpoint, Example, Reading, ServerState
from harness.serving.tee_proxy import Tee, TeeConfig
from harness.spec import catalogue
from harness.strategies.shadow import SHADOW, ShadowStage, to_evidence


class Model:
    """Answers the label, except on a share ``wrong`` of the inputs (chosen by the input: the same every time)."""

    def __init__(self, version: str, wrong: float) -> None:
        version_, wrong_ = version, wrong

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._send({"status": "ok"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                flip = random.Random(body["x"] * 7919 + len(version_)).random() < wrong_
                self._send({"prediction": 1 - body["label"] if flip else body["label"], "model_version": version_})

            def _send(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.endpoint = Endpoint("127.0.0.1", int(self.server.server_address[1]))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Backend:
    kind = "fake"

    def __init__(self, stable: Model, versions: dict[str, float]) -> None:
        self.models = {"stable": stable}
        self.versions = versions
        self.stopped: list[str] = []

    def start(self, slot: str, version: str) -> Endpoint:
        self.models[slot] = Model(version, self.versions[version])
        return self.models[slot].endpoint

    def stop(self, slot: str) -> None:
        self.stopped.append(slot)
        self.models.pop(slot).close()

    def running(self, slot: str) -> bool:
        return slot in self.models

    def address(self, slot: str) -> Endpoint | None:
        return self.models[slot].endpoint if slot in self.models else None

    def replicas(self) -> dict[str, int] | None:
        return None

    def close(self) -> None:
        for m in self.models.values():
            m.close()


class Router:
    """Where each slot points; the client below asks it for every request, as HAProxy would route."""

    def __init__(self, stable: Endpoint) -> None:
        self.addresses = {"stable": stable}
        self.attached: list[tuple[str, Endpoint]] = []

    def attach(self, slot: str, endpoint: Endpoint, timeout: float = 10.0) -> None:
        self.addresses[slot] = endpoint
        self.attached.append((slot, endpoint))

    def set_weight(self, slot: str, weight: int) -> None:
        return None

    def set_state(self, slot: str, state: str) -> None:
        return None

    def servers(self) -> Mapping[str, ServerState]:
        return {}

    def wait_up(self, slot: str, timeout: float = 10.0) -> None:
        return None


class Protocol:
    method, path, headers = "POST", "/predict", {"Content-Type": "application/json"}

    def examples(self, n: int, seed: int) -> Sequence[Example]:
        rng = random.Random(seed)
        return [Example(json.dumps({"x": i, "label": (label := rng.randrange(2))}).encode(), expected=label) for i in range(n)]

    def read(self, example: Example, status: int, headers: Mapping[str, str], body: bytes) -> Reading:
        answer = json.loads(body)
        return Reading(answer["model_version"], answer["prediction"], None, answer["prediction"] == example.expected)


class InProcessTee:
    def __init__(self) -> None:
        self.tee: Tee | None = None

    def start(self, env: dict[str, str]) -> tuple[Endpoint, Endpoint]:
        self.tee = Tee(TeeConfig.from_env(env), port=0, records_port=0, host="127.0.0.1").start()
        return Endpoint("127.0.0.1", self.tee.port), Endpoint("127.0.0.1", self.tee.records_port)

    def stop(self) -> None:
        if self.tee is not None:
            self.tee.shutdown()


class Client:
    """50 requests/s to wherever the router's stable slot points; counts who answered."""

    def __init__(self, router: Router, examples: Sequence[Example]) -> None:
        self.router, self.examples = router, examples
        self.by_version: dict[str, int] = {}
        self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        rng = random.Random(1)
        while not self.stop.wait(0.02):
            ep = self.router.addresses["stable"]
            try:
                conn = http.client.HTTPConnection(ep.host, ep.port, timeout=5)
                conn.request("POST", "/predict", rng.choice(self.examples).body, {"Content-Type": "application/json"})
                version = json.loads(conn.getresponse().read())["model_version"]
                conn.close()
                self.by_version[version] = self.by_version.get(version, 0) + 1
            except (OSError, http.client.HTTPException, ValueError):
                self.failed += 1


@pytest.fixture
def setup() -> Iterator[tuple[Backend, Router, Client, ShadowStage]]:
    examples = Protocol().examples(2000, 3)
    backend = Backend(Model("v1", 0.04), {"v1": 0.04, "v2-worse": 0.3, "v2-good": 0.04})
    router = Router(backend.models["stable"].endpoint)
    client = Client(router, examples)
    stage = ShadowStage(backend, router, Protocol(), InProcessTee(), examples, alpha=0.01)
    yield backend, router, client, stage
    client.stop.set()
    client.thread.join(5)
    backend.close()


def test_a_worse_candidate_is_caught_in_shadow_before_any_client_saw_it(setup: tuple[Backend, Router, Client, ShadowStage]) -> None:
    backend, router, client, stage = setup
    stable = router.addresses["stable"]
    out = stage.run("v1", "v2-worse", max_wait=30.0, interval=0.5, served_by_candidate=lambda: client.by_version.get("v2-worse", 0))
    assert out.decision == "rollback" and out.decided_after_s < 20
    assert out.never_served and out.traffic.candidate_answers_served == 0 and "no client saw" in out.summary
    assert out.traffic.mirrored >= out.traffic.paired > 20
    assert [o.measure for o in out.outcomes if o.rejected] == ["incorrect"]
    assert router.addresses["stable"] == stable and router.attached[-1] == ("stable", stable)  # the route is back
    assert backend.stopped == ["candidate"] and client.failed == 0
    evidence = [to_evidence(o) for o in out.outcomes]
    assert any(e.breached for e in evidence) and all(e.kind == "sequential" for e in evidence)


def test_a_good_candidate_is_promoted_and_keeps_running(setup: tuple[Backend, Router, Client, ShadowStage]) -> None:
    backend, _, client, stage = setup
    out = stage.run("v1", "v2-good", max_wait=4.0, interval=0.5, served_by_candidate=lambda: client.by_version.get("v2-good", 0))
    assert out.decision == "promote" and out.traffic.paired > 50 and out.never_served
    assert not any(o.rejected for o in out.outcomes)
    assert backend.stopped == [] and "candidate" in backend.models
    assert client.failed == 0 and set(client.by_version) == {"v1"}
    time.sleep(0.1)


def test_shadow_drills_validate_and_shadow_is_a_registered_strategy() -> None:
    drill = catalogue.load_drill("shadow-accuracy")
    assert drill.spec.strategy.kind == "shadow" and drill.spec.fault.rate == 0.055
    assert catalogue.load_drill("shadow-nondeterministic-control").spec.expect == "promote"
    assert "shadow" in strategies.names() and strategies.get("shadow") is SHADOW
    assert not SHADOW.analysis_judges(None)  # type: ignore[arg-type]  # the paired judge decides, not the canary analysis


def test_wrong_answers_on_a_share_of_inputs_is_fixed_by_the_input() -> None:
    from harness.serving import model_server

    model = {"version": "v3", "features": ["x0"], "weights": [1.0], "bias": 0.0, "fault": {"kind": "wrong_answers", "rate": 0.2}}
    clean = {**model, "fault": None}
    inputs = [{"x0": i / 100} for i in range(-500, 500)]
    flipped = [model_server.predict(model, f)[1]["prediction"] != model_server.predict(clean, f)[1]["prediction"] for f in inputs]
    assert 0.15 < sum(flipped) / len(flipped) < 0.25
    assert flipped == [model_server.predict(model, f)[1]["prediction"] != model_server.predict(clean, f)[1]["prediction"]
                       for f in inputs]  # the same inputs every time: a model worse on some inputs
