"""The seams between the engine and a target: typed protocols over plain values, nothing else.

A *target* is what a drill runs against: a backend that runs model versions in slots, a router in
front of them, a model registry, the serving protocol spoken by the model servers, the way the bad
version is made (the fault) and a metrics source. The engine and the runbook actions only see these
protocols; the built-in demo stack (``harness.targets.builtin.target``), a team's own image
(``harness.targets.image``), MLflow (``harness.targets.mlflow``) and Docker Swarm
(``harness.backends.swarm``) implement them. A fake target for a unit test implements them too,
without Docker (see tests/fakes.py), the way ``httpx.MockTransport`` plugs into ``BaseTransport``.

Slots are named ``stable`` and ``candidate`` (and ``secondary``, which a shadow stage starts on a backend that runs
containers: a second stable instance behind the tee, never behind the router). Every method raises a :class:`harness.errors.DrillError`
subclass on failure (``ServiceFailed``, ``RouterError``, ``RegistryError``), never a library's own error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.errors import DrillError

SLOTS = ("stable", "candidate")
SECONDARY = "secondary"  # a second stable instance a shadow stage may start: never routed, the noise floor of its judge
Progress = Callable[[str], None]


class RegistryError(DrillError):
    """A version or alias is missing, or an artifact does not match its checksum (``ModelRegistry``)."""


class RouterError(DrillError):
    """The router refused a runtime command or could not be reached (``Router``)."""


class PrometheusError(DrillError):
    """The metrics source could not answer a query: unreachable, or a bad expression (``MetricsSource``)."""


class ServiceFailed(DrillError):
    """A service of the stack did not become ready, or exited."""


@dataclass(frozen=True)
class Endpoint:
    """Where something listens: a host (an IP or a DNS name on the run network, or 127.0.0.1) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Versions:
    """The versions a drill plays with: the one before the stable one, the stable one, the bad candidate."""

    previous: str
    stable: str
    candidate: str


# ---- backend: runs a version in a slot --------------------------------------------------------
class Backend(Protocol):
    """Runs model versions in slots. Docker containers today; Swarm services (replicas) next."""

    kind: str  # "docker" | "swarm" | ...

    def start(self, slot: str, version: str) -> Endpoint:
        """Start ``version`` in ``slot`` (replacing what ran there); the router-side address once it serves.
        Raises ServiceFailed (with the server's last log lines) when it never becomes ready."""
        ...

    def stop(self, slot: str) -> None:
        """Stop the slot gracefully (in-flight requests finish) and remove it. A missing slot is not an error."""
        ...

    def running(self, slot: str) -> bool: ...

    def address(self, slot: str) -> Endpoint | None: ...

    def replicas(self) -> dict[str, int] | None:
        """Replicas per slot where the backend has replicas (an orchestrator); None otherwise."""
        ...


@dataclass(frozen=True)
class Rollout:
    """Where an orchestrator's own rolling update of a slot stands (Swarm's UpdateStatus, a Deployment's rollout)."""

    state: str | None  # None (never updated) | updating | paused | completed | rollback_started | rollback_paused | rollback_completed
    message: str = ""

    @property
    def rolled_back_by_orchestrator(self) -> bool:
        return bool(self.state and self.state.startswith("rollback"))


@runtime_checkable
class RollingBackend(Protocol):
    """A backend whose orchestrator rolls a slot to a new version by itself, watches the new tasks' health and
    may roll back by itself (Swarm's ``--update-failure-action rollback``, a Deployment's progress deadline)."""

    kind: str

    def rolling_update(self, slot: str, version: str) -> None:
        """Start rolling ``slot`` to ``version``; returns at once."""
        ...

    def rollout(self, slot: str) -> Rollout: ...

    def rollback(self, slot: str) -> str:
        """The orchestrator's own rollback to the slot's previous spec (a no-op when it already rolled back)."""
        ...

    def scale(self, slot: str, replicas: int) -> None: ...

    def wait_converged(self, slot: str, timeout: float, version: str | None = None, fail_fast: bool = False) -> object:
        """Until every replica of the slot runs (``version``, if given) and no rollout is under way; ``fail_fast``:
        a new task of that version that fails or is rejected ends the wait, saying where and why."""
        ...


