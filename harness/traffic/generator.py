"""Load generator with ground truth: labelled requests on a rate schedule, client-side stats.

Every request is recorded (time, status, serving version, latency, correctness) so the drill's
result does not depend on Prometheus alone: this is the client's truth. What a request looks like
and how an answer is read belong to the target's serving protocol (ports.ServingProtocol); where an
answer names no version, the slot the router says answered (``X-Drill-Backend``) names it.

The load is open-loop: request *n* goes out at the schedule's ``time_of(n)`` (harness.traffic.profile),
whether or not earlier answers came back, so a slow server does not lower the offered rate. The
sending happens in a process of its own (harness.traffic.sender: one asyncio loop, aiohttp), so the
run's own work cannot make it late; this module reads the answers it hands back into Samples.
"""

from __future__ import annotations

import bisect
import http.client
import os
import pickle
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.ports import Endpoint, Example, Reading, ServingProtocol
from harness.traffic import sender as load_sender
from harness.traffic.profile import Schedule

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


def unlabel(examples: Iterable[Example], share: float, seed: int) -> list[Example]:
    """The examples with the label dropped from ``share`` of them (reproducibly by seed): requests whose right
    answer the harness does not know, as most of production's."""
    rng = random.Random(seed ^ 0x5EED)
    return [replace(ex, expected=None) if share > 0 and ex.expected is not None and rng.random() < share else ex
            for ex in examples]


class LoadGenerator:
    """Sends labelled requests to host:port on ``rate`` (requests/s, or a Schedule) until stopped.

    ``workers`` bounds the requests in flight (the connections to the router); a request that waits for
    a free connection counts that wait in its latency, as a client would see it.
    """

    def __init__(self, endpoint: Endpoint, protocol: ServingProtocol, rate: float | Schedule, workers: int = 4,
                 timeout: float = 5.0, seed: int = 42, slot_versions: Mapping[str, str] | None = None,
                 labelled: float = 1.0) -> None:
        self.host, self.port, self.timeout = endpoint.host, endpoint.port, timeout
        self.schedule = rate if isinstance(rate, Schedule) else Schedule.constant(rate)
        self.rate = self.schedule.hold
        self.workers = workers
        self.protocol = protocol
        self.slot_versions = slot_versions if slot_versions is not None else {}  # live: the run updates it
        self._examples = unlabel(protocol.examples(5000, seed), 1.0 - labelled, seed)
        self._seed = seed
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._sent_at: list[float] = []  # send epochs of every request started, in order (the sender's reports)
        self._reported_at = 0.0  # epoch of the sender's last report
        self.started_at: float | None = None  # epoch seconds of the schedule's zero
        self.sender_cpu_s: float | None = None  # CPU seconds the sender process used, once stopped
        self._plan = load_sender.SenderPlan(f"http://{self.host}:{self.port}{protocol.path}", protocol.method,
                                            dict(protocol.headers), [ex.body for ex in self._examples],
                                            self.schedule, workers, timeout, seed)
        self._process: subprocess.Popen[bytes] | None = None
        self._reader = threading.Thread(target=self._read, daemon=True, name="load-reader")
        self._ready = threading.Event()

    def start(self) -> LoadGenerator:
        # The sender imports this very package: from where it is, installed or not.
        here = str(Path(load_sender.__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)}
        self._process = subprocess.Popen([sys.executable, "-m", "harness.traffic.sender"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env)
        assert self._process.stdin is not None
        self._process.stdin.write(pickle.dumps(self._plan, protocol=pickle.HIGHEST_PROTOCOL))
        self._process.stdin.flush()
        self._reader.start()
        self._ready.wait(timeout=30)  # the sender's first request is the schedule's zero
        return self

    def stop(self) -> None:
        proc = self._process
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()  # the sender's signal to stop: in-flight requests finish (each within the timeout)
        try:
            proc.wait(timeout=self.timeout + 3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)
        self._reader.join(timeout=2)

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

    @property
    def offered(self) -> int:
        """Requests sent so far (answered or not)."""
        with self._lock:
            return len(self._sent_at)

    def settle(self, cutoff: float, until: float, sleep: Callable[[float], None] = time.sleep) -> int:
        """Wait until the requests sent before ``cutoff`` (epoch s) have their answers, at the latest until epoch
        ``until`` (each answers or times out within ``timeout``); how many were still out then. An overloaded
        server's answers are the slow ones: judging before they arrive would count only the quick."""
        while True:
            with self._lock:
                # Every request is reported as started before (or with) its answer: once a report made after the
                # cutoff has arrived, the count of requests sent before it is final.
                sent = bisect.bisect_left(self._sent_at, cutoff)
                final = self._reported_at >= cutoff or self._process is None or self._process.poll() is not None
                answered = sum(1 for s in self._samples if s.at < cutoff)
            if (final and answered >= sent) or time.time() >= until:
                return max(0, sent - answered)
            sleep(0.05)

    def offered_between(self, start: float, end: float) -> float:
        """Requests the schedule offers between two epoch times (what was asked for, against what was achieved)."""
        if self.started_at is None or end <= start:
            return 0.0
        t0 = self.started_at
        return self.schedule.count_by(max(0.0, end - t0)) - self.schedule.count_by(max(0.0, start - t0))

    def _read(self) -> None:
        """Turn the sender's raw answers into Samples, with the protocol and the live slot map."""
        assert self._process is not None and self._process.stdout is not None
        out = self._process.stdout
        try:
            while True:
                message = pickle.load(out)  # noqa: S301 - our own child's output
                if message[0] == "start":
                    self.started_at = message[1]
                    self._ready.set()
                elif message[0] == "answers":
                    samples = [self._sample(*answer) for answer in message[1]]
                    with self._lock:
                        self._sent_at.extend(message[2])
                        self._samples.extend(samples)
                        self._reported_at = message[3]
                elif message[0] == "end":
                    self.sender_cpu_s = message[1]
        except (EOFError, OSError, pickle.UnpicklingError):
            pass  # the sender has exited
        finally:
            self._ready.set()
            out.close()

    def _sample(self, index: int, sent: float, latency: float, status: int, headers: dict[str, str],
                body: bytes) -> Sample:
        ex = self._examples[index]
        ok = 200 <= status < 300
        reading = read_answer(self.protocol, ex, status, headers, body, self.slot_versions) if status else Reading(None)
        return Sample(sent, status, reading.version, latency, reading.correct if ok else None, ex.protected,
                      reading.score if ok else None, reading.prediction if ok else None)
