"""router-api-slow / router-api-down: the router's control plane slow or refusing, its data plane untouched.

HAProxy's runtime API is a unix socket inside the router container, passed on by a TCP frontend that only
the harness reaches (on 127.0.0.1). The fault puts a proxy of its own on 127.0.0.1 in front of that port
and points the router client at it: ``slow`` holds each connection ``latency`` before passing it on (the
client's own 2 s timeout then meets it), ``down`` resets every connection. At the end the client is
pointed back and the proxy closed. Requests through the router (its data plane) never pass here.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Any

from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.spec import AdversitySpec


class ControlPlaneProxy:
    """A TCP proxy on 127.0.0.1: delays each connection, or resets it. One thread per connection."""

    def __init__(self, upstream: tuple[str, int], mode: str, latency: float) -> None:
        self.upstream, self.mode, self.latency = upstream, mode, latency
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="router-api-fault", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            if self.mode == "down":
                # SO_LINGER 0: close sends a reset, so the client sees the API refuse, not an empty answer.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if self._stop.wait(self.latency):
                return
            try:
                with socket.create_connection(self.upstream, timeout=5) as up:
                    _pipe(conn, up)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        self._thread.join(timeout=2)


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """One runtime API exchange: the command line up, the answer back until HAProxy closes."""
    client.settimeout(5)
    upstream.settimeout(5)
    deadline = time.monotonic() + 10
    data = client.recv(65536)
    while data and not data.endswith(b"\n") and time.monotonic() < deadline:
        more = client.recv(65536)
        if not more:
            break
        data += more
    upstream.sendall(data)
    while chunk := upstream.recv(65536):
        client.sendall(chunk)


class RouterApiFault:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.mode = "down" if spec.kind == "router-api-down" else "slow"
        self.target = f"router runtime API ({self.mode})"
        self._client: Any = None
        self._port: int | None = None
        self._proxy: ControlPlaneProxy | None = None

    def start(self) -> None:
        client = self.ctx.target.router
        if not hasattr(client, "port") or not hasattr(client, "host"):
            raise AdversityError(f"router {type(client).__name__} has no runtime API address to stand in front of")
        self._client, self._port = client, int(client.port)
        self._proxy = ControlPlaneProxy((client.host, self._port), self.mode, self.spec.latency or 0.0)
        client.port = self._proxy.port

    def stop(self) -> None:
        if self._client is not None and self._port is not None:
            self._client.port = self._port
            self._client = None
        if self._proxy is not None:
            self._proxy.close()

    def observations(self) -> dict[str, Any]:
        return {"connections": self._proxy.connections} if self._proxy is not None else {}


@kind("router-api-slow")
def _slow(spec: AdversitySpec, ctx: FaultContext) -> RouterApiFault:
    return RouterApiFault(spec, ctx)


@kind("router-api-down")
def _down(spec: AdversitySpec, ctx: FaultContext) -> RouterApiFault:
    return RouterApiFault(spec, ctx)
