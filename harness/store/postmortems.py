"""Post-mortems: finding a rollback, attaching its RCA link and cause keys, and the standard's two signals.

The standard asks that "all production rollbacks in the last six months have published root cause
analyses" and that "no rollback in the last quarter was caused by a root cause that had previously been
identified in another rollback post-mortem". The first is a share over a six-month window ending where the
query ends; the second is a list: each rollback decided in the query's window whose cause key had already
appeared on an earlier rollback (any model, same environment), with that earlier one beside it.

    drill record rca 20261201T101500Z-canary-fail-1a2b3c --url https://wiki/pm/42 --cause-key schema-drift:age
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, case, delete, func, select, update

from harness.errors import SpecError, SpecIssue
from harness.store import rows
from harness.store.causes import check_cause_keys
from harness.store.records import DRILL_ENVIRONMENT, Rollback
from harness.store.schema import drill_runs, rollback_cause_keys, rollbacks

SIX_MONTHS = 6


@dataclass(frozen=True)
class StoredRollback:
    """A rollback with its row id (what `drill record rca` and the release notes name it by)."""

    id: int
    rollback: Rollback

    @property
    def label(self) -> str:
        r = self.rollback
        return f"#{self.id} {r.model} {r.from_version} -> {r.to_version} ({r.environment})"


@dataclass(frozen=True)
class RepeatedCause:
    """A rollback whose finding an earlier rollback's post-mortem had already named."""

    rollback: StoredRollback
    cause_key: str
    earlier: StoredRollback

    def to_json(self) -> dict[str, object]:
        def one(s: StoredRollback) -> dict[str, object]:
            r = s.rollback
            return {"id": s.id, "model": r.model, "from_version": r.from_version,
                    "decided_at": r.decided_at.isoformat().replace("+00:00", "Z"), "rca_url": r.rca_url}
        return {"cause_key": self.cause_key, "rollback": one(self.rollback), "earlier": one(self.earlier)}


@dataclass(frozen=True)
class PostmortemSignals:
    """RCA coverage over six months, and rollbacks of the window whose cause had been identified before."""

    coverage_since: datetime
    coverage_until: datetime
    rollbacks_six_months: int
    with_rca_six_months: int
    repeated: tuple[RepeatedCause, ...]

    @property
    def rca_coverage_six_months_pct(self) -> float | None:
        n = self.rollbacks_six_months
        return None if n == 0 else self.with_rca_six_months * 100 / n

    def to_json(self) -> dict[str, object]:
        pct = self.rca_coverage_six_months_pct
        return {
            "population": "six_months",
            "rca_coverage_six_months_pct": None if pct is None else round(pct, 4),
            "rca_coverage_since": self.coverage_since.isoformat().replace("+00:00", "Z"),
            "rca_coverage_until": self.coverage_until.isoformat().replace("+00:00", "Z"),
            "rollbacks_six_months": self.rollbacks_six_months,
            "with_rca_six_months": self.with_rca_six_months,
            "repeated_cause_keys": [r.to_json() for r in self.repeated],
        }


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    last_day = (following - datetime(year, month, 1, tzinfo=UTC)).days
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def all_cause_keys(conn: Connection) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    query = select(rollback_cause_keys).order_by(rollback_cause_keys.c.rollback_id, rollback_cause_keys.c.cause_key)
    for row in conn.execute(query):
        found.setdefault(row.rollback_id, []).append(row.cause_key)
    return found


def stored(conn: Connection, found: Sequence[Row[Any]]) -> list[StoredRollback]:
    keys = rows.cause_keys_of(conn, [row.id for row in found])
    return [StoredRollback(row.id, rows.rollback_from_row(row, keys.get(row.id, ()))) for row in found]


