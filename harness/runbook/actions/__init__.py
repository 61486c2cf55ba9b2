"""The registry of runbook actions. Built-ins register at import; others by entry point.

A third party adds an action with an entry point in the ``harness.runbook.actions`` group that points at a
module (imported for its ``@action`` registrations) or at an ``Action`` object.

An action is ``run(ctx, params) -> str``. Each attempt runs under a deadline (the step's
``timeout``): ``current_attempt()`` gives it, and an action that loops, sleeps or starts a
subprocess should use ``attempt.sleep()``, ``attempt.check()``, ``attempt.bound(timeout)`` and
``attempt.on_cancel(kill)`` so it really stops at the deadline. An action that ignores the
deadline still works: at the deadline it is abandoned (its thread never holds the process open)
and the step is not retried, so attempts never overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from harness.engine.context import RunContext
from harness.runbook.retry import Attempt, StepTimeout, current_attempt

ENTRY_POINT_GROUP = "harness.actions"
__all__ = ["Action", "Attempt", "Params", "StepTimeout", "action", "current_attempt", "get", "registry"]


class Params(BaseModel):
    """Base of every action's parameters: unknown keys and non-finite numbers are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Action:
    name: str
    params: type[Params]
    run: Callable[[RunContext, Any], str]
    summary: str
    services: tuple[str, ...] = ()  # names of the params that must name a stack service


_ACTIONS: dict[str, Action] = {}
_loaded = False


ActionFn = Callable[[RunContext, P], str]


def action(name: str, params: type[P], summary: str, services: tuple[str, ...] = ()) -> Callable[[ActionFn[P]], ActionFn[P]]:
    def register(fn: Callable[[RunContext, P], str]) -> Callable[[RunContext, P], str]:
        _ACTIONS[name] = Action(name, params, fn, summary, services)
        return fn

    return register


def registry() -> dict[str, Action]:
    global _loaded
    if not _loaded:
        _loaded = True
        from harness import backends
        from harness.runbook.actions import builtin, pressure, registry_checks, team  # noqa: F401  (registers the built-ins)

        for module in backends.action_modules():  # a backend's own actions (swarm.rollback, swarm.scale, ...)
            import_module(module)

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            loaded = ep.load()
            if isinstance(loaded, Action):
                _ACTIONS[loaded.name] = loaded
    return dict(_ACTIONS)


def get(name: str) -> Action | None:
    return registry().get(name)
