"""One run of a team's Compose project: its run-scoped name, drill's override file, and Compose commands on it.

Every Compose command drill runs names the run's project (``-p drill-<run id>``), the team's files and the
override (``override.py``), so nothing touches another run or the team's own project of the same files.
The team's commands (deploy, promote, ``run`` steps) see the same project through ``COMPOSE_PROJECT_NAME``,
``COMPOSE_FILE`` and ``COMPOSE`` (the Compose command line to use, since ``docker compose`` may be absent).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

from harness.errors import SpecError, SpecIssue
from harness.ports import Endpoint, ServiceFailed
from harness.spec.types import FieldError
from harness.stack import commands
from harness.stack.compose_cli import Compose
from harness.targets.compose.override import dump, override, project_name
from harness.targets.compose.spec import ComposeTargetSpec, read_config

SERVICE_OPS = ("stop", "start", "restart", "up")
OnStart = Callable[[Callable[[], None]], Callable[[], None]]


class ComposeProject:
    def __init__(self, compose: Compose, spec: ComposeTargetSpec, run_id: str, workdir: Path, drill_path: Path) -> None:
        self.compose = compose
        self.spec = spec
        self.run_id = run_id
        self.name = project_name(run_id)
        self.override_path = workdir / "drill-override.yaml"
        self.drill_path = drill_path
        self.published_ports: dict[str, int] = {spec.entrypoint.service: spec.entrypoint.port}
        if spec.prometheus is not None:
            self.published_ports[spec.prometheus.service] = spec.prometheus.port
        for extra in spec.publish:
            self.published_ports.setdefault(extra.service, extra.port)
        self._host_ports: dict[tuple[str, int], int] = {}
        self.services: set[str] = set()
        self.base_image = ""  # drill's bootstrapped base, for a team's images built on it (DRILL_BASE_IMAGE)

    @property
    def files(self) -> list[Path]:
        return [*self.spec.files, self.override_path]

    def argv(self, *args: str) -> list[str]:
        base = ["-p", self.name, *[a for f in self.files for a in ("-f", str(f))],
                "--project-directory", str(self.spec.directory)]
        if self.spec.env_file is not None:
            base += ["--env-file", str(self.spec.env_file)]
        return self.compose.command(*base, *args)

    def env(self) -> dict[str, str]:
        """What the team's commands need to act on this run's project with their own ``docker compose`` calls."""
        extra = {"COMPOSE_PROJECT_NAME": self.name, "COMPOSE_FILE": os.pathsep.join(map(str, self.files)),
                 "COMPOSE_PATH_SEPARATOR": os.pathsep, "COMPOSE": shlex.join(self.compose.argv),
                 "DRILL_RUN_ID": self.run_id}
        if self.base_image:
            extra["DRILL_BASE_IMAGE"] = self.base_image
        if self.spec.env_file is not None:
            extra["COMPOSE_ENV_FILES"] = str(self.spec.env_file)
        return extra

    def run(self, args: list[str], timeout: float, on_start: OnStart | None = None) -> commands.Finished:
        return commands.run(self.argv(*args), self.spec.directory, {**os.environ, **self.env()}, timeout, on_start)

    # ---- before anything starts -------------------------------------------------------------------
    def write_override(self) -> None:
        """Read the project as Compose does (bad input, exit 2, on a refusal), then write the override."""
        try:
            config = read_config(self.compose, self.spec)
        except FieldError as exc:
            field = ".".join(map(str, ("target", *exc.loc)))
            raise SpecError(SpecIssue(str(self.drill_path), field, str(exc))) from None
        self.services = set(config.get("services") or {})
        for service in self.published_ports:
            if service not in self.services:
                raise SpecError(SpecIssue(str(self.drill_path), "target.entrypoint.service", f"no service {service!r} in "
                                          f"the project; it has {', '.join(sorted(self.services)) or 'none'}"))
        document = override(config, self.run_id, self.published_ports, self.spec.memory, self.spec.pids,
                            self.spec.cpus, self.spec.directory.name)
        self.override_path.parent.mkdir(parents=True, exist_ok=True)
        self.override_path.write_text(dump(document), encoding="utf-8")

    # ---- the run ---------------------------------------------------------------------------------
    def build(self, timeout: float) -> float:
        """Build the project's images (BuildKit's cache makes a rebuild of unchanged contexts quick); seconds."""
        done = self.run(["build"], timeout)
        if not done.ok:
            said = f"still running after {timeout:g}s, killed" if done.status is None else f"exit {done.status}"
            raise ServiceFailed(f"compose build of {', '.join(map(str, self.spec.files))} failed ({said}): {done.tail(8)}")
        return done.seconds

    def up(self, timeout: float) -> None:
        done = self.run(["up", "-d", "--remove-orphans", "--no-build"], timeout)
        if not done.ok:
            said = f"still running after {timeout:g}s, killed" if done.status is None else f"exit {done.status}"
            raise ServiceFailed(f"compose up of {', '.join(map(str, self.spec.files))} failed ({said}): {done.tail(8)}")

    def published(self, service: str, port: int) -> Endpoint:
        key = (service, port)
        if key not in self._host_ports:
            if self.published_ports.get(service) != port:
                raise ServiceFailed(f"{service}:{port} is not published for drill (entrypoint, prometheus and "
                                    f"publish: in the drill's target are)")
            done = self.run(["port", service, str(port)], 30.0)
            text = done.last_lines[-1] if done.last_lines else ""
            number = text.rpartition(":")[2]
            if not done.ok or not number.isdigit():
                raise ServiceFailed(f"compose port {service} {port} gave no address: {done.tail(3)}")
            self._host_ports[key] = int(number)
        return Endpoint("127.0.0.1", self._host_ports[key])

    def service_op(self, op: str, service: str, timeout: float, on_start: OnStart | None = None) -> str:
        if op not in SERVICE_OPS:
            raise ServiceFailed(f"no compose operation {op!r}; known: {', '.join(SERVICE_OPS)}")
        if self.services and service not in self.services:
            raise ServiceFailed(f"no service {service!r} in the project; it has {', '.join(sorted(self.services))}")
        args = [op, service] if op != "up" else ["up", "-d", "--no-deps", "--no-build", service]
        done = self.run(args, timeout, on_start)
        if not done.ok:
            said = f"still running after {timeout:.3g}s, killed" if done.status is None else f"exit {done.status}"
            raise ServiceFailed(f"compose {op} {service}: {said}: {done.tail(3)}")
        return f"compose {op} {service} ({done.seconds:.2f}s)"

    def down(self) -> None:
        self.run(["down", "--volumes", "--remove-orphans", "--timeout", "5"], 120.0)
