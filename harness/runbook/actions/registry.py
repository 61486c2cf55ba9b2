"""The registry of runbook actions: records only. Built-ins register when their modules are imported; others by
entry point (both loaded once, by :class:`harness.spec.registry.Registry`).

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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from harness.backends.registry import action_modules
from harness.runbook.retry import Attempt, StepTimeout, current_attempt
from harness.spec.registry import Registry

# An action is run(ctx: harness.engine.context.RunContext, params) -> str. The record types the context loosely so
# that the registry imports nothing above the spec's base types; each action's own signature types it.
RunContext = Any

ENTRY_POINT_GROUP = "harness.actions"
__all__ = ["ACTIONS", "Action", "Attempt", "Params", "StepTimeout", "action", "current_attempt", "get", "registry"]
# The built-in actions' modules (imported for their @action registrations on the first lookup).
BUILTIN_MODULES = ("harness.runbook.actions.builtin", "harness.runbook.actions.pressure",
                   "harness.runbook.actions.registry_checks")


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


def _builtin() -> Iterator[str]:
    yield from BUILTIN_MODULES
    yield from action_modules()  # a backend's own actions (swarm.rollback, swarm.scale, ...)


def _record(found: object) -> Action | None:
    # A module an entry point names registered its actions when it was imported; an Action object is a record.
    return None if isinstance(found, ModuleType) else found if isinstance(found, Action) else None


ACTIONS: Registry[Action] = Registry("action", ENTRY_POINT_GROUP, lambda a: a.name, _record, builtin=_builtin)
ActionFn = Callable[[RunContext, P], str]


def action(name: str, params: type[P], summary: str, services: tuple[str, ...] = ()) -> Callable[[ActionFn[P]], ActionFn[P]]:
    def register(fn: ActionFn[P]) -> ActionFn[P]:
        ACTIONS.register(Action(name, params, fn, summary, services))
        return fn

    return register


def registry() -> dict[str, Action]:
    return ACTIONS.kinds()


def get(name: str) -> Action | None:
    return ACTIONS.get(name)
