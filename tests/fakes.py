"""A fake target for unit tests: every seam of harness.ports, in process, no Docker.

The "router" is a real HTTP server on 127.0.0.1 that picks a slot by weight and answers as the version
in that slot would (a version named in ``bad`` fails ~30 % of requests with 500). Tests inject it into
the engine through ``Engine(make_target=...)``; nothing is patched.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.ports import AliasMove, Endpoint, Progress, ReadLog, RollbackEvent, ServerState, ServiceFailed, Versions
from harness.spec.catalogue import LoadedDrill
from harness.targets.builtin.model import FEATURES, TRUE_BIAS, TRUE_WEIGHTS
from harness.targets.builtin.registry import RegistryError
from harness.targets.builtin.target import ArtifactFault, FeatureProtocol


class QuietHandler(BaseHTTPRequestHandler):
    """What every in-process test server's handler shares: HTTP/1.1 keep-alive, and no log lines."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


class FakeRegistry(ReadLog):
    def __init__(self, model: str, versions: Versions, broken: set[str] | None = None) -> None:
        self.model = model
        self._versions = [versions.previous, versions.stable, versions.candidate]
        self._aliases = {"previous": versions.previous, "champion": versions.stable}
        self.broken = broken or set()
        self.moves: list[AliasMove] = []
        self.rollbacks: list[RollbackEvent] = []

    def versions(self) -> list[str]:
        return list(self._versions)

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def resolve(self, ref: str) -> str:
        return self._aliases.get(ref, ref)

    def set_alias(self, alias: str, version: str, reason: str) -> AliasMove:
        move = AliasMove(datetime.now(UTC), alias, self._aliases.get(alias), version, reason)
        self._aliases[alias] = version
        self.moves.append(move)
        return move

    def promote(self, version: str, reason: str) -> None:
        old = self._aliases.get("champion")
        if old is not None and old != version:
            self.set_alias("previous", old, reason)
        self.set_alias("champion", version, reason)

    def restore_previous(self, reason: str) -> str:
        previous = self._aliases["previous"]
        self.check_deployable(previous)
        self.set_alias("champion", previous, reason)
        return previous

    def check_deployable(self, version: str) -> None:
        self._note_read(version)  # the drill's verdict asks whether a sabotaged artifact was reached
        if version in self.broken:
            raise RegistryError(f"{self.model}/{version}: artifact corrupt")

    def record_rollback(self, event: RollbackEvent) -> None:
        self.rollbacks.append(event)

    def history(self) -> list[dict[str, Any]]:
        return [{"alias": m.alias, "from": m.from_version, "to": m.to_version} for m in self.moves]


def _truth(features: Mapping[str, float]) -> int:
    """The built-in model's right answer for these features (its true weights, without the label noise)."""
    return 1 if TRUE_BIAS + sum(w * features.get(f, 0.0) for w, f in zip(TRUE_WEIGHTS, FEATURES, strict=True)) > 0 else 0


class FakeRouter:
    """Weights and states like HAProxy's runtime API; ``answer`` answers as the version in the chosen slot.

    ``behaviour`` names what a version does wrong (``*``: every version): ``errors`` (~30 % 500s), ``errors-20``
    (20 % 500s), ``hang`` (never answers: the router's own 504, stamped with the slot as HAProxy's
    ``http-after-response`` does), ``wrong`` (half its answers flipped), ``strings`` (its classes as JSON strings,
    ``"1"``, where the labels are numbers), ``errors-after-S`` (as ``errors`` once it has served for S seconds: a
    regression that shows late). A version in ``bad`` behaves as ``errors``."""

    def __init__(self, bad: set[str], behaviour: Mapping[str, str] | None = None) -> None:
        self.bad = bad
        self.behaviour = dict(behaviour or {})
        self.first_served: dict[str, float] = {}
        self.weights = {"stable": 100, "candidate": 0}
        self.states = {"stable": "ready", "candidate": "maint"}
        self.slot_version: dict[str, str] = {}
        self.alive = True
        self._lock = threading.Lock()
        self._rng = random.Random(7)

    def attach(self, slot: str, endpoint: Endpoint, timeout: float = 10.0) -> None:
        self.slot_version[slot] = endpoint.host  # the fake backend's endpoint host is the version it runs
        self.states[slot] = "ready"

    def set_weight(self, slot: str, weight: int) -> None:
        self.weights[slot] = weight

    def set_state(self, slot: str, state: str) -> None:
        self.states[slot] = state

    def servers(self) -> Mapping[str, ServerState]:
        return {s: ServerState(s, "UP" if self.states[s] == "ready" else "MAINT", self.weights[s], "", 0)
                for s in self.states}

    def wait_up(self, slot: str, timeout: float = 10.0) -> None:
        if self.states.get(slot) != "ready":
            raise ServiceFailed(f"{slot} is not up")

    def answer(self, features: Mapping[str, float] | None = None) -> tuple[int, dict[str, Any], str | None, str | None]:
        """(status, body, the version's header, the slot the router stamps)."""
        with self._lock:
            live = [(s, w) for s, w in self.weights.items() if self.states.get(s) == "ready" and w > 0
                    and s in self.slot_version]
            if not self.alive or not live:
                return 503, {"error": "no server"}, None, None
            slot = self._rng.choices([s for s, _ in live], [w for _, w in live])[0]
            version = self.slot_version[slot]
            does = self.behaviour.get(version, self.behaviour.get("*", "errors" if version in self.bad else ""))
            draw = self._rng.random()
            served_s = time.monotonic() - self.first_served.setdefault(version, time.monotonic())
        if does.startswith("errors-after-"):
            does = "errors" if served_s >= float(does.removeprefix("errors-after-")) else ""
        if does == "hang":
            return 504, {"error": "gateway timeout"}, None, slot
        if (does == "errors" and draw < 0.3) or (does == "errors-20" and draw < 0.2):
            return 500, {"error": "boom"}, version, slot
        prediction: Any = _truth(features or {})
        if does == "wrong" and draw < 0.5:
            prediction = 1 - prediction
        if does == "strings":
            prediction = str(prediction)
        return 200, {"prediction": prediction, "score": 0.9, "model_version": version}, version, slot


