"""Backends: where model versions run. Each kind is one :class:`BackendKind` record.

A record says what the backend is, which orchestrator features it has (a rolling update of its own), how
a target opens it over the run's stack, which runbook actions it adds (a module that registers them when
imported) and how ``drill clean`` sweeps what a killed run left. Built-ins: ``docker`` (a container per
slot, ``harness.backends.docker``) and ``swarm`` (replicated services, ``harness.backends.swarm``).
A third party adds one with an entry point in the ``harness.backends.v1`` group naming a ``BackendKind``.
Records hold dotted paths only, so the registry loads no Docker client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.ports import Backend, Progress
    from harness.specs import DrillSpec

ENTRY_POINT_GROUP = "harness.backends.v1"


@dataclass(frozen=True)
class ModelHost:
    """What a target hands a backend's opener: its running stack (``harness.targets.builtin.stack.Stack`` or a
    subclass: client, run id, network, registry volume, model image and environment, router and Prometheus
    containers), the drill, and how to copy the target's registry into the volume the servers read."""

    stack: Any
    spec: DrillSpec
    sync: Callable[[], None] | None = None


@dataclass(frozen=True)
class Opened:
    """A backend a target opened for one run; ``close`` undoes what opening it did (None: nothing to undo)."""

    backend: Backend
    close: Callable[[], object] | None = None
    router_configs: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackendKind:
    kind: str
    description: str
    # "module:function(host, progress) -> Opened": opens the backend over a target's running stack (the
    # built-in and MLflow stacks: client, run id, network, registry volume, model image, model env).
    opener: str | None = None
    rolling: bool = False  # has a rolling update of its own (ports.RollingBackend): orchestrator strategies run here
    router_configs: tuple[str, ...] = ()  # extra router configuration files the stack loads for this backend
    in_stack: bool = False  # its model servers are the stack's own containers (started with the router, in parallel)
    actions: str | None = None  # module that registers this backend's runbook actions when imported
    # "module:function(client, run_id) -> object | None": what `drill clean` undoes beyond the label sweep
    # (not None: it acted, e.g. left a swarm a killed run had made).
    sweeper: str | None = None
    # "module:function(host, progress) -> None": called before the stack starts (a multi-node swarm: publish
    # the router and Prometheus where this host reaches them; refuse a drill needing more nodes than there are).
    stack_planner: str | None = None

    def open(self, host: ModelHost, progress: Progress) -> Opened:
        if self.opener is None:
            raise NotImplementedError(f"backend {self.kind!r} opens no stack of its own")
        return _resolve(self.opener)(host, progress)  # type: ignore[no-any-return]

    def plan(self, host: ModelHost, progress: Progress) -> None:
        """Before the target's stack starts. A backend without a planner runs on one engine: a drill needing
        several nodes stops here, before anything starts."""
        if self.stack_planner is not None:
            _resolve(self.stack_planner)(host, progress)
        elif host.spec.nodes > 1:
            from harness.errors import BackendUnavailable

            raise BackendUnavailable(f"drill {host.spec.name} needs a swarm of {host.spec.nodes} nodes; backend "
                                     f"{self.kind!r} runs on one engine (run it with --backend swarm)")

    def sweep(self, client: Any, run_id: str | None) -> bool:
        return self.sweeper is not None and _resolve(self.sweeper)(client, run_id) is not None


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    found: Callable[..., Any] = getattr(import_module(module), name)
    return found


_BUILTIN = (
    BackendKind("docker", "a container per slot on one Docker engine", opener="harness.backends.docker:open_backend",
                in_stack=True),
    BackendKind("swarm", "replicated Docker Swarm services per slot (DNS round robin; Swarm's own rolling update)",
                opener="harness.backends.swarm:open_backend", rolling=True,
                router_configs=("haproxy-swarm.cfg",), actions="harness.backends.swarm.actions",
                sweeper="harness.backends.swarm.session:clean", stack_planner="harness.backends.swarm:plan_stack"),
)
_REGISTERED: dict[str, BackendKind] = {b.kind: b for b in _BUILTIN}
_loaded: list[bool] = []


def register(record: BackendKind) -> None:
    _REGISTERED[record.kind] = record


def kinds() -> dict[str, BackendKind]:
    if not _loaded:
        _loaded.append(True)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            loaded = ep.load()
            if isinstance(loaded, BackendKind):
                _REGISTERED.setdefault(loaded.kind, loaded)
    return dict(_REGISTERED)


def get(kind: str) -> BackendKind | None:
    return kinds().get(kind)


def action_modules() -> list[str]:
    """Modules registering backends' own runbook actions (imported by the action registry)."""
    return [b.actions for b in kinds().values() if b.actions]