# ---- router: weights, drain, server states ----------------------------------------------------
@dataclass(frozen=True)
class ServerState:
    name: str
    status: str  # UP, DOWN, MAINT, DRAIN, no check ...
    weight: int
    address: str
    sessions: int  # requests the server is still answering


class Router(Protocol):
    """The traffic switch in front of the slots (HAProxy's runtime API today)."""

    def attach(self, slot: str, endpoint: Endpoint, timeout: float = 10.0) -> None:
        """Point ``slot`` at ``endpoint``, put it in service at its current weight, wait until its health check passes."""
        ...

    def set_weight(self, slot: str, weight: int) -> None: ...

    def set_state(self, slot: str, state: str) -> None:
        """``ready``, ``drain`` (no new requests, in-flight ones finish) or ``maint`` (out of service)."""
        ...

    def servers(self) -> Mapping[str, ServerState]: ...

    def wait_up(self, slot: str, timeout: float = 10.0) -> None:
        """Until the router's health check sees the slot UP; ServiceFailed otherwise."""
        ...


# ---- model registry ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AliasMove:
    at: datetime
    alias: str
    from_version: str | None
    to_version: str
    reason: str


@dataclass(frozen=True)
class RollbackEvent:
    """What a registry is told when a version was rolled back (the standard: tag it in the registry)."""

    run_id: str
    from_version: str
    to_version: str
    decided_at: datetime | None
    completed_at: datetime | None
    trigger: str | None  # automated | manual
    root_cause: str


class ModelRegistry(Protocol):
    """Versions and aliases (``champion``, ``previous``), with the history of alias moves."""

    model: str

    def versions(self) -> list[str]: ...

    def aliases(self) -> dict[str, str]: ...

    def resolve(self, ref: str) -> str:
        """An alias or a version -> a version."""
        ...

    def set_alias(self, alias: str, version: str, reason: str) -> AliasMove: ...

    def promote(self, version: str, reason: str) -> None:
        """champion -> version; previous -> the old champion (a deploy pipeline's move)."""
        ...

    def restore_previous(self, reason: str) -> str:
        """champion -> previous after checking it is deployable; returns the restored version."""
        ...

    def check_deployable(self, version: str) -> None:
        """Raise RegistryError naming the version and the artifact when it cannot be deployed."""
        ...

    def record_rollback(self, event: RollbackEvent) -> None:
        """Tag the rolled-back version with the rollback event (timestamps, trigger, root cause, run id)."""
        ...

    def history(self) -> list[dict[str, Any]]: ...


@runtime_checkable
class ArtifactReads(Protocol):
    """A registry that can tell which versions' artifacts it was made to read, in order: how the engine knows
    whether a drill's rollback reached the artifact it sabotaged (harness.engine.expectation)."""

    def artifact_reads(self) -> tuple[str, ...]: ...


class ReadLog:
    """Mixin for registries: note each version whose artifact is read (call ``_note_read`` first thing)."""

    _reads: list[str]

    def _note_read(self, version: str) -> None:
        if not hasattr(self, "_reads"):
            self._reads = []
        self._reads.append(version)

    def artifact_reads(self) -> tuple[str, ...]:
        return tuple(getattr(self, "_reads", ()))


# ---- serving protocol -------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """One request the load generator can send, with its ground truth where known."""

    body: bytes
    expected: Any = None  # the right prediction, where labels exist
    protected: bool = False  # in the slice a safety guard protects
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """What an answer says: which version answered, its prediction and score, and whether it was right."""

    version: str | None
    prediction: Any = None
    score: float | None = None
    correct: bool | None = None


