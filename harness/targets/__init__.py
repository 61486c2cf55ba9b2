"""Target kinds: what a drill runs against, each behind the seams of ``harness.ports``.

Each kind is one :class:`TargetKind` record: its ``target:`` block model, the backends it runs on, the
faults its bad version can carry, and its factory (``module:function``, imported only when a drill of
that kind runs, so loading the catalogue loads no Docker client). The built-in kinds' records live in
their own packages (``harness.targets.builtin``, ``.image``, ``.mlflow``); a third party registers one
with an entry point in the ``harness.targets.v1`` group naming a ``TargetKind`` object, or calls
:func:`register`. The drill spec accepts any registered kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import SpecError, SpecIssue
from harness.spec_types import TargetBlock

if TYPE_CHECKING:
    from harness.catalogue import LoadedDrill
    from harness.ports import Target

ENTRY_POINT_GROUP = "harness.targets.v1"
Factory = Callable[["LoadedDrill", str, Path, str], "Target"]  # (drill, run_id, workdir, backend) -> Target
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

    def create(self, drill: LoadedDrill, run_id: str, workdir: Path, backend: str) -> Target:
        factory = self.factory
        if isinstance(factory, str):
            module, _, name = factory.partition(":")
            factory = getattr(import_module(module), name)
        assert callable(factory)
        return factory(drill, run_id, workdir, backend)


# The built-in kinds: module holding each record as ``KIND`` (imported on first use, light modules).
_BUILTIN = {"builtin": "harness.targets.builtin", "image": "harness.targets.image", "mlflow": "harness.targets.mlflow",
            "compose": "harness.targets.compose"}
_REGISTERED: dict[str, TargetKind] = {}
_loaded: list[bool] = []


def register(record: TargetKind) -> None:
    """Make a target kind available (a plugin's own code, or a test)."""
    _REGISTERED[record.kind] = record


def _load() -> dict[str, TargetKind]:
    if not _loaded:
        _loaded.append(True)
        for kind, module in _BUILTIN.items():
            _REGISTERED.setdefault(kind, import_module(module).KIND)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            loaded = ep.load()
            if isinstance(loaded, TargetKind):
                _REGISTERED.setdefault(loaded.kind, loaded)
    return _REGISTERED


def kinds() -> dict[str, TargetKind]:
    """Every registered target kind by name."""
    return dict(_load())


def get(kind: str) -> TargetKind | None:
    return _load().get(kind)


def target_kind(drill: LoadedDrill) -> str:
    return drill.spec.target.kind


def check_backend(drill: LoadedDrill, backend: str | None) -> str:
    """The backend a run uses (``--backend`` over the drill's own); bad input before anything starts."""
    from harness import backends, strategies

    chosen = backend or drill.spec.backend
    record = get(target_kind(drill))
    if backends.get(chosen) is None:
        raise SpecError(SpecIssue(str(drill.drill_path), "backend",
                                  f"no backend {chosen!r}; known: {', '.join(sorted(backends.kinds()))}"))
    if record is not None and chosen not in record.backends:
        raise SpecError(SpecIssue(str(drill.drill_path), "backend",
                                  f"target {record.kind!r} cannot run on backend {chosen!r} "
                                  f"(it runs on {', '.join(sorted(record.backends))})"))
    problem = strategies.backend_problem(drill.spec.strategy.kind, chosen, shadow=drill.spec.strategy.has_shadow)
    if problem:
        raise SpecError(SpecIssue(str(drill.drill_path), "strategy.kind", problem))
    return chosen


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str | None = None) -> Target:
    """The target for one run of ``drill`` (not started yet: the engine calls ``prepare``)."""
    kind = target_kind(drill)
    record = get(kind)
    if record is None:
        raise SpecError(SpecIssue(str(drill.drill_path), "target.kind",
                                  f"no target kind {kind!r}; known: {', '.join(sorted(kinds()))}"))
    return record.create(drill, run_id, workdir, check_backend(drill, backend))


__all__ = ["ENTRY_POINT_GROUP", "NETWORK_FAULTS", "Factory", "TargetKind", "check_backend", "create", "get",
           "kinds", "register", "target_kind"]
