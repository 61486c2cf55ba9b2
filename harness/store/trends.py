"""Metrics as a trend: one `Metrics` per calendar quarter (UTC) or per model.

Each group is the same query as `drill metrics` narrowed to that quarter or model, so
every row obeys the definitions exactly (a deployment late in a quarter still counts a
rollback decided early in the next one). Quarters without deployments are kept, so the
trend has no silent gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Connection, func, select

from harness.store.metrics import Metrics, MetricsQuery, compute, deployment_range
from harness.store.schema import deployments


class GroupBy(StrEnum):
    QUARTER = "quarter"
    MODEL = "model"


@dataclass(frozen=True)
class MetricsGroup:
    key: str  # "2026-Q4" or a model name
    metrics: Metrics


def quarter_start(moment: datetime) -> datetime:
    month = 3 * ((moment.month - 1) // 3) + 1
    return datetime(moment.year, month, 1, tzinfo=UTC)


def next_quarter(start: datetime) -> datetime:
    if start.month == 10:
        return datetime(start.year + 1, 1, 1, tzinfo=UTC)
    return datetime(start.year, start.month + 3, 1, tzinfo=UTC)


def quarter_label(start: datetime) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def _span(conn: Connection, q: MetricsQuery) -> tuple[datetime, datetime] | None:
    d = deployments.c
    first, last = conn.execute(
        select(func.min(d.deployed_at), func.max(d.deployed_at)).where(
            *deployment_range(deployments, q))
    ).one()
    if first is None:
        return None
    start = q.since or first
    end = q.until or last
    return start, end


def by_quarter(conn: Connection, q: MetricsQuery) -> list[MetricsGroup]:
    span = _span(conn, q)
    if span is None:
        return []
    start, end = span
    groups: list[MetricsGroup] = []
    cursor = quarter_start(start)
    while cursor <= end and not (q.until is not None and cursor >= q.until):
        following = next_quarter(cursor)
        narrowed = replace(
            q,
            since=max(cursor, q.since) if q.since else cursor,
            until=min(following, q.until) if q.until else following,
        )
        groups.append(MetricsGroup(quarter_label(cursor), compute(conn, narrowed)))
        cursor = following
    return groups


def by_model(conn: Connection, q: MetricsQuery) -> list[MetricsGroup]:
    models = conn.execute(
        select(deployments.c.model).where(*deployment_range(deployments, q))
        .group_by(deployments.c.model).order_by(deployments.c.model)
    ).scalars().all()
    return [MetricsGroup(model, compute(conn, replace(q, model=model))) for model in models]


def compute_by(conn: Connection, q: MetricsQuery, by: GroupBy) -> list[MetricsGroup]:
    return by_quarter(conn, q) if by is GroupBy.QUARTER else by_model(conn, q)
