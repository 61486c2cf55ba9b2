"""Load generator with ground truth: labelled requests at a steady rate, client-side stats.

Every request is recorded (time, status, serving version, latency, correctness) so the drill's
result does not depend on Prometheus alone: this is the client's truth. What a request looks like
and how an answer is read belong to the target's serving protocol (ports.ServingProtocol); where an
answer names no version, the slot the router says answered (``X-Drill-Backend``) names it.
"""

from __future__ import annotations

import http.client
import queue
import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.ports import Endpoint, Example, Reading, ServingProtocol

BACKEND_HEADER = "x-drill-backend"


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds when the request was sent
    status: int  # HTTP status; 0 for a transport failure
    version: str | None
    latency_s: float
    correct: bool | None
    protected: bool
    score: float | None
    prediction: Any = None  # the built-in model's class (0, 1), or whatever a team's server answers ("benign")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class WindowStats:
    requests: int
    failed: int
    by_version: dict[str, int]

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


def window(samples: Iterable[Sample], start: float, end: float) -> WindowStats:
    chosen = [s for s in samples if start <= s.at < end]
    by_version: dict[str, int] = {}
    for s in chosen:
        if s.version:
            by_version[s.version] = by_version.get(s.version, 0) + 1
    return WindowStats(len(chosen), sum(not s.ok for s in chosen), by_version)


def ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True)
class Answer:
    status: int
    version: str | None
    body: bytes


def read_answer(protocol: ServingProtocol, example: Example, status: int, headers: Mapping[str, str], body: bytes,
                slot_versions: Mapping[str, str]) -> Reading:
    """The protocol's reading of an answer; the version falls back to the slot the router says answered."""
    try:
        reading = protocol.read(example, status, headers, body)
    except ValueError:  # an answer the protocol cannot parse is still an answer with a status
        reading = Reading(None)
    if reading.version is None and (slot := headers.get(BACKEND_HEADER)):
        reading = Reading(slot_versions.get(slot), reading.prediction, reading.score, reading.correct)
    return reading


def _send(conn: http.client.HTTPConnection, protocol: ServingProtocol, example: Example
          ) -> tuple[int, dict[str, str], bytes]:
    conn.request(protocol.method, protocol.path, example.body, dict(protocol.headers))
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def probe(endpoint: Endpoint, protocol: ServingProtocol, n: int, timeout: float = 5.0,
          slot_versions: Mapping[str, str] | None = None) -> list[Answer]:
    """N requests in sequence on one connection, outside the load: for verification."""
    conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    answers = []
    try:
        for ex in protocol.examples(n, seed=random.randrange(1 << 30)):
            status, headers, body = _send(conn, protocol, ex)
            reading = read_answer(protocol, ex, status, headers, body, slot_versions or {})
            answers.append(Answer(status, reading.version, body))
            if headers.get("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    finally:
        conn.close()
    return answers


class LoadGenerator:
    """Sends labelled requests to host:port at ``rate`` per second until stopped."""

    def __init__(self, endpoint: Endpoint, protocol: ServingProtocol, rate: float, workers: int = 4,
                 timeout: float = 5.0, seed: int = 42, slot_versions: Mapping[str, str] | None = None) -> None:
        self.host, self.port, self.rate, self.timeout = endpoint.host, endpoint.port, rate, timeout
        self.protocol = protocol
        self.slot_versions = slot_versions if slot_versions is not None else {}  # live: the run updates it
        self._examples = list(protocol.examples(5000, seed))
        self._rng = random.Random(seed)
        self._slots: queue.Queue[float | None] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._threads = [threading.Thread(target=self._worker, daemon=True, name=f"load-{i}") for i in range(workers)]
        self._ticker = threading.Thread(target=self._tick, daemon=True, name="load-ticker")

    def start(self) -> LoadGenerator:
        for t in self._threads:
            t.start()
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for _ in self._threads:
            self._slots.put(None)
        self._ticker.join(timeout=2)
        for t in self._threads:
            t.join(timeout=self.timeout + 1)

    def __enter__(self) -> LoadGenerator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def examples(self) -> list[Example]:
        """The requests it picks from (a shadow stage reads the labels of mirrored requests off them)."""
        return list(self._examples)

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def _tick(self) -> None:
        # A fixed schedule (not sleep-after-send), so slow answers do not lower the offered rate.
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < next_at:
                time.sleep(min(next_at - now, 0.05))
                continue
            self._slots.put(time.time())
            next_at += interval

    def _worker(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            slot = self._slots.get()
            if slot is None:
                break
            ex = self._examples[self._rng.randrange(len(self._examples))]
            sent = time.time()
            started = time.perf_counter()
            status, reading = 0, Reading(None)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                status, headers, body = _send(conn, self.protocol, ex)
                reading = read_answer(self.protocol, ex, status, headers, body, self.slot_versions)
                if headers.get("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            sample = Sample(sent, status, reading.version, time.perf_counter() - started,
                            reading.correct if 200 <= status < 300 else None, ex.protected,
                            reading.score if 200 <= status < 300 else None,
                            reading.prediction if 200 <= status < 300 else None)
            with self._lock:
                self._samples.append(sample)
        if conn is not None:
            conn.close()
