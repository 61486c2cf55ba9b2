"""Load generator with ground truth: labelled requests at a steady rate, client-side stats.

Every request is recorded (time, status, serving version, latency, correctness) so the drill's
result does not depend on Prometheus alone: this is the client's truth.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.model import make_examples


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds when the request was sent
    status: int  # HTTP status; 0 for a transport failure
    version: str | None
    latency_s: float
    correct: bool | None
    protected: bool
    score: float | None
    prediction: int | None = None

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


def probe(host: str, port: int, n: int, timeout: float = 5.0) -> list[Answer]:
    """N labelled requests in sequence on one connection, outside the load: for verification."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    answers = []
    try:
        for ex in make_examples(n, seed=random.randrange(1 << 30)):
            conn.request("POST", "/v1/predict", json.dumps({"features": ex.features}), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            answers.append(Answer(resp.status, resp.getheader("X-Model-Version"), resp.read()))
    finally:
        conn.close()
    return answers


class LoadGenerator:
    """Sends labelled requests to host:port at ``rate`` per second until stopped."""

    def __init__(self, host: str, port: int, rate: float, workers: int = 4, timeout: float = 5.0,
                 protected_feature: str = "x3", protected_above: float = 1.0, seed: int = 42) -> None:
        self.host, self.port, self.rate, self.timeout = host, port, rate, timeout
        self.protected = (protected_feature, protected_above)
        self._examples = make_examples(5000, seed)
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
            body = json.dumps({"features": ex.features}).encode()
            sent = time.time()
            started = time.perf_counter()
            status, version, correct, score, prediction = 0, None, None, None, None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                conn.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                raw = resp.read()
                status = resp.status
                version = resp.getheader("X-Model-Version")
                if status == 200:
                    answer = json.loads(raw)
                    version = answer.get("model_version", version)
                    correct = answer.get("prediction") == ex.label
                    score = answer.get("score")
                    prediction = answer.get("prediction")
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError):
                if conn is not None:
                    conn.close()
                conn = None
            pname, pmin = self.protected
            sample = Sample(sent, status, version, time.perf_counter() - started, correct,
                            ex.features.get(pname, 0.0) > pmin, score, prediction)
            with self._lock:
                self._samples.append(sample)
        if conn is not None:
            conn.close()
