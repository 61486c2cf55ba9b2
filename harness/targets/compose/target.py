"""The ``compose`` target: a team's own Compose project is the stack; the team's gateway takes the traffic.

``prepare`` finds Compose v2 (and says which), reads the project as Compose does (a refusal is bad input),
writes the override (labels, 127.0.0.1 ports, limits: ``override.py``), brings the project up under the
run's own name and waits until the team's gateway answers its health path on 127.0.0.1.

The seams the engine drives map onto the team's own path: starting the candidate is the team's ``deploy:``
command, retiring the stable version (a promotion, late's scale to zero) its ``promote:`` command; the
gateway's weights are the team's business, so the router's weight calls only record what the strategy
meant. The registry here is drill's record of what the run did; the team's own registry is checked by the
runbook's ``http`` steps. ``close`` runs ``compose down -v`` and sweeps whatever still carries the run's label.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors

from harness.errors import SpecError, SpecIssue
from harness.ports import Endpoint, Progress, PrometheusError, ServerState, ServiceFailed, Versions
from harness.stack import commands, compose_cli
from harness.stack.docker_api import connect, sweep
from harness.stack.images import ensure_base
from harness.stack.prometheus import PrometheusClient
from harness.targets.compose.project import ComposeProject, OnStart
from harness.targets.compose.spec import ComposeTargetSpec
from harness.targets.image.protocol import JsonlProtocol
from harness.targets.image.registry import ImageRegistry

if TYPE_CHECKING:
    from harness.spec.catalogue import LoadedDrill

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only: never through a proxy


def answers_2xx(url: str, timeout: float) -> bool:
    try:
        with _DIRECT.open(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except (OSError, urllib.error.URLError, ValueError):
        return False


class TeamCommands:
    """The team's deploy and promote commands (``ports.Backend``): what the strategy's moves become."""

    kind = "compose"

    def __init__(self, target: ComposeTarget) -> None:
        self.target = target
        self.deployed: str | None = None
        self.last: commands.Finished | None = None

    def _run(self, which: str, argv: list[str]) -> commands.Finished:
        spec, target = self.target.spec, self.target
        env = commands.scope(target.variables, target.command_env())  # as a runbook's run step sees them
        rendered = commands.render(argv, env)
        done = commands.run(rendered, spec.directory, env, spec.command_timeout)
        self.last = done
        if not done.ok:
            said = f"killed after {spec.command_timeout:g}s" if done.status is None else f"exit {done.status}"
            raise ServiceFailed(f"the team's {which} command ({' '.join(rendered)}) failed: {said}: {done.tail(3)}")
        return done

    def start(self, slot: str, version: str) -> Endpoint:
        if slot != "candidate":
            raise ServiceFailed(f"the team's stack runs its {slot} version itself: start its services with compose "
                                f"or run steps, not drill's slots")
        self._run("deploy", self.target.spec.deploy)
        self.deployed = version
        return self.target.traffic_endpoint

    def stop(self, slot: str) -> None:
        if slot == "stable" and self.target.spec.promote is not None:
            self._run("promote", self.target.spec.promote)

    def running(self, slot: str) -> bool:
        return self.target.service_running(self.target.spec.entrypoint.service)

    def address(self, slot: str) -> Endpoint | None:
        return self.target.traffic_endpoint

    def replicas(self) -> dict[str, int] | None:
        return None


class Gateway:
    """``ports.Router`` over the team's gateway: weights are the team's commands' to set; drill waits for health."""

    def __init__(self, target: ComposeTarget) -> None:
        self.target = target
        self.weights: dict[str, int] = {"stable": 100, "candidate": 0}

    def attach(self, slot: str, endpoint: Endpoint, timeout: float = 10.0) -> None:
        self.wait_up(slot, timeout)

    def set_weight(self, slot: str, weight: int) -> None:
        self.weights[slot] = weight  # the strategy's intent, for the judge's split; the team's command moved it

    def set_state(self, slot: str, state: str) -> None:
        pass  # draining is the team's gateway's business (its rollback script)

    def servers(self) -> Mapping[str, ServerState]:
        return {slot: ServerState(slot, "UP", weight, str(self.target.traffic_endpoint), 0)
                for slot, weight in self.weights.items()}

    def wait_up(self, slot: str, timeout: float = 10.0) -> None:
        url = self.target.health_url()
        deadline = time.monotonic() + timeout
        while not answers_2xx(url, 2.0):
            if time.monotonic() > deadline:
                raise ServiceFailed(f"the team's gateway did not answer 2xx on {url} within {timeout:g}s")
            time.sleep(0.2)


class PassThrough:
    """``ports.Fault``: the team's candidate is a real version; nothing is put in front of it."""

    description = "the candidate version itself (the team's own deploy)"

    def wrap(self, slot: str, endpoint: Endpoint) -> Endpoint:
        return endpoint

    def unwrap(self, slot: str) -> None:
        pass


class NoMetrics:
    def query(self, promql: str) -> float | None:
        raise PrometheusError("the compose target has no Prometheus: set target.prometheus: {service, port}")


