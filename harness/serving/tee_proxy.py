"""A tee that runs INSIDE a container in front of the stable model server, the way the fault proxy does.
Standard library only (the role image copies this one file).

Every client request is forwarded to UPSTREAM (the stable) and the stable's answer goes straight back to
the client. Then, off the request path, a copy goes to CANDIDATE and, when set, to SECONDARY (a second
stable instance: the noise floor, as Twitter's Diffy's secondary). Copies wait in one bounded queue per
mirror, sent by a few workers with their own timeout; when a queue is full the copy is dropped and
counted, so a candidate that hangs or crashes never slows or fails a client request.

Each mirrored request becomes a paired record: the request body's SHA-256 (the harness knows which of its
labelled examples that is), and for stable, candidate and secondary the status (0: transport failure or
timeout; null: dropped), the latency measured here, and the answer body (base64, at most 64 KiB).
``GET /records?since=N`` on RECORDS_PORT answers ``{"next", "records", "mirrored", "dropped"}``, records
in the order they completed; ``GET /metrics`` gives Prometheus text.

Configuration is by environment: UPSTREAM, CANDIDATE, SECONDARY (host:port; SECONDARY optional), PORT (8080),
RECORDS_PORT (9102), MIRROR_PATHS (comma-separated path prefixes; empty: every path), MIRROR_SHARE (0..1,
1: every request; 0: a plain proxy), QUEUE (per mirror, 256), WORKERS (per mirror, 4), COPY_TIMEOUT
(seconds, 2), UPSTREAM_TIMEOUT (30), MAX_RECORDS (records kept, 200000).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import queue
import random
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "proxy-connection"}
MAX_BODY = 64 * 1024


def _address(env: dict[str, str], name: str, required: bool = True) -> tuple[str, int] | None:
    value = env.get(name, "")
    if not value and not required:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{name} must be host:port, got {value!r}")
    return host, int(port)


@dataclass(frozen=True)
class TeeConfig:
    upstream: tuple[str, int]
    candidate: tuple[str, int]
    secondary: tuple[str, int] | None = None
    paths: tuple[str, ...] = ()
    share: float = 1.0
    queue_size: int = 256
    workers: int = 4
    copy_timeout: float = 2.0
    timeout: float = 30.0
    max_records: int = 200_000

    @classmethod
    def from_env(cls, env: dict[str, str]) -> TeeConfig:
        upstream, candidate = _address(env, "UPSTREAM"), _address(env, "CANDIDATE")
        assert upstream is not None and candidate is not None
        share = float(env.get("MIRROR_SHARE", "1"))
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"MIRROR_SHARE must be in [0, 1], got {share}")
        return cls(upstream, candidate, _address(env, "SECONDARY", required=False),
                   tuple(p for p in env.get("MIRROR_PATHS", "").split(",") if p), share,
                   int(env.get("QUEUE", "256")), int(env.get("WORKERS", "4")), float(env.get("COPY_TIMEOUT", "2")),
                   float(env.get("UPSTREAM_TIMEOUT", "30")), int(env.get("MAX_RECORDS", "200000")))


def _answer_json(status: int | None, latency_s: float | None, body: bytes) -> dict[str, Any]:
    return {"status": status, "latency_s": latency_s, "body": base64.b64encode(body[:MAX_BODY]).decode()}


class _Pending:
    """One mirrored request until every mirror has answered (or its copy was dropped)."""

    def __init__(self, tee: Tee, at: float, request: tuple[str, str, dict[str, str], bytes], stable: dict[str, Any],
                 waiting: int) -> None:
        self.tee, self.request, self.waiting = tee, request, waiting
        self.record: dict[str, Any] = {"at": at, "path": request[1], "request_sha256": hashlib.sha256(request[3]).hexdigest(),
                                       "stable": stable, "candidate": None, "secondary": None}
        self.lock = threading.Lock()

    def done(self, mirror: str, answer: dict[str, Any] | None) -> None:
        with self.lock:
            self.record[mirror] = answer if answer is not None else _answer_json(None, None, b"")
            self.waiting -= 1
            complete = self.waiting == 0
        if complete:
            self.tee.keep(self.record)


class Mirror:
    """One mirror target: a bounded queue and its workers, each with a kept-alive connection."""

    def __init__(self, tee: Tee, name: str, address: tuple[str, int], config: TeeConfig) -> None:
        self.tee, self.name, self.address, self.config = tee, name, address, config
        self.queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=config.queue_size)
        self.sent = self.failed = self.dropped = 0
        self.threads = [threading.Thread(target=self._work, daemon=True, name=f"tee-{name}-{i}")
                        for i in range(config.workers)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def offer(self, pending: _Pending) -> None:
        try:
            self.queue.put_nowait(pending)
        except queue.Full:
            with self.tee.lock:
                self.dropped += 1
            pending.done(self.name, None)

    def _work(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            pending = self.queue.get()
            if pending is None:
                break
            method, path, headers, body = pending.request
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(*self.address, timeout=self.config.copy_timeout)
                conn.request(method, path, body, headers)
                resp = conn.getresponse()
                reply = resp.read()
                status = resp.status
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn, status, reply = None, 0, b""
            with self.tee.lock:
                self.sent += 1
                self.failed += status == 0
            pending.done(self.name, _answer_json(status, time.perf_counter() - started, reply))
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        for _ in self.threads:
            try:
                self.queue.put_nowait(None)
            except queue.Full:
                break  # daemon threads: they go with the process


class Tee:
    """The tee and its records listener; ``serve`` blocks, ``start`` runs both in threads (for tests)."""

    def __init__(self, config: TeeConfig, port: int = 8080, records_port: int = 9102, host: str = "0.0.0.0") -> None:
        self.config = config
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.first = 0  # the sequence number of records[0] (old records are let go past max_records)
        self.requests = self.mirrored = 0
        self._rng = random.Random()
        self.mirrors = [Mirror(self, "candidate", config.candidate, config)]
        if config.secondary is not None:
            self.mirrors.append(Mirror(self, "secondary", config.secondary, config))
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self.records_server = ThreadingHTTPServer((host, records_port), _records_handler(self))
        self.records_server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def records_port(self) -> int:
        return int(self.records_server.server_address[1])

    def wants(self, path: str) -> bool:
        if self.config.share <= 0.0:
            return False
        if self.config.paths and not any(path.split("?", 1)[0].startswith(p) for p in self.config.paths):
            return False
        with self.lock:
            return self.config.share >= 1.0 or self._rng.random() < self.config.share

    def mirror(self, at: float, request: tuple[str, str, dict[str, str], bytes], stable: dict[str, Any]) -> None:
        with self.lock:
            self.mirrored += 1
        pending = _Pending(self, at, request, stable, len(self.mirrors))
        for m in self.mirrors:
            m.offer(pending)

    def keep(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.records.append(record)
            extra = len(self.records) - self.config.max_records
            if extra > 0:
                del self.records[:extra]
                self.first += extra

    def since(self, seq: int) -> dict[str, Any]:
        with self.lock:
            start = max(seq - self.first, 0)
            chosen = self.records[start:start + 5000]
            return {"next": self.first + start + len(chosen), "records": chosen, "mirrored": self.mirrored,
                    "dropped": {m.name: m.dropped for m in self.mirrors}}

    def render(self) -> str:
        with self.lock:
            lines = ["# TYPE drill_tee_requests_total counter", f"drill_tee_requests_total {self.requests}",
                     "# TYPE drill_tee_mirrored_total counter", f"drill_tee_mirrored_total {self.mirrored}",
                     "# TYPE drill_tee_copies_total counter"]
            for m in self.mirrors:
                for outcome, n in (("sent", m.sent), ("failed", m.failed), ("dropped", m.dropped)):
                    lines.append(f'drill_tee_copies_total{{mirror="{m.name}",outcome="{outcome}"}} {n}')
        return "\n".join(lines) + "\n"

    def start(self) -> Tee:
        for m in self.mirrors:
            m.start()
        for server in (self.server, self.records_server):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def serve(self) -> None:
        for m in self.mirrors:
            m.start()
        threading.Thread(target=self.records_server.serve_forever, daemon=True).start()
        self.server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        for m in self.mirrors:
            m.stop()
        for server in (self.server, self.records_server):
            server.shutdown()
            server.server_close()


def _handler(tee: Tee) -> type[BaseHTTPRequestHandler]:
    config = tee.config

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        upstream: http.client.HTTPConnection | None = None

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self._proxy()

        do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

        def _proxy(self) -> None:
            length = self.headers.get("Content-Length")
            body = self.rfile.read(int(length)) if length and length.isdigit() else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
            headers["Content-Length"] = str(len(body))
            at, started = time.time(), time.perf_counter()
            try:
                status, reply_headers, reply = self._send_upstream(body, headers)
            except (OSError, http.client.HTTPException) as exc:
                status, reply_headers = 502, {"content-type": "application/json"}
                reply = f'{{"error": "upstream unreachable: {type(exc).__name__}"}}'.encode()
            latency = time.perf_counter() - started
            with tee.lock:
                tee.requests += 1
            self._answer(status, reply_headers, reply)  # the client has its answer before any copy is made
            if tee.wants(self.path):
                tee.mirror(at, (self.command, self.path, headers, body), _answer_json(status, latency, reply))

        def _send_upstream(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            for attempt in (1, 2):  # a kept-alive upstream connection may have been closed meanwhile
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(*config.upstream, timeout=config.timeout)
                try:
                    self.upstream.request(self.command, self.path, body, headers)
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
            buffered: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]  # the stdlib's own buffer
            buffered.append(b"\r\n")
            head = b"".join(buffered)
            buffered.clear()
            self.wfile.write(head + (body if self.command != "HEAD" else b""))  # one write: no Nagle stalls
            self.wfile.flush()

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:
                pass
            if self.upstream is not None:
                self.upstream.close()

    return Handler


def _records_handler(tee: Tee) -> type[BaseHTTPRequestHandler]:
    class Records(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/records":
                params = dict(p.partition("=")[::2] for p in query.split("&") if p)
                since = params.get("since", "0")
                status, body, kind = 200, json.dumps(tee.since(int(since) if since.isdigit() else 0)).encode(), "application/json"
            elif path == "/metrics":
                status, body, kind = 200, tee.render().encode(), "text/plain; version=0.0.4"
            elif path == "/healthz":
                status, body, kind = 200, b"ok\n", "text/plain"
            else:
                status, body, kind = 404, b"not found\n", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Records


def main() -> None:
    try:
        config = TeeConfig.from_env(dict(os.environ))
    except ValueError as exc:
        print(f"tee proxy: {exc}", file=sys.stderr)
        sys.exit(2)
    tee = Tee(config, int(os.environ.get("PORT", "8080")), int(os.environ.get("RECORDS_PORT", "9102")))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=tee.shutdown, daemon=True).start())
    mirrors = ", ".join(f"{m.name} {m.address[0]}:{m.address[1]}" for m in tee.mirrors)
    print(f"tee proxy: {config.upstream[0]}:{config.upstream[1]} answers, copies to {mirrors} "
          f"(share {config.share:g}), serving :{tee.port}", flush=True)
    tee.serve()


if __name__ == "__main__":
    main()
