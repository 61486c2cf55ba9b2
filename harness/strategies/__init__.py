"""Strategies: how a candidate is rolled out, judged against, and promoted. One module per kind.

A :class:`Strategy` deploys the candidate (``deploy``), may let an orchestrator decide on its own
(``orchestrator_decision``), says whether the drill's own analysis judges (``analysis_judges``) and
promotes a good candidate (``promote``). The engine calls these and names no strategy. Built-ins:
``canary`` and ``blue-green`` (router weights, ``harness.strategies.split``) and ``swarm-update``
(the orchestrator's own rolling update, ``harness.strategies.rolling``), ``shadow`` (copies to the candidate, the
paired judge) and ``progressive`` (chained stages: shadow, then canaries, then the promotion). A third party adds one with an
entry point in the ``harness.strategies.v1`` group naming a ``Strategy`` object.

The records are :mod:`harness.strategies.registry`, the protocol :mod:`harness.strategies.base`; both are
re-exported here for plugins.
"""

from __future__ import annotations

from harness.strategies.base import Strategy, StrategyRun, get
from harness.strategies.registry import ENTRY_POINT_GROUP, STRATEGIES, StrategyKind, backend_problem, names


def register(strategy: Strategy | StrategyKind) -> None:
    """Make a strategy available: a :class:`StrategyKind` record, or a strategy object itself."""
    STRATEGIES.register(strategy if isinstance(strategy, StrategyKind)
                        else StrategyKind(strategy.kind, strategy, strategy.needs_rolling_backend))


__all__ = ["ENTRY_POINT_GROUP", "STRATEGIES", "Strategy", "StrategyKind", "StrategyRun", "backend_problem", "get", "names",
           "register"]
