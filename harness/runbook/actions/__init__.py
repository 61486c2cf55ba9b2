"""Runbook actions: the registry (:mod:`harness.runbook.actions.registry`, re-exported here for plugins) and the
built-in actions (``builtin``, ``pressure``, ``registry_checks``; a backend's own in its package).

A third party adds an action with an entry point in the ``harness.runbook.actions`` group that points at a
module (imported for its ``@action`` registrations) or at an ``Action`` object. See the registry module for
how an action keeps its step's deadline (``current_attempt()``).
"""

from __future__ import annotations

from harness.runbook.actions.registry import (
    ACTIONS,
    ENTRY_POINT_GROUP,
    Action,
    Attempt,
    Params,
    StepTimeout,
    action,
    current_attempt,
    get,
    registry,
)

__all__ = ["ACTIONS", "ENTRY_POINT_GROUP", "Action", "Attempt", "Params", "StepTimeout", "action", "current_attempt", "get",
           "registry"]