class FakeBackend:
    kind = "fake"

    def __init__(self, crash: set[str] | None = None) -> None:
        self.crash = crash or set()
        self.slots: dict[str, str] = {}

    def start(self, slot: str, version: str) -> Endpoint:
        if version in self.crash:
            raise ServiceFailed(f"model {version} failed to initialise")
        self.slots[slot] = version
        return Endpoint(version, 0)

    def stop(self, slot: str) -> None:
        self.slots.pop(slot, None)

    def running(self, slot: str) -> bool:
        return slot in self.slots

    def address(self, slot: str) -> Endpoint | None:
        return Endpoint(self.slots[slot], 0) if slot in self.slots else None

    def replicas(self) -> dict[str, int] | None:
        return None


class NoMetrics:
    """A Prometheus that scrapes the stack (every metric has a series) but whose queries have no data, unless
    ``answers`` gives a query's value (keyed by the query's text)."""

    def __init__(self, answers: Mapping[str, float] | None = None) -> None:
        self.answers = dict(answers or {})

    def query(self, promql: str) -> float | None:
        if promql.startswith("count({__name__="):
            return 1.0
        return self.answers.get(promql)


class FakeTarget:
    """A whole target in process. ``bad``: versions that fail 30 % of requests; ``broken``: undeployable ones."""

    name = "fake"

    def __init__(self, bad: set[str] | None = None, broken: set[str] | None = None,
                 crash: set[str] | None = None, close_interrupts: int = 0,
                 prepare_raises: Exception | None = None, close_raises: Exception | None = None,
                 behaviour: Mapping[str, str] | None = None) -> None:
        self.prepare_raises = prepare_raises  # what prepare() raises, as a target's own late check would
        self.close_raises = close_raises  # what close() raises once its server is down (a Docker API error)
        self.close_interrupts = close_interrupts  # this many close() calls are hit by a Ctrl-C first
        self.close_calls = 0
        self.versions = Versions("v1", "v2", "v3")
        self.backend = FakeBackend(crash)
        self.router = FakeRouter(bad if bad is not None else {"v3"}, behaviour)
        self.registry = FakeRegistry("fraud", self.versions, broken)
        self.protocol = FeatureProtocol()
        self.fault = ArtifactFault("fake")
        self.metrics = NoMetrics()
        self.closed = 0
        self.images_source: str | None = None
        self.sabotaged: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def traffic_endpoint(self) -> Endpoint:
        assert self._server is not None
        return Endpoint("127.0.0.1", self._server.server_address[1])

    def prepare(self, progress: Progress) -> None:
        if self.prepare_raises is not None:
            raise self.prepare_raises
        router = self.router

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                status, body, version, slot = router.answer(request.get("features"))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                if version:
                    self.send_header("X-Model-Version", version)
                if slot:
                    self.send_header("X-Drill-Backend", slot)
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.router.attach("stable", self.backend.start("stable", self.versions.stable))

    def sabotage(self, how: str) -> None:
        """Break the way back for real: the stable version becomes undeployable in the registry."""
        self.sabotaged.append(how)
        if how != "none":
            self.registry.broken.add(self.versions.stable)

    def services(self) -> dict[str, bool]:
        return {"router": self.router.alive, "stable": self.backend.running("stable")}

    def close(self) -> None:
        self.close_calls += 1
        if self.close_calls <= self.close_interrupts:
            raise KeyboardInterrupt  # a second Ctrl-C landing in the middle of teardown
        self.closed += 1
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.close_raises is not None:
            raise self.close_raises


def factory(target: FakeTarget) -> Any:
    """An engine ``make_target`` that hands out ``target``."""

    def make(drill: LoadedDrill, run_id: str, workdir: Path, backend: str | None) -> FakeTarget:
        return target

    return make


def default_sigint() -> None:
    """``preexec_fn`` for a child a test sends SIGINT: Ctrl-C's default disposition, whatever the suite inherited.

    A background job of a non-interactive shell starts with SIGINT ignored, and a child inherits that: without
    this, such a child would never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
