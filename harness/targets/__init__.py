"""Targets: what a drill runs against, each behind the seams of ``harness.ports``.

``create`` picks the factory by the drill's ``target.kind`` (``builtin`` unless the drill says
otherwise). Built-in kinds register here; third parties add theirs with an entry point in the
``harness.targets.v1`` group naming a factory with the same signature as :data:`Factory`.
Factories import Docker lazily, so loading the catalogue (``drill validate``) loads no Docker client.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import SpecError, SpecIssue

if TYPE_CHECKING:
    from harness.catalogue import LoadedDrill
    from harness.ports import Target

ENTRY_POINT_GROUP = "harness.targets.v1"
Factory = Callable[["LoadedDrill", str, Path, str], "Target"]  # (drill, run_id, workdir, backend) -> Target

# kind -> "module:function", imported only when a drill of that kind runs.
BUILTIN_FACTORIES: dict[str, str] = {
    "builtin": "harness.targets.builtin.target:create",
    "image": "harness.targets.image:create",
    "mlflow": "harness.targets.mlflow.target:create",
}


def register(kind: str, factory_path: str) -> None:
    """Make a target kind available (``module:function``)."""
    BUILTIN_FACTORIES[kind] = factory_path


def _factory(kind: str) -> Factory | None:
    path = BUILTIN_FACTORIES.get(kind)
    if path is None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == kind:
                loaded: Factory = ep.load()
                return loaded
        return None
    module, _, name = path.partition(":")
    found: Factory = getattr(import_module(module), name)
    return found


def backend_error(drill: LoadedDrill, backend: str) -> SpecError:
    return SpecError(SpecIssue(str(drill.drill_path), "backend",
                               f"target {target_kind(drill)!r} cannot run on backend {backend!r}"))


def check_backend(drill: LoadedDrill, backend: str | None) -> None:
    """Bad input before anything starts: a drill whose strategy needs an orchestrator, on a backend without one."""
    chosen = backend or getattr(drill.spec, "backend", None) or "docker"
    strategy = getattr(drill.spec, "strategy", None)
    if getattr(strategy, "kind", None) == "swarm-update" and chosen != "swarm":
        raise SpecError(SpecIssue(str(drill.drill_path), "strategy.kind",
                                  f"swarm-update is Swarm's own rolling update; it cannot run on backend {chosen!r}"))


def target_kind(drill: LoadedDrill) -> str:
    target = getattr(drill.spec, "target", None)
    return str(getattr(target, "kind", "builtin")) if target is not None else "builtin"


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str | None = None) -> Target:
    """The target for one run of ``drill`` (not started yet: the engine calls ``prepare``)."""
    kind = target_kind(drill)
    factory = _factory(kind)
    if factory is None:
        raise SpecError(SpecIssue(str(drill.drill_path), "target.kind",
                                  f"no target kind {kind!r}; known: {', '.join(sorted(BUILTIN_FACTORIES))}"))
    return factory(drill, run_id, workdir, backend or getattr(drill.spec, "backend", None) or "docker")
