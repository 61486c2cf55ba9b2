"""Opening a backend over a target's running stack, planning the stack for it, and sweeping what it left.

What the registry's records name as dotted paths is called here (``harness.backends.registry`` holds the
records only, so that the spec can ask it whether a backend exists without loading any of this).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.backends.registry import BackendKind
from harness.errors import BackendUnavailable
from harness.spec.registry import resolve

if TYPE_CHECKING:
    from harness.ports import Backend, Progress
    from harness.spec.models import DrillSpec


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


def open_backend(record: BackendKind, host: ModelHost, progress: Progress) -> Opened:
    if record.opener is None:
        raise NotImplementedError(f"backend {record.kind!r} opens no stack of its own")
    opened: Opened = resolve(record.opener)(host, progress)
    return opened


def plan(record: BackendKind, host: ModelHost, progress: Progress) -> None:
    """Before the target's stack starts. A backend without a planner runs on one engine: a drill needing
    several nodes stops here, before anything starts."""
    if record.stack_planner is not None:
        resolve(record.stack_planner)(host, progress)
    elif host.spec.nodes > 1:
        raise BackendUnavailable(f"drill {host.spec.name} needs a swarm of {host.spec.nodes} nodes; backend "
                                 f"{record.kind!r} runs on one engine (run it with --backend swarm)")


def sweep(record: BackendKind, client: Any, run_id: str | None) -> bool:
    """What ``drill clean`` undoes beyond the label sweep; True when the backend acted."""
    return record.sweeper is not None and resolve(record.sweeper)(client, run_id) is not None
