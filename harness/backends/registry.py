"""The backends' registry: one :class:`BackendKind` record per kind, nothing above the spec's base types.

A record says what a backend is, which orchestrator features it has (a rolling update of its own), where
its opener lives (``module:function``, imported when a run opens it: ``harness.backends.host``), which
runbook actions it adds (a module that registers them when imported) and how ``drill clean`` sweeps what a
killed run left. Built-ins: ``docker`` (a container per slot, ``harness.backends.docker``) and ``swarm``
(replicated services, ``harness.backends.swarm``). A third party adds one with an entry point in the
``harness.backends.v1`` group naming a ``BackendKind``. Records hold dotted paths only, so the registry
loads no Docker client.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.spec.registry import Registry

ENTRY_POINT_GROUP = "harness.backends.v1"


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


BACKENDS: Registry[BackendKind] = Registry(
    "backend", ENTRY_POINT_GROUP, lambda r: r.kind, lambda found: found if isinstance(found, BackendKind) else None,
    builtin=(
        BackendKind("docker", "a container per slot on one Docker engine", opener="harness.backends.docker:open_backend",
                    in_stack=True),
        BackendKind("swarm", "replicated Docker Swarm services per slot (DNS round robin; Swarm's own rolling update)",
                    opener="harness.backends.swarm:open_backend", rolling=True,
                    router_configs=("haproxy-swarm.cfg",), actions="harness.backends.swarm.actions",
                    sweeper="harness.backends.swarm.session:clean", stack_planner="harness.backends.swarm:plan_stack"),
    ))
register = BACKENDS.register
kinds = BACKENDS.kinds
get = BACKENDS.get


def action_modules() -> list[str]:
    """Modules registering backends' own runbook actions (imported by the action registry)."""
    return [b.actions for b in kinds().values() if b.actions]
