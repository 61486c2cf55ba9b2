"""The rollback metrics, computed in SQL.

Definitions (issue 4), for one environment and an optional model:

- counted deployments: `deployed_at` in [since, until);
- a deployment *results in a rollback* when an unplanned rollback from that model and
  version is decided within `window_days` after it (inclusive, possibly after `until`).
  A rollback belongs to the latest deployment of its (environment, model, from_version)
  at or before its `decided_at`, so a redeployed version is never counted twice; when
  several unplanned rollbacks belong to one deployment the earliest decided one counts;
- the counted rollbacks are those first unplanned rollbacks, one per rolled-back
  deployment; means and shares are taken over them; planned rollbacks of counted
  deployments are counted apart and never enter the rate;
- repeat rollbacks: a model repeats when one of its rolled-back deployments directly
  follows (previous deployment of the same model in the environment) another rolled-back
  deployment; the figure is repeating models / models with a counted rollback.

These are the *in-window* population (`definitions.IN_WINDOW`); `period` computes the same
figures over all unplanned rollbacks decided in the period (`all_rollbacks`), which `compute`
attaches. `definitions` holds every figure's label, numerator and denominator.

Everything is integer arithmetic on epoch microseconds (see `schema`), so the statement is
the same on SQLite and PostgreSQL. The two correlated look-ups are index range scans on
`uq_deployments_natural` and `ix_deployments_env_model_time`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    select,
)

from harness.store.period import (
    MICROS_PER_HOUR,
    MICROS_PER_MINUTE,
    PeriodRollbacks,
    as_int,
    compute_period,
    decided_in,
    mean_of,
    owning_deployment,
    pct,
)
from harness.store.records import PRODUCTION, RootCause, Trigger
from harness.store.schema import deployments, rollbacks, to_micros

MICROS_PER_DAY = 86_400_000_000

BANDS = ("excellent", "acceptable", "concerning", "high-risk")
INTERPRETATION = (
    "<5% excellent: mature validation; 5-10% acceptable; "
    "10-20% concerning: review pre-deployment validation; "
    ">20% high risk: deployment process needs work"
)


@dataclass(frozen=True)
class MetricsQuery:
    since: datetime | None = None
    until: datetime | None = None
    window_days: float = 7.0
    environment: str = PRODUCTION
    model: str | None = None
    target_minutes: float = 15.0


@dataclass(frozen=True)
class Metrics:
    """The figures for one query. None where a mean or share has nothing to average."""

    deployments: int
    rollbacks: int
    rollback_rate_pct: float | None
    band: str | None
    mean_time_to_rollback_hours: float | None
    mean_decision_to_completion_minutes: float | None
    within_target_pct: float | None
    automated_rollback_rate_pct: float | None
    repeat_rollback_rate_pct: float | None
    planned_rollbacks: int
    root_causes: dict[str, int]
    rca_coverage_pct: float | None
    query: MetricsQuery = field(default_factory=MetricsQuery, compare=False)
    all_rollbacks: PeriodRollbacks | None = field(default=None, compare=False)

    @property
    def repeated_root_causes(self) -> list[str]:
        """Root-cause classes behind two or more counted rollbacks (a signal to act on)."""
        return [cause for cause, count in self.root_causes.items() if count >= 2]

    def to_json(self) -> dict[str, Any]:
        """Exactly the documented keys; floats rounded to 4 places for stable output."""

        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "population": "in_window",
            "window_days": self.query.window_days,
            "target_minutes": self.query.target_minutes,
            "deployments": self.deployments,
            "rollbacks": self.rollbacks,
            "rollback_rate_pct": r(self.rollback_rate_pct),
            "band": self.band,
            "mean_time_to_rollback_hours": r(self.mean_time_to_rollback_hours),
            "mean_decision_to_completion_minutes": r(self.mean_decision_to_completion_minutes),
            "within_target_pct": r(self.within_target_pct),
            "automated_rollback_rate_pct": r(self.automated_rollback_rate_pct),
            "repeat_rollback_rate_pct": r(self.repeat_rollback_rate_pct),
            "planned_rollbacks": self.planned_rollbacks,
            "root_causes": dict(self.root_causes),
            "rca_coverage_pct": r(self.rca_coverage_pct),
            "all_rollbacks": None if self.all_rollbacks is None else self.all_rollbacks.to_json(),
        }


def band_for(rolled_back: int, deployments: int) -> str | None:
    """The standard's band, decided on integers so 5, 10 and 20 % fall exactly."""
    if deployments == 0:
        return None
    scaled = rolled_back * 100  # compare rate against thresholds without float error
    if scaled < 5 * deployments:
        return "excellent"
    if scaled <= 10 * deployments:
        return "acceptable"
    if scaled <= 20 * deployments:
        return "concerning"
    return "high-risk"