class ServingProtocol(Protocol):
    """How to talk to the model servers of a target: requests, and how to read answers."""

    method: str
    path: str
    headers: Mapping[str, str]

    def examples(self, n: int, seed: int) -> Sequence[Example]:
        """N requests to send (labelled where the target has labels)."""
        ...

    def read(self, example: Example, status: int, headers: Mapping[str, str], body: bytes) -> Reading:
        """Read an answer. ``headers`` keys are lower-case. The router adds ``x-drill-backend`` (the slot that
        answered), so a server that reports no version still gets one."""
        ...


# ---- fault: how the bad version is made ------------------------------------------------------
class Fault(Protocol):
    """Makes the candidate bad. Built into the artifact (built-in target), a real bad version the team supplies
    (nothing to do), or a fault proxy in front of the candidate that works with any HTTP server."""

    description: str

    def wrap(self, slot: str, endpoint: Endpoint) -> Endpoint:
        """The address the router should use for ``slot``: ``endpoint`` itself, or a fault proxy in front of it."""
        ...

    def unwrap(self, slot: str) -> None:
        """Remove whatever ``wrap`` started for the slot (after a rollback or at teardown)."""
        ...


# ---- metrics ----------------------------------------------------------------------------------
class MetricsSource(Protocol):
    def query(self, promql: str) -> float | None:
        """An instant PromQL query reduced to one number (None: no data). PrometheusError when unreachable."""
        ...


# ---- a team's own project (the compose target): where its commands run, its named services ---------
@runtime_checkable
class TeamProject(Protocol):
    """A target that is a team's own project: runbook steps run its commands (``run``), operate its services
    (``compose``) and call its APIs (``http``) through these."""

    @property
    def project_dir(self) -> Path:
        """Where the team's commands run (relative command paths are looked up there)."""
        ...

    def command_env(self) -> dict[str, str]:
        """What the team's commands see besides the process's environment (the run's Compose project, say)."""
        ...

    def service_op(self, op: str, service: str, timeout: float, on_start: Callable[[Callable[[], None]], Callable[[], None]] | None = None) -> str:
        """``stop``, ``start``, ``restart`` or ``up`` a named service; ServiceFailed naming it and saying why."""
        ...

    def published(self, service: str, port: int) -> Endpoint:
        """Where drill reaches ``service:port`` (published on 127.0.0.1); ServiceFailed if it is not published."""
        ...


@runtime_checkable
class UsesRunVariables(Protocol):
    """A target whose own fields take the drill's ``--var`` values (a team's deploy command, say); the engine
    hands them over once the target is made, before ``prepare``."""

    def use_variables(self, values: Mapping[str, str]) -> None: ...


# ---- the target: everything one run drives ------------------------------------------------------
@runtime_checkable
class Target(Protocol):
    """One run's stack. ``prepare`` brings it up with the stable version serving at 100 %; ``close`` removes
    everything it started (by label), whatever happened before, and is safe to call twice."""

    # Read-only members (properties), so an implementation may hold narrower types (a FakeBackend, say).
    @property
    def name(self) -> str:
        """builtin | image | mlflow | ..."""
        ...

    @property
    def backend(self) -> Backend: ...

    @property
    def router(self) -> Router: ...

    @property
    def registry(self) -> ModelRegistry: ...

    @property
    def protocol(self) -> ServingProtocol: ...

    @property
    def fault(self) -> Fault: ...

    @property
    def metrics(self) -> MetricsSource: ...

    @property
    def versions(self) -> Versions: ...

    @property
    def traffic_endpoint(self) -> Endpoint:
        """Where clients send requests (the router, published on 127.0.0.1)."""
        ...

    def prepare(self, progress: Progress) -> None: ...

    def sabotage(self, how: str) -> None:
        """Break the way back on purpose (``corrupt-previous``, ``missing-previous``) to prove a drill notices."""
        ...

    @property
    def images_source(self) -> str | None:
        """Where the harness's own images came from this run: ``built`` (bootstrapped or built now), ``cached``
        (found by content label), ``pulled``; None before ``prepare``."""
        ...

    def services(self) -> dict[str, bool]:
        """Is each of the stack's own services (router, metrics, stable) alive? Used to blame the right thing."""
        ...

    def close(self) -> None: ...
