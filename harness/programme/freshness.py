"""Runbook freshness: has each runbook of the project been drilled, as expected, recently, as it reads now?

The standard asks that runbooks be "tested quarterly to ensure they can be executed under pressure". A
runbook is *stale* when its last drill that ended as expected is older than its ``freshness:`` (default
90 days), when it never had one, or when the file changed since (its content hash differs from the one
recorded with that run). `drill status` exits 1 when anything is stale, so a CI job can gate on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import SpecError, SpecIssue
from harness.programme.hashing import content_hash
from harness.spec import catalogue
from harness.spec.models import RunbookSpec, parse_model
from harness.store import Latest, RunSummary, Store

DEFAULT_FRESHNESS_DAYS = 90


@dataclass(frozen=True)
class Freshness:
    """One runbook (kind 'runbook') or one model seen in the store (kind 'model')."""

    kind: str
    name: str
    path: str | None
    drills: tuple[str, ...]
    freshness_days: int
    current_hash: str | None
    last: RunSummary | None
    last_as_expected: RunSummary | None
    now: datetime

    @property
    def age_days(self) -> float | None:
        """Days since the last drill of any outcome."""
        return None if self.last is None else round((self.now - self.last.started_at).total_seconds() / 86400, 1)

    @property
    def changed_since(self) -> bool | None:
        """The file differs from what its last as-expected drill exercised (None: cannot tell)."""
        reference = self.last_as_expected
        if self.kind != "runbook" or reference is None or reference.runbook_hash is None or self.current_hash is None:
            return None
        return reference.runbook_hash != self.current_hash

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why it is stale; empty when fresh."""
        good = self.last_as_expected
        if good is None:
            return ("never drilled",) if self.last is None else ("no drill ended as expected",)
        out = []
        age = (self.now - good.started_at).total_seconds() / 86400
        if age > self.freshness_days:
            out.append(f"last as-expected drill {age:.0f} days ago (freshness {self.freshness_days} days)")
        if self.changed_since:
            out.append(f"changed since its last as-expected drill ({good.run_id})")
        return tuple(out)

    @property
    def stale(self) -> bool:
        return bool(self.reasons)

    def to_json(self) -> dict[str, Any]:
        def run(r: RunSummary | None) -> dict[str, Any] | None:
            return None if r is None else {
                "run_id": r.run_id, "drill": r.drill, "status": r.status, "expect": r.expect,
                "as_expected": r.as_expected, "started_at": r.started_at.isoformat().replace("+00:00", "Z"),
                "runbook_hash": r.runbook_hash}
        return {"kind": self.kind, "name": self.name, "path": self.path, "drills": list(self.drills),
                "freshness_days": self.freshness_days, "current_hash": self.current_hash,
                "last": run(self.last), "last_as_expected": run(self.last_as_expected), "age_days": self.age_days,
                "changed_since": self.changed_since, "stale": self.stale, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class StatusReport:
    runbooks: tuple[Freshness, ...]
    models: tuple[Freshness, ...]
    generated_at: datetime

    @property
    def stale(self) -> bool:
        return any(item.stale for item in (*self.runbooks, *self.models))

    def to_json(self) -> dict[str, Any]:
        return {"generated_at": self.generated_at.isoformat().replace("+00:00", "Z"), "stale": self.stale,
                "runbooks": [r.to_json() for r in self.runbooks], "models": [m.to_json() for m in self.models]}


def project_runbooks() -> list[tuple[RunbookSpec, Path, tuple[str, ...]]]:
    """The project's runbooks (the catalogue's where there is no project), each with the drills using it.

    Every drill and runbook is validated first: a broken file is bad input (exit 2), never a fresh row."""
    project = [root for root in catalogue.roots() if root != catalogue.BUILTIN_ROOT]
    roots = [root for root in project if (root / "drills").is_dir() or (root / "runbooks").is_dir()]
    roots = roots or [catalogue.BUILTIN_ROOT]
    users: dict[Path, list[str]] = {}
    paths: list[Path] = []
    issues: list[SpecIssue] = []
    for root in roots:
        paths += sorted((root / "runbooks").glob("*.y*ml"))
        for drill_path in sorted((root / "drills").glob("*.y*ml")):
            try:
                loaded = catalogue.load_drill(str(drill_path))
            except SpecError as exc:
                issues.extend(exc.issues)
                continue
            key = loaded.runbook_path.resolve()
            users.setdefault(key, []).append(loaded.spec.name)
            if all(p.resolve() != key for p in paths):
                paths.append(loaded.runbook_path)
    found: list[tuple[RunbookSpec, Path, tuple[str, ...]]] = []
    for path in paths:
        try:
            found.append((parse_model(path, RunbookSpec), path, tuple(sorted(users.get(path.resolve(), [])))))
        except SpecError as exc:
            issues.extend(exc.issues)
    if issues:
        raise SpecError(issues)
    return found


def status(store: Store, runbooks: Sequence[tuple[RunbookSpec, Path, tuple[str, ...]]],
           now: datetime | None = None) -> StatusReport:
    """Freshness of each runbook given, and of each model the store has drill runs of."""
    at = now or datetime.now(UTC)
    by_runbook = store.latest_runs("runbook")
    rows = []
    for spec, path, drills in runbooks:
        latest: Latest | None = by_runbook.get(spec.name)
        rows.append(Freshness("runbook", spec.name, str(path), drills, spec.freshness, content_hash(path),
                              latest.last if latest else None, latest.last_as_expected if latest else None, at))
    models = [Freshness("model", key, None, (latest.last.drill,), DEFAULT_FRESHNESS_DAYS, None, latest.last,
                        latest.last_as_expected, at)
              for key, latest in sorted(store.latest_runs("model").items())]
    return StatusReport(tuple(rows), tuple(models), at)
