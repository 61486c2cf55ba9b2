"""The tee (harness/serving/tee_proxy.py) in threads, in front of real local HTTP servers: the client is answered
by the stable, copies reach the candidate and the secondary, and a candidate that hangs or is gone never slows
or fails a client request. The harness side (harness.judge.tee_records) reads the records through 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.judge import paired
from harness.judge.tee_records import TeeReader, examples_by_digest
from harness.ports import Endpoint, Example, Reading
from harness.serving.tee_proxy import Tee, TeeConfig


class Server:
    """A keep-alive JSON model stand-in on 127.0.0.1: answers {"prediction": label or its fixed answer},
    after ``delay_s`` (a hanging candidate: longer than anything waits)."""

    def __init__(self, name: str, answer: int | None = None, delay_s: float = 0.0) -> None:
        self.requests = 0
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                server.requests += 1
                if delay_s:
                    server.release.wait(delay_s)
                data = json.dumps({"prediction": body["label"] if answer is None else answer, "model_version": name}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", int(self.server.server_address[1])

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Protocol:
    """A serving protocol over the stand-in's JSON (a fake through the seam, as ports.ServingProtocol allows)."""

    method, path, headers = "POST", "/predict", {"Content-Type": "application/json"}

    def examples(self, n: int, seed: int) -> Sequence[Example]:
        return [Example(json.dumps({"x": i, "label": i % 2}).encode(), expected=i % 2) for i in range(n)]

    def read(self, example: Example, status: int, headers: Mapping[str, str], body: bytes) -> Reading:
        prediction = json.loads(body)["prediction"]
        return Reading(None, prediction, None, None if example.expected is None else prediction == example.expected)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for s in started:
        s.close()


def start(servers: list[Server], candidate: Server | tuple[str, int], secondary: bool = True, **kw: Any) -> Tee:
    stable = Server("v1")
    servers.append(stable)
    second = Server("v1b") if secondary else None
    if second is not None:
        servers.append(second)
    cand = candidate.address if isinstance(candidate, Server) else candidate
    config = TeeConfig(stable.address, cand, second.address if second else None, **kw)
    return Tee(config, port=0, records_port=0, host="127.0.0.1").start()


def send(tee: Tee, examples: Sequence[Example]) -> list[tuple[int, float]]:
    conn = http.client.HTTPConnection("127.0.0.1", tee.port, timeout=10)
    out = []
    for ex in examples:
        started = time.perf_counter()
        conn.request("POST", "/predict", ex.body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert body["model_version"] == "v1"  # the client always gets the stable's answer
        out.append((resp.status, time.perf_counter() - started))
    conn.close()
    return out


def reader(tee: Tee) -> TeeReader:
    return TeeReader(Endpoint("127.0.0.1", tee.records_port), Protocol(), examples_by_digest(Protocol().examples(40, 0)))


def wait_records(r: TeeReader, n: int, timeout: float = 10.0) -> list[paired.PairedRecord]:
    got: list[paired.PairedRecord] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got.extend(r.poll())
        time.sleep(0.05)
    return got


def test_pairs_stable_candidate_and_secondary_on_the_same_requests(servers: list[Server]) -> None:
    cand = Server("v2", answer=1)  # always answers 1: wrong on every even label
    servers.append(cand)
    tee = start(servers, cand)
    try:
        examples = Protocol().examples(40, 0)
        assert all(status == 200 for status, _ in send(tee, examples))
        records = wait_records(reader(tee), 40)
        assert len(records) == 40 and cand.requests == 40
        judge = paired.PairedJudge(0.01, measures=("error", "incorrect"))
        judge.extend(records)
        inc = judge.counts["incorrect"]
        assert (inc.pairs, inc.worse, inc.better) == (40, 20, 0)
        assert all(r.secondary is not None and r.secondary.prediction == r.stable.prediction for r in records)
        assert all(r.stable.correct for r in records)
    finally:
        tee.shutdown()


def test_a_hanging_candidate_never_slows_or_fails_the_client(servers: list[Server]) -> None:
    hanging = Server("v2", delay_s=60.0)  # answers nothing for a minute
    servers.append(hanging)
    tee = start(servers, hanging, queue_size=4, workers=2, copy_timeout=30.0)
    try:
        results = send(tee, Protocol().examples(40, 0) * 3)
        assert all(status == 200 for status, _ in results)
        # Every answer came well before the candidate's first copy could have: the tee never waited for it.
        assert max(latency for _, latency in results) < 5.0
        r = reader(tee)
        r.poll()
        assert r.mirrored == 120
        assert r.dropped["candidate"] >= 120 - 4 - 2  # the queue and the workers' copies; the rest dropped
    finally:
        hanging.release.set()
        tee.shutdown()


def test_a_crashed_candidate_is_the_candidates_error_never_the_clients(servers: list[Server]) -> None:
    with socket.socket() as s:  # a port nothing listens on: the candidate's container is gone
        s.bind(("127.0.0.1", 0))
        gone = s.getsockname()
    tee = start(servers, gone, secondary=False)
    try:
        assert all(status == 200 for status, _ in send(tee, Protocol().examples(20, 0)))
        records = wait_records(reader(tee), 20)
        assert len(records) == 20
        assert all(r.candidate is not None and r.candidate.status == 0 for r in records)
        judge = paired.PairedJudge(0.01, measures=("error",))
        judge.extend(records)
        assert judge.counts["error"].worse == 20
    finally:
        tee.shutdown()


def test_share_zero_is_a_plain_proxy_and_the_config_is_checked(servers: list[Server]) -> None:
    cand = Server("v2")
    servers.append(cand)
    tee = start(servers, cand, share=0.0)
    try:
        send(tee, Protocol().examples(10, 0))
        time.sleep(0.2)
        assert cand.requests == 0 and reader(tee).poll() == []
    finally:
        tee.shutdown()
    with pytest.raises(ValueError, match="CANDIDATE must be host:port"):
        TeeConfig.from_env({"UPSTREAM": "stable:8080"})
    with pytest.raises(ValueError, match="MIRROR_SHARE"):
        TeeConfig.from_env({"UPSTREAM": "stable:8080", "CANDIDATE": "candidate:8080", "MIRROR_SHARE": "2"})
    config = TeeConfig.from_env({"UPSTREAM": "stable:8080", "CANDIDATE": "candidate:8080", "SECONDARY": "secondary:8080",
                                 "MIRROR_PATHS": "/v1/predict"})
    assert config.secondary == ("secondary", 8080) and config.paths == ("/v1/predict",)
    assert hashlib.sha256(b"").hexdigest() in examples_by_digest([Example(b"")])
