"""`Store`: the one object the engine and the CLI use to read and write rollback history.

Opening a store creates or migrates its schema; every write is one transaction; reads
see one snapshot. Connection failures become `BackendUnavailable` with the URL (password
hidden) so the CLI can exit 3 with a message a person can act on.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.exc import DBAPIError

from harness.errors import BackendUnavailable, SpecError, SpecIssue
from harness.store import freshness, gamedays, history, postmortems, rows
from harness.store.codec import ImportEvent
from harness.store.db import (
    create_store_engine,
    describe,
    read_transaction,
    resolve_store_url,
    write_transaction,
)
from harness.store.freshness import Latest
from harness.store.gamedays import GameDayRecord
from harness.store.metrics import Metrics, MetricsQuery, compute
from harness.store.postmortems import PostmortemSignals, StoredRollback, all_cause_keys
from harness.store.records import (
    PRODUCTION,
    Deployment,
    DrillRunRecord,
    Event,
    ImportResult,
    Rollback,
)
from harness.store.schema import (
    deployments,
    drill_runs,
    drill_steps,
    migrate,
    rollbacks,
)
from harness.store.trends import GroupBy, MetricsGroup, compute_by

ProgressCallback = Callable[[int], None]


class Store:
    """Rollback history in SQLite or PostgreSQL. Use `Store.open(url)`; close when done."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str | None = None, read_only: bool = False) -> Store:
        """Connect (URL, else $DRILL_STORE, else the default SQLite file) and migrate.

        ``read_only`` (metrics, export, report): a SQLite file that does not exist is never created;
        ``StoreMissing`` (exit 3) says so instead.
        """
        resolved = resolve_store_url(url)
        engine = create_store_engine(resolved, create=not read_only)
        try:
            with write_transaction(engine) as conn:
                migrate(conn)
        except DBAPIError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise BackendUnavailable(
                f"cannot open the metrics store at {describe(resolved)}: {reason}"
            ) from None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, resolved)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def record_deployment(self, d: Deployment) -> bool:
        """True if inserted, False if that deployment was already recorded."""
        with write_transaction(self._engine) as conn:
            return rows.insert_rows(conn, deployments, [rows.deployment_row(d)]) == 1

    def record_rollback(self, r: Rollback, source: str = "--decided-at") -> bool:
        """True if inserted, False if that rollback was already recorded; SpecError (nothing written) when it
        was decided before its version's first deployment (``source`` names the input in the message)."""
        with write_transaction(self._engine) as conn:
            before = history.last_rollback_id(conn)
            inserted = rows.insert_rollbacks(conn, [r]) == 1
            history.check_new_rollbacks(conn, before, source)
            return inserted

    def import_events(
        self, events: Sequence[ImportEvent], on_progress: ProgressCallback | None = None, source: str = "import"
    ) -> ImportResult:
        """Insert-or-ignore every event in one transaction (all or nothing).

        `on_progress(n)` is called after each batch with the number of events just handled. A rollback
        decided before its version's first deployment is a SpecError naming ``source``: nothing is written.
        """
        counts = {"deployments": [0, 0], "rollbacks": [0, 0], "runs": [0, 0]}  # inserted, offered
        with write_transaction(self._engine) as conn:
            before = history.last_rollback_id(conn)
            for start in range(0, len(events), rows.BATCH):
                batch = events[start : start + rows.BATCH]
                for run in (e for e in batch if isinstance(e, DrillRunRecord)):
                    try:
                        counts["runs"][0] += self._write_run(conn, run)
                    except ValueError as exc:
                        raise SpecError(SpecIssue(source, run.run_id, str(exc))) from None
                    counts["runs"][1] += 1
                deps = [rows.deployment_row(e) for e in batch if isinstance(e, Deployment)]
                rbs = [e for e in batch if isinstance(e, Rollback)]
                counts["deployments"][0] += rows.insert_rows(conn, deployments, deps)
                counts["deployments"][1] += len(deps)
                counts["rollbacks"][0] += rows.insert_rollbacks(conn, rbs)
                counts["rollbacks"][1] += len(rbs)
                if on_progress is not None:
                    on_progress(len(batch))
            history.check_new_rollbacks(conn, before, source)
        (d_new, d_all), (r_new, r_all), (n_new, n_all) = counts["deployments"], counts["rollbacks"], counts["runs"]
        return ImportResult(d_new, d_all - d_new, r_new, r_all - r_new, n_new, n_all - n_new)

    def record_drill_run(self, run: DrillRunRecord) -> None:
        """The run, its steps, and its deployment/rollback under environment 'drill', at once.

        Recording the same run_id again changes nothing.
        """
        with write_transaction(self._engine) as conn:
            self._write_run(conn, run)

    @staticmethod
    def _write_run(conn: Connection, run: DrillRunRecord) -> int:
        """1 when the run is new (its steps, deployment and rollback written with it), 0 when already there."""
        deployment, rollback = rows.drill_events(run)
        if rows.insert_rows(conn, drill_runs, [rows.run_row(run)]) == 0:
            return 0
        rows.insert_rows(conn, drill_steps, rows.step_rows(run))
        rows.insert_rows(conn, deployments, [rows.deployment_row(deployment)])
        if rollback is not None:
            rows.insert_rows(conn, rollbacks, [rows.rollback_row(rollback)])
        return 1

    # -- reading -------------------------------------------------------------------------

    def export_events(self) -> Iterator[Event]:
        """Every deployment and rollback, all environments, in time order."""
        with read_transaction(self._engine) as conn:
            keys = all_cause_keys(conn)
            deps = conn.execute(
                select(deployments).order_by(deployments.c.deployed_at, deployments.c.id),
                execution_options={"yield_per": rows.BATCH},
            )
            dep_events: Iterator[tuple[datetime, int, Event]] = (
                (row.deployed_at, 0, rows.deployment_from_row(row)) for row in deps)
            rbs = conn.execute(
                select(rollbacks).order_by(rollbacks.c.decided_at, rollbacks.c.id),
                execution_options={"yield_per": rows.BATCH},
            )
            rb_events: Iterator[tuple[datetime, int, Event]] = (
                (row.decided_at, 1, rows.rollback_from_row(row, keys.get(row.id, ()))) for row in rbs)
            merged = heapq.merge(dep_events, rb_events, key=lambda item: (item[0], item[1]))
            for _, _, event in merged:
                yield event

    def list_drill_runs(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[DrillRunRecord]:
        """Drill runs started in [since, until), oldest first, with their steps."""
        started = drill_runs.c.started_at
        where = []
        if since is not None:
            where.append(started >= since)
        if until is not None:
            where.append(started < until)
        with read_transaction(self._engine) as conn:
            run_rows = conn.execute(
                select(drill_runs).where(*where).order_by(started, drill_runs.c.run_id)).all()
            steps: dict[str, list[object]] = {row.run_id: [] for row in run_rows}
            step_query = (
                select(drill_steps)
                .join(drill_runs, drill_runs.c.run_id == drill_steps.c.run_id)
                .where(*where)
                .order_by(drill_steps.c.run_id, drill_steps.c.seq)
            )
            for step in conn.execute(step_query):
                steps[step.run_id].append(step)
        return [rows.run_from_rows(row, steps[row.run_id]) for row in run_rows]

    def list_rollbacks(self, since: datetime | None = None, until: datetime | None = None,
                       environment: str = PRODUCTION, planned: bool = False) -> list[Rollback]:
        """Rollbacks decided in [since, until) in one environment, oldest first; planned ones only if asked."""
        where = [rollbacks.c.environment == environment]
        if not planned:
            where.append(rollbacks.c.planned.is_(False))
        if since is not None:
            where.append(rollbacks.c.decided_at >= since)
        if until is not None:
            where.append(rollbacks.c.decided_at < until)
        query = select(rollbacks).where(*where).order_by(rollbacks.c.decided_at, rollbacks.c.id)
        with read_transaction(self._engine) as conn:
            found = conn.execute(query).all()
            keys = rows.cause_keys_of(conn, [row.id for row in found])
            return [rows.rollback_from_row(row, keys.get(row.id, ())) for row in found]

    def recent_drill_runs(self, limit: int = 20, drill: str | None = None) -> list[DrillRunRecord]:
        """The newest drill runs (by start), newest first, with their steps; ``drill`` filters by name."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        where = [drill_runs.c.drill == drill] if drill is not None else []
        query = (select(drill_runs).where(*where)
                 .order_by(drill_runs.c.started_at.desc(), drill_runs.c.run_id.desc()).limit(limit))
        with read_transaction(self._engine) as conn:
            return self._with_steps(conn, conn.execute(query).all())

    def find_drill_runs(self, run_id: str, limit: int = 10) -> list[DrillRunRecord]:
        """The run with this id; else the runs whose id starts with it (newest first, at most ``limit``)."""
        with read_transaction(self._engine) as conn:
            exact = conn.execute(select(drill_runs).where(drill_runs.c.run_id == run_id)).all()
            if exact:
                return self._with_steps(conn, exact)
            pattern = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = (select(drill_runs).where(drill_runs.c.run_id.like(pattern, escape="\\"))
                     .order_by(drill_runs.c.started_at.desc()).limit(limit))
            return self._with_steps(conn, conn.execute(query).all())

    @staticmethod
    def _with_steps(conn: Connection, run_rows: Sequence[Row[Any]]) -> list[DrillRunRecord]:
        ids = [row.run_id for row in run_rows]
        steps: dict[str, list[object]] = {run_id: [] for run_id in ids}
        if ids:
            query = (select(drill_steps).where(drill_steps.c.run_id.in_(ids))
                     .order_by(drill_steps.c.run_id, drill_steps.c.seq))
            for step in conn.execute(query):
                steps[step.run_id].append(step)
        return [rows.run_from_rows(row, steps[row.run_id]) for row in run_rows]

    # -- the programme: post-mortems, GameDays, freshness (issue 20) ---------------------------

    def set_findings(self, ref: str, url: str | None, cause_keys: Sequence[str],
                     remove: Sequence[str] = ()) -> StoredRollback:
        """Attach an RCA link and cause keys to one rollback, or remove keys (see `postmortems.find_rollback`)."""
        with write_transaction(self._engine) as conn:
            return postmortems.set_findings(conn, ref, url, cause_keys, remove)

    def postmortem_signals(self, query: MetricsQuery, now: datetime | None = None) -> PostmortemSignals:
        with read_transaction(self._engine) as conn:
            return postmortems.signals(conn, query.environment, query.since, query.until, query.model, now)

    def stored_rollbacks(self, model: str, environment: str | None = None) -> list[StoredRollback]:
        """Every rollback of one model (all environments unless one is named), oldest first, with row ids."""
        where = [rollbacks.c.model == model]
        if environment is not None:
            where.append(rollbacks.c.environment == environment)
        query = select(rollbacks).where(*where).order_by(rollbacks.c.decided_at, rollbacks.c.id)
        with read_transaction(self._engine) as conn:
            return postmortems.stored(conn, conn.execute(query).all())

    def deployments_of(self, model: str) -> list[Deployment]:
        """Every deployment of one model, all environments, oldest first."""
        query = select(deployments).where(deployments.c.model == model).order_by(deployments.c.deployed_at)
        with read_transaction(self._engine) as conn:
            return [rows.deployment_from_row(row) for row in conn.execute(query)]

    def record_gameday(self, record: GameDayRecord) -> bool:
        with write_transaction(self._engine) as conn:
            return gamedays.write(conn, record)

    def gameday(self, gameday_id: str) -> GameDayRecord | None:
        with read_transaction(self._engine) as conn:
            return gamedays.read(conn, gameday_id)

    def recent_gamedays(self, limit: int = 20) -> list[tuple[str, str, datetime, str]]:
        """The newest GameDays: (id, name, started_at, status: completed | aborted)."""
        with read_transaction(self._engine) as conn:
            return gamedays.list_ids(conn, limit)

    def gameday_runs(self, gameday_id: str) -> list[DrillRunRecord]:
        query = select(drill_runs).where(drill_runs.c.gameday_id == gameday_id).order_by(drill_runs.c.started_at)
        with read_transaction(self._engine) as conn:
            return self._with_steps(conn, conn.execute(query).all())

    def latest_runs(self, by: str) -> dict[str, Latest]:
        """Per runbook, drill or model: its newest drill run and its newest as-expected one."""
        with read_transaction(self._engine) as conn:
            return freshness.latest(conn, by)

    def metrics(self, query: MetricsQuery) -> Metrics:
        with read_transaction(self._engine) as conn:
            return compute(conn, query)

    def metrics_by(self, query: MetricsQuery, by: GroupBy) -> list[MetricsGroup]:
        """One Metrics per quarter or per model (see `trends`)."""
        with read_transaction(self._engine) as conn:
            return compute_by(conn, query, by)

