"""A fault proxy that runs INSIDE a container, in front of any HTTP model server. Standard library only.

It forwards HTTP/1.1 (keep-alive on both sides: one upstream connection per client connection) and,
on a share of the requests to the faulted paths, injects a fault at the network level:

    error       answer FAULT_STATUS (503) with a small JSON body, without asking the upstream
    latency     wait FAULT_MS milliseconds, then forward
    drop        read the request, then reset the connection (no answer at all)
    wrong_body  forward, then answer status 200 with FAULT_BODY instead of the upstream's body
    none        forward everything untouched

Other paths (the health check, the server's own /metrics) pass through untouched, so the router
sees a healthy server that misbehaves only where clients feel it. ``GET /metrics`` on METRICS_PORT
gives Prometheus text: requests by fault and injected faults.

Configuration is by environment: UPSTREAM (host:port), PORT (8080), METRICS_PORT (9101),
FAULT_KIND, FAULT_RATE (0..1), FAULT_STATUS, FAULT_MS, FAULT_BODY (text), FAULT_PATHS (comma-separated
path prefixes; empty: every path), FAULT_SEED; REWRITE_FROM and REWRITE_TO: a request for exactly that path (its
query kept) goes upstream as the other, for a version served under a path of its own (the image target's
per-version ``predict_path``: the proxy then runs with FAULT_KIND none in front of that version).
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KINDS = ("error", "latency", "drop", "wrong_body", "none")
# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business, never forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "proxy-connection"}


@dataclass(frozen=True)
class FaultConfig:
    upstream_host: str
    upstream_port: int
    kind: str = "none"
    rate: float = 1.0
    status: int = 503
    ms: float = 0.0
    body: bytes = b'{"error": "injected fault"}'
    paths: tuple[str, ...] = ()
    seed: int | None = None
    timeout: float = 30.0
    rewrite: tuple[str, str] | None = None  # (the path asked for, the path sent upstream)

    def upstream_path(self, path: str) -> str:
        """The path sent upstream: ``path``, or REWRITE_TO where it is exactly REWRITE_FROM (query kept)."""
        if self.rewrite is None:
            return path
        bare, mark, query = path.partition("?")
        return self.rewrite[1] + mark + query if bare == self.rewrite[0] else path

    @classmethod
    def from_env(cls, env: dict[str, str]) -> FaultConfig:
        host, _, port = env.get("UPSTREAM", "").rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"UPSTREAM must be host:port, got {env.get('UPSTREAM', '')!r}")
        kind = env.get("FAULT_KIND", "none")
        if kind not in KINDS:
            raise ValueError(f"FAULT_KIND must be one of {', '.join(KINDS)}, got {kind!r}")
        default_body = b'{"error": "injected fault"}' if kind == "error" else b"{}"
        return cls(
            upstream_host=host, upstream_port=int(port), kind=kind,
            rate=float(env.get("FAULT_RATE", "1.0")), status=int(env.get("FAULT_STATUS", "503")),
            ms=float(env.get("FAULT_MS", "0")), body=env["FAULT_BODY"].encode() if "FAULT_BODY" in env else default_body,
            paths=tuple(p for p in env.get("FAULT_PATHS", "").split(",") if p),
            seed=int(env["FAULT_SEED"]) if env.get("FAULT_SEED") else None,
            timeout=float(env.get("UPSTREAM_TIMEOUT", "30")),
            rewrite=(env["REWRITE_FROM"], env["REWRITE_TO"]) if env.get("REWRITE_FROM") and env.get("REWRITE_TO") else None,
        )


class Counters:
    """Requests by outcome and injected faults, rendered in the Prometheus text format."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}  # by "faulted" / "forwarded" / "upstream_error"
        self.injected = 0

    def count(self, outcome: str, injected: bool) -> None:
        with self.lock:
            self.requests[outcome] = self.requests.get(outcome, 0) + 1
            self.injected += int(injected)

    def render(self) -> str:
        with self.lock:
            requests = dict(self.requests)
            injected = self.injected
        lines = ["# HELP drill_fault_proxy_requests_total Requests through the fault proxy, by outcome",
                 "# TYPE drill_fault_proxy_requests_total counter"]
        for outcome in ("faulted", "forwarded", "upstream_error"):
            lines.append(f'drill_fault_proxy_requests_total{{outcome="{outcome}"}} {requests.get(outcome, 0)}')
        lines += ["# HELP drill_fault_injected_total Faults injected", "# TYPE drill_fault_injected_total counter",
                  f'drill_fault_injected_total{{kind="{self.kind}"}} {injected}']
        return "\n".join(lines) + "\n"


