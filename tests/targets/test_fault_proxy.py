"""The fault proxy (harness/serving/fault_proxy.py) in threads, in front of a real local HTTP server."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.serving.fault_proxy import FaultConfig, FaultProxy


class Upstream:
    """A keep-alive JSON server on 127.0.0.1 that counts requests and TCP connections."""

    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0
        self.bodies: list[bytes] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
                upstream.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._reply({"status": "ok"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                upstream.bodies.append(body)
                self._reply({"prediction": "benign", "echo": json.loads(body or b"null")})

            def _reply(self, payload: dict[str, Any]) -> None:
                upstream.requests += 1
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Model-Version", "v2")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def start_proxy(upstream: Upstream, **fault: Any) -> FaultProxy:
    config = FaultConfig("127.0.0.1", upstream.port, **fault)
    return FaultProxy(config, port=0, metrics_port=0, host="127.0.0.1").start()


@pytest.fixture
def proxies() -> Iterator[list[FaultProxy]]:
    started: list[FaultProxy] = []
    yield started
    for proxy in started:
        proxy.shutdown()


def post(conn: http.client.HTTPConnection, path: str = "/predict", payload: object = None) -> tuple[int, dict[str, str], bytes]:
    conn.request("POST", path, json.dumps(payload if payload is not None else {"x": 1}), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def metrics(proxy: FaultProxy) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.metrics_port, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if not line.startswith("#")}


def test_forwards_untouched_with_keep_alive_on_both_sides(upstream: Upstream, proxies: list[FaultProxy]) -> None:
    proxy = start_proxy(upstream, kind="none")
    proxies.append(proxy)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    answers = [post(conn, payload={"n": i}) for i in range(20)]
    conn.close()
    assert all(status == 200 for status, _, _ in answers)
    assert [json.loads(body)["echo"]["n"] for _, _, body in answers] == list(range(20))
    assert answers[0][1]["x-model-version"] == "v2"
    assert upstream.requests == 20 and upstream.connections == 1  # one upstream connection, kept alive
    assert metrics(proxy)['drill_fault_proxy_requests_total{outcome="forwarded"}'] == 20


def test_error_answers_the_status_without_asking_the_upstream(upstream: Upstream, proxies: list[FaultProxy]) -> None:
    proxy = start_proxy(upstream, kind="error", rate=1.0, status=500, paths=("/predict",))
    proxies.append(proxy)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    status, headers, body = post(conn)
    health_status, _, _ = post(conn, "/healthz")  # another path: passed through
    conn.close()
    assert (status, headers["x-drill-fault"]) == (500, "error") and b"injected" in body
    assert health_status == 200 and upstream.requests == 1
    assert metrics(proxy)['drill_fault_injected_total{kind="error"}'] == 1


def test_error_share_matches_the_rate(upstream: Upstream, proxies: list[FaultProxy]) -> None:
    # Binomial(400, 0.3): mean 120, sd 9.2; five sd either side fails only on a broken sampler.
    proxy = start_proxy(upstream, kind="error", rate=0.3, seed=7)
    proxies.append(proxy)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    failed = sum(post(conn)[0] == 503 for _ in range(400))
    conn.close()
    assert 74 <= failed <= 166
    assert upstream.requests == 400 - failed


def test_latency_is_added(upstream: Upstream, proxies: list[FaultProxy]) -> None:
    proxy = start_proxy(upstream, kind="latency", rate=1.0, ms=150)
    proxies.append(proxy)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    started = time.perf_counter()
    status, headers, _ = post(conn)
    took = time.perf_counter() - started
    conn.close()
    assert status == 200 and headers["x-drill-fault"] == "latency" and took >= 0.15


def test_drop_resets_the_connection_without_an_answer(upstream: Upstream, proxies: list[FaultProxy]) -> None:
    proxy = start_proxy(upstream, kind="drop", rate=1.0)
    proxies.append(proxy)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
        post(conn)
    conn.close()
    assert upstream.requests == 0
    assert metrics(proxy)['drill_fault_injected_total{kind="drop"}'] == 1


def test_wrong_body_answers_200_with_the_given_body_and_keeps_the_version(upstream: Upstream, proxies: list[FaultProxy]) -> None:
    proxy = start_proxy(upstream, kind="wrong_body", rate=1.0, body=b'{"prediction": "malignant"}')
    proxies.append(proxy)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    status, headers, body = post(conn)
    conn.close()
    assert status == 200 and json.loads(body) == {"prediction": "malignant"}
    assert headers["x-model-version"] == "v2" and headers["content-length"] == str(len(body))
    assert upstream.requests == 1  # the upstream was asked: the latency stays real


def test_upstream_down_is_a_502(proxies: list[FaultProxy]) -> None:
    dead = Upstream()
    dead.close()  # its port is now refused
    proxy = start_proxy(dead, kind="none")
    proxies.append(proxy)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    status, _, body = post(conn)
    conn.close()
    assert status == 502 and b"upstream unreachable" in body
    assert metrics(proxy)['drill_fault_proxy_requests_total{outcome="upstream_error"}'] == 1


def test_chunked_request_bodies_are_forwarded_whole(upstream: Upstream, proxies: list[FaultProxy]) -> None:
    proxy = start_proxy(upstream, kind="none")
    proxies.append(proxy)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    conn.request("POST", "/predict", iter([b'{"a": ', b"1}"]), {"Content-Type": "application/json"}, encode_chunked=True)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200 and json.loads(body)["echo"] == {"a": 1}


@pytest.mark.parametrize(("env", "message"), [
    ({}, "UPSTREAM must be host:port"),
    ({"UPSTREAM": "candidate:http"}, "UPSTREAM must be host:port"),
    ({"UPSTREAM": "candidate:8080", "FAULT_KIND": "explode"}, "FAULT_KIND must be one of"),
])
def test_bad_configuration_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultConfig.from_env(env)


def test_configuration_from_the_environment() -> None:
    config = FaultConfig.from_env({"UPSTREAM": "candidate:8080", "FAULT_KIND": "error", "FAULT_RATE": "0.25",
                                   "FAULT_STATUS": "502", "FAULT_PATHS": "/predict,/v2/predict", "FAULT_SEED": "3"})
    assert (config.upstream_host, config.upstream_port, config.rate, config.status) == ("candidate", 8080, 0.25, 502)
    assert config.paths == ("/predict", "/v2/predict") and config.seed == 3 and b"injected" in config.body


def test_lower_case_request_headers_are_forwarded_once(upstream: Upstream, proxies: list[FaultProxy]) -> None:
    # HAProxy sends header names in lower case; the upstream must see one Content-Length, not two.
    seen: list[list[str]] = []
    original = upstream.server.RequestHandlerClass.do_POST  # type: ignore[attr-defined]

    def recording(handler: BaseHTTPRequestHandler) -> None:
        seen.append([k for k in handler.headers if k.lower() == "content-length"])
        original(handler)

    upstream.server.RequestHandlerClass.do_POST = recording  # type: ignore[attr-defined]
    proxy = start_proxy(upstream, kind="latency", rate=1.0, ms=1)
    proxies.append(proxy)
    body = b'{"x": 2}'
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nhost: proxy\r\ncontent-type: application/json\r\n"
                     b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200") and b'"echo": {"x": 2}' in reply
    assert seen == [["Content-Length"]]
