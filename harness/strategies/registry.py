"""The strategies' registry: one :class:`StrategyKind` record per kind, nothing above the spec's base types.

A record names the strategy object (``module:OBJECT``, imported only when a drill of that kind runs,
``harness.strategies.base.get``) and says what the spec must know without loading it: whether the
orchestrator itself rolls out (it then needs a backend with a rolling update of its own). Built-ins:
``canary``, ``blue-green``, ``swarm-update``, ``shadow``, ``late``, ``progressive``. A third party adds one
with an entry point in the ``harness.strategies.v1`` group naming a ``StrategyKind`` record or a strategy
object (its ``kind`` and ``needs_rolling_backend`` are read from it).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.backends.registry import BACKENDS
from harness.spec.registry import Registry

ENTRY_POINT_GROUP = "harness.strategies.v1"
TEE_BACKENDS = frozenset({"docker"})  # where a shadow stage's tee runs as a container beside the stable


@dataclass(frozen=True)
class StrategyKind:
    kind: str
    strategy: object  # "module:OBJECT" (imported on first use) or the strategy object itself
    rolling: bool = False  # the orchestrator rolls out itself: needs a backend with a rolling update (ports.RollingBackend)


def _record(found: object) -> StrategyKind | None:
    if isinstance(found, StrategyKind):
        return found
    kind = getattr(found, "kind", None)
    if isinstance(kind, str):  # a strategy object named by an entry point
        return StrategyKind(kind, found, bool(getattr(found, "needs_rolling_backend", False)))
    return None


STRATEGIES: Registry[StrategyKind] = Registry(
    "strategy", ENTRY_POINT_GROUP, lambda r: r.kind, _record,
    builtin=(StrategyKind("canary", "harness.strategies.canary:CANARY"),
             StrategyKind("blue-green", "harness.strategies.blue_green:BLUE_GREEN"),
             StrategyKind("swarm-update", "harness.strategies.rolling:SWARM_UPDATE", rolling=True),
             StrategyKind("shadow", "harness.strategies.shadow:SHADOW"),
             StrategyKind("late", "harness.strategies.late:LATE"),
             StrategyKind("progressive", "harness.strategies.progressive:PROGRESSIVE")))
register = STRATEGIES.register
names = STRATEGIES.names
get = STRATEGIES.get


def backend_problem(kind: str, backend: str, shadow: bool = False) -> str | None:
    """Why strategy ``kind`` cannot run on ``backend`` (None: it can); ``shadow``: the drill has a shadow stage."""
    if shadow and backend not in TEE_BACKENDS:
        return (f"{kind}: a shadow stage runs its tee as a container beside the stable, on backend "
                f"{' or '.join(sorted(TEE_BACKENDS))}; it cannot run on backend {backend!r}")
    record, host = get(kind), BACKENDS.get(backend)
    if record is None or host is None or not record.rolling or host.rolling:
        return None
    rolling = sorted(k for k, b in BACKENDS.kinds().items() if b.rolling)
    return (f"{kind} needs backend: {' or '.join(rolling)} (the orchestrator rolls the service itself); "
            f"it cannot run on backend {backend!r}")
