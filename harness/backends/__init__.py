"""Backends: where model versions run. Each kind is one :class:`BackendKind` record.

The records live in :mod:`harness.backends.registry`; opening one over a stack is :mod:`harness.backends.host`.
Both are re-exported here for plugins (``from harness.backends import BackendKind, ModelHost, Opened``).
"""

from __future__ import annotations

from harness.backends.host import ModelHost, Opened
from harness.backends.registry import BACKENDS, ENTRY_POINT_GROUP, BackendKind, action_modules, get, kinds, register

__all__ = ["BACKENDS", "ENTRY_POINT_GROUP", "BackendKind", "ModelHost", "Opened", "action_modules", "get", "kinds", "register"]