def _counted_rollbacks(q: MetricsQuery) -> Any:
    """CTE of rollbacks attributed to counted deployments: planned flag and rank included."""
    window = int(q.window_days * MICROS_PER_DAY)
    r, d = rollbacks, deployments.alias("d")
    # since: decided_at >= deployed_at >= since; until: decided_at <= deployed_at + window < until + window
    where = decided_in(q, to_micros(q.until) + window if q.until is not None else None)
    # MATERIALIZED: the correlated look-up runs once per rollback, not once per reference.
    attributed = (
        select(r, owning_deployment("id").label("deployment_id")).where(*where).cte("attributed")
        .prefix_with("MATERIALIZED")
    )
    a = attributed.c
    dep_where = [as_int(a.decided_at) <= as_int(d.c.deployed_at) + window]
    dep_where += deployment_range(d, q)
    rank = func.row_number().over(
        partition_by=[a.deployment_id, a.planned], order_by=[a.decided_at, a.id]
    )
    return (
        select(
            a.deployment_id, a.model, a.planned, a.trigger, a.root_cause, a.rca_url,
            d.c.deployed_at, a.decided_at, a.completed_at, rank.label("rank"),
        )
        .join_from(attributed, d, d.c.id == a.deployment_id)
        .where(*dep_where)
        .cte("matched")
    )


def deployment_range(d: Any, q: MetricsQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [d.c.environment == q.environment]
    if q.model is not None:
        where.append(d.c.model == q.model)
    if q.since is not None:
        where.append(as_int(d.c.deployed_at) >= to_micros(q.since))
    if q.until is not None:
        where.append(as_int(d.c.deployed_at) < to_micros(q.until))
    return where


def _repeat_models(counted: Any, q: MetricsQuery) -> Any:
    """Scalar: models with a rolled-back deployment right after another rolled-back one."""
    prev = deployments.alias("prev")
    previous_id = (
        select(prev.c.id)
        .where(
            prev.c.environment == q.environment,
            prev.c.model == counted.c.model,
            prev.c.deployed_at < counted.c.deployed_at,
        )
        .order_by(prev.c.deployed_at.desc())
        .limit(1)
        .correlate(counted)
        .scalar_subquery()
    )
    earlier = counted.alias("earlier")
    return (
        select(func.count(func.distinct(counted.c.model)))
        .where(previous_id.in_(select(earlier.c.deployment_id)))
        .scalar_subquery()
    )


def compute(conn: Connection, q: MetricsQuery) -> Metrics:
    """All figures for `q` in two statements: the deployment count, then the rollbacks."""
    n_deployments = int(conn.execute(
        select(func.count()).select_from(deployments).where(*deployment_range(deployments, q))
    ).scalar_one())

    matched = _counted_rollbacks(q)
    m = matched.c
    counted = (
        select(matched).where(m.planned.is_(False), m.rank == 1).cte("counted").prefix_with(
            "MATERIALIZED")
    )
    c = counted.c
    target = int(q.target_minutes * MICROS_PER_MINUTE)
    to_completion = as_int(c.completed_at) - as_int(c.decided_at)

    def count_if(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    causes = [count_if(c.root_cause == cause.value).label(cause.value) for cause in RootCause]
    planned = (
        select(func.count()).select_from(matched).where(m.planned.is_(True)).scalar_subquery()
    )
    row = conn.execute(
        select(
            func.count().label("n"),
            # * 1.0: SQLite's integer sum() raises on overflow; a float sum cannot.
            func.sum((as_int(c.decided_at) - as_int(c.deployed_at)) * 1.0).label("to_decision"),
            func.sum(to_completion * 1.0).label("to_completion"),
            count_if(to_completion <= target).label("within"),
            count_if(c.trigger == Trigger.AUTOMATED.value).label("automated"),
            count_if(and_(c.rca_url.is_not(None), c.rca_url != "")).label("with_rca"),
            func.count(func.distinct(c.model)).label("models"),
            _repeat_models(counted, q).label("repeat_models"),
            planned.label("planned"),
            *causes,
        ).select_from(counted)
    ).one()
    n = int(row.n)
    return Metrics(
        deployments=n_deployments,
        rollbacks=n,
        rollback_rate_pct=pct(n, n_deployments),
        band=band_for(n, n_deployments),
        mean_time_to_rollback_hours=mean_of(row.to_decision, n, MICROS_PER_HOUR),
        mean_decision_to_completion_minutes=mean_of(row.to_completion, n, MICROS_PER_MINUTE),
        within_target_pct=pct(int(row.within), n),
        automated_rollback_rate_pct=pct(int(row.automated), n),
        repeat_rollback_rate_pct=pct(int(row.repeat_models or 0), int(row.models)),
        planned_rollbacks=int(row.planned or 0),
        root_causes={cause.value: int(row._mapping[cause.value]) for cause in RootCause},
        rca_coverage_pct=pct(int(row.with_rca), n),
        query=q,
        all_rollbacks=compute_period(conn, q),
    )
