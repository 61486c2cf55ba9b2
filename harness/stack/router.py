"""HAProxy runtime API client: weights, addresses and states, changed without a reload (a ports.Router)."""

from __future__ import annotations

import csv
import io
import socket
import time

from harness.ports import Endpoint, ServerState, ServiceFailed
from harness.ports import RouterError as RouterError  # defined beside its port

BACKEND = "models"




class RouterClient:
    def __init__(self, host: str, port: int, timeout: float = 2.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def command(self, line: str) -> str:
        """Send one runtime API command; HAProxy answers and closes the connection."""
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise RouterError(f"router runtime API {self.host}:{self.port} unreachable: {exc}") from exc
        answer = b"".join(chunks).decode(errors="replace").strip()
        lowered = answer.lower()
        if any(word in lowered for word in ("unknown", "no such", "invalid", "require", "not found")):
            raise RouterError(f"router refused {line!r}: {answer}")
        return answer

    def attach(self, slot: str, endpoint: Endpoint, timeout: float = 10.0) -> None:
        """Point the slot at an endpoint and put it in service (at its current weight) once its check passes."""
        self.set_address(slot, endpoint.host, endpoint.port)
        self.set_state(slot, "ready")
        self.wait_up(slot, timeout)

    def wait_up(self, slot: str, timeout: float = 10.0) -> None:
        """Wait until HAProxy's health check marks the slot UP: plainly "UP", after a check passed. A server put
        back in service shows "UP 1/2" before its first check (HAProxy assumes it healthy until a check fails),
        which is not proof it serves: a Swarm pool whose DNS has not caught up yet answers 503 then."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.servers().get(slot)
            if state is not None and state.status == "UP":
                return
            time.sleep(0.05)
        raise ServiceFailed(f"router never saw {slot} healthy (last status: {state.status if state else 'absent'})")

    def set_weight(self, server: str, weight: int) -> None:
        self.command(f"set server {BACKEND}/{server} weight {int(weight)}")

    def set_address(self, server: str, ip: str, port: int) -> None:
        self.command(f"set server {BACKEND}/{server} addr {ip} port {port}")

    def set_state(self, server: str, state: str) -> None:
        if state not in ("ready", "drain", "maint"):
            raise RouterError(f"unknown server state {state!r}")
        self.command(f"set server {BACKEND}/{server} state {state}")

    def servers(self) -> dict[str, ServerState]:
        text = self.command("show stat")
        reader = csv.DictReader(io.StringIO(text.lstrip("# ")))
        out = {}
        for row in reader:
            if row.get("pxname") == BACKEND and row.get("svname") not in ("BACKEND", "FRONTEND"):
                out[row["svname"]] = ServerState(row["svname"], row.get("status", ""), int(row.get("weight") or 0),
                                                 row.get("addr", ""), int(row.get("scur") or 0))
        return out
