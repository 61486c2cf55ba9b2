"""What a strategy is (:class:`Strategy`, :class:`StrategyRun`) and how the engine finds one by kind (:func:`get`).

The records (kind, dotted path, whether the orchestrator rolls out) are :mod:`harness.strategies.registry`;
``get`` imports a strategy's module only when a drill of that kind runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from harness.spec.registry import resolve
from harness.strategies.registry import STRATEGIES

if TYPE_CHECKING:
    from harness.engine.context import RunContext
    from harness.engine.events import Event
    from harness.engine.results import Evidence
    from harness.engine.state import RunState
    from harness.spec.catalogue import LoadedDrill

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


def get(kind: str) -> Strategy | None:
    """The strategy of ``kind`` (its module imported now), or None when no such kind is registered."""
    record = STRATEGIES.get(kind)
    if record is None:
        return None
    found: Strategy = resolve(record.strategy) if isinstance(record.strategy, str) else record.strategy  # type: ignore[assignment]
    return found
