"""Strategies: how a candidate is rolled out, judged against, and promoted. One module per kind.

A :class:`Strategy` deploys the candidate (``deploy``), may let an orchestrator decide on its own
(``orchestrator_decision``), says whether the drill's own analysis judges (``analysis_judges``) and
promotes a good candidate (``promote``). The engine calls these and names no strategy. Built-ins:
``canary`` and ``blue-green`` (router weights, ``harness.strategies.split``) and ``swarm-update``
(the orchestrator's own rolling update, ``harness.strategies.rolling``), ``shadow`` (copies to the candidate, the
paired judge) and ``progressive`` (chained stages: shadow, then canaries, then the promotion). A third party adds one with an
entry point in the ``harness.strategies.v1`` group naming a ``Strategy`` object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from harness.catalogue import LoadedDrill
    from harness.engine.context import RunContext
    from harness.engine.events import Event
    from harness.engine.results import Evidence
    from harness.engine.state import RunState

ENTRY_POINT_GROUP = "harness.strategies.v1"


@dataclass(frozen=True)
class StrategyRun:
    """What a strategy works with during one run."""

    ctx: RunContext
    drill: LoadedDrill
    state: RunState
    emit: Callable[[Event], None]


class Strategy(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def needs_rolling_backend(self) -> bool:
        """True when the orchestrator itself rolls out (a backend with ``ports.RollingBackend``)."""
        ...

    def deploy(self, run: StrategyRun) -> bool:
        """Roll the candidate out; False when it never became ready (the strategy then records the decision)."""
        ...

    def analysis_judges(self, run: StrategyRun) -> bool:
        """Whether the drill's own checks judge the candidate (an orchestrator-only path says no)."""
        ...

    def orchestrator_decision(self, run: StrategyRun) -> Evidence | None:
        """The orchestrator's own rollback decision, if it took one (None: it did not, or there is none)."""
        ...

    def promote(self, run: StrategyRun) -> None:
        """Make the candidate the only version serving."""
        ...


_BUILTIN = {"canary": "harness.strategies.canary:CANARY", "blue-green": "harness.strategies.blue_green:BLUE_GREEN",
            "swarm-update": "harness.strategies.rolling:SWARM_UPDATE", "shadow": "harness.strategies.shadow:SHADOW",
            "late": "harness.strategies.late:LATE", "progressive": "harness.strategies.progressive:PROGRESSIVE"}
_REGISTERED: dict[str, Strategy] = {}


def register(strategy: Strategy) -> None:
    _REGISTERED[strategy.kind] = strategy


def names() -> list[str]:
    """Every strategy kind, without importing any strategy (for validating a drill)."""
    found = dict.fromkeys([*_BUILTIN, *_REGISTERED])
    found.update(dict.fromkeys(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)))
    return list(found)


def get(kind: str) -> Strategy | None:
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    path = _BUILTIN.get(kind)
    if path is not None:
        module, _, name = path.partition(":")
        found: Strategy = getattr(import_module(module), name)
        return _REGISTERED.setdefault(kind, found)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            loaded: Strategy = ep.load()
            return _REGISTERED.setdefault(kind, loaded)
    return None


def backend_problem(kind: str, backend: str, shadow: bool = False) -> str | None:
    """Why strategy ``kind`` cannot run on ``backend`` (None: it can); ``shadow``: the drill has a shadow stage."""
    from harness import backends
    from harness.strategies.shadow import TEE_BACKENDS

    if shadow and backend not in TEE_BACKENDS:
        return (f"{kind}: a shadow stage runs its tee as a container beside the stable, on backend "
                f"{' or '.join(sorted(TEE_BACKENDS))}; it cannot run on backend {backend!r}")
    strategy, record = get(kind), backends.get(backend)
    if strategy is None or record is None or not strategy.needs_rolling_backend or record.rolling:
        return None
    rolling = sorted(k for k, b in backends.kinds().items() if b.rolling)
    return (f"{kind} needs backend: {' or '.join(rolling)} (the orchestrator rolls the service itself); "
            f"it cannot run on backend {backend!r}")
