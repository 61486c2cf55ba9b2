"""The target kinds' registry: one :class:`TargetKind` record per kind, nothing above the spec's base types.

A record says what the harness must know about a kind before it runs: its ``target:`` block model, the
backends it runs on, the faults its bad version can carry, and its factory (``module:function``, imported
only when a drill of that kind runs, so validating a drill loads no Docker client). The built-in kinds'
records live in their own packages (``harness.targets.builtin``, ``.image``, ``.mlflow``, as ``KIND``); a
third party registers one with an entry point in the ``harness.targets.v1`` group naming a ``TargetKind``
object, or calls :func:`register`. The drill spec accepts any registered kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from harness.spec.registry import Registry, resolve
from harness.spec.types import TargetBlock

ENTRY_POINT_GROUP = "harness.targets.v1"
# (drill: LoadedDrill, run_id, workdir, backend) -> harness.ports.Target; typed loosely here so that the
# registry imports nothing above the spec's base types (harness.targets.create types the call).
Factory = Callable[..., Any]
# Faults a fault proxy makes in front of any HTTP server (inject: true).
NETWORK_FAULTS = frozenset({"error", "latency", "drop", "wrong_body"})


@dataclass(frozen=True)
class TargetKind:
    """One target kind: everything the harness needs to know about it before it runs."""

    kind: str
    spec: type[TargetBlock]
    factory: str | Factory  # "module:function" (imported lazily) or the function itself
    description: str = ""
    backends: frozenset[str] = frozenset({"docker"})
    faults: frozenset[str] = frozenset({"none"})  # fault kinds its bad version carries itself
    injected: frozenset[str] = frozenset()  # fault kinds a proxy injects in front of it (inject: true)
    fault_hint: str = ""  # said when a fault does not fit
    late_faults: bool = False  # its model can start a fault some time after it loaded (fault.after)
    tee: bool = False  # a shadow stage can run its tee in front of its stable (the target has ``shadow_tee``)

    def fault_problem(self, fault_kind: str, inject: bool) -> str | None:
        """Why a drill's ``fault:`` cannot run on this kind (None: it can)."""
        if inject and fault_kind not in self.injected | {"none"}:
            takes = f"injected faults {', '.join(sorted(self.injected))}" if self.injected else "no injected faults"
            return f"target kind {self.kind!r} takes {takes}" + (f"; {self.fault_hint}" if self.fault_hint else "")
        if not inject and fault_kind not in self.faults:
            return (f"target kind {self.kind!r}'s model carries one of {', '.join(sorted(self.faults))}"
                    + (f"; {self.fault_hint}" if self.fault_hint else ""))
        return None

    def make(self) -> Factory:
        """The factory itself (imports its module: only when a drill of this kind runs)."""
        found = resolve(self.factory) if isinstance(self.factory, str) else self.factory
        assert callable(found), f"target kind {self.kind!r}: factory {self.factory!r} is not callable"
        return found


def _record(found: object) -> TargetKind | None:
    if isinstance(found, ModuleType):
        found = getattr(found, "KIND", None)
    return found if isinstance(found, TargetKind) else None


TARGETS: Registry[TargetKind] = Registry(
    "target kind", ENTRY_POINT_GROUP, lambda r: r.kind, _record,
    builtin=("harness.targets.builtin", "harness.targets.image", "harness.targets.mlflow"))
register = TARGETS.register
kinds = TARGETS.kinds
get = TARGETS.get