def find_rollback(conn: Connection, ref: str, file: str = "RUN_OR_ROLLBACK") -> StoredRollback:
    """A rollback by ``#ID`` / ``ID``, by a drill run id (or a unique prefix), or by ``MODEL@FROM_VERSION``
    (its latest rollback). SpecError naming the argument when none or several match."""
    text = ref.strip()
    r = rollbacks.c
    if text.lstrip("#").isdigit():
        found = conn.execute(select(rollbacks).where(r.id == int(text.lstrip("#")))).all()
        if found:
            return stored(conn, found)[0]
        raise SpecError(SpecIssue(file, "-", f"no rollback #{text.lstrip('#')} in the store"))
    if "@" in text:
        model, _, version = text.partition("@")
        found = conn.execute(select(rollbacks).where(r.model == model, r.from_version == version)
                             .order_by(r.decided_at.desc(), r.id.desc()).limit(1)).all()
        if found:
            return stored(conn, found)[0]
        raise SpecError(SpecIssue(file, "-", f"no rollback of {model} version {version} in the store"))
    pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    runs = conn.execute(select(drill_runs).where(drill_runs.c.run_id.like(pattern, escape="\\"))
                        .order_by(drill_runs.c.started_at.desc()).limit(5)).all()
    exact = [run for run in runs if run.run_id == text]
    runs = exact or runs
    if not runs:
        raise SpecError(SpecIssue(file, "-", f"no drill run or rollback {text!r} in the store "
                                             "(give #ID, a run id, or MODEL@FROM_VERSION)"))
    if len(runs) > 1:
        raise SpecError(SpecIssue(file, "-", f"{text!r} matches several runs: "
                                             + ", ".join(run.run_id for run in runs)))
    run = runs[0]
    if not run.rolled_back or run.decision_at is None:
        raise SpecError(SpecIssue(file, "-", f"drill run {run.run_id} did not roll back: there is no rollback "
                                             "to attach a post-mortem to"))
    found = conn.execute(select(rollbacks).where(
        r.environment == DRILL_ENVIRONMENT, r.model == run.model, r.from_version == run.from_version,
        r.decided_at == run.decision_at)).all()
    if not found:
        raise SpecError(SpecIssue(file, "-", f"drill run {run.run_id} has no rollback row in the store"))
    return stored(conn, found)[0]


def set_findings(conn: Connection, ref: str, url: str | None, cause_keys: Sequence[str],
                 remove: Sequence[str] = ()) -> StoredRollback:
    """Attach an RCA link (replacing one) and cause keys (added to those recorded) to one rollback; remove
    the keys in ``remove`` (a key it does not carry is a SpecError: nothing is written)."""
    keys = check_cause_keys(cause_keys)
    dropped = check_cause_keys(remove)
    target = find_rollback(conn, ref)
    missing = [key for key in dropped if key not in target.rollback.cause_keys]
    if missing:
        raise SpecError([SpecIssue("--remove-cause-key", "cause_key", f"rollback {target.label} has no cause key "
                                   f"{key!r} (it has: {', '.join(target.rollback.cause_keys) or 'none'})")
                         for key in missing])
    if dropped:
        ck = rollback_cause_keys.c
        conn.execute(delete(rollback_cause_keys).where(ck.rollback_id == target.id, ck.cause_key.in_(dropped)))
    if url is not None:
        conn.execute(update(rollbacks).where(rollbacks.c.id == target.id).values(rca_url=url))
    rows.insert_rows(conn, rollback_cause_keys, [{"rollback_id": target.id, "cause_key": k} for k in keys])
    return find_rollback(conn, f"#{target.id}")


def signals(conn: Connection, environment: str, since: datetime | None, until: datetime | None,
            model: str | None = None, now: datetime | None = None) -> PostmortemSignals:
    """The two post-mortem signals for rollbacks decided in [since, until) (until: now when open)."""
    end = until or now or datetime.now(UTC)
    start_six = months_before(end, SIX_MONTHS)
    r = rollbacks.c
    scope = [r.environment == environment, r.planned.is_(False)]
    if model is not None:
        scope.append(r.model == model)
    n, with_rca = conn.execute(select(
        func.count(), func.coalesce(func.sum(case((and_(r.rca_url.is_not(None), r.rca_url != ""), 1), else_=0)), 0))
        .where(*scope, r.decided_at >= start_six, r.decided_at < end)).one()
    keyed = (select(rollbacks).join(rollback_cause_keys, rollback_cause_keys.c.rollback_id == r.id)
             .where(r.environment == environment, r.decided_at < end).distinct()
             .order_by(r.decided_at, r.id))
    first_seen: dict[str, StoredRollback] = {}
    repeated: list[RepeatedCause] = []
    for item in stored(conn, conn.execute(keyed).all()):
        rb = item.rollback
        in_window = (not rb.planned and (model is None or rb.model == model)
                     and (since is None or rb.decided_at >= since))
        for key in rb.cause_keys:
            earlier = first_seen.get(key)
            if earlier is None:
                first_seen[key] = item
            elif in_window and earlier.rollback.decided_at < rb.decided_at:
                repeated.append(RepeatedCause(item, key, earlier))
    return PostmortemSignals(start_six, end, int(n), int(with_rca), tuple(repeated))
