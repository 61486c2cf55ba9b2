"""Target kinds: what a drill runs against, each behind the seams of ``harness.ports``.

The records live in :mod:`harness.targets.registry` (re-exported here for plugins: ``TargetKind``,
``register``); this module makes a run's target from its drill (``create``) and checks the backend a run
uses (``check_backend``) — the part that needs the drill as loaded, not only its kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.backends.registry import BACKENDS
from harness.errors import SpecError, SpecIssue
from harness.strategies.registry import backend_problem
from harness.targets.registry import ENTRY_POINT_GROUP, NETWORK_FAULTS, Factory, TargetKind, get, kinds, register

if TYPE_CHECKING:
    from harness.ports import Target
    from harness.spec.catalogue import LoadedDrill


def target_kind(drill: LoadedDrill) -> str:
    return drill.spec.target.kind


def check_backend(drill: LoadedDrill, backend: str | None) -> str:
    """The backend a run uses (``--backend`` over the drill's own); bad input before anything starts."""
    chosen = backend or drill.spec.backend
    record = get(target_kind(drill))
    if BACKENDS.get(chosen) is None:
        raise SpecError(SpecIssue(str(drill.drill_path), "backend", BACKENDS.unknown(chosen)))
    if record is not None and chosen not in record.backends:
        raise SpecError(SpecIssue(str(drill.drill_path), "backend",
                                  f"target {record.kind!r} cannot run on backend {chosen!r} "
                                  f"(it runs on {', '.join(sorted(record.backends))})"))
    problem = backend_problem(drill.spec.strategy.kind, chosen, shadow=drill.spec.strategy.has_shadow)
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
    target: Target = record.make()(drill, run_id, workdir, check_backend(drill, backend))
    return target


__all__ = ["ENTRY_POINT_GROUP", "NETWORK_FAULTS", "Factory", "TargetKind", "check_backend", "create", "get",
           "kinds", "register", "target_kind"]
