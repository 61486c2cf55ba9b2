"""The figures over *all* unplanned rollbacks decided in the period, however long after their deployment.

The rate needs a window (a rollback 30 days in says little about the deployment process), but time to
rollback, decision → completion, the automated share, root causes and RCA coverage are about the
rollbacks themselves: a business-rule rollback 10 days after its deploy must show there. This module is
that population (`definitions.ALL_ROLLBACKS`), in SQL as `metrics` is: integer microseconds, the same
statement on SQLite and PostgreSQL. A rollback's deployment is the latest of its (environment, model,
from_version) at or before its decision; one without a recorded deployment counts everywhere but in the
mean time to rollback, whose denominator is the rollbacks that have one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import BigInteger, ColumnElement, Connection, and_, case, func, select, type_coerce

from harness.store.records import RootCause, Trigger
from harness.store.schema import deployments, rollbacks, to_micros


class PeriodQuery(Protocol):
    """What this module reads of a `metrics.MetricsQuery` (a protocol, so it does not import metrics back)."""

    @property
    def since(self) -> datetime | None: ...
    @property
    def until(self) -> datetime | None: ...
    @property
    def environment(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def target_minutes(self) -> float: ...

MICROS_PER_HOUR = 3_600_000_000
MICROS_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class PeriodRollbacks:
    """All unplanned rollbacks decided in [since, until). None where a mean or share has nothing to average."""

    rollbacks: int
    with_deployment: int
    mean_time_to_rollback_hours: float | None
    mean_decision_to_completion_minutes: float | None
    within_target_pct: float | None
    automated_rollback_rate_pct: float | None
    planned_rollbacks: int
    root_causes: dict[str, int]
    rca_coverage_pct: float | None

    def to_json(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "population": "all_rollbacks",
            "rollbacks": self.rollbacks,
            "with_deployment": self.with_deployment,
            "mean_time_to_rollback_hours": r(self.mean_time_to_rollback_hours),
            "mean_decision_to_completion_minutes": r(self.mean_decision_to_completion_minutes),
            "within_target_pct": r(self.within_target_pct),
            "automated_rollback_rate_pct": r(self.automated_rollback_rate_pct),
            "planned_rollbacks": self.planned_rollbacks,
            "root_causes": dict(self.root_causes),
            "rca_coverage_pct": r(self.rca_coverage_pct),
        }


def as_int(column: Any) -> ColumnElement[int]:
    return type_coerce(column, BigInteger)


def pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else part * 100 / whole


def mean_of(total: Any, count: int, unit: int) -> float | None:
    return None if count == 0 or total is None else float(total) / count / unit


def owning_deployment(column: str) -> Any:
    """A rollback's deployment, as a correlated look-up of its ``column``: the latest deployment of the rollback's
    (environment, model, from_version) at or before its decision (a redeployed version is never counted twice)."""
    r, d = rollbacks, deployments.alias("owner")
    return (
        select(d.c[column])
        .where(d.c.environment == r.c.environment, d.c.model == r.c.model, d.c.version == r.c.from_version,
               d.c.deployed_at <= r.c.decided_at)
        .order_by(d.c.deployed_at.desc())
        .limit(1)
        .correlate(r)
        .scalar_subquery()
    )


def decided_in(q: PeriodQuery, until_micros: int | None) -> list[ColumnElement[bool]]:
    """The rollbacks of the query's environment (and model) decided at or after ``since`` and before ``until_micros``."""
    r = rollbacks
    where = [r.c.environment == q.environment]
    if q.model is not None:
        where.append(r.c.model == q.model)
    if q.since is not None:
        where.append(as_int(r.c.decided_at) >= to_micros(q.since))
    if until_micros is not None:
        where.append(as_int(r.c.decided_at) < until_micros)
    return where


def compute_period(conn: Connection, q: PeriodQuery) -> PeriodRollbacks:
    """One statement over the rollbacks decided in the period (planned ones counted apart)."""
    r = rollbacks
    where = decided_in(q, to_micros(q.until) if q.until is not None else None)
    period = (select(r, owning_deployment("deployed_at").label("deployed_at")).where(*where).cte("period")
              .prefix_with("MATERIALIZED"))
    p = period.c
    unplanned = p.planned.is_(False)
    to_completion = as_int(p.completed_at) - as_int(p.decided_at)
    target = int(q.target_minutes * MICROS_PER_MINUTE)

    def count_if(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    def sum_if(condition: ColumnElement[bool], value: Any) -> Any:
        return func.sum(case((condition, value * 1.0), else_=None))  # * 1.0: no integer overflow on SQLite

    has_deployment = and_(unplanned, p.deployed_at.is_not(None))
    row = conn.execute(select(
        count_if(unplanned).label("n"),
        count_if(has_deployment).label("with_deployment"),
        sum_if(has_deployment, as_int(p.decided_at) - as_int(p.deployed_at)).label("to_decision"),
        sum_if(unplanned, to_completion).label("to_completion"),
        count_if(and_(unplanned, to_completion <= target)).label("within"),
        count_if(and_(unplanned, p.trigger == Trigger.AUTOMATED.value)).label("automated"),
        count_if(and_(unplanned, p.rca_url.is_not(None), p.rca_url != "")).label("with_rca"),
        count_if(p.planned.is_(True)).label("planned"),
        *[count_if(and_(unplanned, p.root_cause == c.value)).label(c.value) for c in RootCause],
    ).select_from(period)).one()
    n, with_deployment = int(row.n), int(row.with_deployment)
    return PeriodRollbacks(
        rollbacks=n,
        with_deployment=with_deployment,
        mean_time_to_rollback_hours=mean_of(row.to_decision, with_deployment, MICROS_PER_HOUR),
        mean_decision_to_completion_minutes=mean_of(row.to_completion, n, MICROS_PER_MINUTE),
        within_target_pct=pct(int(row.within), n),
        automated_rollback_rate_pct=pct(int(row.automated), n),
        planned_rollbacks=int(row.planned),
        root_causes={c.value: int(row._mapping[c.value]) for c in RootCause},
        rca_coverage_pct=pct(int(row.with_rca), n),
    )
