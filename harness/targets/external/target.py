"""The ``external`` target: the team's own running stack, moved only by the team's own commands.

drill starts nothing and stops nothing here. Its seams map onto the team's commands:

- the strategy starting the candidate (``Backend.start('candidate')``) runs ``deploy:`` (at ``${weight}`` %);
- the runbook taking the candidate out (a router weight of 0, a drain, maintenance, or ``service.stop`` of the
  candidate) runs ``rollback:``, once;
- the strategy retiring the stable version after a promotion (``Backend.stop('stable')``) runs ``promote:``;
- a tripped stop condition (``ports.Abortable.abort``) kills what still runs and runs ``abort:``.

Every other router or backend call is a no-op: the team's gateway holds the real weights. Which version answered
is read from the answer (``target.version``); the registry is the run's own record of aliases, as for an image.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.errors import SpecError, SpecIssue
from harness.guards.record import CommandResult
from harness.ports import Endpoint, Progress, RouterError, ServerState, ServiceFailed, Versions
from harness.stack import commands
from harness.stack.prometheus import PrometheusClient
from harness.targets.external.runner import CommandFailed, Runner
from harness.targets.external.spec import CommandSpec, ExternalTargetSpec
from harness.targets.image.protocol import JsonlProtocol
from harness.targets.image.registry import ImageRegistry

if TYPE_CHECKING:
    from harness.spec.catalogue import LoadedDrill


class TeamMoves:
    """The team's commands, each run at most when its move is due: deploy, promote, rollback (once), abort."""

    def __init__(self, spec: ExternalTargetSpec, runner: Runner, variables: Mapping[str, str],
                 progress: Progress = lambda _m: None) -> None:
        self.spec, self.runner, self.variables, self.progress = spec, runner, dict(variables), progress
        self.deployed = self.rolled_back = self.promoted = False
        self._lock = threading.Lock()

    def deploy(self) -> None:
        self.deployed = True  # attempted: a deploy that failed half-way is rolled back all the same
        self._run("deploy", self.spec.deploy)

    def rollback(self) -> str:
        with self._lock:  # a drain then a stop of the candidate are one rollback
            if self.rolled_back or not self.deployed:
                return "nothing to roll back" if not self.deployed else "already rolled back"
            self._run("rollback", self.spec.rollback)
            self.rolled_back = True
            return "rolled back by the team's commands"

    def promote(self) -> None:
        with self._lock:
            if self.promoted or not self.deployed or self.rolled_back:
                return
            self._run("promote", self.spec.promote)
            self.promoted = True

    def abort(self, reason: str) -> list[CommandResult]:
        self.runner.abort(reason)
        return [self.runner.run_always("abort", self.argv(cmd), cmd.timeout or self.spec.command_timeout, self.env(cmd))
                for cmd in self.spec.abort]

    def _run(self, purpose: str, moves: Sequence[CommandSpec]) -> None:
        for cmd in moves:
            result = self.runner.run(purpose, self.argv(cmd), cmd.timeout or self.spec.command_timeout, self.env(cmd))
            self.progress(result.summary())

    def env(self, cmd: CommandSpec) -> dict[str, str]:
        """What the command runs with, as a runbook's ``run`` step: the process's environment, the run's variables,
        then the target's and the command's own ``env:`` (their ``${...}`` filled in)."""
        scope = commands.scope(self.variables)
        target_env = commands.fill_env(self.spec.env, scope)
        return commands.scope(self.variables, target_env, commands.fill_env(cmd.env, {**scope, **target_env}))

    def argv(self, cmd: CommandSpec) -> list[str]:
        """The command's arguments with the run's ``${...}`` filled in (names checked before the run started)."""
        return commands.render(cmd.argv, commands.scope(self.variables))


class CommandBackend:
    """``ports.Backend``: the candidate's start is the team's deploy; the stable's stop after a promotion, its promote."""

    kind = "external"

    def __init__(self, moves: TeamMoves, entrypoint: Endpoint) -> None:
        self.moves, self.entrypoint = moves, entrypoint

    def start(self, slot: str, version: str) -> Endpoint:
        if slot == "candidate":
            try:
                self.moves.deploy()
            except CommandFailed as exc:
                raise ServiceFailed(f"the team's deploy of {version} failed: {exc}") from exc
        return self.entrypoint

    def stop(self, slot: str) -> None:
        try:
            if slot == "candidate":
                self.moves.rollback()
            elif slot == "stable" and self.moves.deployed:
                self.moves.promote()
        except CommandFailed as exc:
            raise ServiceFailed(str(exc)) from exc

    def running(self, slot: str) -> bool:
        return slot == "stable" or (self.moves.deployed and not self.moves.rolled_back)

    def address(self, slot: str) -> Endpoint | None:
        return self.entrypoint

    def replicas(self) -> dict[str, int] | None:
        return None