class ComposeTarget:
    name = "compose"

    def __init__(self, drill: LoadedDrill, run_id: str, workdir: Path,
                 connect_docker: Callable[[], docker.DockerClient] = connect,
                 find_compose: Callable[[], compose_cli.Compose] = compose_cli.find) -> None:
        spec = drill.spec.target
        if not isinstance(spec, ComposeTargetSpec):
            raise SpecError(SpecIssue(str(drill.drill_path), "target.kind", "the compose target needs target.kind: compose"))
        self.drill = drill
        self.spec = spec
        self.run_id = run_id
        self.workdir = workdir
        self.versions = Versions(spec.previous or spec.stable, spec.stable, spec.candidate)
        names = list(dict.fromkeys([self.versions.previous, spec.stable, spec.candidate]))
        self.registry = ImageRegistry(drill.spec.model, workdir / "registry", names, self.versions, lambda v: None)
        self.protocol = JsonlProtocol(spec)
        self.fault = PassThrough()
        self.backend = TeamCommands(self)
        self.router = Gateway(self)
        self.images_source: str | None = None
        self.builtins: dict[str, str] = {"stable_version": spec.stable, "candidate_version": spec.candidate,
                                         "previous_version": self.versions.previous, "model": drill.spec.model,
                                         "run_id": run_id}
        self.variables: dict[str, str] = dict(self.builtins)
        self._connect, self._find = connect_docker, find_compose
        self._client: docker.DockerClient | None = None
        self._project: ComposeProject | None = None
        self._metrics: PrometheusClient | None = None

    def use_variables(self, values: Mapping[str, str]) -> None:
        """The drill's ``--var`` values, for the team's deploy and promote commands (the built-ins win)."""
        self.variables = {**values, **self.builtins}

    @property
    def project(self) -> ComposeProject:
        if self._project is None:
            raise ServiceFailed("the stack is not started")
        return self._project

    @property
    def project_dir(self) -> Path:
        return self.spec.directory

    @property
    def traffic_endpoint(self) -> Endpoint:
        return self.project.published(self.spec.entrypoint.service, self.spec.entrypoint.port)

    @property
    def metrics(self) -> PrometheusClient | NoMetrics:
        return self._metrics or NoMetrics()

    def health_url(self) -> str:
        endpoint = self.traffic_endpoint
        return f"http://{endpoint.host}:{endpoint.port}{self.spec.health_path}"

    def command_env(self) -> dict[str, str]:
        return self.project.env()

    def service_op(self, op: str, service: str, timeout: float, on_start: OnStart | None = None) -> str:
        return self.project.service_op(op, service, timeout, on_start)

    def published(self, service: str, port: int) -> Endpoint:
        return self.project.published(service, port)

    # ---- lifecycle --------------------------------------------------------------------------------
    def prepare(self, progress: Progress) -> None:
        compose = self._find()
        progress(f"compose: {compose.describe()}")
        self._client = self._connect()
        project = ComposeProject(compose, self.spec, self.run_id, self.workdir, self.drill.drill_path)
        project.write_override()  # bad input here: nothing started yet
        project.base_image = ensure_base(self._client, progress, force=False)
        self._project = project
        if self.spec.build:
            progress(f"compose build ({', '.join(f.name for f in self.spec.files)})")
            progress(f"images built in {project.build(self.spec.build_timeout):.1f}s")
        self.images_source = "built" if self.spec.build else "cached"
        progress(f"compose project {project.name}: up")
        started = time.monotonic()
        project.up(self.spec.startup_timeout)
        deadline = started + max(5.0, self.spec.startup_timeout)
        while not answers_2xx(self.health_url(), 2.0):  # a service that exits meanwhile ends the wait, named
            self._no_service_exited()
            if time.monotonic() > deadline:
                raise ServiceFailed(f"the team's gateway did not answer 2xx on {self.health_url()} within "
                                    f"{self.spec.startup_timeout:g}s")
            time.sleep(0.3)
        if self.spec.prometheus is not None:
            where = project.published(self.spec.prometheus.service, self.spec.prometheus.port)
            self._metrics = PrometheusClient(f"http://{where.host}:{where.port}")
        progress(f"the team's gateway {self.spec.entrypoint.service} serves on {self.traffic_endpoint} "
                 f"({time.monotonic() - started:.1f}s)")

    def sabotage(self, how: str) -> None:
        if how != "none":
            raise SpecError(SpecIssue(str(self.drill.drill_path), "sabotage",
                                      "a compose target's way back is the team's own: break it in the team's runbook"))

    def service_running(self, service: str) -> bool:
        if self._client is None or self._project is None:
            return False
        try:
            found = self._client.containers.list(filters={"label": [f"com.docker.compose.project={self._project.name}",
                                                                   f"com.docker.compose.service={service}"]})
        except docker.errors.DockerException:
            return False
        return any(c.status == "running" for c in found)

    def _no_service_exited(self) -> None:
        """ServiceFailed naming a service of the project that exited with an error, with its last log lines."""
        if self._client is None or self._project is None:
            return
        try:
            found = self._client.containers.list(all=True, filters={
                "label": f"com.docker.compose.project={self._project.name}", "status": "exited"})
            for container in found:
                code = int(container.attrs.get("State", {}).get("ExitCode", 0))
                if code != 0:
                    service = container.labels.get("com.docker.compose.service", container.name)
                    tail = container.logs(tail=5).decode(errors="replace").strip().replace("\n", " | ")
                    raise ServiceFailed(f"the team's service {service} exited ({code}) while the stack started: {tail}")
        except docker.errors.DockerException:
            return

    def services(self) -> dict[str, bool]:
        if self._project is None:
            return {}
        return {self.spec.entrypoint.service: self.service_running(self.spec.entrypoint.service)}

    def close(self) -> None:
        if self._project is not None and self.project.override_path.exists():
            self._project.down()
        if self._client is not None:
            sweep(self._client, self.run_id)


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str) -> ComposeTarget:
    return ComposeTarget(drill, run_id, workdir)


if TYPE_CHECKING:
    from harness.ports import Target, TeamProject, UsesRunVariables

    def _fits_the_seam(target: ComposeTarget) -> Target:  # mypy proves ComposeTarget is a ports.Target
        return target

    def _takes_run_variables(target: ComposeTarget) -> UsesRunVariables:
        return target

    def _is_a_team_project(target: ComposeTarget) -> TeamProject:
        return target