class FaultProxy:
    """The proxy and its metrics listener; ``serve`` blocks, ``start`` runs both in threads (for tests)."""

    def __init__(self, config: FaultConfig, port: int = 8080, metrics_port: int = 9101, host: str = "0.0.0.0") -> None:
        self.config = config
        self.counters = Counters(config.kind)
        self._rng = random.Random(config.seed)
        self._rng_lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self.metrics_server = ThreadingHTTPServer((host, metrics_port), _metrics_handler(self.counters))
        self.metrics_server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def metrics_port(self) -> int:
        return int(self.metrics_server.server_address[1])

    def roll(self, path: str) -> bool:
        """Is this request faulted? Only faulted paths, and then a share ``rate`` of them."""
        if self.config.kind == "none":
            return False
        if self.config.paths and not any(path.split("?", 1)[0].startswith(p) for p in self.config.paths):
            return False
        with self._rng_lock:
            return self._rng.random() < self.config.rate

    def start(self) -> FaultProxy:
        for server in (self.server, self.metrics_server):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def serve(self) -> None:
        threading.Thread(target=self.metrics_server.serve_forever, daemon=True).start()
        self.server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        for server in (self.server, self.metrics_server):
            server.shutdown()
            server.server_close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    config = proxy.config

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        upstream: http.client.HTTPConnection | None = None

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            return  # one line a request would drown the container's log

        def do_GET(self) -> None:
            self._proxy()

        do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

        def _proxy(self) -> None:
            body = self._read_body()
            if body is None:
                return
            if proxy.roll(self.path):
                if config.kind == "drop":
                    proxy.counters.count("faulted", True)
                    self._reset()
                    return
                if config.kind == "error":
                    proxy.counters.count("faulted", True)
                    self._answer(config.status, {"content-type": "application/json", "x-drill-fault": "error"}, config.body)
                    return
                if config.kind == "latency":
                    time.sleep(config.ms / 1000.0)
                self._forward(body, wrong_body=config.kind == "wrong_body", faulted=True)
                return
            self._forward(body, wrong_body=False, faulted=False)

        def _read_body(self) -> bytes | None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = self.headers.get("Content-Length")
            if length is None:
                return b""
            try:
                return self.rfile.read(int(length))
            except ValueError:
                self._answer(400, {"content-type": "text/plain"}, b"bad Content-Length\n")
                self.close_connection = True
                return None

        def _forward(self, body: bytes, *, wrong_body: bool, faulted: bool) -> None:
            # Header names compare case-insensitively: HAProxy sends them lower-case, and a second
            # Content-Length next to ours makes the upstream refuse the request (400).
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
            headers["Content-Length"] = str(len(body))
            try:
                status, reply_headers, reply = self._send_upstream(body, headers)
            except (OSError, http.client.HTTPException) as exc:
                proxy.counters.count("upstream_error", False)
                message = f'{{"error": "upstream unreachable: {type(exc).__name__}"}}'.encode()
                self._answer(502, {"content-type": "application/json"}, message)
                return
            proxy.counters.count("faulted" if faulted else "forwarded", faulted)
            if wrong_body:
                reply_headers = {k: v for k, v in reply_headers.items() if k.lower() not in ("content-type", "content-encoding")}
                reply_headers.update({"content-type": "application/json", "x-drill-fault": "wrong_body"})
                status, reply = 200, config.body
            elif faulted:
                reply_headers["x-drill-fault"] = config.kind
            self._answer(status, reply_headers, reply)

        def _send_upstream(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            for attempt in (1, 2):  # a kept-alive upstream connection may have been closed meanwhile
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(config.upstream_host, config.upstream_port,
                                                               timeout=config.timeout)
                try:
                    self.upstream.request(self.command, config.upstream_path(self.path), body, headers)
                    resp = self.upstream.getresponse()
                    reply = resp.read()
                except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                    self.upstream.close()
                    self.upstream = None
                    if attempt == 2:
                        raise
                    continue
                if resp.will_close:
                    self.upstream.close()
                    self.upstream = None
                kept = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}}
                return resp.status, kept, reply
            raise http.client.HTTPException("unreachable")  # pragma: no cover - the loop returns or raises

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response_only(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            # Head and body in one write: two small writes meet Nagle and delayed ACKs (40 ms a request).
            buffered: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]  # the stdlib's own buffer
            buffered.append(b"\r\n")
            head = b"".join(buffered)
            buffered.clear()
            self.wfile.write(head + (body if self.command != "HEAD" else b""))

        def _reset(self) -> None:
            # SO_LINGER with a zero timeout: close() sends a RST, as a crashed peer or a dropping middlebox does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:
                pass  # the connection was reset on purpose
            if self.upstream is not None:
                self.upstream.close()

    return Handler


def _metrics_handler(counters: Counters) -> type[BaseHTTPRequestHandler]:
    class Metrics(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/metrics":
                status, body, kind = 200, counters.render().encode(), "text/plain; version=0.0.4"
            elif self.path == "/healthz":
                status, body, kind = 200, b"ok\n", "text/plain"
            else:
                status, body, kind = 404, b"not found\n", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Metrics


def main() -> None:
    try:
        config = FaultConfig.from_env(dict(os.environ))
    except ValueError as exc:
        print(f"fault proxy: {exc}", file=sys.stderr)
        sys.exit(2)
    proxy = FaultProxy(config, int(os.environ.get("PORT", "8080")), int(os.environ.get("METRICS_PORT", "9101")))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=proxy.shutdown, daemon=True).start())
    print(f"fault proxy: {config.kind} at rate {config.rate:g} in front of {config.upstream_host}:{config.upstream_port}, "
          f"serving :{proxy.port}", flush=True)
    proxy.serve()


if __name__ == "__main__":
    main()