class CommandRouter:
    """``ports.Router``: the candidate taken out (weight 0, drain, maintenance) is the team's rollback."""

    def __init__(self, moves: TeamMoves) -> None:
        self.moves = moves
        self.weights = {"stable": 100, "candidate": 0}
        self.states = {"stable": "ready", "candidate": "maint"}

    def attach(self, slot: str, endpoint: Endpoint, timeout: float = 10.0) -> None:
        self.states[slot] = "ready"

    def set_weight(self, slot: str, weight: int) -> None:
        self.weights[slot] = weight
        if slot == "candidate" and weight == 0:
            self._rollback()

    def set_state(self, slot: str, state: str) -> None:
        self.states[slot] = state
        if slot == "candidate" and state in ("drain", "maint"):
            self._rollback()

    def servers(self) -> Mapping[str, ServerState]:
        return {s: ServerState(s, "UP" if self.states[s] == "ready" else self.states[s].upper(), w, "team's gateway", 0)
                for s, w in self.weights.items()}

    def wait_up(self, slot: str, timeout: float = 10.0) -> None:
        return None  # the team's commands return once their move is done; the verify steps check the answers

    def _rollback(self) -> None:
        try:
            self.moves.rollback()
        except CommandFailed as exc:
            raise RouterError(f"the team's rollback failed: {exc}") from exc


class PassThrough:
    """``ports.Fault``: the candidate is the team's own version; drill puts nothing in front of it."""

    description = "the team's candidate itself (nothing injected)"

    def wrap(self, slot: str, endpoint: Endpoint) -> Endpoint:
        return endpoint

    def unwrap(self, slot: str) -> None:
        return None


class NoPrometheus:
    """``ports.MetricsSource`` where the target names no Prometheus: every query has no data."""

    def query(self, promql: str) -> float | None:
        return None


class ExternalTarget:
    name = "external"

    def __init__(self, drill: LoadedDrill, run_id: str, workdir: Path, runner: Runner | None = None) -> None:
        spec = drill.spec.target
        if not isinstance(spec, ExternalTargetSpec):
            raise SpecError(SpecIssue(str(drill.drill_path), "target.kind", "the external target needs target.kind: external"))
        self.spec = spec
        self.versions = Versions(spec.previous or spec.stable, spec.stable, spec.candidate)
        names = list(dict.fromkeys([self.versions.previous, spec.stable, spec.candidate]))
        self.registry = ImageRegistry(drill.spec.model, workdir / "registry", names, self.versions, lambda _v: None)
        self.fault = PassThrough()
        strategy = drill.spec.strategy
        weight = strategy.weight if strategy.kind == "canary" else 100
        self.builtins = {"candidate_version": spec.candidate, "stable_version": spec.stable,
                         "previous_version": self.versions.previous, "model": drill.spec.model, "run_id": run_id,
                         "environment": drill.spec.environment or "loopback", "weight": str(weight)}
        self.runner = runner or Runner(spec.workdir)  # the target's env: goes with each command (TeamMoves.env)
        self.moves = TeamMoves(spec, self.runner, self.builtins)
        self.router = CommandRouter(self.moves)
        self.images_source: str | None = None
        self.use_variables({})

    def use_variables(self, values: Mapping[str, str]) -> None:
        """The drill's ``--var`` values: for the team's commands, and the entrypoint's and Prometheus's port or path
        where they name one (``http://127.0.0.1:${gateway_port}/predict``); the built-ins win."""
        self.moves.variables = {**values, **self.builtins}
        url = commands.render([self.spec.url], self.moves.variables)[0]
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:  # a ${NAME} not given yet: check_drill refuses that before a run starts
            port = None
        self.url = url
        self.traffic_endpoint = Endpoint(parts.hostname or "127.0.0.1", port or 80)
        self.protocol = JsonlProtocol(self.spec.model_copy(update={"url": url}))
        prometheus = commands.render([self.spec.prometheus], self.moves.variables)[0] if self.spec.prometheus else None
        self.metrics: PrometheusClient | NoPrometheus = (PrometheusClient(prometheus, timeout=2.0)
                                                          if prometheus else NoPrometheus())
        self.backend = CommandBackend(self.moves, self.traffic_endpoint)

    def prepare(self, progress: Progress) -> None:
        self.moves.progress = progress
        progress(f"external target {self.url}: drill starts nothing; the team's commands make the moves")

    def sabotage(self, how: str) -> None:
        return None  # refused at load: an external stack's way back is the team's, not drill's to break

    def services(self) -> dict[str, bool]:
        return {}  # drill runs none of them: the stop conditions watch the team's

    def abort(self, reason: str) -> Sequence[CommandResult]:
        return self.moves.abort(reason)

    def close(self) -> None:
        self.runner.abort("teardown")  # nothing of the team's is left running on drill's behalf


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str) -> ExternalTarget:
    return ExternalTarget(drill, run_id, workdir)


if TYPE_CHECKING:
    from harness.guards.record import Abortable
    from harness.ports import Target, UsesRunVariables

    def _fits_the_seam(target: ExternalTarget) -> Target:  # mypy proves ExternalTarget is a ports.Target
        return target

    def _takes_run_variables(target: ExternalTarget) -> UsesRunVariables:
        return target

    def _aborts(target: ExternalTarget) -> Abortable:
        return target
