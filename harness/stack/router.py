"""HAProxy runtime API client: weights, addresses and states, changed without a reload."""

from __future__ import annotations

import csv
import io
import socket
from dataclasses import dataclass

from harness.errors import DrillError

BACKEND = "models"


class RouterError(DrillError):
    """HAProxy refused a runtime command or could not be reached."""


@dataclass(frozen=True)
class ServerState:
    name: str
    status: str  # UP, DOWN, MAINT, no check ...
    weight: int
    address: str
    sessions: int  # current sessions (scur): requests the server is still answering


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
