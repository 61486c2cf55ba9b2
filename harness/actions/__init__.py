"""The registry of runbook actions. Built-ins register at import; others by entry point.

A third party adds an action with an entry point in the ``harness.actions`` group that points at a
module (imported for its ``@action`` registrations) or at an ``Action`` object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from harness.context import RunContext

ENTRY_POINT_GROUP = "harness.actions"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


def action(name: str, params: type[P], summary: str, services: tuple[str, ...] = ()) -> Callable[[Callable[[RunContext, P], str]], Callable[[RunContext, P], str]]:
    def register(fn: Callable[[RunContext, P], str]) -> Callable[[RunContext, P], str]:
        _ACTIONS[name] = Action(name, params, fn, summary, services)
        return fn

    return register


def registry() -> dict[str, Action]:
    global _loaded
    if not _loaded:
        _loaded = True
        from harness.actions import builtin, registry_checks  # noqa: F401  (registers the built-ins)

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            loaded = ep.load()
            if isinstance(loaded, Action):
                _ACTIONS[loaded.name] = loaded
    return dict(_ACTIONS)


def get(name: str) -> Action | None:
    return registry().get(name)
