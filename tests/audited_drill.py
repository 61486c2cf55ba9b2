"""Runs the drill CLI in this process with an audit hook that records every ``socket.connect`` it makes.

``python -m tests.audited_drill OUT.json run canary-fail ...``: the CLI's arguments after the output file;
OUT.json gets ``[[family, address], ...]`` however the run ends. Used by the engine-portability tests
(tests/targets/test_portable_docker.py): the harness process may connect to the Docker API and 127.0.0.1 only.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

SEEN: list[tuple[str, Any]] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect":
        return
    sock, address = args
    family = socket.AddressFamily(sock.family).name if isinstance(sock, socket.socket) else str(sock)
    SEEN.append((family, address.decode(errors="replace") if isinstance(address, bytes) else address))


def allowed(family: str, address: Any, docker_socket: str) -> bool:
    """127.0.0.1 (or ::1) over TCP, or the Docker API's own unix socket."""
    if family == "AF_UNIX":
        return str(address) == docker_socket
    if family in ("AF_INET", "AF_INET6"):
        return str(address[0]) in ("127.0.0.1", "::1")
    return False


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    sys.addaudithook(_hook)
    from harness.cli import app

    try:
        app(args, prog_name="drill")
    finally:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump([[family, list(a) if isinstance(a, tuple) else a] for family, a in SEEN], fh)


if __name__ == "__main__":
    main()
